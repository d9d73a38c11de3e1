//! Submits per second through one ESME client against the SMSC simulator over loopback TCP, at
//! windows of 1, 10 and 100, in the clear and over TLS (the test CA of `interop/tls`). Run with
//! `cargo bench -p smsgate-smpp --bench submit`.

use std::sync::Arc;

use divan::Bencher;
use rusmpp::pdus::SubmitSm;
use rusmpp::types::{COctetString, OctetString};
use smsgate_smpp::client::{self, Client, ClientConfig};
use smsgate_smpp::session::{BindParams, BindType, SessionConfig};
use smsgate_smpp::sim::{SimConfig, Simulator};
use smsgate_smpp::supervisor::{Dialer, TcpDialer, TlsDialer};
use smsgate_smpp::tls::{ClientTls, ServerTls};

const SUBMITS: usize = 2_000;

fn main() {
    divan::main();
}

fn cs<const N: usize>(s: &str) -> COctetString<1, N> {
    COctetString::from_vec([s.as_bytes(), &[0]].concat()).expect("ASCII literal")
}

async fn setup(window: usize, tls: bool) -> (Client, client::Events) {
    let session = SessionConfig {
        window,
        inbound_window: window.max(10),
        ..SessionConfig::default()
    };
    let sim = Simulator::new(SimConfig {
        session: session.clone(),
        ..SimConfig::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let mut config = ClientConfig::new(BindParams::new(BindType::Transmitter, "bench", "pw"));
    config.session = session;
    if !tls {
        tokio::spawn(async move { sim.run(listener, std::future::pending()).await });
        return client::connect(addr, config)
            .await
            .expect("bind to the simulator");
    }
    let file = |name: &str| {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../interop/tls")
            .join(name)
    };
    let server = ServerTls {
        cert_file: file("server.pem"),
        key_file: file("server.key"),
        client_ca_file: None,
    };
    let acceptor = server.acceptor().expect("test certificate");
    tokio::spawn(async move {
        sim.run_tls(listener, acceptor, std::future::pending())
            .await
    });
    let tls = ClientTls {
        ca_file: Some(file("ca.pem")),
        ..ClientTls::default()
    };
    let connector = TlsDialer {
        tcp: TcpDialer {
            addr: addr.to_string(),
            timeout: std::time::Duration::from_secs(5),
        },
        config: tls.load().expect("test CA"),
        server_name: tls.server_name("localhost").expect("name"),
    };
    let io = connector.connect().await.expect("TLS handshake");
    client::bind(io, config)
        .await
        .expect("bind to the simulator")
}

async fn run(client: Client, window: usize) {
    let sm = Arc::new(
        SubmitSm::builder()
            .source_addr(cs("smsgate"))
            .destination_addr(cs("4915112345678"))
            .short_message(OctetString::from_vec(b"benchmark message".to_vec()).expect("short"))
            .build(),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..window {
        let (client, sm) = (client.clone(), sm.clone());
        tasks.spawn(async move {
            for _ in 0..SUBMITS / window {
                client
                    .submit((*sm).clone())
                    .await
                    .expect("simulator accepts");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

fn bench(bencher: Bencher, window: usize, tls: bool) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (client, _events) = rt.block_on(setup(window, tls));
    bencher
        .counter(divan::counter::ItemsCount::new(SUBMITS))
        .bench_local(|| rt.block_on(run(client.clone(), window)));
}

#[divan::bench(args = [1, 10, 100], sample_count = 5, sample_size = 1)]
fn submit_loopback(bencher: Bencher, window: usize) {
    bench(bencher, window, false);
}

#[divan::bench(args = [1, 10, 100], sample_count = 5, sample_size = 1)]
fn submit_loopback_tls(bencher: Bencher, window: usize) {
    bench(bencher, window, true);
}
