//! `/v1/webhooks`: event subscriptions, kept with the list of event names they may match so a
//! typo is refused at subscription time rather than silently never firing.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use smsgate_core::intake::{check_url, parse_statuses};
use smsgate_core::keys::random_id;
use smsgate_core::store::Webhook;
use smsgate_core::webhook::pattern_matches;

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{CreateWebhook, WebhookView};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::JsonBody;

/// Events a subscription may name.
const KNOWN_EVENTS: &[&str] = &[
    "message.status",
    "message.inbound",
    "alert.raised",
    "alert.acknowledged",
    "alert.escalated",
    "alert.resolved",
    "command.pending",
    "command.sent",
    "command.acknowledged",
    "command.failed",
    "command.timed_out",
    "device.telemetry",
    "optout.created",
    "optout.removed",
];

fn check_pattern(p: &str) -> Result<(), ApiError> {
    let ok = p == "*"
        || KNOWN_EVENTS.contains(&p)
        || p.strip_suffix('*')
            .is_some_and(|pre| KNOWN_EVENTS.iter().any(|e| e.starts_with(pre)));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_event",
            format!(
                "unknown event '{p}'; known: {}, or a prefix with '*'",
                KNOWN_EVENTS.join(", ")
            ),
        ))
    }
}

/// Subscriptions one tenant may have: each one costs a POST per event, so a runaway script
/// must not multiply the gateway's work.
pub const MAX_WEBHOOKS_PER_TENANT: usize = 25;

/// Subscribe a URL to events. The secret is returned only here.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, body = WebhookView), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_webhook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateWebhook>,
) -> ApiResult<impl IntoResponse> {
    caller.require("webhooks")?;
    check_url(&body.url).map_err(|m| ApiError::bad_request("invalid_url", m))?;
    let tenant = caller.tenant_filter();
    crate::routes::check_tenant_url(&state, tenant.as_deref(), &body.url).await?;
    if let Some(t) = &tenant {
        let count = state.store.list_webhooks(Some(t)).await?.len();
        if count >= MAX_WEBHOOKS_PER_TENANT {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "too_many_webhooks",
                format!(
                    "tenant '{t}' has {count} webhooks, the limit is {MAX_WEBHOOKS_PER_TENANT}; \
                     delete one first (one subscription can take several events)"
                ),
            ));
        }
    }
    if body.events.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_event",
            "events is empty: name at least one",
        ));
    }
    for p in &body.events {
        check_pattern(p)?;
    }
    let statuses = parse_statuses(body.statuses.as_deref().unwrap_or_default())
        .map_err(|m| ApiError::bad_request("invalid_statuses", m))?;
    if !statuses.is_empty()
        && !body
            .events
            .iter()
            .any(|p| pattern_matches(p, "message.status"))
    {
        return Err(ApiError::bad_request(
            "invalid_statuses",
            "statuses filters message.status events, which events does not include",
        ));
    }
    if let Some(s) = &body.secret
        && s.len() < 16
    {
        return Err(ApiError::bad_request(
            "weak_secret",
            "a webhook secret needs at least 16 characters",
        ));
    }
    let secret = body.secret.unwrap_or_else(|| random_id("whsec_", 24));
    let hook = Webhook {
        id: random_id("wh_", 8),
        api_key_id: Some(caller.0.id.clone()),
        tenant,
        url: body.url,
        events: body.events,
        statuses,
        secret: secret.clone(),
        created_at: state.clock.now_ms(),
    };
    state.store.create_webhook(hook.clone()).await?;
    crate::routes::audit(
        &state,
        &caller,
        "webhook.create",
        &hook.id,
        serde_json::json!({"url": hook.url, "events": hook.events}),
    )
    .await;
    let mut view = WebhookView::new(&hook);
    view.secret = Some(secret);
    Ok((StatusCode::CREATED, Json(view)))
}

/// The caller's subscriptions (all of them for an admin key).
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = Vec<WebhookView>)), security(("bearer" = [])))]
pub async fn list_webhooks(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Json<Vec<WebhookView>>> {
    caller.require("webhooks")?;
    let scope = caller.tenant_filter();
    let hooks = state.store.list_webhooks(scope.as_deref()).await?;
    Ok(Json(hooks.iter().map(WebhookView::new).collect()))
}

/// Remove a subscription.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_webhook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require("webhooks")?;
    let scope = caller.tenant_filter();
    if state.store.delete_webhook(&id, scope.as_deref()).await? {
        crate::routes::audit(
            &state,
            &caller,
            "webhook.delete",
            &id,
            serde_json::Value::Null,
        )
        .await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook"))
    }
}
