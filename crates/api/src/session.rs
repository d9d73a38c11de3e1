//! Dashboard sign-in: an API key is exchanged once (`POST /v1/session`) for an HttpOnly,
//! SameSite=Strict cookie, so the page never holds the key (no localStorage, nothing a script
//! injected into the page could read). State-changing requests made with the cookie must also
//! carry the session's CSRF token in `X-CSRF-Token`.
//!
//! The cookie is stateless and works on every node of a cluster and across restarts:
//! `v1.<key id>.<expiry>.<HMAC-SHA256 of them keyed with the key's stored hash>`. Revoking the
//! key ends its sessions at once; nothing is kept in memory. The CSRF token is another HMAC of
//! the same fields, so it is bound to the session and never stored either.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use smsgate_core::store::ApiKey;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;

/// The cookie's name.
pub const COOKIE: &str = "smsgate_session";
/// The header state-changing cookie requests carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts.
const LIFETIME_S: i64 = 12 * 3600;

fn mac(key: &ApiKey, what: &str, exp: i64) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key.secret_hash.as_bytes()).expect("any length");
    m.update(format!("{what}|{}|{exp}", key.id).as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// The cookie value for `key` until `exp` (Unix seconds).
fn cookie_value(key: &ApiKey, exp: i64) -> String {
    format!("v1.{}.{exp}.{}", key.id, mac(key, "session", exp))
}

/// The CSRF token of a session.
fn csrf(key: &ApiKey, exp: i64) -> String {
    mac(key, "csrf", exp)[..32].to_owned()
}

/// A session cookie as found in a request: key id and expiry, not yet verified.
pub struct Presented<'a> {
    key_id: &'a str,
    exp: i64,
    sig: &'a str,
}

/// The session cookie of a request, if it has one.
pub fn presented(headers: &HeaderMap) -> Option<Presented<'_>> {
    let cookies = headers.get_all(header::COOKIE);
    for h in cookies {
        let Ok(h) = h.to_str() else { continue };
        for c in h.split(';') {
            let Some(v) = c
                .trim()
                .strip_prefix(COOKIE)
                .and_then(|r| r.strip_prefix('='))
            else {
                continue;
            };
            let mut parts = v.splitn(4, '.');
            if parts.next() != Some("v1") {
                continue;
            }
            let (Some(key_id), Some(exp), Some(sig)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(exp) = exp.parse() else { continue };
            return Some(Presented { key_id, exp, sig });
        }
    }
    None
}

/// The key of a presented session, when the cookie is genuine, unexpired and its key is not
/// revoked; for a state-changing `method`, the CSRF token must be in the headers too.
pub async fn verify(
    state: &AppState,
    p: &Presented<'_>,
    method: &axum::http::Method,
    headers: &HeaderMap,
) -> Result<ApiKey, ApiError> {
    let now = state.clock.now_ms() / 1000;
    if p.exp <= now {
        return Err(ApiError::unauthorized(
            "the dashboard session has expired; sign in again",
        ));
    }
    let keys = state.store.list_api_keys().await?;
    let Some(key) = keys
        .into_iter()
        .find(|k| k.id == p.key_id && k.revoked_at.is_none())
    else {
        return Err(ApiError::unauthorized(
            "the session's key is unknown or revoked",
        ));
    };
    let want = mac(&key, "session", p.exp);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        want.as_bytes(),
        p.sig.as_bytes(),
    )) {
        tracing::info!(key = %key.id, "request with a forged session cookie");
        return Err(ApiError::unauthorized("the session cookie is not valid"));
    }
    if !matches!(
        *method,
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    ) {
        let given = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let want = csrf(&key, p.exp);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            want.as_bytes(),
            given.as_bytes(),
        )) {
            return Err(ApiError::forbidden(
                "a request made with the session cookie needs its X-CSRF-Token header",
            ));
        }
    }
    Ok(key)
}

/// `POST /v1/session` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// An API key (`sk_…`).
    pub key: String,
}

fn view(key: &ApiKey, exp: i64) -> serde_json::Value {
    serde_json::json!({
        "key": {"id": key.id, "name": key.name, "tenant": key.tenant, "admin": key.admin,
                "scopes": key.scopes},
        "csrf": csrf(key, exp),
        "expires_at": smsgate_core::clock::rfc3339(exp * 1000),
    })
}

fn set_cookie(value: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .expect("cookie characters are ASCII")
}

/// Exchanges an API key for a session cookie; the key itself is not kept by the page.
#[utoipa::path(post, path = "/v1/session", tag = "system", request_body = SignIn,
    responses((status = 201, description = "Signed in: Set-Cookie, and the CSRF token", body = serde_json::Value),
        (status = 401, description = "Unknown or revoked key", body = crate::error::ErrorBody)))]
pub async fn sign_in(
    State(state): State<Arc<AppState>>,
    JsonBody(body): JsonBody<SignIn>,
) -> ApiResult<Response> {
    let key = crate::auth::verify(&state, body.key.trim()).await?;
    let exp = state.clock.now_ms() / 1000 + LIFETIME_S;
    tracing::info!(key = %key.id, "dashboard sign-in");
    let mut r = (StatusCode::CREATED, Json(view(&key, exp))).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(&cookie_value(&key, exp), LIFETIME_S),
    );
    Ok(r)
}

/// Who the session belongs to, and its CSRF token (the page reads it after a reload).
#[utoipa::path(get, path = "/v1/session", tag = "system",
    responses((status = 200, body = serde_json::Value),
        (status = 401, description = "No valid session", body = crate::error::ErrorBody)))]
pub async fn current(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    let p = presented(&headers).ok_or_else(|| ApiError::unauthorized("not signed in"))?;
    let key = verify(&state, &p, &axum::http::Method::GET, &headers).await?;
    Ok(Json(view(&key, p.exp)))
}

/// Signs out: the cookie is cleared.
#[utoipa::path(delete, path = "/v1/session", tag = "system",
    responses((status = 204, description = "Signed out")))]
pub async fn sign_out() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, set_cookie("", 0));
    r
}
