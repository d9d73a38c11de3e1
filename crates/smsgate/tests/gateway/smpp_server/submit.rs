//! Single submits: GSM, Latin-1 and UCS-2 stored before the response with a receipt
//! back, SMPP errors for bad submits, `registered_delivery = 0`, `data_sm`, and 8-bit data.

use super::*;

async fn gsm_latin1_and_ucs2_submits_are_stored_before_the_response_and_receipts_come_back() {
    let t = gateway(json!({})).await;
    let (c, mut events) = bind(&t.gw, BindType::Transceiver).await;
    let texts = [
        (0u8, gsm("Pump 3 @ 5 bar £ {ok}"), "Pump 3 @ 5 bar £ {ok}"),
        (3, b"Gr\xfc\xdfe".to_vec(), "Grüße"),
        (
            8,
            smsgate_sms::charsets::encode_ucs2("Привет 🔥"),
            "Привет 🔥",
        ),
    ];
    let mut ids = Vec::new();
    for (i, (coding, body, text)) in texts.iter().enumerate() {
        let id = submit(
            &c,
            sm(&format!("491511234567{i}"), *coding, 0, body, vec![]),
        )
        .await
        .unwrap();
        // Durable before the response: the message is there the moment the id is known.
        let (status, m) = t.call("GET", &format!("/v1/messages/{id}"), None).await;
        assert_eq!(status, 200, "{m}");
        assert_eq!(m["text"], *text);
        ids.push(id);
    }
    let (_, m) = t
        .call("GET", &format!("/v1/messages/{}", ids[2]), None)
        .await;
    assert_eq!(m["encoding"], "ucs2");
    assert_eq!(m["from"], "ACME");
    let (seen, _) = receipts(&mut events, 3).await;
    for id in &ids {
        let r = seen.iter().find(|r| &r.id == id).expect("a receipt per id");
        assert_eq!(r.state, ReceiptState::Delivered);
        assert!(
            r.text
                .starts_with(&format!("id:{id} sub:001 dlvrd:001 submit date:")),
            "{}",
            r.text
        );
        assert!(r.text.contains(" stat:DELIVRD err:000 text:"), "{}", r.text);
    }
    let mine = messages_of(&t.gw, "smpp:app1").await;
    assert_eq!(mine.len(), 3);
    assert!(mine.iter().all(|m| m.status == Status::Delivered));
    c.unbind().await;
    t.gw.shutdown().await;
}

async fn bad_submits_get_smpp_errors_and_registered_delivery_zero_gets_no_receipt() {
    let t = gateway(json!({})).await;
    let (c, mut events) = bind(&t.gw, BindType::Transceiver).await;
    let status = |e: SubmitError| match e {
        SubmitError::Permanent(s) | SubmitError::Temporary(s) | SubmitError::Throttled(s) => s,
        other => panic!("{other:?}"),
    };
    let e = submit(&c, sm("12", 0, 0, &gsm("x"), vec![]))
        .await
        .unwrap_err();
    assert_eq!(status(e), CommandStatus::EsmeRinvdstadr);
    let e = submit(&c, sm("4915112345678", 0x05, 0, b"x", vec![]))
        .await
        .unwrap_err();
    assert_eq!(status(e), CommandStatus::EsmeRinvdcs);
    let e = submit(&c, sm("4915112345678", 0, 0, b"", vec![]))
        .await
        .unwrap_err();
    assert_eq!(status(e), CommandStatus::EsmeRinvmsglen);
    let mut quiet = sm("4915112345678", 0, 0, &gsm("no receipt please"), vec![]);
    quiet.registered_delivery = RegisteredDelivery::from(0);
    let quiet_id = submit(&c, quiet).await.unwrap();
    let loud = submit(
        &c,
        sm("4915112345679", 0, 0, &gsm("receipt please"), vec![]),
    )
    .await
    .unwrap();
    let (seen, _) = receipts(&mut events, 1).await;
    assert_eq!(seen[0].id, loud);
    t.wait_status(&quiet_id, "delivered").await;
    // Nothing else comes: the quiet message's receipt was never asked for.
    assert_quiet(&mut events, 500).await;
    assert_eq!(messages_of(&t.gw, "smpp:app1").await.len(), 2);
    c.unbind().await;
    t.gw.shutdown().await;
}

fn data_sm(to: &str, coding: u8, tlvs: Vec<Stlv>) -> DataSm {
    DataSm::builder()
        .source_addr_ton(Ton::Alphanumeric)
        .source_addr(cs("ACME"))
        .dest_addr_ton(Ton::International)
        .destination_addr(cs(to))
        .esm_class(EsmClass::from(0))
        .registered_delivery(RegisteredDelivery::from(1))
        .data_coding(DataCoding::from(coding))
        .tlvs(tlvs)
        .build()
}

fn payload(octets: Vec<u8>) -> Stlv {
    Stlv::MessagePayload(MessagePayload::new(AnyOctetString::from_vec(octets)))
}

async fn data_sm_is_stored_like_submit_sm_and_gets_its_receipt() {
    let t = gateway(json!({})).await;
    let (c, mut events) = bind(&t.gw, BindType::Transceiver).await;
    let long = "Kesseldruck 2,4 bar, Vorlauf 71 Grad, alles in Ordnung. ".repeat(4);
    let sends = [
        data_sm("4915112345671", 0, vec![payload(gsm("Pump 3 OFF"))]),
        data_sm(
            "4915112345672",
            8,
            vec![
                payload(smsgate_sms::charsets::encode_ucs2("Привет ✓")),
                Stlv::QosTimeToLive(600),
            ],
        ),
        data_sm("4915112345673", 0, vec![payload(gsm(&long))]),
    ];
    let mut ids = Vec::new();
    for d in sends {
        let (status, resp) = request(&c, d.into()).await;
        assert_eq!(status, CommandStatus::EsmeRok);
        let Some(Pdu::DataSmResp(r)) = resp else {
            panic!("{resp:?}")
        };
        ids.push(r.message_id().as_str().to_owned());
    }
    let (_, m) = t
        .call("GET", &format!("/v1/messages/{}", ids[0]), None)
        .await;
    assert_eq!(m["text"], "Pump 3 OFF", "{m}");
    let (_, m) = t
        .call("GET", &format!("/v1/messages/{}", ids[1]), None)
        .await;
    assert_eq!(
        (m["text"].as_str(), m["encoding"].as_str()),
        (Some("Привет ✓"), Some("ucs2"))
    );
    // qos_time_to_live 600 s became the message's validity.
    let window = m["expires_at"].as_str().map(|e| e.to_owned());
    assert!(window.is_some(), "{m}");
    let (_, m) = t
        .call("GET", &format!("/v1/messages/{}", ids[2]), None)
        .await;
    assert_eq!(
        (m["text"].as_str(), m["segments"].as_u64()),
        (Some(long.as_str()), Some(2))
    );
    let (seen, _) = receipts(&mut events, 3).await;
    for id in &ids {
        assert!(
            seen.iter()
                .any(|r| &r.id == id && r.state == ReceiptState::Delivered),
            "{seen:?}"
        );
    }
    // Bad input gets the same errors as submit_sm: here a national destination.
    let mut bad = data_sm("015112345678", 0, vec![payload(gsm("x"))]);
    bad.dest_addr_ton = Ton::National;
    assert_eq!(
        request(&c, bad.into()).await.0,
        CommandStatus::EsmeRinvdstadr
    );
    c.unbind().await;
    t.gw.shutdown().await;
}

async fn eight_bit_submits_stay_octets_with_their_ports_and_coding() {
    let t = gateway(json!({})).await;
    let (c, _events) = bind(&t.gw, BindType::Transceiver).await;
    // A device command in 8-bit: carried as 8-bit with the same octets, not as GSM text.
    let id = submit(&c, sm("4915112345678", 4, 0, b"CFG;INT=60;APN=m2m", vec![]))
        .await
        .unwrap();
    let (_, m) = t.call("GET", &format!("/v1/messages/{id}"), None).await;
    assert_eq!(
        (m["text"].as_str(), m["encoding"].as_str()),
        (Some(hex(b"CFG;INT=60;APN=m2m").as_str()), Some("binary")),
        "{m}"
    );
    assert_eq!(m["binary"], json!({"udh": "", "data_coding": 4}), "{m}");
    // Octets that are no text at all, with a port header and class 1: kept byte for byte.
    let mut body = vec![6, 5, 4, 0x0B, 0x84, 0x23, 0xF0];
    body.extend_from_slice(&[0x01, 0xFF, 0x00, 0x80]);
    let id = submit(&c, sm("4915112345670", 0xF5, 0x40, &body, vec![]))
        .await
        .unwrap();
    let (_, m) = t.call("GET", &format!("/v1/messages/{id}"), None).await;
    assert_eq!(m["text"], "01ff0080", "{m}");
    assert_eq!(
        m["binary"],
        json!({"udh": "05040b8423f0", "data_coding": 245}),
        "{m}"
    );
    // Two 8-bit parts with a concatenation UDH: one 8-bit message with every octet.
    let data: Vec<u8> = (0..=175u8).collect();
    let cut = 134;
    let mut ids = Vec::new();
    for (no, chunk) in [(1u8, &data[..cut]), (2, &data[cut..])] {
        let mut body = vec![5, 0, 3, 0x33, 2, no];
        body.extend_from_slice(chunk);
        ids.push(
            submit(&c, sm("4915112345679", 4, 0x40, &body, vec![]))
                .await
                .unwrap(),
        );
    }
    let mine = messages_of(&t.gw, "smpp:app1").await;
    let long = mine
        .iter()
        .find(|m| m.text == hex(&data))
        .expect("assembled");
    assert_eq!(long.encoding, "binary");
    assert_eq!(long.binary.as_ref().map(|b| b.data_coding), Some(4));
    assert_eq!(mine.len(), 3);
    c.unbind().await;
    t.gw.shutdown().await;
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn a_submit_to_an_opted_out_recipient_gets_esme_rx_r_appn() {
    let t = gateway(json!({})).await;
    let (status, v) = t
        .call(
            "POST",
            "/v1/optouts",
            Some(json!({"number": "+4915112345678", "tenant": "default"})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let (c, _events) = bind(&t.gw, BindType::Transceiver).await;
    let e = submit(&c, sm("4915112345678", 0, 0, &gsm("x"), vec![]))
        .await
        .unwrap_err();
    match e {
        SubmitError::Permanent(s) => assert_eq!(s, CommandStatus::EsmeRxRAppn),
        other => panic!("{other:?}"),
    }
    // Another recipient goes through.
    assert!(
        submit(&c, sm("4915112345679", 0, 0, &gsm("x"), vec![]))
            .await
            .is_ok()
    );
    c.unbind().await;
    t.gw.shutdown().await;
}

smsgate_testkit::both_backends!(
    gsm_latin1_and_ucs2_submits_are_stored_before_the_response_and_receipts_come_back,
    bad_submits_get_smpp_errors_and_registered_delivery_zero_gets_no_receipt,
    data_sm_is_stored_like_submit_sm_and_gets_its_receipt,
    eight_bit_submits_stay_octets_with_their_ports_and_coding,
    a_submit_to_an_opted_out_recipient_gets_esme_rx_r_appn,
);
