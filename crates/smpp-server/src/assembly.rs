//! Long messages from clients: the stored parts of one group become ONE gateway message.
//!
//! Each part was validated and stored before its `submit_sm_resp` (see `handler`); here the
//! parts' payloads are joined by `smsgate-sms`'s [`Reassembler`] (payloads of consecutive parts
//! in one encoding are joined before decoding, so a split escape or surrogate pair survives)
//! and the text goes through the intake like any message. The sweep finds groups whose
//! assembly was cut by a stop, and groups whose missing parts never came within
//! `concat_timeout`: those are sent with the parts that came, so nothing acknowledged is lost.
//!
//! Each stored part keeps its content (`part_content`, migration 0006). A waiting position that
//! arrives again with the same content is a retransmission and stays in its set; with other
//! content the client reused the reference (8-bit references wrap after 256 messages), so
//! `submit_part` renames the waiting set's group in the same commit and the new part starts a
//! fresh set: two messages are never mixed, and the closed set goes out at its timeout.
//! A second assembly of the same parts finds them linked to a message and writes nothing.

use std::sync::Arc;
use std::time::Duration;

use smsgate_core::intake::{self, Intake, IntakeLimits, SendRequest};
use smsgate_core::message::{NewMessage, Priority};
use smsgate_core::northbound::{NorthboundStore, StoredSubmission};
use smsgate_sms::{ConcatInfo, Fragment, Reassembler};
use tracing::{debug, error, info};

use super::decode::decode_octets;
use super::record::{PartData, Record};

/// Everything assembly needs besides the parts.
#[derive(Clone)]
pub struct Assembler {
    /// Where parts and messages are stored.
    pub store: Arc<dyn NorthboundStore>,
    /// The door into the queue: limits (the segment limit is the client's own split,
    /// checked per part), the `max_queued` gate, the clock and the wake-ups.
    pub intake: Arc<Intake>,
    /// How long a group waits for missing parts.
    pub timeout: Duration,
    /// Each account's tenant by `system_id` (an account gone from the config: `default`).
    pub tenants: Arc<std::collections::HashMap<String, String>>,
}

/// Builds the message of a group: the submission ids to link and the validated message.
pub fn build(
    parts: &[StoredSubmission],
    owner: &str,
    tenant: &str,
    limits: &IntakeLimits,
    now: i64,
) -> Result<(Vec<String>, NewMessage), String> {
    let mut reassembler = Reassembler::new(i64::MAX / 4);
    let mut first: Option<PartData> = None;
    let mut complete = None;
    let mut ucs2 = false;
    let mut all_binary = true;
    // One announced total for the group, so inconsistent counters cannot split it.
    let total = parts
        .iter()
        .filter_map(|p| p.submission.part.as_ref().map(|p| p.total))
        .max()
        .unwrap_or(1);
    for p in parts {
        let Some(pos) = &p.submission.part else {
            return Err(format!("submission {} is not a part", p.submission.id));
        };
        let record: Record = serde_json::from_str(&p.submission.data)
            .map_err(|e| format!("submission {}: {e}", p.submission.id))?;
        let Some(data) = record.part else {
            return Err(format!("submission {} has no part data", p.submission.id));
        };
        let octets = smsgate_sms::hex::decode(&data.octets)
            .map_err(|e| format!("submission {}: {e}", p.submission.id))?;
        let user_data = decode_octets(data.data_coding, data.udhi, &octets)
            .map_err(|e| format!("submission {}: {e}", p.submission.id))?;
        ucs2 |= data.ucs2;
        all_binary &= user_data.encoding == smsgate_sms::Encoding::Binary8;
        let concat = ConcatInfo {
            reference: 0,
            total,
            sequence: pos.part_no,
            wide_reference: false,
        };
        let done = reassembler.handle_part("group", Some(concat), Fragment::from(user_data), 0);
        complete = complete.or(done);
        first.get_or_insert(data);
    }
    let complete = match complete {
        Some(c) => c,
        None => reassembler
            .poll_expired(i64::MAX / 2)
            .pop()
            .ok_or("no part could be read")?,
    };
    let first = first.ok_or("a group without parts")?;
    let send_at = first.send_at.map(|t| t.max(now));
    let validity = first.expires_at.map(|exp| {
        let secs = (exp - send_at.unwrap_or(now)) / 1000;
        // Expired while waiting: one second, so it expires at once and its receipt says so.
        format!("{}s", secs.max(1))
    });
    // 8-bit parts stay 8-bit: the joined octets (as hex), the client's coding and the header
    // elements of its first part.
    let (text, binary) = match (all_binary, complete.binary) {
        (true, Some(octets)) => (
            smsgate_core::message::Binary::hex(&octets),
            Some(smsgate_core::message::Binary {
                data_coding: if first.data_coding == 2 {
                    4
                } else {
                    first.data_coding
                },
                udh: complete.elements,
            }),
        ),
        _ => (complete.text, None),
    };
    let is_binary = binary.is_some();
    let request = SendRequest {
        to: first.to,
        text,
        binary,
        from: first.from,
        encoding: if is_binary {
            None
        } else {
            ucs2.then(|| "ucs2".into())
        },
        validity,
        send_at,
        priority: if first.high {
            Priority::High
        } else {
            Priority::Normal
        },
        api_key_id: Some(owner.to_owned()),
        tenant: Some(tenant.to_owned()),
        ..SendRequest::default()
    };
    // The client split the text itself; its part count was checked against the limit per part.
    let relaxed = IntakeLimits {
        max_segments: 255,
        max_validity: limits.max_validity.max(Duration::from_secs(1)),
        ..limits.clone()
    };
    let message = intake::prepare(request, &relaxed, now).map_err(|r| r.to_string())?;
    let ids = parts.iter().map(|p| p.submission.id.clone()).collect();
    Ok((ids, message))
}

impl Assembler {
    /// Assembles one group now; errors are logged (the sweep tries again).
    pub async fn assemble(&self, parts: &[StoredSubmission]) {
        let Some(first) = parts.first() else { return };
        let owner = super::config::owner(&first.submission.account);
        let tenant = self
            .tenants
            .get(&first.submission.account)
            .map_or(smsgate_core::store::DEFAULT_TENANT, String::as_str);
        let now = self.intake.clock().now_ms();
        let (ids, message) = match build(parts, &owner, tenant, self.intake.limits(), now) {
            Ok(built) => built,
            Err(e) => {
                error!(account = %first.submission.account, error = %e, "cannot assemble a long message from its parts");
                return;
            }
        };
        let n = ids.len();
        match self.store.assemble(ids, message).await {
            Ok(id) => {
                debug!(account = %first.submission.account, message = %id, parts = n, "long message assembled");
                // Admitted at the gate part by part; counted and signalled once, now.
                self.intake.queued(1);
            }
            Err(e) => error!(error = %e, "storing an assembled long message failed"),
        }
    }

    /// Assembles what is due: complete groups, and groups older than the timeout.
    pub async fn sweep(&self) {
        let older_than = self.intake.clock().now_ms() - self.timeout.as_millis() as i64;
        match self.store.pending_groups(older_than).await {
            Ok(groups) => {
                for parts in groups {
                    let complete = parts.len()
                        >= parts
                            .first()
                            .and_then(|p| p.submission.part.as_ref())
                            .map_or(1, |p| usize::from(p.total));
                    if !complete {
                        info!(
                            account = %parts[0].submission.account,
                            parts = parts.len(),
                            "long message incomplete after smpp_server.concat_timeout; sending the parts that came"
                        );
                    }
                    self.assemble(&parts).await;
                }
            }
            Err(e) => error!(error = %e, "reading pending long-message parts failed"),
        }
    }

    /// Sweeps at start and then every `timeout / 10` (at least 1 s, at most 30 s) until
    /// `shutdown`.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let every = (self.timeout / 10).clamp(Duration::from_secs(1), Duration::from_secs(30));
        tokio::pin!(shutdown);
        loop {
            self.sweep().await;
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Addr;
    use smsgate_core::northbound::{PartOf, Submission};

    fn part(no: u8, total: u8, dc: u8, payload: &[u8]) -> StoredSubmission {
        let record = Record {
            source: Addr::default(),
            dest: Addr::default(),
            registered_delivery: 1,
            preview: String::new(),
            part: Some(PartData {
                data_coding: dc,
                udhi: false,
                octets: smsgate_sms::hex::encode(payload),
                to: "+4915112345678".into(),
                from: Some("ACME".into()),
                expires_at: Some(10_000),
                send_at: None,
                high: true,
                ucs2: dc == 8,
            }),
        };
        StoredSubmission {
            submission: Submission {
                id: format!("p{no}"),
                account: "app".into(),
                part: Some(PartOf {
                    group: "g".into(),
                    part_no: no,
                    total,
                    content: String::new(),
                }),
                data: serde_json::to_string(&record).unwrap(),
                created_at: 0,
            },
            message_id: None,
        }
    }

    #[test]
    fn parts_in_any_order_become_one_message_with_the_first_parts_fields() {
        let parts = [part(2, 2, 0, b"world"), part(1, 2, 0, b"hello ")];
        let (ids, m) = build(
            &parts,
            "smpp:app",
            "default",
            &IntakeLimits::default(),
            1_000,
        )
        .unwrap();
        assert_eq!(ids, ["p2", "p1"]);
        assert_eq!(m.text, "hello world");
        assert_eq!(m.api_key_id.as_deref(), Some("smpp:app"));
        assert_eq!(m.priority, Priority::High);
        assert_eq!(m.expires_at, Some(1_000 + 9_000));
    }

    #[test]
    fn a_surrogate_pair_split_across_ucs2_parts_survives() {
        let units = smsgate_sms::charsets::encode_ucs2("a😀");
        let parts = [part(1, 2, 8, &units[..4]), part(2, 2, 8, &units[4..])];
        let (_, m) = build(&parts, "o", "default", &IntakeLimits::default(), 0).unwrap();
        assert_eq!(m.text, "a😀");
        assert_eq!(m.encoding, "ucs2");
    }

    #[test]
    fn a_group_missing_parts_is_built_from_what_came() {
        let parts = [part(1, 3, 0, b"one "), part(3, 3, 0, b"three")];
        let (ids, m) = build(&parts, "o", "default", &IntakeLimits::default(), 20_000).unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(m.text, "one three");
        // Its validity passed while waiting: it expires at once.
        assert_eq!(m.expires_at, Some(21_000));
    }
}
