//! The `[smpp_server]` inside a real gateway (HTTP and SMPP on port 0, SQLite in a temp dir,
//! the simulated network delivering after 100 ms), driven by our own ESME client and by
//! third-party ones. This module holds the shared set-up (two accounts, binds, submits, the
//! receipt collector); one module per topic:
//! - `sessions`: binds and their errors, the account window and `max_tps`, the queue bound,
//!   a connection dropped mid-window.
//! - `submit`: GSM / Latin-1 / UCS-2 submits stored before their response with receipts per
//!   submitted id, SMPP errors, `data_sm`, 8-bit data.
//! - `long_messages`: UDH (8- and 16-bit references), SAR and `message_payload` assembled
//!   into one message, parts that survive a restart, incomplete sets, reused references.
//! - `feeds`: receipts kept while the client is away, inbound SMS routed by prefix.
//! - `query_cancel`: `query_sm` and `cancel_sm`.
//! - `tls`: the TLS listener (same accounts, mutual TLS, plain SMPP refused on it).
//! - `peers`: npm `smpp` and PyPI `smpplib` clients (run with `SMSGATE_INTEROP=1`).

mod feeds;
mod long_messages;
mod peers;
mod query_cancel;
mod sessions;
mod submit;
mod tls;

use std::time::Duration;

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
use smsgate_testkit::TestGateway;
use smsgate_testkit::interop::{self, Peer};

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
    let mut c = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "100ms"}));
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
    let mut all = gw
        .store
        .list_messages(&MessageQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    all.retain(|m| m.api_key_id.as_deref() == Some(owner));
    all
}

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
