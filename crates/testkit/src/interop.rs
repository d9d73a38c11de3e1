//! Third-party peers for interop tests (npm `smpp` and `jsdom`, PyPI `smpplib`, the Python
//! codec peers): the `SMSGATE_INTEROP=1` switch, the `interop/` folder, and peer processes
//! whose stdout is read line by line. Every crate's interop tests skip and fail the same way.

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Whether interop tests run (`SMSGATE_INTEROP=1`); prints a visible skip line naming `test`
/// when they do not, so a run without the peers says what it left out.
pub fn enabled(test: &str) -> bool {
    let on = std::env::var("SMSGATE_INTEROP").as_deref() == Ok("1");
    if !on {
        // Straight to stderr: libtest captures print!/eprint!, not direct writes.
        let _ = writeln!(
            std::io::stderr(),
            "{test}: skipped: set SMSGATE_INTEROP=1 to run (needs `npm install --prefix interop` \
             and `pip install -r interop/requirements.txt`)"
        );
    }
    on
}

/// The repository's `interop/` folder: the peer scripts, their `node_modules` and the TLS
/// test material.
pub fn dir() -> PathBuf {
    // This crate lives in crates/testkit, two levels below the repository root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

/// Fails loudly when npm `smpp` is not installed: with interop on, a missing peer is an error,
/// not a skip.
pub fn require_node_smpp() {
    let module = dir().join("node_modules/smpp");
    assert!(
        module.exists(),
        "npm `smpp` missing at {}: run `npm install --prefix interop`",
        module.display()
    );
}

/// Fails loudly when npm `jsdom` (the dashboard test's browser) is not installed.
pub fn require_jsdom() {
    let module = dir().join("node_modules/jsdom");
    assert!(
        module.exists(),
        "npm `jsdom` missing at {}: run `npm install --prefix interop`",
        module.display()
    );
}

/// Fails loudly when PyPI `smpplib` is not installed.
pub fn require_smpplib() {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import smpplib"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "PyPI smpplib missing: run `pip install -r interop/requirements.txt`"
    );
}

/// A file of the TLS test material (`interop/tls`, see its `gen.sh`): the test CA, server
/// and client certificates every TLS test trusts or presents.
pub fn tls_file(name: &str) -> String {
    dir().join("tls").join(name).to_string_lossy().into_owned()
}

/// A running peer: its stdin, and its stdout as lines. Peers speak a line protocol (`PORT
/// <n>`, `OK …`, `FAIL …`), so a test reads what it expects and fails with everything seen so
/// far. Killed on drop.
pub struct Peer {
    /// The process.
    pub child: Child,
    /// Its stdin, for peers that wait for a line (`GO`).
    pub stdin: ChildStdin,
    /// Its stdout, line by line; read through [`Peer::line`] to keep [`Peer::seen`].
    pub lines: Lines<BufReader<ChildStdout>>,
    /// Every line [`Peer::line`] has read, for failure messages.
    pub seen: Vec<String>,
}

impl Peer {
    /// Starts `program args…` in `interop/`.
    pub fn spawn(program: &str, args: &[String]) -> Self {
        Self::spawn_with_env(program, args, &[])
    }

    /// Starts `program args…` in `interop/` with extra environment variables.
    pub fn spawn_with_env(program: &str, args: &[String], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .current_dir(dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start interop peer `{program}`: {e}"));
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// The next stdout line (20 s at most); `None` at EOF.
    pub async fn line(&mut self) -> Option<String> {
        let line = tokio::time::timeout(Duration::from_secs(20), self.lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("peer silent for 20 s; so far: {:?}", self.seen))
            .unwrap();
        if let Some(l) = &line {
            self.seen.push(l.clone());
        }
        line
    }

    /// Reads lines until one starts with `prefix`; returns it.
    pub async fn expect(&mut self, prefix: &str) -> String {
        loop {
            match self.line().await {
                Some(l) if l.starts_with("FAIL") => panic!("peer failed: {l}; {:?}", self.seen),
                Some(l) if l.starts_with(prefix) => return l,
                Some(_) => {}
                None => panic!("peer ended before `{prefix}`: {:?}", self.seen),
            }
        }
    }

    /// Writes one line to the peer's stdin.
    pub async fn say(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Reads the rest of stdout and waits for the exit (60 s at most); returns every line.
    pub async fn finish(mut self) -> Vec<String> {
        while self.line().await.is_some() {}
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("peer did not exit")
            .unwrap();
        assert!(status.success(), "peer failed: {:?}", self.seen);
        self.seen
    }
}
