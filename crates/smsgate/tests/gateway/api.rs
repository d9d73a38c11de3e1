//! REST API tests over real HTTP on 127.0.0.1 (port 0) against an in-process gateway with the
//! simulated network: the lifecycle, webhooks, batches, auth, pagination, cancel, idempotency,
//! expiry and validation.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use smsgate_testkit::{Receiver, TestGateway};

/// Verifies `t=…,v1=…` independently of the gateway's own code.
fn signature_ok(secret: &str, header: &str, body: &str) -> bool {
    let mut t = "";
    let mut v1 = "";
    for part in header.split(',') {
        if let Some(x) = part.strip_prefix("t=") {
            t = x;
        }
        if let Some(x) = part.strip_prefix("v1=") {
            v1 = x;
        }
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    !t.is_empty() && hex::encode(mac.finalize().into_bytes()) == v1
}

fn statuses(m: &Value) -> Vec<String> {
    m["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == e["status"])
        .map(|e| e["status"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_sent_message_is_delivered_with_its_timeline_and_signed_webhooks() {
    let t = TestGateway::start(json!({})).await;
    let rx = Receiver::start().await;
    let (s, hook) = t
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": rx.url, "events": ["message.status"]})),
        )
        .await;
    assert_eq!(s, 201, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_owned();

    let (s, acc) = t
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "Pump 3: pressure low"})),
        )
        .await;
    assert_eq!(s, 202);
    assert_eq!(
        (
            acc["status"].as_str(),
            acc["segments"].as_u64(),
            acc["encoding"].as_str()
        ),
        (Some("queued"), Some(1), Some("gsm7"))
    );
    let id = acc["id"].as_str().unwrap();

    let m = t.wait_status(id, "delivered").await;
    assert_eq!(statuses(&m), ["queued", "sending", "sent", "delivered"]);
    assert_eq!(m["connector"], "sim");

    let hit = rx
        .wait_for(|v| v["data"]["id"] == id && v["data"]["status"] == "delivered")
        .await;
    let body: Value = serde_json::from_str(&hit.body).unwrap();
    assert_eq!(body["event"], "message.status");
    assert!(
        signature_ok(&secret, &hit.signature, &hit.body),
        "bad signature {}",
        hit.signature
    );
    assert!(!signature_ok(
        "wrong-secret-1234",
        &hit.signature,
        &hit.body
    ));
    // The subscription is listed without its secret and can be removed.
    let (_, list) = t.call("GET", "/v1/webhooks", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("secret").is_none());
    let (s, _) = t
        .call(
            "DELETE",
            &format!("/v1/webhooks/{}", hook["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 204);
    t.gw.shutdown().await;
}

async fn a_callback_url_gets_status_events_signed_with_the_key_hash() {
    let t = TestGateway::start(json!({})).await;
    let rx = Receiver::start().await;
    let id = t
        .send(json!({"to": "+4915112345678", "text": "hi", "callback_url": rx.url}))
        .await;
    let hit = rx
        .wait_for(|v| v["data"]["id"] == id && v["data"]["status"] == "delivered")
        .await;
    let secret = hex::encode(Sha256::digest(t.key.as_bytes()));
    assert!(signature_ok(&secret, &hit.signature, &hit.body));
    t.gw.shutdown().await;
}

async fn a_long_unicode_message_counts_its_parts_and_is_delivered_once_every_part_is() {
    let t = TestGateway::start(json!({})).await;
    let text = "Überdruck in Kessel 7 – bitte prüfen 🔥 ".repeat(5);
    let (s, acc) = t
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": text})),
        )
        .await;
    assert_eq!(s, 202);
    assert_eq!(acc["encoding"], "ucs2");
    assert!(acc["segments"].as_u64().unwrap() >= 3, "{acc}");
    let m = t
        .wait_status(acc["id"].as_str().unwrap(), "delivered")
        .await;
    let parts = m["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "part_delivered")
        .count();
    assert_eq!(parts as u64, acc["segments"].as_u64().unwrap() - 1, "{m}");
    t.gw.shutdown().await;
}

async fn a_batch_accepts_the_valid_entries_and_names_what_is_wrong_with_the_rest() {
    let t = TestGateway::start(json!({})).await;
    let body = json!({"messages": [
        {"to": "+4915112345678", "text": "one"},
        {"to": "0151 1234", "text": "national number"},
        {"to": "+4915112345679", "text": ""},
        {"to": "+4915112345670", "text": "three", "colour": "red"},
        {"to": "+4915112345671", "text": "four"},
    ]});
    let (s, r) = t.call("POST", "/v1/messages/batch", Some(body)).await;
    assert_eq!(s, 202, "{r}");
    assert_eq!(
        (r["accepted"].as_u64(), r["rejected"].as_u64()),
        (Some(2), Some(3))
    );
    let e = r["messages"].as_array().unwrap();
    assert_eq!(
        e.iter()
            .map(|x| x["index"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    assert_eq!(e[0]["status"], "queued");
    assert_eq!(e[1]["error"]["code"], "invalid_number");
    assert_eq!(e[2]["error"]["code"], "empty_text");
    assert_eq!(e[3]["error"]["code"], "invalid_json");
    assert!(
        e[3]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour")
    );
    t.wait_status(e[4]["id"].as_str().unwrap(), "delivered")
        .await;
    let (s, r) = t
        .call("POST", "/v1/messages/batch", Some(json!({"messages": []})))
        .await;
    assert_eq!((s, r["error"]["code"].as_str()), (400, Some("empty_batch")));
    t.gw.shutdown().await;
}

async fn requests_without_a_valid_key_get_401_and_revoked_keys_stop_working() {
    let t = TestGateway::start(json!({})).await;
    let (s, r) = t.call_as("", "GET", "/v1/messages", None).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (s, _) = t.call_as("sk_wrong", "GET", "/v1/messages", None).await;
    assert_eq!(s, 401);
    let (s, _) = t
        .call_as(
            &format!("{}x", t.key),
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "x"})),
        )
        .await;
    assert_eq!(s, 401);

    // A second, non-admin key sees only its own messages; revoking it locks it out.
    let k = smsgate_core::keys::generate();
    t.gw.store
        .create_api_key(smsgate_core::store::ApiKey {
            id: k.id.clone(),
            name: "app".into(),
            prefix: k.prefix.clone(),
            admin: false,
            tenant: "app".into(),
            scopes: smsgate_core::keys::default_scopes(),
            rate_limit: None,
            created_at: 0,
            revoked_at: None,
            secret_hash: k.hash.clone(),
        })
        .await
        .unwrap();
    let admin_msg = t
        .send(json!({"to": "+4915112345678", "text": "admin's"}))
        .await;
    let (s, _) = t
        .call_as(&k.secret, "GET", &format!("/v1/messages/{admin_msg}"), None)
        .await;
    assert_eq!(s, 404);
    let (s, _) = t
        .call_as(
            &k.secret,
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "mine"})),
        )
        .await;
    assert_eq!(s, 202);
    let (_, page) = t.call_as(&k.secret, "GET", "/v1/messages", None).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert!(t.gw.store.revoke_api_key(&k.id, 1).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await; // key cache TTL
    let (s, _) = t.call_as(&k.secret, "GET", "/v1/messages", None).await;
    assert_eq!(s, 401);
    t.gw.shutdown().await;
}

async fn listing_pages_newest_first_with_a_cursor_and_filters() {
    let t = TestGateway::start(json!({})).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            t.send(json!({"to": format!("+491511234567{i}"), "text": format!("m{i}")}))
                .await,
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/messages?limit=3&cursor={c}"),
            None => "/v1/messages?limit=3".into(),
        };
        let (s, page) = t.call("GET", &path, None).await;
        assert_eq!(s, 200, "{page}");
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
    let (_, page) = t
        .call("GET", "/v1/messages?to=%2B4915112345673", None)
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let (s, r) = t.call("GET", "/v1/messages?status=lost", None).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (400, Some("invalid_status"))
    );
    let (s, _) = t.call("GET", "/v1/messages?limit=0", None).await;
    assert_eq!(s, 400);
    t.gw.shutdown().await;
}

async fn a_queued_message_can_be_canceled_but_a_sent_one_cannot() {
    let t = TestGateway::start(json!({})).await;
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3600);
    let id = t
        .send(json!({"to": "+4915112345678", "text": "later", "send_at": later.to_string()}))
        .await;
    let (s, m) = t.call("DELETE", &format!("/v1/messages/{id}"), None).await;
    assert_eq!((s, m["status"].as_str()), (200, Some("canceled")));
    let (s, m) = t.call("DELETE", &format!("/v1/messages/{id}"), None).await;
    assert_eq!(
        (s, m["status"].as_str()),
        (200, Some("canceled")),
        "canceling twice is harmless"
    );
    let (_, m) = t.call("GET", &format!("/v1/messages/{id}"), None).await;
    assert_eq!(statuses(&m), ["queued", "canceled"]);
    let now = t.send(json!({"to": "+4915112345678", "text": "now"})).await;
    t.wait_status(&now, "delivered").await;
    let (s, r) = t.call("DELETE", &format!("/v1/messages/{now}"), None).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (409, Some("not_cancelable"))
    );
    let (s, _) = t
        .call(
            "DELETE",
            "/v1/messages/01234567-89ab-7def-8123-456789abcdef",
            None,
        )
        .await;
    assert_eq!(s, 404);
    t.gw.shutdown().await;
}

async fn the_same_idempotency_key_returns_the_same_message_never_a_second() {
    let t = TestGateway::start(json!({})).await;
    let body = json!({"to": "+4915112345678", "text": "once", "idempotency_key": "order-42"});
    let (s1, a) = t.call("POST", "/v1/messages", Some(body.clone())).await;
    let (s2, b) = t.call("POST", "/v1/messages", Some(body.clone())).await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(a["id"], b["id"]);
    // Concurrent repeats share one group commit and still produce one message.
    let calls = (0..8).map(|_| {
        t.call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "race", "idempotency_key": "race-1"})),
        )
    });
    let results = futures::future::join_all(calls).await;
    let first = &results[0].1["id"];
    assert!(results.iter().all(|(s, r)| *s == 202 && &r["id"] == first));
    let (_, page) = t.call("GET", "/v1/messages?limit=100", None).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    t.gw.shutdown().await;
}

async fn a_message_that_cannot_be_sent_before_its_validity_expires() {
    let t = TestGateway::start(json!({"throttle_rate": 1.0})).await;
    let id = t
        .send(json!({"to": "+4915112345678", "text": "urgent", "validity": "1s"}))
        .await;
    let m = t.wait_status(&id, "expired").await;
    assert_eq!(m["error_code"], "expired");
    assert!(
        m["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "throttled"),
        "{m}"
    );
    t.gw.shutdown().await;
}

async fn permanent_errors_fail_and_network_failures_are_undelivered() {
    let t = TestGateway::start(json!({"reject_rate": 1.0})).await;
    let id = t.send(json!({"to": "+4915112345678", "text": "x"})).await;
    let m = t.wait_status(&id, "failed").await;
    assert_eq!(m["error_code"], "rejected");
    assert_eq!(m["attempts"], 1);
    t.gw.shutdown().await;

    let t = TestGateway::start(json!({"failure_rate": 1.0})).await;
    let id = t.send(json!({"to": "+4915112345678", "text": "x"})).await;
    let m = t.wait_status(&id, "undelivered").await;
    assert_eq!(statuses(&m), ["queued", "sending", "sent", "undelivered"]);
    t.gw.shutdown().await;
}

async fn invalid_requests_get_json_errors_that_say_what_to_fix() {
    let t = TestGateway::start(json!({})).await;
    let (s, r) = t
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "a".repeat(2000)})),
        )
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (400, Some("text_too_long"))
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limit is 10"),
        "{r}"
    );
    let (s, r) = t
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "txt": "typo"})),
        )
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );
    let (s, r) = t
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "x", "send_at": "tomorrow"})),
        )
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (400, Some("invalid_send_at"))
    );
    let (s, r) = t
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "x", "encoding": "gsm7"})),
        )
        .await;
    assert_eq!((s, r["encoding"].as_str()), (202, Some("gsm7")));
    let (s, r) = t
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "Ж", "encoding": "gsm7"})),
        )
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (400, Some("unencodable_text"))
    );
    let huge = json!({"to": "+4915112345678", "text": "x".repeat(2 << 20)});
    let (s, r) = t.call("POST", "/v1/messages", Some(huge)).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (413, Some("body_too_large"))
    );
    let (s, r) = t.call("GET", "/v1/nothing", None).await;
    assert_eq!((s, r["error"]["code"].as_str()), (404, Some("not_found")));
    let (s, est) = t
        .call(
            "POST",
            "/v1/messages/estimate",
            Some(json!({"text": "a".repeat(161)})),
        )
        .await;
    assert_eq!(
        (s, est["segments"].as_u64(), est["encoding"].as_str()),
        (200, Some(2), Some("gsm7"))
    );
    t.gw.shutdown().await;
}

async fn an_inbound_sms_is_stored_listed_and_sent_to_webhooks() {
    let t = TestGateway::start(json!({})).await;
    let rx = Receiver::start().await;
    t.call(
        "POST",
        "/v1/webhooks",
        Some(json!({"url": rx.url, "events": ["message.*"], "secret": "0123456789abcdef"})),
    )
    .await;
    let (s, _) = t
        .call(
            "POST",
            "/v1/sim/inbound",
            Some(json!({"from": "+4915112345678", "text": "T=85"})),
        )
        .await;
    assert_eq!(s, 202);
    let (_, page) = t.call("GET", "/v1/inbound", None).await;
    assert_eq!(page["data"][0]["text"], "T=85");
    assert_eq!(page["data"][0]["from"], "+4915112345678");
    let hit = rx.wait_for(|v| v["event"] == "message.inbound").await;
    assert!(signature_ok("0123456789abcdef", &hit.signature, &hit.body));
    t.gw.shutdown().await;
}

async fn a_failing_webhook_endpoint_is_retried_and_does_not_block_others() {
    let t = TestGateway::start(json!({})).await;
    let dead = Receiver::start().await;
    *dead.status.lock().unwrap() = 500;
    let alive = Receiver::start().await;
    for url in [&dead.url, &alive.url] {
        t.call(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": url, "events": ["message.status"]})),
        )
        .await;
    }
    let id = t.send(json!({"to": "+4915112345678", "text": "x"})).await;
    alive
        .wait_for(|v| v["data"]["id"] == id && v["data"]["status"] == "delivered")
        .await;
    assert!(!dead.hits.lock().unwrap().is_empty());
    let (_, stats) = t.call("GET", "/v1/stats", None).await;
    assert!(stats["webhooks_pending"].as_u64().unwrap() > 0, "{stats}");
    t.gw.shutdown().await;
}

async fn the_openapi_document_describes_every_route() {
    let t = TestGateway::start(json!({})).await;
    let (s, doc) = t.call_as("", "GET", "/v1/openapi.json", None).await;
    assert_eq!(s, 200);
    for path in [
        "/v1/messages",
        "/v1/messages/batch",
        "/v1/messages/{id}",
        "/v1/inbound",
        "/v1/webhooks",
        "/v1/connectors",
        "/v1/channels",
        "/healthz",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    // No channel configured: an empty list.
    let (s, ch) = t.call("GET", "/v1/channels", None).await;
    assert_eq!(
        (s, ch["channels"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{ch}"
    );
    let (s, _) = t.call_as("", "GET", "/healthz", None).await;
    assert_eq!(s, 200);
    let (s, r) = t.call_as("", "GET", "/readyz", None).await;
    assert_eq!((s, r["ready"].as_bool()), (200, Some(true)));
    let (_, c) = t.call("GET", "/v1/connectors", None).await;
    assert_eq!(
        (c[0]["name"].as_str(), c[0]["state"].as_str()),
        (Some("sim"), Some("bound"))
    );
    t.gw.shutdown().await;
}

/// One gateway lists itself as the one live node, leading, with its address and nothing in
/// flight once idle; a non-admin key may not look, and `/metrics` counts the node.
async fn the_node_lists_itself_as_the_live_leader() {
    let t = TestGateway::start(json!({})).await;
    let (status, v) = t.call("GET", "/v1/nodes", None).await;
    assert_eq!(status, 200, "{v}");
    let nodes = v["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{v}");
    let me = &nodes[0];
    assert_eq!(me["id"], v["this_node"]);
    assert_eq!(me["live"], true);
    assert_eq!(me["http"], t.gw.addr.to_string());
    assert_eq!(me["in_flight"], 0);
    let (status, v) = t
        .call(
            "POST",
            "/v1/keys",
            Some(json!({"name": "acme", "tenant": "acme", "scopes": ["messages:send"]})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let secret = v["secret"].as_str().unwrap();
    let (status, _) = t.call_as(secret, "GET", "/v1/nodes", None).await;
    assert_eq!(status, 403);
    let metrics = reqwest::get(format!("{}/metrics", t.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("smsgate_nodes_live 1"), "{metrics}");
    let leader = format!(
        "smsgate_node_leader{{node=\"{}\"}} 1",
        me["id"].as_str().unwrap()
    );
    assert!(metrics.contains(&leader), "{metrics}");
    t.gw.shutdown().await;
}

smsgate_testkit::both_backends!(
    the_node_lists_itself_as_the_live_leader,
    a_sent_message_is_delivered_with_its_timeline_and_signed_webhooks,
    a_callback_url_gets_status_events_signed_with_the_key_hash,
    a_long_unicode_message_counts_its_parts_and_is_delivered_once_every_part_is,
    a_batch_accepts_the_valid_entries_and_names_what_is_wrong_with_the_rest,
    requests_without_a_valid_key_get_401_and_revoked_keys_stop_working,
    listing_pages_newest_first_with_a_cursor_and_filters,
    a_queued_message_can_be_canceled_but_a_sent_one_cannot,
    the_same_idempotency_key_returns_the_same_message_never_a_second,
    a_message_that_cannot_be_sent_before_its_validity_expires,
    permanent_errors_fail_and_network_failures_are_undelivered,
    invalid_requests_get_json_errors_that_say_what_to_fix,
    an_inbound_sms_is_stored_listed_and_sent_to_webhooks,
    a_failing_webhook_endpoint_is_retried_and_does_not_block_others,
    the_openapi_document_describes_every_route,
);
