//! `[retention]`: a message or inbound SMS body is personal data; after `redact_after` its text
//! is blanked (status, numbers and times stay, for billing and delivery questions), after
//! `delete_after` the row goes with its timeline. The loop works in small passes (500 rows per
//! table), one commit each, a minute apart when there is nothing to do, so it never holds the
//! writer long enough for the intake to notice.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::clock::Clock;
use crate::store::{RetentionPass, Store, StoreError};

/// `[retention]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Blank message and inbound texts this long after they were created; default: never.
    #[serde(with = "humantime_serde")]
    pub redact_after: Option<Duration>,
    /// Delete messages, inbound SMS and events this long after they were created; default:
    /// never.
    #[serde(with = "humantime_serde")]
    pub delete_after: Option<Duration>,
}

impl RetentionConfig {
    /// Checks the periods; the error says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if let (Some(r), Some(d)) = (self.redact_after, self.delete_after)
            && d < r
        {
            return Err(
                "[retention] delete_after is shorter than redact_after; redaction would never run"
                    .into(),
            );
        }
        if self
            .delete_after
            .is_some_and(|d| d < Duration::from_secs(3600))
        {
            return Err("[retention] delete_after must be at least 1h".into());
        }
        Ok(())
    }

    /// Whether anything is configured.
    pub fn enabled(&self) -> bool {
        self.redact_after.is_some() || self.delete_after.is_some()
    }

    /// The pass for `now`.
    pub fn pass(&self, now: i64, limit: u32) -> RetentionPass {
        let before = |d: Option<Duration>| d.map(|d| now - d.as_millis() as i64);
        RetentionPass {
            redact_before: before(self.redact_after),
            delete_before: before(self.delete_after),
            limit,
        }
    }
}

const LIMIT: u32 = 500;

/// Runs retention passes until `shutdown`; returns at once when nothing is configured.
pub async fn run(
    store: Arc<dyn Store>,
    clock: Clock,
    config: RetentionConfig,
    every: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    if !config.enabled() {
        return;
    }
    tokio::pin!(shutdown);
    loop {
        let pass = config.pass(clock.now_ms(), LIMIT);
        let more = match store.retention(pass).await {
            Ok(done) => {
                if done.redacted + done.deleted > 0 {
                    tracing::info!(
                        redacted = done.redacted,
                        deleted = done.deleted,
                        "retention pass"
                    );
                }
                done.redacted >= u64::from(LIMIT) || done.deleted >= u64::from(LIMIT)
            }
            Err(StoreError::Closed) => return,
            Err(e) => {
                tracing::error!(error = %e, "retention pass failed; retrying later");
                false
            }
        };
        let pause = if more {
            Duration::from_millis(50)
        } else {
            every
        };
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_checked_and_turned_into_cutoffs() {
        let c = RetentionConfig {
            redact_after: Some(Duration::from_secs(86_400)),
            delete_after: Some(Duration::from_secs(3600)),
        };
        assert!(c.validate().unwrap_err().contains("shorter"));
        let c = RetentionConfig {
            redact_after: Some(Duration::from_secs(60)),
            delete_after: None,
        };
        assert!(c.validate().is_ok());
        let p = c.pass(1_000_000, 10);
        assert_eq!(p.redact_before, Some(940_000));
        assert_eq!(p.delete_before, None);
        assert!(!RetentionConfig::default().enabled());
    }
}
