//! SMS-STATUS-REPORT (3GPP TS 23.040 §9.2.2.3): the delivery receipt a modem reports (+CDS).

use super::{Address, MTI_STATUS_REPORT, Reader, Timestamp, read_user_data, write_user_data};
use crate::encoding::Dcs;
use crate::error::{DecodeError, EncodeError};
use crate::userdata::UserData;

/// What a TP-Status means for the message (3GPP TS 23.040 §9.2.3.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum DeliveryStatus {
    /// 0x00..=0x1F "short message transaction completed": delivered (or forwarded, replaced).
    Delivered,
    /// 0x20..=0x3F "temporary error, SC still trying": not final, another report may follow.
    Temporary,
    /// 0x40..=0x7F permanent errors and "temporary error, SC not making any more transfer
    /// attempts": final failure. Reserved values above 0x7F are read as permanent too.
    Permanent,
}

impl DeliveryStatus {
    /// Classifies a TP-ST octet (3GPP TS 23.040 §9.2.3.15, bits 6..5).
    pub fn from_tp_status(st: u8) -> Self {
        if st & 0x80 != 0 {
            return DeliveryStatus::Permanent;
        }
        match st >> 5 {
            0 => DeliveryStatus::Delivered,
            1 => DeliveryStatus::Temporary,
            _ => DeliveryStatus::Permanent,
        }
    }

    /// Whether no further report will change the outcome.
    pub fn is_final(self) -> bool {
        !matches!(self, DeliveryStatus::Temporary)
    }
}

/// SMS-STATUS-REPORT (3GPP TS 23.040 §9.2.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsStatusReport {
    /// TP-MMS read as "more messages are waiting" (the bit is 0 then).
    pub more_messages_to_send: bool,
    /// TP-LP: loop prevention.
    pub loop_prevention: bool,
    /// TP-SRQ: the report answers an SMS-COMMAND (true) or an SMS-SUBMIT (false).
    pub status_report_qualifier: bool,
    /// TP-MR of the SMS-SUBMIT this report is about.
    pub message_reference: u8,
    /// TP-RA: the recipient of that message.
    pub recipient: Address,
    /// TP-SCTS of the original message.
    pub timestamp: Timestamp,
    /// TP-DT: when the status was reached (delivered, or the last attempt).
    pub discharge_time: Timestamp,
    /// TP-ST, the raw status; see [`SmsStatusReport::delivery_status`].
    pub status: u8,
    /// TP-PI without its extension bit, when present; its presence bits are recomputed from
    /// the optional fields on encoding, other bits are kept.
    pub parameter_indicator: Option<u8>,
    /// TP-PID, when TP-PI says so.
    pub protocol_identifier: Option<u8>,
    /// TP-DCS, when TP-PI says so (GSM 7-bit is assumed for user data without it).
    pub dcs: Option<Dcs>,
    /// TP-UDL and TP-UD, when TP-PI says so.
    pub user_data: Option<UserData>,
}

impl SmsStatusReport {
    /// The meaning of TP-ST.
    pub fn delivery_status(&self) -> DeliveryStatus {
        DeliveryStatus::from_tp_status(self.status)
    }

    /// The TPDU octets.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(32);
        let udhi = self.user_data.as_ref().is_some_and(|u| u.udh.is_some());
        let first = MTI_STATUS_REPORT
            | u8::from(!self.more_messages_to_send) << 2
            | u8::from(self.loop_prevention) << 3
            | u8::from(self.status_report_qualifier) << 5
            | u8::from(udhi) << 6;
        out.push(first);
        out.push(self.message_reference);
        self.recipient.encode_tp(&mut out)?;
        self.timestamp.encode(&mut out);
        self.discharge_time.encode(&mut out);
        out.push(self.status);
        let presence = u8::from(self.protocol_identifier.is_some())
            | u8::from(self.dcs.is_some()) << 1
            | u8::from(self.user_data.is_some()) << 2;
        let pi = match self.parameter_indicator {
            Some(raw) => Some((raw & 0x78) | presence),
            None if presence != 0 => Some(presence),
            None => None,
        };
        if let Some(pi) = pi {
            out.push(pi);
            if let Some(pid) = self.protocol_identifier {
                out.push(pid);
            }
            if let Some(dcs) = self.dcs {
                out.push(dcs.octet());
            }
            if let Some(ud) = &self.user_data {
                write_user_data(&mut out, self.dcs.unwrap_or(Dcs(0)), ud)?;
            }
        }
        Ok(out)
    }

    /// Decodes the TPDU octets (without SMSC address). The optional part after TP-ST may be
    /// absent, as many SCs send it.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let first = r.u8("first octet")?;
        if first & 0x03 != MTI_STATUS_REPORT {
            return Err(DecodeError::invalid("TP-MTI", "not SMS-STATUS-REPORT"));
        }
        let message_reference = r.u8("TP-MR")?;
        let recipient = Address::decode_tp(&mut r, "TP-RA")?;
        let timestamp = Timestamp::decode(&mut r, "TP-SCTS")?;
        let discharge_time = Timestamp::decode(&mut r, "TP-DT")?;
        let status = r.u8("TP-ST")?;
        let mut report = SmsStatusReport {
            more_messages_to_send: first & 0x04 == 0,
            loop_prevention: first & 0x08 != 0,
            status_report_qualifier: first & 0x20 != 0,
            message_reference,
            recipient,
            timestamp,
            discharge_time,
            status,
            parameter_indicator: None,
            protocol_identifier: None,
            dcs: None,
            user_data: None,
        };
        if r.remaining() > 0 {
            let pi = r.u8("TP-PI")?;
            // Extension octets (bit 7) carry no parameters defined yet; skip them.
            let mut ext = pi;
            while ext & 0x80 != 0 {
                ext = r.u8("TP-PI extension")?;
            }
            report.parameter_indicator = Some(pi & 0x7F);
            if pi & 0x01 != 0 {
                report.protocol_identifier = Some(r.u8("TP-PID")?);
            }
            if pi & 0x02 != 0 {
                report.dcs = Some(Dcs(r.u8("TP-DCS")?));
            }
            if pi & 0x04 != 0 {
                let dcs = report.dcs.unwrap_or(Dcs(0));
                report.user_data = Some(read_user_data(&mut r, dcs, first & 0x40 != 0)?);
            }
        }
        r.finish()?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tpdu::{Tpdu, parse_modem_pdu};

    #[test]
    fn status_report_from_a_modem_decodes_as_delivered() {
        // +CDS PDU: SMSC +31624000000, TP-MR 0x0D, recipient +31641600986, status 0x00.
        let pdu = [
            "07911326040000F0",
            "060D0B911346610089F6",
            "20806291731448",
            "20806291731448",
            "00",
        ]
        .concat();
        let m = parse_modem_pdu(&pdu, None).unwrap();
        let Tpdu::StatusReport(s) = m.tpdu else {
            panic!("not a status report")
        };
        assert_eq!(s.message_reference, 0x0D);
        assert_eq!(s.recipient.to_string(), "+31641600986");
        assert_eq!(s.delivery_status(), DeliveryStatus::Delivered);
        assert_eq!(s.discharge_time.second, 41);
        assert_eq!(crate::hex::encode(&s.encode().unwrap()), pdu[16..]);
    }

    #[test]
    fn status_codes_map_to_delivered_temporary_permanent() {
        assert_eq!(
            DeliveryStatus::from_tp_status(0x00),
            DeliveryStatus::Delivered
        );
        assert_eq!(
            DeliveryStatus::from_tp_status(0x02),
            DeliveryStatus::Delivered
        );
        assert_eq!(
            DeliveryStatus::from_tp_status(0x20),
            DeliveryStatus::Temporary
        );
        assert_eq!(
            DeliveryStatus::from_tp_status(0x30),
            DeliveryStatus::Temporary
        );
        assert_eq!(
            DeliveryStatus::from_tp_status(0x41),
            DeliveryStatus::Permanent
        );
        assert_eq!(
            DeliveryStatus::from_tp_status(0x46),
            DeliveryStatus::Permanent
        );
        assert_eq!(
            DeliveryStatus::from_tp_status(0x62),
            DeliveryStatus::Permanent
        );
        assert_eq!(
            DeliveryStatus::from_tp_status(0xFF),
            DeliveryStatus::Permanent
        );
        assert!(!DeliveryStatus::Temporary.is_final());
    }

    #[test]
    fn optional_parameters_round_trip() {
        let s = SmsStatusReport {
            more_messages_to_send: false,
            loop_prevention: true,
            status_report_qualifier: false,
            message_reference: 200,
            recipient: Address::national("01701234567"),
            timestamp: Timestamp::from_unix_seconds(1_700_000_000, 4),
            discharge_time: Timestamp::from_unix_seconds(1_700_000_100, 4),
            status: 0x46,
            parameter_indicator: Some(0x07),
            protocol_identifier: Some(0),
            dcs: Some(Dcs(0x08)),
            user_data: Some(UserData::new(
                crate::Encoding::Ucs2,
                crate::charsets::encode_ucs2("expired"),
            )),
        };
        let b = s.encode().unwrap();
        assert_eq!(SmsStatusReport::decode(&b).unwrap(), s);
        assert_eq!(s.delivery_status(), DeliveryStatus::Permanent);
        for n in 0..b.len() {
            // Every strict prefix either fails or ends exactly after TP-ST (optional part absent).
            if let Ok(p) = SmsStatusReport::decode(&b[..n]) {
                assert!(p.parameter_indicator.is_none());
            }
        }
    }
}
