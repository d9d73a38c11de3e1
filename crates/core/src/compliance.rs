//! Opt-out by reply (STOP, START, HELP) and suppression at send time.
//!
//! The **loop** ([`run`]) reads inbound SMS after its own cursor. A whole message that is a
//! stop word (`STOP`, `UNSUBSCRIBE`, `STOPP`, … — case, spaces and punctuation ignored) from
//! number N records N as opted out of the inbound message's tenant (or of the number it was
//! sent to, with `scope = "sender"`), answers once with the confirmation, and emits
//! `optout.created`; a start word removes it (`optout.removed`); a help word gets the help
//! text. Opt-out, event, reply and cursor are one commit. Inbound SMS that no tenant claims
//! (see the store's tenant assignment) change nothing: there is nobody to opt out of.
//!
//! START (and JOIN) also records the sender's consent: a tenant with `require_consent` sends
//! only to numbers with one ([`Consents`]).
//!
//! **Suppression**: [`OptOuts`] keeps every opt-out in memory (loaded at start, updated by
//! every change), so the intake refuses a message to an opted-out recipient (`opted_out`)
//! without a read per message.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Deserialize;

use crate::intake::{Intake, SendRequest};
use crate::message::{InboundMessage, MessageId};
use crate::store::{OptOut, OptOutChanges, Store, StoreError};

/// `[compliance]`: the keywords and answers.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplianceConfig {
    /// Words that opt the sender out.
    pub stop_words: Vec<String>,
    /// Words that opt the sender back in.
    pub start_words: Vec<String>,
    /// Words that ask for help.
    pub help_words: Vec<String>,
    /// The answer to a stop word.
    pub stop_reply: String,
    /// The answer to a start word.
    pub start_reply: String,
    /// The answer to a help word.
    pub help_reply: String,
    /// `tenant` (default): a STOP stops every message of the tenant to that number; `sender`:
    /// only those from the number or sender id it was sent to.
    pub scope: String,
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        let words = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect();
        Self {
            stop_words: words(&[
                "STOP",
                "STOPALL",
                "UNSUBSCRIBE",
                "CANCEL",
                "END",
                "QUIT",
                "STOPP",
                "ARRET",
                "ARRÊT",
                "BAJA",
                "ALTO",
            ]),
            start_words: words(&["START", "UNSTOP", "YES", "SUBSCRIBE", "JOIN"]),
            help_words: words(&["HELP", "INFO", "HILFE", "AIDE", "AYUDA"]),
            stop_reply: "You are unsubscribed and will receive no more messages. Reply START \
                         to resubscribe."
                .into(),
            start_reply: "You are subscribed. Reply STOP to unsubscribe.".into(),
            help_reply: "Reply STOP to unsubscribe, START to resubscribe.".into(),
            scope: "tenant".into(),
        }
    }
}

impl ComplianceConfig {
    /// Checks the settings; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.scope.as_str(), "tenant" | "sender") {
            return Err(format!(
                "[compliance] scope = '{}': use \"tenant\" or \"sender\"",
                self.scope
            ));
        }
        for (key, reply) in [
            ("stop_reply", &self.stop_reply),
            ("start_reply", &self.start_reply),
            ("help_reply", &self.help_reply),
        ] {
            if reply.trim().is_empty() {
                return Err(format!("[compliance] {key} is empty"));
            }
        }
        Ok(())
    }
}

/// What an inbound text asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    /// Opt out.
    Stop,
    /// Opt back in.
    Start,
    /// The help text.
    Help,
}

/// The text as keywords are compared: letters and digits only, upper case.
fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

impl ComplianceConfig {
    /// Which keyword the whole message is, if any (`" stop. "` is STOP, `"stop sending"` is
    /// not: only a message that is nothing but the word counts).
    pub fn classify(&self, text: &str) -> Option<Keyword> {
        let t = normalize(text);
        if t.is_empty() {
            return None;
        }
        let is = |words: &[String]| words.iter().any(|w| normalize(w) == t);
        if is(&self.stop_words) {
            Some(Keyword::Stop)
        } else if is(&self.start_words) {
            Some(Keyword::Start)
        } else if is(&self.help_words) {
            Some(Keyword::Help)
        } else {
            None
        }
    }
}

/// The prefix of an opt-out kept for an erased number (see [`hashed_number`]).
pub const HASHED_PREFIX: &str = "sha256:";

/// The form an opt-out takes once its number is erased (`DELETE /v1/numbers/{e164}`): the
/// number itself is gone, but the gateway still recognises it and keeps refusing sends to it,
/// which is what the recipient asked for. A SHA-256 of a phone number can be reversed by trying
/// every number, so this is pseudonymisation, not anonymisation; it keeps no more than needed.
pub fn hashed_number(number: &str) -> String {
    use sha2::{Digest, Sha256};
    let e164 = format!("+{}", number.trim_start_matches('+'));
    let digest = Sha256::new()
        .chain_update(b"smsgate-optout:")
        .chain_update(e164.as_bytes())
        .finalize();
    format!("{HASHED_PREFIX}{}", hex::encode(digest))
}

/// Every opt-out, in memory: `(tenant, number)` → the senders it covers (`""`: all). The
/// number is E.164, or its [`hashed_number`] after an erasure.
#[derive(Debug, Default)]
pub struct OptOuts {
    by_number: RwLock<HashMap<(String, String), HashSet<String>>>,
    /// Whether any entry is hashed: only then does a miss cost a hash.
    hashed: std::sync::atomic::AtomicBool,
}

impl OptOuts {
    /// A set holding `list`.
    pub fn new(list: &[OptOut]) -> Arc<Self> {
        let set = Arc::new(Self::default());
        set.apply(list, &[]);
        set
    }

    /// Whether `tenant` may not send to `number` from `sender`.
    pub fn blocks(&self, tenant: &str, number: &str, sender: Option<&str>) -> bool {
        let map = self.by_number.read().unwrap_or_else(|e| e.into_inner());
        // The hot path: most gateways have no opt-out, or none for this tenant.
        if map.is_empty() {
            return false;
        }
        let covers = |s: &HashSet<String>| s.contains("") || sender.is_some_and(|f| s.contains(f));
        if map
            .get(&(tenant.to_owned(), number.to_owned()))
            .is_some_and(covers)
        {
            return true;
        }
        self.hashed.load(std::sync::atomic::Ordering::Relaxed)
            && map
                .get(&(tenant.to_owned(), hashed_number(number)))
                .is_some_and(covers)
    }

    /// Notes hashed entries among `added` (a removal leaves the flag: it costs no more than a
    /// hash on a miss until the next full reload).
    fn note_hashed<'a>(&self, added: impl IntoIterator<Item = &'a String>) {
        if added.into_iter().any(|n| n.starts_with(HASHED_PREFIX)) {
            self.hashed
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Applies committed changes.
    pub fn apply(&self, added: &[OptOut], removed: &[OptOut]) {
        let mut map = self.by_number.write().unwrap_or_else(|e| e.into_inner());
        for o in added {
            map.entry((o.tenant.clone(), o.number.clone()))
                .or_default()
                .insert(o.sender.clone());
        }
        for o in removed {
            let key = (o.tenant.clone(), o.number.clone());
            if let Some(s) = map.get_mut(&key) {
                s.remove(&o.sender);
                if s.is_empty() {
                    map.remove(&key);
                }
            }
        }
        self.note_hashed(added.iter().map(|o| &o.number));
    }

    /// Replaces every entry with `all` (a reload from the store, which other nodes change too).
    pub fn replace_all(&self, all: &[OptOut]) {
        let mut fresh: HashMap<(String, String), HashSet<String>> = HashMap::new();
        for o in all {
            fresh
                .entry((o.tenant.clone(), o.number.clone()))
                .or_default()
                .insert(o.sender.clone());
        }
        self.hashed
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.note_hashed(all.iter().map(|o| &o.number));
        *self.by_number.write().unwrap_or_else(|e| e.into_inner()) = fresh;
    }

    /// How many numbers are opted out (for metrics and tests).
    pub fn len(&self) -> usize {
        self.by_number
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Whether nobody is opted out.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Consent records, in memory, and which tenants require them: the intake refuses a message
/// of such a tenant to a number without one (`no_consent`).
#[derive(Debug, Default)]
pub struct Consents {
    required: RwLock<HashSet<String>>,
    given: RwLock<HashSet<(String, String)>>,
}

impl Consents {
    /// Whether `tenant` may not send to `number` for want of a consent record.
    pub fn blocks(&self, tenant: &str, number: &str) -> bool {
        let required = self.required.read().unwrap_or_else(|e| e.into_inner());
        if !required.contains(tenant) {
            return false;
        }
        let given = self.given.read().unwrap_or_else(|e| e.into_inner());
        !given.contains(&(tenant.to_owned(), number.to_owned()))
    }

    /// Sets the tenants that require consent (at start and after a tenant changes).
    pub fn set_required(&self, tenants: impl IntoIterator<Item = String>) {
        *self.required.write().unwrap_or_else(|e| e.into_inner()) = tenants.into_iter().collect();
    }

    /// Forgets a number's consent records (of one tenant, or all), after an erasure.
    pub fn forget_number(&self, tenant: Option<&str>, number: &str) {
        let mut given = self.given.write().unwrap_or_else(|e| e.into_inner());
        given.retain(|(t, n)| n != number || tenant.is_some_and(|x| x != t));
    }

    /// Applies committed changes.
    /// Replaces every record with `all` (a reload from the store).
    pub fn replace_all(&self, all: &[OptOut]) {
        let fresh = all
            .iter()
            .map(|o| (o.tenant.clone(), o.number.clone()))
            .collect();
        *self.given.write().unwrap_or_else(|e| e.into_inner()) = fresh;
    }

    /// Records consents given (`added`) and withdrawn (`removed`).
    pub fn apply(&self, added: &[OptOut], removed: &[OptOut]) {
        let mut given = self.given.write().unwrap_or_else(|e| e.into_inner());
        for o in added {
            given.insert((o.tenant.clone(), o.number.clone()));
        }
        for o in removed {
            given.remove(&(o.tenant.clone(), o.number.clone()));
        }
    }
}

/// What one inbound message changes.
fn changes_for(
    config: &ComplianceConfig,
    m: &InboundMessage,
    now: i64,
) -> Option<(Keyword, OptOut, String)> {
    let keyword = config.classify(&m.text)?;
    let tenant = m.tenant.clone()?;
    let sender = if config.scope == "sender" {
        m.to.clone()
    } else {
        String::new()
    };
    let number = format!("+{}", m.from.trim_start_matches('+'));
    let o = OptOut {
        tenant,
        number,
        sender,
        source: "keyword".into(),
        created_at: now,
    };
    let reply = match keyword {
        Keyword::Stop => config.stop_reply.clone(),
        Keyword::Start => config.start_reply.clone(),
        Keyword::Help => config.help_reply.clone(),
    };
    Some((keyword, o, reply))
}

/// The outbox event a rule's webhook action is delivered from (to the rule's URL only).
pub const ROUTED_EVENT: &str = "inbound.routed";
/// The key of an `inbound.routed` event's data that holds the rule's URL.
pub const ROUTED_URL: &str = "webhook_url";
/// The key of an `inbound.routed` event's data that holds the rule's signing secret.
pub const ROUTED_SECRET: &str = "webhook_secret";
/// The key of an `inbound.routed` event's data that holds the tenant a stored rule belongs to,
/// whose network policy its delivery is held to (absent for the operator's and admins' rules).
pub const ROUTED_TENANT: &str = "webhook_tenant";
/// The key of an `inbound.routed` event's data that holds the address a rule's `email`
/// action mails the SMS to (the email-to-SMS listener's replies loop sends it).
pub const ROUTED_EMAIL: &str = "email_to";
/// The key of an `inbound.routed` event's data that says how its URL is called: absent or
/// `json` (smsgate's event body), `twilio` (Twilio's inbound form), `kannel` (a get-url).
pub const ROUTED_FORMAT: &str = "webhook_format";

/// The stored rules (`/v1/inbound-rules`) as last read, compiled again only when they change.
#[derive(Default)]
struct StoredRules {
    raw: Vec<crate::inbound_rules::StoredInboundRule>,
    compiled: Vec<crate::inbound_rules::InboundRule>,
}

impl StoredRules {
    /// Re-reads the rules: on every page of inbound SMS, so a rule made on any node applies to
    /// the next SMS that arrives.
    async fn refresh(&mut self, store: &dyn Store) -> Result<(), StoreError> {
        let raw = store.list_inbound_rules(None).await?;
        if raw != self.raw {
            self.compiled = crate::inbound_rules::compile_stored(&raw);
            self.raw = raw;
        }
        Ok(())
    }
}

const PAGE: u32 = 200;
const POLL: Duration = Duration::from_secs(1);

/// Runs the compliance loop until `shutdown`: reads inbound SMS after its cursor (starting at
/// the newest on its first run: older messages were answered by nobody and stay so), applies
/// keywords in one commit per page, updates `optouts`.
pub async fn run(
    intake: Arc<Intake>,
    config: ComplianceConfig,
    rules: Vec<crate::inbound_rules::InboundRule>,
    wake: Arc<tokio::sync::Notify>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let store = Arc::clone(intake.store());
    let mut cursor: Option<MessageId> = loop {
        let start = async {
            match store.keyword_cursor().await? {
                Some(c) => Ok::<_, StoreError>(Some(c)),
                None => store.latest_inbound().await,
            }
        };
        match start.await {
            Ok(c) => break c,
            Err(e) => {
                tracing::error!(error = %e, "compliance loop cannot read its cursor; retrying");
                tokio::select! {
                    () = &mut shutdown => return,
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        }
    };
    let mut stored = StoredRules::default();
    loop {
        match step(&intake, &config, &rules, &mut stored, cursor).await {
            Ok((next, more)) => {
                cursor = next;
                if more {
                    continue;
                }
            }
            Err(StoreError::Closed) => return,
            Err(e) => tracing::error!(error = %e, "compliance step failed; retrying"),
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Queues what the first matching `[[inbound_rules]]` entry asks for (replies come from the
/// number the SMS was sent to), as the inbound message's tenant; `false` when none matched.
/// `opting_in`: the SMS is a start word, so its sender's opt-out is lifted in this same commit
/// and the answer to them must not be refused by it.
fn route(
    rules: &[crate::inbound_rules::InboundRule],
    stored: &[crate::inbound_rules::InboundRule],
    m: &InboundMessage,
    opting_in: bool,
    now: i64,
    intake: &Intake,
    changes: &mut OptOutChanges,
) -> bool {
    let Some(actions) = crate::inbound_rules::route(rules, stored, m) else {
        return false;
    };
    let tenant = m
        .tenant
        .clone()
        .unwrap_or_else(|| crate::store::DEFAULT_TENANT.to_owned());
    if actions.webhook.is_some() || actions.email.is_some() {
        // The same fields as `message.inbound`, so retention redacts its text the same way;
        // the target travels with the event and is never part of the body.
        let rule = actions.rule_id.as_ref().map_or_else(
            || serde_json::json!(actions.rule),
            |id| serde_json::json!(id),
        );
        let mut data = serde_json::json!({
            "id": m.id.to_string(), "from": m.from, "to": m.to, "text": m.text,
            "connector": m.connector, "incomplete": m.incomplete,
            "received_at": crate::clock::rfc3339(m.received_at), "tenant": m.tenant,
            "rule": rule,
        });
        if let Some((url, secret)) = &actions.webhook {
            data[ROUTED_URL] = serde_json::json!(url);
            data[ROUTED_SECRET] = serde_json::json!(secret);
            if actions.webhook_format != "json" {
                data[ROUTED_FORMAT] = serde_json::json!(actions.webhook_format);
            }
        }
        if let Some(to) = &actions.email {
            data[ROUTED_EMAIL] = serde_json::json!(to);
        }
        if let Some(owner) = &actions.owner {
            data[ROUTED_TENANT] = serde_json::json!(owner);
        }
        tracing::info!(from = %m.from, %rule, email = actions.email.is_some(), "inbound rule: webhook or email");
        changes
            .events
            .push((ROUTED_EVENT.to_owned(), data.to_string()));
    }
    for (to, text) in actions.sms {
        let reply = to.trim_start_matches('+') == m.from.trim_start_matches('+');
        let request = SendRequest {
            to,
            text,
            from: if reply {
                Some(m.to.clone()).filter(|t| !t.is_empty())
            } else {
                None
            },
            tenant: Some(tenant.clone()),
            priority: crate::message::Priority::High,
            validity: Some("1h".into()),
            skip_optout: reply && opting_in,
            ..SendRequest::default()
        };
        match intake.prepare(request, now) {
            Ok(msg) => {
                tracing::info!(from = %m.from, to = %msg.to.as_str(), "inbound rule matched");
                changes.replies.push(msg);
            }
            Err(e) => tracing::warn!(error = %e, "an inbound rule's SMS was refused by intake"),
        }
    }
    true
}

/// One page: the new cursor and whether a full page was read.
async fn step(
    intake: &Intake,
    config: &ComplianceConfig,
    rules: &[crate::inbound_rules::InboundRule],
    stored: &mut StoredRules,
    cursor: Option<MessageId>,
) -> Result<(Option<MessageId>, bool), StoreError> {
    let store = intake.store();
    let page = store.inbound_after(cursor, PAGE).await?;
    let Some(last) = page.last().map(|m| m.id) else {
        return Ok((cursor, false));
    };
    stored.refresh(store.as_ref()).await?;
    let stored = &stored.compiled;
    let now = intake.clock().now_ms();
    let mut changes = OptOutChanges {
        cursor: Some(last),
        ..OptOutChanges::default()
    };
    for m in &page {
        let Some((keyword, o, reply)) = changes_for(config, m, now) else {
            if config.classify(&m.text).is_none() {
                route(rules, stored, m, false, now, intake, &mut changes);
            }
            continue;
        };
        tracing::info!(number = %o.number, tenant = %o.tenant, ?keyword, "compliance keyword");
        // An opt-in (START, JOIN) may have a rule of its own, whose answer replaces the
        // default one; a STOP or HELP never goes to a rule.
        let ruled =
            keyword == Keyword::Start && route(rules, stored, m, true, now, intake, &mut changes);
        if !ruled {
            let request = SendRequest {
                to: o.number.clone(),
                text: reply,
                from: Some(m.to.clone()).filter(|t| !t.is_empty()),
                tenant: Some(o.tenant.clone()),
                priority: crate::message::Priority::High,
                validity: Some("1h".into()),
                skip_optout: true,
                ..SendRequest::default()
            };
            match intake.prepare(request, now) {
                Ok(reply) => changes.replies.push(reply),
                Err(e) => tracing::warn!(error = %e, "compliance reply refused by intake"),
            }
        }
        match keyword {
            Keyword::Stop => changes.added.push(o),
            Keyword::Start => {
                // An opt-in: the opt-out goes and the consent is recorded.
                changes.consents_added.push(o.clone());
                changes.removed.push(o);
            }
            Keyword::Help => {}
        }
    }
    let (added, removed) = (changes.added.clone(), changes.removed.clone());
    let consents = changes.consents_added.clone();
    let replies = changes.replies.len() as u64;
    store.record_optouts(changes, now).await?;
    intake.optouts().apply(&added, &removed);
    intake.consents().apply(&consents, &[]);
    // Wakes the dispatcher for the replies and the webhooks for the events.
    intake.queued(replies);
    Ok((Some(last), page.len() as u32 == PAGE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_message_that_is_the_word_counts_in_any_case_and_spacing() {
        let c = ComplianceConfig::default();
        for t in [
            "STOP",
            " stop. ",
            "Stop!",
            "s t o p",
            "unsubscribe",
            "Arrêt",
        ] {
            assert_eq!(c.classify(t), Some(Keyword::Stop), "{t}");
        }
        assert_eq!(c.classify("start"), Some(Keyword::Start));
        assert_eq!(c.classify("help?"), Some(Keyword::Help));
        for t in ["stop sending", "T=85", "", "..."] {
            assert_eq!(c.classify(t), None, "{t}");
        }
    }

    #[test]
    fn an_opt_out_blocks_its_tenant_and_sender_only() {
        let o = |sender: &str| OptOut {
            tenant: "acme".into(),
            number: "+4915112345678".into(),
            sender: sender.into(),
            source: "api".into(),
            created_at: 0,
        };
        let set = OptOuts::new(&[o("ACME")]);
        assert!(set.blocks("acme", "+4915112345678", Some("ACME")));
        assert!(!set.blocks("acme", "+4915112345678", Some("OTHER")));
        assert!(!set.blocks("bolt", "+4915112345678", Some("ACME")));
        set.apply(&[o("")], &[]);
        assert!(set.blocks("acme", "+4915112345678", None), "tenant-wide");
        set.apply(&[], &[o(""), o("ACME")]);
        assert!(set.is_empty());
    }

    #[test]
    fn an_erased_numbers_hashed_opt_out_still_blocks_it() {
        let hashed = hashed_number("4915112345678");
        assert_eq!(hashed, hashed_number("+4915112345678"), "with or without +");
        assert!(hashed.starts_with(HASHED_PREFIX) && !hashed.contains("4915112345678"));
        let set = OptOuts::new(&[OptOut {
            tenant: "acme".into(),
            number: hashed,
            sender: String::new(),
            source: "keyword".into(),
            created_at: 0,
        }]);
        assert!(set.blocks("acme", "+4915112345678", None));
        assert!(!set.blocks("acme", "+4915100000000", None));
        assert!(!set.blocks("bolt", "+4915112345678", None));
    }
}
