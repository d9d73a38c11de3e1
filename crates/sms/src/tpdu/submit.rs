//! SMS-SUBMIT (3GPP TS 23.040 §9.2.2.2): what a modem sends for AT+CMGS.

use super::{Address, MTI_SUBMIT, Reader, ValidityPeriod, read_user_data, write_user_data};
use crate::encoding::{Dcs, MessageClass};
use crate::error::{DecodeError, EncodeError};
use crate::segment::{Part, Segmented};
use crate::userdata::UserData;

/// SMS-SUBMIT (3GPP TS 23.040 §9.2.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSubmit {
    /// TP-RD: the SC rejects a submit with the same TP-MR and TP-DA as one it still holds.
    pub reject_duplicates: bool,
    /// TP-SRR: ask for an SMS-STATUS-REPORT.
    pub status_report_request: bool,
    /// TP-RP: a reply path is requested.
    pub reply_path: bool,
    /// TP-MR (modems usually overwrite it with their own counter).
    pub message_reference: u8,
    /// TP-DA.
    pub destination: Address,
    /// TP-PID (0x00: plain SME-to-SME).
    pub protocol_identifier: u8,
    /// TP-DCS; must name `user_data.encoding`.
    pub dcs: Dcs,
    /// TP-VP and, through it, TP-VPF.
    pub validity: Option<ValidityPeriod>,
    /// TP-UD (TP-UDHI follows `user_data.udh`).
    pub user_data: UserData,
}

impl SmsSubmit {
    /// A submit with TP-DCS for the user data's encoding (no class), TP-PID 0, no validity
    /// period and no status report. Latin-1 user data fails at [`SmsSubmit::encode`].
    pub fn new(destination: Address, user_data: UserData) -> Self {
        SmsSubmit {
            reject_duplicates: false,
            status_report_request: false,
            reply_path: false,
            message_reference: 0,
            destination,
            protocol_identifier: 0,
            dcs: Dcs::new(user_data.encoding, None).unwrap_or(Dcs(0)),
            validity: None,
            user_data,
        }
    }

    /// The submit for one part of a segmented message.
    pub fn from_part(destination: Address, part: &Part) -> Result<Self, EncodeError> {
        Dcs::new(part.encoding, None)?;
        Ok(SmsSubmit::new(destination, UserData::from_part(part)))
    }

    /// One submit per part, each with TP-MR `first_reference + index` (wrapping), the given
    /// class (class 0 is a flash SMS), validity and status report request.
    pub fn for_message(
        destination: &Address,
        message: &Segmented,
        first_reference: u8,
        class: Option<MessageClass>,
        validity: Option<ValidityPeriod>,
        status_report_request: bool,
    ) -> Result<Vec<SmsSubmit>, EncodeError> {
        let dcs = Dcs::new(message.encoding, class)?;
        Ok(message
            .parts
            .iter()
            .enumerate()
            .map(|(i, p)| SmsSubmit {
                message_reference: first_reference.wrapping_add(i as u8),
                dcs,
                validity,
                status_report_request,
                ..SmsSubmit::new(destination.clone(), UserData::from_part(p))
            })
            .collect())
    }

    /// The TPDU octets (without SMSC address).
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(32 + self.user_data.payload.len());
        let vpf = self.validity.as_ref().map_or(0, ValidityPeriod::vpf);
        let first = MTI_SUBMIT
            | u8::from(self.reject_duplicates) << 2
            | vpf << 3
            | u8::from(self.status_report_request) << 5
            | u8::from(self.user_data.udh.is_some()) << 6
            | u8::from(self.reply_path) << 7;
        out.push(first);
        out.push(self.message_reference);
        self.destination.encode_tp(&mut out)?;
        out.push(self.protocol_identifier);
        out.push(self.dcs.octet());
        if let Some(vp) = &self.validity {
            vp.encode(&mut out);
        }
        write_user_data(&mut out, self.dcs, &self.user_data)?;
        Ok(out)
    }

    /// Decodes the TPDU octets (without SMSC address).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let first = r.u8("first octet")?;
        if first & 0x03 != MTI_SUBMIT {
            return Err(DecodeError::invalid("TP-MTI", "not SMS-SUBMIT"));
        }
        let message_reference = r.u8("TP-MR")?;
        let destination = Address::decode_tp(&mut r, "TP-DA")?;
        let protocol_identifier = r.u8("TP-PID")?;
        let dcs = Dcs(r.u8("TP-DCS")?);
        let validity = ValidityPeriod::decode(first >> 3, &mut r)?;
        let user_data = read_user_data(&mut r, dcs, first & 0x40 != 0)?;
        r.finish()?;
        Ok(SmsSubmit {
            reject_duplicates: first & 0x04 != 0,
            status_report_request: first & 0x20 != 0,
            reply_path: first & 0x80 != 0,
            message_reference,
            destination,
            protocol_identifier,
            dcs,
            validity,
            user_data,
        })
    }

    /// The AT+CMGS `<pdu>` hex and `<length>` (3GPP TS 27.005 §3.5.1).
    pub fn to_cmgs(&self, smsc: Option<&Address>) -> Result<(String, usize), EncodeError> {
        super::pdu_hex_for_cmgs(smsc, &self.encode()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tpdu::{EnhancedPeriod, EnhancedValidity, Timestamp};
    use crate::{Encoding, SegmentOptions, gsm7, national::Shift, segment};

    #[test]
    fn hello_submit_matches_the_widely_used_pdu() {
        // The classic example: "hellohello" to +46708251358, relative validity 0xAA (4 days).
        let ud = UserData::new(
            Encoding::Gsm7,
            gsm7::encode("hellohello", Shift::DEFAULT).unwrap(),
        );
        let mut s = SmsSubmit::new(Address::international("46708251358"), ud);
        s.validity = Some(ValidityPeriod::Relative(0xAA));
        let (hex, len) = s.to_cmgs(None).unwrap();
        assert_eq!(hex, "0011000B916407281553F80000AA0AE8329BFD4697D9EC37");
        assert_eq!(len, 23);
        let back = SmsSubmit::decode(&s.encode().unwrap()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn flags_and_every_validity_format_round_trip() {
        let ud = UserData::new(Encoding::Ucs2, crate::charsets::encode_ucs2("Zoë"));
        for validity in [
            None,
            Some(ValidityPeriod::Relative(167)),
            Some(ValidityPeriod::Absolute(Timestamp::from_unix_seconds(
                1_800_000_000,
                8,
            ))),
            Some(ValidityPeriod::Enhanced(EnhancedValidity::new(
                EnhancedPeriod::Seconds(30),
                true,
            ))),
        ] {
            let s = SmsSubmit {
                reject_duplicates: true,
                status_report_request: true,
                reply_path: true,
                message_reference: 0x42,
                validity,
                ..SmsSubmit::new(Address::parse("+4915112345678"), ud.clone())
            };
            let bytes = s.encode().unwrap();
            assert_eq!(bytes[0] & 0xA5, 0xA5);
            assert_eq!(SmsSubmit::decode(&bytes).unwrap(), s);
        }
    }

    #[test]
    fn concatenated_parts_set_udhi_and_decode_back() {
        let text = "Grüße aus Köln! ".repeat(20);
        let m = segment(&text, &SegmentOptions::default()).unwrap();
        let subs = SmsSubmit::for_message(
            &Address::international("4915112345678"),
            &m,
            7,
            Some(MessageClass::Class0),
            None,
            true,
        )
        .unwrap();
        assert_eq!(subs.len(), m.parts.len());
        let mut out = String::new();
        for s in &subs {
            let bytes = s.encode().unwrap();
            assert_ne!(bytes[0] & 0x40, 0);
            let d = SmsSubmit::decode(&bytes).unwrap();
            assert!(d.dcs.is_flash());
            out.push_str(&d.user_data.text().unwrap());
        }
        assert_eq!(out, text);
    }

    #[test]
    fn truncated_and_inconsistent_submits_are_errors() {
        let good = crate::hex::decode("11000B916407281553F80000AA0AE8329BFD4697D9EC37").unwrap();
        for n in 0..good.len() {
            assert!(SmsSubmit::decode(&good[..n]).is_err(), "prefix {n}");
        }
        let mut long = good.clone();
        long.push(0);
        assert_eq!(SmsSubmit::decode(&long), Err(DecodeError::TrailingBytes(1)));
        let mut dcs_mismatch = SmsSubmit::decode(&good).unwrap();
        dcs_mismatch.dcs = Dcs(0x08);
        assert!(dcs_mismatch.encode().is_err());
    }
}
