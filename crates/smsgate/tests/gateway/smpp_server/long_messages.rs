//! Long messages: UDH (8- and 16-bit references), SAR and `message_payload` assembled
//! into one message, parts that survive a restart, an incomplete set sent after the
//! timeout, and a reference reused before the old set completed.

use super::*;

async fn long_messages_by_udh_sar_and_message_payload_become_one_message_each() {
    let t = gateway(json!({})).await;
    let (c, mut events) = bind(&t.gw, BindType::Transceiver).await;
    let a = "A".repeat(153);
    let b = "B".repeat(40);
    // UDH with an 8-bit reference, parts sent one at a time (window 1 behaviour).
    let mut part_ids = Vec::new();
    for (seq, text) in [(1u8, &a), (2, &b)] {
        let mut body = vec![5, 0, 3, 0x42, 2, seq];
        body.extend(gsm(text));
        part_ids.push(
            submit(&c, sm("4915112345670", 0, 0x40, &body, vec![]))
                .await
                .unwrap(),
        );
    }
    // UDH with a 16-bit reference, UCS-2, parts in reverse order.
    let u1 = "Ж".repeat(66);
    let u2 = "ок";
    for (seq, text) in [(2u8, u2), (1, u1.as_str())] {
        let mut body = vec![6, 8, 4, 0x12, 0x34, 2, seq];
        body.extend(smsgate_sms::charsets::encode_ucs2(text));
        part_ids.push(
            submit(&c, sm("4915112345671", 8, 0x40, &body, vec![]))
                .await
                .unwrap(),
        );
    }
    // SAR TLVs, three parts.
    for seq in 1..=3u8 {
        let tlvs = vec![
            Stlv::SarMsgRefNum(0x0777),
            Stlv::SarTotalSegments(3),
            Stlv::SarSegmentSeqnum(seq),
        ];
        part_ids.push(
            submit(
                &c,
                sm("4915112345672", 0, 0, &gsm(&format!("part{seq} ")), tlvs),
            )
            .await
            .unwrap(),
        );
    }
    // message_payload: one submit, one id, a 400-character text.
    let long = "p".repeat(400);
    let payload = Stlv::MessagePayload(MessagePayload::new(AnyOctetString::from_vec(gsm(&long))));
    let payload_id = submit(&c, sm("4915112345673", 0, 0, b"", vec![payload]))
        .await
        .unwrap();
    let mut all_ids = part_ids.clone();
    all_ids.push(payload_id.clone());
    let unique: std::collections::HashSet<_> = all_ids.iter().collect();
    assert_eq!(unique.len(), 8, "every submit_sm_resp carries its own id");

    let (seen, _) = receipts(&mut events, 8).await;
    for id in &all_ids {
        let r = seen
            .iter()
            .find(|r| &r.id == id)
            .expect("a receipt per submitted id");
        assert_eq!(r.state, ReceiptState::Delivered);
    }
    let mine = messages_of(&t.gw, "smpp:app1").await;
    assert_eq!(mine.len(), 4, "one gateway message per long message");
    let by_to = |n: &str| mine.iter().find(|m| m.to == n).unwrap();
    assert_eq!(by_to("+4915112345670").text, format!("{a}{b}"));
    assert_eq!(by_to("+4915112345670").segments, 2);
    assert_eq!(by_to("+4915112345671").text, format!("{u1}{u2}"));
    assert_eq!(by_to("+4915112345671").encoding, "ucs2");
    assert_eq!(by_to("+4915112345672").text, "part1 part2 part3 ");
    assert_eq!(by_to("+4915112345673").text, long);
    assert_eq!(by_to("+4915112345673").id.to_string(), payload_id);
    assert!(mine.iter().all(|m| m.status == Status::Delivered));
    c.unbind().await;
    t.gw.shutdown().await;
}

async fn a_part_stored_before_a_restart_completes_its_message_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = smsgate_testkit::config(dir.path(), json!({"delivery_delay": "50ms"}));
    config.smpp_server = Some(server_config(json!({})));
    let gw = Gateway::start(config.clone()).await.unwrap();
    let (c, _e) = bind(&gw, BindType::Transmitter).await;
    let mut body = vec![5, 0, 3, 9, 2, 1];
    body.extend(gsm("before the restart, "));
    let first = submit(&c, sm("4915112345678", 0, 0x40, &body, vec![]))
        .await
        .unwrap();
    c.abort();
    gw.shutdown().await;

    let gw = Gateway::start(config).await.unwrap();
    let (c, mut events) = bind(&gw, BindType::Transceiver).await;
    let mut body = vec![5, 0, 3, 9, 2, 2];
    body.extend(gsm("after it"));
    let second = submit(&c, sm("4915112345678", 0, 0x40, &body, vec![]))
        .await
        .unwrap();
    let (seen, _) = receipts(&mut events, 2).await;
    let ids: Vec<&str> = seen.iter().map(|s| s.id.as_str()).collect();
    assert!(
        ids.contains(&first.as_str()) && ids.contains(&second.as_str()),
        "{ids:?}"
    );
    let mine = messages_of(&gw, "smpp:app1").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].text, "before the restart, after it");
    c.unbind().await;
    gw.shutdown().await;
}

async fn an_incomplete_long_message_is_sent_with_its_parts_after_the_timeout() {
    let t = gateway(json!({"concat_timeout": "1s"})).await;
    let (c, mut events) = bind(&t.gw, BindType::Transceiver).await;
    let mut body = vec![5, 0, 3, 0x55, 3, 1];
    body.extend(gsm("only part one"));
    let id = submit(&c, sm("4915112345678", 0, 0x40, &body, vec![]))
        .await
        .unwrap();
    let (seen, _) = receipts(&mut events, 1).await;
    assert_eq!(seen[0].id, id);
    let mine = messages_of(&t.gw, "smpp:app1").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].text, "only part one");
    c.unbind().await;
    t.gw.shutdown().await;
}

async fn a_reference_reused_before_the_old_set_completed_starts_a_new_message() {
    let t = gateway(json!({"concat_timeout": "1s"})).await;
    let (c, mut events) = bind(&t.gw, BindType::Transceiver).await;
    let part = |no: u8, text: &str| {
        let mut body = vec![5, 0, 3, 0x21, 2, no];
        body.extend(gsm(text));
        sm("4915112345678", 0, 0x40, &body, vec![])
    };
    // Message A: part 1 only. Then message B with the same reference, both parts.
    let a1 = submit(&c, part(1, "Alpha one ")).await.unwrap();
    let b1 = submit(&c, part(1, "Bravo one ")).await.unwrap();
    let b2 = submit(&c, part(2, "Bravo two")).await.unwrap();
    let (seen, _) = receipts(&mut events, 3).await;
    let mut got: Vec<&str> = seen.iter().map(|r| r.id.as_str()).collect();
    got.sort_unstable();
    let mut want = [a1.as_str(), b1.as_str(), b2.as_str()];
    want.sort_unstable();
    assert_eq!(got, want);
    let mut texts: Vec<String> = messages_of(&t.gw, "smpp:app1")
        .await
        .into_iter()
        .map(|m| m.text)
        .collect();
    texts.sort();
    // B whole and on its own; A sent with the part it had after the timeout.
    assert_eq!(texts, ["Alpha one ", "Bravo one Bravo two"]);
    c.unbind().await;
    t.gw.shutdown().await;
}

smsgate_testkit::both_backends!(
    long_messages_by_udh_sar_and_message_payload_become_one_message_each,
    a_part_stored_before_a_restart_completes_its_message_after_it,
    an_incomplete_long_message_is_sent_with_its_parts_after_the_timeout,
    a_reference_reused_before_the_old_set_completed_starts_a_new_message,
);
