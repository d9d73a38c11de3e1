//! `/v1/keys`, `/v1/tenants`, `/v1/audit`: what an admin key manages. Every change is written
//! to the audit log; a key's secret is shown once, in the answer that creates it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use smsgate_core::keys::{generate, parse_scopes, valid_tenant_id};
use smsgate_core::store::{ApiKey, AuditEntry, Tenant};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{JsonBody, QueryParams};

/// A key as listed (never its secret).
#[derive(Serialize, ToSchema)]
pub struct KeyView {
    /// `key_…`.
    pub id: String,
    /// What it is for.
    pub name: String,
    /// The first characters of the secret.
    pub prefix: String,
    /// Its tenant.
    pub tenant: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// Requests per second, when limited.
    pub rate_limit: Option<f64>,
    /// Admin keys see every tenant.
    pub admin: bool,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, when revoked.
    pub revoked_at: Option<String>,
    /// Its Account SID for the Twilio-compatible API (`/2010-04-01/Accounts/{AccountSid}/…`,
    /// HTTP Basic with this SID and the secret).
    pub account_sid: String,
    /// The secret: only in the answer that creates the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<&ApiKey> for KeyView {
    fn from(k: &ApiKey) -> Self {
        let scopes = if k.admin {
            vec!["admin".to_owned()]
        } else {
            k.scopes.clone()
        };
        Self {
            id: k.id.clone(),
            account_sid: smsgate_core::twilio::account_sid(&k.id),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            tenant: k.tenant.clone(),
            scopes,
            rate_limit: k.rate_limit,
            admin: k.admin,
            created_at: smsgate_core::clock::rfc3339(k.created_at),
            revoked_at: k.revoked_at.map(smsgate_core::clock::rfc3339),
            secret: None,
        }
    }
}

/// `POST /v1/keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// What it is for.
    pub name: String,
    /// Its tenant (created bare when new). Default `default`.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Scopes (`messages:send`, `messages:read`, `inbound:read`, `webhooks`, `iot`, `admin`).
    /// Default: all but `admin`.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Requests per second; default unlimited.
    #[serde(default)]
    pub rate_limit: Option<f64>,
}

/// Checks and builds a key from what a user asked for (shared with the CLI).
pub fn new_key(
    name: &str,
    tenant: Option<&str>,
    scopes: Option<&[String]>,
    rate_limit: Option<f64>,
    now: i64,
) -> Result<(ApiKey, String), ApiError> {
    let tenant = tenant.unwrap_or(smsgate_core::store::DEFAULT_TENANT);
    if !valid_tenant_id(tenant) {
        return Err(ApiError::bad_request(
            "invalid_tenant",
            format!("tenant '{tenant}': use 1 to 64 characters of a-z, 0-9, '_' and '-'"),
        ));
    }
    let scopes = match scopes {
        Some(list) => parse_scopes(list).map_err(|m| ApiError::bad_request("invalid_scope", m))?,
        None => smsgate_core::keys::default_scopes(),
    };
    if scopes.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_scope",
            "a key needs at least one scope",
        ));
    }
    if let Some(r) = rate_limit
        && !(r.is_finite() && r > 0.0)
    {
        return Err(ApiError::bad_request(
            "invalid_rate_limit",
            "rate_limit must be a positive number of requests per second",
        ));
    }
    let admin = scopes.iter().any(|s| s == "admin");
    let g = generate();
    let key = ApiKey {
        id: g.id,
        name: name.to_owned(),
        prefix: g.prefix,
        admin,
        tenant: tenant.to_owned(),
        scopes,
        rate_limit,
        created_at: now,
        revoked_at: None,
        secret_hash: g.hash,
    };
    Ok((key, g.secret))
}

/// Every key, revoked ones included.
#[utoipa::path(get, path = "/v1/keys", tag = "admin",
    responses((status = 200, body = Vec<KeyView>), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_keys(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Json<Vec<KeyView>>> {
    caller.require_admin()?;
    let keys = state.store.list_api_keys().await?;
    Ok(Json(keys.iter().map(KeyView::from).collect()))
}

/// Create a key; its secret is in this answer only.
#[utoipa::path(post, path = "/v1/keys", tag = "admin", request_body = CreateKey,
    responses((status = 201, body = KeyView), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_key(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateKey>,
) -> ApiResult<impl IntoResponse> {
    caller.require_admin()?;
    let (key, secret) = new_key(
        &body.name,
        body.tenant.as_deref(),
        body.scopes.as_deref(),
        body.rate_limit,
        state.clock.now_ms(),
    )?;
    state.store.create_api_key(key.clone()).await?;
    state.tenants.invalidate();
    crate::routes::audit(
        &state,
        &caller,
        "key.create",
        &key.id,
        serde_json::json!({"tenant": key.tenant, "scopes": key.scopes, "name": key.name}),
    )
    .await;
    let mut view = KeyView::from(&key);
    view.secret = Some(secret);
    Ok((StatusCode::CREATED, Json(view)))
}

/// Revoke a key (by id or prefix): it stops working within two seconds, and its webhooks are
/// deleted with their waiting retries.
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_key(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require_admin()?;
    if state
        .store
        .revoke_api_key(&id, state.clock.now_ms())
        .await?
    {
        crate::routes::audit(&state, &caller, "key.revoke", &id, serde_json::Value::Null).await;
        state.signals.events.notify_one();
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("key"))
    }
}

/// Every tenant.
#[utoipa::path(get, path = "/v1/tenants", tag = "admin",
    responses((status = 200, body = Vec<serde_json::Value>), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_tenants(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Json<Vec<Tenant>>> {
    caller.require_admin()?;
    Ok(Json(state.store.list_tenants().await?))
}

/// Checks a tenant as a user wrote it.
pub fn check_tenant(t: &Tenant) -> Result<(), ApiError> {
    if !valid_tenant_id(&t.id) {
        return Err(ApiError::bad_request(
            "invalid_tenant",
            format!(
                "tenant '{}': use 1 to 64 characters of a-z, 0-9, '_' and '-'",
                t.id
            ),
        ));
    }
    smsgate_core::outbound::parse_networks(&t.allow_networks)
        .map_err(|m| ApiError::bad_request("invalid_network", m))?;
    for p in &t.inbound {
        let digits = p.trim_start_matches('+').trim_end_matches('*');
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::bad_request(
                "invalid_inbound",
                format!("inbound '{p}': write a number or a prefix with '*', e.g. +4930*"),
            ));
        }
    }
    if let Some(q) = &t.quiet_hours {
        smsgate_core::quiet::Window::parse(q)
            .map_err(|m| ApiError::bad_request("invalid_quiet_hours", m))?;
    }
    if t.queue_quota == Some(0) {
        return Err(ApiError::bad_request(
            "invalid_quota",
            "queue_quota must be at least 1 (leave it out for no quota)",
        ));
    }
    Ok(())
}

/// Create or replace a tenant: its sender ids, queue quota, inbound numbers and the internal
/// networks its webhooks may reach.
#[utoipa::path(put, path = "/v1/tenants/{id}", tag = "admin", params(("id" = String, Path)),
    request_body = serde_json::Value,
    responses((status = 200, body = serde_json::Value), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_tenant(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> ApiResult<Json<Tenant>> {
    caller.require_admin()?;
    let mut t: Tenant = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    if !t.id.is_empty() && t.id != id {
        return Err(ApiError::bad_request(
            "id_mismatch",
            format!("the body's id '{}' differs from the path's '{id}'", t.id),
        ));
    }
    t.id = id;
    if t.name.trim().is_empty() {
        t.name = t.id.clone();
    }
    check_tenant(&t)?;
    let existing = state
        .store
        .list_tenants()
        .await?
        .into_iter()
        .find(|x| x.id == t.id);
    t.created_at = existing.map_or(state.clock.now_ms(), |x| x.created_at);
    state.store.put_tenant(t.clone()).await?;
    state.tenants.invalidate();
    let all = state.store.list_tenants().await?;
    state.intake.apply_tenants(&all);
    crate::routes::audit(
        &state,
        &caller,
        "tenant.put",
        &t.id,
        serde_json::to_value(&t).unwrap_or_default(),
    )
    .await;
    Ok(Json(t))
}

/// Paging of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<u32>,
}

/// An audit entry as shown.
#[derive(Serialize, ToSchema)]
pub struct AuditView {
    /// Position.
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    /// The acting key.
    pub key_id: Option<String>,
    /// Its tenant.
    pub tenant: Option<String>,
    /// `key.create`, `tenant.put`, `webhook.create`, `rule.put`, …
    pub action: String,
    /// The object acted on.
    pub target: String,
    /// Details.
    pub detail: Option<serde_json::Value>,
}

impl From<&AuditEntry> for AuditView {
    fn from(e: &AuditEntry) -> Self {
        Self {
            id: e.id,
            at: smsgate_core::clock::rfc3339(e.at),
            key_id: e.key_id.clone(),
            tenant: e.tenant.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            detail: e.detail.clone(),
        }
    }
}

/// The audit log, newest first: who created or revoked keys, changed tenants, webhooks and
/// the IoT registry.
#[utoipa::path(get, path = "/v1/audit", tag = "admin", params(AuditParams),
    responses((status = 200, body = serde_json::Value), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_audit(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    QueryParams(p): QueryParams<AuditParams>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require_admin()?;
    let limit = p.limit.unwrap_or(100).clamp(1, 500);
    let rows = state.store.list_audit(p.cursor, limit).await?;
    let next = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|e| e.id))
        .flatten();
    let data: Vec<AuditView> = rows.iter().map(AuditView::from).collect();
    Ok(Json(serde_json::json!({"data": data, "next_cursor": next})))
}
