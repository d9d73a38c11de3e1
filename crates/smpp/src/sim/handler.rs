//! The simulator's in-memory [`Handler`]: credentials, fault injection, receipts, MO messages.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rusmpp::pdus::{DeliverSm, SubmitSm};
use rusmpp::tlvs::MessageDeliveryRequestTlvValue as DeliveryTlv;
use rusmpp::types::{AnyOctetString, COctetString, OctetString};
use rusmpp::values::{
    DataCoding, ErrorCodeNetworkType, EsmClass, MessagePayload, NetworkErrorCode,
};
use smsgate_sms::{Concat, SegmentOptions, Shift, UserData, charsets, gsm7, segment};

use super::{InjectError, Inner, MessageRecord, MoLong, MoMessage, bump, lock};
use crate::address::SmppAddr;
use crate::pdu::CommandStatus;
use crate::receipt::{self, IdRadix, ReceiptPdu, ReceiptState, TextReceipt};
use crate::server::{Handler, SessionHandle, SessionId};
use crate::session::{BindRequest, c_string};
use crate::time;
use crate::view::ShortMessageView;

/// The account a simulator session acts as.
#[derive(Debug, Clone)]
pub struct SimAccount {
    system_id: String,
    session: SessionId,
}

/// The [`Handler`] behind [`super::Simulator`].
#[derive(Debug)]
pub struct SimHandler(pub(super) Arc<Inner>);

impl Handler for SimHandler {
    type Account = SimAccount;

    async fn authenticate(
        &self,
        session: SessionId,
        _peer: &str,
        bind: &BindRequest,
    ) -> Result<SimAccount, CommandStatus> {
        let accounts = &self.0.config.accounts;
        if !accounts.is_empty() {
            match accounts.iter().find(|(id, _)| *id == bind.system_id) {
                None => {
                    bump(&self.0.counters.bind_rejected);
                    return Err(CommandStatus::EsmeRinvsysid);
                }
                Some((_, password)) if *password != bind.password => {
                    bump(&self.0.counters.bind_rejected);
                    return Err(CommandStatus::EsmeRinvpaswd);
                }
                Some(_) => {}
            }
        }
        bump(&self.0.counters.binds);
        Ok(SimAccount {
            system_id: bind.system_id.clone(),
            session,
        })
    }

    async fn submit(&self, account: &SimAccount, sm: SubmitSm) -> Result<String, CommandStatus> {
        let inner = &self.0;
        bump(&inner.counters.submits);
        let (disconnect, throttle, fail, undeliverable) = {
            let mut rng = lock(&inner.rng);
            let c = &inner.config;
            (
                rng.chance(c.disconnect_rate),
                rng.chance(c.throttle_rate),
                rng.chance(c.failure_rate),
                rng.chance(c.undeliverable_rate),
            )
        };
        if disconnect && let Some(handle) = lock(&inner.sessions).get(&account.session) {
            bump(&inner.counters.disconnects);
            handle.abort();
            return Err(CommandStatus::EsmeRsyserr);
        }
        if throttle {
            bump(&inner.counters.throttled);
            return Err(CommandStatus::EsmeRthrottled);
        }
        if fail {
            bump(&inner.counters.failed);
            return Err(CommandStatus::EsmeRsubmitfail);
        }
        bump(&inner.counters.accepted);
        let n = inner
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let message_id = match inner.config.id_format {
            IdRadix::Hex => format!("{n:08x}"),
            IdRadix::Decimal | IdRadix::Text => n.to_string(),
        };
        let text_id = if inner.config.text_id_decimal {
            n.to_string()
        } else {
            message_id.clone()
        };
        let state = if undeliverable {
            ReceiptState::Undeliverable
        } else {
            ReceiptState::Delivered
        };
        let record = MessageRecord {
            message_id: message_id.clone(),
            system_id: account.system_id.clone(),
            source: sm.source_addr.as_str().to_owned(),
            destination: sm.destination_addr.as_str().to_owned(),
            short_message: sm.short_message().as_ref().to_vec(),
            data_coding: u8::from(sm.data_coding),
            esm_class: u8::from(sm.esm_class),
            submitted_at: SystemTime::now(),
            receipt: None,
            receipt_acked: false,
        };
        track(inner, record);
        if !inner.config.submit_latency.is_zero() {
            // Accepted and tracked, answer still to come: the crash window of a real SMSC.
            tokio::time::sleep(inner.config.submit_latency).await;
        }
        // SMPP 3.4 §5.2.17 registered_delivery bits 0-1: 1 = always, 2 = on failure only.
        let wanted = match u8::from(sm.registered_delivery) & 0x03 {
            1 => true,
            2 => undeliverable,
            _ => false,
        };
        if wanted {
            let receipt = build_receipt(&sm, &message_id, &text_id, &state);
            let (inner, system_id, id) =
                (inner.clone(), account.system_id.clone(), message_id.clone());
            tokio::spawn(async move {
                tokio::time::sleep(inner.config.receipt_delay).await;
                if let Some(rec) = lock(&inner.messages).by_id.get_mut(&id) {
                    rec.receipt = Some(state);
                }
                deliver_receipt(inner, system_id, id, receipt).await;
            });
        }
        Ok(message_id)
    }

    async fn bound(&self, account: &SimAccount, session: SessionHandle) {
        let can_deliver = session.can_deliver();
        lock(&self.0.sessions).insert(session.id(), session);
        if can_deliver {
            flush_pending(&self.0, &account.system_id);
        }
    }

    async fn unbound(&self, _account: &SimAccount, session: SessionId) {
        lock(&self.0.sessions).remove(&session);
    }
}

fn track(inner: &Inner, record: MessageRecord) {
    let mut tracked = lock(&inner.messages);
    if tracked.order.len() >= inner.config.max_tracked.max(1)
        && let Some(old) = tracked.order.pop_front()
    {
        tracked.by_id.remove(&old);
    }
    tracked.order.push_back(record.message_id.clone());
    tracked.by_id.insert(record.message_id.clone(), record);
}

fn receivers(inner: &Inner, system_id: Option<&str>) -> Vec<SessionHandle> {
    let mut found: Vec<SessionHandle> = lock(&inner.sessions)
        .values()
        .filter(|h| h.can_deliver() && !h.is_closed())
        .filter(|h| system_id.is_none_or(|s| h.system_id() == s))
        .cloned()
        .collect();
    found.sort_by_key(|h| h.id());
    found
}

async fn deliver_receipt(inner: Arc<Inner>, system_id: String, message_id: String, sm: DeliverSm) {
    let mut no_receiver = false;
    for _ in 0..3 {
        let targets = receivers(&inner, Some(&system_id));
        if targets.is_empty() {
            no_receiver = true;
            break;
        }
        for target in targets {
            bump(&inner.counters.receipts_sent);
            if target.deliver(sm.clone()).await.is_ok() {
                bump(&inner.counters.receipts_acked);
                if let Some(rec) = lock(&inner.messages).by_id.get_mut(&message_id) {
                    rec.receipt_acked = true;
                }
                return;
            }
        }
        tokio::time::sleep(inner.config.receipt_delay).await;
    }
    lock(&inner.pending)
        .entry(system_id.clone())
        .or_default()
        .push_back((message_id, sm));
    // A receiver may have bound between the last look and the push; its `bound` flushed the
    // queue before this receipt was in it, so flush again rather than wait for the next bind.
    // (Receipts that bound receivers refused three times wait for the next bind.)
    if no_receiver && !receivers(&inner, Some(&system_id)).is_empty() {
        flush_pending(&inner, &system_id);
    }
}

/// Sends every receipt queued for `system_id` to its bound receivers.
fn flush_pending(inner: &Arc<Inner>, system_id: &str) {
    let queued = lock(&inner.pending).remove(system_id).unwrap_or_default();
    for (message_id, receipt) in queued {
        let (inner, system_id) = (inner.clone(), system_id.to_owned());
        tokio::spawn(deliver_receipt(inner, system_id, message_id, receipt));
    }
}

/// The receipt for `sm` (one shape with the gateway's SMPP server: [`receipt::deliver_sm`]),
/// with a GSM network error code on failure.
fn build_receipt(
    sm: &SubmitSm,
    message_id: &str,
    text_id: &str,
    state: &ReceiptState,
) -> DeliverSm {
    let view = ShortMessageView::from(sm);
    let mut body = view.short_message;
    if view.udhi() && !body.is_empty() {
        body = body.get(1 + body[0] as usize..).unwrap_or(&[]);
    }
    let now = time::receipt_date(now_ms());
    let delivered = *state == ReceiptState::Delivered;
    receipt::deliver_sm(&ReceiptPdu {
        recipient: view.dest,
        originator: view.source,
        message_id,
        text: TextReceipt {
            id: text_id.to_owned(),
            submitted: Some("001".into()),
            delivered: Some(if delivered { "001" } else { "000" }.into()),
            submit_date: Some(now.clone()),
            done_date: Some(now),
            stat: state.as_text().to_owned(),
            err: Some(if delivered { "000" } else { "001" }.into()),
            text: Some(receipt::preview(&decode_text(view.data_coding, body))),
        },
        state: state.to_message_state(),
        network_error: (!delivered).then(|| NetworkErrorCode::new(ErrorCodeNetworkType::Gsm, 1)),
    })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The text of a submit for its receipt preview; what does not decode reads as Latin-1 so the
/// receipt stays readable.
fn decode_text(data_coding: u8, octets: &[u8]) -> String {
    UserData::from_smpp(data_coding, false, octets, false)
        .and_then(|ud| ud.text())
        .unwrap_or_else(|_| charsets::decode_latin1(octets))
}

/// An MO text as an SMSC codes it: GSM 03.38 (unpacked, `data_coding` 0) when every character
/// fits, else UCS-2.
fn encode_text(text: &str) -> (DataCoding, Vec<u8>) {
    match gsm7::encode(text, Shift::DEFAULT) {
        Ok(septets) => (DataCoding::McSpecific, septets),
        Err(_) => (DataCoding::Ucs2, charsets::encode_ucs2(text)),
    }
}

/// An MO address as a PDU field (the gateway's one TON/NPI mapping).
fn mo_addr<'a>(
    addr: &'a str,
    field: &'static str,
) -> Result<(SmppAddr<'a>, COctetString<1, 21>), InjectError> {
    let a = SmppAddr::from_gateway(addr);
    let octets = c_string::<21>(a.addr, field).map_err(|_| InjectError::InvalidAddress)?;
    Ok((a, octets))
}

/// The `deliver_sm`s carrying `mo`: one (with `message_payload` beyond 254 octets) or, for
/// [`MoLong::Udh`]/[`MoLong::Sar`], one per part as `smsgate-sms` splits it.
fn mo_pdus(mo: &MoMessage, reference: u16) -> Result<Vec<DeliverSm>, InjectError> {
    let (from_addr, from) = mo_addr(&mo.from, "source_addr")?;
    let (to_addr, to) = mo_addr(&mo.to, "destination_addr")?;
    let builder = || {
        DeliverSm::builder()
            .source_addr_ton(from_addr.ton)
            .source_addr_npi(from_addr.npi)
            .source_addr(from.clone())
            .dest_addr_ton(to_addr.ton)
            .dest_addr_npi(to_addr.npi)
            .destination_addr(to.clone())
    };
    let concat = match mo.long {
        MoLong::Payload => None,
        MoLong::Udh => Some(Concat::Udh8),
        MoLong::Sar => Some(Concat::Sar),
    };
    if let Some(concat) = concat {
        let opts = SegmentOptions {
            concat,
            reference,
            ..SegmentOptions::default()
        };
        let seg = segment(&mo.text, &opts).map_err(|e| InjectError::Failed(e.to_string()))?;
        let mut out = Vec::with_capacity(seg.parts.len());
        for part in &seg.parts {
            let mut tlvs = Vec::new();
            if let Some(sar) = part.sar {
                tlvs.push(DeliveryTlv::SarMsgRefNum(sar.msg_ref_num));
                tlvs.push(DeliveryTlv::SarTotalSegments(sar.total_segments));
                tlvs.push(DeliveryTlv::SarSegmentSeqnum(sar.segment_seqnum));
            }
            let body = part.smpp_short_message(false);
            out.push(
                builder()
                    .esm_class(EsmClass::from(if part.udhi() { 0x40 } else { 0 }))
                    .data_coding(DataCoding::from(part.encoding.smpp_data_coding()))
                    .short_message(OctetString::from_vec(body).unwrap_or_default())
                    .tlvs(tlvs)
                    .build(),
            );
        }
        return Ok(out);
    }
    let (coding, octets) = encode_text(&mo.text);
    let builder = builder().data_coding(coding);
    Ok(vec![if octets.len() <= 254 {
        builder
            .short_message(OctetString::from_vec(octets).unwrap_or_default())
            .build()
    } else {
        let payload = MessagePayload::new(AnyOctetString::from_vec(octets));
        builder
            .tlvs(vec![DeliveryTlv::MessagePayload(payload)])
            .build()
    }])
}

pub(super) async fn inject_mo(inner: &Arc<Inner>, mo: MoMessage) -> Result<SessionId, InjectError> {
    let reference = inner.rng_u16();
    let pdus = mo_pdus(&mo, reference)?;
    bump(&inner.counters.mo_injected);
    let targets = receivers(inner, mo.system_id.as_deref());
    if targets.is_empty() {
        return Err(InjectError::NoReceiver);
    }
    let mut last = String::new();
    for target in targets {
        // Parts go out together, as a windowed SMSC sends them; all must be acknowledged.
        let mut parts = tokio::task::JoinSet::new();
        for sm in pdus.iter().cloned() {
            let t = target.clone();
            parts.spawn(async move { t.deliver(sm).await });
        }
        let mut ok = true;
        while let Some(r) = parts.join_next().await {
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    ok = false;
                    last = e.to_string();
                }
                Err(e) => {
                    ok = false;
                    last = e.to_string();
                }
            }
        }
        if ok {
            bump(&inner.counters.mo_delivered);
            return Ok(target.id());
        }
    }
    Err(InjectError::Failed(last))
}
