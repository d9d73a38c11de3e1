//! Tenants and scopes, with two tenants side by side: each finding of the review (issue 15)
//! that the REST API can show, closed.

use serde_json::json;
use smsgate_testkit::http::Api;
use smsgate_testkit::store::tenant_key;

use crate::harness::{Server, code, message};

const ALL: &[&str] = &[
    "messages:send",
    "messages:read",
    "inbound:read",
    "webhooks",
    "iot",
];

async fn tenant(s: &Server, tenant: &str, scopes: &[&str]) -> Api {
    let key = tenant_key(&*s.store, tenant, scopes).await;
    Api::new(s.api.base.clone(), key.secret)
}

async fn a_tenant_sees_and_cancels_only_its_own_messages() {
    let s = Server::start().await;
    let a = tenant(&s, "acme", ALL).await;
    let b = tenant(&s, "bolt", ALL).await;
    let a_msg = a
        .send(json!({"to": "+4915112345678", "text": "acme's"}))
        .await;
    let b_msg = b
        .send(json!({"to": "+4915112345679", "text": "bolt's"}))
        .await;
    let (st, _) = b.call("GET", &format!("/v1/messages/{a_msg}"), None).await;
    assert_eq!(st, 404, "another tenant's message is not found");
    let (st, _) = b
        .call("DELETE", &format!("/v1/messages/{a_msg}"), None)
        .await;
    assert_eq!(st, 404, "nor can it be canceled");
    let (_, page) = b.call("GET", "/v1/messages", None).await;
    let ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![b_msg.as_str()]);
    // A second key of the same tenant sees the tenant's messages.
    let a2 = tenant(&s, "acme", &["messages:read"]).await;
    let (st, v) = a2.call("GET", &format!("/v1/messages/{a_msg}"), None).await;
    assert_eq!(st, 200, "{v}");
    // The admin sees both.
    let (_, all) = s.api.call("GET", "/v1/messages", None).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
}

async fn a_missing_scope_is_a_403_that_names_it() {
    let s = Server::start().await;
    let reader = tenant(&s, "acme", &["messages:read"]).await;
    let (st, v) = reader
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "x"})),
        )
        .await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(code(&v), "forbidden");
    assert!(message(&v).contains("messages:send"), "{v}");
    for (method, path, scope) in [
        ("GET", "/v1/inbound", "inbound:read"),
        ("GET", "/v1/webhooks", "webhooks"),
        ("GET", "/v1/keys", "admin"),
        ("GET", "/v1/tenants", "admin"),
        ("GET", "/v1/audit", "admin"),
    ] {
        let (st, v) = reader.call(method, path, None).await;
        assert_eq!(st, 403, "{path}: {v}");
        assert!(message(&v).contains(scope), "{path}: {v}");
    }
    let (st, _) = reader.call("GET", "/v1/messages", None).await;
    assert_eq!(st, 200);
}

async fn inbound_belongs_to_the_tenant_that_last_messaged_the_sender_or_to_nobody() {
    let s = Server::start().await;
    let a = tenant(&s, "acme", ALL).await;
    let b = tenant(&s, "bolt", ALL).await;
    let default_key = tenant(&s, "default", ALL).await;
    a.send(json!({"to": "+4915112345678", "text": "reply to me"}))
        .await;
    for (from, text) in [
        ("+4915112345678", "answer for acme"),
        ("+4917700000000", "stranger"),
    ] {
        let (st, v) = s
            .api
            .call(
                "POST",
                "/v1/sim/inbound",
                Some(json!({"from": from, "text": text})),
            )
            .await;
        assert_eq!(st, 202, "{v}");
    }
    let texts = |v: &serde_json::Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, v) = a.call("GET", "/v1/inbound", None).await;
    assert_eq!(texts(&v), vec!["answer for acme"]);
    let (_, v) = b.call("GET", "/v1/inbound", None).await;
    assert!(texts(&v).is_empty(), "bolt sees none: {v}");
    let (_, v) = default_key.call("GET", "/v1/inbound", None).await;
    assert!(
        texts(&v).is_empty(),
        "unassigned inbound is admin-only: {v}"
    );
    let (_, v) = s.api.call("GET", "/v1/inbound", None).await;
    assert_eq!(texts(&v).len(), 2);
}

async fn a_tenants_inbound_numbers_claim_what_is_sent_to_them() {
    let s = Server::start().await;
    let (st, v) = s
        .api
        .call(
            "PUT",
            "/v1/tenants/acme",
            Some(json!({"inbound": ["+4930123*"]})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let a = tenant(&s, "acme", ALL).await;
    s.api
        .call(
            "POST",
            "/v1/sim/inbound",
            Some(
                json!({"from": "+4917700000000", "to": "+49301234567", "text": "to acme's number"}),
            ),
        )
        .await;
    let (_, v) = a.call("GET", "/v1/inbound", None).await;
    assert_eq!(v["data"][0]["text"], "to acme's number", "{v}");
}

async fn webhooks_are_a_tenants_own_and_cannot_point_inside() {
    let s = Server::start().await;
    let a = tenant(&s, "acme", ALL).await;
    let b = tenant(&s, "bolt", ALL).await;
    let (st, hook) = a
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": "https://hooks.example.com/acme", "events": ["*"]})),
        )
        .await;
    assert_eq!(st, 201, "{hook}");
    let id = hook["id"].as_str().unwrap();
    let (_, list) = b.call("GET", "/v1/webhooks", None).await;
    assert_eq!(list.as_array().unwrap().len(), 0);
    let (st, _) = b.call("DELETE", &format!("/v1/webhooks/{id}"), None).await;
    assert_eq!(st, 404);
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8080/v1/keys",
        "http://localhost/x",
        "http://[::1]/x",
        "http://10.0.0.1/x",
    ] {
        let (st, v) = b
            .call(
                "POST",
                "/v1/webhooks",
                Some(json!({"url": url, "events": ["*"]})),
            )
            .await;
        assert_eq!(st, 422, "{url}: {v}");
        assert_eq!(code(&v), "url_not_allowed");
    }
    // A callback URL is held to the same policy.
    let (st, v) = b
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "x",
                        "callback_url": "http://169.254.169.254/"})),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    // An admin may subscribe loopback, never link-local.
    let (st, _) = s
        .api
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/x", "events": ["*"]})),
        )
        .await;
    assert_eq!(st, 201);
    let (st, _) = s
        .api
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": "http://169.254.169.254/", "events": ["*"]})),
        )
        .await;
    assert_eq!(st, 422);
    // A tenant allowed a network may use it.
    s.api
        .call(
            "PUT",
            "/v1/tenants/bolt",
            Some(json!({"allow_networks": ["10.0.0.0/8"]})),
        )
        .await;
    let b_again = tenant(&s, "bolt", ALL).await;
    let (st, v) = b_again
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": "http://10.0.0.1/x", "events": ["*"]})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
}

async fn a_tenant_has_a_webhook_cap() {
    let s = Server::start().await;
    let a = tenant(&s, "acme", ALL).await;
    for i in 0..smsgate_api::MAX_WEBHOOKS_PER_TENANT {
        let (st, v) = a
            .call(
                "POST",
                "/v1/webhooks",
                Some(json!({"url": format!("https://h.example.com/{i}"), "events": ["*"]})),
            )
            .await;
        assert_eq!(st, 201, "{v}");
    }
    let (st, v) = a
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": "https://h.example.com/x", "events": ["*"]})),
        )
        .await;
    assert_eq!(st, 409, "{v}");
    assert_eq!(code(&v), "too_many_webhooks");
}

async fn sender_ids_and_queue_quota_hold_a_tenant_and_only_it() {
    let s = Server::start().await;
    let (st, v) = s
        .api
        .call(
            "PUT",
            "/v1/tenants/acme",
            Some(json!({"sender_ids": ["ACME"], "queue_quota": 3})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let a = tenant(&s, "acme", ALL).await;
    let b = tenant(&s, "bolt", ALL).await;
    let (st, v) = a
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "x", "from": "BANK"})),
        )
        .await;
    assert_eq!(st, 403, "{v}");
    assert!(message(&v).contains("ACME"), "{v}");
    let mut accepted = 0;
    let mut refused = None;
    for i in 0..5 {
        let (st, v) = a
            .call(
                "POST",
                "/v1/messages",
                Some(json!({"to": "+4915112345678", "text": format!("m{i}"), "from": "ACME"})),
            )
            .await;
        match st {
            202 => accepted += 1,
            429 => {
                refused = Some(v);
                break;
            }
            _ => panic!("{st}: {v}"),
        }
    }
    assert_eq!(
        accepted, 3,
        "the quota is 3 (nothing is sent in this harness)"
    );
    let refused = refused.expect("the fourth message is refused");
    assert_eq!(code(&refused), "quota_exceeded");
    // Another tenant is not held by acme's quota.
    let (st, v) = b
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "x", "from": "BANK"})),
        )
        .await;
    assert_eq!(st, 202, "{v}");
}

async fn keys_are_made_and_revoked_by_admins_and_every_change_is_audited() {
    let s = Server::start().await;
    let (st, v) = s
        .api
        .call(
            "POST",
            "/v1/keys",
            Some(
                json!({"name": "acme app", "tenant": "acme", "scopes": ["messages:send"],
                        "rate_limit": 1.0}),
            ),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let secret = v["secret"].as_str().unwrap().to_owned();
    let key_id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(v["tenant"], "acme");
    let (st, v) = s
        .api
        .call(
            "POST",
            "/v1/keys",
            Some(json!({"name": "x", "scopes": ["messages:write"]})),
        )
        .await;
    assert_eq!((st, code(&v)), (400, "invalid_scope"));
    let acme = Api::new(s.api.base.clone(), secret.clone());
    // A key of a tenant cannot make keys.
    let (st, _) = acme
        .call(
            "POST",
            "/v1/keys",
            Some(json!({"name": "mine", "scopes": ["admin"]})),
        )
        .await;
    assert_eq!(st, 403);
    // Its rate limit: one request a second, a burst of one.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (first, _) = acme
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "1"})),
        )
        .await;
    let (second, v) = acme
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "2"})),
        )
        .await;
    assert_eq!(first, 202);
    assert_eq!(second, 429, "{v}");
    assert_eq!(code(&v), "rate_limited");
    // A revoked key's webhooks go with it.
    let hooker = s
        .api
        .call(
            "POST",
            "/v1/keys",
            Some(json!({"name": "hooks", "tenant": "acme", "scopes": ["webhooks"]})),
        )
        .await
        .1;
    let hooks = Api::new(
        s.api.base.clone(),
        hooker["secret"].as_str().unwrap().to_owned(),
    );
    let (st, _) = hooks
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": "https://h.example.com/a", "events": ["*"]})),
        )
        .await;
    assert_eq!(st, 201);
    let hook_key = hooker["id"].as_str().unwrap();
    let (st, _) = s
        .api
        .call("DELETE", &format!("/v1/keys/{hook_key}"), None)
        .await;
    assert_eq!(st, 204);
    assert!(
        s.store
            .list_webhooks(Some("acme"))
            .await
            .unwrap()
            .is_empty()
    );
    let (_, audit) = s.api.call("GET", "/v1/audit", None).await;
    let actions: Vec<(&str, &str)> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    assert!(
        actions.contains(&("key.create", key_id.as_str())),
        "{audit}"
    );
    assert!(actions.contains(&("key.revoke", hook_key)), "{audit}");
    assert!(
        actions.iter().any(|(a, _)| *a == "webhook.create"),
        "{audit}"
    );
    assert!(
        !audit.to_string().contains(&secret),
        "no secret in the audit log"
    );
}

smsgate_testkit::both_backends!(
    a_tenant_sees_and_cancels_only_its_own_messages,
    a_missing_scope_is_a_403_that_names_it,
    inbound_belongs_to_the_tenant_that_last_messaged_the_sender_or_to_nobody,
    a_tenants_inbound_numbers_claim_what_is_sent_to_them,
    webhooks_are_a_tenants_own_and_cannot_point_inside,
    a_tenant_has_a_webhook_cap,
    sender_ids_and_queue_quota_hold_a_tenant_and_only_it,
    keys_are_made_and_revoked_by_admins_and_every_change_is_audited,
);
