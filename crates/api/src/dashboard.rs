//! The web dashboard: one self-contained page that polls the REST API with the key the user
//! pastes (kept in the browser's localStorage), showing the queue, connectors, routes, the
//! SMPP server's bound clients, IoT devices and open alerts, recent messages and inbound SMS
//! live.

use axum::response::Html;

/// `GET /`.
pub async fn page() -> Html<&'static str> {
    Html(include_str!("../assets/dashboard.html"))
}
