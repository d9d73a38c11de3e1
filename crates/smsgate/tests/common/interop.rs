//! Third-party peers for interop tests: the `SMSGATE_INTEROP=1` switch, the `interop/` folder,
//! and peer processes whose stdout is read line by line.

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Whether interop tests run; prints a visible skip line when they do not.
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

/// The repository's `interop/` folder.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

/// Fails loudly when npm `smpp` is not installed.
pub fn require_node_smpp() {
    let module = dir().join("node_modules/smpp");
    assert!(
        module.exists(),
        "npm `smpp` missing at {}: run `npm install --prefix interop`",
        module.display()
    );
}

/// Fails loudly when npm `jsdom` is not installed.
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

/// A file of the TLS test material (`interop/tls`, see its `gen.sh`).
pub fn tls_file(name: &str) -> String {
    dir().join("tls").join(name).to_string_lossy().into_owned()
}

/// A running peer: its stdin, and its stdout as lines.
pub struct Peer {
    pub child: Child,
    pub stdin: ChildStdin,
    pub lines: Lines<BufReader<ChildStdout>>,
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
