//! The commands that set a gateway up, run as the real binary: `smsgate init` writes a file
//! that a gateway starts from and delivers with, and keeps an existing file unless forced;
//! `smsgate completions` and `smsgate man` print what the shells and `man` read.

use std::process::Command;

use serde_json::json;
use smsgate_testkit::TestGateway;

fn smsgate(args: &[&str]) -> std::process::Output {
    Command::new(crate::SMSGATE)
        .args(args)
        .output()
        .expect("run smsgate")
}

#[tokio::test]
async fn the_file_smsgate_init_writes_runs_a_gateway_that_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smsgate.toml");
    let p = path.to_str().unwrap();
    let out = smsgate(&["init", "--setup", "simulator", p]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("smsgate serve --config"));

    // A second init keeps the operator's file.
    std::fs::write(&path, "# edited\n").unwrap();
    let out = smsgate(&["init", "--setup", "smpp", p]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--force"),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# edited\n");
    let out = smsgate(&["init", "--force", "--setup", "simulator", p]);
    assert!(out.status.success(), "{out:?}");

    // The file as written, with only the port and the data directory of a test.
    let mut config = smsgate::config::Config::load(Some(&path)).unwrap();
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.store.url = format!("sqlite://{}/smsgate.db", dir.path().display());
    let t = TestGateway::start_with(config, dir).await;
    let id = t
        .send(json!({"to": "+4915112345678", "text": "first"}))
        .await;
    t.wait_status(&id, "delivered").await;
    t.gw.shutdown().await;
}

#[test]
fn completions_and_the_man_page_come_from_the_binary() {
    let out = smsgate(&["completions", "bash"]);
    assert!(out.status.success(), "{out:?}");
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(
        script.contains("tail") && script.contains("top"),
        "{script}"
    );
    let out = smsgate(&["man"]);
    assert!(out.status.success(), "{out:?}");
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH smsgate"), "{page}");
    assert!(page.contains("serve"), "{page}");
}
