//! `smsgate keys`: API keys are managed on the store directly, not over HTTP, so the first key
//! can be made (and a leaked one revoked) while the gateway is stopped or nobody holds a key.

use anyhow::bail;
use clap::Subcommand;
use smsgate_core::clock::{Clock, rfc3339};
use smsgate_core::store::AuditEntry;

use crate::config::Config;

/// `keys` subcommands.
#[derive(Subcommand, Debug)]
pub enum KeysAction {
    /// Create a key; prints the secret alone on the last line.
    Create {
        /// What it is for.
        #[arg(long, default_value = "api")]
        name: String,
        /// Give it admin rights (every tenant, keys, tenants, the audit log); the same as
        /// `--scope admin`.
        #[arg(long)]
        admin: bool,
        /// The tenant it belongs to (created when new).
        #[arg(long, default_value = "default")]
        tenant: String,
        /// What it may do: messages:send, messages:read, inbound:read, webhooks, iot, admin
        /// (repeat or separate with commas). Default: all but admin.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Requests per second it may make (default: unlimited).
        #[arg(long)]
        rate_limit: Option<f64>,
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
        KeysAction::Create {
            name,
            admin,
            tenant,
            mut scopes,
            rate_limit,
        } => {
            if admin {
                scopes.push("admin".into());
            }
            let scopes = (!scopes.is_empty()).then_some(scopes);
            let (key, secret) = smsgate_api::new_key(
                &name,
                Some(&tenant),
                scopes.as_deref(),
                rate_limit,
                clock.now_ms(),
            )
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            store.create_api_key(key.clone()).await?;
            store
                .append_audit(cli_audit("key.create", &key.id, &clock))
                .await?;
            eprintln!(
                "created key {} ({name}, tenant {}, scopes {}, Twilio Account SID {}); the \
                 secret is shown once:",
                key.id,
                key.tenant,
                if key.admin {
                    "admin".to_owned()
                } else {
                    key.scopes.join(",")
                },
                smsgate_core::twilio::account_sid(&key.id)
            );
            println!("{secret}");
        }
        KeysAction::List => {
            for k in store.list_api_keys().await? {
                let state = match k.revoked_at {
                    Some(t) => format!("revoked {}", rfc3339(t)),
                    None => "active".into(),
                };
                let scopes = if k.admin {
                    "admin".to_owned()
                } else {
                    k.scopes.join(",")
                };
                println!(
                    "{}  {}…  {:<12} tenant {:<12} {}  {}  created {}  {}",
                    k.id,
                    k.prefix,
                    k.name,
                    k.tenant,
                    scopes,
                    state,
                    rfc3339(k.created_at),
                    smsgate_core::twilio::account_sid(&k.id)
                );
            }
        }
        KeysAction::Revoke { id } => {
            if store.revoke_api_key(&id, clock.now_ms()).await? {
                store
                    .append_audit(cli_audit("key.revoke", &id, &clock))
                    .await?;
                println!("revoked {id} (its webhooks are deleted)");
            } else {
                bail!("no active key with id or prefix '{id}' (see `smsgate keys list`)");
            }
        }
    }
    Ok(())
}

/// An audit entry for a change made with the CLI on the store directly (no key acted).
fn cli_audit(action: &str, target: &str, clock: &Clock) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: clock.now_ms(),
        key_id: None,
        tenant: None,
        action: action.to_owned(),
        target: target.to_owned(),
        detail: Some(serde_json::json!({"via": "cli"})),
    }
}
