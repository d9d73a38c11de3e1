//! Fuzz target: what an untrusted MQTT client publishes to the bridge. The first input byte
//! splits the rest into a topic and a payload; the topic goes through the bridge's parse, the
//! payload through the send and command decoders and, when it decodes, into the request for a
//! tenant with sender ids, and every refusal into its `{prefix}/errors` report. None may panic;
//! a topic the parse takes always lies under the prefix; the report is always JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;

use smsgate_core::store::Tenant;
use smsgate_mqtt::payload::{self, Refusal};
use smsgate_mqtt::topics::Topics;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let (topic, body) = rest.split_at((split as usize).min(rest.len()));
    let topic = String::from_utf8_lossy(topic);
    let topics = Topics::new("gw/eu");
    if topics.parse(&topic).is_some() {
        assert!(topic.starts_with("gw/eu/"));
    }
    let tenant = Tenant {
        id: "acme".into(),
        sender_ids: vec!["ACME".into()],
        ..Tenant::default()
    };
    let refusal = match payload::decode_send(body).and_then(|p| payload::to_request(p, &tenant)) {
        Ok(r) => {
            assert_eq!(r.tenant.as_deref(), Some("acme"));
            None
        }
        Err(r) => Some(r),
    };
    let _ = payload::decode_command(body);
    let r = refusal.unwrap_or_else(|| Refusal::new("x", "y"));
    let report = payload::error_payload(&topic, &r, body);
    assert!(serde_json::from_slice::<serde_json::Value>(&report).is_ok());
});
