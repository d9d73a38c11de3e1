//! The same server against third-party clients (npm `smpp`, PyPI `smpplib`; run with
//! `SMSGATE_INTEROP=1`): GSM, UCS-2 and long messages with every receipt, `data_sm`, wrong
//! credentials, a receipt kept while the client was unbound, a connection dropped
//! mid-window, and both clients over TLS.

use super::*;

/// A gateway whose server knows the interop peers' accounts (`node`/`pw`, `pyesme`/`pw`).
async fn interop_gateway() -> TestGateway {
    gateway(json!({
        "accounts": [
            {"system_id": "node", "password": "pw-12345"},
            {"system_id": "pyesme", "password": "pw-12345"},
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
        {"system_id": "node", "password": "pw-12345"},
        {"system_id": "pyesme", "password": "pw-12345"},
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

async fn npm_smpp_client_with_wrong_credentials_gets_the_bind_errors() {
    if !interop::enabled("npm_smpp_client_with_wrong_credentials_gets_the_bind_errors") {
        return;
    }
    interop::require_node_smpp();
    let t = interop_gateway().await;
    let peer = node_gateway_esme(&t, &["badpass"]);
    let out = peer.finish().await;
    let binds: Vec<&String> = out.iter().filter(|l| l.starts_with("BIND ")).collect();
    // ESME_RBINDFAIL (0x0D) for the wrong password and for the unknown id alike.
    assert_eq!(binds, ["BIND 13", "BIND 13"], "{out:?}");
    assert!(messages_of(&t.gw, "smpp:node").await.is_empty());
    t.gw.shutdown().await;
}

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

smsgate_testkit::both_backends!(
    npm_smpp_client_sends_a_data_sm_and_gets_its_receipt,
    npm_smpp_client_over_tls_submits_and_gets_every_receipt,
    smpplib_client_over_tls_submits_and_gets_every_receipt,
    npm_smpp_client_submits_gsm_ucs2_and_long_messages_and_gets_every_receipt,
    smpplib_client_submits_gsm_ucs2_and_long_messages_and_gets_every_receipt,
    npm_smpp_client_with_wrong_credentials_gets_the_bind_errors,
    npm_smpp_client_gets_the_receipt_kept_while_it_was_unbound,
    npm_smpp_client_dropping_its_connection_mid_window_loses_no_acknowledged_message,
);
