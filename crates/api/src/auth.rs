//! Bearer API keys: `Authorization: Bearer sk_…`, looked up by SHA-256, cached for two seconds
//! (so a revoked key stops working within two seconds, and a busy client costs no read per
//! request).

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

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller(pub ApiKey);

impl Caller {
    /// The key id used to scope the caller's data; `None` for admins, who see everything.
    pub fn scope(&self) -> Option<String> {
        (!self.0.admin).then(|| self.0.id.clone())
    }

    /// Whether the caller may see data owned by `owner`.
    pub fn may_see(&self, owner: Option<&str>) -> bool {
        self.0.admin || owner == Some(self.0.id.as_str())
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("missing Authorization: Bearer <api key> header")
        })?;
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
        let hash = hash_secret(secret);
        if let Some(key) = state.key_cache.get(&hash) {
            return Ok(Self(key));
        }
        match state.store.api_key_by_hash(&hash).await? {
            Some(key) => {
                state.key_cache.put(hash, key.clone());
                Ok(Self(key))
            }
            None => {
                tracing::info!("request with an unknown or revoked API key");
                Err(ApiError::unauthorized("unknown or revoked API key"))
            }
        }
    }
}
