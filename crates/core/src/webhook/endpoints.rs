//! Per-endpoint queues in memory, so one slow or dead receiver never takes the delivery slots of
//! the others.
//!
//! An endpoint is a receiver's origin (`scheme://host:port`): callback URLs that differ only in
//! path or query (Kannel-style `dlr-url`s with the message id in them) share one. Each endpoint
//! has its own FIFO queue and its own in-flight limit, and the scheduler takes jobs round robin
//! from the endpoints that have room. After `trip_after` failures in a row an endpoint is
//! *paused* (a circuit breaker): what waits for it, and what arrives while it is paused, is
//! handed back as a [`Spill`] to be stored for a later retry instead of waiting in memory; when
//! the pause ends it gets one delivery at a time until one succeeds. A queue longer than
//! `max_queued` spills too while other endpoints have work, so a receiver that is slow without
//! failing cannot take the buffer the others need; a lone busy endpoint keeps its queue and the
//! pipeline stops reading the outbox until it catches up.
//!
//! Plain data, no I/O: the pipeline (`pipeline`) feeds it and tells it how each POST went.

use std::collections::{HashMap, VecDeque};

use crate::backoff::Backoff;
use crate::store::Delivery;

/// Where a job came from, which decides what finishing it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A first attempt for the outbox event at this position.
    Event(i64),
    /// A stored delivery claimed for a retry.
    Stored,
}

/// One POST to make.
#[derive(Clone, Debug)]
pub struct Job {
    /// What to POST where.
    pub delivery: Delivery,
    /// Where it came from.
    pub origin: Origin,
}

/// A job the endpoint will not take now: store it and retry at `retry_at`.
#[derive(Debug)]
pub struct Spill {
    /// The job.
    pub job: Job,
    /// Unix ms.
    pub retry_at: i64,
    /// Why it was not attempted.
    pub reason: String,
}

/// The scheduler's limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// POSTs in flight to one endpoint.
    pub per_endpoint: usize,
    /// Jobs waiting in memory for one endpoint before further ones spill.
    pub max_queued: usize,
    /// Failures in a row that pause an endpoint.
    pub trip_after: u32,
    /// How long pauses last: `delay(0)` after tripping, longer on each failed probe.
    pub backoff: Backoff,
}

#[derive(Debug, Default)]
struct Endpoint {
    queue: VecDeque<Job>,
    in_flight: usize,
    failures: u32,
    paused_until: i64,
    last_error: String,
    scheduled: bool,
}

impl Endpoint {
    fn limit(&self, per_endpoint: usize, trip_after: u32) -> usize {
        if self.failures >= trip_after {
            1
        } else {
            per_endpoint
        }
    }

    fn pause_reason(&self) -> String {
        format!(
            "endpoint paused after {} failed deliveries in a row (last: {})",
            self.failures, self.last_error
        )
    }
}

/// The endpoints with work or a failure record.
#[derive(Debug)]
pub struct Endpoints {
    limits: Limits,
    map: HashMap<String, Endpoint>,
    /// Endpoints with queued jobs, in round-robin order.
    order: Vec<String>,
    next_index: usize,
    queued: usize,
    in_flight: usize,
}

/// The endpoint (origin) of a URL: everything before the path.
pub fn endpoint_of(url: &str) -> &str {
    let url = super::Call::of(url).url();
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find(['/', '?', '#']) {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

impl Endpoints {
    /// No endpoints yet.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            map: HashMap::new(),
            order: Vec::new(),
            next_index: 0,
            queued: 0,
            in_flight: 0,
        }
    }

    /// Jobs waiting in memory.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// POSTs in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Queues a job; hands it back as a spill when its endpoint is paused or its queue is full.
    pub fn push(&mut self, job: Job, now: i64) -> Option<Spill> {
        let key = endpoint_of(&job.delivery.url);
        if !self.map.contains_key(key) {
            self.map.insert(key.to_owned(), Endpoint::default());
        }
        let Some(e) = self.map.get_mut(key) else {
            unreachable!("inserted above")
        };
        if now < e.paused_until {
            return Some(Spill {
                job,
                retry_at: e.paused_until,
                reason: e.pause_reason(),
            });
        }
        // Over its share while others wait too: stored for later, so a slow receiver cannot
        // fill the buffer the others need. Alone, it keeps its jobs and the pipeline stops
        // reading instead (back-pressure, not a store write per delivery).
        let others_wait = self.order.len() > usize::from(e.scheduled);
        if e.queue.len() >= self.limits.max_queued && others_wait {
            return Some(Spill {
                job,
                retry_at: now + self.limits.backoff.delay(0).as_millis() as i64,
                reason: format!(
                    "{} deliveries already wait for this endpoint",
                    self.limits.max_queued
                ),
            });
        }
        if !e.scheduled {
            e.scheduled = true;
            self.order.push(key.to_owned());
        }
        e.queue.push_back(job);
        self.queued += 1;
        None
    }

    /// The next job to POST, round robin over endpoints below their in-flight limit; marks it in
    /// flight. Returns the endpoint key to hand back to [`Endpoints::finished`].
    pub fn next(&mut self, now: i64) -> Option<(String, Job)> {
        let n = self.order.len();
        for step in 0..n {
            let i = (self.next_index + step) % n;
            let Some(e) = self.map.get_mut(&self.order[i]) else {
                continue;
            };
            if now < e.paused_until
                || e.in_flight >= e.limit(self.limits.per_endpoint, self.limits.trip_after)
            {
                continue;
            }
            let Some(job) = e.queue.pop_front() else {
                continue;
            };
            e.in_flight += 1;
            self.queued -= 1;
            self.in_flight += 1;
            let key = self.order[i].clone();
            self.next_index = i + 1;
            if e.queue.is_empty() {
                e.scheduled = false;
                self.order.remove(i);
                self.next_index = i;
            }
            return Some((key, job));
        }
        None
    }

    /// Records how a POST to `key` went. A failure that trips (or re-trips) the breaker pauses
    /// the endpoint and hands back everything queued for it.
    pub fn finished(&mut self, key: &str, ok: bool, error: &str, now: i64) -> Vec<Spill> {
        let Some(e) = self.map.get_mut(key) else {
            return Vec::new();
        };
        e.in_flight = e.in_flight.saturating_sub(1);
        self.in_flight = self.in_flight.saturating_sub(1);
        let mut spills = Vec::new();
        if ok {
            e.failures = 0;
        } else {
            e.failures += 1;
            e.last_error = error.to_owned();
            if e.failures >= self.limits.trip_after {
                let pause = self
                    .limits
                    .backoff
                    .delay(e.failures - self.limits.trip_after);
                e.paused_until = now + pause.as_millis() as i64;
                let reason = e.pause_reason();
                tracing::warn!(endpoint = key, pause_ms = pause.as_millis() as u64, %reason,
                    "webhook endpoint paused");
                self.queued -= e.queue.len();
                spills.extend(e.queue.drain(..).map(|job| Spill {
                    job,
                    retry_at: e.paused_until,
                    reason: reason.clone(),
                }));
                if e.scheduled {
                    e.scheduled = false;
                    self.order.retain(|k| k != key);
                    self.next_index = 0;
                }
            }
        }
        if e.queue.is_empty() && e.in_flight == 0 && e.failures == 0 {
            self.map.remove(key);
        }
        spills
    }

    /// Takes every queued job out (shutdown: they are redelivered from the outbox or the
    /// store after the restart).
    pub fn drain(&mut self) -> Vec<Job> {
        self.order.clear();
        self.queued = 0;
        self.map
            .values_mut()
            .flat_map(|e| {
                e.scheduled = false;
                e.queue.drain(..).collect::<Vec<_>>()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits() -> Limits {
        Limits {
            per_endpoint: 2,
            max_queued: 3,
            trip_after: 2,
            backoff: Backoff::new(Duration::from_secs(10), Duration::from_secs(100)),
        }
    }

    fn job(url: &str, seq: i64) -> Job {
        Job {
            delivery: Delivery {
                id: format!("whd_{seq}"),
                webhook_id: None,
                url: url.into(),
                secret: "s".into(),
                body: "{}".into(),
                attempts: 0,
                created_at: 0,
                tenant: None,
            },
            origin: Origin::Event(seq),
        }
    }

    #[test]
    fn an_endpoint_is_the_origin_of_its_url() {
        assert_eq!(endpoint_of("http://a:80/x?y"), "http://a:80");
        assert_eq!(endpoint_of("https://b.example?q=1"), "https://b.example");
        assert_eq!(endpoint_of("http://c"), "http://c");
    }

    #[test]
    fn a_busy_endpoint_does_not_hold_back_another() {
        let mut eps = Endpoints::new(limits());
        for seq in 1..=3 {
            assert!(eps.push(job("http://slow/hook", seq), 0).is_none());
        }
        assert!(eps.push(job("http://fast/hook", 4), 0).is_none());
        let mut taken = Vec::new();
        while let Some((key, j)) = eps.next(0) {
            taken.push((key, j.origin));
        }
        // Two in flight for the slow one (its limit), the fast one's job too; the third slow
        // job waits.
        assert_eq!(taken.len(), 3, "{taken:?}");
        assert!(taken.iter().any(|(k, _)| k == "http://fast"));
        assert_eq!(eps.queued(), 1);
        assert_eq!(eps.in_flight(), 3);
        assert!(eps.finished("http://slow", true, "", 0).is_empty());
        let (key, j) = eps.next(0).unwrap();
        assert_eq!((key.as_str(), j.origin), ("http://slow", Origin::Event(3)));
    }

    #[test]
    fn a_full_queue_spills_while_others_wait_and_grows_when_alone() {
        let mut eps = Endpoints::new(limits());
        for seq in 1..=4 {
            assert!(
                eps.push(job("http://a/", seq), 0).is_none(),
                "alone: no spill"
            );
        }
        assert!(eps.push(job("http://b/", 10), 0).is_none());
        let spill = eps.push(job("http://a/", 5), 1_000).unwrap();
        assert_eq!(spill.job.origin, Origin::Event(5));
        assert!(spill.retry_at >= 1_000 + 5_000, "{spill:?}");
        assert!(
            eps.push(job("http://b/", 11), 0).is_none(),
            "others still queue"
        );
    }

    #[test]
    fn failures_in_a_row_pause_the_endpoint_and_spill_its_queue() {
        let mut eps = Endpoints::new(limits());
        for seq in 1..=3 {
            assert!(eps.push(job("http://dead/", seq), 0).is_none());
        }
        let (k1, _) = eps.next(0).unwrap();
        let (k2, _) = eps.next(0).unwrap();
        assert!(eps.finished(&k1, false, "HTTP 500", 100).is_empty());
        let spills = eps.finished(&k2, false, "HTTP 500", 100);
        assert_eq!(spills.len(), 1, "the queued third job");
        assert!(
            spills[0].reason.contains("HTTP 500"),
            "{}",
            spills[0].reason
        );
        let until = spills[0].retry_at;
        assert!(until >= 100 + 5_000, "{until}");
        assert_eq!(eps.queued(), 0);
        // While paused, new jobs spill at once and nothing is handed out.
        let s = eps.push(job("http://dead/", 4), 200).unwrap();
        assert_eq!(s.retry_at, until);
        assert!(eps.next(200).is_none());
        // After the pause, one probe at a time.
        assert!(eps.push(job("http://dead/", 5), until).is_none());
        assert!(eps.push(job("http://dead/", 6), until).is_none());
        let (k, _) = eps.next(until).unwrap();
        assert!(eps.next(until).is_none(), "half open: one in flight");
        assert!(eps.finished(&k, true, "", until).is_empty());
        assert!(eps.next(until).is_some(), "a success closes the breaker");
    }
}
