//! `/v1/optouts`: the recipients a tenant must not send to; `/v1/consents`: the recipients
//! who opted in, which a tenant with `require_consent` may only send to. Entries come from inbound STOPs
//! (the compliance loop) and from here; a send to one is refused with 422 `opted_out`.
//! Changes are committed with their `optout.created` / `optout.removed` events and applied to
//! the intake at once.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use smsgate_core::store::{OptOut, OptOutChanges};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{JsonBody, QueryParams};

/// `POST /v1/optouts`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOptOut {
    /// The recipient (E.164).
    pub number: String,
    /// Only messages from this number or sender id; default: every message of the tenant.
    #[serde(default)]
    pub sender: Option<String>,
    /// The tenant (admin keys only; default the key's own).
    #[serde(default)]
    pub tenant: Option<String>,
}

/// Which opt-out `DELETE` removes.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OptOutParams {
    /// The sender it was for (default: the tenant-wide entry).
    pub sender: Option<String>,
    /// The tenant (admin keys only).
    pub tenant: Option<String>,
}

use crate::routes::e164 as number;

fn tenant_for(caller: &Caller, asked: Option<String>) -> ApiResult<String> {
    match asked {
        Some(t) if caller.0.admin => Ok(t),
        Some(t) if t != caller.tenant() => Err(ApiError::forbidden(format!(
            "this key belongs to tenant '{}', not '{t}'",
            caller.tenant()
        ))),
        _ => Ok(caller.tenant().to_owned()),
    }
}

/// The caller's tenant's opt-outs (every tenant's for an admin key).
#[utoipa::path(get, path = "/v1/optouts", tag = "compliance",
    responses((status = 200, body = serde_json::Value), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_optouts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Json<Vec<OptOut>>> {
    caller.require("messages:read")?;
    let scope = caller.tenant_filter();
    Ok(Json(state.store.list_optouts(scope.as_deref()).await?))
}

/// Opt a recipient out: sends to it are refused with 422 `opted_out`.
#[utoipa::path(post, path = "/v1/optouts", tag = "compliance", request_body = CreateOptOut,
    responses((status = 201, body = serde_json::Value), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_optout(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateOptOut>,
) -> ApiResult<impl IntoResponse> {
    caller.require("messages:send")?;
    let o = OptOut {
        tenant: tenant_for(&caller, body.tenant)?,
        number: number(&body.number)?,
        sender: body.sender.unwrap_or_default(),
        source: "api".into(),
        created_at: state.clock.now_ms(),
    };
    let changes = OptOutChanges {
        added: vec![o.clone()],
        ..OptOutChanges::default()
    };
    state.store.record_optouts(changes, o.created_at).await?;
    state.intake.optouts().apply(std::slice::from_ref(&o), &[]);
    state.signals.events.notify_one();
    Ok((StatusCode::CREATED, Json(o)))
}

/// Opt a recipient back in.
#[utoipa::path(delete, path = "/v1/optouts/{number}", tag = "compliance",
    params(("number" = String, Path), OptOutParams),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_optout(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(n): Path<String>,
    QueryParams(p): QueryParams<OptOutParams>,
) -> ApiResult<StatusCode> {
    caller.require("messages:send")?;
    let o = OptOut {
        tenant: tenant_for(&caller, p.tenant)?,
        number: number(&n)?,
        sender: p.sender.unwrap_or_default(),
        source: "api".into(),
        created_at: 0,
    };
    // An erased number's opt-out is kept under its hash; the number opts it back in too.
    let hashed = OptOut {
        number: smsgate_core::compliance::hashed_number(&o.number),
        ..o.clone()
    };
    let changes = OptOutChanges {
        removed: vec![o.clone(), hashed.clone()],
        ..OptOutChanges::default()
    };
    let (_, removed) = state
        .store
        .record_optouts(changes, state.clock.now_ms())
        .await?;
    if removed == 0 {
        return Err(ApiError::not_found("opt-out"));
    }
    state.intake.optouts().apply(&[], &[o, hashed]);
    state.signals.events.notify_one();
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/consents`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConsent {
    /// The recipient (E.164).
    pub number: String,
    /// Where the consent was given (`web form`, `paper`, …); default `api`.
    #[serde(default)]
    pub source: Option<String>,
    /// The tenant (admin keys only; default the key's own).
    #[serde(default)]
    pub tenant: Option<String>,
}

/// The caller's tenant's consent records (every tenant's for an admin key).
#[utoipa::path(get, path = "/v1/consents", tag = "compliance",
    responses((status = 200, body = serde_json::Value), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_consents(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Json<Vec<OptOut>>> {
    caller.require("messages:read")?;
    let scope = caller.tenant_filter();
    Ok(Json(state.store.list_consents(scope.as_deref()).await?))
}

/// Record a recipient's consent (opt-in).
#[utoipa::path(post, path = "/v1/consents", tag = "compliance", request_body = CreateConsent,
    responses((status = 201, body = serde_json::Value), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_consent(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateConsent>,
) -> ApiResult<impl IntoResponse> {
    caller.require("messages:send")?;
    let o = OptOut {
        tenant: tenant_for(&caller, body.tenant)?,
        number: number(&body.number)?,
        sender: String::new(),
        source: body.source.unwrap_or_else(|| "api".into()),
        created_at: state.clock.now_ms(),
    };
    let changes = OptOutChanges {
        consents_added: vec![o.clone()],
        ..OptOutChanges::default()
    };
    state.store.record_optouts(changes, o.created_at).await?;
    state.intake.consents().apply(std::slice::from_ref(&o), &[]);
    Ok((StatusCode::CREATED, Json(o)))
}

/// Withdraw a recipient's consent.
#[utoipa::path(delete, path = "/v1/consents/{number}", tag = "compliance",
    params(("number" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_consent(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(n): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require("messages:send")?;
    let o = OptOut {
        tenant: caller.tenant().to_owned(),
        number: number(&n)?,
        sender: String::new(),
        source: "api".into(),
        created_at: 0,
    };
    let changes = OptOutChanges {
        consents_removed: vec![o.clone()],
        ..OptOutChanges::default()
    };
    state
        .store
        .record_optouts(changes, state.clock.now_ms())
        .await?;
    state.intake.consents().apply(&[], std::slice::from_ref(&o));
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's tenant's opt-outs as CSV: `tenant,number,sender,source,created_at`.
#[utoipa::path(get, path = "/v1/optouts/export", tag = "compliance",
    responses((status = 200, description = "text/csv"), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn export_optouts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    caller.require("messages:read")?;
    let scope = caller.tenant_filter();
    let mut csv = String::from("tenant,number,sender,source,created_at\n");
    for o in state.store.list_optouts(scope.as_deref()).await? {
        // Tenant ids, numbers and sources hold no comma; a sender id might.
        let sender = if o.sender.contains([',', '"']) {
            format!("\"{}\"", o.sender.replace('"', "\"\""))
        } else {
            o.sender.clone()
        };
        csv.push_str(&format!(
            "{},{},{},{},{}\n",
            o.tenant,
            o.number,
            sender,
            o.source,
            smsgate_core::clock::rfc3339(o.created_at)
        ));
    }
    Ok((
        [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        csv,
    ))
}

/// Imports opt-outs from CSV (`number[,sender]` per line, a header line allowed) into the
/// caller's tenant; a bad line is reported with its line number and the others are imported.
#[utoipa::path(post, path = "/v1/optouts/import", tag = "compliance",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = serde_json::Value), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn import_optouts(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: String,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require("messages:send")?;
    let now = state.clock.now_ms();
    let mut added = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in body.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (i == 0 && line.to_ascii_lowercase().starts_with("number")) {
            continue;
        }
        let mut fields = line.splitn(2, ',');
        let n = fields.next().unwrap_or("").trim();
        let sender = fields
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"')
            .to_owned();
        match number(n) {
            Ok(number) => added.push(OptOut {
                tenant: caller.tenant().to_owned(),
                number,
                sender,
                source: "import".into(),
                created_at: now,
            }),
            Err(e) => errors.push(serde_json::json!({"line": i + 1, "error": e.message})),
        }
    }
    if added.is_empty() && errors.is_empty() {
        return Err(ApiError::bad_request(
            "empty_import",
            "no line to import: send one number per line, optionally ',sender'",
        ));
    }
    let changes = OptOutChanges {
        added: added.clone(),
        ..OptOutChanges::default()
    };
    let (new, _) = state.store.record_optouts(changes, now).await?;
    state.intake.optouts().apply(&added, &[]);
    state.signals.events.notify_one();
    Ok(Json(serde_json::json!({
        "imported": new, "already": added.len() as u64 - new, "errors": errors
    })))
}
