//! `smsgate keys`: API keys are managed on the store directly, not over HTTP, so the first key
//! can be made (and a leaked one revoked) while the gateway is stopped or nobody holds a key.

use anyhow::bail;
use clap::Subcommand;
use smsgate_core::clock::{Clock, rfc3339};
use smsgate_core::keys;
use smsgate_core::store::ApiKey;

use crate::config::Config;

/// `keys` subcommands.
#[derive(Subcommand, Debug)]
pub enum KeysAction {
    /// Create a key; prints the secret alone on the last line.
    Create {
        /// What it is for.
        #[arg(long, default_value = "api")]
        name: String,
        /// Give it admin rights (see every message, manage all webhooks).
        #[arg(long)]
        admin: bool,
    },
    /// List keys.
    List,
    /// Revoke a key by id or prefix.
    Revoke {
        /// Key id (`key_…`) or prefix (`sk_…`).
        id: String,
    },
}

/// Runs a `keys` subcommand against the store named in `config`.
pub async fn run(config: &Config, action: KeysAction) -> anyhow::Result<()> {
    let store = smsgate_store::open(&config.store.url).await?;
    let clock = Clock::system();
    match action {
        KeysAction::Create { name, admin } => {
            let k = keys::generate();
            store
                .create_api_key(ApiKey {
                    id: k.id.clone(),
                    name: name.clone(),
                    prefix: k.prefix,
                    admin,
                    created_at: clock.now_ms(),
                    revoked_at: None,
                    secret_hash: k.hash,
                })
                .await?;
            eprintln!(
                "created key {} ({name}{}); the secret is shown once:",
                k.id,
                if admin { ", admin" } else { "" }
            );
            println!("{}", k.secret);
        }
        KeysAction::List => {
            for k in store.list_api_keys().await? {
                let state = match k.revoked_at {
                    Some(t) => format!("revoked {}", rfc3339(t)),
                    None => "active".into(),
                };
                println!(
                    "{}  {}…  {:<12} {}{}  created {}",
                    k.id,
                    k.prefix,
                    k.name,
                    state,
                    if k.admin { "  admin" } else { "" },
                    rfc3339(k.created_at)
                );
            }
        }
        KeysAction::Revoke { id } => {
            if store.revoke_api_key(&id, clock.now_ms()).await? {
                println!("revoked {id}");
            } else {
                bail!("no active key with id or prefix '{id}' (see `smsgate keys list`)");
            }
        }
    }
    Ok(())
}
