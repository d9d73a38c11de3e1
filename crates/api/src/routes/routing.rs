//! `/v1/routes`: the route table in force and, for a number, which connectors would take it
//! and why — the API behind `smsgate route`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use smsgate_core::number::Msisdn;
use smsgate_core::routing::{Route, RouteQuery};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::QueryParams;

/// Optional question of `GET /v1/routes`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RouteParams {
    /// A destination to explain (any format `POST /v1/messages` accepts).
    pub to: Option<String>,
    /// Sender id the message would carry.
    pub from: Option<String>,
    /// API key id it would be sent with (default: the caller's).
    pub api_key: Option<String>,
}

/// Which route a number takes.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouteMatch {
    /// The destination in E.164.
    pub to: String,
    /// Index of the chosen route in `routes` (absent: none configured, or none matches).
    pub route: Option<usize>,
    /// Connectors in the order they would be tried (a balanced route draws anew each time).
    pub connectors: Vec<String>,
    /// Why, in words.
    pub reason: String,
}

/// The route table and, with `?to=`, the route one number would take.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoutesView {
    /// `[[routes]]` as configured (reloaded on SIGHUP).
    #[schema(value_type = Vec<Object>)]
    pub routes: Vec<Route>,
    /// The answer for `?to=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#match: Option<RouteMatch>,
}

/// The route table in force; `?to=+49…` explains which connectors would carry that number.
#[utoipa::path(get, path = "/v1/routes", tag = "system", params(RouteParams),
    responses((status = 200, body = RoutesView), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_routes(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    QueryParams(q): QueryParams<RouteParams>,
) -> ApiResult<Json<RoutesView>> {
    let router = state.router.current();
    let r#match = match &q.to {
        None => None,
        Some(raw) => {
            let to = Msisdn::parse(raw)
                .map_err(|e| ApiError::bad_request("invalid_number", format!("to: {e}")))?;
            let api_key = q.api_key.clone().unwrap_or_else(|| caller.0.id.clone());
            let choice = router.choose(RouteQuery {
                to: to.as_str(),
                from: q.from.as_deref(),
                api_key: Some(api_key.as_str()),
            });
            Some(RouteMatch {
                to: to.as_str().to_owned(),
                route: choice.route,
                connectors: choice
                    .connectors
                    .iter()
                    .map(|c| c.name().to_owned())
                    .collect(),
                reason: choice.reason,
            })
        }
    };
    Ok(Json(RoutesView {
        routes: router.routes().to_vec(),
        r#match,
    }))
}
