//! `/v1/upstreams/{connector}/dlr`: delivery reports from HTTP providers (`type = "http"`
//! connectors). No API key: the provider has none; the connector checks what its provider
//! offers (a `token` in the URL it was given, Twilio's signature). The answer is 200 only once
//! the report is stored, so a provider that retries on errors loses none.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};

fn pairs(raw: &[u8]) -> BTreeMap<String, String> {
    form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A JSON object's leaves as `a.b` keys (strings as they are, other scalars as JSON).
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        serde_json::Value::Null | serde_json::Value::Array(_) => {}
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// A delivery report from an HTTP upstream provider.
#[utoipa::path(post, path = "/v1/upstreams/{connector}/dlr", tag = "system",
    params(("connector" = String, Path, description = "The http connector's name")),
    responses((status = 200, description = "Stored (or of no interest)"),
        (status = 400, description = "Refused: unreadable, bad token or signature", body = ErrorBody),
        (status = 404, description = "No http connector by that name", body = ErrorBody)))]
pub async fn dlr(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(reader) = state.connectors.get(&name).and_then(|c| c.http_dlr()) else {
        return ApiError::not_found("http connector").into_response();
    };
    let query = pairs(query.as_deref().unwrap_or("").as_bytes());
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut form = BTreeMap::new();
    if ctype.starts_with("application/json") {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) => flatten("", &v, &mut form),
            Err(e) => {
                return ApiError::bad_request("invalid_json", e.to_string()).into_response();
            }
        }
    } else if !body.is_empty() {
        form = pairs(&body);
    }
    let signature = headers
        .get(smsgate_core::twilio::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    match reader.report(&query, &form, signature).await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"ok": true}))).into_response(),
        Err(e) => {
            tracing::info!(connector = %name, error = %e, "upstream report refused");
            ApiError::bad_request("invalid_report", e).into_response()
        }
    }
}
