//! Listing: `GET /v1/messages` pages newest first with a cursor and filters by status and
//! destination; `GET /v1/inbound` lists what `POST /v1/sim/inbound` handed to the network.

use std::collections::HashSet;

use serde_json::json;

use crate::harness::{Server, code};

async fn messages_page_newest_first_with_a_cursor_until_none_is_left() {
    let s = Server::start().await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(s.send(&format!("+49151123456{i:02}"), "page").await);
    }
    let page = |path: String| {
        let api = s.api.clone();
        async move {
            let (status, page) = api.call("GET", &path, None).await;
            assert_eq!(status, 200, "{path}: {page}");
            let ids: Vec<String> = page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect();
            (ids, page["next_cursor"].as_str().map(str::to_owned))
        }
    };
    let (first, cursor) = page("/v1/messages?limit=2".into()).await;
    assert_eq!(first, [sent[4].clone(), sent[3].clone()], "newest first");
    let cursor = cursor.expect("a full page has a cursor");
    let (second, cursor) = page(format!("/v1/messages?limit=2&cursor={cursor}")).await;
    assert_eq!(
        second,
        [sent[2].clone(), sent[1].clone()],
        "after the cursor"
    );
    let cursor = cursor.expect("a full page has a cursor");
    let (last, cursor) = page(format!("/v1/messages?limit=2&cursor={cursor}")).await;
    assert_eq!(last, [sent[0].clone()]);
    assert_eq!(cursor, None, "a short page is the last");
}

async fn messages_filter_by_status_and_destination() {
    let s = Server::start().await;
    let a = s.send("+4915112345678", "a").await;
    let b = s.send("+4915112345679", "b").await;
    let c = s.send("+4915112345678", "c").await;
    assert_eq!(
        s.api
            .call("DELETE", &format!("/v1/messages/{b}"), None)
            .await
            .0,
        200
    );
    let ids = |path: String| {
        let api = s.api.clone();
        async move {
            let (status, page) = api.call("GET", &path, None).await;
            assert_eq!(status, 200, "{path}: {page}");
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect::<HashSet<_>>()
        }
    };
    assert_eq!(
        ids("/v1/messages?status=canceled".into()).await,
        HashSet::from([b.clone()])
    );
    assert_eq!(
        ids("/v1/messages?status=queued".into()).await,
        HashSet::from([a.clone(), c.clone()])
    );
    // The filter number is normalised like a submitted one.
    assert_eq!(
        ids("/v1/messages?to=%2B49%20151%2012345678".into()).await,
        HashSet::from([a, c])
    );
}

async fn bad_list_parameters_get_400_naming_the_parameter() {
    let s = Server::start().await;
    for (query, want) in [
        ("status=lost", "invalid_status"),
        ("limit=0", "invalid_limit"),
        ("limit=501", "invalid_limit"),
        ("cursor=abc", "invalid_cursor"),
        ("since=yesterday", "invalid_since"),
        ("to=12ab", "invalid_number"),
        ("colour=red", "invalid_query"),
    ] {
        let (status, v) = s
            .api
            .call("GET", &format!("/v1/messages?{query}"), None)
            .await;
        assert_eq!((status, code(&v)), (400, want), "{query}: {v}");
    }
}

async fn a_simulated_inbound_sms_is_handed_to_the_network_and_listed() {
    let s = Server::start().await;
    let (status, v) = s
        .api
        .call(
            "POST",
            "/v1/sim/inbound",
            Some(json!({"from": "+49 151 00000001", "text": "PUMP3 OK"})),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(
        s.phone.heard.lock().unwrap().clone(),
        [(
            "+4915100000001".to_owned(),
            "+10000000000".to_owned(),
            "PUMP3 OK".to_owned()
        )],
        "the number normalised, the default recipient filled in"
    );
    let (status, page) = s.api.call("GET", "/v1/inbound", None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"][0]["from"], "+4915100000001");
    assert_eq!(page["data"][0]["text"], "PUMP3 OK");
    for (body, want) in [
        (json!({"from": "nobody", "text": "x"}), "invalid_number"),
        (json!({"from": "+4915100000001", "text": ""}), "empty_text"),
    ] {
        let (status, v) = s.api.call("POST", "/v1/sim/inbound", Some(body)).await;
        assert_eq!((status, code(&v)), (400, want), "{v}");
    }
    // A non-admin key may not play a phone: it could fake any sender, a contact's ACK too.
    let (app, _) = s.client("app").await;
    let (status, v) = app
        .call(
            "POST",
            "/v1/sim/inbound",
            Some(json!({"from": "+4915100000009", "text": "ACK"})),
        )
        .await;
    assert_eq!((status, code(&v)), (403, "forbidden"), "{v}");
    assert_eq!(
        s.phone.heard.lock().unwrap().len(),
        1,
        "refused ones never reach it"
    );
}

smsgate_testkit::both_backends!(
    messages_page_newest_first_with_a_cursor_until_none_is_left,
    messages_filter_by_status_and_destination,
    bad_list_parameters_get_400_naming_the_parameter,
    a_simulated_inbound_sms_is_handed_to_the_network_and_listed,
);
