//! Which connectors may carry a message, and in which order.
//!
//! A route matches a message when its conditions hold: an E.164 `prefix` (`""` matches every
//! number), an ISO `country` of the destination, a `sender` (exact, or a prefix ending in `*`)
//! and an `api_key` (the key's id). Among matching routes the longest prefix wins, then a route
//! with a country, then the one with more conditions, then the first configured. The chosen
//! route lists its connectors in failover order, or — with `strategy = "balance"` — picks the
//! first by weight and keeps the others as failover. Without any route every connector is a
//! candidate in configuration order.
//!
//! The table can be replaced while the gateway runs ([`SharedRouter`], reloaded on SIGHUP):
//! a message being dispatched keeps the table it started with.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::connector::DynConnector;

/// How a route orders its connectors for each message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Always in the listed order; the next one only when the one before cannot take it.
    #[default]
    Failover,
    /// Spread by `weights`; the others remain failover for the chosen one.
    Balance,
}

/// One `[[routes]]` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// A label for logs, the API and `smsgate route`; defaults to the prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E.164 prefix (`"+49"`); `""` matches every number.
    #[serde(default)]
    pub prefix: String,
    /// ISO 3166 alpha-2 country of the destination (`"DE"`), from its number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Only messages from this sender id (`"ALERTS"`, or `"+4930*"` as a prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// Only messages sent with this API key (its id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// `"21:00-08:00"`: `normal` and `low` messages this route would carry wait while it is
    /// that time where the recipient is (decided when the message is accepted, as the
    /// tenant's quiet hours are; `high` ones go at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<String>,
    /// Connector names.
    pub connectors: Vec<String>,
    /// `failover` (default) or `balance`.
    #[serde(default)]
    pub strategy: Strategy,
    /// Relative shares for `balance`, one per connector (default: equal).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<u32>,
    /// When a delivery receipt says `undelivered`, send the message again through the next
    /// connector of this route that has not reported it undelivered yet, instead of ending at
    /// `undelivered`. The message stays `sent` meanwhile; its timeline shows the retry. Default
    /// `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retry_undelivered: bool,
    /// Only receipts with one of these network error codes are retried (`"001"` and `"1"` are
    /// the same code); empty (default) retries every `undelivered` receipt. Needs
    /// `retry_undelivered = true`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry_error_codes: Vec<String>,
}

/// What to do with an `undelivered` receipt for one submit: send again through another
/// connector when its error code allows. Decided by the dispatcher when it records the submit
/// (from the route and the connectors left) and applied by the store when the receipt comes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRetry {
    /// Network error codes that allow a retry; empty: every code (and none).
    pub codes: Vec<String>,
}

impl ReceiptRetry {
    /// Whether a receipt with `code` may be retried. Numeric codes compare by value, so a
    /// configured `"1"` matches a receipt's `"001"`; other codes compare case-insensitively.
    pub fn allows(&self, code: Option<&str>) -> bool {
        if self.codes.is_empty() {
            return true;
        }
        let Some(code) = code else {
            return false;
        };
        let code = normalize_code(code);
        self.codes.iter().any(|c| normalize_code(c) == code)
    }
}

/// A network error code in a comparable form: digits without leading zeros, else lower case.
fn normalize_code(code: &str) -> String {
    let code = code.trim();
    if !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()) {
        let digits = code.trim_start_matches('0');
        if digits.is_empty() { "0" } else { digits }.to_owned()
    } else {
        code.to_ascii_lowercase()
    }
}

impl Route {
    /// The name shown to people.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            if self.prefix.is_empty() {
                "default".into()
            } else {
                self.prefix.clone()
            }
        })
    }

    fn conditions(&self) -> usize {
        usize::from(self.sender.is_some()) + usize::from(self.api_key.is_some())
    }
}

/// A route table that names something it cannot use.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// A route lists a connector that is not configured.
    #[error("route '{route}' names connector '{connector}', which is not configured")]
    UnknownConnector {
        /// The route's label.
        route: String,
        /// The missing name.
        connector: String,
    },
    /// A prefix that is not E.164-shaped.
    #[error("route prefix '{0}' must be empty or '+' followed by digits, e.g. \"+49\"")]
    BadPrefix(String),
    /// A route without connectors.
    #[error("route '{0}' lists no connectors")]
    Empty(String),
    /// Weights that do not fit the connector list.
    #[error("route '{0}': weights must have one entry per connector and not all be 0")]
    BadWeights(String),
    /// A country that is not two ASCII letters.
    #[error("route '{0}': country must be an ISO 3166 alpha-2 code such as \"DE\"")]
    BadCountry(String),
    /// A `quiet_hours` window that does not parse.
    #[error("route '{0}': {1}")]
    BadQuietHours(String, String),
    /// `retry_error_codes` without `retry_undelivered`, or with an empty code.
    #[error("route '{0}': retry_error_codes needs retry_undelivered = true and non-empty codes")]
    BadRetryCodes(String),
}

/// The configured connectors by name.
#[derive(Clone, Default)]
pub struct Connectors {
    list: Vec<DynConnector>,
    by_name: HashMap<String, usize>,
}

impl Connectors {
    /// Indexes `list` by name (the first of a duplicated name wins; config validation rejects
    /// duplicates before this).
    pub fn new(list: Vec<DynConnector>) -> Self {
        let mut by_name = HashMap::new();
        for (i, c) in list.iter().enumerate() {
            by_name.entry(c.name().to_owned()).or_insert(i);
        }
        Self { list, by_name }
    }

    /// Every connector, in configuration order.
    pub fn all(&self) -> &[DynConnector] {
        &self.list
    }

    /// One connector by name.
    pub fn get(&self, name: &str) -> Option<&DynConnector> {
        self.by_name.get(name).map(|&i| &self.list[i])
    }
}

/// What a message brings to routing.
#[derive(Clone, Copy, Debug, Default)]
pub struct RouteQuery<'a> {
    /// Destination, E.164.
    pub to: &'a str,
    /// Sender id, if any.
    pub from: Option<&'a str>,
    /// The API key id it was sent with, if any.
    pub api_key: Option<&'a str>,
}

/// The result of routing one message.
pub struct Choice {
    /// Index of the route in the configured table (`None`: no routes configured, or no match).
    pub route: Option<usize>,
    /// Connectors in the order to try.
    pub connectors: Vec<DynConnector>,
    /// Why, in words, for logs, the API and `smsgate route`.
    pub reason: String,
    /// Set when the route retries `undelivered` receipts on its next connector.
    pub receipt_retry: Option<ReceiptRetry>,
}

/// The route table, resolved against the connectors.
#[derive(Clone)]
pub struct Router {
    config: Vec<Route>,
    resolved: Vec<Vec<DynConnector>>,
    /// Indices into `config`, most specific first.
    order: Vec<usize>,
    fallback: Vec<DynConnector>,
    needs_country: bool,
    /// Each route's parsed `quiet_hours`, by index into `config`.
    quiet: Vec<Option<crate::quiet::Window>>,
    /// Whether any route has quiet hours: without, the intake does not match routes at all.
    any_quiet: bool,
}

impl Router {
    /// Checks and resolves `routes`; an error names the route and what is wrong.
    pub fn new(routes: &[Route], connectors: &Connectors) -> Result<Self, RouteError> {
        let mut resolved = Vec::with_capacity(routes.len());
        let mut quiet = Vec::with_capacity(routes.len());
        for r in routes {
            let p = &r.prefix;
            if !(p.is_empty() || (p.starts_with('+') && p[1..].bytes().all(|b| b.is_ascii_digit())))
            {
                return Err(RouteError::BadPrefix(p.clone()));
            }
            if r.connectors.is_empty() {
                return Err(RouteError::Empty(r.label()));
            }
            if let Some(c) = &r.country
                && !(c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
            {
                return Err(RouteError::BadCountry(r.label()));
            }
            if !r.weights.is_empty()
                && (r.weights.len() != r.connectors.len() || r.weights.iter().all(|&w| w == 0))
            {
                return Err(RouteError::BadWeights(r.label()));
            }
            if !r.retry_error_codes.is_empty()
                && (!r.retry_undelivered || r.retry_error_codes.iter().any(|c| c.trim().is_empty()))
            {
                return Err(RouteError::BadRetryCodes(r.label()));
            }
            let window = r
                .quiet_hours
                .as_deref()
                .map(crate::quiet::Window::parse)
                .transpose()
                .map_err(|e| RouteError::BadQuietHours(r.label(), e))?;
            quiet.push(window);
            let mut list = Vec::with_capacity(r.connectors.len());
            for name in &r.connectors {
                let c = connectors
                    .get(name)
                    .ok_or_else(|| RouteError::UnknownConnector {
                        route: r.label(),
                        connector: name.clone(),
                    })?;
                list.push(Arc::clone(c));
            }
            resolved.push(list);
        }
        let mut order: Vec<usize> = (0..routes.len()).collect();
        // Stable: among equals the first configured wins.
        order.sort_by_key(|&i| {
            let r = &routes[i];
            std::cmp::Reverse((r.prefix.len(), r.country.is_some(), r.conditions()))
        });
        Ok(Self {
            needs_country: routes.iter().any(|r| r.country.is_some()),
            any_quiet: quiet.iter().any(Option::is_some),
            quiet,
            config: routes.to_vec(),
            resolved,
            order,
            fallback: connectors.all().to_vec(),
        })
    }

    /// Every connector (for capacity and status).
    pub fn all_connectors(&self) -> &[DynConnector] {
        &self.fallback
    }

    /// The configured routes, as given.
    pub fn routes(&self) -> &[Route] {
        &self.config
    }

    /// The route a message would take and its quiet hours, when that route has them (`None`
    /// at once, without matching, when no route has any).
    pub fn quiet_hours(&self, q: RouteQuery<'_>) -> Option<(String, crate::quiet::Window)> {
        if !self.any_quiet {
            return None;
        }
        let i = self.matching(q)?;
        Some((self.config[i].label(), self.quiet[i]?))
    }

    /// The index of the most specific route that matches.
    fn matching(&self, q: RouteQuery<'_>) -> Option<usize> {
        let country = if self.needs_country {
            crate::number::Msisdn::parse(q.to)
                .ok()
                .and_then(|m| m.country())
        } else {
            None
        };
        self.order.iter().copied().find(|&i| {
            let r = &self.config[i];
            q.to.starts_with(r.prefix.as_str())
                && r.country.as_deref().is_none_or(|c| {
                    country
                        .as_deref()
                        .is_some_and(|have| have.eq_ignore_ascii_case(c))
                })
                && r.sender.as_deref().is_none_or(|want| {
                    q.from.is_some_and(|from| match want.strip_suffix('*') {
                        Some(prefix) => from.starts_with(prefix),
                        None => from == want,
                    })
                })
                && r.api_key
                    .as_deref()
                    .is_none_or(|want| q.api_key == Some(want))
        })
    }

    /// Picks the route and orders its connectors for one message.
    pub fn choose(&self, q: RouteQuery<'_>) -> Choice {
        if self.config.is_empty() {
            return Choice {
                route: None,
                connectors: self.fallback.clone(),
                reason: "no [[routes]] configured: every connector, in configuration order".into(),
                receipt_retry: None,
            };
        }
        let hit = self.matching(q);
        let Some(i) = hit else {
            return Choice {
                route: None,
                connectors: Vec::new(),
                reason: format!(
                    "no route matches {}; add a [[routes]] entry (prefix = \"\" matches all)",
                    q.to
                ),
                receipt_retry: None,
            };
        };
        let r = &self.config[i];
        let mut list = self.resolved[i].clone();
        let mut why = vec![if r.prefix.is_empty() {
            "matches every number".to_owned()
        } else {
            format!("prefix {}", r.prefix)
        }];
        if let Some(c) = &r.country {
            why.push(format!("country {c}"));
        }
        if let Some(s) = &r.sender {
            why.push(format!("sender {s}"));
        }
        if let Some(k) = &r.api_key {
            why.push(format!("api key {k}"));
        }
        let order = match r.strategy {
            Strategy::Failover => "failover in order",
            Strategy::Balance => {
                let first = pick_weighted(&r.weights, list.len());
                list[..=first].rotate_right(1);
                "balanced by weight, then failover"
            }
        };
        let retry = if r.retry_undelivered {
            "; an undelivered receipt is retried on the next connector"
        } else {
            ""
        };
        Choice {
            route: Some(i),
            reason: format!("route '{}' ({}); {order}{retry}", r.label(), why.join(", ")),
            connectors: list,
            receipt_retry: r.retry_undelivered.then(|| ReceiptRetry {
                codes: r.retry_error_codes.clone(),
            }),
        }
    }
}

/// An index in `0..n` drawn with probability proportional to `weights` (equal when empty).
fn pick_weighted(weights: &[u32], n: usize) -> usize {
    let mut rng = rand::thread_rng();
    if weights.is_empty() {
        return rng.gen_range(0..n);
    }
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    let mut x = rng.gen_range(0..total);
    for (i, &w) in weights.iter().enumerate() {
        if x < u64::from(w) {
            return i;
        }
        x -= u64::from(w);
    }
    n - 1
}

/// The live route table, swapped whole on reload.
pub struct SharedRouter(RwLock<Arc<Router>>);

impl SharedRouter {
    /// Starts with `router`.
    pub fn new(router: Router) -> Arc<Self> {
        Arc::new(Self(RwLock::new(Arc::new(router))))
    }

    /// The table in force now (cheap: one `Arc` clone).
    pub fn current(&self) -> Arc<Router> {
        Arc::clone(&self.0.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces the table; messages already being dispatched finish on the old one.
    pub fn replace(&self, router: Router) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(router);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::{ConnectorInfo, ConnectorState, OutboundSms, SubmitOutcome};

    /// A connector that only has a name: routing never submits.
    struct Named(String);

    #[async_trait::async_trait]
    impl crate::connector::Connector for Named {
        fn name(&self) -> &str {
            &self.0
        }
        fn info(&self) -> ConnectorInfo {
            ConnectorInfo {
                name: self.0.clone(),
                kind: "test".into(),
                state: ConnectorState::Bound,
                submitted: 0,
                failed: 0,
                receipts: 0,
                inbound: 0,
                in_flight: 0,
                details: serde_json::Value::Null,
            }
        }
        fn capacity(&self) -> usize {
            1
        }
        async fn submit(&self, _: &OutboundSms) -> SubmitOutcome {
            SubmitOutcome::Accepted { remote_ids: vec![] }
        }
    }

    fn connectors(names: &[&str]) -> Connectors {
        Connectors::new(
            names
                .iter()
                .map(|n| Arc::new(Named(n.to_string())) as DynConnector)
                .collect(),
        )
    }

    fn route(prefix: &str, cs: &[&str]) -> Route {
        Route {
            prefix: prefix.into(),
            connectors: cs.iter().map(|s| s.to_string()).collect(),
            ..Route::default()
        }
    }

    fn names(c: &Choice) -> Vec<String> {
        c.connectors.iter().map(|c| c.name().to_owned()).collect()
    }

    fn to(to: &str) -> RouteQuery<'_> {
        RouteQuery {
            to,
            ..RouteQuery::default()
        }
    }

    #[tokio::test]
    async fn longest_prefix_wins_then_country_then_conditions() {
        let cs = connectors(&["a", "b", "c", "d", "e"]);
        let mut by_country = route("", &["d"]);
        by_country.country = Some("AT".into());
        let mut alerts = route("+49", &["e"]);
        alerts.sender = Some("ALERT*".into());
        let r = Router::new(
            &[
                route("", &["a"]),
                route("+49", &["b"]),
                route("+4915", &["c"]),
                by_country,
                alerts,
            ],
            &cs,
        )
        .unwrap();
        assert_eq!(names(&r.choose(to("+4915112345678"))), ["c"]);
        assert_eq!(names(&r.choose(to("+4930123456"))), ["b"]);
        assert_eq!(names(&r.choose(to("+436641234567"))), ["d"]);
        assert_eq!(names(&r.choose(to("+33612345678"))), ["a"]);
        let q = RouteQuery {
            to: "+4930123456",
            from: Some("ALERTS"),
            api_key: None,
        };
        let choice = r.choose(q);
        assert_eq!(names(&choice), ["e"]);
        assert!(choice.reason.contains("sender ALERT*"), "{}", choice.reason);
    }

    #[tokio::test]
    async fn no_matching_route_names_the_number() {
        let cs = connectors(&["a"]);
        let r = Router::new(&[route("+49", &["a"])], &cs).unwrap();
        let c = r.choose(to("+33612345678"));
        assert!(c.connectors.is_empty());
        assert!(c.reason.contains("+33612345678"));
        let any = Router::new(&[], &cs).unwrap();
        assert_eq!(names(&any.choose(to("+33612345678"))), ["a"]);
    }

    #[tokio::test]
    async fn balance_spreads_by_weight_and_keeps_the_rest_as_failover() {
        let cs = connectors(&["a", "b"]);
        let mut r = route("", &["a", "b"]);
        r.strategy = Strategy::Balance;
        r.weights = vec![3, 1];
        let router = Router::new(&[r], &cs).unwrap();
        let mut first_a = 0;
        for _ in 0..4000 {
            let n = names(&router.choose(to("+4915112345678")));
            assert_eq!(n.len(), 2, "the other stays as failover");
            if n[0] == "a" {
                first_a += 1;
            }
        }
        // 3:1 → 3000 expected; six standard deviations (~27 each) of slack.
        assert!((2840..=3160).contains(&first_a), "{first_a} of 4000");
    }

    #[tokio::test]
    async fn a_retrying_route_hands_its_error_codes_to_the_choice() {
        let cs = connectors(&["a", "b"]);
        let mut r = route("", &["a", "b"]);
        r.retry_undelivered = true;
        r.retry_error_codes = vec!["1".into(), "0x0B".into()];
        let router = Router::new(&[r.clone()], &cs).unwrap();
        let choice = router.choose(to("+4915112345678"));
        let retry = choice.receipt_retry.expect("the route retries");
        assert!(retry.allows(Some("001")));
        assert!(retry.allows(Some("0x0b")));
        assert!(!retry.allows(Some("034")));
        assert!(!retry.allows(None));
        assert!(
            ReceiptRetry::default().allows(None),
            "no codes: every receipt"
        );
        assert!(choice.reason.contains("retried"), "{}", choice.reason);
        r.retry_undelivered = false;
        assert!(matches!(
            Router::new(&[r], &cs),
            Err(RouteError::BadRetryCodes(_))
        ));
        let plain = Router::new(&[route("", &["a", "b"])], &cs).unwrap();
        assert!(plain.choose(to("+4915112345678")).receipt_retry.is_none());
    }

    #[tokio::test]
    async fn invalid_tables_are_rejected_with_the_route_named() {
        let cs = connectors(&["a"]);
        let e = Router::new(&[route("+49", &["zz"])], &cs).err().unwrap();
        assert!(e.to_string().contains("'zz'"), "{e}");
        let e = Router::new(&[route("49", &["a"])], &cs).err().unwrap();
        assert!(matches!(e, RouteError::BadPrefix(_)));
        let mut w = route("+49", &["a"]);
        w.weights = vec![1, 2];
        assert!(matches!(
            Router::new(&[w], &cs),
            Err(RouteError::BadWeights(_))
        ));
    }
}
