//! The `smpp` carrier connector inside a real gateway against a third-party SMSC: the npm
//! `smpp` package's server (`interop/smpp/node_smsc.js`, also used by the crate-level test).
//! Messages go out through the REST API and come back `delivered` by the SMSC's receipts.
//! Once over plain TCP and once over TLS. Runs with `SMSGATE_INTEROP=1`.

use serde_json::{Value, json};
use smsgate::config::ConnectorConfig;
use smsgate_testkit::TestGateway;
use smsgate_testkit::interop::{self, Peer};

#[tokio::test]
async fn the_smpp_connector_delivers_through_the_npm_smpp_smsc_with_receipts() {
    if !interop::enabled("the_smpp_connector_delivers_through_the_npm_smpp_smsc_with_receipts") {
        return;
    }
    delivers_through_the_npm_smsc(false, "transceiver").await;
}

/// The same over TLS: node's `tls` (OpenSSL) serves the test CA's certificate, the connector
/// verifies it with `tls_ca_file` (and the name 127.0.0.1 against the certificate's IP SAN).
#[tokio::test]
async fn the_smpp_connector_delivers_over_tls_through_the_npm_smpp_smsc() {
    if !interop::enabled("the_smpp_connector_delivers_over_tls_through_the_npm_smpp_smsc") {
        return;
    }
    delivers_through_the_npm_smsc(true, "transceiver").await;
}

/// `bind = "pair"`: submits on the transmitter bind, receipts from the npm SMSC on the
/// receiver bind of the same connector.
#[tokio::test]
async fn a_transmitter_receiver_pair_delivers_through_the_npm_smpp_smsc() {
    if !interop::enabled("a_transmitter_receiver_pair_delivers_through_the_npm_smpp_smsc") {
        return;
    }
    delivers_through_the_npm_smsc(false, "pair").await;
}

async fn delivers_through_the_npm_smsc(tls: bool, bind: &str) {
    interop::require_node_smpp();
    let args: &[String] = if tls {
        &["smpp/node_smsc.js".into(), "--tls".into()]
    } else {
        &["smpp/node_smsc.js".into()]
    };
    let mut smsc = Peer::spawn("node", args);
    let banner = smsc.expect("PORT ").await;
    assert_eq!(banner.ends_with(" TLS"), tls, "{banner}");
    let port: u16 = banner
        .trim_start_matches("PORT ")
        .trim_end_matches(" TLS")
        .parse()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({}));
    let mut settings = json!({
        "host": "127.0.0.1",
        "port": port,
        "system_id": "esme",
        "password": "pw",
        "reconnect_initial": "50ms",
        "reconnect_max": "200ms",
        "bind": bind,
    });
    if tls {
        settings["tls"] = json!(true);
        settings["tls_ca_file"] = json!(interop::tls_file("ca.pem"));
    }
    let Value::Object(settings) = settings else {
        unreachable!()
    };
    c.connectors = vec![ConnectorConfig {
        name: "node".into(),
        kind: "smpp".into(),
        settings,
    }];
    let t = TestGateway::start_with(c, dir).await;
    // Every session bound first: with a pair, a receipt must not race the receiver's bind
    // (the SMSC would send it on the transmitter, which may not take it).
    t.wait_sessions_bound().await;

    let gsm = t
        .send(json!({"to": "+4915112345678", "text": "Hello from smsgate @ 5 £"}))
        .await;
    let long = t
        .send(json!({"to": "+4915112345679", "text": "Überdruck 🔥 ".repeat(8)}))
        .await;
    let m = t.wait_status(&gsm, "delivered").await;
    assert_eq!(m["connector"], "node");
    let (_, connectors) = t.call("GET", "/v1/connectors", None).await;
    assert_eq!(connectors[0]["details"]["tls"], json!(tls), "{connectors}");
    let m = t.wait_status(&long, "delivered").await;
    assert_eq!(
        (m["segments"].as_u64(), m["encoding"].as_str()),
        (Some(2), Some("ucs2"))
    );

    // What the SMSC saw: one GSM submit (data_coding 0) and two UCS-2 parts with a
    // concatenation UDH; each was receipted and the receipt acknowledged. The peer prints the
    // text it decoded, re-encoded as Latin-1.
    let mut submits = Vec::new();
    let (mut acks, mut binds) = (0, Vec::new());
    while submits.len() < 3 || acks < 3 {
        let line = smsc.line().await.expect("node SMSC running");
        if let Some(kind) = line.strip_prefix("BIND ") {
            binds.push(kind.to_owned());
        } else if line.starts_with("SUBMIT ") {
            submits.push(line);
        } else if line.starts_with("RECEIPT_ACK ") {
            assert!(line.ends_with(" 0"), "receipt refused: {line}");
            acks += 1;
        }
    }
    let latin1: String = "Hello from smsgate @ 5 £"
        .chars()
        .map(|c| format!("{:02x}", c as u32))
        .collect();
    assert!(
        submits
            .iter()
            .any(|s| s.ends_with(&format!(" 0 0 {latin1}"))),
        "{submits:?}"
    );
    let parts: Vec<&String> = submits.iter().filter(|s| s.contains(" 8 64 05")).collect();
    assert_eq!(parts.len(), 2, "{submits:?}");
    binds.sort();
    let want: &[&str] = if bind == "pair" {
        &["receiver", "transmitter"]
    } else {
        &["transceiver"]
    };
    assert_eq!(binds, want);
    t.gw.shutdown().await;
}

/// Binary SMS with application ports, long enough for two parts: the npm SMSC receives each
/// part as 8-bit data (`data_coding` 245: class 1) with `esm_class` UDHI, the port element
/// before the concatenation element, and the payload byte for byte.
#[tokio::test]
async fn binary_sms_with_ports_reaches_the_npm_smpp_smsc_byte_exact() {
    if !interop::enabled("binary_sms_with_ports_reaches_the_npm_smpp_smsc_byte_exact") {
        return;
    }
    interop::require_node_smpp();
    let mut smsc = Peer::spawn("node", &["smpp/node_smsc.js".into()]);
    let port: u16 = smsc.expect("PORT ").await[5..].parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({}));
    let Value::Object(settings) = json!({
        "host": "127.0.0.1", "port": port, "system_id": "esme", "password": "pw",
        "reconnect_initial": "50ms",
    }) else {
        unreachable!()
    };
    c.connectors = vec![ConnectorConfig {
        name: "node".into(),
        kind: "smpp".into(),
        settings,
    }];
    let t = TestGateway::start_with(c, dir).await;
    t.wait_sessions_bound().await;
    let payload: Vec<u8> = (0..200u32).map(|i| (i * 7 % 256) as u8).collect();
    let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
    let (status, v) = t
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "binary": hex,
                "port": {"dest": 2948, "source": 9200}, "message_class": 1})),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(
        (v["segments"].as_u64(), v["encoding"].as_str()),
        (Some(2), Some("binary"))
    );
    let id = v["id"].as_str().unwrap().to_owned();
    let m = t.wait_status(&id, "delivered").await;
    assert_eq!(m["text"], hex, "the API shows the payload as hex: {m}");
    assert_eq!(
        m["binary"],
        json!({"udh": "05040b8423f0", "data_coding": 245}),
        "{m}"
    );
    let mut submits = Vec::new();
    while submits.len() < 2 {
        let line = smsc.line().await.expect("node SMSC running");
        if line.starts_with("SUBMIT ") {
            submits.push(line);
        }
    }
    let mut got = Vec::new();
    for (i, s) in submits.iter().enumerate() {
        let f: Vec<&str> = s.split(' ').collect();
        assert_eq!((f[2], f[3]), ("245", "64"), "{s}");
        let octets: Vec<u8> = (0..f[4].len() / 2)
            .map(|j| u8::from_str_radix(&f[4][2 * j..2 * j + 2], 16).unwrap())
            .collect();
        assert_eq!(
            &octets[..8],
            &[0x0b, 0x05, 0x04, 0x0b, 0x84, 0x23, 0xf0, 0x00],
            "{s}"
        );
        assert_eq!((octets[10], octets[11]), (2, (i + 1) as u8), "{s}");
        got.extend_from_slice(&octets[12..]);
    }
    assert_eq!(got, payload, "byte-exact at the SMSC");

    // An 8-bit MO with a port header: kept as octets (hex) with the sender's elements.
    let (status, v) = t
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "send-binary-mo"})),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    let inbound = loop {
        let (_, page) = t.call("GET", "/v1/inbound", None).await;
        if let Some(m) = page["data"].as_array().and_then(|a| a.first()).cloned() {
            break m;
        }
        assert!(tokio::time::Instant::now() < deadline, "no inbound: {page}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(inbound["text"], "deadbeef00ff", "{inbound}");
    assert_eq!(
        inbound["binary"],
        json!({"udh": "050413881389", "data_coding": 4}),
        "{inbound}"
    );
    t.gw.shutdown().await;
}
