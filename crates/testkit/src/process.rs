//! The real `smsgate` binary as child processes: `smsgate serve` and `smsgate sim smsc`, for
//! the tests that need what only a process has (SIGKILL, SIGTERM, a restart on the same
//! store). Their start-up lines are parsed and their stdout drained so they never block on a
//! full pipe. Dropping a handle kills the process, so a failed assertion leaves nothing running.
//!
//! The binary's path is a parameter: `env!("CARGO_BIN_EXE_smsgate")` is set only while
//! compiling the `smsgate` crate's own tests, so they pass it in.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process whose stdout lines arrive on a channel.
struct Lines {
    child: Child,
    rx: mpsc::Receiver<String>,
    program: PathBuf,
}

impl Lines {
    fn spawn(program: &Path, cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start smsgate");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keeps draining after the start-up lines, whether or not anyone still listens.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Self {
            child,
            rx,
            program: program.to_owned(),
        }
    }

    /// The next line, or a panic naming `what` when none comes within 60 s.
    fn next(&mut self, what: &str) -> String {
        match self.rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => {
                let _ = self.child.kill();
                panic!(
                    "{} printed no {what} within 60 s (is it a stale binary?)",
                    self.program.display()
                );
            }
        }
    }
}

/// Sends a signal (`-KILL`, `-TERM`, `-HUP`) to a child with the system's `kill`: std can
/// only SIGKILL, and the tests need the graceful stop and the reload too.
pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill {sig} {} failed", child.id());
}

/// A running `smsgate serve`: the gateway as operators run it, to crash and restart.
pub struct GatewayProcess {
    lines: Lines,
    /// `http://127.0.0.1:PORT` of its API.
    pub base: String,
    /// The admin key, written on the first start of a fresh store only.
    pub key: Option<String>,
    /// When its start-up banner was complete.
    pub ready_at: Instant,
}

impl GatewayProcess {
    /// Starts `<smsgate> serve --config <config>` and waits for the banner; `smsgate` is the
    /// binary's path (`env!("CARGO_BIN_EXE_smsgate")`).
    pub fn start(smsgate: impl AsRef<Path>, config: &Path) -> Self {
        let smsgate = smsgate.as_ref();
        let mut lines = Lines::spawn(
            smsgate,
            Command::new(smsgate)
                .args(["serve", "--config"])
                .arg(config)
                .env("RUST_LOG", "warn"),
        );
        let (mut base, mut key) = (None, None);
        loop {
            let line = lines.next("start-up banner");
            if let Some(rest) = line.trim().strip_prefix("dashboard and API:") {
                base = Some(rest.trim().trim_end_matches('/').to_owned());
            }
            if line.starts_with("sk_") {
                key = Some(line.trim().to_owned());
            }
            // Not a terminal: the key is in a 0600 file, the banner says where.
            if let Some(rest) = line.trim().strip_prefix("admin API key written to ")
                && let Some(path) = rest.split(" (mode").next()
            {
                key = std::fs::read_to_string(path)
                    .ok()
                    .map(|k| k.trim().to_owned());
            }
            if line.trim_start().starts_with("stop with Ctrl-C") {
                break;
            }
        }
        Self {
            lines,
            base: base.expect("the banner names the API address"),
            key,
            ready_at: Instant::now(),
        }
    }

    /// The child, to signal it.
    pub fn child(&self) -> &Child {
        &self.lines.child
    }

    /// SIGKILL and reap: the crash.
    pub fn kill(mut self) {
        signal(&self.lines.child, "-KILL");
        let _ = self.lines.child.wait();
    }

    /// SIGTERM and wait: the graceful stop. Returns whether it exited with 0.
    pub fn stop(mut self) -> bool {
        signal(&self.lines.child, "-TERM");
        self.lines.child.wait().is_ok_and(|s| s.success())
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.lines.child.kill();
        let _ = self.lines.child.wait();
    }
}

/// A running `smsgate sim smsc` with its control API: an SMSC that outlives the gateway's
/// restarts and counts what reached it.
pub struct SmscProcess {
    lines: Lines,
    /// Where it speaks SMPP.
    pub smpp: std::net::SocketAddr,
    /// `http://127.0.0.1:PORT` of its control API (`/stats`, `/messages`, `/mo`).
    pub http: String,
}

impl SmscProcess {
    /// Starts `<smsgate> sim smsc` on port 0 (SMPP and control API) with `args` added;
    /// `smsgate` is the binary's path (`env!("CARGO_BIN_EXE_smsgate")`).
    pub fn start(smsgate: impl AsRef<Path>, args: &[&str]) -> Self {
        let smsgate = smsgate.as_ref();
        let mut lines = Lines::spawn(
            smsgate,
            Command::new(smsgate)
                .args([
                    "sim",
                    "smsc",
                    "--listen",
                    "127.0.0.1:0",
                    "--http",
                    "127.0.0.1:0",
                ])
                .args(args)
                .env("RUST_LOG", "warn"),
        );
        let smpp = lines.next("SMPP address");
        let smpp = smpp
            .strip_prefix("SMPP ")
            .unwrap_or_else(|| panic!("expected 'SMPP <addr>', got {smpp:?}"))
            .parse()
            .expect("an address");
        let http = lines.next("control API address");
        let http = http
            .strip_prefix("HTTP ")
            .and_then(|u| u.strip_suffix("/stats"))
            .unwrap_or_else(|| panic!("expected 'HTTP <url>/stats', got {http:?}"))
            .to_owned();
        Self { lines, smpp, http }
    }

    /// SIGTERM and wait; returns its last stdout lines (the final `STATS`).
    pub fn stop(mut self) -> Vec<String> {
        signal(&self.lines.child, "-TERM");
        let _ = self.lines.child.wait();
        self.lines.rx.try_iter().collect()
    }
}

impl Drop for SmscProcess {
    fn drop(&mut self) {
        let _ = self.lines.child.kill();
        let _ = self.lines.child.wait();
    }
}
