//! One borrowed view of the fields `submit_sm`, `data_sm` and `deliver_sm` share (SMPP 3.4
//! §4.4.1, §4.7.1, §4.6.1), so the server's submit decoder and the connector's inbox decoder
//! read the three PDUs through one type instead of three sets of field accesses.

use rusmpp::pdus::{DataSm, DeliverSm, SubmitSm};
use rusmpp::tlvs::{Tlv, TlvValue};

use crate::address::SmppAddr;

/// The short-message fields of one PDU, borrowed. `data_sm` has no `short_message`, priority or
/// SMPP times: those read as empty.
#[derive(Debug, Clone, Copy)]
pub struct ShortMessageView<'a> {
    /// `source_addr` with its TON and NPI.
    pub source: SmppAddr<'a>,
    /// `destination_addr` with its TON and NPI.
    pub dest: SmppAddr<'a>,
    /// `esm_class` (SMPP 3.4 §5.2.12).
    pub esm_class: u8,
    /// `registered_delivery` (SMPP 3.4 §5.2.17).
    pub registered_delivery: u8,
    /// `data_coding` (SMPP 3.4 §5.2.19).
    pub data_coding: u8,
    /// `priority_flag` (SMPP 3.4 §5.2.14).
    pub priority_flag: u8,
    /// `short_message`; empty for `data_sm`, whose text travels in `message_payload`.
    pub short_message: &'a [u8],
    /// `schedule_delivery_time`; empty for `data_sm`.
    pub schedule_delivery_time: &'a str,
    /// `validity_period`; empty for `data_sm`.
    pub validity_period: &'a str,
    /// The optional parameters.
    pub tlvs: &'a [Tlv],
}

/// The SAR concatenation TLVs (SMPP 3.4 §5.3.2.22–24) as found, each `None` when absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sar {
    /// `sar_msg_ref_num`.
    pub reference: Option<u16>,
    /// `sar_total_segments`.
    pub total: Option<u8>,
    /// `sar_segment_seqnum`.
    pub sequence: Option<u8>,
}

impl<'a> ShortMessageView<'a> {
    /// Whether the user data starts with a UDH (`esm_class` bit 6, SMPP 3.4 §5.2.12).
    pub fn udhi(&self) -> bool {
        self.esm_class & 0x40 != 0
    }

    /// The `message_payload` TLV (SMPP 3.4 §5.3.2.32), when present.
    pub fn message_payload(&self) -> Option<&'a [u8]> {
        self.tlvs.iter().find_map(|t| match t.value() {
            Some(TlvValue::MessagePayload(p)) => Some(p.value.as_ref()),
            _ => None,
        })
    }

    /// The SAR TLVs, as found.
    pub fn sar(&self) -> Sar {
        let mut sar = Sar::default();
        for t in self.tlvs {
            match t.value() {
                Some(TlvValue::SarMsgRefNum(v)) => sar.reference = Some(*v),
                Some(TlvValue::SarTotalSegments(v)) => sar.total = Some(*v),
                Some(TlvValue::SarSegmentSeqnum(v)) => sar.sequence = Some(*v),
                _ => {}
            }
        }
        sar
    }

    /// `qos_time_to_live` in seconds (SMPP 3.4 §5.3.2.9; `data_sm`'s validity), when present.
    pub fn qos_time_to_live(&self) -> Option<u32> {
        self.tlvs.iter().find_map(|t| match t.value() {
            Some(TlvValue::QosTimeToLive(secs)) => Some(*secs),
            _ => None,
        })
    }

    /// Whether a `receipted_message_id` TLV is present (SMPP 3.4 §5.3.2.12): a receipt's id
    /// then comes from it rather than from the text.
    pub fn has_receipted_message_id(&self) -> bool {
        self.tlvs
            .iter()
            .any(|t| matches!(t.value(), Some(TlvValue::ReceiptedMessageId(_))))
    }
}

/// The address pair every one of the three PDUs carries under the same field names.
macro_rules! addresses {
    ($sm:expr) => {
        (
            SmppAddr {
                ton: $sm.source_addr_ton,
                npi: $sm.source_addr_npi,
                addr: $sm.source_addr.as_str(),
            },
            SmppAddr {
                ton: $sm.dest_addr_ton,
                npi: $sm.dest_addr_npi,
                addr: $sm.destination_addr.as_str(),
            },
        )
    };
}

/// `submit_sm` and `deliver_sm` carry the same fields (SMPP 3.4 §4.4.1, §4.6.1).
macro_rules! view_of_short_message_pdu {
    ($pdu:ty) => {
        impl<'a> From<&'a $pdu> for ShortMessageView<'a> {
            fn from(sm: &'a $pdu) -> Self {
                let (source, dest) = addresses!(sm);
                Self {
                    source,
                    dest,
                    esm_class: u8::from(sm.esm_class),
                    registered_delivery: u8::from(sm.registered_delivery),
                    data_coding: u8::from(sm.data_coding),
                    priority_flag: u8::from(sm.priority_flag),
                    short_message: sm.short_message().as_ref(),
                    schedule_delivery_time: sm.schedule_delivery_time.as_str(),
                    validity_period: sm.validity_period.as_str(),
                    tlvs: sm.tlvs(),
                }
            }
        }
    };
}

view_of_short_message_pdu!(SubmitSm);
view_of_short_message_pdu!(DeliverSm);

impl<'a> From<&'a DataSm> for ShortMessageView<'a> {
    fn from(sm: &'a DataSm) -> Self {
        let (source, dest) = addresses!(sm);
        Self {
            source,
            dest,
            esm_class: u8::from(sm.esm_class),
            registered_delivery: u8::from(sm.registered_delivery),
            data_coding: u8::from(sm.data_coding),
            priority_flag: 0,
            short_message: &[],
            schedule_delivery_time: "",
            validity_period: "",
            tlvs: sm.tlvs(),
        }
    }
}
