//! Deterministic tests of the AT engine: plain bytes in, bytes and events out, time passed in.

use std::time::{Duration, Instant};

use smsgate_modem::at::{
    Command, CommandError, CommandId, Engine, EngineConfig, Event, Final, Response, Stage, Urc,
};

const T: Duration = Duration::from_secs(5);

fn engine() -> Engine {
    Engine::new(EngineConfig::default())
}

fn transmitted(e: &mut Engine) -> String {
    String::from_utf8_lossy(&e.poll_transmit().unwrap_or_default()).into_owned()
}

fn events(e: &mut Engine) -> Vec<Event> {
    std::iter::from_fn(|| e.poll_event()).collect()
}

fn ok(id: CommandId, lines: &[&str]) -> Event {
    Event::Completed {
        id,
        result: Ok(Response {
            lines: lines.iter().map(|s| s.to_string()).collect(),
            result: Final::Ok,
        }),
    }
}

#[test]
fn a_command_is_written_with_cr_and_completed_by_ok() {
    let now = Instant::now();
    let mut e = engine();
    let id = e.submit(Command::new("AT+CSQ", T), now);
    assert_eq!(transmitted(&mut e), "AT+CSQ\r");
    e.handle_input(b"\r\n+CSQ: 21,99\r\n\r\nOK\r\n", now);
    assert_eq!(events(&mut e), vec![ok(id, &["+CSQ: 21,99"])]);
    assert!(!e.is_busy());
}

#[test]
fn echo_is_dropped_whether_on_or_off() {
    let now = Instant::now();
    let mut e = engine();
    let a = e.submit(Command::new("AT+CGMI", T), now);
    // Echo on: the command comes back first, ended by a lone CR.
    e.handle_input(b"AT+CGMI\r\r\nQuectel\r\n\r\nOK\r\n", now);
    let b = e.submit(Command::new("AT+CGMM", T), now);
    e.handle_input(b"\r\nEC25\r\n\r\nOK\r\n", now);
    assert_eq!(events(&mut e), vec![ok(a, &["Quectel"]), ok(b, &["EC25"])]);
}

#[test]
fn queued_commands_run_one_at_a_time() {
    let now = Instant::now();
    let mut e = engine();
    let a = e.submit(Command::new("ATE0", T), now);
    let b = e.submit(Command::new("AT+CMEE=1", T), now);
    assert_eq!(transmitted(&mut e), "ATE0\r");
    e.handle_input(b"ATE0\r\r\nOK\r\n", now);
    assert_eq!(transmitted(&mut e), "AT+CMEE=1\r");
    e.handle_input(b"\r\nOK\r\n", now);
    assert_eq!(events(&mut e), vec![ok(a, &[]), ok(b, &[])]);
}

#[test]
fn cme_and_cms_errors_complete_the_command_with_their_meaning() {
    let now = Instant::now();
    let mut e = engine();
    let _ = e.submit(Command::new("AT+CPIN=\"0000\"", T), now);
    e.handle_input(b"\r\n+CME ERROR: 16\r\n", now);
    let Some(Event::Completed {
        result: Ok(Response {
            result: Final::Cme(err),
            ..
        }),
        ..
    }) = e.poll_event()
    else {
        panic!("expected +CME ERROR")
    };
    assert!(err.is_wrong_password());
    assert_eq!(err.meaning(), "incorrect password");
    let _ = e.submit(Command::new("AT+CMGR=9", T), now);
    e.handle_input(b"\r\n+CMS ERROR: 321\r\n", now);
    let Some(Event::Completed {
        result: Ok(Response {
            result: Final::Cms(err),
            ..
        }),
        ..
    }) = e.poll_event()
    else {
        panic!("expected +CMS ERROR")
    };
    assert_eq!(err.meaning(), "invalid memory index");
}

#[test]
fn cmgs_writes_the_pdu_after_the_prompt_and_reads_the_reference() {
    let now = Instant::now();
    let mut e = engine();
    let id = e.submit(Command::with_pdu("AT+CMGS=23", "0011AB", T, T), now);
    assert_eq!(transmitted(&mut e), "AT+CMGS=23\r");
    e.handle_input(b"AT+CMGS=23\r\r\n> ", now);
    assert_eq!(transmitted(&mut e), "0011AB\x1a");
    // Echo of the PDU (and its Ctrl-Z), then the answer.
    e.handle_input(b"0011AB\x1a\r\n+CMGS: 42\r\n\r\nOK\r\n", now);
    assert_eq!(events(&mut e), vec![ok(id, &["+CMGS: 42"])]);
}

#[test]
fn urcs_are_reported_between_and_in_the_middle_of_commands() {
    let now = Instant::now();
    let mut e = engine();
    e.handle_input(b"\r\n+CMTI: \"SM\",1\r\n\r\nRING\r\n", now);
    let id = e.submit(Command::with_pdu("AT+CMGS=23", "00AA", T, T), now);
    // Before the prompt, between the prompt and the answer, and inside the answer.
    e.handle_input(b"\r\n+CDSI: \"SM\",2\r\n\r\n> ", now);
    assert_eq!(transmitted(&mut e), "AT+CMGS=23\r00AA\x1a");
    e.handle_input(b"\r\n+CREG: 5\r\n\r\n+CMGS: 7\r\n", now);
    e.handle_input(b"\r\n+CMT: ,6\r\n07911326040000F0\r\n\r\nOK\r\n", now);
    assert_eq!(
        events(&mut e),
        vec![
            Event::Urc(Urc::Cmti {
                mem: "SM".into(),
                index: 1
            }),
            Event::Urc(Urc::Ring),
            Event::Urc(Urc::Cdsi {
                mem: "SM".into(),
                index: 2
            }),
            Event::Urc(Urc::Registration {
                kind: "CREG",
                stat: 5
            }),
            Event::Urc(Urc::Cmt {
                length: 6,
                pdu: "07911326040000F0".into()
            }),
            ok(id, &["+CMGS: 7"]),
        ]
    );
}

#[test]
fn a_response_with_a_urc_prefix_belongs_to_its_command() {
    let now = Instant::now();
    let mut e = engine();
    let id = e.submit(Command::new("AT+CREG?", T), now);
    e.handle_input(b"\r\n+CREG: 0,1\r\n\r\nOK\r\n", now);
    assert_eq!(events(&mut e), vec![ok(id, &["+CREG: 0,1"])]);
    let id = e.submit(Command::new("AT+CEREG?", T), now);
    e.handle_input(b"\r\n+CREG: 1\r\n+CEREG: 0,5\r\nOK\r\n", now);
    assert_eq!(
        events(&mut e),
        vec![
            Event::Urc(Urc::Registration {
                kind: "CREG",
                stat: 1
            }),
            ok(id, &["+CEREG: 0,5"])
        ]
    );
}

#[test]
fn cds_pdu_line_is_joined_to_its_header_even_mid_command() {
    let now = Instant::now();
    let mut e = engine();
    let id = e.submit(Command::new("AT+CMGR=1", T), now);
    e.handle_input(
        b"\r\n+CDS: 25\r\n0006\r\n+CMGR: 1,,5\r\n00AB\r\nOK\r\n",
        now,
    );
    assert_eq!(
        events(&mut e),
        vec![
            Event::Urc(Urc::Cds {
                length: 25,
                pdu: "0006".into()
            }),
            ok(id, &["+CMGR: 1,,5", "00AB"])
        ]
    );
}

#[test]
fn a_silent_modem_times_the_command_out_and_the_next_one_runs() {
    let t0 = Instant::now();
    let mut e = engine();
    let a = e.submit(Command::new("AT+CSQ", T), t0);
    let b = e.submit(Command::new("AT", T), t0);
    assert_eq!(e.poll_timeout(), Some(t0 + T));
    e.handle_timeout(t0 + T - Duration::from_millis(1));
    assert!(events(&mut e).is_empty());
    transmitted(&mut e);
    e.handle_timeout(t0 + T);
    assert_eq!(
        events(&mut e),
        vec![Event::Completed {
            id: a,
            result: Err(CommandError::Timeout {
                stage: Stage::Command
            })
        }]
    );
    assert_eq!(transmitted(&mut e), "AT\r");
    assert_eq!(e.poll_timeout(), Some(t0 + T + T));
    e.handle_input(b"\r\nOK\r\n", t0 + T);
    assert_eq!(events(&mut e), vec![ok(b, &[])]);
}

#[test]
fn a_missing_prompt_sends_esc_and_reports_that_nothing_was_sent() {
    let t0 = Instant::now();
    let mut e = engine();
    let id = e.submit(Command::with_pdu("AT+CMGS=5", "00AA", T, T), t0);
    transmitted(&mut e);
    e.handle_timeout(t0 + T);
    assert_eq!(transmitted(&mut e), "\x1b");
    assert_eq!(
        events(&mut e),
        vec![Event::Completed {
            id,
            result: Err(CommandError::Timeout {
                stage: Stage::Prompt
            })
        }]
    );
}

#[test]
fn a_timeout_after_the_pdu_is_ambiguous_and_a_late_answer_is_stray() {
    let t0 = Instant::now();
    let mut e = engine();
    let id = e.submit(Command::with_pdu("AT+CMGS=5", "00AA", T, T), t0);
    e.handle_input(b"\r\n> ", t0 + Duration::from_secs(1));
    // The deadline restarts when the PDU is written.
    assert_eq!(e.poll_timeout(), Some(t0 + Duration::from_secs(1) + T));
    e.handle_timeout(t0 + Duration::from_secs(6));
    assert_eq!(
        events(&mut e),
        vec![Event::Completed {
            id,
            result: Err(CommandError::Timeout { stage: Stage::Pdu })
        }]
    );
    e.handle_input(b"\r\n+CMGS: 3\r\n\r\nOK\r\n", t0 + Duration::from_secs(7));
    assert_eq!(
        events(&mut e),
        vec![
            Event::Urc(Urc::Other("+CMGS: 3".into())),
            Event::Stray("OK".into())
        ]
    );
}

#[test]
fn an_error_instead_of_the_prompt_completes_the_command() {
    let now = Instant::now();
    let mut e = engine();
    let id = e.submit(Command::with_pdu("AT+CMGS=5", "00AA", T, T), now);
    e.handle_input(b"\r\n+CMS ERROR: 304\r\n", now);
    assert!(matches!(
        events(&mut e).as_slice(),
        [Event::Completed { id: i, result: Ok(Response { result: Final::Cms(_), .. }) }] if *i == id
    ));
    assert_eq!(transmitted(&mut e), "AT+CMGS=5\r");
}

#[test]
fn reset_aborts_running_and_queued_commands() {
    let now = Instant::now();
    let mut e = engine();
    let a = e.submit(Command::new("AT", T), now);
    let b = e.submit(Command::new("AT", T), now);
    e.handle_input(b"\r\nOK", now); // half a line, dropped by the reset
    e.reset();
    let aborted = |id| Event::Completed {
        id,
        result: Err(CommandError::Aborted),
    };
    assert_eq!(events(&mut e), vec![aborted(a), aborted(b)]);
    e.handle_input(b"\r\n", now);
    assert_eq!(events(&mut e), vec![]);
}

#[test]
fn bytes_split_anywhere_give_the_same_events() {
    let input: &[u8] =
        b"AT+CMGR=2\r\r\n+CMTI: \"ME\",4\r\n+CMGR: 0,,5\r\n0011223344\r\n\r\nOK\r\n\r\nRING\r\n";
    let run = |chunks: &[&[u8]]| {
        let now = Instant::now();
        let mut e = engine();
        e.submit(Command::new("AT+CMGR=2", T), now);
        for c in chunks {
            e.handle_input(c, now);
        }
        events(&mut e)
    };
    let whole = run(&[input]);
    assert_eq!(whole.len(), 3);
    for i in 0..input.len() {
        assert_eq!(run(&[&input[..i], &input[i..]]), whole, "split at {i}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(&bytes), whole);
}
