//! `/v1/inbound-rules`: keyword routing of inbound SMS managed at run time (Kannel's
//! sms-service, without a restart). A rule is what a `[[inbound_rules]]` entry is, checked
//! the same way; stored rules are tried after the config's, oldest first, by the compliance
//! loop, which re-reads them for every page of inbound SMS (so a rule made on any node applies
//! to the next SMS). A tenant's rule matches only its own inbound SMS, its replies and
//! forwards are sent as the tenant, and its webhook is held to the tenant's network policy.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use smsgate_core::inbound_rules::{InboundRule, InboundRuleConfig, StoredInboundRule};
use smsgate_core::keys::random_id;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::JsonBody;

/// Stored rules one tenant may have: each is tried on every inbound SMS.
pub const MAX_INBOUND_RULES_PER_TENANT: usize = 50;

/// A rule as the API shows it: never its webhook secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboundRuleView {
    /// `ir_…` for a stored rule, `config:N` for the N-th `[[inbound_rules]]` entry.
    pub id: String,
    /// `api` (deletable here) or `config` (edit the config file).
    pub source: &'static str,
    /// The tenant that made it; absent for an admin's rule and the config's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// RFC 3339; absent for the config's rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// What it matches and does (without `webhook_secret`).
    pub rule: InboundRuleConfig,
}

fn without_secret(mut rule: InboundRuleConfig) -> InboundRuleConfig {
    rule.webhook_secret = None;
    rule
}

impl InboundRuleView {
    fn stored(r: &StoredInboundRule) -> Self {
        Self {
            id: r.id.clone(),
            source: "api",
            owner: r.owner.clone(),
            created_at: Some(smsgate_core::clock::rfc3339(r.created_at)),
            rule: without_secret(r.rule.clone()),
        }
    }
}

/// Add a rule. A tenant key's rule is its tenant's (`tenant` may only name it); an admin's
/// applies to the tenant it names, or to every tenant. Replies and forwards need the
/// `messages:send` scope as well, since the rule sends SMS in the caller's name.
#[utoipa::path(post, path = "/v1/inbound-rules", tag = "compliance",
    request_body = InboundRuleConfig,
    responses((status = 201, body = InboundRuleView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_inbound_rule(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(mut rule): JsonBody<InboundRuleConfig>,
) -> ApiResult<impl IntoResponse> {
    caller.require("webhooks")?;
    if rule.reply.is_some() || rule.forward.is_some() {
        caller.require("messages:send")?;
    }
    let owner = caller.tenant_filter();
    if let Some(t) = &owner {
        match &rule.tenant {
            Some(asked) if asked != t => {
                return Err(ApiError::forbidden(format!(
                    "this key belongs to tenant '{t}', not '{asked}'"
                )));
            }
            _ => rule.tenant = Some(t.clone()),
        }
    }
    let stored = StoredInboundRule {
        id: random_id("ir_", 8),
        owner: owner.clone(),
        rule,
        created_at: state.clock.now_ms(),
    };
    InboundRule::stored(&stored).map_err(|m| ApiError::bad_request("invalid_rule", m))?;
    if let Some(url) = &stored.rule.webhook {
        crate::routes::check_tenant_url(&state, owner.as_deref(), url).await?;
    }
    if let Some(t) = &owner {
        let count = state.store.list_inbound_rules(Some(t)).await?.len();
        if count >= MAX_INBOUND_RULES_PER_TENANT {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "too_many_rules",
                format!(
                    "tenant '{t}' has {count} inbound rules, the limit is \
                     {MAX_INBOUND_RULES_PER_TENANT}; delete one first"
                ),
            ));
        }
    }
    state.store.create_inbound_rule(stored.clone()).await?;
    let view = InboundRuleView::stored(&stored);
    crate::routes::audit(
        &state,
        &caller,
        "inbound_rule.create",
        &stored.id,
        serde_json::to_value(&view.rule).unwrap_or_default(),
    )
    .await;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The rules in the order they are tried: for an admin key the config's first, then every
/// stored one; for a tenant key the ones it made.
#[utoipa::path(get, path = "/v1/inbound-rules", tag = "compliance",
    responses((status = 200, body = Vec<InboundRuleView>)), security(("bearer" = [])))]
pub async fn list_inbound_rules(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Json<Vec<InboundRuleView>>> {
    caller.require("webhooks")?;
    let owner = caller.tenant_filter();
    let mut out: Vec<InboundRuleView> = Vec::new();
    if owner.is_none() {
        out.extend(
            state
                .inbound_rules
                .iter()
                .enumerate()
                .map(|(i, r)| InboundRuleView {
                    id: format!("config:{}", i + 1),
                    source: "config",
                    owner: None,
                    created_at: None,
                    rule: without_secret(r.clone()),
                }),
        );
    }
    let stored = state.store.list_inbound_rules(owner.as_deref()).await?;
    out.extend(stored.iter().map(InboundRuleView::stored));
    Ok(Json(out))
}

/// One stored rule.
#[utoipa::path(get, path = "/v1/inbound-rules/{id}", tag = "compliance",
    params(("id" = String, Path, description = "Rule id (ir_…)")),
    responses((status = 200, body = InboundRuleView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_inbound_rule(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<InboundRuleView>> {
    caller.require("webhooks")?;
    let owner = caller.tenant_filter();
    state
        .store
        .list_inbound_rules(owner.as_deref())
        .await?
        .iter()
        .find(|r| r.id == id)
        .map(|r| Json(InboundRuleView::stored(r)))
        .ok_or_else(|| ApiError::not_found("inbound rule"))
}

/// Remove a stored rule (the config's are edited in the config file).
#[utoipa::path(delete, path = "/v1/inbound-rules/{id}", tag = "compliance",
    params(("id" = String, Path, description = "Rule id (ir_…)")),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete_inbound_rule(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require("webhooks")?;
    if id.starts_with("config:") {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "config_rule",
            format!("{id} comes from [[inbound_rules]] in the config file; remove it there"),
        ));
    }
    let owner = caller.tenant_filter();
    if state
        .store
        .delete_inbound_rule(&id, owner.as_deref())
        .await?
    {
        crate::routes::audit(
            &state,
            &caller,
            "inbound_rule.delete",
            &id,
            serde_json::Value::Null,
        )
        .await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("inbound rule"))
    }
}
