//! Tier 2: deterministic state-machine tests of the session core with a simulated clock. Two
//! sessions (ESME and SMSC) are wired back to back by moving `poll_transmit` bytes by hand.

use std::time::{Duration, Instant};

use rusmpp::pdus::{DeliverSm, SubmitSm, SubmitSmResp};
use smsgate_smpp::pdu::{CommandId, CommandStatus, Frame, FrameDecoder, Pdu};
use smsgate_smpp::session::*;

use crate::cs;

fn config() -> SessionConfig {
    SessionConfig {
        window: 2,
        inbound_window: 2,
        ..SessionConfig::default()
    }
}

fn submit() -> SubmitSm {
    SubmitSm::builder()
        .source_addr(cs("a"))
        .destination_addr(cs("b"))
        .build()
}

/// Moves bytes both ways until neither side has anything to send.
fn pump(a: &mut Session, b: &mut Session, now: Instant) {
    loop {
        let mut moved = false;
        if let Some(bytes) = a.poll_transmit() {
            b.handle_bytes(now, &bytes);
            moved = true;
        }
        if let Some(bytes) = b.poll_transmit() {
            a.handle_bytes(now, &bytes);
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn frames(s: &mut Session) -> Vec<Frame> {
    let mut d = FrameDecoder::new(70_000);
    if let Some(bytes) = s.poll_transmit() {
        d.extend(&bytes);
    }
    std::iter::from_fn(|| d.next_frame())
        .map(Result::unwrap)
        .collect()
}

/// An ESME and an SMSC bound as `bind_type` at `t0`.
fn bound_pair(bind_type: BindType, t0: Instant) -> (Session, Session) {
    let mut esme = Session::new(Role::Esme, config(), t0);
    let mut smsc = Session::new(Role::Smsc, config(), t0);
    esme.bind(t0, &BindParams::new(bind_type, "esme", "pw"))
        .unwrap();
    pump(&mut esme, &mut smsc, t0);
    let Some(Event::BindRequest(request)) = smsc.poll_event() else {
        panic!("no bind request")
    };
    assert_eq!(
        (request.system_id.as_str(), request.password.as_str()),
        ("esme", "pw")
    );
    smsc.accept_bind(request.sequence_number, &request, "smsc")
        .unwrap();
    pump(&mut esme, &mut smsc, t0);
    assert!(matches!(esme.poll_event(), Some(Event::Bound(b)) if b.peer_system_id == "smsc"));
    assert!(matches!(smsc.poll_event(), Some(Event::Bound(b)) if b.peer_system_id == "esme"));
    (esme, smsc)
}

#[test]
fn bind_then_submit_round_trip_between_esme_and_smsc() {
    let t0 = Instant::now();
    let (mut esme, mut smsc) = bound_pair(BindType::Transceiver, t0);
    assert!(matches!(esme.state(), State::BoundTrx(_)));
    assert!(matches!(smsc.state(), State::BoundTrx(_)));
    let seq = esme.send_request(t0, submit()).unwrap();
    pump(&mut esme, &mut smsc, t0);
    let Some(Event::Request {
        sequence_number,
        pdu: Pdu::SubmitSm(_),
    }) = smsc.poll_event()
    else {
        panic!("no submit")
    };
    let resp = SubmitSmResp::new(cs("abc"), vec![]);
    smsc.respond(sequence_number, CommandStatus::EsmeRok, Some(resp.into()))
        .unwrap();
    pump(&mut esme, &mut smsc, t0);
    match esme.poll_event() {
        Some(Event::Response {
            sequence_number,
            status: CommandStatus::EsmeRok,
            body: Some(Pdu::SubmitSmResp(r)),
        }) => {
            assert_eq!(sequence_number, seq);
            assert_eq!(r.message_id().as_str(), "abc");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(esme.in_flight(), 0);
}

#[test]
fn submit_before_bind_is_refused_locally() {
    let mut esme = Session::new(Role::Esme, config(), Instant::now());
    assert_eq!(
        esme.send_request(Instant::now(), submit()),
        Err(SendError::InvalidState)
    );
}

#[test]
fn smsc_answers_submit_in_open_state_with_rinvbndsts() {
    let t0 = Instant::now();
    let mut smsc = Session::new(Role::Smsc, config(), t0);
    smsc.handle_frame(t0, Frame::new(CommandStatus::EsmeRok, 5, submit()));
    assert_eq!(
        frames(&mut smsc),
        vec![Frame::bodiless(
            CommandId::SubmitSmResp,
            CommandStatus::EsmeRinvbndsts,
            5
        )]
    );
    assert_eq!(smsc.counters().snapshot().invalid_bind_state, 1);
}

#[test]
fn receiver_bind_cannot_submit_and_transmitter_cannot_be_delivered_to() {
    let t0 = Instant::now();
    let (mut esme, _) = bound_pair(BindType::Receiver, t0);
    assert_eq!(
        esme.send_request(t0, submit()),
        Err(SendError::InvalidState)
    );
    let (_, mut smsc) = bound_pair(BindType::Transmitter, t0);
    assert_eq!(
        smsc.send_request(t0, DeliverSm::default()),
        Err(SendError::InvalidState)
    );
}

#[test]
fn window_full_refuses_until_a_response_frees_a_slot() {
    let t0 = Instant::now();
    let (mut esme, mut smsc) = bound_pair(BindType::Transmitter, t0);
    esme.send_request(t0, submit()).unwrap();
    esme.send_request(t0, submit()).unwrap();
    assert_eq!(esme.send_request(t0, submit()), Err(SendError::WindowFull));
    pump(&mut esme, &mut smsc, t0);
    let Some(Event::Request {
        sequence_number, ..
    }) = smsc.poll_event()
    else {
        panic!()
    };
    smsc.respond(sequence_number, CommandStatus::EsmeRok, None)
        .unwrap();
    pump(&mut esme, &mut smsc, t0);
    assert_eq!(esme.window_available(), 1);
    esme.send_request(t0, submit()).unwrap();
}

#[test]
fn response_timeout_reports_the_request_lost() {
    let t0 = Instant::now();
    let (mut esme, _smsc) = bound_pair(BindType::Transmitter, t0);
    let seq = esme.send_request(t0, submit()).unwrap();
    let deadline = esme.poll_timeout().unwrap();
    assert_eq!(deadline, t0 + Duration::from_secs(30));
    esme.handle_timeout(deadline - Duration::from_millis(1));
    assert!(esme.poll_event().is_none());
    esme.handle_timeout(deadline);
    assert_eq!(
        esme.poll_event(),
        Some(Event::ResponseLost {
            sequence_number: seq,
            reason: LostReason::Timeout
        })
    );
    assert_eq!(esme.in_flight(), 0);
    assert_eq!(esme.counters().snapshot().response_timeouts, 1);
}

#[test]
fn idle_session_sends_enquire_link_and_an_answer_keeps_it_open() {
    let t0 = Instant::now();
    let (mut esme, mut smsc) = bound_pair(BindType::Transmitter, t0);
    let due = esme.poll_timeout().unwrap();
    assert_eq!(due, t0 + Duration::from_secs(30));
    esme.handle_timeout(due);
    pump(&mut esme, &mut smsc, due);
    assert!(!esme.is_closed());
    assert_eq!(esme.counters().snapshot().enquire_links_sent, 1);
    assert_eq!(esme.poll_timeout().unwrap(), due + Duration::from_secs(30));
}

#[test]
fn enquire_link_timeout_closes_the_session_as_dead_peer() {
    let t0 = Instant::now();
    let (mut esme, _smsc) = bound_pair(BindType::Transmitter, t0);
    let seq = esme.send_request(t0, submit()).unwrap();
    let due = t0 + Duration::from_secs(30);
    esme.handle_timeout(due); // submit times out; keep-alive goes out
    let _ = events(&mut esme);
    let sent = frames(&mut esme);
    assert!(
        sent.iter()
            .any(|f| f.command_id() == CommandId::EnquireLink)
    );
    esme.handle_timeout(due + Duration::from_secs(30));
    assert!(esme.is_closed());
    assert_eq!(
        events(&mut esme),
        vec![Event::Closed(CloseReason::DeadPeer)]
    );
    let _ = seq;
}

#[test]
fn peer_enquire_link_is_answered_before_and_after_bind() {
    let t0 = Instant::now();
    let mut smsc = Session::new(Role::Smsc, config(), t0);
    smsc.handle_frame(t0, Frame::new(CommandStatus::EsmeRok, 3, Pdu::EnquireLink));
    assert_eq!(
        frames(&mut smsc),
        vec![Frame::new(CommandStatus::EsmeRok, 3, Pdu::EnquireLinkResp)]
    );
}

#[test]
fn unbind_handshake_closes_both_sides_orderly() {
    let t0 = Instant::now();
    let (mut esme, mut smsc) = bound_pair(BindType::Transceiver, t0);
    esme.unbind(t0);
    assert_eq!(esme.state(), &State::Unbound);
    pump(&mut esme, &mut smsc, t0);
    assert_eq!(events(&mut smsc), vec![Event::Closed(CloseReason::Unbound)]);
    assert_eq!(events(&mut esme), vec![Event::Closed(CloseReason::Unbound)]);
}

#[test]
fn closing_reports_every_outstanding_request_lost() {
    let t0 = Instant::now();
    let (mut esme, _smsc) = bound_pair(BindType::Transmitter, t0);
    let a = esme.send_request(t0, submit()).unwrap();
    let b = esme.send_request(t0, submit()).unwrap();
    esme.handle_transport_closed("reset");
    let reason = CloseReason::TransportClosed("reset".into());
    assert_eq!(
        events(&mut esme),
        vec![
            Event::ResponseLost {
                sequence_number: a,
                reason: LostReason::Closed(reason.clone())
            },
            Event::ResponseLost {
                sequence_number: b,
                reason: LostReason::Closed(reason.clone())
            },
            Event::Closed(reason),
        ]
    );
}

#[test]
fn rejected_bind_closes_with_the_status() {
    let t0 = Instant::now();
    let mut esme = Session::new(Role::Esme, config(), t0);
    let mut smsc = Session::new(Role::Smsc, config(), t0);
    esme.bind(t0, &BindParams::new(BindType::Transmitter, "esme", "bad"))
        .unwrap();
    pump(&mut esme, &mut smsc, t0);
    let Some(Event::BindRequest(r)) = smsc.poll_event() else {
        panic!()
    };
    smsc.reject_bind(r.sequence_number, r.bind_type, CommandStatus::EsmeRinvpaswd)
        .unwrap();
    pump(&mut esme, &mut smsc, t0);
    assert_eq!(
        events(&mut esme),
        vec![Event::Closed(CloseReason::BindRejected(
            CommandStatus::EsmeRinvpaswd
        ))]
    );
    assert_eq!(smsc.state(), &State::Open { bind: None });
}

#[test]
fn smsc_closes_a_connection_that_never_binds() {
    let t0 = Instant::now();
    let mut smsc = Session::new(Role::Smsc, config(), t0);
    let due = smsc.poll_timeout().unwrap();
    assert_eq!(due, t0 + Duration::from_secs(10));
    smsc.handle_timeout(due);
    assert_eq!(
        events(&mut smsc),
        vec![Event::Closed(CloseReason::BindTimeout)]
    );
}

#[test]
fn inbound_requests_beyond_the_window_are_throttled() {
    let t0 = Instant::now();
    let (_, mut smsc) = bound_pair(BindType::Transmitter, t0);
    for seq in 10..13 {
        smsc.handle_frame(t0, Frame::new(CommandStatus::EsmeRok, seq, submit()));
    }
    assert_eq!(events(&mut smsc).len(), 2);
    assert_eq!(
        frames(&mut smsc),
        vec![Frame::bodiless(
            CommandId::SubmitSmResp,
            CommandStatus::EsmeRthrottled,
            12
        )]
    );
}

#[test]
fn generic_nack_resolves_the_request_with_its_status() {
    let t0 = Instant::now();
    let (mut esme, _) = bound_pair(BindType::Transmitter, t0);
    let seq = esme.send_request(t0, submit()).unwrap();
    esme.handle_frame(t0, Frame::generic_nack(CommandStatus::EsmeRinvcmdlen, seq));
    assert_eq!(
        esme.poll_event(),
        Some(Event::Response {
            sequence_number: seq,
            status: CommandStatus::EsmeRinvcmdlen,
            body: Some(Pdu::GenericNack)
        })
    );
}

#[test]
fn malformed_ok_response_is_reported_lost_not_successful() {
    let t0 = Instant::now();
    let (mut esme, _) = bound_pair(BindType::Transmitter, t0);
    let seq = esme.send_request(t0, submit()).unwrap();
    // submit_sm_resp whose message_id lacks its NUL terminator.
    let mut bytes = Vec::new();
    for x in [19u32, 0x8000_0004, 0, seq] {
        bytes.extend_from_slice(&x.to_be_bytes());
    }
    bytes.extend_from_slice(b"abc");
    esme.handle_bytes(t0, &bytes);
    assert_eq!(
        esme.poll_event(),
        Some(Event::ResponseLost {
            sequence_number: seq,
            reason: LostReason::Malformed {
                header_status: CommandStatus::EsmeRok
            }
        })
    );
    assert_eq!(esme.counters().snapshot().malformed_body, 1);
}

#[test]
fn oversized_pdu_from_peer_is_nacked_and_closes() {
    let t0 = Instant::now();
    let (_, mut smsc) = bound_pair(BindType::Transmitter, t0);
    let mut bytes = Vec::new();
    for x in [1_000_000u32, 4, 0, 77] {
        bytes.extend_from_slice(&x.to_be_bytes());
    }
    smsc.handle_bytes(t0, &bytes);
    assert_eq!(
        frames(&mut smsc),
        vec![Frame::generic_nack(CommandStatus::EsmeRinvcmdlen, 77)]
    );
    assert!(smsc.is_closed());
    assert_eq!(smsc.counters().snapshot().invalid_length, 1);
}

#[test]
fn second_bind_on_a_bound_session_is_ralybnd() {
    let t0 = Instant::now();
    let (_, mut smsc) = bound_pair(BindType::Transmitter, t0);
    let bind = BindParams::new(BindType::Transmitter, "x", "y")
        .to_pdu()
        .unwrap();
    smsc.handle_frame(t0, Frame::new(CommandStatus::EsmeRok, 9, bind));
    assert_eq!(
        frames(&mut smsc),
        vec![Frame::bodiless(
            CommandId::BindTransmitterResp,
            CommandStatus::EsmeRalybnd,
            9
        )]
    );
}
