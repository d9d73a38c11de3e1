//! The feeds to bound clients: receipts kept while the client is away, and inbound SMS
//! routed to the account owning the number.

use super::*;

async fn receipts_wait_while_the_client_is_away_and_arrive_when_it_binds_again() {
    let t = gateway(json!({})).await;
    let (tx, _events) = bind(&t.gw, BindType::Transmitter).await;
    let id = submit(
        &tx,
        sm("4915112345678", 0, 0, &gsm("while you were out"), vec![]),
    )
    .await
    .unwrap();
    tx.unbind().await;
    t.wait_status(&id, "delivered").await;
    // A receipt for another account never reaches this one.
    let (other, _e) = bind_as(&t.gw, BindType::Transmitter, "app2", "secret2")
        .await
        .unwrap();
    let other_id = submit(&other, sm("4915112345679", 0, 0, &gsm("not yours"), vec![]))
        .await
        .unwrap();
    t.wait_status(&other_id, "delivered").await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (rx, mut events) = bind(&t.gw, BindType::Receiver).await;
    let (seen, _) = receipts(&mut events, 1).await;
    assert_eq!(seen[0].id, id);
    assert!(
        seen[0].text.contains("text:while you were out"),
        "{}",
        seen[0].text
    );
    assert_quiet(&mut events, 400).await;
    rx.unbind().await;
    other.unbind().await;
    t.gw.shutdown().await;
}

async fn inbound_sms_go_to_the_receivers_of_the_account_owning_the_number() {
    let t = gateway(json!({})).await;
    let (rx1, mut ev1) = bind(&t.gw, BindType::Receiver).await;
    let (rx2, mut ev2) = bind_as(&t.gw, BindType::Receiver, "app2", "secret2")
        .await
        .unwrap();
    let long = "Füllstand Tank 4: 87 %. ".repeat(10);
    for (to, text) in [
        ("+4930123456", "Hallo"),
        ("+4930999", long.as_str()),
        ("+4940111", "elsewhere"),
    ] {
        let (s, v) = t
            .call(
                "POST",
                "/v1/sim/inbound",
                Some(json!({"from": "+4915199999999", "to": to, "text": text})),
            )
            .await;
        assert_eq!(s, 202, "{v}");
    }
    let mut got = Vec::new();
    while got.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(10), ev1.recv())
            .await
            .expect("inbound for app1")
            .unwrap();
        if let ClientEvent::Inbound(i) = event {
            let d = i.deliver_sm().unwrap();
            assert_eq!(d.source_addr.as_str(), "4915199999999");
            let udhi = u8::from(d.esm_class) & 0x40 != 0;
            let ud = smsgate_sms::UserData::from_smpp(
                u8::from(d.data_coding),
                udhi,
                d.short_message().as_ref(),
                false,
            )
            .unwrap();
            got.push((
                d.destination_addr.as_str().to_owned(),
                ud.text().unwrap(),
                ud.concat(),
            ));
            i.ack();
        }
    }
    assert_eq!(got[0].0, "4930123456");
    assert_eq!(got[0].1, "Hallo");
    let mut parts: Vec<_> = got[1..].to_vec();
    parts.sort_by_key(|p| p.2.map(|c| c.sequence));
    assert!(parts.iter().all(|p| p.0 == "4930999" && p.2.is_some()));
    assert_eq!(format!("{}{}", parts[0].1, parts[1].1), long);
    // app2 owns no number; +4940111 belongs to nobody.
    assert_quiet(&mut ev2, 400).await;
    assert_quiet(&mut ev1, 200).await;
    rx1.unbind().await;
    rx2.unbind().await;
    t.gw.shutdown().await;
}

smsgate_testkit::both_backends!(
    receipts_wait_while_the_client_is_away_and_arrive_when_it_binds_again,
    inbound_sms_go_to_the_receivers_of_the_account_owning_the_number,
);
