//! `/v1/numbers/{e164}`: what the gateway holds about one phone number, and its erasure (GDPR
//! articles 15 and 17). A tenant key sees and erases its tenant's data; an admin key all.
//! Erasure blanks the texts of messages to and inbound SMS from the number; the opt-out, if
//! any, stays so the number is not messaged again.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use smsgate_core::store::{InboundQuery, MessageQuery};

use crate::AppState;
use crate::auth::Caller;
use crate::dto::{InboundView, MessageView};
use crate::error::{ApiResult, ErrorBody};

use crate::routes::e164 as number;

/// Everything held about a number: messages to it, inbound SMS from it, its opt-outs (at most
/// 10,000 of each, newest first).
#[utoipa::path(get, path = "/v1/numbers/{number}/export", tag = "compliance",
    params(("number" = String, Path)),
    responses((status = 200, body = serde_json::Value), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn export_number(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(n): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require("messages:read")?;
    caller.require("inbound:read")?;
    let number = number(&n)?;
    let tenant = caller.tenant_filter();
    let mut messages = Vec::new();
    let mut before = None;
    while messages.len() < 10_000 {
        let page = state
            .store
            .list_messages(&MessageQuery {
                tenant: tenant.clone(),
                to: Some(number.clone()),
                before,
                limit: 500,
                ..MessageQuery::default()
            })
            .await?;
        before = page.last().map(|m| m.id);
        let full = page.len() == 500;
        messages.extend(page.iter().map(|m| MessageView::new(m, None)));
        if !full {
            break;
        }
    }
    let inbound = state
        .store
        .list_inbound(&InboundQuery {
            tenant: tenant.clone(),
            from: Some(number.clone()),
            limit: 10_000,
            ..InboundQuery::default()
        })
        .await?;
    let optouts: Vec<_> = state
        .store
        .list_optouts(tenant.as_deref())
        .await?
        .into_iter()
        .filter(|o| o.number == number)
        .collect();
    let consents: Vec<_> = state
        .store
        .list_consents(tenant.as_deref())
        .await?
        .into_iter()
        .filter(|o| o.number == number)
        .collect();
    Ok(Json(json!({
        "number": number,
        "consents": consents,
        "messages": messages,
        "inbound": inbound.iter().map(InboundView::from).collect::<Vec<_>>(),
        "optouts": optouts,
    })))
}

/// Erase a number's texts and consent records: messages to it and inbound SMS from it keep
/// their status and times, their texts are blanked; its opt-outs are kept under the number's
/// SHA-256 (`sha256:…`), so it is still never messaged again.
#[utoipa::path(delete, path = "/v1/numbers/{number}", tag = "compliance",
    params(("number" = String, Path)),
    responses((status = 200, body = serde_json::Value), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn erase_number(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(n): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require("messages:send")?;
    let number = number(&n)?;
    let tenant = caller.tenant_filter();
    let erased = state.store.erase_number(tenant.as_deref(), &number).await?;
    state
        .intake
        .consents()
        .forget_number(tenant.as_deref(), &number);
    // Its opt-outs are now kept under the number's hash.
    let optouts = state.store.list_optouts(None).await?;
    state.intake.optouts().replace_all(&optouts);
    crate::routes::audit(
        &state,
        &caller,
        "number.erase",
        &number,
        json!({"erased": erased}),
    )
    .await;
    Ok(Json(json!({"number": number, "erased": erased})))
}
