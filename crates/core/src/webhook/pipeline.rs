//! The webhook pipeline: outbox events to signed POSTs, from memory, with only failures stored.
//!
//! One task reads the outbox (the `events` table) after its position, turns each event into
//! deliveries (`deliveries_for`), and queues them per endpoint (`endpoints`). POSTs run
//! concurrently over one keep-alive HTTP client (a connection pool per endpoint), up to the
//! endpoint's and the total limit. A delivered POST costs the store nothing; a failed first
//! attempt (or one spilled by a paused or overfull endpoint) becomes a stored retry row. Stored
//! rows come back through [`Store::claim_deliveries`] when due and go through the same queues.
//!
//! What the store must remember is recorded in batches every ~100 ms in one commit
//! ([`Store::record_webhook_progress`]): new retry rows, the results of retried rows, and the
//! cursor up to which every event is finished (`tracker`). A crash loses nothing: events after
//! the stored cursor are delivered again after the restart (at-least-once; `evt_<seq>` is the
//! same id both times, so a receiver can drop the repeat).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::Notify;

use super::endpoints::{Endpoints, Job, Limits, Origin, Spill};
use super::tracker::Tracker;
use super::{RETRY_HORIZON, SIGNATURE_HEADER, WebhookConfig, deliveries_for, sign};
use crate::clock::Clock;
use crate::store::{
    DeliveryResult, FailedDelivery, Store, StoreError, StoreResult, WebhookProgress,
};

/// Outbox positions looked at per read.
const READ_BATCH: u32 = 1000;
/// How often progress is committed while there is some.
const RECORD_EVERY: Duration = Duration::from_millis(100);
/// How often stored retries are looked for when the last look found none due.
const CLAIM_EVERY: Duration = Duration::from_secs(1);
/// After a read that was not full, the next waits this long: under load the outbox then comes
/// in reads of hundreds of events instead of one read (and a listing of subscriptions) per
/// commit, for at most this much added latency.
const READ_PAUSE: Duration = Duration::from_millis(20);

/// Delivers webhooks until `shutdown` resolves, then finishes the POSTs in flight and records
/// their results. Wakes on `events` (new outbox rows) or every 500 ms.
pub async fn run(
    store: Arc<dyn Store>,
    clock: Clock,
    config: WebhookConfig,
    events: Arc<Notify>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let cursor = loop {
        match store.webhook_cursor().await {
            Ok(c) => break c,
            Err(StoreError::Closed) => return,
            Err(e) => {
                tracing::error!(error = %e, "reading the webhook cursor failed; retrying");
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    };
    let mut p = Pipeline::new(store, clock, config, cursor);
    let mut in_flight = FuturesUnordered::new();
    let mut recording: Option<tokio::task::JoinHandle<Result<(), WebhookProgress>>> = None;
    let mut feed_idle = false;
    let mut read_not_before = Instant::now();
    let mut stopping = false;
    let mut next_claim = Instant::now();
    let mut last_record = Instant::now();
    loop {
        if !stopping
            && !feed_idle
            && Instant::now() >= read_not_before
            && p.endpoints.queued() < p.config.max_buffered
        {
            match p.read_events().await {
                Ok(at_end) => {
                    feed_idle = at_end;
                    if feed_idle {
                        read_not_before = Instant::now() + READ_PAUSE;
                    }
                }
                Err(StoreError::Closed) => stopping = true,
                Err(e) => {
                    tracing::error!(error = %e, "reading the outbox for webhooks failed");
                    feed_idle = true;
                }
            }
        }
        if !stopping && Instant::now() >= next_claim {
            next_claim = match p.claim_retries().await {
                Ok(true) => Instant::now(),
                Ok(false) => Instant::now() + CLAIM_EVERY,
                Err(StoreError::Closed) => {
                    stopping = true;
                    Instant::now()
                }
                Err(e) => {
                    tracing::error!(error = %e, "claiming stored webhook deliveries failed");
                    Instant::now() + CLAIM_EVERY
                }
            };
        }
        if !stopping {
            let now = p.clock.now_ms();
            while in_flight.len() < p.config.concurrency {
                let Some((key, job)) = p.endpoints.next(now) else {
                    break;
                };
                let client = p.client_for(job.delivery.tenant.as_deref());
                in_flight.push(post(client, p.clock, p.config.answers.clone(), key, job));
            }
        }
        if recording.as_ref().is_some_and(|h| h.is_finished())
            && let Some(h) = recording.take()
        {
            p.recorded(h.await.unwrap_or(Ok(())));
        }
        let due = last_record.elapsed() >= RECORD_EVERY || p.progress_len() >= 512;
        if recording.is_none()
            && (due || stopping)
            && let Some(progress) = p.take_progress()
        {
            let (store, now) = (p.store.clone(), p.clock.now_ms());
            last_record = Instant::now();
            tracing::trace!(
                failed = progress.failed.len(),
                finished = progress.finished.len(),
                cursor = progress.cursor,
                queued = p.endpoints.queued(),
                in_flight = p.endpoints.in_flight(),
                open_events = p.tracker.open_events(),
                "recording webhook progress"
            );
            recording = Some(tokio::spawn(async move {
                store
                    .record_webhook_progress(progress.clone(), now)
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "recording webhook progress failed; retrying");
                        progress
                    })
            }));
        }
        if stopping && in_flight.is_empty() {
            if let Some(h) = recording.take() {
                p.recorded(h.await.unwrap_or(Ok(())));
            }
            p.finish().await;
            return;
        }
        let mut tick = if recording.is_some() || p.progress_len() > 0 || p.cursor_moved() {
            Duration::from_millis(20)
        } else {
            Duration::from_millis(500)
        };
        if !feed_idle && !stopping && p.endpoints.queued() < p.config.max_buffered {
            // A read is wanted and only waits for its pause.
            tick = tick.min(read_not_before.saturating_duration_since(Instant::now()));
        }
        tokio::select! {
            Some((key, job, outcome)) = in_flight.next(), if !in_flight.is_empty() => {
                p.posted(&key, job, outcome);
            }
            _ = &mut shutdown, if !stopping => stopping = true,
            _ = events.notified(), if feed_idle => feed_idle = false,
            _ = tokio::time::sleep(tick) => feed_idle = false,
        }
    }
}

/// The pipeline's state between steps.
struct Pipeline {
    store: Arc<dyn Store>,
    clock: Clock,
    config: WebhookConfig,
    /// One HTTP client per reach (admin, or a tenant with its allowed networks): each
    /// resolver refuses what that reach may not connect to.
    clients: HashMap<Option<String>, (crate::outbound::Reach, reqwest::Client)>,
    /// Each tenant's `allow_networks`, re-read every few seconds.
    tenant_networks: HashMap<String, Vec<crate::outbound::Cidr>>,
    tenants_read_at: Option<Instant>,
    endpoints: Endpoints,
    tracker: Tracker,
    /// The last outbox position read.
    read_pos: i64,
    /// The cursor last handed to a recording (it may still be in flight).
    recorded_cursor: i64,
    /// What the next recording will commit.
    progress: WebhookProgress,
    /// Stored rows claimed and not yet finished, so a row re-claimed after its lease while it
    /// still waits in a queue is not queued twice.
    claimed: HashSet<String>,
}

impl Pipeline {
    fn new(store: Arc<dyn Store>, clock: Clock, config: WebhookConfig, cursor: i64) -> Self {
        let endpoints = Endpoints::new(Limits {
            per_endpoint: config.per_endpoint.max(1),
            max_queued: (config.max_buffered / 4).max(1),
            trip_after: 5,
            backoff: config.backoff,
        });
        Self {
            store,
            clock,
            config,
            clients: HashMap::new(),
            tenant_networks: HashMap::new(),
            tenants_read_at: None,
            endpoints,
            tracker: Tracker::new(cursor),
            read_pos: cursor,
            recorded_cursor: cursor,
            progress: WebhookProgress::default(),
            claimed: HashSet::new(),
        }
    }

    /// What a delivery for `tenant` may reach (`None`: an admin's, internal networks too).
    fn reach_of(&self, tenant: Option<&str>) -> crate::outbound::Reach {
        let mut allow = self.config.allow_networks.clone();
        if let Some(t) = tenant
            && let Some(nets) = self.tenant_networks.get(t)
        {
            allow.extend(nets.iter().copied());
        }
        crate::outbound::Reach {
            trusted: tenant.is_none(),
            allow,
        }
    }

    /// The client whose resolver applies `tenant`'s reach.
    fn client_for(&mut self, tenant: Option<&str>) -> (crate::outbound::Reach, reqwest::Client) {
        let key = tenant.map(str::to_owned);
        if let Some(c) = self.clients.get(&key) {
            return c.clone();
        }
        let reach = self.reach_of(tenant);
        let client =
            crate::outbound::client(reach.clone(), self.config.timeout, self.config.per_endpoint);
        self.clients.insert(key, (reach.clone(), client.clone()));
        (reach, client)
    }

    /// Re-reads the tenants' allowed networks every few seconds; a tenant whose list changed
    /// gets a new client.
    async fn refresh_tenants(&mut self) -> StoreResult<()> {
        if self
            .tenants_read_at
            .is_some_and(|t| t.elapsed() < Duration::from_secs(5))
        {
            return Ok(());
        }
        self.tenants_read_at = Some(Instant::now());
        let mut nets = HashMap::new();
        for t in self.store.list_tenants().await? {
            match crate::outbound::parse_networks(&t.allow_networks) {
                Ok(n) if !n.is_empty() => {
                    nets.insert(t.id, n);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(tenant = %t.id, error = %e, "ignoring allow_networks"),
            }
        }
        if nets != self.tenant_networks {
            self.tenant_networks = nets;
            self.clients.clear();
        }
        Ok(())
    }

    /// Reads the next outbox events and queues their deliveries; true when it reached the
    /// newest event.
    async fn read_events(&mut self) -> StoreResult<bool> {
        self.refresh_tenants().await?;
        let mut hooks = self.store.list_webhooks(None).await?;
        let page = loop {
            let statuses = wanted_statuses(&hooks);
            let page = self
                .store
                .outbox_after(self.read_pos, READ_BATCH, statuses.as_deref())
                .await?;
            // A subscription created while the page was read may want events the filter left
            // out: read the page again with it.
            let now_hooks = self.store.list_webhooks(None).await?;
            let same = now_hooks.len() == hooks.len()
                && now_hooks.iter().zip(&hooks).all(|(a, b)| a.id == b.id);
            hooks = now_hooks;
            if same {
                break page;
            }
        };
        let events = page.events;
        let needs_keys = events
            .iter()
            .any(|e| matches!(&e.message, Some((_, _, m)) if m.callback_url.is_some()));
        let keys = if needs_keys {
            self.store.list_api_keys().await?
        } else {
            Vec::new()
        };
        // A message without an owning key (SMPP server, IoT, Kannel users) signs with the gateway's first
        // admin key hash; with no key at all there is nothing to sign with and the callback is
        // skipped. A revoked key's callbacks are skipped too: nobody may receive for it.
        // A Kannel sendsms user is the operator's configuration (like an SMPP account): its
        // dlr-url is called with an admin's reach.
        let secret_of = |key_id: Option<&str>| {
            let key_id = key_id.filter(|k| !k.starts_with("kannel:"));
            keys.iter()
                .filter(|k| k.revoked_at.is_none())
                .find(|k| Some(k.id.as_str()) == key_id || (key_id.is_none() && k.admin))
                .map(|k| (k.secret_hash.clone(), k.admin))
        };
        let now = self.clock.now_ms();
        for ev in &events {
            let deliveries = deliveries_for(ev, &hooks, &secret_of, now);
            self.tracker.add(ev.seq, deliveries.len() as u32);
            for delivery in deliveries {
                let job = Job {
                    delivery,
                    origin: Origin::Event(ev.seq),
                };
                if let Some(spill) = self.endpoints.push(job, now) {
                    self.spilled(spill);
                }
            }
        }
        self.read_pos = page.scanned_to;
        self.tracker.skip_to(page.scanned_to);
        Ok(page.at_end)
    }

    /// Queues due stored retries; true when there may be more due right away.
    async fn claim_retries(&mut self) -> StoreResult<bool> {
        let room = self.config.max_buffered.saturating_sub(self.claimed.len()) / 4;
        if room == 0 {
            return Ok(false);
        }
        let limit = room.min(256) as u32;
        let lease = (self.config.timeout.as_millis() as i64) * 3;
        let now = self.clock.now_ms();
        let rows = self.store.claim_deliveries(now, limit, lease).await?;
        let full = rows.len() == limit as usize;
        for delivery in rows {
            if !self.claimed.insert(delivery.id.clone()) {
                continue;
            }
            let job = Job {
                delivery,
                origin: Origin::Stored,
            };
            if let Some(spill) = self.endpoints.push(job, now) {
                self.spilled(spill);
            }
        }
        Ok(full)
    }

    /// A job its endpoint would not take: stored for later, not attempted now.
    fn spilled(&mut self, spill: Spill) {
        let Spill {
            job,
            retry_at,
            reason,
        } = spill;
        match job.origin {
            Origin::Event(seq) => {
                self.progress.failed.push(FailedDelivery {
                    delivery: job.delivery,
                    retry_at,
                    error: reason,
                });
                self.tracker.finish(seq);
            }
            Origin::Stored => {
                self.claimed.remove(&job.delivery.id);
                self.progress.finished.push(DeliveryResult::Deferred {
                    id: job.delivery.id,
                    retry_at,
                });
            }
        }
    }

    /// How one POST went.
    fn posted(&mut self, key: &str, job: Job, outcome: Result<(), String>) {
        let now = self.clock.now_ms();
        let error = outcome.as_ref().err().map_or("", String::as_str);
        for spill in self.endpoints.finished(key, outcome.is_ok(), error, now) {
            self.spilled(spill);
        }
        let Job {
            mut delivery,
            origin,
        } = job;
        match (origin, outcome) {
            (Origin::Event(seq), Ok(())) => self.tracker.finish(seq),
            (Origin::Event(seq), Err(error)) => {
                delivery.attempts += 1;
                let retry_at = now + self.config.backoff.delay(0).as_millis() as i64;
                self.progress.failed.push(FailedDelivery {
                    delivery,
                    retry_at,
                    error,
                });
                self.tracker.finish(seq);
            }
            (Origin::Stored, Ok(())) => {
                self.claimed.remove(&delivery.id);
                self.progress
                    .finished
                    .push(DeliveryResult::Done { id: delivery.id });
            }
            (Origin::Stored, Err(error)) => {
                self.claimed.remove(&delivery.id);
                let result = if now - delivery.created_at > RETRY_HORIZON.as_millis() as i64 {
                    DeliveryResult::GaveUp {
                        id: delivery.id,
                        error,
                    }
                } else {
                    let delay = self.config.backoff.delay(delivery.attempts);
                    DeliveryResult::Retry {
                        id: delivery.id,
                        retry_at: now + delay.as_millis() as i64,
                        error,
                    }
                };
                self.progress.finished.push(result);
            }
        }
    }

    fn progress_len(&self) -> usize {
        self.progress.failed.len() + self.progress.finished.len()
    }

    fn cursor_moved(&self) -> bool {
        self.tracker.cursor() != self.recorded_cursor
    }

    /// What to record now, if anything.
    fn take_progress(&mut self) -> Option<WebhookProgress> {
        let cursor = self.tracker.cursor();
        if cursor != self.recorded_cursor {
            self.progress.cursor = Some(cursor);
            self.recorded_cursor = cursor;
        }
        if self.progress.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut self.progress))
    }

    /// A recording ended; a failed one is retried with the next.
    fn recorded(&mut self, result: Result<(), WebhookProgress>) {
        if let Err(mut failed) = result {
            failed.merge(std::mem::take(&mut self.progress));
            self.progress = failed;
        }
    }

    /// Shutdown: records what is left. Jobs still queued were never attempted; their events
    /// are after the cursor (or their rows' leases run out), so they go out after the restart.
    async fn finish(&mut self) {
        let left = self.endpoints.drain().len();
        if let Some(progress) = self.take_progress()
            && let Err(e) = self
                .store
                .record_webhook_progress(progress, self.clock.now_ms())
                .await
        {
            tracing::error!(error = %e, "recording webhook progress at shutdown failed; \
                those deliveries will be made again after the restart");
        }
        if left > 0 {
            tracing::info!(
                deliveries = left,
                "webhook deliveries not yet attempted will go out after the restart"
            );
        }
    }
}

/// The `message.status` statuses any subscription may want; `None` when one wants them all (or
/// a pattern covers every event). The outbox read leaves the others out, except for messages
/// with a `callback_url` (their own filter is applied per message).
fn wanted_statuses(hooks: &[crate::store::Webhook]) -> Option<Vec<crate::message::Status>> {
    let mut wanted = Vec::new();
    for h in hooks {
        if !h
            .events
            .iter()
            .any(|p| super::pattern_matches(p, "message.status"))
        {
            continue;
        }
        if h.statuses.is_empty() {
            return None;
        }
        for s in &h.statuses {
            if !wanted.contains(s) {
                wanted.push(*s);
            }
        }
    }
    Some(wanted)
}

/// POSTs one delivery, signed; the error says what the endpoint or the network answered.
async fn post(
    client: (crate::outbound::Reach, reqwest::Client),
    clock: Clock,
    answers: Option<super::Answers>,
    key: String,
    job: Job,
) -> (String, Job, Result<(), String>) {
    use super::Call;
    let d = &job.delivery;
    let (reach, client) = client;
    let call = Call::of(&d.url);
    let url = call.url();
    // An address in the URL itself never reaches the resolver: checked here.
    if let Err(e) = reach.check_url(url) {
        tracing::warn!(url = %url, delivery = %d.id, error = %e, "webhook refused by the outbound policy");
        return (key, job, Err(e));
    }
    let form = |b: reqwest::RequestBuilder| {
        // Twilio's form, signed as Twilio signs it.
        b.header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(
            crate::twilio::SIGNATURE_HEADER,
            crate::twilio::signature(&d.secret, url, &d.body),
        )
        .body(d.body.clone())
    };
    let request = match &call {
        // A Kannel dlr-url or get-url: a plain GET of the filled-in template.
        Call::KannelDlr(_) | Call::KannelService { .. } => client.get(url),
        Call::TwilioStatus(_) | Call::TwilioInbound { .. } => form(client.post(url)),
        Call::Json(_) => client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                SIGNATURE_HEADER,
                sign(&d.secret, clock.now_ms() / 1000, &d.body),
            )
            .body(d.body.clone()),
    };
    let outcome = match request.send().await {
        Ok(mut r) if r.status().is_success() => {
            // Read a short answer to its end so the connection goes back to the pool; a long
            // one is cut off (the connection closes, nothing else is lost). Kept for the
            // calls that answer with SMS.
            let mut answer = Vec::new();
            while answer.len() < 64 * 1024
                && let Ok(Some(chunk)) = r.chunk().await
            {
                answer.extend_from_slice(&chunk);
            }
            tracing::debug!(url = %url, delivery = %d.id, "webhook delivered");
            if let Some(a) = &answers {
                answer_back(a, &call, d, &String::from_utf8_lossy(&answer)).await;
            }
            Ok(())
        }
        Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
        Err(e) => Err(format!("{e}")),
    };
    if let Err(error) = &outcome {
        tracing::info!(url = %url, delivery = %d.id, attempts = d.attempts + 1, %error,
            "webhook failed");
    }
    (key, job, outcome)
}

/// Queues what an inbound webhook answered (TwiML `<Message>`s, a Kannel service's text) as
/// SMS back to the sender, from the number texted, as the SMS's tenant. The idempotency key
/// is the delivery's, so a delivery made again after a crash does not answer twice.
async fn answer_back(
    a: &super::Answers,
    call: &super::Call<'_>,
    d: &crate::store::Delivery,
    answer: &str,
) {
    use super::Call;
    let (tenant, texts, phone, ours) = match call {
        Call::TwilioInbound { tenant, .. } => {
            let f: std::collections::HashMap<String, String> =
                form_urlencoded::parse(d.body.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
            (
                *tenant,
                crate::twilio::twiml_messages(answer),
                f.get("From").cloned().unwrap_or_default(),
                f.get("To").cloned().unwrap_or_default(),
            )
        }
        Call::KannelService { tenant, .. } => {
            let v: serde_json::Value = serde_json::from_str(&d.body).unwrap_or_default();
            let text = answer.trim();
            (
                *tenant,
                if text.is_empty() {
                    Vec::new()
                } else {
                    vec![text.to_owned()]
                },
                v["phone"].as_str().unwrap_or_default().to_owned(),
                v["ours"].as_str().unwrap_or_default().to_owned(),
            )
        }
        _ => return,
    };
    for (i, text) in texts.into_iter().enumerate() {
        let req = crate::intake::SendRequest {
            to: phone.clone(),
            text,
            from: Some(ours.clone()).filter(|o| !o.is_empty()),
            tenant: Some(tenant.to_owned()),
            priority: crate::message::Priority::High,
            validity: Some("1h".into()),
            idempotency_key: Some(format!("{}:{i}", d.id)),
            ..crate::intake::SendRequest::default()
        };
        match a.0.send(req).await {
            Ok(m) => {
                tracing::info!(delivery = %d.id, message = %m.id, "inbound webhook answered by SMS")
            }
            Err(e) => {
                tracing::warn!(delivery = %d.id, error = %e, "the inbound webhook's answer could not be sent")
            }
        }
    }
}
