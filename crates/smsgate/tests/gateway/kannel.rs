//! Kannel's `sendsms` against Debian's real Kannel 1.4.5: the same `curl` line is sent to a
//! bearerbox + smsbox (with an SMPP link to `smsgate sim smsc`) and to smsgate's `[kannel]`
//! listener, and the answers and the `dlr-url` calls are compared. Run with
//! `SMSGATE_INTEROP=1` (Kannel installed: `apt-get install kannel`, done by `.ci/run`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use smsgate_testkit::TestGateway;
use smsgate_testkit::interop;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A free port on loopback (Kannel's config needs numbers).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Records the request line of every GET it gets (the dlr-url calls).
#[derive(Clone, Default)]
struct DlrSink {
    seen: Arc<Mutex<Vec<String>>>,
}

impl DlrSink {
    async fn start(&self) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::clone(&self.seen);
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&buf);
                    let line = text.lines().next().unwrap_or_default().to_owned();
                    seen.lock().unwrap().push(line);
                    let _ = s
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        )
                        .await;
                });
            }
        });
        port
    }

    /// The query parameters of the calls whose path is `path`.
    fn calls(&self, path: &str) -> Vec<BTreeMap<String, String>> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| {
                let target = l.split(' ').nth(1)?;
                let (p, q) = target.split_once('?')?;
                (p == path).then(|| form_pairs(q))
            })
            .collect()
    }
}

fn form_pairs(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(Ok(v)) = s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16))
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `curl` as a Kannel user runs it: `(status, body)`.
async fn curl(args: &[&str]) -> (u16, String) {
    let out = tokio::process::Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .await
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.trim().to_owned())
}

/// Kills the children on drop.
pub(crate) struct Procs(pub(crate) Vec<tokio::process::Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.start_kill();
        }
    }
}

async fn wait_port(port: u16) {
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing listens on {port}");
}

fn sbin(name: &str) -> String {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin"] {
        let p = format!("{dir}/{name}");
        if std::path::Path::new(&p).exists() {
            return p;
        }
    }
    panic!("{name} missing: apt-get install kannel (done by .ci/run)");
}

/// Starts `smsgate sim smsc`, bearerbox and smsbox; the sendsms port.
pub(crate) async fn start_kannel(dir: &std::path::Path, procs: &mut Procs) -> u16 {
    let (smsc, admin, boxp, sendsms) = (free_port(), free_port(), free_port(), free_port());
    procs.0.push(
        tokio::process::Command::new(crate::SMSGATE)
            .args(["sim", "smsc", "--listen", &format!("127.0.0.1:{smsc}")])
            .args([
                "--receipt-delay",
                "100ms",
                "--id-format",
                "decimal",
                "--stats-every",
                "0s",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap(),
    );
    wait_port(smsc).await;
    let d = dir.display();
    let conf = format!(
        r#"group = core
admin-port = {admin}
admin-password = test
admin-allow-ip = "127.0.0.1"
smsbox-port = {boxp}
box-allow-ip = "127.0.0.1"
log-level = 1
log-file = "{d}/bearerbox.log"
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = sim
host = 127.0.0.1
port = {smsc}
transceiver-mode = true
smsc-username = kannel
smsc-password = secret
system-type = ""
msg-id-type = 0x00

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {boxp}
sendsms-port = {sendsms}
log-level = 1
log-file = "{d}/smsbox.log"

group = sendsms-user
username = tester
password = foobar
max-messages = 10
concatenation = true
"#
    );
    let path = dir.join("kannel.conf");
    std::fs::write(&path, conf).unwrap();
    for bin in ["bearerbox", "smsbox"] {
        procs.0.push(
            tokio::process::Command::new(sbin(bin))
                .arg(&path)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap(),
        );
        wait_port(if bin == "bearerbox" { boxp } else { sendsms }).await;
    }
    // The SMPP link binds shortly after bearerbox starts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    sendsms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_sendsms_lines_get_kannels_answers_and_dlr_calls() {
    if !interop::enabled("the_same_sendsms_lines_get_kannels_answers_and_dlr_calls") {
        return;
    }
    let sink = DlrSink::default();
    let sink_port = sink.start().await;
    let kdir = tempfile::tempdir().unwrap();
    let mut procs = Procs(Vec::new());
    let kannel_port = start_kannel(kdir.path(), &mut procs).await;

    let dir = tempfile::tempdir().unwrap();
    let mut config = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "100ms"}));
    config.kannel = Some(
        serde_json::from_value(json!({
            "listen": "127.0.0.1:0",
            "users": [{"username": "tester", "password": "foobar"}],
        }))
        .unwrap(),
    );
    let t = TestGateway::start_with(config, dir).await;
    let ours = t.gw.kannel_addr.unwrap().port();

    // The lines a Kannel user runs, with only host and port (and the dlr-url's tag) changed.
    let line = |port: u16, tag: &str, extra: &str| {
        let dlr = format!(
            "http://127.0.0.1:{sink_port}/{tag}?type=%d&to=%p&from=%P&ts=%T&answer=%A&smsc=%i"
        );
        let dlr: String = form_urlencoded_encode(&dlr);
        format!(
            "http://127.0.0.1:{port}/cgi-bin/sendsms?username=tester&password=foobar\
             &to=%2B4915112345678&from=12345&text=Hello+from+Kannel&dlr-mask=31&dlr-url={dlr}{extra}"
        )
    };
    let cases: Vec<(&str, String, String)> = vec![
        (
            "accepted",
            line(kannel_port, "kannel", ""),
            line(ours, "smsgate", ""),
        ),
        (
            "wrong password",
            line(kannel_port, "x", "").replace("password=foobar", "password=nope"),
            line(ours, "x", "").replace("password=foobar", "password=nope"),
        ),
        (
            "8-bit with a port udh",
            line(
                kannel_port,
                "x",
                "&udh=%06%05%04%0B%84%23%F0&coding=1&mclass=1",
            )
            .replace("text=Hello+from+Kannel", "text=%01%FF%00%80"),
            line(ours, "x", "&udh=%06%05%04%0B%84%23%F0&coding=1&mclass=1")
                .replace("text=Hello+from+Kannel", "text=%01%FF%00%80"),
        ),
        (
            "no sender",
            line(kannel_port, "x", "").replace("&from=12345", ""),
            line(ours, "x", "").replace("&from=12345", ""),
        ),
        (
            "no receiver",
            line(kannel_port, "x", "").replace("&to=%2B4915112345678", ""),
            line(ours, "x", "").replace("&to=%2B4915112345678", ""),
        ),
    ];
    for (what, theirs, mine) in &cases {
        let a = curl(&[theirs]).await;
        let b = curl(&[mine]).await;
        assert_eq!(b, a, "{what}: smsgate answered {b:?}, Kannel {a:?}");
    }
    // The 8-bit one is a binary message here, byte for byte with its port element.
    let (_, page) = t.call("GET", "/v1/messages?limit=50", None).await;
    let bin = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["encoding"] == "binary")
        .cloned()
        .unwrap_or_else(|| panic!("no binary message: {page}"));
    assert_eq!(bin["text"], "01ff0080", "{bin}");
    assert_eq!(
        bin["binary"],
        json!({"udh": "05040b8423f0", "data_coding": 245}),
        "{bin}"
    );
    // smsbox's POST: parameters as X-Kannel-* headers, the text as the body.
    let post = |port: u16| {
        vec![
            "-H".to_owned(),
            "X-Kannel-Username: tester".to_owned(),
            "-H".to_owned(),
            "X-Kannel-Password: foobar".to_owned(),
            "-H".to_owned(),
            "X-Kannel-To: +4915112345679".to_owned(),
            "-H".to_owned(),
            "X-Kannel-From: 12345".to_owned(),
            "-H".to_owned(),
            "Content-Type: text/plain".to_owned(),
            "--data".to_owned(),
            "by POST".to_owned(),
            format!("http://127.0.0.1:{port}/cgi-bin/sendsms"),
        ]
    };
    let args = |v: &[String]| {
        v.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\u{1}")
    };
    let (pk, po) = (post(kannel_port), post(ours));
    let a = curl(&args(&pk).split('\u{1}').collect::<Vec<_>>()).await;
    let b = curl(&args(&po).split('\u{1}').collect::<Vec<_>>()).await;
    assert_eq!(b, a, "POST with X-Kannel headers");
    // Kannel refuses a form POST ("Invalid content-type"); smsgate takes it, as scripts that
    // post forms expect.
    let form = "username=tester&password=foobar&to=%2B4915112345679&from=12345&text=by+form";
    let a = curl(&[
        "--data",
        form,
        &format!("http://127.0.0.1:{kannel_port}/cgi-bin/sendsms"),
    ])
    .await;
    assert_eq!(a, (400, "Invalid content-type".to_owned()));
    let b = curl(&[
        "--data",
        form,
        &format!("http://127.0.0.1:{ours}/cgi-bin/sendsms"),
    ])
    .await;
    assert_eq!(b, (202, "0: Accepted for delivery".to_owned()));

    // The reports: the same types, in the same order, with the same fields.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (k, s) = (sink.calls("/kannel"), sink.calls("/smsgate"));
        let done = |c: &[BTreeMap<String, String>]| c.iter().any(|m| m["type"] == "1");
        if done(&k) && done(&s) {
            let types = |c: &[BTreeMap<String, String>]| {
                c.iter().map(|m| m["type"].clone()).collect::<Vec<_>>()
            };
            assert_eq!(types(&s), types(&k), "kannel {k:?}\nsmsgate {s:?}");
            for (ours, theirs) in s.iter().zip(&k) {
                for field in ["to", "from", "type"] {
                    assert_eq!(
                        ours[field], theirs[field],
                        "{field}: {ours:?} vs {theirs:?}"
                    );
                }
                let ts: i64 = ours["ts"].parse().unwrap();
                let kts: i64 = theirs["ts"].parse().unwrap();
                assert!((ts - kts).abs() < 30, "ts {ts} vs {kts}");
            }
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "dlr calls: kannel {k:?}, smsgate {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(procs);
    t.gw.shutdown().await;
}

fn form_urlencoded_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn an_inbound_sms_calls_a_kannel_get_url_and_its_answer_is_sent_back() {
    // A get-url service answering "Gold: 1900 EUR" in plain text, as Kannel services do.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    {
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let line = String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                seen.lock().unwrap().push(line);
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\
                          Connection: close\r\n\r\nGold: 1900 EUR",
                    )
                    .await;
            }
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    config.inbound_rules = serde_json::from_value(json!([{
        "keyword": "PRICE",
        "kannel_url": format!("http://127.0.0.1:{port}/svc?from=%p&to=%P&kw=%k&q=%r&ts=%T"),
    }]))
    .unwrap();
    let t = TestGateway::start_with(config, dir).await;
    let (status, v) = t
        .call(
            "POST",
            "/v1/sim/inbound",
            Some(json!({"from": "+4915112345678", "to": "+4930555000", "text": "price gold"})),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let reply = loop {
        let (_, page) = t.call("GET", "/v1/messages?limit=50", None).await;
        if let Some(m) = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["text"] == "Gold: 1900 EUR")
        {
            break m.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no answer: {page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(reply["to"], "+4915112345678", "{reply}");
    assert_eq!(reply["from"], "+4930555000", "{reply}");
    let line = seen.lock().unwrap()[0].clone();
    let target = line.split(' ').nth(1).unwrap();
    let q = form_pairs(target.split_once('?').unwrap().1);
    assert_eq!(q["from"], "+4915112345678", "{line}");
    assert_eq!(q["to"], "+4930555000", "{line}");
    assert_eq!(q["kw"], "price", "{line}");
    assert_eq!(q["q"], "gold", "{line}");
    assert!(q["ts"].parse::<i64>().is_ok(), "{line}");
    t.gw.shutdown().await;
}
