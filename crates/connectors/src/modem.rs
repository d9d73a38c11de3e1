//! `type = "modem"`: a GSM/LTE modem over AT commands (PDU mode), through `smsgate-modem`.
//!
//! The driver owns the device and reports what it hears with an acknowledgement; this module
//! stores those events through [`ConnectorEvents::report_durably`] and only then lets the driver
//! delete the message from the modem or acknowledge it to the network. Keys (besides `name`,
//! `type`) are those of [`ModemSettings`]: `device`, `baud`, `pin`, `smsc`, `storage`,
//! `indications`, `status_reports`, `command_timeout`, `send_timeout`, `health_interval`,
//! `max_per_minute`, `reset_backoff`, `reset_backoff_max`, `reassembly_timeout`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use smsgate_core::clock::Clock;
use smsgate_core::connector::{
    Connector, ConnectorEvent, ConnectorEvents, ConnectorInfo, ConnectorState, InboundSms,
    OutboundSms, Receipt, ReceiptState, SubmitError, SubmitErrorKind, SubmitOutcome,
};
use smsgate_modem::at::SendClass;
use smsgate_modem::driver::{
    Heard, LinkState, Modem, ModemEvent, ModemSettings, ReportState, SendRequest,
};
use smsgate_modem::transport::Device;
use tokio::sync::mpsc;

use crate::{BuildContext, ConnectorConfig, ConnectorError};

/// Reads and checks the settings (config load and build).
pub fn parse(c: &ConnectorConfig) -> Result<(ModemSettings, Device), ConnectorError> {
    let s: ModemSettings = c.parse()?;
    let device =
        Device::parse(&s.device, s.baud).map_err(|e| c.settings_error(format!("device: {e}")))?;
    if s.max_per_minute == 0 {
        return Err(c.settings_error("max_per_minute must be at least 1"));
    }
    if s.command_timeout.is_zero() || s.send_timeout.is_zero() || s.health_interval.is_zero() {
        return Err(
            c.settings_error("command_timeout, send_timeout and health_interval must be > 0")
        );
    }
    Ok((s, device))
}

/// A started modem connector.
pub struct ModemConnector {
    name: String,
    modem: Modem,
    clock: Clock,
}

/// Starts the driver and the task that stores what it hears. The state file lives beside the
/// database as `modem-<name>.json` unless `state_file` says otherwise.
pub fn build(
    c: &ConnectorConfig,
    ctx: &BuildContext,
) -> Result<Arc<ModemConnector>, ConnectorError> {
    let (mut settings, device) = parse(c)?;
    if settings.state_file.is_none() {
        settings.state_file = ctx
            .data_dir
            .as_ref()
            .map(|d| d.join(format!("modem-{}.json", c.name)));
    }
    let (tx, rx) = mpsc::channel(16);
    let modem = Modem::start(&c.name, settings, Arc::new(device), tx);
    tokio::spawn(forward(c.name.clone(), rx, ctx.events.clone()));
    Ok(Arc::new(ModemConnector {
        name: c.name.clone(),
        modem,
        clock: ctx.clock,
    }))
}

/// Stores each event, then tells the driver whether it is durable.
async fn forward(name: String, mut rx: mpsc::Receiver<ModemEvent>, events: ConnectorEvents) {
    while let Some(ModemEvent { heard, ack }) = rx.recv().await {
        let event = match heard {
            Heard::Inbound {
                from,
                text,
                incomplete,
                binary,
            } => {
                // 8-bit data stays octets (as hex), with the sender's header elements.
                let (text, binary) = match binary {
                    Some(b) => (
                        smsgate_core::message::Binary::hex(&b.octets),
                        Some(smsgate_core::message::Binary {
                            data_coding: b.data_coding,
                            udh: b.elements,
                        }),
                    ),
                    None => (text, None),
                };
                ConnectorEvent::Inbound(InboundSms {
                    connector: name.clone(),
                    from,
                    to: String::new(),
                    text,
                    incomplete,
                    binary,
                })
            }
            Heard::Report {
                remote_id,
                state,
                status,
            } => {
                let state = match state {
                    ReportState::Delivered => ReceiptState::Delivered,
                    ReportState::Pending => ReceiptState::Pending,
                    ReportState::Expired => ReceiptState::Expired,
                    ReportState::Undelivered => ReceiptState::Undelivered,
                };
                ConnectorEvent::Receipt(Receipt {
                    connector: name.clone(),
                    remote_id,
                    state,
                    error_code: (state != ReceiptState::Delivered).then_some(status),
                })
            }
        };
        ack.done(events.report_durably(event).await);
    }
}

/// A concatenation reference that stays the same for every attempt at one message.
fn reference(sms: &OutboundSms) -> u16 {
    let b = sms.id.0.as_bytes();
    u16::from_be_bytes([b[14], b[15]])
}

#[async_trait]
impl Connector for ModemConnector {
    fn name(&self) -> &str {
        &self.name
    }

    fn info(&self) -> ConnectorInfo {
        let st = self.modem.status();
        let state = match &st.link {
            LinkState::Ready if st.can_send() => ConnectorState::Bound,
            LinkState::Failed { .. } => ConnectorState::Down,
            _ => ConnectorState::Reconnecting,
        };
        ConnectorInfo {
            name: self.name.clone(),
            kind: "modem".into(),
            state,
            submitted: st.counters.parts_sent,
            failed: st.counters.send_failures,
            receipts: st.counters.status_reports,
            inbound: st.counters.received,
            in_flight: 0,
            details: serde_json::to_value(&st).unwrap_or_default(),
        }
    }

    fn capacity(&self) -> usize {
        1 // a modem sends one AT+CMGS at a time
    }

    async fn submit(&self, sms: &OutboundSms) -> SubmitOutcome {
        let encoding = match sms.encoding.as_str() {
            "ucs2" => Some(smsgate_sms::Encoding::Ucs2),
            _ => None, // GSM 7-bit when it fits, as the estimate said
        };
        let validity = sms.expires_at.map(|t| {
            let left = t - self.clock.now_ms();
            Duration::from_millis(left.max(60_000) as u64)
        });
        let binary = match &sms.binary {
            Some(b) => {
                let Ok((payload, elements)) = b.decode(&sms.text) else {
                    return SubmitOutcome::Rejected(SubmitError::new(
                        SubmitErrorKind::Permanent,
                        "invalid_binary",
                        "the stored binary payload or header does not parse",
                    ));
                };
                Some(smsgate_modem::driver::BinarySend {
                    payload,
                    elements,
                    data_coding: b.data_coding,
                })
            }
            None => None,
        };
        let request = SendRequest {
            id: sms.id.to_string(),
            to: sms.to.clone(),
            text: sms.text.clone(),
            encoding,
            validity,
            reference: reference(sms),
            binary,
        };
        match self.modem.send(request).await {
            Ok(remote_ids) => SubmitOutcome::Accepted { remote_ids },
            Err(e) => {
                let kind = match e.class {
                    SendClass::Temporary => SubmitErrorKind::Temporary,
                    SendClass::Permanent => SubmitErrorKind::Permanent,
                    SendClass::Unavailable => SubmitErrorKind::Unavailable,
                    SendClass::Ambiguous => SubmitErrorKind::Ambiguous,
                };
                SubmitOutcome::Rejected(SubmitError::new(kind, e.code, e.message))
            }
        }
    }
}
