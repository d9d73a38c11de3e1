//! API keys: 32 random bytes shown once, stored only as SHA-256.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every scope a key may carry. `admin` makes an admin key (every tenant, every scope).
pub const SCOPES: &[&str] = &[
    "messages:send",
    "messages:read",
    "inbound:read",
    "webhooks",
    "iot",
    "admin",
];

/// What a key without an explicit list gets (keys from before scopes existed): everything but
/// `admin`.
pub fn default_scopes() -> Vec<String> {
    SCOPES
        .iter()
        .filter(|s| **s != "admin")
        .map(|s| (*s).to_owned())
        .collect()
}

/// Scope names as a user wrote them (comma-separated or repeated), checked and without repeats.
pub fn parse_scopes<S: AsRef<str>>(names: &[S]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for name in names.iter().flat_map(|n| n.as_ref().split(',')) {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        if !SCOPES.contains(&name) {
            return Err(format!(
                "unknown scope '{name}'; known: {}",
                SCOPES.join(", ")
            ));
        }
        if !out.iter().any(|s| s == name) {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

/// Whether `id` is usable as a tenant id: 1 to 64 characters of `a-z 0-9 _ -`.
pub fn valid_tenant_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A freshly made key: the secret for the user, the rest for the store.
#[derive(Clone, Debug)]
pub struct GeneratedKey {
    /// `sk_` + 64 hex characters; shown once, never stored.
    pub secret: String,
    /// SHA-256 hex of `secret`, what the store keeps.
    pub hash: String,
    /// Stable public id, `key_` + 12 hex.
    pub id: String,
    /// The first 11 characters of `secret`, to tell keys apart in listings.
    pub prefix: String,
}

/// Generates a key from the operating system's CSPRNG.
pub fn generate() -> GeneratedKey {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = format!("sk_{}", hex::encode(secret));
    GeneratedKey {
        hash: hash_secret(&secret),
        id: random_id("key_", 6),
        prefix: secret[..11].to_owned(),
        secret,
    }
}

/// The stored form of a secret. SHA-256 suffices: the secret has 256 bits of entropy, so there
/// is nothing to brute-force that a slow hash would protect.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A random id with a type prefix (`wh_…`, `key_…`), `bytes` random bytes in hex.
pub fn random_id(prefix: &str, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    format!("{prefix}{}", hex::encode(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_hash_to_what_the_store_keeps_and_differ_each_time() {
        let a = generate();
        let b = generate();
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.secret.len(), 3 + 64);
        assert_eq!(hash_secret(&a.secret), a.hash);
        assert!(a.secret.starts_with(&a.prefix));
        assert_ne!(a.hash, a.secret);
    }

    #[test]
    fn scopes_are_checked_split_and_deduplicated() {
        assert_eq!(
            parse_scopes(&["messages:send,messages:read", "messages:send"]).unwrap(),
            vec!["messages:send", "messages:read"]
        );
        let err = parse_scopes(&["messages:write"]).unwrap_err();
        assert!(
            err.contains("messages:write") && err.contains("inbound:read"),
            "{err}"
        );
        assert!(!default_scopes().iter().any(|s| s == "admin"));
    }

    #[test]
    fn tenant_ids_are_short_lowercase_words() {
        assert!(valid_tenant_id("acme-2"));
        assert!(!valid_tenant_id("Acme"));
        assert!(!valid_tenant_id(""));
        assert!(!valid_tenant_id("a/b"));
    }
}
