//! The security suite at the gateway's edge (docs/security.md lists every control and where
//! it is tested): a slowloris client, a connection flood, a trickled body, the dashboard's
//! headers, HTTPS, SSRF attempts, an SMPP client that keeps retrying binds. The per-tenant
//! findings are in the API's `tenants` tests and the IoT engine's tests.

use std::time::{Duration, Instant};

use serde_json::json;
use smsgate_testkit::TestGateway;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn gateway_with(edit: impl FnOnce(&mut smsgate::config::Config)) -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let mut c = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    edit(&mut c);
    TestGateway::start_with(c, dir).await
}

/// Reads until the peer closes (0) or `limit` passes; how long it took, or `None`.
async fn closed_within(
    s: &mut (impl tokio::io::AsyncRead + Unpin),
    limit: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit.saturating_sub(start.elapsed()), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

async fn a_slowloris_client_is_cut_off_after_the_header_timeout() {
    let t = gateway_with(|c| c.http.header_timeout = Duration::from_secs(1)).await;
    let slow = TcpStream::connect(t.gw.addr).await.unwrap();
    let (mut rd, mut wr) = slow.into_split();
    wr.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One header byte every 300 ms: never a complete head, never idle for long.
    let trickle = tokio::spawn(async move {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if wr.write_all(b"X").await.is_err() {
                break;
            }
        }
    });
    // Others are served while it trickles.
    let (status, _) = t.call("GET", "/v1/stats", None).await;
    assert_eq!(status, 200);
    let took = closed_within(&mut rd, Duration::from_secs(6))
        .await
        .expect("the server closes a connection whose headers never end");
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
    trickle.abort();
    t.gw.shutdown().await;
}

async fn connections_beyond_the_limit_are_closed_and_the_api_stays_up() {
    let t = gateway_with(|c| {
        c.http.max_connections = 4;
        c.http.header_timeout = Duration::from_secs(5);
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(t.gw.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = TcpStream::connect(t.gw.addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    assert!(
        closed_within(&mut extra, Duration::from_secs(2))
            .await
            .is_some(),
        "the fifth connection is closed at once"
    );
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = t.call("GET", "/v1/stats", None).await;
    assert_eq!(status, 200, "served again once the idle ones are gone");
    t.gw.shutdown().await;
}

async fn a_trickled_body_gets_408_after_the_request_timeout() {
    let t = gateway_with(|c| c.http.request_timeout = Duration::from_secs(1)).await;
    let mut s = TcpStream::connect(t.gw.addr).await.unwrap();
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"to\"",
        t.key
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "an answer within the timeout");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request_timeout"), "{text}");
    t.gw.shutdown().await;
}

async fn the_dashboard_and_the_api_answer_with_security_headers() {
    let t = TestGateway::start(json!({})).await;
    let res = reqwest::get(format!("{}/", t.base)).await.unwrap();
    let h = res.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'sha256-"),
        "only the page's own script: {csp}"
    );
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    let res = reqwest::get(format!("{}/healthz", t.base)).await.unwrap();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    t.gw.shutdown().await;
}

async fn https_is_served_with_the_configured_certificate() {
    let file = |n: &str| std::path::PathBuf::from(smsgate_testkit::interop::tls_file(n));
    let t = gateway_with(|c| {
        c.http.tls_cert = Some(file("server.pem"));
        c.http.tls_key = Some(file("server.key"));
    })
    .await;
    let ca = reqwest::Certificate::from_pem(&std::fs::read(file("ca.pem")).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let port = t.gw.addr.port();
    let res = client
        .get(format!("https://localhost:{port}/v1/stats"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Plain HTTP on the HTTPS port gets no answer.
    let mut s = TcpStream::connect(t.gw.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .map(|r| r.unwrap_or(0))
        .unwrap_or(0);
    assert!(!String::from_utf8_lossy(&buf[..n]).contains("200 OK"));
    t.gw.shutdown().await;
}

async fn a_tenant_cannot_aim_webhooks_at_metadata_or_loopback() {
    let t = TestGateway::start(json!({})).await;
    let (status, v) = t
        .call(
            "POST",
            "/v1/keys",
            Some(
                json!({"name": "acme", "tenant": "acme", "scopes": ["webhooks", "messages:send"]}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let secret = v["secret"].as_str().unwrap();
    for url in [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        &format!("{}/v1/keys", t.base),
        "http://localhost:8080/",
    ] {
        let (status, v) = t
            .call_as(
                secret,
                "POST",
                "/v1/webhooks",
                Some(json!({"url": url, "events": ["*"]})),
            )
            .await;
        assert_eq!(status, 422, "{url}: {v}");
        assert_eq!(v["error"]["code"], "url_not_allowed");
    }
    t.gw.shutdown().await;
}

smsgate_testkit::both_backends!(
    a_slowloris_client_is_cut_off_after_the_header_timeout,
    connections_beyond_the_limit_are_closed_and_the_api_stays_up,
    a_trickled_body_gets_408_after_the_request_timeout,
    the_dashboard_and_the_api_answer_with_security_headers,
    https_is_served_with_the_configured_certificate,
    a_tenant_cannot_aim_webhooks_at_metadata_or_loopback,
);
