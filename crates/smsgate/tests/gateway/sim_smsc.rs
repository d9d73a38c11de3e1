//! `smsgate sim smsc`: the command line parses into the simulator's settings, and a started
//! simulator (SMPP and control API on port 0) serves an ESME, counts what it did, and injects
//! MO messages through `POST /mo`.

use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};
use smsgate::cli::sim::SimAction;
use smsgate::cli::{Cli, Command};
use smsgate::sim_smsc::{SmscArgs, start};
use smsgate_smpp::client::{self, ClientConfig, ClientEvent};
use smsgate_smpp::receipt::IdRadix;
use smsgate_smpp::session::{BindParams, BindType};

async fn post(c: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let r = c
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap(),
    )
}

async fn get(c: &reqwest::Client, url: String) -> Value {
    serde_json::from_str(&c.get(url).send().await.unwrap().text().await.unwrap()).unwrap()
}

fn parse(args: &[&str]) -> SmscArgs {
    let cli = Cli::try_parse_from(["smsgate", "sim", "smsc"].iter().chain(args)).unwrap();
    match cli.command {
        Command::Sim {
            action: SimAction::Smsc(a),
        } => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_command_line_becomes_simulator_settings() {
    let a = parse(&[
        "--listen",
        "127.0.0.1:0",
        "--receipt-delay",
        "250ms",
        "--throttle-rate",
        "0.25",
        "--account",
        "esme:pw",
        "--id-format",
        "decimal",
        "--text-id-decimal",
    ]);
    let c = a.sim_config().unwrap();
    assert_eq!(c.receipt_delay, Duration::from_millis(250));
    assert_eq!(c.throttle_rate, 0.25);
    assert_eq!(c.accounts, vec![("esme".to_owned(), "pw".to_owned())]);
    assert_eq!(c.id_format, IdRadix::Decimal);
    assert!(c.text_id_decimal);
    let e = parse(&["--failure-rate", "2"]).sim_config().unwrap_err();
    assert!(e.to_string().contains("--failure-rate"), "{e}");
    let e = parse(&["--account", "nopassword"])
        .sim_config()
        .unwrap_err();
    assert!(e.to_string().contains("system_id:password"), "{e}");
}

#[tokio::test]
async fn a_running_simulator_serves_smpp_and_reports_over_http() {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let args = parse(&[
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--receipt-delay",
        "10ms",
    ]);
    let running = start(args, async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let http = format!("http://{}", running.http.unwrap());

    let config = ClientConfig::new(BindParams::new(BindType::Transceiver, "esme", "pw"));
    let (client, mut events) = client::connect(running.smpp, config).await.unwrap();
    let sm = rusmpp::pdus::SubmitSm::builder()
        .destination_addr(smsgate_smpp::session::c_string::<21>("4915112345678", "d").unwrap())
        .registered_delivery(rusmpp::values::RegisteredDelivery::from(1))
        .short_message(rusmpp::types::OctetString::from_vec(b"hi".to_vec()).unwrap())
        .build();
    client.submit(sm).await.unwrap();
    // The receipt comes back as a deliver_sm; acknowledge it.
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
        {
            Some(ClientEvent::Inbound(i)) => {
                assert!(i.receipt().is_some());
                i.ack();
                break;
            }
            Some(_) => {}
            None => panic!("session ended"),
        }
    }
    let http_client = reqwest::Client::new();
    let mo = tokio::spawn({
        let (c, url) = (http_client.clone(), format!("{http}/mo"));
        async move {
            let body = json!({"from": "+4915112345678", "to": "1234", "text": "hello"});
            post(&c, url, body).await.0
        }
    });
    loop {
        match events.recv().await {
            Some(ClientEvent::Inbound(i)) if i.receipt().is_none() => {
                let sm = i.deliver_sm().unwrap();
                assert_eq!(sm.source_addr.as_str(), "4915112345678");
                i.ack();
                break;
            }
            Some(_) => {}
            None => panic!("session ended"),
        }
    }
    assert_eq!(mo.await.unwrap(), 200);
    let body = json!({"from": "1", "to": "2", "text": "x", "long": "pigeon"});
    let (status, bad) = post(&http_client, format!("{http}/mo"), body).await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("invalid_long"))
    );

    let stats = get(&http_client, format!("{http}/stats")).await;
    assert_eq!(stats["accepted"], 1);
    assert_eq!(stats["receipts_acked"], 1);
    assert_eq!(stats["mo_delivered"], 1);
    let msgs = get(&http_client, format!("{http}/messages?limit=5")).await;
    assert_eq!(msgs["data"][0]["short_message_hex"], "6869");

    let _ = stop.send(());
    running.task.await.unwrap().unwrap();
    assert!(!client.is_bound(), "shutdown unbinds the ESME");
}
