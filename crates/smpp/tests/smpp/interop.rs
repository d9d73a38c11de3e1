//! Tier 5: interop against third-party SMPP implementations, started as child processes:
//! npm `smpp` as SMSC (our ESME client) and as ESME (our SMSC simulator), and PyPI `smpplib`
//! as ESME. Skipped unless `SMSGATE_INTEROP=1`; with it set, a missing peer fails loudly.
//! Peers: `npm install --prefix interop`, `pip install -r interop/requirements.txt`.

use std::time::Duration;

use rusmpp::pdus::SubmitSm;
use rusmpp::types::OctetString;
use rusmpp::values::{DataCoding, EsmClass, RegisteredDelivery};
use smsgate_smpp::client::{self, ClientConfig, ClientEvent};
use smsgate_smpp::session::{BindParams, BindType};
use smsgate_smpp::sim::{SimConfig, Simulator};
use smsgate_testkit::interop::{self, Peer};

use crate::cs;

fn sm(esm_class: u8, coding: DataCoding, body: Vec<u8>) -> SubmitSm {
    SubmitSm::builder()
        .source_addr(cs("smsgate"))
        .destination_addr(cs("4915112345678"))
        .esm_class(EsmClass::from(esm_class))
        .registered_delivery(RegisteredDelivery::from(1))
        .data_coding(coding)
        .short_message(OctetString::from_vec(body).unwrap())
        .build()
}

#[tokio::test]
async fn our_esme_client_talks_to_the_npm_smpp_smsc() {
    if !interop::enabled("our_esme_client_talks_to_the_npm_smpp_smsc") {
        return;
    }
    interop::require_node_smpp();
    let mut peer = Peer::spawn("node", &["smpp/node_smsc.js".into()]);
    let lines = &mut peer.lines;
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
    let port: u16 = first
        .unwrap()
        .unwrap()
        .unwrap()
        .strip_prefix("PORT ")
        .unwrap()
        .parse()
        .unwrap();

    let config = ClientConfig::new(BindParams::new(BindType::Transceiver, "esme", "pw"));
    let (client, mut events) = client::connect(("127.0.0.1", port), config).await.unwrap();
    assert_eq!(client.bind_info().peer_system_id, "node-smsc");

    let gsm = smsgate_sms::gsm7::encode("Hello from smsgate", smsgate_sms::Shift::DEFAULT).unwrap();
    let ucs2 = smsgate_sms::charsets::encode_ucs2("Grüße ✓");
    let long = "x".repeat(200);
    let mut parts = Vec::new();
    for (i, chunk) in long.as_bytes().chunks(153).enumerate() {
        let mut body = vec![5, 0, 3, 0x42, 2, i as u8 + 1];
        body.extend_from_slice(chunk);
        parts.push(sm(0x40, DataCoding::McSpecific, body));
    }
    let mut ids = Vec::new();
    for submit in [
        sm(0, DataCoding::McSpecific, gsm),
        sm(0, DataCoding::Ucs2, ucs2),
    ]
    .into_iter()
    .chain(parts)
    {
        ids.push(
            client
                .submit(submit)
                .await
                .unwrap()
                .message_id()
                .as_str()
                .to_owned(),
        );
    }
    client
        .submit(sm(0, DataCoding::Ia5, b"send-mo".to_vec()))
        .await
        .unwrap();

    let (mut receipts, mut mo) = (Vec::new(), None);
    while receipts.len() < ids.len() || mo.is_none() {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .unwrap()
            .unwrap();
        if let ClientEvent::Inbound(inbound) = event {
            match inbound.receipt() {
                Some(r) => receipts.push(r.message_id.clone()),
                None => {
                    let d = inbound.deliver_sm().unwrap();
                    mo = Some(
                        smsgate_sms::UserData::from_smpp(
                            u8::from(d.data_coding),
                            false,
                            d.short_message().as_ref(),
                            false,
                        )
                        .and_then(|ud| ud.text())
                        .unwrap(),
                    );
                }
            }
            inbound.ack();
        }
    }
    assert!(
        ids.iter().all(|id| receipts.contains(id)),
        "ids {ids:?} receipts {receipts:?}"
    );
    assert_eq!(mo.as_deref(), Some("Привет 👋"));

    let mut submitted = Vec::new();
    while submitted.len() < 5 {
        let line = tokio::time::timeout(Duration::from_secs(5), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if line.starts_with("SUBMIT ") {
            submitted.push(line);
        }
    }
    assert!(
        submitted[1].starts_with(&format!("SUBMIT {} 8 0 ", ids[1])),
        "{}",
        submitted[1]
    );
    assert!(
        submitted[2].contains(" 64 050003420201"),
        "UDH intact: {}",
        submitted[2]
    );
    client.unbind().await;
}

/// Runs our simulator on port 0 against a peer script; returns the simulator for assertions.
async fn sim_against(program: &str, script: &str) -> Simulator {
    let sim = Simulator::new(SimConfig {
        receipt_delay: Duration::from_millis(50),
        ..SimConfig::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let s = sim.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        s.run(listener, async {
            let _ = stopped.await;
        })
        .await
    });
    let mut peer = Peer::spawn(program, &[script.into(), port.to_string()]);
    let (child, lines) = (&mut peer.child, &mut peer.lines);
    let mut output = Vec::new();
    let status = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            output.push(line);
        }
        child.wait().await.unwrap()
    })
    .await
    .expect("peer did not finish");
    println!("{script}: {output:?}");
    assert!(status.success(), "{script} failed: {output:?}");
    assert!(output.iter().any(|l| l.starts_with("OK ")), "{output:?}");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    sim
}

#[tokio::test]
async fn npm_smpp_client_submits_to_our_server_and_gets_receipts() {
    if !interop::enabled("npm_smpp_client_submits_to_our_server_and_gets_receipts") {
        return;
    }
    interop::require_node_smpp();
    let sim = sim_against("node", "smpp/node_esme.js").await;
    let stats = sim.stats();
    assert_eq!(stats.accepted, 4);
    assert_eq!(stats.receipts_acked, 4);
    let messages = sim.messages();
    assert_eq!(messages[1].data_coding, 8);
    assert_eq!(
        smsgate_sms::charsets::decode_ucs2(&messages[1].short_message),
        "Grüße aus Köln — ✓"
    );
    assert_eq!(messages[2].esm_class & 0x40, 0x40);
    assert_eq!(&messages[2].short_message[..6], &[5, 0, 3, 0x42, 2, 1]);
    assert_eq!(sim.protocol_counters().malformed_body, 0);
}

#[tokio::test]
async fn smpplib_client_submits_to_our_server_and_gets_receipts() {
    if !interop::enabled("smpplib_client_submits_to_our_server_and_gets_receipts") {
        return;
    }
    interop::require_smpplib();
    let sim = sim_against("python3", "smpp/smpplib_esme.py").await;
    let messages = sim.messages();
    assert!(
        messages.len() >= 4,
        "GSM + UCS-2 + at least two UDH parts: {}",
        messages.len()
    );
    assert!(messages.iter().any(|m| m.data_coding == 8));
    assert!(messages.iter().any(|m| m.esm_class & 0x40 != 0));
    assert_eq!(sim.stats().receipts_acked, messages.len() as u64);
    assert_eq!(sim.protocol_counters().malformed_body, 0);
}
