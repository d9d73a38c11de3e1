//! Deterministic state-machine tests: time is passed in, SMS and events are read from the
//! batches the engine hands out.

use serde_json::json;
use smsgate_core::intake::IntakeLimits;
use smsgate_core::message::{InboundMessage, MessageId, Status};

use super::*;
use crate::error::IotError;
use crate::model::{AlertState, CommandState, TelemetryStatus};

const T0: i64 = 1_767_225_600_000;
const MIN: i64 = 60_000;
const PUMP: &str = "+4915100000003";
const ALICE: &str = "+4915100000001";
const BOB: &str = "+4915100000002";

fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

/// An engine with Alice (level 1, 5 min) and Bob (level 2) on call, pump-3, and rule `hot`:
/// `T > 80`, clear `T < 75`, resolved SMS on.
fn engine_with(rule: serde_json::Value) -> Engine {
    let mut e = Engine::new(
        EngineConfig::default(),
        IntakeLimits::default(),
        Snapshot::default(),
        T0,
    );
    for (id, n) in [("alice", ALICE), ("bob", BOB)] {
        e.put_contact(from_json(json!({"id": id, "number": n})), Put::Create, T0)
            .unwrap();
    }
    e.put_group(
        from_json(json!({"id": "oncall", "allow_status": true, "levels": [
            {"contacts": ["alice"], "delay": "5m"}, {"contacts": ["bob"], "delay": "5m"}]})),
        Put::Create,
        T0,
    )
    .unwrap();
    e.put_device(
        from_json(
            json!({"id": "pump-3", "name": "Pump 3", "number": PUMP, "heartbeat": "1h",
                         "commands": ["OFF", "ON", "STATUS"]}),
        ),
        Put::Create,
        T0,
    )
    .unwrap();
    e.put_rule(from_json(rule), Put::Create, T0).unwrap();
    e.handle_timeout(T0); // the first telemetry pruning is due at start
    e.poll_batch();
    e
}

fn hot_rule() -> serde_json::Value {
    json!({"id": "hot", "name": "Overheat", "condition": "T > 80", "clear": "T < 75",
           "group": "oncall", "severity": "critical", "notify_resolved": true,
           "template": "{{device.name}}: temperature {{T}} C. Reply ACK {{alert.id}}"})
}

fn sms(e: &mut Engine, from: &str, text: &str, at: i64) {
    let m = InboundMessage {
        id: MessageId::new(),
        from: from.into(),
        to: "+10000000000".into(),
        text: text.into(),
        connector: "sim".into(),
        received_at: at,
        incomplete: false,
        tenant: None,
        binary: None,
    };
    e.handle_inbound(&m, at);
}

/// (to, text) of every SMS in the batch, and the event names.
fn take(e: &mut Engine) -> (Vec<(String, String)>, Vec<String>, Batch) {
    let b = e.poll_batch().unwrap_or_default();
    let out = b
        .messages
        .iter()
        .map(|m| (m.to.as_str().to_owned(), m.text.clone()))
        .collect();
    let ev = b.events.iter().map(|(n, _)| n.clone()).collect();
    (out, ev, b)
}

fn tick(e: &mut Engine, at: i64) {
    if e.poll_timeout().is_some_and(|t| t <= at) {
        e.handle_timeout(at);
    }
}

#[test]
fn an_unacknowledged_alert_escalates_then_an_sms_ack_stops_it_and_the_clear_resolves_it() {
    let mut e = engine_with(hot_rule());
    sms(&mut e, PUMP, "T=85", T0 + MIN);
    let (out, ev, b) = take(&mut e);
    assert_eq!(
        out,
        vec![(ALICE.into(), "Pump 3: temperature 85 C. Reply ACK 1".into())]
    );
    assert!(ev.contains(&"alert.raised".to_string()), "{ev:?}");
    assert!(ev.contains(&"device.telemetry".to_string()));
    assert_eq!(b.alerts[0].state, AlertState::Open);
    assert_eq!(b.telemetry[0].status, TelemetryStatus::Ok);
    assert_eq!(b.inbound_cursor, e.inbound_cursor());
    assert_eq!(e.poll_timeout(), Some(T0 + 6 * MIN));

    tick(&mut e, T0 + 6 * MIN - 1);
    assert!(take(&mut e).0.is_empty(), "nothing before the delay");
    tick(&mut e, T0 + 6 * MIN);
    let (out, ev, b) = take(&mut e);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, BOB);
    assert_eq!(ev, vec!["alert.escalated"]);
    assert_eq!(b.alerts[0].level, 1);
    assert_eq!(b.alerts[0].next_escalation_at, None, "no level three");

    sms(&mut e, BOB, "ACK", T0 + 7 * MIN);
    let (out, ev, b) = take(&mut e);
    assert_eq!(
        out,
        vec![(BOB.into(), "Acknowledged: 1 Overheat Pump 3.".into())]
    );
    assert_eq!(ev, vec!["alert.acknowledged"]);
    assert_eq!(b.alerts[0].acked_by.as_deref(), Some("bob"));

    sms(&mut e, PUMP, "T=78", T0 + 8 * MIN);
    let (_, ev, b) = take(&mut e);
    assert!(
        !ev.contains(&"alert.resolved".to_string()),
        "78 is inside the band"
    );
    assert!(b.alerts.is_empty());

    sms(&mut e, PUMP, "T=70", T0 + 9 * MIN);
    let (out, ev, b) = take(&mut e);
    assert!(ev.contains(&"alert.resolved".to_string()));
    assert_eq!(b.alerts[0].state, AlertState::Resolved);
    let told: Vec<&str> = out.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(
        told,
        vec![ALICE, BOB],
        "the resolved SMS goes to everyone told"
    );
    assert!(out[0].1.starts_with("RESOLVED Overheat"), "{}", out[0].1);
}

#[test]
fn one_open_alert_per_rule_and_device_and_cooldown_holds_the_next() {
    let mut rule = hot_rule();
    rule["cooldown"] = json!("10m");
    let mut e = engine_with(rule);
    sms(&mut e, PUMP, "T=85", T0);
    sms(&mut e, PUMP, "T=90", T0 + MIN);
    let (out, _, b) = take(&mut e);
    assert_eq!(out.len(), 1, "dedup: one alert, one SMS");
    assert_eq!(b.alerts.iter().map(|a| a.id).max(), Some(1));
    sms(&mut e, PUMP, "T=70", T0 + 2 * MIN);
    take(&mut e);
    sms(&mut e, PUMP, "T=85", T0 + 3 * MIN);
    let (out, _, _) = take(&mut e);
    assert!(out.is_empty(), "inside the cooldown");
    assert_eq!(e.poll_timeout(), Some(T0 + 12 * MIN));
    tick(&mut e, T0 + 12 * MIN);
    let (out, ev, b) = take(&mut e);
    assert_eq!(out.len(), 1, "raised when the cooldown ends: {ev:?}");
    assert_eq!(b.alerts[0].id, 2);
}

#[test]
fn a_for_duration_needs_the_condition_to_hold_and_a_flap_restarts_it() {
    let mut rule = hot_rule();
    rule["for"] = json!("2m");
    rule["clear"] = serde_json::Value::Null;
    let mut e = engine_with(rule);
    sms(&mut e, PUMP, "T=85", T0);
    assert!(take(&mut e).0.is_empty());
    sms(&mut e, PUMP, "T=79", T0 + MIN);
    take(&mut e);
    sms(&mut e, PUMP, "T=85", T0 + MIN + 1000);
    take(&mut e);
    tick(&mut e, T0 + 2 * MIN);
    assert!(take(&mut e).0.is_empty(), "the flap restarted the clock");
    assert_eq!(e.poll_timeout(), Some(T0 + 3 * MIN + 1000));
    tick(&mut e, T0 + 3 * MIN + 1000);
    let (out, ev, _) = take(&mut e);
    assert_eq!(out.len(), 1, "{ev:?}");
    // Without a clear condition, the alert resolves when the condition stops holding.
    sms(&mut e, PUMP, "T=80", T0 + 4 * MIN);
    let (_, ev, _) = take(&mut e);
    assert!(ev.contains(&"alert.resolved".to_string()));
}

#[test]
fn ack_with_several_open_alerts_asks_for_the_number() {
    let mut e = engine_with(hot_rule());
    e.put_rule(
        from_json(
            json!({"id": "dry", "name": "Low pressure", "condition": "P < 2",
                         "group": "oncall"}),
        ),
        Put::Create,
        T0,
    )
    .unwrap();
    sms(&mut e, PUMP, "T=85 P=1", T0);
    take(&mut e);
    sms(&mut e, ALICE, "ack", T0 + MIN);
    let (out, ev, _) = take(&mut e);
    assert!(ev.is_empty());
    assert_eq!(out[0].0, ALICE);
    assert_eq!(
        out[0].1,
        "2 open alerts: 1 Low pressure Pump 3; 2 Overheat Pump 3. Reply ACK <number>."
    );
    sms(&mut e, ALICE, "ACK 2", T0 + MIN);
    let (out, ev, b) = take(&mut e);
    assert_eq!(ev, vec!["alert.acknowledged"]);
    assert_eq!(b.alerts[0].id, 2);
    assert!(out[0].1.contains("Overheat"));
    sms(&mut e, ALICE, "ACK 2", T0 + MIN);
    let (out, _, _) = take(&mut e);
    assert_eq!(out[0].1, "Alert 2 was already acknowledged by alice.");
    sms(&mut e, ALICE, "ACK 99", T0 + MIN);
    assert_eq!(take(&mut e).0[0].1, "Alert 99 is not open.");
    // The API can acknowledge too, once.
    assert!(e.ack(1, "api:key_1", T0 + 2 * MIN).is_ok());
    assert!(matches!(
        e.ack(1, "api:key_1", T0 + 2 * MIN),
        Err(IotError::Conflict {
            code: "already_acknowledged",
            ..
        })
    ));
}

#[test]
fn a_wrong_secret_or_format_is_suspicious_and_feeds_no_rule() {
    let mut e = engine_with(hot_rule());
    let mut d = e.device("pump-3").unwrap().device;
    d.secret = Some("s3cr3t".into());
    d.format = Some(Format::Kv);
    e.put_device(d, Put::Replace, T0).unwrap();
    take(&mut e);
    sms(&mut e, PUMP, "T=85", T0);
    let (out, _, b) = take(&mut e);
    assert!(out.is_empty());
    assert_eq!(b.telemetry[0].status, TelemetryStatus::Suspicious);
    assert!(
        b.device_states.is_empty(),
        "not trusted: not even as a heartbeat"
    );
    sms(&mut e, PUMP, "s3cr3t hello", T0);
    let (_, _, b) = take(&mut e);
    assert_eq!(b.telemetry[0].status, TelemetryStatus::Suspicious);
    assert_eq!(b.telemetry[0].text, "hello");
    sms(&mut e, PUMP, "s3cr3t T=85", T0);
    let (out, _, b) = take(&mut e);
    assert_eq!(b.telemetry[0].status, TelemetryStatus::Ok);
    assert_eq!(out.len(), 1);
}

#[test]
fn unparsed_messages_are_kept_and_count_as_a_heartbeat() {
    let mut e = engine_with(hot_rule());
    sms(&mut e, PUMP, "hello from the pump", T0 + MIN);
    let (_, ev, b) = take(&mut e);
    assert_eq!(b.telemetry[0].status, TelemetryStatus::Unparsed);
    assert_eq!(b.telemetry[0].text, "hello from the pump");
    assert_eq!(b.device_states[0].1.last_seen_at, Some(T0 + MIN));
    assert_eq!(ev, vec!["device.telemetry"]);
    // Numbers nobody registered feed nothing.
    sms(&mut e, "+4915199999999", "T=99", T0 + MIN);
    let (out, ev, b) = take(&mut e);
    assert!(out.is_empty() && ev.is_empty() && b.telemetry.is_empty());
    assert!(b.inbound_cursor.is_some(), "but the cursor moves past them");
}

#[test]
fn a_silent_device_raises_an_alert_that_its_next_message_resolves() {
    let mut e = engine_with(json!({"id": "quiet", "name": "Silent", "kind": "silence",
                                   "group": "oncall"}));
    assert_eq!(
        e.next_silence_due(),
        Some(T0 + 60 * MIN),
        "heartbeat counted from registration"
    );
    tick(&mut e, T0 + 60 * MIN);
    let (out, ev, _) = take(&mut e);
    assert_eq!(ev, vec!["alert.raised"]);
    assert!(
        out[0].1.contains("Pump 3 silent since registration"),
        "{}",
        out[0].1
    );
    tick(&mut e, T0 + 61 * MIN);
    let (out, ev, _) = take(&mut e);
    assert!(
        out.is_empty() && !ev.contains(&"alert.raised".to_string()),
        "dedup"
    );
    sms(&mut e, PUMP, "T=20", T0 + 62 * MIN);
    let (_, ev, b) = take(&mut e);
    assert!(ev.contains(&"alert.resolved".to_string()));
    assert_eq!(b.alerts[0].state, AlertState::Resolved);
    assert_eq!(e.next_silence_due(), Some(T0 + 62 * MIN + 60 * MIN));
}

#[test]
fn a_command_follows_its_sms_and_is_acknowledged_by_the_matching_reply() {
    let mut e = engine_with(hot_rule());
    let req = CommandRequest {
        command: "OFF".into(),
        expect: Some("^OK".into()),
        error_pattern: Some("^ERR".into()),
        ..Default::default()
    };
    let cmd = e.send_command("pump-3", req, None, T0).unwrap();
    let (out, ev, _) = take(&mut e);
    assert_eq!(out, vec![(PUMP.into(), "OFF".into())]);
    assert_eq!(ev, vec!["command.pending"]);
    let msg = cmd.message_id.unwrap();
    assert_eq!(e.awaiting_network(), vec![msg]);
    e.handle_message_status(msg, Status::Sending, T0);
    assert!(e.poll_batch().is_none());
    e.handle_message_status(msg, Status::Sent, T0 + 1000);
    let (_, ev, b) = take(&mut e);
    assert_eq!(ev, vec!["command.sent"]);
    assert_eq!(b.commands[0].state, CommandState::Sent);
    // Telemetry that does not match `expect` is telemetry, not the reply.
    sms(&mut e, PUMP, "T=20", T0 + 2000);
    let (_, _, b) = take(&mut e);
    assert_eq!(b.telemetry[0].status, TelemetryStatus::Ok);
    assert!(b.commands.is_empty());
    sms(&mut e, PUMP, "OK pump off", T0 + 3000);
    let (_, ev, b) = take(&mut e);
    assert_eq!(ev, vec!["command.acknowledged", "device.telemetry"]);
    assert_eq!(b.commands[0].reply.as_deref(), Some("OK pump off"));
    assert_eq!(b.telemetry[0].status, TelemetryStatus::Reply);
    assert!(e.awaiting_network().is_empty());
}

#[test]
fn commands_time_out_fail_with_their_sms_and_respect_the_allowed_list() {
    let mut e = engine_with(hot_rule());
    let req = |c: &str| CommandRequest {
        command: c.into(),
        expect: Some("^OK".into()),
        timeout: Some(Duration::from_secs(120)),
        ..Default::default()
    };
    e.send_command("pump-3", req("ON"), None, T0).unwrap();
    let second = e.send_command("pump-3", req("STATUS"), None, T0).unwrap();
    take(&mut e);
    e.handle_message_status(second.message_id.unwrap(), Status::Undelivered, T0 + 1000);
    let (_, ev, b) = take(&mut e);
    assert_eq!(ev, vec!["command.failed"]);
    assert_eq!(
        b.commands[0].error.as_deref(),
        Some("the SMS was undelivered")
    );
    assert_eq!(e.poll_timeout(), Some(T0 + 2 * MIN));
    tick(&mut e, T0 + 2 * MIN);
    let (_, ev, _) = take(&mut e);
    assert_eq!(ev, vec!["command.timed_out"]);
    assert!(matches!(
        e.send_command("pump-3", req("REBOOT"), None, T0),
        Err(IotError::Invalid {
            code: "command_not_allowed",
            ..
        })
    ));
    assert!(matches!(
        e.send_command("nope", req("ON"), None, T0),
        Err(IotError::NotFound(_))
    ));
}

#[test]
fn a_rule_action_sends_a_command_when_the_alert_is_raised() {
    let mut rule = hot_rule();
    rule["action"] = json!({"command": "OFF", "expect": "^OK"});
    let mut e = engine_with(rule);
    sms(&mut e, PUMP, "T=95", T0);
    let (out, ev, b) = take(&mut e);
    assert!(
        out.contains(&(PUMP.to_string(), "OFF".to_string())),
        "{out:?}"
    );
    assert!(ev.contains(&"command.pending".to_string()));
    assert_eq!(b.commands[0].alert_id, Some(1));
}

#[test]
fn an_escalation_due_during_downtime_fires_once_and_the_next_counts_from_now() {
    let mut e = engine_with(hot_rule());
    let mut g = e.groups()[0].clone();
    g.levels
        .push(from_json(json!({"contacts": ["alice"], "delay": "5m"})));
    e.put_group(g, Put::Replace, T0).unwrap();
    sms(&mut e, PUMP, "T=85", T0);
    take(&mut e);
    // Rebuild from what a store would hold, as after a restart three hours later.
    let snap = Snapshot {
        devices: e.devices(),
        contacts: e.contacts(),
        groups: e.groups(),
        rules: e.rules(),
        alerts: e.alerts.values().cloned().collect(),
        max_alert_id: 1,
        ..Snapshot::default()
    };
    let later = T0 + 180 * MIN;
    let mut e = Engine::new(
        EngineConfig::default(),
        IntakeLimits::default(),
        snap,
        later,
    );
    tick(&mut e, later);
    let (out, ev, b) = take(&mut e);
    assert_eq!(ev, vec!["alert.escalated"], "one step, not two");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, BOB);
    assert_eq!(b.alerts[0].next_escalation_at, Some(later + 5 * MIN));
    let m = &b.messages[0];
    assert_eq!(
        m.expires_at,
        Some(later + 60 * MIN),
        "alert SMS carry the alert validity"
    );
}

#[test]
fn status_queries_answer_on_call_people_only() {
    let mut e = engine_with(hot_rule());
    sms(&mut e, PUMP, "T=70C P=1.5bar", T0);
    take(&mut e);
    sms(&mut e, ALICE, "STATUS pump-3", T0 + 5 * MIN);
    let (out, _, _) = take(&mut e);
    assert_eq!(
        out,
        vec![(
            ALICE.into(),
            "Pump 3: P=1.5bar T=70C (5 min ago); last seen 5 min ago; open alerts: 0".into()
        )]
    );
    sms(&mut e, BOB, "status nothing", T0);
    assert_eq!(take(&mut e).0[0].1, "Unknown device 'nothing'.");
    let mut g = e.groups()[0].clone();
    g.allow_status = false;
    e.put_group(g, Put::Replace, T0).unwrap();
    sms(&mut e, ALICE, "STATUS pump-3", T0);
    assert!(take(&mut e).0[0].1.starts_with("STATUS is not enabled"));
}

#[test]
fn the_registry_refuses_what_would_break_it() {
    let mut e = engine_with(hot_rule());
    fn code<T: std::fmt::Debug>(r: Result<T, IotError>) -> &'static str {
        match r {
            Err(IotError::Invalid { code, .. } | IotError::Conflict { code, .. }) => code,
            other => panic!("{other:?}"),
        }
    }
    let rule = |v: serde_json::Value| -> Rule { from_json(v) };
    assert_eq!(
        code(e.put_rule(
            rule(json!({"id": "x", "condition": "T >"})),
            Put::Create,
            T0
        )),
        "invalid_condition"
    );
    assert_eq!(
        code(e.put_rule(
            rule(json!({"id": "x", "condition": "T > 1", "group": "nope"})),
            Put::Create,
            T0
        )),
        "unknown_group"
    );
    assert_eq!(
        code(e.put_rule(
            rule(json!({"id": "x", "condition": "T > 1", "template": "{{"})),
            Put::Create,
            T0
        )),
        "invalid_template"
    );
    assert_eq!(
        code(e.put_rule(rule(hot_rule()), Put::Create, T0)),
        "already_exists"
    );
    let dev: Device = from_json(json!({"id": "other", "number": PUMP}));
    assert_eq!(code(e.put_device(dev, Put::Create, T0)), "number_taken");
    let dev: Device = from_json(json!({"id": "bad id!", "number": "+4915100000009"}));
    assert_eq!(code(e.put_device(dev, Put::Create, T0)), "invalid_id");
    let dev: Device = from_json(json!({"id": "r", "number": "+4915100000009", "format": "regex"}));
    assert_eq!(code(e.put_device(dev, Put::Create, T0)), "invalid_pattern");
    assert_eq!(code(e.delete_contact("alice", T0)), "in_use");
    assert_eq!(code(e.delete_group("oncall", T0)), "in_use");
    e.poll_batch();
    assert!(e.delete_rule("hot", T0).is_ok());
    assert!(e.delete_group("oncall", T0).is_ok());
    assert!(e.delete_contact("alice", T0).is_ok());
    assert!(matches!(
        e.delete_rule("hot", T0),
        Err(IotError::NotFound(_))
    ));
}

const CAROL: &str = "+4915100000009";
const BOLT_PUMP: &str = "+4915100000008";

/// Tenant `bolt` beside the default tenant's pump-3, Alice and Bob: its own contact Carol,
/// group and device.
fn with_bolt(e: &mut Engine) {
    e.put_contact(
        from_json(json!({"id": "carol", "number": CAROL, "tenant": "bolt"})),
        Put::Create,
        T0,
    )
    .unwrap();
    e.put_group(
        from_json(
            json!({"id": "bolt-oncall", "allow_status": true, "tenant": "bolt",
                         "levels": [{"contacts": ["carol"]}]}),
        ),
        Put::Create,
        T0,
    )
    .unwrap();
    e.put_device(
        from_json(json!({"id": "bolt-pump", "number": BOLT_PUMP, "tenant": "bolt"})),
        Put::Create,
        T0,
    )
    .unwrap();
    take(e);
}

#[test]
fn another_tenants_rule_neither_names_nor_matches_nor_commands_a_device() {
    let mut e = engine_with(hot_rule());
    with_bolt(&mut e);
    let named = e.put_rule(
        from_json(
            json!({"id": "spy", "condition": "T > 0", "device": "pump-3",
                         "group": "bolt-oncall", "tenant": "bolt"}),
        ),
        Put::Create,
        T0,
    );
    assert!(
        matches!(
            named,
            Err(IotError::Invalid {
                code: "unknown_device",
                ..
            })
        ),
        "{named:?}"
    );
    // A bolt rule over every device, with an action: it sees bolt's devices only.
    e.put_rule(
        from_json(
            json!({"id": "spy", "condition": "T > 0", "group": "bolt-oncall",
                         "tenant": "bolt", "action": {"command": "OFF"}}),
        ),
        Put::Create,
        T0,
    )
    .unwrap();
    sms(&mut e, PUMP, "T=85", T0 + MIN);
    let (out, _, b) = take(&mut e);
    assert!(
        out.iter().all(|(to, _)| to != CAROL && to != PUMP),
        "bolt's rule neither told Carol about pump-3 nor sent it OFF: {out:?}"
    );
    assert!(
        b.alerts.iter().all(|a| a.rule_id == "hot"),
        "{:?}",
        b.alerts
    );
    sms(&mut e, BOLT_PUMP, "T=85", T0 + 2 * MIN);
    let (out, _, _) = take(&mut e);
    assert!(out.iter().any(|(to, _)| to == CAROL), "{out:?}");
    assert!(
        out.iter().any(|(to, t)| to == BOLT_PUMP && t == "OFF"),
        "{out:?}"
    );
    assert!(
        out.iter().all(|(to, _)| to != ALICE),
        "default's rule ignores bolt's device"
    );
}

#[test]
fn a_group_or_rule_names_contacts_of_its_own_tenant_only() {
    let mut e = engine_with(hot_rule());
    with_bolt(&mut e);
    let g = e.put_group(
        from_json(json!({"id": "steal", "tenant": "bolt",
                         "levels": [{"contacts": ["alice"]}]})),
        Put::Create,
        T0,
    );
    assert!(
        matches!(
            g,
            Err(IotError::Invalid {
                code: "unknown_contact",
                ..
            })
        ),
        "{g:?}"
    );
    let r = e.put_rule(
        from_json(
            json!({"id": "steal", "condition": "T > 0", "group": "oncall",
                         "tenant": "bolt"}),
        ),
        Put::Create,
        T0,
    );
    assert!(
        matches!(
            r,
            Err(IotError::Invalid {
                code: "unknown_group",
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn status_answers_only_about_devices_the_askers_groups_cover() {
    let mut e = engine_with(hot_rule());
    with_bolt(&mut e);
    sms(&mut e, BOLT_PUMP, "T=20", T0);
    take(&mut e);
    sms(&mut e, ALICE, "STATUS bolt-pump", T0 + MIN);
    assert_eq!(take(&mut e).0[0].1, "Unknown device 'bolt-pump'.");
    // Carol's group has no rule yet: no device is hers to ask about.
    sms(&mut e, CAROL, "STATUS bolt-pump", T0 + MIN);
    assert_eq!(take(&mut e).0[0].1, "Unknown device 'bolt-pump'.");
    e.put_rule(
        from_json(
            json!({"id": "bolt-hot", "condition": "T > 80", "group": "bolt-oncall",
                         "tenant": "bolt"}),
        ),
        Put::Create,
        T0,
    )
    .unwrap();
    sms(&mut e, CAROL, "STATUS bolt-pump", T0 + MIN);
    assert!(take(&mut e).0[0].1.starts_with("bolt-pump: T=20"));
    sms(&mut e, CAROL, "STATUS pump-3", T0 + MIN);
    assert_eq!(take(&mut e).0[0].1, "Unknown device 'pump-3'.");
}

#[test]
fn a_contact_with_a_pin_acknowledges_only_with_it() {
    let mut e = engine_with(hot_rule());
    let mut alice = e.contacts().into_iter().find(|c| c.id == "alice").unwrap();
    alice.pin = Some("7391".into());
    e.put_contact(alice, Put::Replace, T0).unwrap();
    sms(&mut e, PUMP, "T=85", T0 + MIN);
    take(&mut e);
    for text in ["ACK", "ACK 1", "ACK 1 0000"] {
        sms(&mut e, ALICE, text, T0 + 2 * MIN);
        let (out, _, _) = take(&mut e);
        assert!(out[0].1.contains("<your PIN>"), "{text}: {out:?}");
        assert_eq!(
            e.alerts[&1].state,
            AlertState::Open,
            "{text} did not acknowledge"
        );
    }
    sms(&mut e, ALICE, "ACK 1 7391", T0 + 3 * MIN);
    let (out, _, _) = take(&mut e);
    assert_eq!(out[0].1, "Acknowledged: 1 Overheat Pump 3.");
    assert_eq!(e.alerts[&1].state, AlertState::Acknowledged);
    // Bob has no PIN: his plain ACK works as before (tested above); the PIN is never shown.
    let alice = e.contacts().into_iter().find(|c| c.id == "alice").unwrap();
    let view = serde_json::to_value(crate::view::ContactView::from(&alice)).unwrap();
    assert_eq!(view["has_pin"], true);
    assert!(!view.to_string().contains("7391"), "{view}");
}

#[test]
fn a_device_that_keeps_inventing_reading_names_keeps_at_most_the_bound() {
    let mut e = engine_with(hot_rule());
    for round in 0..3 {
        let text: Vec<String> = (0..crate::telemetry::MAX_READINGS)
            .map(|i| format!("r{round}x{i}=1"))
            .collect();
        sms(&mut e, PUMP, &text.join(" "), T0 + round * MIN);
        take(&mut e);
        let n = e.device("pump-3").unwrap().state.readings.len();
        assert!(
            n <= crate::telemetry::MAX_READINGS,
            "round {round}: {n} readings"
        );
    }
    let too_many: Vec<String> = (0..65).map(|i| format!("k{i}=1")).collect();
    sms(&mut e, PUMP, &too_many.join(" "), T0 + 10 * MIN);
    let (_, _, b) = take(&mut e);
    assert_eq!(
        b.telemetry[0].status,
        TelemetryStatus::Unparsed,
        "65 readings are not read"
    );
}

#[test]
fn an_opted_out_contact_is_skipped_and_the_alert_says_so() {
    let mut e = engine_with(hot_rule());
    let optouts = smsgate_core::compliance::OptOuts::new(&[smsgate_core::store::OptOut {
        tenant: "default".into(),
        number: ALICE.into(),
        sender: String::new(),
        source: "keyword".into(),
        created_at: 0,
    }]);
    e.set_optouts(optouts);
    sms(&mut e, PUMP, "T=85", T0 + MIN);
    let (out, _, b) = take(&mut e);
    assert!(out.iter().all(|(to, _)| to != ALICE), "{out:?}");
    assert_eq!(b.alerts[0].skipped, vec!["alice"]);
    assert!(b.alerts[0].notified.is_empty());
    // Escalation goes on to Bob as usual.
    tick(&mut e, T0 + 6 * MIN);
    let (out, _, _) = take(&mut e);
    assert_eq!(out[0].0, BOB);
}

#[test]
fn binary_and_hex_commands_are_queued_as_8_bit_data() {
    let mut e = engine_with(hot_rule());
    // A tracker that takes any command (no allow-list).
    e.put_device(
        from_json(json!({"id": "tracker", "number": "+4915199990000"})),
        Put::Create,
        T0,
    )
    .unwrap();
    e.poll_batch();
    let req = |command: &str, encoding| CommandRequest {
        command: command.into(),
        encoding,
        ..Default::default()
    };
    e.send_command(
        "pump-3",
        req("OFF", crate::model::CommandEncoding::Binary),
        None,
        T0,
    )
    .unwrap();
    e.send_command(
        "tracker",
        req("0a 1B ff", crate::model::CommandEncoding::Hex),
        None,
        T0,
    )
    .unwrap();
    let batch = e.poll_batch().unwrap();
    let sent: Vec<(&str, Option<u8>)> = batch
        .messages
        .iter()
        .map(|m| (m.text.as_str(), m.binary.as_ref().map(|b| b.data_coding)))
        .collect();
    assert_eq!(sent, vec![("4f4646", Some(4)), ("0a1bff", Some(4))]);
    assert!(batch.messages.iter().all(|m| m.encoding == "binary"));
    let bad = e.send_command(
        "tracker",
        req("xyz", crate::model::CommandEncoding::Hex),
        None,
        T0,
    );
    assert!(bad.is_err(), "not hex: refused");
}
