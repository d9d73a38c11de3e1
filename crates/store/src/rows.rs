//! Row helpers both backends share: decoding stored ids, statuses and JSON lists, and the
//! clock the store stamps its rows with.

use smsgate_core::message::{MessageId, Status};

/// Locks a std mutex, ignoring poisoning: the guarded values are replaced whole.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Rows per set-based statement (`messages`, `receipts`): well under SQLite's 32 766 bound
/// parameters at 6 per row.
pub(crate) const CHUNK: usize = 400;

pub(crate) fn decode_err(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("bad {what} in store: '{value}'").into())
}

pub(crate) fn parse_id(s: &str) -> Result<MessageId, sqlx::Error> {
    s.parse().map_err(|_| decode_err("message id", s))
}

pub(crate) fn parse_status(s: &str) -> Result<Status, sqlx::Error> {
    s.parse().map_err(|_| decode_err("status", s))
}

/// A JSON array of strings kept in a TEXT column (NULL: empty).
pub(crate) fn json_list(text: Option<&str>) -> Result<Vec<String>, sqlx::Error> {
    match text {
        None => Ok(Vec::new()),
        Some(t) => serde_json::from_str(t).map_err(|_| decode_err("JSON list", t)),
    }
}

/// A JSON list of status names in a TEXT column (NULL: empty, meaning every status).
pub(crate) fn status_list(text: Option<&str>) -> Result<Vec<Status>, sqlx::Error> {
    json_list(text)?.iter().map(|s| parse_status(s)).collect()
}

/// The column text for [`status_list`]: NULL for an empty list.
pub(crate) fn status_list_text(statuses: &[Status]) -> Option<String> {
    if statuses.is_empty() {
        return None;
    }
    let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    serde_json::to_string(&names).ok()
}
