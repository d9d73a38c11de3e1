//! API keys: 32 random bytes shown once, stored only as SHA-256.

use rand::RngCore;
use sha2::{Digest, Sha256};

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
}
