//! Store fixtures: every store test, loop test and API test starts from a fresh database (a
//! SQLite file, or a PostgreSQL schema under [`both_backends!`](crate::both_backends)) and builds its messages from
//! one plain queued message.

use std::sync::Arc;

use smsgate_core::keys::{self, GeneratedKey};
use smsgate_core::message::{MessageId, NewMessage, Priority};
use smsgate_core::number::Msisdn;
use smsgate_core::store::{ApiKey, Store};
use smsgate_store::Backend;

use crate::backend::url;
pub use crate::backend::{is_postgres, on_postgres, postgres_server};

/// A store on a fresh database, so no test sees another's rows; keep the directory alive as
/// long as the store.
pub async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (
        smsgate_store::open(&url(dir.path(), "t.db")).await.unwrap(),
        dir,
    )
}

/// Every store of a backend (messages, IoT, northbound) of `dir` (see [`url`](crate::backend::url)), for tests
/// that need more than the message store or that reopen the same database to play a restart.
pub async fn backend(dir: &tempfile::TempDir) -> Backend {
    smsgate_store::open_all(&url(dir.path(), "t.db"))
        .await
        .unwrap()
}

/// A normal-priority GSM message to `to` with `segments` parts of text, created and due at
/// t = 1000, owned by no key: the base that tests adjust with struct-update syntax, so each
/// test names only the fields it is about.
pub fn message(to: &str, segments: u32) -> NewMessage {
    NewMessage {
        id: MessageId::new(),
        api_key_id: None,
        tenant: Some("default".into()),
        to: Msisdn::parse(to).unwrap(),
        from: None,
        text: "x".repeat(segments as usize * 150),
        encoding: "gsm7".into(),
        segments,
        priority: Priority::Normal,
        callback_url: None,
        callback_statuses: Vec::new(),
        idempotency_key: None,
        created_at: 1_000,
        send_at: 1_000,
        expires_at: None,
        deferred: None,
        binary: None,
    }
}

/// Creates an API key named `name` in `store`, an admin key (tenant `default`) or one in a
/// tenant of its own (named after the key, as keys from before tenants were migrated), and
/// returns it with its secret: for tests that call the API as a client, or check callbacks
/// signed with the key's hash.
pub async fn api_key(store: &dyn Store, name: &str, admin: bool) -> GeneratedKey {
    let key = keys::generate();
    let tenant = if admin {
        "default".to_owned()
    } else {
        key.id.clone()
    };
    let scopes = if admin {
        vec!["admin".to_owned()]
    } else {
        keys::default_scopes()
    };
    insert_key(store, &key, name, &tenant, scopes, admin).await;
    key
}

/// Creates a non-admin key of `tenant` with `scopes` and returns it with its secret.
pub async fn tenant_key(store: &dyn Store, tenant: &str, scopes: &[&str]) -> GeneratedKey {
    let key = keys::generate();
    let scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
    insert_key(store, &key, tenant, tenant, scopes, false).await;
    key
}

async fn insert_key(
    store: &dyn Store,
    key: &GeneratedKey,
    name: &str,
    tenant: &str,
    scopes: Vec<String>,
    admin: bool,
) {
    store
        .create_api_key(ApiKey {
            id: key.id.clone(),
            name: name.into(),
            prefix: key.prefix.clone(),
            admin,
            tenant: tenant.into(),
            scopes,
            rate_limit: None,
            created_at: 0,
            revoked_at: None,
            secret_hash: key.hash.clone(),
        })
        .await
        .unwrap();
}
