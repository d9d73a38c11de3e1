//! Bearer API keys: `Authorization: Bearer sk_…`, looked up by SHA-256, cached for two seconds
//! (so a revoked key stops working within two seconds, and a busy client costs no read per
//! request). A key belongs to a tenant and carries scopes; a key with a `rate_limit` is held to
//! it here (429 `rate_limited`), before any handler runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use smsgate_core::keys::hash_secret;
use smsgate_core::store::ApiKey;

use crate::AppState;
use crate::error::ApiError;

const CACHE_TTL: Duration = Duration::from_secs(2);

/// Recently verified keys by secret hash.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (ApiKey, Instant)>>,
}

impl KeyCache {
    fn get(&self, hash: &str) -> Option<ApiKey> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(hash)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(k, _)| k.clone())
    }

    fn put(&self, hash: String, key: ApiKey) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
        }
        map.insert(hash, (key, Instant::now()));
    }
}

/// Per-key token buckets for keys with a `rate_limit`: a burst of one second's worth, refilled
/// continuously.
#[derive(Default)]
pub struct RateLimits {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimits {
    /// Takes one token from the key's bucket; `false` when it is empty.
    fn take(&self, key: &str, rate: f64) -> bool {
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let burst = rate.max(1.0);
        let (tokens, at) = map.entry(key.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller(pub ApiKey);

impl Caller {
    /// The tenant to filter the caller's reads by; `None` for admins, who see every tenant.
    pub fn tenant_filter(&self) -> Option<String> {
        (!self.0.admin).then(|| self.0.tenant.clone())
    }

    /// The caller's tenant (what it creates belongs to).
    pub fn tenant(&self) -> &str {
        &self.0.tenant
    }

    /// Whether the caller may see an object of `tenant` (`None`: nobody's, admins only).
    pub fn may_see(&self, tenant: Option<&str>) -> bool {
        self.0.admin || tenant == Some(self.0.tenant.as_str())
    }

    /// Whether the caller may see an IoT object whose `owner` names its tenant (none:
    /// `default`).
    pub fn sees(&self, owner: Option<&String>) -> bool {
        self.may_see(Some(smsgate_iot::model::tenant_of(owner)))
    }

    /// 403 `forbidden` naming the scope when the key lacks it.
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.0.has_scope(scope) {
            Ok(())
        } else {
            tracing::info!(key = %self.0.id, scope, "request refused: missing scope");
            Err(ApiError::forbidden(format!(
                "this API key lacks the scope '{scope}'; create a key with --scope {scope}"
            )))
        }
    }

    /// 403 unless an admin key.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        self.require("admin")
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            // The dashboard's session cookie (with its CSRF token for changes) stands in for
            // the key.
            if let Some(p) = crate::session::presented(&parts.headers) {
                let key = crate::session::verify(state, &p, &parts.method, &parts.headers).await?;
                return Ok(Self(key));
            }
            return Err(ApiError::unauthorized(
                "missing Authorization: Bearer <api key> header",
            ));
        };
        let secret = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be 'Bearer <api key>'")
            })?;
        Ok(Self(verify(state, secret).await?))
    }
}

/// The key a secret belongs to (cached two seconds), held to its rate limit: the check every
/// way of presenting a key goes through (Bearer here, HTTP Basic in the Twilio-compatible
/// API).
pub async fn verify(state: &AppState, secret: &str) -> Result<ApiKey, ApiError> {
    let hash = hash_secret(secret);
    let key = match state.key_cache.get(&hash) {
        Some(key) => key,
        None => match state.store.api_key_by_hash(&hash).await? {
            Some(key) => {
                state.key_cache.put(hash, key.clone());
                key
            }
            None => {
                tracing::info!("request with an unknown or revoked API key");
                return Err(ApiError::unauthorized("unknown or revoked API key"));
            }
        },
    };
    if let Some(rate) = key.rate_limit
        && !state.rate_limits.take(&key.id, rate)
    {
        tracing::info!(key = %key.id, rate, "request refused: key over its rate limit");
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("this API key may make {rate} requests per second; retry later"),
        ));
    }
    Ok(key)
}
