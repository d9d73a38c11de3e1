//! A GSM modem simulator: [`SimModem`] (the behaviour, no I/O) served over any byte stream —
//! a pseudo-terminal for `smsgate sim modem --pty`, a TCP listener, or an in-process pipe for
//! tests ([`Simulator`] is an [`Opener`]).
//!
//! Control it through the [`Simulator`] methods, or with the text commands of [`control`]
//! (what `smsgate sim modem` reads on its standard input).

pub mod control;
mod modem;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

pub use modem::{ReportOutcome, SentPart, SimModem, SimStats};

use crate::transport::{BoxStream, OpenFuture, Opener};

/// The simulated modem's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// The SIM's PIN; `None` for a SIM without PIN lock. Default none.
    pub pin: Option<String>,
    /// Wrong PINs before the SIM wants its PUK. Default 3.
    pub pin_attempts: u8,
    /// Message storage slots. Default 30 (a typical SIM).
    pub storage_slots: usize,
    /// The SMSC address `AT+CSCA?` reports. Default `+491710760000`.
    pub smsc: String,
    /// `AT+CGMI`. Default `smsgate`.
    pub manufacturer: String,
    /// `AT+CGMM`. Default `SIM800-sim`.
    pub model: String,
    /// `AT+CGSN`. Default a test IMEI.
    pub imei: String,
    /// `AT+CIMI`. Default a test IMSI.
    pub imsi: String,
    /// `<rssi>` of `AT+CSQ`. Default 20 (−73 dBm).
    pub rssi: u8,
    /// `<stat>` of `AT+CREG?`. Default 1 (home network).
    pub registration: u8,
    /// Delay before every command's answer. Default 0.
    #[serde(with = "humantime_serde_compat")]
    pub latency: Duration,
    /// Delay from a send to its status report. Default 200 ms.
    #[serde(with = "humantime_serde_compat")]
    pub report_delay: Duration,
    /// What status reports say. Default delivered.
    pub report: ReportOutcome,
    /// How long a `+CMT`/`+CDS` waits for `AT+CNMA` (with `+CSMS` service 1) before the
    /// network takes it back and delivers it again. Default 10 s.
    #[serde(with = "humantime_serde_compat")]
    pub ack_timeout: Duration,
    /// The first TP-MR given to a send. Default 0.
    pub first_reference: u8,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            pin: None,
            pin_attempts: 3,
            storage_slots: 30,
            smsc: "+491710760000".into(),
            manufacturer: "smsgate".into(),
            model: "SIM800-sim".into(),
            imei: "350000000000017".into(),
            imsi: "262019999999999".into(),
            rssi: 20,
            registration: 1,
            latency: Duration::ZERO,
            report_delay: Duration::from_millis(200),
            report: ReportOutcome::Delivered,
            ack_timeout: Duration::from_secs(10),
            first_reference: 0,
        }
    }
}

/// Durations as milliseconds in serialized settings (the CLI takes humantime strings).
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

struct Shared {
    modem: Mutex<SimModem>,
    wake: Notify,
    /// Bumped by each in-process connection, so the previous connection's task stops.
    generation: std::sync::atomic::AtomicU64,
}

/// A running simulator, cheap to clone; see the module documentation.
#[derive(Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator").finish_non_exhaustive()
    }
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Simulator {
    /// A simulator with `config`, not yet attached to any stream.
    pub fn new(config: SimConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                modem: Mutex::new(SimModem::new(config, now(), unix_now())),
                wake: Notify::new(),
                generation: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    fn modem(&self) -> MutexGuard<'_, SimModem> {
        // A poisoned lock means a test thread panicked while holding it; the state is still
        // the simulator's best knowledge.
        self.shared.modem.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        self.shared.wake.notify_waiters();
    }

    /// A phone texts the modem; returns the number of SMS parts.
    pub fn inject_mo(&self, from: &str, text: &str) -> Result<usize, smsgate_sms::EncodeError> {
        let r = self.modem().inject_mo(from, text, now());
        self.changed();
        r
    }

    /// A device sends 8-bit data with header elements; returns the number of SMS parts.
    pub fn inject_mo_binary(
        &self,
        from: &str,
        payload: &[u8],
        elements: &[smsgate_sms::udh::InformationElement],
    ) -> Result<usize, smsgate_sms::EncodeError> {
        let r = self
            .modem()
            .inject_mo_binary(from, payload, elements, now());
        self.changed();
        r
    }

    /// Delivers an SMS during the next `AT+CMGS`, between the prompt and `+CMGS:`.
    pub fn inject_mo_during_next_send(&self, from: &str, text: &str) {
        self.modem().inject_mo_during_next_send(from, text);
    }

    /// Stops answering, for `duration` or until [`Simulator::unhang`].
    pub fn hang(&self, duration: Option<Duration>) {
        self.modem().set_hang(duration, now());
        self.changed();
    }

    /// Answers again.
    pub fn unhang(&self) {
        self.modem().unhang(now());
        self.changed();
    }

    /// Answers the next send with `+CMS ERROR: <code>`.
    pub fn fail_next_send(&self, code: u16) {
        self.modem().fail_next_send(code);
    }

    /// Delay before every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.modem().set_latency(latency);
    }

    /// What status reports say from now on.
    pub fn set_report(&self, report: ReportOutcome) {
        self.modem().set_report(report);
    }

    /// Counters and records.
    pub fn stats(&self) -> SimStats {
        self.modem().stats()
    }

    /// Runs the modem on `io` until the stream ends or `shutdown` resolves.
    pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        io: S,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        self.serve_generation(io, shutdown, None).await
    }

    async fn serve_generation<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut io: S,
        shutdown: impl std::future::Future<Output = ()>,
        generation: Option<u64>,
    ) -> std::io::Result<()> {
        use std::sync::atomic::Ordering;
        tokio::pin!(shutdown);
        let mut buf = vec![0u8; 4096];
        loop {
            if let Some(g) = generation
                && self.shared.generation.load(Ordering::Acquire) != g
            {
                return Ok(()); // a newer connection took over
            }
            // Registered before looking at the state, so a change made meanwhile still wakes us.
            let wake = self.shared.wake.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            let out = self.modem().poll_output(now());
            if let Some(bytes) = out {
                io.write_all(&bytes).await?;
                io.flush().await?;
                continue;
            }
            let deadline = self.modem().poll_timeout();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = io.read(&mut buf) => {
                    let n = r?;
                    if n == 0 {
                        return Ok(());
                    }
                    self.modem().handle_input(&buf[..n], now());
                }
                () = sleep => self.modem().handle_timeout(now()),
                () = &mut wake => {}
                () = &mut shutdown => return Ok(()),
            }
        }
    }

    /// An in-process connection: the simulator serves one end of a pipe in a task, the other
    /// end is returned. A new connection ends the previous one (like reopening the device).
    pub fn connect(&self) -> tokio::io::DuplexStream {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        self.attach(ours);
        theirs
    }

    /// Serves `io` in a task, ending the previous attached connection (one modem, one line).
    fn attach<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(&self, io: S) {
        use std::sync::atomic::Ordering;
        let g = self.shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.changed();
        let me = self.clone();
        tokio::spawn(async move {
            let _ = me
                .serve_generation(io, std::future::pending(), Some(g))
                .await;
        });
    }

    /// Serves TCP connections (like a ser2net port) until `shutdown`; a new connection takes
    /// the line over from the previous one.
    pub async fn serve_tcp(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                r = listener.accept() => {
                    let (s, _) = r?;
                    s.set_nodelay(true)?;
                    self.attach(s);
                }
            }
        }
    }

    /// Serves the simulator on a new pseudo-terminal until `shutdown`; returns the device path
    /// at once and the serving task.
    pub fn spawn_pty(
        &self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<(
        std::path::PathBuf,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )> {
        let pty = crate::transport::Pty::open()?;
        let path = pty.path.clone();
        let me = self.clone();
        let task = tokio::spawn(async move {
            let mut pty = pty; // owns the slave descriptor that keeps the line up
            me.serve(&mut pty.master, shutdown).await
        });
        Ok((path, task))
    }
}

impl Opener for Simulator {
    fn open(&self) -> OpenFuture<'_> {
        Box::pin(async move { Ok(Box::new(self.connect()) as BoxStream) })
    }

    fn describe(&self) -> String {
        "simulator (in-process)".into()
    }
}
