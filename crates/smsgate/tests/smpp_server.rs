//! The `[smpp_server]` inside a real gateway (HTTP and SMPP on port 0, SQLite in a temp dir,
//! the simulated network delivering after 100 ms), driven by our own ESME client: binds and
//! their errors, GSM / Latin-1 / UCS-2 submits stored before their response, long messages by
//! UDH (8- and 16-bit references), SAR and `message_payload` assembled into one message,
//! receipts per submitted id, `query_sm` and `cancel_sm`, the queue bound, receipts kept while the client is away, inbound SMS routed by
//! prefix, window and `max_tps`, a connection dropped mid-window, and parts that survive a
//! restart; the TLS listener (same accounts, mutual TLS, plain SMPP refused on it). Then the
//! same server against third-party clients (npm `smpp`, PyPI `smpplib`; run
//! with `SMSGATE_INTEROP=1`): GSM, UCS-2 and long messages with every receipt, wrong
//! credentials, a receipt kept while the client was unbound, a connection dropped
//! mid-window, and both clients over TLS.

mod common;

use std::time::Duration;

use common::TestGateway;
use common::interop::{self, Peer};
use rusmpp::pdus::{CancelSm, DataSm, QuerySm, SubmitSm};
use rusmpp::tlvs::MessageSubmissionRequestTlvValue as Stlv;
use rusmpp::types::{AnyOctetString, COctetString, EmptyOrFullCOctetString, OctetString};
use rusmpp::values::{DataCoding, EsmClass, MessagePayload, MessageState, RegisteredDelivery, Ton};
use serde_json::{Value, json};
use smsgate::gateway::Gateway;
use smsgate_core::message::Status;
use smsgate_core::store::MessageQuery;
use smsgate_smpp::client::{
    self, BindError, Client, ClientConfig, ClientEvent, Events, SubmitError,
};
use smsgate_smpp::pdu::{CommandStatus, Pdu};
use smsgate_smpp::receipt::ReceiptState;
use smsgate_smpp::session::{BindParams, BindType};
use smsgate_smpp_server::SmppServerConfig;
use smsgate_sms::Shift;

/// `[smpp_server]` on port 0 with `extra` keys over two accounts: `app1` (inbound `+4930`)
/// and `app2`.
fn server_config(extra: Value) -> SmppServerConfig {
    let mut v = json!({
        "listen": "127.0.0.1:0",
        "poll_interval": "50ms",
        "accounts": [
            {"system_id": "app1", "password": "secret1", "inbound": ["+4930"]},
            {"system_id": "app2", "password": "secret2"},
        ],
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    serde_json::from_value(v).unwrap()
}

async fn gateway(extra: Value) -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let mut c = common::config(dir.path(), json!({"delivery_delay": "100ms"}));
    c.smpp_server = Some(server_config(extra));
    TestGateway::start_with(c, dir).await
}

async fn bind_as(
    gw: &Gateway,
    bind: BindType,
    system_id: &str,
    password: &str,
) -> Result<(Client, Events), BindError> {
    let addr = gw.smpp_addr.expect("smpp server configured");
    client::connect(
        addr,
        ClientConfig::new(BindParams::new(bind, system_id, password)),
    )
    .await
}

async fn bind(gw: &Gateway, bind: BindType) -> (Client, Events) {
    bind_as(gw, bind, "app1", "secret1").await.unwrap()
}

fn cs<const N: usize>(s: &str) -> COctetString<1, N> {
    COctetString::from_vec([s.as_bytes(), &[0]].concat()).unwrap()
}

fn sm(to: &str, coding: u8, esm: u8, body: &[u8], tlvs: Vec<Stlv>) -> SubmitSm {
    SubmitSm::builder()
        .source_addr_ton(Ton::Alphanumeric)
        .source_addr(cs("ACME"))
        .dest_addr_ton(Ton::International)
        .destination_addr(cs(to))
        .esm_class(EsmClass::from(esm))
        .registered_delivery(RegisteredDelivery::from(1))
        .data_coding(DataCoding::from(coding))
        .short_message(OctetString::from_vec(body.to_vec()).unwrap())
        .tlvs(tlvs)
        .build()
}

fn gsm(text: &str) -> Vec<u8> {
    smsgate_sms::gsm7::encode(text, Shift::DEFAULT).unwrap()
}

async fn submit(c: &Client, s: SubmitSm) -> Result<String, SubmitError> {
    c.submit(s)
        .await
        .map(|r| r.message_id().as_str().to_owned())
}

/// A receipt as the client saw it.
#[derive(Debug)]
struct Seen {
    id: String,
    state: ReceiptState,
    text: String,
}

/// Collects `n` receipts (acknowledging each; inbound SMS are acknowledged and returned apart).
async fn receipts(events: &mut Events, n: usize) -> (Vec<Seen>, Vec<String>) {
    let (mut seen, mut mo) = (Vec::new(), Vec::new());
    while seen.len() < n {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} receipts: {seen:?}", seen.len()))
            .expect("session open");
        if let ClientEvent::Inbound(inbound) = event {
            match inbound.receipt() {
                Some(r) => seen.push(Seen {
                    id: r.message_id.clone(),
                    state: r.state.clone(),
                    text: String::from_utf8_lossy(
                        inbound.deliver_sm().unwrap().short_message().as_ref(),
                    )
                    .into_owned(),
                }),
                None => {
                    let d = inbound.deliver_sm().unwrap();
                    mo.push(
                        smsgate_sms::UserData::from_smpp(
                            u8::from(d.data_coding),
                            u8::from(d.esm_class) & 0x40 != 0,
                            d.short_message().as_ref(),
                            false,
                        )
                        .unwrap()
                        .text()
                        .unwrap(),
                    );
                }
            }
            inbound.ack();
        }
    }
    (seen, mo)
}

/// Fails if a `deliver_sm` arrives within `ms`.
async fn assert_quiet(events: &mut Events, ms: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        if let ClientEvent::Inbound(i) = event {
            panic!("unexpected deliver_sm {:?}", i.pdu());
        }
    }
}

async fn messages_of(gw: &Gateway, owner: &str) -> Vec<smsgate_core::message::Message> {
    gw.store
        .list_messages(&MessageQuery {
            api_key_id: Some(owner.into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn wrong_credentials_get_the_bind_error_and_nothing_else() {
    let t = gateway(json!({})).await;
    let e = bind_as(&t.gw, BindType::Transceiver, "nobody", "secret1")
        .await
        .unwrap_err();
    assert_eq!(e, BindError::Rejected(CommandStatus::EsmeRinvsysid));
    let e = bind_as(&t.gw, BindType::Transceiver, "app1", "secret2")
        .await
        .unwrap_err();
    assert_eq!(e, BindError::Rejected(CommandStatus::EsmeRinvpaswd));
    // The right credentials still bind afterwards.
    let (c, _events) = bind(&t.gw, BindType::Transmitter).await;
    assert_eq!(c.bind_info().peer_system_id, "smsgate");
    c.unbind().await;
    t.gw.shutdown().await;
}

#[tokio::test]
async fn gsm_latin1_and_ucs2_submits_are_stored_before_the_response_and_receipts_come_back() {
    let t = gateway(json!({})).await;
    let (c, mut events) = bind(&t.gw, BindType::Transceiver).await;
    let texts = [
        (0u8, gsm("Pump 3 @ 5 bar £ {ok}"), "Pump 3 @ 5 bar £ {ok}"),
        (3, b"Gr\xfc\xdfe".to_vec(), "Grüße"),
        (
            8,
            smsgate_sms::charsets::encode_ucs2("Привет 🔥"),
            "Привет 🔥",
        ),
    ];
    let mut ids = Vec::new();
    for (i, (coding, body, text)) in texts.iter().enumerate() {
        let id = submit(
            &c,
            sm(&format!("491511234567{i}"), *coding, 0, body, vec![]),
        )
        .await
        .unwrap();
        // Durable before the response: the message is there the moment the id is known.
        let (status, m) = t.call("GET", &format!("/v1/messages/{id}"), None).await;
        assert_eq!(status, 200, "{m}");
        assert_eq!(m["text"], *text);
        ids.push(id);
    }
    let (_, m) = t
        .call("GET", &format!("/v1/messages/{}", ids[2]), None)
        .await;
    assert_eq!(m["encoding"], "ucs2");
    assert_eq!(m["from"], "ACME");
    let (seen, _) = receipts(&mut events, 3).await;
    for id in &ids {
        let r = seen.iter().find(|r| &r.id == id).expect("a receipt per id");
        assert_eq!(r.state, ReceiptState::Delivered);
        assert!(
            r.text
                .starts_with(&format!("id:{id} sub:001 dlvrd:001 submit date:")),
            "{}",
            r.text
        );
        assert!(r.text.contains(" stat:DELIVRD err:000 text:"), "{}", r.text);
    }
    let mine = messages_of(&t.gw, "smpp:app1").await;
    assert_eq!(mine.len(), 3);
    assert!(mine.iter().all(|m| m.status == Status::Delivered));
    c.unbind().await;
    t.gw.shutdown().await;
}

#[tokio::test]
async fn bad_submits_get_smpp_errors_and_registered_delivery_zero_gets_no_receipt() {
    let t = gateway(json!({})).await;
    let (c, mut events) = bind(&t.gw, BindType::Transceiver).await;
    let status = |e: SubmitError| match e {
        SubmitError::Permanent(s) | SubmitError::Temporary(s) | SubmitError::Throttled(s) => s,
        other => panic!("{other:?}"),
    };
    let e = submit(&c, sm("12", 0, 0, &gsm("x"), vec![]))
        .await
        .unwrap_err();
    assert_eq!(status(e), CommandStatus::EsmeRinvdstadr);
    let e = submit(&c, sm("4915112345678", 0x05, 0, b"x", vec![]))
        .await
        .unwrap_err();
    assert_eq!(status(e), CommandStatus::EsmeRinvdcs);
    let e = submit(&c, sm("4915112345678", 0, 0, b"", vec![]))
        .await
        .unwrap_err();
    assert_eq!(status(e), CommandStatus::EsmeRinvmsglen);
    let mut quiet = sm("4915112345678", 0, 0, &gsm("no receipt please"), vec![]);
    quiet.registered_delivery = RegisteredDelivery::from(0);
    let quiet_id = submit(&c, quiet).await.unwrap();
    let loud = submit(
        &c,
        sm("4915112345679", 0, 0, &gsm("receipt please"), vec![]),
    )
    .await
    .unwrap();
    let (seen, _) = receipts(&mut events, 1).await;
    assert_eq!(seen[0].id, loud);
    t.wait_status(&quiet_id, "delivered").await;
    // Nothing else comes: the quiet message's receipt was never asked for.
    assert_quiet(&mut events, 500).await;
    assert_eq!(messages_of(&t.gw, "smpp:app1").await.len(), 2);
    c.unbind().await;
    t.gw.shutdown().await;
}

#[tokio::test]
async fn long_messages_by_udh_sar_and_message_payload_become_one_message_each() {
    let t = gateway(json!({})).await;
    let (c, mut events) = bind(&t.gw, BindType::Transceiver).await;
    let a = "A".repeat(153);
    let b = "B".repeat(40);
    // UDH with an 8-bit reference, parts sent one at a time (window 1 behaviour).
    let mut part_ids = Vec::new();
    for (seq, text) in [(1u8, &a), (2, &b)] {
        let mut body = vec![5, 0, 3, 0x42, 2, seq];
        body.extend(gsm(text));
        part_ids.push(
            submit(&c, sm("4915112345670", 0, 0x40, &body, vec![]))
                .await
                .unwrap(),
        );
    }
    // UDH with a 16-bit reference, UCS-2, parts in reverse order.
    let u1 = "Ж".repeat(66);
    let u2 = "ок";
    for (seq, text) in [(2u8, u2), (1, u1.as_str())] {
        let mut body = vec![6, 8, 4, 0x12, 0x34, 2, seq];
        body.extend(smsgate_sms::charsets::encode_ucs2(text));
        part_ids.push(
            submit(&c, sm("4915112345671", 8, 0x40, &body, vec![]))
                .await
                .unwrap(),
        );
    }
    // SAR TLVs, three parts.
    for seq in 1..=3u8 {
        let tlvs = vec![
            Stlv::SarMsgRefNum(0x0777),
            Stlv::SarTotalSegments(3),
            Stlv::SarSegmentSeqnum(seq),
        ];
        part_ids.push(
            submit(
                &c,
                sm("4915112345672", 0, 0, &gsm(&format!("part{seq} ")), tlvs),
            )
            .await
            .unwrap(),
        );
    }
    // message_payload: one submit, one id, a 400-character text.
    let long = "p".repeat(400);
    let payload = Stlv::MessagePayload(MessagePayload::new(AnyOctetString::from_vec(gsm(&long))));
    let payload_id = submit(&c, sm("4915112345673", 0, 0, b"", vec![payload]))
        .await
        .unwrap();
    let mut all_ids = part_ids.clone();
    all_ids.push(payload_id.clone());
    let unique: std::collections::HashSet<_> = all_ids.iter().collect();
    assert_eq!(unique.len(), 8, "every submit_sm_resp carries its own id");

    let (seen, _) = receipts(&mut events, 8).await;
    for id in &all_ids {
        let r = seen
            .iter()
            .find(|r| &r.id == id)
            .expect("a receipt per submitted id");
        assert_eq!(r.state, ReceiptState::Delivered);
    }
    let mine = messages_of(&t.gw, "smpp:app1").await;
    assert_eq!(mine.len(), 4, "one gateway message per long message");
    let by_to = |n: &str| mine.iter().find(|m| m.to == n).unwrap();
    assert_eq!(by_to("+4915112345670").text, format!("{a}{b}"));
    assert_eq!(by_to("+4915112345670").segments, 2);
    assert_eq!(by_to("+4915112345671").text, format!("{u1}{u2}"));
    assert_eq!(by_to("+4915112345671").encoding, "ucs2");
    assert_eq!(by_to("+4915112345672").text, "part1 part2 part3 ");
    assert_eq!(by_to("+4915112345673").text, long);
    assert_eq!(by_to("+4915112345673").id.to_string(), payload_id);
    assert!(mine.iter().all(|m| m.status == Status::Delivered));
    c.unbind().await;
    t.gw.shutdown().await;
}

#[tokio::test]
async fn receipts_wait_while_the_client_is_away_and_arrive_when_it_binds_again() {
    let t = gateway(json!({})).await;
    let (tx, _events) = bind(&t.gw, BindType::Transmitter).await;
    let id = submit(
        &tx,
        sm("4915112345678", 0, 0, &gsm("while you were out"), vec![]),
    )
    .await
    .unwrap();
    tx.unbind().await;
    t.wait_status(&id, "delivered").await;
    // A receipt for another account never reaches this one.
    let (other, _e) = bind_as(&t.gw, BindType::Transmitter, "app2", "secret2")
        .await
        .unwrap();
    let other_id = submit(&other, sm("4915112345679", 0, 0, &gsm("not yours"), vec![]))
        .await
        .unwrap();
    t.wait_status(&other_id, "delivered").await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (rx, mut events) = bind(&t.gw, BindType::Receiver).await;
    let (seen, _) = receipts(&mut events, 1).await;
    assert_eq!(seen[0].id, id);
    assert!(
        seen[0].text.contains("text:while you were out"),
        "{}",
        seen[0].text
    );
    assert_quiet(&mut events, 400).await;
    rx.unbind().await;
    other.unbind().await;
    t.gw.shutdown().await;
}

#[tokio::test]
async fn inbound_sms_go_to_the_receivers_of_the_account_owning_the_number() {
    let t = gateway(json!({})).await;
    let (rx1, mut ev1) = bind(&t.gw, BindType::Receiver).await;
    let (rx2, mut ev2) = bind_as(&t.gw, BindType::Receiver, "app2", "secret2")
        .await
        .unwrap();
    let long = "Füllstand Tank 4: 87 %. ".repeat(10);
    for (to, text) in [
        ("+4930123456", "Hallo"),
        ("+4930999", long.as_str()),
        ("+4940111", "elsewhere"),
    ] {
        let (s, v) = t
            .call(
                "POST",
                "/v1/sim/inbound",
                Some(json!({"from": "+4915199999999", "to": to, "text": text})),
            )
            .await;
        assert_eq!(s, 202, "{v}");
    }
    let mut got = Vec::new();
    while got.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(10), ev1.recv())
            .await
            .expect("inbound for app1")
            .unwrap();
        if let ClientEvent::Inbound(i) = event {
            let d = i.deliver_sm().unwrap();
            assert_eq!(d.source_addr.as_str(), "4915199999999");
            let udhi = u8::from(d.esm_class) & 0x40 != 0;
            let ud = smsgate_sms::UserData::from_smpp(
                u8::from(d.data_coding),
                udhi,
                d.short_message().as_ref(),
                false,
            )
            .unwrap();
            got.push((
                d.destination_addr.as_str().to_owned(),
                ud.text().unwrap(),
                ud.concat(),
            ));
            i.ack();
        }
    }
    assert_eq!(got[0].0, "4930123456");
    assert_eq!(got[0].1, "Hallo");
    let mut parts: Vec<_> = got[1..].to_vec();
    parts.sort_by_key(|p| p.2.map(|c| c.sequence));
    assert!(parts.iter().all(|p| p.0 == "4930999" && p.2.is_some()));
    assert_eq!(format!("{}{}", parts[0].1, parts[1].1), long);
    // app2 owns no number; +4940111 belongs to nobody.
    assert_quiet(&mut ev2, 400).await;
    assert_quiet(&mut ev1, 200).await;
    rx1.unbind().await;
    rx2.unbind().await;
    t.gw.shutdown().await;
}

#[tokio::test]
async fn the_account_window_and_max_tps_answer_throttled() {
    let t = gateway(json!({
        "accounts": [
            {"system_id": "slow", "password": "pw", "max_tps": 2},
            {"system_id": "narrow", "password": "pw", "window": 1},
        ],
    }))
    .await;
    for (account, expect_ok) in [("slow", Some(2)), ("narrow", None)] {
        let (c, _events) = bind_as(&t.gw, BindType::Transmitter, account, "pw")
            .await
            .unwrap();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..6 {
            let c = c.clone();
            set.spawn(async move {
                submit(
                    &c,
                    sm(&format!("49151123456{i:02}"), 0, 0, &gsm("burst"), vec![]),
                )
                .await
            });
        }
        let (mut ok, mut throttled) = (0, 0);
        while let Some(r) = set.join_next().await {
            match r.unwrap() {
                Ok(_) => ok += 1,
                Err(SubmitError::Throttled(CommandStatus::EsmeRthrottled)) => throttled += 1,
                Err(e) => panic!("{account}: {e:?}"),
            }
        }
        assert_eq!(ok + throttled, 6);
        assert!(throttled >= 1, "{account}: nothing throttled");
        if let Some(n) = expect_ok {
            // A burst of 2; a third only if the machine took half a second to admit six.
            assert!(
                (n..=n + 1).contains(&ok),
                "{account}: max_tps 2 admitted {ok}"
            );
        } else {
            assert!(ok >= 1, "{account}: the window admits one at a time");
        }
        assert_eq!(
            messages_of(&t.gw, &format!("smpp:{account}")).await.len(),
            ok
        );
        c.unbind().await;
    }
    t.gw.shutdown().await;
}

#[tokio::test]
async fn a_full_queue_answers_msgqful_like_the_api_answers_429() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = common::config(dir.path(), json!({"delivery_delay": "100ms"}));
    c.smpp_server = Some(server_config(json!({})));
    c.limits.max_queued = 2;
    let t = TestGateway::start_with(c, dir).await;
    let (client, _events) = bind(&t.gw, BindType::Transmitter).await;
    // Scheduled an hour ahead (relative SMPP time), so they stay in the queue.
    let later = |i: u8| {
        let mut s = sm(&format!("4915112345{i:03}"), 0, 0, &gsm("later"), vec![]);
        s.schedule_delivery_time =
            EmptyOrFullCOctetString::from_vec(b"000000010000000R\0".to_vec()).unwrap();
        s
    };
    submit(&client, later(1)).await.unwrap();
    submit(&client, later(2)).await.unwrap();
    let e = submit(&client, later(3)).await.unwrap_err();
    assert_eq!(e, SubmitError::Throttled(CommandStatus::EsmeRmsgqful));
    let (s, v) = t
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "x"})),
        )
        .await;
    assert_eq!(s, 429, "one bound over both channels: {v}");
    assert_eq!(messages_of(&t.gw, "smpp:app1").await.len(), 2);
    client.unbind().await;
    t.gw.shutdown().await;
}

/// A request's status and body; error statuses come back from the client as errors.
async fn request(c: &Client, pdu: Pdu) -> (CommandStatus, Option<Pdu>) {
    match c.request(pdu).await {
        Ok(answer) => answer,
        Err(SubmitError::Permanent(s) | SubmitError::Temporary(s) | SubmitError::Throttled(s)) => {
            (s, None)
        }
        Err(e) => panic!("{e:?}"),
    }
}

async fn query(c: &Client, id: &str) -> Result<(MessageState, String), CommandStatus> {
    let q = QuerySm::builder()
        .message_id(cs(id))
        .source_addr(cs("ACME"))
        .build();
    match request(c, q.into()).await {
        (CommandStatus::EsmeRok, Some(Pdu::QuerySmResp(r))) => {
            Ok((r.message_state, r.final_date.as_str().to_owned()))
        }
        (status, _) => Err(status),
    }
}

async fn cancel(c: &Client, id: &str) -> CommandStatus {
    let q = CancelSm::builder()
        .message_id(cs(id))
        .source_addr(cs("ACME"))
        .build();
    request(c, q.into()).await.0
}

#[tokio::test]
async fn query_sm_and_cancel_sm_work_on_the_ids_a_client_was_given() {
    let t = gateway(json!({})).await;
    let (c, mut events) = bind(&t.gw, BindType::Transceiver).await;
    let mut later = sm("4915112345678", 0, 0, &gsm("cancel me"), vec![]);
    later.schedule_delivery_time =
        EmptyOrFullCOctetString::from_vec(b"000000010000000R\0".to_vec()).unwrap();
    let id = submit(&c, later).await.unwrap();
    assert_eq!(
        query(&c, &id).await,
        Ok((MessageState::Enroute, String::new()))
    );
    assert_eq!(cancel(&c, &id).await, CommandStatus::EsmeRok);
    let (state, final_date) = query(&c, &id).await.unwrap();
    assert_eq!(state, MessageState::Deleted);
    assert_eq!(final_date.len(), 16, "{final_date}");
    let (seen, _) = receipts(&mut events, 1).await;
    assert_eq!(
        (seen[0].id.as_str(), &seen[0].state),
        (id.as_str(), &ReceiptState::Deleted)
    );

    let sent = submit(&c, sm("4915112345679", 0, 0, &gsm("deliver me"), vec![]))
        .await
        .unwrap();
    t.wait_status(&sent, "delivered").await;
    assert_eq!(query(&c, &sent).await.unwrap().0, MessageState::Delivered);
    assert_eq!(cancel(&c, &sent).await, CommandStatus::EsmeRcancelfail);

    // A part waiting for its siblings is en route and cannot be cancelled yet.
    let mut body = vec![5, 0, 3, 1, 2, 1];
    body.extend(gsm("half"));
    let part = submit(&c, sm("4915112345670", 0, 0x40, &body, vec![]))
        .await
        .unwrap();
    assert_eq!(query(&c, &part).await.unwrap().0, MessageState::Enroute);
    assert_eq!(cancel(&c, &part).await, CommandStatus::EsmeRcancelfail);

    // Unknown ids, and ids of another account, are invalid.
    assert_eq!(query(&c, "nope").await, Err(CommandStatus::EsmeRinvmsgid));
    let (other, _e) = bind_as(&t.gw, BindType::Transceiver, "app2", "secret2")
        .await
        .unwrap();
    assert_eq!(
        query(&other, &sent).await,
        Err(CommandStatus::EsmeRinvmsgid)
    );
    assert_eq!(cancel(&other, &sent).await, CommandStatus::EsmeRinvmsgid);
    other.unbind().await;
    c.unbind().await;
    t.gw.shutdown().await;
}

#[tokio::test]
async fn a_connection_dropped_mid_window_loses_nothing_that_was_acknowledged() {
    let t = gateway(json!({})).await;
    let (c, _events) = bind(&t.gw, BindType::Transmitter).await;
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (c, acked) = (c.clone(), acked_tx.clone());
        set.spawn(async move {
            let r = submit(
                &c,
                sm(&format!("49151123456{i:02}"), 0, 0, &gsm("drop"), vec![]),
            )
            .await;
            if let Ok(id) = &r {
                let _ = acked.send(id.clone());
            }
            r
        });
    }
    // Cut the TCP connection right after the 10th response.
    let mut acked = Vec::new();
    while acked.len() < 10 {
        acked.push(acked_rx.recv().await.unwrap());
    }
    c.abort();
    let mut lost_responses = 0;
    while let Some(r) = set.join_next().await {
        if let Err(e) = r.unwrap() {
            assert!(
                matches!(e, SubmitError::Ambiguous(_) | SubmitError::NotBound),
                "{e:?}"
            );
            lost_responses += 1;
        }
    }
    while let Ok(id) = acked_rx.try_recv() {
        acked.push(id);
    }
    assert_eq!(acked.len() + lost_responses, 40);
    // Every acknowledged submit reaches a final status.
    for id in &acked {
        t.wait_status(id, "delivered").await;
    }
    // Submits whose response never came were stored or not; count both.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stored = messages_of(&t.gw, "smpp:app1").await;
    let unacked_stored = stored.len() - acked.len();
    println!(
        "dropped mid-window: {} acknowledged, {} without response of which {} stored and {} not",
        acked.len(),
        lost_responses,
        unacked_stored,
        lost_responses - unacked_stored
    );
    assert!(stored.len() >= acked.len() && stored.len() <= 40);
    for id in &acked {
        assert!(stored.iter().any(|m| &m.id.to_string() == id));
    }
    t.gw.shutdown().await;
}

#[tokio::test]
async fn a_part_stored_before_a_restart_completes_its_message_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path(), json!({"delivery_delay": "50ms"}));
    config.smpp_server = Some(server_config(json!({})));
    let gw = Gateway::start(config.clone()).await.unwrap();
    let (c, _e) = bind(&gw, BindType::Transmitter).await;
    let mut body = vec![5, 0, 3, 9, 2, 1];
    body.extend(gsm("before the restart, "));
    let first = submit(&c, sm("4915112345678", 0, 0x40, &body, vec![]))
        .await
        .unwrap();
    c.abort();
    gw.shutdown().await;

    let gw = Gateway::start(config).await.unwrap();
    let (c, mut events) = bind(&gw, BindType::Transceiver).await;
    let mut body = vec![5, 0, 3, 9, 2, 2];
    body.extend(gsm("after it"));
    let second = submit(&c, sm("4915112345678", 0, 0x40, &body, vec![]))
        .await
        .unwrap();
    let (seen, _) = receipts(&mut events, 2).await;
    let ids: Vec<&str> = seen.iter().map(|s| s.id.as_str()).collect();
    assert!(
        ids.contains(&first.as_str()) && ids.contains(&second.as_str()),
        "{ids:?}"
    );
    let mine = messages_of(&gw, "smpp:app1").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].text, "before the restart, after it");
    c.unbind().await;
    gw.shutdown().await;
}

#[tokio::test]
async fn an_incomplete_long_message_is_sent_with_its_parts_after_the_timeout() {
    let t = gateway(json!({"concat_timeout": "1s"})).await;
    let (c, mut events) = bind(&t.gw, BindType::Transceiver).await;
    let mut body = vec![5, 0, 3, 0x55, 3, 1];
    body.extend(gsm("only part one"));
    let id = submit(&c, sm("4915112345678", 0, 0x40, &body, vec![]))
        .await
        .unwrap();
    let (seen, _) = receipts(&mut events, 1).await;
    assert_eq!(seen[0].id, id);
    let mine = messages_of(&t.gw, "smpp:app1").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].text, "only part one");
    c.unbind().await;
    t.gw.shutdown().await;
}

fn data_sm(to: &str, coding: u8, tlvs: Vec<Stlv>) -> DataSm {
    DataSm::builder()
        .source_addr_ton(Ton::Alphanumeric)
        .source_addr(cs("ACME"))
        .dest_addr_ton(Ton::International)
        .destination_addr(cs(to))
        .esm_class(EsmClass::from(0))
        .registered_delivery(RegisteredDelivery::from(1))
        .data_coding(DataCoding::from(coding))
        .tlvs(tlvs)
        .build()
}

fn payload(octets: Vec<u8>) -> Stlv {
    Stlv::MessagePayload(MessagePayload::new(AnyOctetString::from_vec(octets)))
}

#[tokio::test]
async fn data_sm_is_stored_like_submit_sm_and_gets_its_receipt() {
    let t = gateway(json!({})).await;
    let (c, mut events) = bind(&t.gw, BindType::Transceiver).await;
    let long = "Kesseldruck 2,4 bar, Vorlauf 71 Grad, alles in Ordnung. ".repeat(4);
    let sends = [
        data_sm("4915112345671", 0, vec![payload(gsm("Pump 3 OFF"))]),
        data_sm(
            "4915112345672",
            8,
            vec![
                payload(smsgate_sms::charsets::encode_ucs2("Привет ✓")),
                Stlv::QosTimeToLive(600),
            ],
        ),
        data_sm("4915112345673", 0, vec![payload(gsm(&long))]),
    ];
    let mut ids = Vec::new();
    for d in sends {
        let (status, resp) = request(&c, d.into()).await;
        assert_eq!(status, CommandStatus::EsmeRok);
        let Some(Pdu::DataSmResp(r)) = resp else {
            panic!("{resp:?}")
        };
        ids.push(r.message_id().as_str().to_owned());
    }
    let (_, m) = t
        .call("GET", &format!("/v1/messages/{}", ids[0]), None)
        .await;
    assert_eq!(m["text"], "Pump 3 OFF", "{m}");
    let (_, m) = t
        .call("GET", &format!("/v1/messages/{}", ids[1]), None)
        .await;
    assert_eq!(
        (m["text"].as_str(), m["encoding"].as_str()),
        (Some("Привет ✓"), Some("ucs2"))
    );
    // qos_time_to_live 600 s became the message's validity.
    let window = m["expires_at"].as_str().map(|e| e.to_owned());
    assert!(window.is_some(), "{m}");
    let (_, m) = t
        .call("GET", &format!("/v1/messages/{}", ids[2]), None)
        .await;
    assert_eq!(
        (m["text"].as_str(), m["segments"].as_u64()),
        (Some(long.as_str()), Some(2))
    );
    let (seen, _) = receipts(&mut events, 3).await;
    for id in &ids {
        assert!(
            seen.iter()
                .any(|r| &r.id == id && r.state == ReceiptState::Delivered),
            "{seen:?}"
        );
    }
    // Bad input gets the same errors as submit_sm: here a national destination.
    let mut bad = data_sm("015112345678", 0, vec![payload(gsm("x"))]);
    bad.dest_addr_ton = Ton::National;
    assert_eq!(
        request(&c, bad.into()).await.0,
        CommandStatus::EsmeRinvdstadr
    );
    c.unbind().await;
    t.gw.shutdown().await;
}

#[tokio::test]
async fn eight_bit_submits_stay_eight_bit_and_octets_that_would_change_are_refused() {
    let t = gateway(json!({})).await;
    let (c, _events) = bind(&t.gw, BindType::Transceiver).await;
    // A device command in 8-bit: carried as 8-bit with the same octets, not as GSM text.
    let id = submit(&c, sm("4915112345678", 4, 0, b"CFG;INT=60;APN=m2m", vec![]))
        .await
        .unwrap();
    let (_, m) = t.call("GET", &format!("/v1/messages/{id}"), None).await;
    assert_eq!(
        (m["text"].as_str(), m["encoding"].as_str()),
        (Some("CFG;INT=60;APN=m2m"), Some("binary")),
        "{m}"
    );
    // Two 8-bit parts with a UDH, a UTF-8 character cut between them: one 8-bit message.
    let text = "Zähler 7: ".repeat(16); // 176 octets of UTF-8
    let octets = text.as_bytes();
    let cut = 134; // the most a part with a 6-octet UDH holds, inside the 13th "ä"
    assert!(
        !text.is_char_boundary(cut),
        "the cut falls inside a character"
    );
    let mut ids = Vec::new();
    for (no, chunk) in [(1u8, &octets[..cut]), (2, &octets[cut..])] {
        let mut body = vec![5, 0, 3, 0x33, 2, no];
        body.extend_from_slice(chunk);
        ids.push(
            submit(&c, sm("4915112345679", 4, 0x40, &body, vec![]))
                .await
                .unwrap(),
        );
    }
    let mine = messages_of(&t.gw, "smpp:app1").await;
    let long = mine.iter().find(|m| m.text == text).expect("assembled");
    assert_eq!(long.encoding, "binary");
    // Octets that are no UTF-8 would change on the way: refused, nothing stored.
    let refused = submit(
        &c,
        sm("4915112345670", 4, 0, &[0x01, 0xFF, 0x00, 0x80], vec![]),
    )
    .await;
    assert_eq!(
        refused,
        Err(SubmitError::Permanent(CommandStatus::EsmeRinvdcs))
    );
    assert_eq!(messages_of(&t.gw, "smpp:app1").await.len(), 2);
    c.unbind().await;
    t.gw.shutdown().await;
}

#[tokio::test]
async fn a_reference_reused_before_the_old_set_completed_starts_a_new_message() {
    let t = gateway(json!({"concat_timeout": "1s"})).await;
    let (c, mut events) = bind(&t.gw, BindType::Transceiver).await;
    let part = |no: u8, text: &str| {
        let mut body = vec![5, 0, 3, 0x21, 2, no];
        body.extend(gsm(text));
        sm("4915112345678", 0, 0x40, &body, vec![])
    };
    // Message A: part 1 only. Then message B with the same reference, both parts.
    let a1 = submit(&c, part(1, "Alpha one ")).await.unwrap();
    let b1 = submit(&c, part(1, "Bravo one ")).await.unwrap();
    let b2 = submit(&c, part(2, "Bravo two")).await.unwrap();
    let (seen, _) = receipts(&mut events, 3).await;
    let mut got: Vec<&str> = seen.iter().map(|r| r.id.as_str()).collect();
    got.sort_unstable();
    let mut want = [a1.as_str(), b1.as_str(), b2.as_str()];
    want.sort_unstable();
    assert_eq!(got, want);
    let mut texts: Vec<String> = messages_of(&t.gw, "smpp:app1")
        .await
        .into_iter()
        .map(|m| m.text)
        .collect();
    texts.sort();
    // B whole and on its own; A sent with the part it had after the timeout.
    assert_eq!(texts, ["Alpha one ", "Bravo one Bravo two"]);
    c.unbind().await;
    t.gw.shutdown().await;
}

// ---- TLS listener -----------------------------------------------------------------------

/// Plain and TLS listeners on port 0 with the test CA's server certificate; with
/// `client_ca`, TLS clients must show a certificate of that CA.
fn tls_keys(client_ca: bool) -> Value {
    let mut v = json!({
        "tls_listen": "127.0.0.1:0",
        "tls_cert_file": interop::tls_file("server.pem"),
        "tls_key_file": interop::tls_file("server.key"),
    });
    if client_ca {
        v["tls_client_ca_file"] = json!(interop::tls_file("ca.pem"));
    }
    v
}

/// Connects to the TLS listener, verifying it against the test CA, and binds.
async fn bind_tls(
    gw: &Gateway,
    client_cert: bool,
    system_id: &str,
    password: &str,
) -> Result<(Client, Events), String> {
    use smsgate_smpp::supervisor::{Dialer, TcpDialer, TlsDialer};
    use smsgate_smpp::tls::ClientTls;
    let file = |n: &str| Some(std::path::PathBuf::from(interop::tls_file(n)));
    let tls = ClientTls {
        ca_file: file("ca.pem"),
        cert_file: if client_cert {
            file("client.pem")
        } else {
            None
        },
        key_file: if client_cert {
            file("client.key")
        } else {
            None
        },
        ..ClientTls::default()
    };
    let connector = TlsDialer {
        tcp: TcpDialer {
            addr: gw.smpp_tls_addr.expect("tls_listen configured").to_string(),
            timeout: Duration::from_secs(5),
        },
        config: tls.load().unwrap(),
        server_name: tls.server_name("localhost").unwrap(),
    };
    let io = connector.connect().await.map_err(|e| e.to_string())?;
    let config = ClientConfig::new(BindParams::new(BindType::Transceiver, system_id, password));
    client::bind(io, config).await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn the_tls_listener_serves_the_same_accounts_and_plain_smpp_is_refused_on_it() {
    let t = gateway(tls_keys(false)).await;
    assert!(t.gw.smpp_addr.is_some() && t.gw.smpp_tls_addr.is_some());
    let (c, mut events) = bind_tls(&t.gw, false, "app1", "secret1").await.unwrap();
    // Operators see the session: account, bind, peer, TLS; and in /metrics.
    let (status, v) = t.call("GET", "/v1/smpp/sessions", None).await;
    assert_eq!(status, 200, "{v}");
    let s = &v["sessions"][0];
    assert_eq!(
        (
            s["system_id"].as_str(),
            s["bind"].as_str(),
            s["tls"].as_bool()
        ),
        (Some("app1"), Some("transceiver"), Some(true)),
        "{v}"
    );
    assert!(s["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{v}");
    let metrics = t
        .http
        .get(format!("{}/metrics", t.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"smsgate_smpp_server_sessions{system_id="app1",bind="transceiver",tls="true"} 1"#
        ),
        "{metrics}"
    );
    // And with the CLI: `smsgate sessions`.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_smsgate"));
    cmd.arg("sessions")
        .env("SMSGATE_URL", &t.base)
        .env("SMSGATE_KEY", &t.key);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = stdout
        .lines()
        .find(|l| l.contains("app1"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1..4], ["app1", "transceiver", "yes"], "{stdout}");
    assert!(cells[4].starts_with("127.0.0.1:"), "{stdout}");
    let id = submit(&c, sm("4915112345670", 0, 0, &gsm("over TLS"), vec![]))
        .await
        .unwrap();
    let (seen, _) = receipts(&mut events, 1).await;
    assert_eq!(
        (seen[0].id.as_str(), &seen[0].state),
        (id.as_str(), &ReceiptState::Delivered)
    );
    let (_, m) = t.call("GET", &format!("/v1/messages/{id}"), None).await;
    assert_eq!(m["text"], "over TLS");
    c.unbind().await;

    // Wrong credentials over TLS: the bind error, as on the plain listener.
    let e = bind_tls(&t.gw, false, "app1", "wrong").await.unwrap_err();
    assert!(
        e.contains("ESME_RINVPASWD") || e.contains("Rinvpaswd"),
        "{e}"
    );

    // A plain SMPP bind on the TLS port is not TLS: the handshake fails, nothing binds, and
    // the listener keeps serving.
    let plain = client::connect(
        t.gw.smpp_tls_addr.unwrap(),
        ClientConfig::new(BindParams::new(BindType::Transceiver, "app1", "secret1")),
    )
    .await;
    assert!(plain.is_err(), "a plain bind on the TLS port must fail");
    let (again, _events) = bind_tls(&t.gw, false, "app2", "secret2").await.unwrap();
    again.unbind().await;
    t.gw.shutdown().await;
}

#[tokio::test]
async fn with_a_client_ca_only_clients_with_its_certificate_may_bind() {
    let t = gateway(tls_keys(true)).await;
    let refused = bind_tls(&t.gw, false, "app1", "secret1").await.unwrap_err();
    assert!(refused.contains("CertificateRequired"), "{refused}");
    let (c, _events) = bind_tls(&t.gw, true, "app1", "secret1").await.unwrap();
    let id = submit(&c, sm("4915112345670", 0, 0, &gsm("mutual"), vec![]))
        .await
        .unwrap();
    let (status, _) = t.call("GET", &format!("/v1/messages/{id}"), None).await;
    assert_eq!(status, 200);
    c.unbind().await;
    t.gw.shutdown().await;
}

// ---- interop: third-party clients (SMSGATE_INTEROP=1) -------------------------------------

/// A gateway whose server knows the interop peers' accounts (`node`/`pw`, `pyesme`/`pw`).
async fn interop_gateway() -> TestGateway {
    gateway(json!({
        "accounts": [
            {"system_id": "node", "password": "pw"},
            {"system_id": "pyesme", "password": "pw"},
        ],
    }))
    .await
}

fn port(t: &TestGateway) -> String {
    t.gw.smpp_addr.unwrap().port().to_string()
}

/// The interop accounts on a gateway that also listens for TLS.
async fn interop_tls_gateway() -> TestGateway {
    let mut extra = tls_keys(false);
    extra["accounts"] = json!([
        {"system_id": "node", "password": "pw"},
        {"system_id": "pyesme", "password": "pw"},
    ]);
    gateway(extra).await
}

/// Starts `interop/smpp/node_gateway_esme.js <port> <args…>` against `t`'s plain listener.
fn node_gateway_esme(t: &TestGateway, args: &[&str]) -> Peer {
    let mut all = vec!["smpp/node_gateway_esme.js".to_owned(), port(t)];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    Peer::spawn("node", &all)
}

fn tls_port(t: &TestGateway) -> String {
    t.gw.smpp_tls_addr.unwrap().port().to_string()
}

#[tokio::test]
async fn npm_smpp_client_sends_a_data_sm_and_gets_its_receipt() {
    if !interop::enabled("npm_smpp_client_sends_a_data_sm_and_gets_its_receipt") {
        return;
    }
    interop::require_node_smpp();
    let t = interop_gateway().await;
    let peer = node_gateway_esme(&t, &["datasm"]);
    let out = peer.finish().await;
    let id = out
        .iter()
        .find_map(|l| l.strip_prefix("DATA_SM "))
        .expect("a data_sm_resp with an id")
        .to_owned();
    assert!(
        out.iter().any(|l| l == &format!("RECEIPT {id} 2")),
        "{out:?}"
    );
    assert_eq!(out.last().map(String::as_str), Some("OK"));
    let (_, m) = t.call("GET", &format!("/v1/messages/{id}"), None).await;
    assert_eq!(m["text"], "Hello by data_sm", "{m}");
    t.gw.shutdown().await;
}

/// node's `tls` (OpenSSL) against our rustls listener, verifying it against the test CA.
#[tokio::test]
async fn npm_smpp_client_over_tls_submits_and_gets_every_receipt() {
    if !interop::enabled("npm_smpp_client_over_tls_submits_and_gets_every_receipt") {
        return;
    }
    interop::require_node_smpp();
    let t = interop_tls_gateway().await;
    let peer = Peer::spawn_with_env(
        "node",
        &["smpp/node_esme.js".into(), tls_port(&t)],
        &[("SMPP_TLS", "1")],
    );
    let out = peer.finish().await;
    assert!(
        out.iter().any(|l| l == "OK submits=4 receipts=4"),
        "{out:?}"
    );
    assert_eq!(messages_of(&t.gw, "smpp:node").await.len(), 3);
    t.gw.shutdown().await;
}

/// Python's `ssl` (OpenSSL) through smpplib's `ssl_context`, checking chain and name.
#[tokio::test]
async fn smpplib_client_over_tls_submits_and_gets_every_receipt() {
    if !interop::enabled("smpplib_client_over_tls_submits_and_gets_every_receipt") {
        return;
    }
    interop::require_smpplib();
    let t = interop_tls_gateway().await;
    let peer = Peer::spawn(
        "python3",
        &["smpp/smpplib_esme.py".into(), tls_port(&t), "--tls".into()],
    );
    let out = peer.finish().await;
    assert!(
        out.iter().any(|l| l == "OK submits=5 receipts=5"),
        "{out:?}"
    );
    assert_eq!(messages_of(&t.gw, "smpp:pyesme").await.len(), 3);
    t.gw.shutdown().await;
}

#[tokio::test]
async fn npm_smpp_client_submits_gsm_ucs2_and_long_messages_and_gets_every_receipt() {
    if !interop::enabled(
        "npm_smpp_client_submits_gsm_ucs2_and_long_messages_and_gets_every_receipt",
    ) {
        return;
    }
    interop::require_node_smpp();
    let t = interop_gateway().await;
    let peer = Peer::spawn("node", &["smpp/node_esme.js".into(), port(&t)]);
    let out = peer.finish().await;
    assert!(
        out.iter().any(|l| l == "OK submits=4 receipts=4"),
        "{out:?}"
    );
    let mine = messages_of(&t.gw, "smpp:node").await;
    let texts: Vec<&str> = mine.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        mine.len(),
        3,
        "GSM, UCS-2 and one message from two UDH parts: {texts:?}"
    );
    assert!(texts.contains(&"Hello from node-smpp @ £5"), "{texts:?}");
    assert!(texts.contains(&"Grüße aus Köln — ✓"), "{texts:?}");
    let long = format!("{}{}", "A".repeat(153), "B".repeat(40));
    assert!(texts.contains(&long.as_str()), "{texts:?}");
    assert!(mine.iter().all(|m| m.status == Status::Delivered));
    t.gw.shutdown().await;
}

#[tokio::test]
async fn smpplib_client_submits_gsm_ucs2_and_long_messages_and_gets_every_receipt() {
    if !interop::enabled("smpplib_client_submits_gsm_ucs2_and_long_messages_and_gets_every_receipt")
    {
        return;
    }
    interop::require_smpplib();
    let t = interop_gateway().await;
    let peer = Peer::spawn("python3", &["smpp/smpplib_esme.py".into(), port(&t)]);
    let out = peer.finish().await;
    // Three messages, the long one in three UDH parts: five ids, five receipts.
    assert!(
        out.iter().any(|l| l == "OK submits=5 receipts=5"),
        "{out:?}"
    );
    let mine = messages_of(&t.gw, "smpp:pyesme").await;
    let texts: Vec<&str> = mine.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(mine.len(), 3, "{texts:?}");
    assert!(texts.contains(&"Hello from smpplib"), "{texts:?}");
    assert!(texts.contains(&"Привет из Python ✓"), "{texts:?}");
    let long = "Long message ".repeat(30);
    assert!(texts.contains(&long.as_str()), "{texts:?}");
    t.gw.shutdown().await;
}

#[tokio::test]
async fn npm_smpp_client_with_wrong_credentials_gets_the_bind_errors() {
    if !interop::enabled("npm_smpp_client_with_wrong_credentials_gets_the_bind_errors") {
        return;
    }
    interop::require_node_smpp();
    let t = interop_gateway().await;
    let peer = node_gateway_esme(&t, &["badpass"]);
    let out = peer.finish().await;
    let binds: Vec<&String> = out.iter().filter(|l| l.starts_with("BIND ")).collect();
    // ESME_RINVPASWD (0x0E) for the wrong password, ESME_RINVSYSID (0x0F) for the unknown id.
    assert_eq!(binds, ["BIND 14", "BIND 15"], "{out:?}");
    assert!(messages_of(&t.gw, "smpp:node").await.is_empty());
    t.gw.shutdown().await;
}

#[tokio::test]
async fn npm_smpp_client_gets_the_receipt_kept_while_it_was_unbound() {
    if !interop::enabled("npm_smpp_client_gets_the_receipt_kept_while_it_was_unbound") {
        return;
    }
    interop::require_node_smpp();
    let t = interop_gateway().await;
    let mut peer = node_gateway_esme(&t, &["away"]);
    let submitted = peer.expect("SUBMITTED ").await;
    let id = submitted.trim_start_matches("SUBMITTED ").to_owned();
    peer.expect("UNBOUND").await;
    // The message is delivered (and its receipt due) while no session of the account exists.
    t.wait_status(&id, "delivered").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    peer.say("GO").await;
    let receipt = peer.expect("RECEIPT ").await;
    assert_eq!(
        receipt,
        format!("RECEIPT {id} 2"),
        "message_state DELIVERED"
    );
    peer.expect("OK").await;
    peer.finish().await;
    t.gw.shutdown().await;
}

#[tokio::test]
async fn npm_smpp_client_dropping_its_connection_mid_window_loses_no_acknowledged_message() {
    if !interop::enabled(
        "npm_smpp_client_dropping_its_connection_mid_window_loses_no_acknowledged_message",
    ) {
        return;
    }
    interop::require_node_smpp();
    let t = interop_gateway().await;
    let peer = node_gateway_esme(&t, &["drop", "60", "10"]);
    let out = peer.finish().await;
    assert!(out.iter().any(|l| l == "DROPPED"), "{out:?}");
    assert!(!out.iter().any(|l| l.starts_with("NACK")), "{out:?}");
    let acked: Vec<String> = out
        .iter()
        .filter_map(|l| l.strip_prefix("ACK ").map(str::to_owned))
        .collect();
    assert!(acked.len() >= 10, "{out:?}");
    for id in &acked {
        t.wait_status(id, "delivered").await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stored = messages_of(&t.gw, "smpp:node").await;
    let unanswered = 60 - acked.len();
    let stored_unanswered = stored.len() - acked.len();
    println!(
        "npm smpp dropped mid-window: 60 submitted, {} acknowledged, {unanswered} without \
         response of which {stored_unanswered} stored and {} not",
        acked.len(),
        unanswered - stored_unanswered
    );
    assert!(stored.len() <= 60);
    for id in &acked {
        assert!(
            stored.iter().any(|m| &m.id.to_string() == id),
            "acknowledged {id} lost"
        );
    }
    for m in &stored {
        t.wait_status(&m.id.to_string(), "delivered").await;
    }
    t.gw.shutdown().await;
}
