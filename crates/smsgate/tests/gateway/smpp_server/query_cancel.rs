//! `query_sm` and `cancel_sm` on the ids a client was given.

use super::*;

async fn query(c: &Client, id: &str) -> Result<(MessageState, String), CommandStatus> {
    let q = QuerySm::builder()
        .message_id(cs(id))
        .source_addr(cs("ACME"))
        .build();
    match request(c, q.into()).await {
        (CommandStatus::EsmeRok, Some(Pdu::QuerySmResp(r))) => {
            Ok((r.message_state, r.final_date.as_str().to_owned()))
        }
        (status, _) => Err(status),
    }
}

async fn cancel(c: &Client, id: &str) -> CommandStatus {
    let q = CancelSm::builder()
        .message_id(cs(id))
        .source_addr(cs("ACME"))
        .build();
    request(c, q.into()).await.0
}

async fn query_sm_and_cancel_sm_work_on_the_ids_a_client_was_given() {
    let t = gateway(json!({})).await;
    let (c, mut events) = bind(&t.gw, BindType::Transceiver).await;
    let mut later = sm("4915112345678", 0, 0, &gsm("cancel me"), vec![]);
    later.schedule_delivery_time =
        EmptyOrFullCOctetString::from_vec(b"000000010000000R\0".to_vec()).unwrap();
    let id = submit(&c, later).await.unwrap();
    assert_eq!(
        query(&c, &id).await,
        Ok((MessageState::Enroute, String::new()))
    );
    assert_eq!(cancel(&c, &id).await, CommandStatus::EsmeRok);
    let (state, final_date) = query(&c, &id).await.unwrap();
    assert_eq!(state, MessageState::Deleted);
    assert_eq!(final_date.len(), 16, "{final_date}");
    let (seen, _) = receipts(&mut events, 1).await;
    assert_eq!(
        (seen[0].id.as_str(), &seen[0].state),
        (id.as_str(), &ReceiptState::Deleted)
    );

    let sent = submit(&c, sm("4915112345679", 0, 0, &gsm("deliver me"), vec![]))
        .await
        .unwrap();
    t.wait_status(&sent, "delivered").await;
    assert_eq!(query(&c, &sent).await.unwrap().0, MessageState::Delivered);
    assert_eq!(cancel(&c, &sent).await, CommandStatus::EsmeRcancelfail);

    // A part waiting for its siblings is en route and cannot be cancelled yet.
    let mut body = vec![5, 0, 3, 1, 2, 1];
    body.extend(gsm("half"));
    let part = submit(&c, sm("4915112345670", 0, 0x40, &body, vec![]))
        .await
        .unwrap();
    assert_eq!(query(&c, &part).await.unwrap().0, MessageState::Enroute);
    assert_eq!(cancel(&c, &part).await, CommandStatus::EsmeRcancelfail);

    // Unknown ids, and ids of another account, are invalid.
    assert_eq!(query(&c, "nope").await, Err(CommandStatus::EsmeRinvmsgid));
    let (other, _e) = bind_as(&t.gw, BindType::Transceiver, "app2", "secret2")
        .await
        .unwrap();
    assert_eq!(
        query(&other, &sent).await,
        Err(CommandStatus::EsmeRinvmsgid)
    );
    assert_eq!(cancel(&other, &sent).await, CommandStatus::EsmeRinvmsgid);
    other.unbind().await;
    c.unbind().await;
    t.gw.shutdown().await;
}

smsgate_testkit::both_backends!(query_sm_and_cancel_sm_work_on_the_ids_a_client_was_given,);
