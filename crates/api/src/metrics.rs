//! `GET /metrics`: the gateway's state in the Prometheus text exposition format (version 0.0.4),
//! rendered at scrape time from what the store and the connectors already count, so the hot
//! path pays nothing for it.
//!
//! Like `/healthz` it needs no API key (scrapers rarely carry one); it shows counts and
//! connector health, never message content or numbers.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::AppState;

/// The Prometheus scrape endpoint.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain")))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut out = Metrics::default();
    out.family(
        "smsgate_build_info",
        "gauge",
        "Version of the running gateway.",
    );
    out.sample(
        "smsgate_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );

    match state.cached_stats().await {
        Ok(stats) => {
            out.family(
                "smsgate_messages",
                "gauge",
                "Messages in the store by status.",
            );
            for (status, n) in &stats.by_status {
                out.sample("smsgate_messages", &[("status", status)], *n);
            }
            for (name, help, v) in [
                (
                    "smsgate_queue_waiting",
                    "Messages waiting to be sent (queued or sending, not in flight).",
                    stats.waiting,
                ),
                (
                    "smsgate_webhook_deliveries_pending",
                    "Webhook deliveries not yet made.",
                    stats.webhooks_pending,
                ),
                (
                    "smsgate_inbound_messages",
                    "Inbound messages in the store.",
                    stats.inbound,
                ),
            ] {
                out.family(name, "gauge", help);
                out.sample(name, &[], v);
            }
            out.family("smsgate_store_up", "gauge", "1 when the store answers.");
            out.sample("smsgate_store_up", &[], 1);
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the store did not answer");
            out.family("smsgate_store_up", "gauge", "1 when the store answers.");
            out.sample("smsgate_store_up", &[], 0);
        }
    }

    if let Ok(nodes) = crate::routes::system::live_nodes(&state).await {
        out.family(
            "smsgate_nodes_live",
            "gauge",
            "Gateway nodes on this store whose beat is within [cluster] node_timeout.",
        );
        out.sample(
            "smsgate_nodes_live",
            &[],
            nodes.iter().filter(|n| n.live).count() as u64,
        );
        out.family(
            "smsgate_node_in_flight",
            "gauge",
            "Messages a node has claimed and not yet recorded.",
        );
        for n in &nodes {
            out.sample("smsgate_node_in_flight", &[("node", &n.id)], n.in_flight);
        }
        out.family(
            "smsgate_node_takeovers_total",
            "counter",
            "Messages of dead nodes a node took over.",
        );
        for n in &nodes {
            out.sample(
                "smsgate_node_takeovers_total",
                &[("node", &n.id)],
                n.takeovers,
            );
        }
        out.family(
            "smsgate_node_leader",
            "gauge",
            "1 for the node holding the leader lease (webhooks, IoT engine, compliance, retention).",
        );
        for n in &nodes {
            let leads = n.leases.iter().any(|l| l == smsgate_core::cluster::LEADER)
                || (state.store.single_node() && n.id == state.store.node_id());
            out.sample("smsgate_node_leader", &[("node", &n.id)], u64::from(leads));
        }
    }

    let infos: Vec<_> = state.connectors.all().iter().map(|c| c.info()).collect();
    out.family(
        "smsgate_connector_up",
        "gauge",
        "1 when the connector can submit (SMPP bound, modem registered).",
    );
    for c in &infos {
        let up = matches!(c.state, smsgate_core::connector::ConnectorState::Bound);
        out.sample(
            "smsgate_connector_up",
            &[("connector", &c.name), ("kind", &c.kind)],
            u64::from(up),
        );
    }
    let counters: [Counter; 5] = [
        (
            "smsgate_connector_submitted_total",
            "counter",
            "Submits the network accepted since start.",
            |c| c.submitted,
        ),
        (
            "smsgate_connector_failed_total",
            "counter",
            "Submits that failed since start.",
            |c| c.failed,
        ),
        (
            "smsgate_connector_receipts_total",
            "counter",
            "Delivery reports received since start.",
            |c| c.receipts,
        ),
        (
            "smsgate_connector_inbound_total",
            "counter",
            "Inbound SMS received since start.",
            |c| c.inbound,
        ),
        (
            "smsgate_connector_in_flight",
            "gauge",
            "Submits waiting for the network's answer.",
            |c| c.in_flight,
        ),
    ];
    for (name, kind, help, get) in counters {
        out.family(name, kind, help);
        for c in &infos {
            out.sample(name, &[("connector", &c.name), ("kind", &c.kind)], get(c));
        }
    }
    out.family(
        "smsgate_connector_detail",
        "gauge",
        "Numeric details a connector reports (modem signal_dbm, SMPP session counters, ...).",
    );
    for c in &infos {
        let mut leaves = Vec::new();
        numeric_leaves(&c.details, String::new(), &mut leaves);
        for (key, v) in leaves {
            out.sample_f64(
                "smsgate_connector_detail",
                &[("connector", &c.name), ("kind", &c.kind), ("name", &key)],
                v,
            );
        }
    }

    channels(&mut out, &state);

    if let Some(server) = state.smpp_sessions.as_ref() {
        let mut by_key: std::collections::BTreeMap<(String, String, bool), u64> =
            std::collections::BTreeMap::new();
        for s in server.sessions() {
            *by_key.entry((s.system_id, s.bind, s.tls)).or_default() += 1;
        }
        out.family(
            "smsgate_smpp_server_sessions",
            "gauge",
            "Client sessions bound to the SMPP server, per account, bind type and TLS.",
        );
        for ((system_id, bind, tls), n) in &by_key {
            let tls = if *tls { "true" } else { "false" };
            out.sample(
                "smsgate_smpp_server_sessions",
                &[("system_id", system_id), ("bind", bind), ("tls", tls)],
                *n,
            );
        }
    }

    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out.0,
    )
        .into_response()
}

/// The northbound channels' links (`smsgate_channel_up`) and what they moved
/// (`smsgate_channel_messages_total` by `kind`: `received`, `refused`, `published`, …).
fn channels(out: &mut Metrics, state: &AppState) {
    if state.channels.is_empty() {
        return;
    }
    let statuses: Vec<_> = state.channels.iter().map(|c| c.status()).collect();
    out.family(
        "smsgate_channel_up",
        "gauge",
        "1 when the channel's link (MQTT broker, ...) is connected or its listener (SMTP) listens.",
    );
    for s in &statuses {
        // A listener (SMTP) is up while it listens; a bridge (MQTT) while connected.
        let up = u64::from(matches!(s.state.as_str(), "connected" | "listening"));
        out.sample("smsgate_channel_up", &[("channel", &s.name)], up);
    }
    out.family(
        "smsgate_channel_messages_total",
        "counter",
        "What a channel moved since start, by kind (received, refused, published, ...).",
    );
    for s in &statuses {
        for (kind, n) in &s.counters {
            out.sample(
                "smsgate_channel_messages_total",
                &[("channel", &s.name), ("kind", kind)],
                *n,
            );
        }
    }
}

/// Numbers (and booleans as 0/1) anywhere in a details object, keyed by their path joined
/// with `_` (`counters.resets` → `counters_resets`).
fn numeric_leaves(v: &Value, path: String, out: &mut Vec<(String, f64)>) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                out.push((path, f));
            }
        }
        Value::Bool(b) => out.push((path, if *b { 1.0 } else { 0.0 })),
        Value::Object(map) => {
            for (k, v) in map {
                let key = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}_{k}")
                };
                numeric_leaves(v, key, out);
            }
        }
        _ => {}
    }
}

/// A per-connector series: name, Prometheus type, help, and how to read it.
type Counter = (
    &'static str,
    &'static str,
    &'static str,
    fn(&smsgate_core::connector::ConnectorInfo) -> u64,
);

/// The text being rendered.
#[derive(Default)]
struct Metrics(String);

impl Metrics {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn labels(&mut self, name: &str, labels: &[(&str, &str)]) {
        self.0.push_str(name);
        if labels.is_empty() {
            return;
        }
        self.0.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            let _ = write!(self.0, "{k}=\"");
            for ch in v.chars() {
                match ch {
                    '\\' => self.0.push_str("\\\\"),
                    '"' => self.0.push_str("\\\""),
                    '\n' => self.0.push_str("\\n"),
                    c => self.0.push(c),
                }
            }
            self.0.push('"');
        }
        self.0.push('}');
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: u64) {
        self.labels(name, labels);
        let _ = writeln!(self.0, " {v}");
    }

    fn sample_f64(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        self.labels(name, labels);
        let _ = writeln!(self.0, " {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_are_escaped_and_details_flattened() {
        let mut m = Metrics::default();
        m.sample("x", &[("a", "q\"uo\\te\nnl")], 3);
        assert_eq!(m.0, "x{a=\"q\\\"uo\\\\te\\nnl\"} 3\n");
        let mut leaves = Vec::new();
        numeric_leaves(
            &json!({"signal_dbm": -73, "counters": {"resets": 2, "ok": true}, "imei": "35"}),
            String::new(),
            &mut leaves,
        );
        leaves.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            leaves,
            vec![
                ("counters_ok".to_owned(), 1.0),
                ("counters_resets".to_owned(), 2.0),
                ("signal_dbm".to_owned(), -73.0)
            ]
        );
    }
}
