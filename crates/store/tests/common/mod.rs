//! Fixtures shared by the store's integration tests: a store on a fresh SQLite file and a
//! plain queued message to adjust with struct-update syntax.

#![allow(dead_code)] // each test binary uses its own subset

use std::sync::Arc;

use smsgate_core::message::{MessageId, NewMessage, Priority};
use smsgate_core::number::Msisdn;
use smsgate_core::store::Store;

/// A store on a fresh SQLite file; keep the directory alive as long as the store.
pub async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    (smsgate_store::open(&url).await.unwrap(), dir)
}

/// A normal-priority GSM message to `to` with `segments` parts of text, created and due at
/// t = 1000, owned by no key.
pub fn message(to: &str, segments: u32) -> NewMessage {
    NewMessage {
        id: MessageId::new(),
        api_key_id: None,
        to: Msisdn::parse(to).unwrap(),
        from: None,
        text: "x".repeat(segments as usize * 150),
        encoding: "gsm7".into(),
        segments,
        priority: Priority::Normal,
        callback_url: None,
        idempotency_key: None,
        created_at: 1_000,
        send_at: 1_000,
        expires_at: None,
    }
}
