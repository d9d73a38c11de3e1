//! SMPP over TLS on loopback, with the test CA of `interop/tls` (see its `gen.sh`): the
//! reconnecting ESME binds to the simulator through a TLS listener, submits and gets its
//! receipt; an SMSC certificate the ESME does not trust, one issued for another name, and a
//! missing client certificate where the server asks for one each fail the handshake with an
//! error that says so, and the server counts the failure and keeps serving.

use std::path::PathBuf;
use std::time::Duration;

use rusmpp::pdus::SubmitSm;
use rusmpp::types::OctetString;
use rusmpp::values::RegisteredDelivery;
use smsgate_smpp::client::{ClientConfig, ClientEvent};
use smsgate_smpp::session::{BindParams, BindType};
use smsgate_smpp::sim::{SimConfig, Simulator};
use smsgate_smpp::supervisor::{LinkState, Supervisor, SupervisorConfig, TcpDialer, TlsDialer};
use smsgate_smpp::tls::{ClientTls, ServerTls, TlsError};
use smsgate_testkit::interop;

use crate::cs;

fn tls_file(name: &str) -> PathBuf {
    interop::tls_file(name).into()
}

fn server_tls(client_ca: bool) -> ServerTls {
    ServerTls {
        cert_file: tls_file("server.pem"),
        key_file: tls_file("server.key"),
        client_ca_file: client_ca.then(|| tls_file("ca.pem")),
    }
}

fn trusting_the_test_ca() -> ClientTls {
    ClientTls {
        ca_file: Some(tls_file("ca.pem")),
        ..ClientTls::default()
    }
}

/// The simulator on a TLS listener on port 0; returns it and its address.
async fn tls_sim(tls: ServerTls) -> (Simulator, std::net::SocketAddr) {
    let sim = Simulator::new(SimConfig {
        receipt_delay: Duration::from_millis(20),
        ..SimConfig::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tls.acceptor().unwrap();
    let s = sim.clone();
    tokio::spawn(async move { s.run_tls(listener, acceptor, std::future::pending()).await });
    (sim, addr)
}

fn supervisor(
    addr: std::net::SocketAddr,
    tls: &ClientTls,
    host: &str,
) -> (Supervisor, smsgate_smpp::client::Events) {
    let connector = TlsDialer {
        tcp: TcpDialer {
            addr: addr.to_string(),
            timeout: Duration::from_secs(5),
        },
        config: tls.load().unwrap(),
        server_name: tls.server_name(host).unwrap(),
    };
    let client = ClientConfig::new(BindParams::new(BindType::Transceiver, "esme", "pw"));
    let mut config = SupervisorConfig::new(client);
    config.backoff_initial = Duration::from_millis(50);
    config.backoff_max = Duration::from_millis(200);
    Supervisor::spawn(connector, config)
}

async fn wait_bound(supervisor: &Supervisor) {
    let mut state = supervisor.watch_state();
    let bound = state.wait_for(|s| *s == LinkState::Bound);
    let waited = tokio::time::timeout(Duration::from_secs(10), bound).await;
    assert!(matches!(waited, Ok(Ok(_))), "not bound within 10 s");
}

/// Waits for the first `Reconnecting` state and returns its error text.
async fn first_failure(supervisor: &Supervisor) -> String {
    let mut state = supervisor.watch_state();
    let failed = |s: &LinkState| matches!(s, LinkState::Reconnecting { .. });
    let s = tokio::time::timeout(Duration::from_secs(10), state.wait_for(failed))
        .await
        .expect("the handshake fails within 10 s")
        .unwrap()
        .clone();
    match s {
        LinkState::Reconnecting { last_error, .. } => last_error,
        other => unreachable!("{other:?}"),
    }
}

#[tokio::test]
async fn an_esme_binds_over_tls_submits_and_gets_its_receipt() {
    let (sim, addr) = tls_sim(server_tls(false)).await;
    // The certificate names `localhost` and 127.0.0.1; connecting by IP verifies the IP SAN.
    let (supervisor, mut events) = supervisor(addr, &trusting_the_test_ca(), "127.0.0.1");
    wait_bound(&supervisor).await;
    let sm = SubmitSm::builder()
        .source_addr(cs("smsgate"))
        .destination_addr(cs("4915112345678"))
        .registered_delivery(RegisteredDelivery::from(1))
        .short_message(OctetString::from_vec(b"over TLS".to_vec()).unwrap())
        .build();
    let resp = supervisor.submit(sm).await.unwrap();
    let id = resp.message_id().to_string();
    assert_eq!(
        sim.message(&id).map(|m| m.short_message),
        Some(b"over TLS".to_vec()),
        "the simulator stored what was sent through the TLS session"
    );
    let receipt = loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Some(ClientEvent::Inbound(i))) => break i,
            Ok(Some(_)) => continue,
            other => panic!("no receipt: {other:?}"),
        }
    };
    let seen = receipt
        .receipt()
        .expect("a delivery receipt")
        .message_id
        .clone();
    receipt.ack();
    assert_eq!(seen, id);
    assert_eq!(sim.protocol_counters().tls_handshake_failed, 0);
    supervisor.shutdown().await;
}

#[tokio::test]
async fn an_smsc_certificate_from_an_untrusted_ca_fails_the_handshake_and_is_retried() {
    let (sim, addr) = tls_sim(server_tls(false)).await;
    // The public web roots do not include the test CA.
    let (supervisor, _events) = supervisor(addr, &ClientTls::default(), "localhost");
    let error = first_failure(&supervisor).await;
    assert!(error.contains("TLS handshake failed"), "{error}");
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert_eq!(
        sim.stats().binds,
        0,
        "no bind is sent over an unverified link"
    );
    supervisor.shutdown().await;
}

#[tokio::test]
async fn an_smsc_certificate_for_another_name_fails_the_handshake() {
    let (sim, addr) = tls_sim(server_tls(false)).await;
    let tls = ClientTls {
        server_name: Some("smsc.example.com".into()),
        ..trusting_the_test_ca()
    };
    let (supervisor, _events) = supervisor(addr, &tls, "127.0.0.1");
    let error = first_failure(&supervisor).await;
    assert!(
        error.contains("not valid for name \"smsc.example.com\""),
        "{error}"
    );
    assert_eq!(sim.stats().binds, 0);
    supervisor.shutdown().await;
}

#[tokio::test]
async fn mutual_tls_refuses_a_client_without_a_certificate_and_binds_one_with_it() {
    let (sim, addr) = tls_sim(server_tls(true)).await;
    let (without, _events) = supervisor(addr, &trusting_the_test_ca(), "localhost");
    let error = first_failure(&without).await;
    // With TLS 1.3 the client finishes its side first, so the server's alert arrives while
    // the bind is in flight.
    assert!(error.contains("CertificateRequired"), "{error}");
    without.shutdown().await;
    assert_eq!(sim.stats().binds, 0);
    assert!(sim.protocol_counters().tls_handshake_failed >= 1);

    let with = ClientTls {
        cert_file: Some(tls_file("client.pem")),
        key_file: Some(tls_file("client.key")),
        ..trusting_the_test_ca()
    };
    let (supervisor, _events) = supervisor(addr, &with, "localhost");
    wait_bound(&supervisor).await;
    assert_eq!(sim.stats().binds, 1);
    supervisor.shutdown().await;
}

#[test]
fn broken_tls_settings_name_the_file_or_value_at_fault() {
    let missing = ClientTls {
        ca_file: Some(tls_file("nope.pem")),
        ..ClientTls::default()
    };
    let e = missing.load().unwrap_err();
    assert!(matches!(e, TlsError::File { .. }), "{e}");
    assert!(e.to_string().contains("nope.pem"), "{e}");

    // A key file is no certificate file.
    let not_a_cert = ClientTls {
        ca_file: Some(tls_file("server.key")),
        ..ClientTls::default()
    };
    let e = not_a_cert.load().unwrap_err();
    assert!(e.to_string().contains("server.key"), "{e}");

    let half = ClientTls {
        cert_file: Some(tls_file("client.pem")),
        ..trusting_the_test_ca()
    };
    assert!(matches!(half.load(), Err(TlsError::Config(_))));

    let e = ClientTls::default().server_name("not a name!").unwrap_err();
    assert!(matches!(e, TlsError::ServerName(_)), "{e}");

    let mismatched = ServerTls {
        key_file: tls_file("client.key"),
        ..server_tls(false)
    };
    assert!(matches!(mismatched.load(), Err(TlsError::Config(_))));
}
