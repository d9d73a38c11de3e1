//! The opt-out list as CSV: import with per-line errors, export, and sends refused after.

use serde_json::json;

use crate::harness::{Server, code};

async fn a_csv_import_opts_numbers_out_and_the_export_lists_them() {
    let s = Server::start().await;
    let csv = "number,sender\n+4915112345678\n+4915112345679,ACME\nnot-a-number\n";
    let res = s
        .api
        .http
        .post(format!("{}/v1/optouts/import", s.api.base))
        .bearer_auth(&s.api.key)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(v["imported"], 2, "{v}");
    assert_eq!(v["errors"][0]["line"], 4, "{v}");
    let (status, v) = s
        .api
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345678", "text": "x"})),
        )
        .await;
    assert_eq!((status, code(&v)), (422, "opted_out"));
    // Opted out of one sender only: another sender still goes.
    let (status, _) = s
        .api
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345679", "text": "x", "from": "OTHER"})),
        )
        .await;
    assert_eq!(status, 202);
    let (status, v) = s
        .api
        .call(
            "POST",
            "/v1/messages",
            Some(json!({"to": "+4915112345679", "text": "x", "from": "ACME"})),
        )
        .await;
    assert_eq!((status, code(&v)), (422, "opted_out"));
    let res = s
        .api
        .http
        .get(format!("{}/v1/optouts/export", s.api.base))
        .bearer_auth(&s.api.key)
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = res.text().await.unwrap();
    assert!(
        text.starts_with("tenant,number,sender,source,created_at\n"),
        "{text}"
    );
    assert!(
        text.contains("default,+4915112345679,ACME,import,"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3, "{text}");
}

smsgate_testkit::both_backends!(a_csv_import_opts_numbers_out_and_the_export_lists_them,);
