//! SMPP addresses (SMPP 3.4 §5.2.5–5.2.9: `*_addr_ton`, `*_addr_npi`, `*_addr`) and the form the
//! gateway keeps numbers in (`+` and digits for international numbers, plain digits for short
//! codes and national numbers, anything else an alphanumeric sender id). The connector, the
//! server and the simulator all map between the two; this is the one place that knows how.

use std::borrow::Cow;

use rusmpp::values::{Npi, Ton};

/// An SMPP address as a PDU carries it, borrowed from the PDU or from the gateway's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmppAddr<'a> {
    /// Type of number (SMPP 3.4 §5.2.5).
    pub ton: Ton,
    /// Numbering plan indicator (SMPP 3.4 §5.2.6).
    pub npi: Npi,
    /// The digits (no `+`) or the alphanumeric id.
    pub addr: &'a str,
}

impl<'a> SmppAddr<'a> {
    /// How the gateway writes `addr` on the wire: `+4915…` is international/ISDN without the
    /// `+`; all digits are unknown/ISDN (the SMSC decides); empty is unknown/unknown (the SMSC's
    /// default originator); anything else is an alphanumeric sender id (TON 5, NPI 0).
    pub fn from_gateway(addr: &'a str) -> Self {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let (ton, npi, addr) = match addr.strip_prefix('+') {
            Some(d) if digits(d) => (Ton::International, Npi::Isdn, d),
            _ if digits(addr) => (Ton::Unknown, Npi::Isdn, addr),
            _ if addr.is_empty() => (Ton::Unknown, Npi::Unknown, addr),
            _ => (Ton::Alphanumeric, Npi::Unknown, addr),
        };
        Self { ton, npi, addr }
    }

    /// The gateway's form of an address read from a PDU: international digits get their `+`
    /// (so `4915…` with TON 1 and `+4915…` are the same number); everything else stays as the
    /// peer wrote it.
    pub fn to_gateway(&self) -> Cow<'a, str> {
        let a = self.addr;
        if self.ton == Ton::International && !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit())
        {
            Cow::Owned(format!("+{a}"))
        } else {
            Cow::Borrowed(a)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_addresses_are_classified() {
        let a = SmppAddr::from_gateway("+4915112345");
        assert_eq!(
            (a.ton, a.npi, a.addr),
            (Ton::International, Npi::Isdn, "4915112345")
        );
        let a = SmppAddr::from_gateway("12345");
        assert_eq!((a.ton, a.npi), (Ton::Unknown, Npi::Isdn));
        let a = SmppAddr::from_gateway("Alerts");
        assert_eq!(
            (a.ton, a.npi, a.addr),
            (Ton::Alphanumeric, Npi::Unknown, "Alerts")
        );
        let a = SmppAddr::from_gateway("");
        assert_eq!((a.ton, a.npi), (Ton::Unknown, Npi::Unknown));
        // A `+` before something that is no number is not stripped: it is an id.
        assert_eq!(SmppAddr::from_gateway("+x").ton, Ton::Alphanumeric);
        assert_eq!(SmppAddr::from_gateway("+").addr, "+");
    }

    #[test]
    fn international_numbers_read_back_with_their_plus() {
        let read = |ton, addr| {
            SmppAddr {
                ton,
                npi: Npi::Isdn,
                addr,
            }
            .to_gateway()
            .into_owned()
        };
        assert_eq!(read(Ton::International, "4915112345"), "+4915112345");
        assert_eq!(read(Ton::International, "+4915112345"), "+4915112345");
        assert_eq!(read(Ton::Unknown, "4915112345"), "4915112345");
        assert_eq!(read(Ton::Alphanumeric, "Alerts"), "Alerts");
        assert_eq!(read(Ton::International, ""), "");
        for text in ["+4915112345", "12345", "Alerts", ""] {
            assert_eq!(SmppAddr::from_gateway(text).to_gateway(), text);
        }
    }
}
