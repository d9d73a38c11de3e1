//! The event log as MQTT publications: each [`OutboxEvent`] becomes one topic and JSON
//! payload ([`publication`]), or none. Pure: no client, no store.
//!
//! Payloads are the `data` the webhook pipeline POSTs for the same event (so one parser reads
//! both), with `message.status` flattened to what a subscriber of one message wants: `id`,
//! `status`, `to`, `from`, `connector`, `error_code`, `error_message`, `detail`, `segments`,
//! `at` (RFC 3339 of the change) and `tenant`. `inbound.routed` is never published: its data
//! carries an inbound rule's webhook URL and signing secret.

use serde_json::{Value, json};
use smsgate_core::clock::rfc3339;
use smsgate_core::store::OutboxEvent;

use crate::topics::{Topics, level};

/// One message to publish, QoS 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Publication {
    /// The topic.
    pub topic: String,
    /// The JSON payload.
    pub payload: Vec<u8>,
}

/// The publication of one event; `None` for an event the bridge does not publish.
pub fn publication(topics: &Topics, ev: &OutboxEvent) -> Option<Publication> {
    if ev.event == smsgate_core::compliance::ROUTED_EVENT {
        return None;
    }
    if let Some((status, detail, m)) = &ev.message {
        let payload = json!({
            "id": m.id.to_string(),
            "status": status.as_str(),
            "to": m.to,
            "from": m.from,
            "connector": m.connector,
            "error_code": m.error_code,
            "error_message": m.error_message,
            "detail": detail,
            "segments": m.segments,
            "at": rfc3339(ev.at),
            "tenant": m.tenant,
        });
        return Some(Publication {
            topic: topics.under(&format!("messages/{}/status", level(&m.id.to_string()))),
            payload: payload.to_string().into_bytes(),
        });
    }
    let data = ev.data.clone().unwrap_or(Value::Null);
    let text = |key: &str| data.get(key).and_then(Value::as_str).map(level);
    let number = |key: &str| {
        data.get(key).and_then(|v| match v {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => Some(level(s)),
            _ => None,
        })
    };
    let topic = match ev.event.split_once('.') {
        Some(("message", "inbound")) => format!("inbound/{}", text("to")?),
        Some(("alert", suffix)) => format!("alerts/{}", level(suffix)),
        Some(("device", "telemetry")) => format!("devices/{}/telemetry", text("device_id")?),
        Some(("command", state)) => format!(
            "devices/{}/commands/{}/{}",
            text("device_id")?,
            number("id")?,
            level(state)
        ),
        _ => format!("events/{}", level(&ev.event)),
    };
    Some(Publication {
        topic: topics.under(&topic),
        payload: data.to_string().into_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsgate_core::message::{Message, MessageId, Priority, Status};

    fn event(name: &str, data: Value) -> OutboxEvent {
        OutboxEvent {
            seq: 7,
            event: name.into(),
            at: 1_700_000_000_000,
            message: None,
            data: Some(data),
        }
    }

    fn topic(ev: &OutboxEvent) -> Option<String> {
        publication(&Topics::new("gw"), ev).map(|p| p.topic)
    }

    fn message() -> Message {
        Message {
            id: MessageId::new(),
            api_key_id: Some("mqtt:default".into()),
            tenant: Some("default".into()),
            to: "+4915112345678".into(),
            from: Some("ACME".into()),
            text: "hi".into(),
            encoding: "gsm7".into(),
            segments: 1,
            status: Status::Delivered,
            priority: Priority::Normal,
            callback_url: None,
            callback_statuses: Vec::new(),
            idempotency_key: None,
            created_at: 1,
            updated_at: 2,
            send_at: 1,
            expires_at: None,
            attempts: 1,
            connector: Some("sim".into()),
            error_code: None,
            error_message: None,
            undelivered_via: Vec::new(),
            binary: None,
        }
    }

    #[test]
    fn a_status_change_goes_to_its_message_topic() {
        let m = message();
        let ev = OutboxEvent {
            seq: 3,
            event: "message.status".into(),
            at: 1_700_000_000_000,
            message: Some((Status::Delivered, None, m.clone())),
            data: None,
        };
        let p = publication(&Topics::new("gw"), &ev).unwrap();
        assert_eq!(p.topic, format!("gw/messages/{}/status", m.id));
        let v: Value = serde_json::from_slice(&p.payload).unwrap();
        assert_eq!(v["status"], "delivered");
        assert_eq!(v["to"], "+4915112345678");
        assert_eq!(v["connector"], "sim");
        assert_eq!(v["tenant"], "default");
        assert_eq!(v["at"], "2023-11-14T22:13:20.000Z");
    }

    #[test]
    fn other_events_go_to_their_topics_with_their_data() {
        let inbound = event(
            "message.inbound",
            json!({"id": "x", "from": "+491", "to": "+4930123", "text": "T=21"}),
        );
        assert_eq!(topic(&inbound).unwrap(), "gw/inbound/4930123");
        let p = publication(&Topics::new("gw"), &inbound).unwrap();
        let v: Value = serde_json::from_slice(&p.payload).unwrap();
        assert_eq!(v["text"], "T=21");
        assert_eq!(
            topic(&event("alert.raised", json!({"id": 1, "device_id": "d"}))).unwrap(),
            "gw/alerts/raised"
        );
        assert_eq!(
            topic(&event("device.telemetry", json!({"device_id": "pump/1"}))).unwrap(),
            "gw/devices/pump_1/telemetry"
        );
        assert_eq!(
            topic(&event(
                "command.acknowledged",
                json!({"id": 12, "device_id": "pump-1", "state": "acknowledged"})
            ))
            .unwrap(),
            "gw/devices/pump-1/commands/12/acknowledged"
        );
        assert_eq!(
            topic(&event("optout.created", json!({"number": "+491"}))).unwrap(),
            "gw/events/optout.created"
        );
    }

    #[test]
    fn routed_events_and_events_without_their_keys_are_not_published() {
        assert_eq!(
            topic(&event(
                "inbound.routed",
                json!({"url": "http://x", "secret": "s"})
            )),
            None
        );
        assert_eq!(topic(&event("message.inbound", json!({"text": "x"}))), None);
        assert_eq!(
            topic(&event("command.sent", json!({"device_id": "d"}))),
            None
        );
    }
}
