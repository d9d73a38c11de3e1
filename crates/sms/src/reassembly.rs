//! Reassembly of inbound concatenated messages (3GPP TS 23.040 §9.2.3.24.1, §9.2.3.24.8; SMPP
//! 3.4 §5.3.2.22–24 SAR TLVs).
//!
//! [`Reassembler`] is a plain state machine: no clock, no I/O. The owner passes the time in.
//! Calling order:
//! 1. for every inbound SMS, [`Reassembler::handle_part`] with the sender key, the concatenation
//!    info (from the UDH or the SAR TLVs) and the decoded-but-not-yet-text [`Fragment`]; a
//!    `Some(Complete)` is a message to deliver;
//! 2. at [`Reassembler::poll_timeout`] (or periodically), [`Reassembler::poll_expired`]: partial
//!    messages whose timeout passed, delivered with `incomplete: true`;
//! 3. to survive a restart, [`Reassembler::export_pending`] before and
//!    [`Reassembler::import_pending`] after.
//!
//! Parts may arrive out of order, twice (the first copy wins), interleaved with other messages
//! of the same or other senders, and in different encodings. Payloads of consecutive parts in the
//! same encoding are joined *before* decoding, so a surrogate pair or escape pair that a sender
//! split across parts still decodes correctly.

use std::collections::{BTreeMap, HashMap};

use crate::national::Shift;
use crate::udh::ConcatInfo;
use crate::userdata::{UserData, decode_text};
use crate::{Encoding, gsm7};

/// One part's payload as received: encoding, GSM tables and payload (unpacked septets or octets).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Fragment {
    /// The alphabet of `payload`.
    pub encoding: Encoding,
    /// The GSM 7-bit tables (from the part's UDH).
    pub shift: Shift,
    /// Unpacked septets for GSM 7-bit, else octets.
    pub payload: Vec<u8>,
    /// The sender's own header elements (application ports, …) as octets: every element but
    /// concatenation and language shifts, which the reassembly itself consumes.
    #[cfg_attr(feature = "serde", serde(default))]
    pub elements: Vec<u8>,
}

/// The elements of a header the reassembly does not consume, as octets.
fn own_elements(ud: &UserData) -> Vec<u8> {
    let Some(udh) = &ud.udh else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in &udh.elements {
        if matches!(
            e.id,
            0x00 | 0x08 | crate::udh::IEI_SINGLE_SHIFT | crate::udh::IEI_LOCKING_SHIFT
        ) {
            continue;
        }
        out.push(e.id);
        out.push(e.data.len() as u8);
        out.extend_from_slice(&e.data);
    }
    out
}

impl From<&UserData> for Fragment {
    fn from(ud: &UserData) -> Self {
        Fragment {
            encoding: ud.encoding,
            shift: ud.shift(),
            payload: ud.payload.clone(),
            elements: own_elements(ud),
        }
    }
}

impl From<UserData> for Fragment {
    fn from(ud: UserData) -> Self {
        Fragment {
            encoding: ud.encoding,
            shift: ud.shift(),
            elements: own_elements(&ud),
            payload: ud.payload,
        }
    }
}

/// A part waiting for its siblings, as exported for persistence.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PendingPart {
    /// The sender key given to [`Reassembler::handle_part`].
    pub key: String,
    /// The part's concatenation counters.
    pub concat: ConcatInfo,
    /// When the part arrived (Unix ms, or any monotonic ms the owner uses consistently).
    pub received_ms: i64,
    /// The part's payload.
    pub fragment: Fragment,
}

/// A message ready for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Complete {
    /// The sender key given to [`Reassembler::handle_part`].
    pub key: String,
    /// The concatenation counters' reference, `None` for a single SMS.
    pub reference: Option<u16>,
    /// Parts the message announced (1 for a single SMS).
    pub total: u8,
    /// Sequence numbers (1-based) received, in order.
    pub received: Vec<u8>,
    /// Sequence numbers never received (empty unless `incomplete`).
    pub missing: Vec<u8>,
    /// Whether the timeout (or the pending limit) forced delivery before all parts arrived.
    pub incomplete: bool,
    /// The text of the parts received, in sequence order (binary parts as lossy UTF-8).
    pub text: String,
    /// The sender's own header elements of the first part received (ports, …), as octets.
    pub elements: Vec<u8>,
    /// The concatenated payloads when every part is 8-bit binary.
    pub binary: Option<Vec<u8>>,
    /// The encoding of each received part, in sequence order.
    pub encodings: Vec<Encoding>,
    /// When the first part arrived.
    pub first_received_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MessageKey {
    key: String,
    reference: u16,
    total: u8,
    wide: bool,
}

#[derive(Debug, Clone)]
struct Pending {
    first_ms: i64,
    parts: BTreeMap<u8, (i64, Fragment)>,
}

/// Default reassembly timeout: 10 minutes, longer than SMSC retry gaps between parts usually are.
pub const DEFAULT_TIMEOUT_MS: i64 = 10 * 60 * 1000;
/// Default limit of messages pending at once; the oldest is delivered incomplete beyond it.
pub const DEFAULT_MAX_PENDING: usize = 10_000;

/// Reassembles concatenated inbound messages; see the module documentation for the calling order.
#[derive(Debug, Clone)]
pub struct Reassembler {
    timeout_ms: i64,
    max_pending: usize,
    pending: HashMap<MessageKey, Pending>,
    evicted: Vec<Complete>,
    /// Messages completed within the last timeout, with a hash of each part, so a late
    /// duplicate of a part (an SMSC retransmission) is dropped instead of starting a new
    /// message that would later be delivered incomplete.
    recent: HashMap<MessageKey, Recent>,
}

#[derive(Debug, Clone)]
struct Recent {
    done_ms: i64,
    parts: BTreeMap<u8, u64>,
}

fn fragment_hash(f: &Fragment) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    f.encoding.hash(&mut h);
    f.shift.hash(&mut h);
    f.payload.hash(&mut h);
    h.finish()
}

impl Reassembler {
    /// A reassembler that delivers a partial message `timeout_ms` after its first part arrived.
    pub fn new(timeout_ms: i64) -> Self {
        Self::with_max_pending(timeout_ms, DEFAULT_MAX_PENDING)
    }

    /// Like [`Reassembler::new`], bounding memory: when a new message would exceed
    /// `max_pending` (at least 1) pending messages, the oldest is delivered incomplete on the
    /// next [`Reassembler::poll_expired`].
    pub fn with_max_pending(timeout_ms: i64, max_pending: usize) -> Self {
        Reassembler {
            timeout_ms,
            max_pending: max_pending.max(1),
            pending: HashMap::new(),
            evicted: Vec::new(),
            recent: HashMap::new(),
        }
    }

    /// Messages currently waiting for parts.
    pub fn pending_messages(&self) -> usize {
        self.pending.len()
    }

    /// Takes one inbound part. `key` identifies the sender (e.g. connector, originator and
    /// recipient joined); `concat` is the part's counters, `None` for a single SMS. Returns the
    /// message when this part completes it (or at once for a single SMS or invalid counters,
    /// which 3GPP TS 23.040 §9.2.3.24.1 says to ignore).
    pub fn handle_part(
        &mut self,
        key: &str,
        concat: Option<ConcatInfo>,
        fragment: Fragment,
        now_ms: i64,
    ) -> Option<Complete> {
        let Some(c) = concat.filter(|c| c.is_valid() && c.total > 1) else {
            // A single SMS (or a 1-part "concatenated" one): its only part is number 1.
            let mut parts = BTreeMap::new();
            parts.insert(1, (now_ms, fragment));
            return Some(assemble(
                key.to_owned(),
                concat.filter(|c| c.is_valid()).map(|c| c.reference),
                1,
                now_ms,
                &parts,
                false,
            ));
        };
        let mk = MessageKey {
            key: key.to_owned(),
            reference: c.reference,
            total: c.total,
            wide: c.wide_reference,
        };
        // A late copy of a part of a message completed within the timeout is dropped.
        if let Some(r) = self.recent.get(&mk)
            && now_ms < r.done_ms.saturating_add(self.timeout_ms)
            && r.parts.get(&c.sequence) == Some(&fragment_hash(&fragment))
        {
            return None;
        }
        // A message whose timeout passed before this part arrived is delivered as it was; this
        // part starts a new one.
        if self
            .pending
            .get(&mk)
            .is_some_and(|p| now_ms >= p.first_ms.saturating_add(self.timeout_ms))
            && let Some(p) = self.pending.remove(&mk)
        {
            self.evicted.push(finish(mk.clone(), p, true));
        }
        if !self.pending.contains_key(&mk) && self.pending.len() >= self.max_pending {
            self.evict_oldest();
        }
        let entry = self.pending.entry(mk.clone()).or_insert_with(|| Pending {
            first_ms: now_ms,
            parts: BTreeMap::new(),
        });
        entry.first_ms = entry.first_ms.min(now_ms);
        entry.parts.entry(c.sequence).or_insert((now_ms, fragment));
        if entry.parts.len() == c.total as usize {
            let p = self.pending.remove(&mk).expect("entry exists");
            let parts = p
                .parts
                .iter()
                .map(|(&seq, (_, f))| (seq, fragment_hash(f)))
                .collect();
            self.recent.insert(
                mk.clone(),
                Recent {
                    done_ms: now_ms,
                    parts,
                },
            );
            return Some(finish(mk, p, false));
        }
        None
    }

    /// Partial messages whose timeout has passed at `now_ms` (and any evicted by the pending
    /// limit), marked `incomplete`, oldest first.
    pub fn poll_expired(&mut self, now_ms: i64) -> Vec<Complete> {
        let timeout = self.timeout_ms;
        let expired: Vec<MessageKey> = self
            .pending
            .iter()
            .filter(|(_, p)| now_ms >= p.first_ms.saturating_add(timeout))
            .map(|(k, _)| k.clone())
            .collect();
        self.recent
            .retain(|_, r| now_ms < r.done_ms.saturating_add(timeout));
        let mut out = std::mem::take(&mut self.evicted);
        for k in expired {
            if let Some(p) = self.pending.remove(&k) {
                out.push(finish(k, p, true));
            }
        }
        out.sort_by(|a, b| {
            (a.first_received_ms, &a.key, a.reference).cmp(&(
                b.first_received_ms,
                &b.key,
                b.reference,
            ))
        });
        out
    }

    /// The next time [`Reassembler::poll_expired`] has something to return: `i64::MIN` when an
    /// evicted message is waiting, `None` when nothing is pending.
    pub fn poll_timeout(&self) -> Option<i64> {
        if !self.evicted.is_empty() {
            return Some(i64::MIN);
        }
        self.pending
            .values()
            .map(|p| p.first_ms.saturating_add(self.timeout_ms))
            .min()
    }

    /// Every pending part, for persistence; sorted by key, reference and sequence.
    pub fn export_pending(&self) -> Vec<PendingPart> {
        let mut out: Vec<PendingPart> = self
            .pending
            .iter()
            .flat_map(|(k, p)| {
                p.parts.iter().map(|(&seq, (ms, f))| PendingPart {
                    key: k.key.clone(),
                    concat: ConcatInfo {
                        reference: k.reference,
                        total: k.total,
                        sequence: seq,
                        wide_reference: k.wide,
                    },
                    received_ms: *ms,
                    fragment: f.clone(),
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.key, a.concat).cmp(&(&b.key, b.concat)));
        out
    }

    /// Restores exported parts (their arrival times are kept, so timeouts carry on); returns
    /// any message they complete.
    pub fn import_pending(&mut self, parts: Vec<PendingPart>) -> Vec<Complete> {
        parts
            .into_iter()
            .filter_map(|p| self.handle_part(&p.key, Some(p.concat), p.fragment, p.received_ms))
            .collect()
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .pending
            .iter()
            .min_by_key(|(k, p)| (p.first_ms, k.key.clone(), k.reference))
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest
            && let Some(p) = self.pending.remove(&k)
        {
            self.evicted.push(finish(k, p, true));
        }
    }
}

fn finish(k: MessageKey, p: Pending, incomplete: bool) -> Complete {
    assemble(
        k.key,
        Some(k.reference),
        k.total,
        p.first_ms,
        &p.parts,
        incomplete,
    )
}

fn assemble(
    key: String,
    reference: Option<u16>,
    total: u8,
    first_ms: i64,
    parts: &BTreeMap<u8, (i64, Fragment)>,
    incomplete: bool,
) -> Complete {
    let received: Vec<u8> = parts.keys().copied().collect();
    let missing: Vec<u8> = (1..=total).filter(|s| !parts.contains_key(s)).collect();
    let encodings: Vec<Encoding> = parts.values().map(|(_, f)| f.encoding).collect();
    let all_binary = !parts.is_empty() && encodings.iter().all(|e| *e == Encoding::Binary8);
    let binary = all_binary.then(|| {
        parts
            .values()
            .flat_map(|(_, f)| f.payload.iter().copied())
            .collect::<Vec<u8>>()
    });

    // Join consecutive parts with the same encoding and tables before decoding.
    let mut text = String::new();
    let mut run: Option<(Encoding, Shift, u8, Vec<u8>)> = None;
    for (&seq, (_, f)) in parts {
        match &mut run {
            Some((e, s, last, buf)) if *e == f.encoding && *s == f.shift && *last + 1 == seq => {
                buf.extend_from_slice(&f.payload);
                *last = seq;
            }
            _ => {
                if let Some((e, s, _, buf)) = run.take() {
                    text.push_str(&decode_lossy(e, s, &buf));
                }
                run = Some((f.encoding, f.shift, seq, f.payload.clone()));
            }
        }
    }
    if let Some((e, s, _, buf)) = run {
        text.push_str(&decode_lossy(e, s, &buf));
    }
    let elements = parts
        .values()
        .next()
        .map(|(_, f)| f.elements.clone())
        .unwrap_or_default();
    Complete {
        key,
        reference,
        total,
        received,
        missing,
        incomplete,
        text,
        elements,
        binary,
        encodings,
        first_received_ms: first_ms,
    }
}

fn decode_lossy(encoding: Encoding, shift: Shift, payload: &[u8]) -> String {
    decode_text(encoding, shift, payload).unwrap_or_else(|_| {
        // Only GSM 7-bit can fail (an octet above 0x7F); read its low 7 bits.
        let masked: Vec<u8> = payload.iter().map(|b| b & 0x7F).collect();
        gsm7::decode(&masked, shift).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Concat, SegmentOptions, segment};

    fn parts_of(text: &str, concat: Concat, reference: u16) -> Vec<(ConcatInfo, Fragment)> {
        let opts = SegmentOptions {
            concat,
            reference,
            ..SegmentOptions::default()
        };
        segment(text, &opts)
            .unwrap()
            .parts
            .iter()
            .map(|p| (p.concat.unwrap(), Fragment::from(UserData::from_part(p))))
            .collect()
    }

    #[test]
    fn parts_out_of_order_and_duplicated_reassemble_once() {
        let text = "x".repeat(400);
        let parts = parts_of(&text, Concat::Udh8, 7);
        let mut r = Reassembler::new(60_000);
        assert!(
            r.handle_part("a", Some(parts[2].0), parts[2].1.clone(), 0)
                .is_none()
        );
        assert!(
            r.handle_part("a", Some(parts[0].0), parts[0].1.clone(), 1)
                .is_none()
        );
        assert!(
            r.handle_part("a", Some(parts[0].0), parts[0].1.clone(), 2)
                .is_none()
        );
        let c = r
            .handle_part("a", Some(parts[1].0), parts[1].1.clone(), 3)
            .unwrap();
        assert_eq!(c.text, text);
        assert!(!c.incomplete);
        assert_eq!(c.received, vec![1, 2, 3]);
        assert_eq!(r.pending_messages(), 0);
    }

    #[test]
    fn a_late_duplicate_after_completion_is_dropped_but_a_new_message_is_not() {
        let parts = parts_of(&"d".repeat(200), Concat::Udh8, 5);
        let mut r = Reassembler::new(1_000);
        r.handle_part("a", Some(parts[0].0), parts[0].1.clone(), 0);
        assert!(
            r.handle_part("a", Some(parts[1].0), parts[1].1.clone(), 10)
                .is_some()
        );
        assert!(
            r.handle_part("a", Some(parts[1].0), parts[1].1.clone(), 20)
                .is_none()
        );
        assert_eq!(r.pending_messages(), 0);
        // Same reference reused for a different text: a new message.
        let other = parts_of(&"e".repeat(200), Concat::Udh8, 5);
        assert!(
            r.handle_part("a", Some(other[1].0), other[1].1.clone(), 30)
                .is_none()
        );
        assert_eq!(r.pending_messages(), 1);
        assert!(r.poll_expired(5_000).iter().all(|c| c.incomplete));
    }

    #[test]
    fn interleaved_messages_from_several_senders_stay_apart() {
        let a = parts_of(&"a".repeat(300), Concat::Udh16, 1);
        let b = parts_of(&"b".repeat(300), Concat::Udh16, 1);
        let c = parts_of(&"c".repeat(300), Concat::Udh16, 2);
        let mut r = Reassembler::new(60_000);
        let mut done = Vec::new();
        for i in 0..2 {
            for (k, p) in [("s1", &a), ("s2", &b), ("s1", &c)] {
                done.extend(r.handle_part(k, Some(p[i].0), p[i].1.clone(), 0));
            }
        }
        assert_eq!(done.len(), 3);
        assert_eq!(done[0].text, "a".repeat(300));
        assert_eq!(done[1].text, "b".repeat(300));
        assert_eq!(done[2].text, "c".repeat(300));
    }

    #[test]
    fn timeout_delivers_a_partial_message_marked_incomplete() {
        let parts = parts_of(&"y".repeat(400), Concat::Udh8, 9);
        let mut r = Reassembler::new(1_000);
        r.handle_part("a", Some(parts[0].0), parts[0].1.clone(), 100);
        r.handle_part("a", Some(parts[2].0), parts[2].1.clone(), 500);
        assert_eq!(r.poll_timeout(), Some(1_100));
        assert!(r.poll_expired(1_099).is_empty());
        let out = r.poll_expired(1_100);
        assert_eq!(out.len(), 1);
        assert!(out[0].incomplete);
        assert_eq!(out[0].missing, vec![2]);
        assert_eq!(out[0].text.len(), 153 + 94);
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn a_surrogate_pair_split_by_the_sender_is_joined() {
        // Part 1 ends with a high surrogate, part 2 starts with the low one.
        let emoji = crate::charsets::encode_ucs2("😀");
        let f1 = Fragment {
            encoding: Encoding::Ucs2,
            shift: Shift::DEFAULT,
            payload: [&[0, 0x61][..], &emoji[..2]].concat(),
            elements: Vec::new(),
        };
        let f2 = Fragment {
            encoding: Encoding::Ucs2,
            shift: Shift::DEFAULT,
            payload: [&emoji[2..], &[0, 0x62][..]].concat(),
            elements: Vec::new(),
        };
        let c = |seq| ConcatInfo {
            reference: 1,
            total: 2,
            sequence: seq,
            wide_reference: false,
        };
        let mut r = Reassembler::new(1_000);
        assert!(r.handle_part("k", Some(c(2)), f2, 0).is_none());
        let done = r.handle_part("k", Some(c(1)), f1, 0).unwrap();
        assert_eq!(done.text, "a😀b");
    }

    #[test]
    fn mixed_encodings_across_parts_decode_each_run() {
        let gsm = Fragment {
            encoding: Encoding::Gsm7,
            shift: Shift::DEFAULT,
            payload: crate::gsm7::encode("Hi ", Shift::DEFAULT).unwrap(),
            elements: Vec::new(),
        };
        let ucs = Fragment {
            encoding: Encoding::Ucs2,
            shift: Shift::DEFAULT,
            payload: crate::charsets::encode_ucs2("Zoë 😀"),
            elements: Vec::new(),
        };
        let c = |seq| ConcatInfo {
            reference: 300,
            total: 2,
            sequence: seq,
            wide_reference: true,
        };
        let mut r = Reassembler::new(1_000);
        r.handle_part("k", Some(c(1)), gsm, 0);
        let done = r.handle_part("k", Some(c(2)), ucs, 0).unwrap();
        assert_eq!(done.text, "Hi Zoë 😀");
        assert_eq!(done.encodings, vec![Encoding::Gsm7, Encoding::Ucs2]);
    }

    #[test]
    fn single_sms_and_invalid_counters_are_delivered_at_once() {
        let f = Fragment {
            encoding: Encoding::Latin1,
            shift: Shift::DEFAULT,
            payload: b"hi".to_vec(),
            elements: Vec::new(),
        };
        let mut r = Reassembler::new(1_000);
        let c = r.handle_part("k", None, f.clone(), 0).unwrap();
        assert_eq!((c.text.as_str(), c.total, c.incomplete), ("hi", 1, false));
        let bad = ConcatInfo {
            reference: 1,
            total: 2,
            sequence: 3,
            wide_reference: false,
        };
        let c = r.handle_part("k", Some(bad), f, 0).unwrap();
        assert_eq!(
            (c.total, c.received.clone(), c.missing.len()),
            (1, vec![1], 0)
        );
    }

    #[test]
    fn export_and_import_carry_pending_parts_across_a_restart() {
        let parts = parts_of(&"z".repeat(400), Concat::Udh8, 3);
        let mut r = Reassembler::new(1_000);
        r.handle_part("a", Some(parts[0].0), parts[0].1.clone(), 10);
        r.handle_part("a", Some(parts[1].0), parts[1].1.clone(), 20);
        let saved = r.export_pending();
        assert_eq!(saved.len(), 2);
        let mut r2 = Reassembler::new(1_000);
        assert!(r2.import_pending(saved).is_empty());
        assert_eq!(r2.poll_timeout(), Some(1_010));
        let c = r2
            .handle_part("a", Some(parts[2].0), parts[2].1.clone(), 30)
            .unwrap();
        assert_eq!(c.text, "z".repeat(400));
        assert_eq!(c.first_received_ms, 10);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn pending_parts_survive_a_json_round_trip() {
        let parts = parts_of(&"j".repeat(300), Concat::Udh16, 0xABCD);
        let mut r = Reassembler::new(1_000);
        r.handle_part("a", Some(parts[0].0), parts[0].1.clone(), 10);
        let json = serde_json::to_string(&r.export_pending()).unwrap();
        let saved: Vec<PendingPart> = serde_json::from_str(&json).unwrap();
        let mut r2 = Reassembler::new(1_000);
        r2.import_pending(saved);
        let c = r2
            .handle_part("a", Some(parts[1].0), parts[1].1.clone(), 20)
            .unwrap();
        assert_eq!(c.text, "j".repeat(300));
    }

    #[test]
    fn the_pending_limit_evicts_the_oldest_message() {
        let a = parts_of(&"a".repeat(300), Concat::Udh8, 1);
        let b = parts_of(&"b".repeat(300), Concat::Udh8, 2);
        let mut r = Reassembler::with_max_pending(1_000_000, 1);
        r.handle_part("k", Some(a[0].0), a[0].1.clone(), 0);
        r.handle_part("k", Some(b[0].0), b[0].1.clone(), 1);
        assert_eq!(r.poll_timeout(), Some(i64::MIN));
        let out = r.poll_expired(2);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].reference, Some(1));
        assert!(out[0].incomplete);
        assert_eq!(r.pending_messages(), 1);
    }

    #[test]
    fn binary_parts_are_concatenated() {
        let s = crate::segment_binary(&[7u8; 200], &SegmentOptions::default()).unwrap();
        let mut r = Reassembler::new(1_000);
        let mut out = None;
        for p in &s.parts {
            out = r.handle_part("k", p.concat, UserData::from_part(p).into(), 0);
        }
        assert_eq!(out.unwrap().binary, Some(vec![7u8; 200]));
    }
}
