//! SMS-DELIVER (3GPP TS 23.040 §9.2.2.1): an inbound SMS as a modem reports it (+CMT, +CMGR).

use super::{Address, MTI_DELIVER, Reader, Timestamp, read_user_data, write_user_data};
use crate::encoding::Dcs;
use crate::error::{DecodeError, EncodeError};
use crate::userdata::UserData;

/// SMS-DELIVER (3GPP TS 23.040 §9.2.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsDeliver {
    /// TP-MMS read as "more messages are waiting" (the bit is 0 then).
    pub more_messages_to_send: bool,
    /// TP-LP: loop prevention.
    pub loop_prevention: bool,
    /// TP-SRI: the originator asked for a status report.
    pub status_report_indication: bool,
    /// TP-RP: a reply path exists.
    pub reply_path: bool,
    /// TP-OA: the sender (number or alphanumeric ID).
    pub originator: Address,
    /// TP-PID.
    pub protocol_identifier: u8,
    /// TP-DCS.
    pub dcs: Dcs,
    /// TP-SCTS: when the service centre received the message, with its time zone.
    pub timestamp: Timestamp,
    /// TP-UD (TP-UDHI follows `user_data.udh`).
    pub user_data: UserData,
}

impl SmsDeliver {
    /// Whether this is a class 0 ("flash") SMS (3GPP TS 23.038 §4): show, do not store.
    pub fn is_flash(&self) -> bool {
        self.dcs.is_flash()
    }

    /// The TPDU octets.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(32 + self.user_data.payload.len());
        let first = MTI_DELIVER
            | u8::from(!self.more_messages_to_send) << 2
            | u8::from(self.loop_prevention) << 3
            | u8::from(self.status_report_indication) << 5
            | u8::from(self.user_data.udh.is_some()) << 6
            | u8::from(self.reply_path) << 7;
        out.push(first);
        self.originator.encode_tp(&mut out)?;
        out.push(self.protocol_identifier);
        out.push(self.dcs.octet());
        self.timestamp.encode(&mut out);
        write_user_data(&mut out, self.dcs, &self.user_data)?;
        Ok(out)
    }

    /// Decodes the TPDU octets (without SMSC address).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let first = r.u8("first octet")?;
        if first & 0x03 != MTI_DELIVER {
            return Err(DecodeError::invalid("TP-MTI", "not SMS-DELIVER"));
        }
        let originator = Address::decode_tp(&mut r, "TP-OA")?;
        let protocol_identifier = r.u8("TP-PID")?;
        let dcs = Dcs(r.u8("TP-DCS")?);
        let timestamp = Timestamp::decode(&mut r, "TP-SCTS")?;
        let user_data = read_user_data(&mut r, dcs, first & 0x40 != 0)?;
        r.finish()?;
        Ok(SmsDeliver {
            more_messages_to_send: first & 0x04 == 0,
            loop_prevention: first & 0x08 != 0,
            status_report_indication: first & 0x20 != 0,
            reply_path: first & 0x80 != 0,
            originator,
            protocol_identifier,
            dcs,
            timestamp,
            user_data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tpdu::{Tpdu, TypeOfNumber, parse_modem_pdu};
    use crate::{Encoding, udh::ConcatInfo};

    #[test]
    fn how_are_you_deliver_decodes() {
        let pdu = "07911326040000F0040B911346610089F60000208062917314480CC8F71D14969741F977FD07";
        let m = parse_modem_pdu(pdu, Some(30)).unwrap();
        assert_eq!(m.smsc.unwrap().to_string(), "+31624000000");
        let Tpdu::Deliver(d) = m.tpdu else {
            panic!("not a deliver")
        };
        assert_eq!(d.originator.to_string(), "+31641600986");
        assert_eq!(d.user_data.text().unwrap(), "How are you?");
        assert_eq!(d.timestamp.tz_quarters, -4);
        assert!(!d.is_flash());
        assert!(!d.more_messages_to_send);
        assert_eq!(d.encode().unwrap(), crate::hex::decode(&pdu[16..]).unwrap());
        assert!(parse_modem_pdu(pdu, Some(31)).is_err());
    }

    #[test]
    fn ucs2_concatenated_deliver_from_a_handset_decodes() {
        // A UCS-2 part with a 16-bit reference concatenation UDH, from an alphanumeric sender.
        let mut ud_bytes = vec![0x06, 0x08, 0x04, 0xBE, 0xEF, 0x02, 0x01];
        ud_bytes.extend(crate::charsets::encode_ucs2("Привет"));
        let d = SmsDeliver {
            more_messages_to_send: false,
            loop_prevention: false,
            status_report_indication: false,
            reply_path: false,
            originator: Address::alphanumeric("Bank"),
            protocol_identifier: 0,
            dcs: Dcs(0x08),
            timestamp: Timestamp::from_unix_seconds(1_700_000_000, 12),
            user_data: UserData::decode_tp(Encoding::Ucs2, true, ud_bytes.len() as u8, &ud_bytes)
                .unwrap(),
        };
        let bytes = d.encode().unwrap();
        assert_eq!(bytes[0], 0x44);
        let back = SmsDeliver::decode(&bytes).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.originator.ton, TypeOfNumber::Alphanumeric);
        assert_eq!(
            back.user_data.concat(),
            Some(ConcatInfo {
                reference: 0xBEEF,
                total: 2,
                sequence: 1,
                wide_reference: true
            })
        );
        assert_eq!(back.user_data.text().unwrap(), "Привет");
    }

    #[test]
    fn class_0_flash_deliver_is_recognised() {
        // TP-DCS 0x10: GSM 7-bit, class 0.
        // First octet, TP-OA, TP-PID, TP-DCS, TP-SCTS, TP-UDL, TP-UD.
        let oa = crate::hex::decode("0B915121551532F4").unwrap();
        let mut d = vec![0x04];
        d.extend(oa);
        d.extend([0x00, 0x10]);
        d.extend(crate::hex::decode("52803131413540").unwrap());
        d.extend(crate::hex::decode("04D4F29C0E").unwrap());
        let deliver = SmsDeliver::decode(&d).unwrap();
        assert!(deliver.is_flash());
        assert_eq!(deliver.user_data.text().unwrap(), "Test");
    }
}
