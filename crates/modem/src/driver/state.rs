//! The driver's small persistent memory, one JSON file replaced atomically on each change:
//! - TP-MR → remote id of recent sends. A TP-MR is one octet and wraps after 256 parts, so the
//!   driver hands the gateway a unique remote id per part and maps the status report's TP-MR
//!   back to it (the newest send with that TP-MR wins); kept across restarts because status
//!   reports can arrive hours later.
//! - Parts of long messages that came by `+CMT` and were acknowledged (`AT+CNMA`) before their
//!   siblings arrived: the network will not send them again, so they must survive a restart.
//!
//! Without a path (no data directory) the state lives in memory only.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use smsgate_sms::PendingPart;

/// One recent send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentRef {
    /// The id given to the gateway.
    pub remote_id: String,
    /// Unix ms of the send.
    pub at_ms: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Data {
    refs: BTreeMap<u8, SentRef>,
    cmt_parts: Vec<PendingPart>,
    last_stamp: i64,
    /// Fingerprint of a PIN the SIM rejected, so a restart does not spend another attempt.
    #[serde(default)]
    rejected_pin: Option<String>,
}

/// A fingerprint of a PIN (FNV-1a), so the file never holds the PIN itself.
pub fn pin_fingerprint(pin: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in pin.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The state file; see the module documentation.
#[derive(Debug)]
pub struct State {
    path: Option<PathBuf>,
    data: Data,
}

impl State {
    /// Loads `path` (a missing file is an empty state; an unreadable one is an error so that
    /// pending parts are not silently dropped).
    pub fn load(path: Option<PathBuf>) -> std::io::Result<Self> {
        let data = match &path {
            Some(p) => match std::fs::read(p) {
                Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                    std::io::Error::other(format!("modem state file {}: {e}", p.display()))
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Data::default(),
                Err(e) => return Err(e),
            },
            None => Data::default(),
        };
        Ok(Self { path, data })
    }

    fn save(&self) -> std::io::Result<()> {
        let Some(p) = &self.path else { return Ok(()) };
        let tmp = p.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(&self.data).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, p)?;
        Ok(())
    }

    /// A new unique remote id for a part with TP-MR `mr`, remembered (and saved) before the
    /// caller reports the send.
    pub fn record_send(&mut self, mr: u8, now_ms: i64) -> std::io::Result<String> {
        let stamp = now_ms.max(self.data.last_stamp + 1);
        self.data.last_stamp = stamp;
        let remote_id = format!("{stamp:x}-{mr}");
        self.data.refs.insert(
            mr,
            SentRef {
                remote_id: remote_id.clone(),
                at_ms: now_ms,
            },
        );
        self.save()?;
        Ok(remote_id)
    }

    /// The remote id of the newest send with TP-MR `mr`.
    pub fn lookup(&self, mr: u8) -> Option<&SentRef> {
        self.data.refs.get(&mr)
    }

    /// Whether this PIN was rejected by the SIM before (in this or an earlier run).
    pub fn pin_was_rejected(&self, pin: &str) -> bool {
        self.data.rejected_pin.as_deref() == Some(pin_fingerprint(pin).as_str())
    }

    /// Remembers (or, with `None`, forgets) a rejected PIN and saves.
    pub fn set_rejected_pin(&mut self, pin: Option<&str>) -> std::io::Result<()> {
        let fp = pin.map(pin_fingerprint);
        if fp == self.data.rejected_pin {
            return Ok(());
        }
        self.data.rejected_pin = fp;
        self.save()
    }

    /// `+CMT` parts waiting for siblings.
    pub fn cmt_parts(&self) -> &[PendingPart] {
        &self.data.cmt_parts
    }

    /// Replaces the waiting `+CMT` parts and saves.
    pub fn set_cmt_parts(&mut self, parts: Vec<PendingPart>) -> std::io::Result<()> {
        if parts == self.data.cmt_parts {
            return Ok(());
        }
        self.data.cmt_parts = parts;
        self.save()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_ids_are_unique_and_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let mut s = State::load(Some(path.clone())).unwrap();
        let a = s.record_send(7, 1000).unwrap();
        let b = s.record_send(7, 1000).unwrap();
        assert_ne!(a, b);
        let s = State::load(Some(path)).unwrap();
        assert_eq!(s.lookup(7).map(|r| r.remote_id.as_str()), Some(b.as_str()));
        assert_eq!(s.lookup(8), None);
    }
}
