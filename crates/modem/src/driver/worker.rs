//! The supervisor loop and the send path.
//!
//! `run`: open → init → serve, and on a lost modem close, wait (exponential backoff), reopen
//! and initialise again; while it is away every send is answered `Unavailable` at once so the
//! dispatcher fails over or retries. A fatal problem (wrong PIN, locked SIM) stops the driver
//! until restart.
//!
//! A command that times out is followed by a plain `AT` probe; no answer to that means the
//! modem hangs and is reset.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smsgate_sms::tpdu::{Address, SmsSubmit, ValidityPeriod};
use smsgate_sms::{Reassembler, SegmentOptions, segment};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::at::{Command, CommandError, Final, SendClass, Stage, info};
use crate::transport::Opener;

use super::link::{Link, Outcome};
use super::state::State;
use super::{Job, LinkState, ModemEvent, ModemSettings, ModemStatus, SendError, SendRequest};

/// Why a session ended.
#[derive(Debug)]
pub(super) enum Stop {
    /// The modem stopped answering or the device went away: reset.
    Lost(String),
    /// Retrying cannot help.
    Fatal(String),
    /// The handle was dropped.
    Shutdown,
}

impl From<super::link::LinkError> for Stop {
    fn from(e: super::link::LinkError) -> Self {
        Stop::Lost(e.to_string())
    }
}

/// The driver task's state.
pub(super) struct Worker {
    pub(super) name: String,
    pub(super) settings: ModemSettings,
    opener: Arc<dyn Opener>,
    pub(super) events: mpsc::Sender<ModemEvent>,
    jobs: mpsc::Receiver<Job>,
    stop: watch::Receiver<()>,
    status: Arc<Mutex<ModemStatus>>,
    pub(super) state: Option<State>,
    pub(super) reassembler: Reassembler,
    /// Storage indices of the parts each pending long message occupies.
    pub(super) part_slots: HashMap<(String, u16, u8), BTreeSet<u32>>,
    pub(super) cnma_required: bool,
    pub(super) cereg: bool,
    pub(super) pin_tried: bool,
    /// Messages completed while restoring saved parts, reported once the modem is ready.
    pub(super) restored: Vec<smsgate_sms::Complete>,
    next_send_at: Instant,
    epoch: Instant,
}

impl Worker {
    pub(super) fn new(
        name: &str,
        settings: ModemSettings,
        opener: Arc<dyn Opener>,
        events: mpsc::Sender<ModemEvent>,
        jobs: mpsc::Receiver<Job>,
        stop: watch::Receiver<()>,
        status: Arc<Mutex<ModemStatus>>,
    ) -> Self {
        let timeout_ms = settings.reassembly_timeout.as_millis() as i64;
        Self {
            name: name.to_owned(),
            settings,
            opener,
            events,
            jobs,
            stop,
            status,
            state: None,
            reassembler: Reassembler::new(timeout_ms),
            part_slots: HashMap::new(),
            cnma_required: false,
            cereg: true,
            pin_tried: false,
            restored: Vec::new(),
            next_send_at: Instant::now(),
            epoch: Instant::now(),
        }
    }

    pub(super) fn update(&self, f: impl FnOnce(&mut ModemStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Milliseconds on the driver's own clock (reassembly timing).
    pub(super) fn now_ms(&self) -> i64 {
        self.epoch.elapsed().as_millis() as i64
    }

    pub(super) fn stopped(&self) -> impl std::future::Future<Output = ()> + use<> {
        let mut rx = self.stop.clone();
        async move { while rx.changed().await.is_ok() {} }
    }

    /// The driver task.
    pub(super) async fn run(mut self) {
        match State::load(self.settings.state_file.clone()) {
            Ok(s) => self.state = Some(s),
            Err(e) => {
                self.fail(format!("cannot read the state file: {e}")).await;
                return;
            }
        }
        self.restore_cmt_parts();
        let mut failures: u32 = 0;
        loop {
            let started = Instant::now();
            let stop = self.session().await;
            match stop {
                Stop::Shutdown => return,
                Stop::Fatal(reason) => {
                    tracing::error!(connector = %self.name, %reason, "modem stopped");
                    self.fail(reason).await;
                    return;
                }
                Stop::Lost(reason) => {
                    if started.elapsed() > self.settings.reset_backoff_max {
                        failures = 0; // it worked for a while: start the backoff over
                    }
                    failures += 1;
                    let delay = backoff(&self.settings, failures);
                    tracing::warn!(connector = %self.name, %reason, attempt = failures, ?delay, "modem lost; resetting");
                    self.update(|s| {
                        s.link = LinkState::Resetting {
                            attempt: failures,
                            reason: reason.clone(),
                        };
                        s.last_error = Some(reason.clone());
                        s.counters.resets += 1;
                    });
                    if self.wait_refusing(Some(delay)).await {
                        return;
                    }
                }
            }
        }
    }

    /// Stops for good: answers sends `Unavailable` until the handle is dropped.
    async fn fail(&mut self, reason: String) {
        self.update(|s| {
            s.link = LinkState::Failed {
                reason: reason.clone(),
            };
            s.last_error = Some(reason.clone());
        });
        self.wait_refusing(None).await;
    }

    /// Answers every send `Unavailable` for `delay` (or until shutdown); `true` on shutdown.
    async fn wait_refusing(&mut self, delay: Option<Duration>) -> bool {
        let sleep = async {
            match delay {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep);
        let stopped = self.stopped();
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                () = &mut stopped => return true,
                () = &mut sleep => return false,
                job = self.jobs.recv() => match job {
                    Some(j) => {
                        let reason = self.status.lock().unwrap_or_else(|e| e.into_inner()).last_error.clone();
                        let _ = j.reply.send(Err(SendError::new(
                            SendClass::Unavailable,
                            "unavailable",
                            format!("modem not ready ({})", reason.unwrap_or_default()),
                        )));
                    }
                    None => return true,
                },
            }
        }
    }

    /// One open → init → serve cycle.
    async fn session(&mut self) -> Stop {
        let stopped = self.stopped();
        tokio::pin!(stopped);
        let open = tokio::time::timeout(self.settings.command_timeout, self.opener.open());
        let io = tokio::select! {
            () = &mut stopped => return Stop::Shutdown,
            r = open => match r {
                Ok(Ok(io)) => io,
                Ok(Err(e)) => return Stop::Lost(format!("cannot open {}: {e}", self.opener.describe())),
                Err(_) => return Stop::Lost(format!("opening {} timed out", self.opener.describe())),
            },
        };
        let mut link = Link::new(io, self.settings.command_timeout);
        let init = async {
            self.init(&mut link).await?;
            self.update(|s| {
                s.link = LinkState::Ready;
                if s.registration.is_some_and(|r| r.is_registered()) {
                    s.last_error = None;
                }
            });
            tracing::info!(connector = %self.name, "modem ready");
            self.deliver_restored(&mut link).await?;
            self.sweep(&mut link).await
        };
        let r = tokio::select! {
            () = &mut stopped => return Stop::Shutdown,
            r = init => r,
        };
        if let Err(stop) = r {
            return stop;
        }
        let stop = self.serve(&mut link).await;
        self.update(|s| s.counters.stray_lines += link.stray);
        stop
    }

    async fn serve(&mut self, link: &mut Link) -> Stop {
        let stopped = self.stopped();
        tokio::pin!(stopped);
        let mut health = tokio::time::interval(self.settings.health_interval);
        health.reset();
        loop {
            let expiry = self
                .reassembler
                .poll_timeout()
                .map(|t| self.epoch + Duration::from_millis(t.max(0) as u64));
            let step = async {
                if let Some(u) = link.take_urc() {
                    return self.on_urc(link, u).await;
                }
                tokio::select! {
                    biased;
                    u = link.next_urc() => { let u = u?; self.on_urc(link, u).await }
                    job = self.jobs.recv() => match job {
                        Some(j) => self.on_job(link, j).await,
                        None => Err(Stop::Shutdown),
                    },
                    _ = health.tick() => {
                        self.check_health(link).await?;
                        self.sweep(link).await
                    }
                    () = sleep_until(expiry) => self.expire_parts(link).await,
                }
            };
            tokio::select! {
                () = &mut stopped => return Stop::Shutdown,
                r = step => if let Err(stop) = r { return stop },
            }
        }
    }

    /// Runs a command with `timeout` (default: the command timeout). After a timeout a plain
    /// `AT` probes the modem; no answer to that is a lost modem.
    pub(super) async fn cmd(
        &mut self,
        link: &mut Link,
        line: &str,
        pdu: Option<(String, Duration)>,
    ) -> Result<Outcome, Stop> {
        let command = match pdu {
            Some((pdu, t)) => Command::with_pdu(line, pdu, self.settings.command_timeout, t),
            None => Command::new(line, self.settings.command_timeout),
        };
        let out = link.command(command).await?;
        if let Outcome::Failed(CommandError::Timeout { .. }) = &out {
            self.update(|s| s.counters.timeouts += 1);
            let probe = link
                .command(Command::new("AT", self.settings.command_timeout))
                .await?;
            if !matches!(probe, Outcome::Answered(_)) {
                return Err(Stop::Lost(format!(
                    "the modem stopped answering ({line} and AT timed out)"
                )));
            }
        }
        Ok(out)
    }

    async fn on_job(&mut self, link: &mut Link, job: Job) -> Result<(), Stop> {
        let id = job.request.id.clone();
        let (result, stop) = match self.send(link, &job.request).await {
            Ok(ids) => (Ok(ids), None),
            Err((e, stop)) => (Err(e), stop),
        };
        match &result {
            Ok(ids) => {
                tracing::info!(connector = %self.name, message = %id, parts = ids.len(), "sent")
            }
            Err(e) => {
                tracing::info!(connector = %self.name, message = %id, code = %e.code, error = %e.message, "send failed");
                self.update(|s| {
                    s.counters.send_failures += 1;
                    s.last_error = Some(e.message.clone());
                });
            }
        }
        let _ = job.reply.send(result);
        match stop {
            Some(s) => Err(s),
            None => Ok(()),
        }
    }

    /// One `AT+CMGS` per part. On failure: the error, and whether the session must end.
    async fn send(
        &mut self,
        link: &mut Link,
        req: &SendRequest,
    ) -> Result<Vec<String>, (SendError, Option<Stop>)> {
        let encode_err = |e: smsgate_sms::EncodeError| {
            (
                SendError::new(
                    SendClass::Permanent,
                    "encode",
                    format!("cannot encode: {e}"),
                ),
                None,
            )
        };
        let opts = SegmentOptions {
            encoding: req.encoding,
            reference: req.reference,
            ..SegmentOptions::default()
        };
        let m = match &req.binary {
            Some(b) => smsgate_sms::segment_binary_with(&b.payload, &b.elements, &opts),
            None => segment(&req.text, &opts),
        }
        .map_err(encode_err)?;
        let validity = req
            .validity
            .map(|v| ValidityPeriod::relative_from_seconds(v.as_secs()));
        let subs = SmsSubmit::for_message(
            &Address::parse(&req.to),
            &m,
            0,
            None,
            validity,
            self.settings.status_reports,
        )
        .map_err(encode_err)?;
        // Binary keeps the data coding it was given (a class, a vendor's coding group).
        let subs: Vec<SmsSubmit> = match &req.binary {
            Some(b) => subs
                .into_iter()
                .map(|mut s| {
                    s.dcs = smsgate_sms::Dcs::from_octet(b.data_coding);
                    s
                })
                .collect(),
            None => subs,
        };
        let smsc = self.settings.smsc.as_deref().map(Address::parse);
        let mut ids = Vec::with_capacity(subs.len());
        for (i, sub) in subs.iter().enumerate() {
            let (hex, len) = sub.to_cmgs(smsc.as_ref()).map_err(encode_err)?;
            let gap = Duration::from_secs(60) / self.settings.max_per_minute.max(1);
            tokio::time::sleep_until(self.next_send_at).await;
            self.next_send_at = Instant::now() + gap;
            let line = format!("AT+CMGS={len}");
            let out = self
                .cmd(link, &line, Some((hex, self.settings.send_timeout)))
                .await
                .map_err(|stop| {
                    let class = if i == 0 {
                        SendClass::Temporary
                    } else {
                        SendClass::Ambiguous
                    };
                    (
                        SendError::new(class, "modem_lost", "the modem stopped answering"),
                        Some(stop),
                    )
                })?;
            let part = format!("part {} of {}", i + 1, subs.len());
            let r = match out {
                Outcome::Answered(r) => r,
                Outcome::Failed(CommandError::Timeout {
                    stage: Stage::Command | Stage::Prompt,
                }) if i == 0 => {
                    return Err((
                        SendError::new(
                            SendClass::Temporary,
                            "timeout",
                            format!("no prompt for {part}; nothing was sent"),
                        ),
                        None,
                    ));
                }
                Outcome::Failed(e) => {
                    return Err((
                        SendError::new(SendClass::Ambiguous, "timeout", format!("{part}: {e}")),
                        None,
                    ));
                }
            };
            let mr = match (&r.result, info::cmgs_reference(&r)) {
                (Final::Ok, Some(mr)) => mr,
                (Final::Cms(e), _) => {
                    // A later part failing after earlier ones went out: the message is
                    // partly delivered; retrying resends all parts with the same reference.
                    let class = if i > 0 && e.class() == SendClass::Permanent {
                        SendClass::Permanent
                    } else {
                        e.class()
                    };
                    return Err((
                        SendError::new(
                            class,
                            format!("cms_{}", e.code.map_or("x".into(), |c| c.to_string())),
                            format!("{part}: {e}"),
                        ),
                        None,
                    ));
                }
                (other, _) => {
                    return Err((
                        SendError::new(
                            SendClass::Temporary,
                            "modem_error",
                            format!("{part}: AT+CMGS answered {other}"),
                        ),
                        None,
                    ));
                }
            };
            let now_ms = unix_ms();
            let Some(state) = self.state.as_mut() else {
                return Err((
                    SendError::new(SendClass::Ambiguous, "state", "no state"),
                    None,
                ));
            };
            match state.record_send(mr, now_ms) {
                Ok(remote_id) => ids.push(remote_id),
                Err(e) => {
                    // Sent, but its reports cannot be matched after a restart: still a send.
                    tracing::error!(connector = %self.name, error = %e, "cannot save the modem state file");
                    ids.push(format!("{now_ms:x}-{mr}"));
                }
            }
            self.update(|s| s.counters.parts_sent += 1);
        }
        Ok(ids)
    }
}

fn backoff(s: &ModemSettings, failures: u32) -> Duration {
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1).min(20))
        .unwrap_or(u32::MAX);
    s.reset_backoff
        .saturating_mul(factor)
        .min(s.reset_backoff_max)
}

pub(super) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
