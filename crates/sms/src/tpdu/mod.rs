//! Transfer-layer PDUs for modem PDU mode (3GPP TS 23.040 §9.2.2): SMS-SUBMIT, SMS-DELIVER and
//! SMS-STATUS-REPORT, plus the AT+CMGS / +CMGR framing with the leading SMSC address
//! (3GPP TS 27.005 §3.1, §3.5.1).
//!
//! Decoders take untrusted bytes: they return [`DecodeError`] for truncated or inconsistent input
//! and never panic (each has a fuzz target in `fuzz/`).

mod address;
mod deliver;
mod status;
mod submit;
mod time;

pub use address::{
    Address, MAX_ALPHANUMERIC_SEPTETS, MAX_DIGITS, NPI_ISDN, NPI_UNKNOWN, TypeOfNumber,
};
pub use deliver::SmsDeliver;
pub use status::{DeliveryStatus, SmsStatusReport};
pub use submit::SmsSubmit;
pub use time::{
    EnhancedPeriod, EnhancedValidity, Timestamp, ValidityPeriod, relative_from_seconds,
    relative_seconds,
};

use crate::encoding::Dcs;
use crate::error::{DecodeError, EncodeError};
use crate::userdata::UserData;

/// TP-MTI values (3GPP TS 23.040 §9.2.3.1), as seen in a modem's storage.
const MTI_DELIVER: u8 = 0b00;
const MTI_SUBMIT: u8 = 0b01;
const MTI_STATUS_REPORT: u8 = 0b10;

/// A TPDU as stored or reported by a modem: TP-MTI 00 is read as SMS-DELIVER, 01 as SMS-SUBMIT
/// and 10 as SMS-STATUS-REPORT (3GPP TS 23.040 §9.2.3.1, the SC→MS / stored-MO view that
/// +CMGR, +CMGL, +CMT and +CDS give).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tpdu {
    /// SMS-DELIVER (§9.2.2.1).
    Deliver(SmsDeliver),
    /// SMS-SUBMIT (§9.2.2.2).
    Submit(SmsSubmit),
    /// SMS-STATUS-REPORT (§9.2.2.3).
    StatusReport(SmsStatusReport),
}

impl Tpdu {
    /// Decodes by TP-MTI; 11 (reserved) is an error.
    pub fn decode(bytes: &[u8]) -> Result<Tpdu, DecodeError> {
        let first = *bytes
            .first()
            .ok_or(DecodeError::truncated("first octet", 1, 0))?;
        match first & 0x03 {
            MTI_DELIVER => SmsDeliver::decode(bytes).map(Tpdu::Deliver),
            MTI_SUBMIT => SmsSubmit::decode(bytes).map(Tpdu::Submit),
            MTI_STATUS_REPORT => SmsStatusReport::decode(bytes).map(Tpdu::StatusReport),
            mti => Err(DecodeError::UnsupportedMessageType(mti)),
        }
    }

    /// Encodes the TPDU (without SMSC address).
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        match self {
            Tpdu::Deliver(d) => d.encode(),
            Tpdu::Submit(s) => s.encode(),
            Tpdu::StatusReport(s) => s.encode(),
        }
    }
}

/// The `<pdu>` hex string and `<length>` for `AT+CMGS=<length>` (3GPP TS 27.005 §3.5.1): the
/// SMSC address field (`00` for the SIM's default SMSC) followed by the TPDU; `<length>` counts
/// the TPDU octets only, not the SMSC field.
pub fn pdu_hex_for_cmgs(
    smsc: Option<&Address>,
    tpdu: &[u8],
) -> Result<(String, usize), EncodeError> {
    let mut all = Address::encode_smsc(smsc)?;
    all.extend_from_slice(tpdu);
    Ok((crate::hex::encode(&all), tpdu.len()))
}

/// A PDU read from a modem (+CMGR, +CMGL, +CMT, +CDS; 3GPP TS 27.005 §3.1): the SMSC address
/// and the TPDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemPdu {
    /// The service centre address, `None` when the field is `00`.
    pub smsc: Option<Address>,
    /// The TPDU.
    pub tpdu: Tpdu,
}

/// Parses a modem `<pdu>` hex string that starts with the SMSC address field. When the modem
/// reported `<length>` (TPDU octets), pass it to check consistency.
pub fn parse_modem_pdu(hex: &str, tpdu_len: Option<usize>) -> Result<ModemPdu, DecodeError> {
    let bytes = crate::hex::decode(hex)?;
    let (smsc, n) = Address::decode_smsc(&bytes)?;
    let tpdu_bytes = &bytes[n..];
    if let Some(len) = tpdu_len
        && len != tpdu_bytes.len()
    {
        return Err(DecodeError::invalid(
            "<length>",
            "does not match the TPDU octets after the SMSC address",
        ));
    }
    Ok(ModemPdu {
        smsc,
        tpdu: Tpdu::decode(tpdu_bytes)?,
    })
}

/// A cursor over untrusted bytes; every read checks the length first.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(DecodeError::truncated(field, 1, 0))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::truncated(field, n, self.remaining()));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Reads TP-UDL and TP-UD (3GPP TS 23.040 §9.2.3.16, §9.2.3.24) for a TP-DCS.
pub(crate) fn read_user_data(
    r: &mut Reader<'_>,
    dcs: Dcs,
    udhi: bool,
) -> Result<UserData, DecodeError> {
    let encoding = dcs.encoding()?;
    let udl = r.u8("TP-UDL")?;
    let octets = match encoding {
        crate::Encoding::Gsm7 => (udl as usize * 7).div_ceil(8),
        _ => udl as usize,
    };
    let ud = r.take(octets, "TP-UD")?;
    UserData::decode_tp(encoding, udhi, udl, ud)
}

/// Appends TP-UDL and TP-UD, checking that TP-DCS names the user data's alphabet.
pub(crate) fn write_user_data(
    out: &mut Vec<u8>,
    dcs: Dcs,
    ud: &UserData,
) -> Result<(), EncodeError> {
    if ud.encoding == crate::Encoding::Latin1 {
        return Err(EncodeError::NotInTpdu(ud.encoding));
    }
    if dcs.encoding().ok() != Some(ud.encoding) {
        return Err(EncodeError::InvalidOptions(
            "TP-DCS does not name the user data's encoding",
        ));
    }
    let (udl, bytes) = ud.encode_tp()?;
    out.push(udl);
    out.extend_from_slice(&bytes);
    Ok(())
}
