//! The IoT tables on SQLite: engine batches commit whole (or not at all) and load back as the
//! snapshot a restarted engine starts from.

use serde_json::json;
use smsgate_core::connector::InboundSms;
use smsgate_core::intake::IntakeLimits;
use smsgate_core::store::MessageQuery;
use smsgate_iot::engine::{Batch, Engine, EngineConfig, Put, Snapshot};
use smsgate_iot::model::{AlertState, TelemetryStatus};
use smsgate_iot::store::{AlertQuery, CommandQuery, IotStore, TelemetryQuery};
use smsgate_store::Backend;
use smsgate_testkit::store::backend;

const T0: i64 = 1_767_225_600_000;

fn inbound(from: &str, text: &str) -> InboundSms {
    InboundSms {
        connector: "sim".into(),
        from: from.into(),
        to: "+10000000000".into(),
        text: text.into(),
        incomplete: false,
        binary: None,
    }
}

async fn engine(iot: &dyn IotStore) -> Engine {
    let snap = iot.load_iot().await.unwrap();
    Engine::new(EngineConfig::default(), IntakeLimits::default(), snap, T0)
}

async fn setup(b: &Backend) {
    let mut e = engine(&*b.iot).await;
    let v = |x| serde_json::from_value(x).unwrap();
    e.put_contact(
        v(json!({"id": "alice", "number": "+4915100000001"})),
        Put::Create,
        T0,
    )
    .unwrap();
    e.put_group(
        serde_json::from_value(json!({"id": "oncall", "levels": [{"contacts": ["alice"]}]}))
            .unwrap(),
        Put::Create,
        T0,
    )
    .unwrap();
    e.put_device(
        serde_json::from_value(json!({"id": "pump-3", "number": "+4915100000003"})).unwrap(),
        Put::Create,
        T0,
    )
    .unwrap();
    e.put_rule(
        serde_json::from_value(
            json!({"id": "hot", "condition": "T > 80", "group": "oncall", "action": {"command": "OFF"}}),
        )
        .unwrap(),
        Put::Create,
        T0,
    )
    .unwrap();
    b.iot.commit_iot(e.poll_batch().unwrap()).await.unwrap();
}

async fn engine_batches_commit_whole_and_load_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir).await;
    setup(&b).await;
    b.store
        .insert_inbound(
            vec![
                inbound("+4915100000003", "T=85C"),
                inbound("+4915199999999", "hi"),
            ],
            T0 + 1000,
        )
        .await
        .unwrap();
    let mut e = engine(&*b.iot).await;
    let msgs = b.store.inbound_after(e.inbound_cursor(), 10).await.unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].text, "T=85C", "oldest first");
    for m in &msgs {
        e.handle_inbound(m, T0 + 2000);
    }
    b.iot.commit_iot(e.poll_batch().unwrap()).await.unwrap();

    // What a restarted engine sees.
    let snap = b.iot.load_iot().await.unwrap();
    assert_eq!(snap.inbound_cursor, Some(msgs[1].id));
    assert!(
        b.store
            .inbound_after(snap.inbound_cursor, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!((snap.max_alert_id, snap.max_command_id), (1, 1));
    assert_eq!(snap.alerts.len(), 1);
    assert_eq!(snap.alerts[0].state, AlertState::Open);
    assert_eq!(
        snap.commands.len(),
        1,
        "the rule action's command is outstanding"
    );
    assert_eq!(snap.devices[0].state.last_seen_at, Some(T0 + 1000));
    assert_eq!(
        snap.devices[0].state.readings["T"].unit.as_deref(),
        Some("C")
    );
    assert_eq!(snap.contacts.len(), 1);
    assert_eq!(snap.rules[0].id, "hot");

    // The alert SMS and the command went into the message queue like any other message.
    let queued = b
        .store
        .list_messages(&MessageQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut to: Vec<&str> = queued.iter().map(|m| m.to.as_str()).collect();
    to.sort();
    assert_eq!(to, vec!["+4915100000001", "+4915100000003"]);
    // And the webhook outbox has the events.
    let events: Vec<String> = b
        .store
        .outbox_after(0, 100, None)
        .await
        .unwrap()
        .events
        .into_iter()
        .map(|e| e.event)
        .collect();
    for name in [
        "alert.raised",
        "command.pending",
        "device.telemetry",
        "message.inbound",
    ] {
        assert!(
            events.iter().any(|e| e == name),
            "{name} missing from {events:?}"
        );
    }
    let t = b
        .iot
        .telemetry(&TelemetryQuery {
            device_id: "pump-3".into(),
            before: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].status, TelemetryStatus::Ok);
    let alerts = b
        .iot
        .alerts(&AlertQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(alerts[0].id, 1);
    assert_eq!(b.iot.alert(1).await.unwrap().unwrap().rule_id, "hot");
    assert!(b.iot.alert(2).await.unwrap().is_none());
    let cmds = b
        .iot
        .commands(&CommandQuery {
            device_id: Some("pump-3".into()),
            before: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(cmds[0].command, "OFF");
    assert_eq!(
        b.iot.command(cmds[0].id).await.unwrap().unwrap().id,
        cmds[0].id
    );

    // A restarted engine keeps counting and does not raise the open alert again.
    let mut e = Engine::new(
        EngineConfig::default(),
        IntakeLimits::default(),
        snap,
        T0 + 3000,
    );
    b.store
        .insert_inbound(vec![inbound("+4915100000003", "T=90")], T0 + 3000)
        .await
        .unwrap();
    for m in b.store.inbound_after(e.inbound_cursor(), 10).await.unwrap() {
        e.handle_inbound(&m, T0 + 3000);
    }
    let batch = e.poll_batch().unwrap();
    assert!(batch.alerts.is_empty(), "deduplicated across the restart");
    b.iot.commit_iot(batch).await.unwrap();
}

async fn a_batch_that_fails_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir).await;
    setup(&b).await;
    b.store
        .insert_inbound(vec![inbound("+4915100000003", "T=85")], T0)
        .await
        .unwrap();
    let mut e = engine(&*b.iot).await;
    for m in b.store.inbound_after(None, 10).await.unwrap() {
        e.handle_inbound(&m, T0);
    }
    let batch = e.poll_batch().unwrap();
    // A second unresolved alert for the same rule and device breaks the dedup index.
    let mut bad = batch.clone();
    let mut twin = bad.alerts[0].clone();
    twin.id = 99;
    bad.alerts.push(twin);
    assert!(b.iot.commit_iot(bad).await.is_err());
    let snap = b.iot.load_iot().await.unwrap();
    assert!(snap.alerts.is_empty());
    assert!(snap.inbound_cursor.is_none(), "the SMS will be taken again");
    assert!(
        b.store
            .list_messages(&MessageQuery {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        b.iot
            .telemetry(&TelemetryQuery {
                device_id: "pump-3".into(),
                before: None,
                limit: 10
            })
            .await
            .unwrap()
            .is_empty()
    );
    b.iot.commit_iot(batch).await.unwrap();
    assert_eq!(b.iot.load_iot().await.unwrap().alerts.len(), 1);
}

async fn old_telemetry_is_pruned_and_deleted_entries_stay_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir).await;
    setup(&b).await;
    b.store
        .insert_inbound(vec![inbound("+4915100000003", "T=20")], T0)
        .await
        .unwrap();
    let mut e = engine(&*b.iot).await;
    for m in b.store.inbound_after(None, 10).await.unwrap() {
        e.handle_inbound(&m, T0);
    }
    b.iot.commit_iot(e.poll_batch().unwrap()).await.unwrap();
    let q = TelemetryQuery {
        device_id: "pump-3".into(),
        before: None,
        limit: 10,
    };
    assert_eq!(b.iot.telemetry(&q).await.unwrap().len(), 1);
    b.iot
        .commit_iot(Batch {
            now: T0,
            prune_telemetry_before: Some(T0 + 1),
            ..Batch::default()
        })
        .await
        .unwrap();
    assert!(b.iot.telemetry(&q).await.unwrap().is_empty());
    e.delete_rule("hot", T0).unwrap();
    e.delete_device("pump-3", T0).unwrap();
    b.iot.commit_iot(e.poll_batch().unwrap()).await.unwrap();
    let snap: Snapshot = b.iot.load_iot().await.unwrap();
    assert!(snap.devices.is_empty() && snap.rules.is_empty());
    assert_eq!(snap.groups.len(), 1);
}

smsgate_testkit::both_backends!(
    engine_batches_commit_whole_and_load_back_after_a_restart,
    a_batch_that_fails_leaves_nothing_behind,
    old_telemetry_is_pruned_and_deleted_entries_stay_deleted,
);
