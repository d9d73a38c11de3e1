//! `smsgate bench` as a user runs it: the real binary, a short run on each network, and the
//! report's figures present and consistent with the run (every message final, as many
//! `delivered` events as messages).

use std::process::Command;

fn bench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .arg("bench")
        .args(args)
        .output()
        .expect("cannot run smsgate bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "smsgate bench {args:?} failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn figure(report: &str, label: &str) -> f64 {
    let line = report
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no '{label}' line in:\n{report}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no figure on '{line}'"))
}

#[test]
fn bench_on_the_simulated_network_reports_every_figure() {
    let r = bench(&[
        "-n",
        "300",
        "--mode",
        "single",
        "-c",
        "8",
        "--receipt-delay",
        "20ms",
    ]);
    assert!(r.contains("all 300 final"), "{r}");
    assert!(figure(&r, "accepted") > 0.0, "{r}");
    assert!(figure(&r, "submitted") > 0.0, "{r}");
    assert!(figure(&r, "receipts") > 0.0, "{r}");
    assert!(
        r.contains("(gateway `delivered` event times, n=300)"),
        "{r}"
    );
    for label in [
        "accept (per request)",
        "accept → sent",
        "accept → delivered",
    ] {
        let line = r.lines().find(|l| l.starts_with(label)).unwrap();
        assert!(line.contains("n=300"), "{line}");
    }
    assert!(r.contains("peak RSS"), "{r}");
}

#[test]
fn bench_over_smpp_with_batches_delivers_everything() {
    let r = bench(&[
        "-n",
        "400",
        "--mode",
        "batch",
        "--batch-size",
        "50",
        "-c",
        "4",
        "--network",
        "smpp",
        "--receipt-delay",
        "20ms",
    ]);
    assert!(r.contains("network smpp"), "{r}");
    assert!(r.contains("all 400 final"), "{r}");
    assert!(r.contains("(gateway `sent` event times, n=400)"), "{r}");
    let line = r
        .lines()
        .find(|l| l.starts_with("accept (per batch)"))
        .unwrap();
    assert!(line.contains("n=8"), "{line}");
}

#[test]
fn bench_hold_reports_memory_as_the_queue_grows() {
    let r = bench(&["-n", "1000", "--hold", "-c", "4"]);
    let samples = r
        .lines()
        .filter(|l| l.starts_with("memory while queueing"))
        .count();
    assert!(samples >= 5, "{r}");
    assert!(
        !r.contains("end to end"),
        "held messages are not delivered: {r}"
    );
}

#[test]
fn bench_refuses_impossible_options() {
    let out = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .args(["bench", "--batch-size", "5000"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("above the API's 1,000"));
}
