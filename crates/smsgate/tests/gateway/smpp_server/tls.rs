//! The TLS listener: the same accounts as the plain one, plain SMPP refused on it, and
//! mutual TLS with a client CA.

use super::*;

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
        e.contains("ESME_RBINDFAIL") || e.contains("Rbindfail"),
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

smsgate_testkit::both_backends!(
    the_tls_listener_serves_the_same_accounts_and_plain_smpp_is_refused_on_it,
    with_a_client_ca_only_clients_with_its_certificate_may_bind,
);
