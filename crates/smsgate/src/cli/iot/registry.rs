//! `smsgate contacts|groups|rules|iot apply`: who exists and what alerts them (contacts, on-call
//! groups, rules), kept apart from the devices and alerts because these three share one generic
//! list/show/remove shape and the `iot apply` bulk load from a TOML file.

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use super::{list, seg};
use crate::cli::remote::Remote;
use crate::client::Client;

/// The registry kinds managed the same way: `contacts`, `groups` and `rules`.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// People with phone numbers.
    Contacts,
    /// On-call groups with escalation levels.
    Groups,
    /// Alert rules.
    Rules,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Contacts => "/v1/contacts",
            Kind::Groups => "/v1/groups",
            Kind::Rules => "/v1/rules",
        }
    }

    fn singular(self) -> &'static str {
        match self {
            Kind::Contacts => "contact",
            Kind::Groups => "group",
            Kind::Rules => "rule",
        }
    }
}

/// `contacts`, `groups` and `rules` subcommands.
#[derive(Subcommand, Debug)]
pub enum RegistryAction {
    /// List them.
    List {
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
    /// Show one as JSON.
    Show {
        /// Id.
        id: String,
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
    /// Remove one.
    Remove {
        /// Id.
        id: String,
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
}

/// `iot` subcommands.
#[derive(Subcommand, Debug)]
pub enum IotAction {
    /// Create or replace the `[[contacts]]`, `[[groups]]`, `[[devices]]` and `[[rules]]` of a
    /// TOML file (the same keys as the config file's `[[iot.*]]` tables), in that order.
    Apply {
        /// The file.
        file: std::path::PathBuf,
        /// Where the gateway is.
        #[command(flatten)]
        remote: Remote,
    },
}

/// `smsgate contacts add`: the one registry entry simple enough for flags.
#[derive(clap::Args, Debug)]
pub struct ContactAdd {
    /// Contact id.
    pub id: String,
    /// Phone number (E.164).
    #[arg(long)]
    pub number: String,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Where the gateway is.
    #[command(flatten)]
    pub remote: Remote,
}

/// `contacts` subcommands: the registry actions plus `add`.
#[derive(Subcommand, Debug)]
pub enum ContactsAction {
    /// Create or replace a contact.
    Add(ContactAdd),
    /// List, show or remove.
    #[command(flatten)]
    Registry(RegistryAction),
}

/// Runs a `contacts` subcommand.
pub async fn contacts(action: ContactsAction) -> anyhow::Result<()> {
    match action {
        ContactsAction::Add(a) => add_contact(a).await,
        ContactsAction::Registry(a) => run(Kind::Contacts, a).await,
    }
}

/// Runs `contacts add`.
async fn add_contact(a: ContactAdd) -> anyhow::Result<()> {
    let client = Client::new(&a.remote.url, &a.remote.key)?;
    let body = json!({"id": a.id, "number": a.number, "name": a.name.unwrap_or_default()});
    let c = client
        .put(&format!("/v1/contacts/{}", seg(&a.id)), &body)
        .await?;
    println!(
        "contact {} saved ({})",
        a.id,
        c["number"].as_str().unwrap_or("")
    );
    Ok(())
}

/// Runs a `groups` or `rules` subcommand, or the list/show/remove of `contacts`.
pub async fn run(kind: Kind, action: RegistryAction) -> anyhow::Result<()> {
    match action {
        RegistryAction::List { remote } => {
            let client = Client::new(&remote.url, &remote.key)?;
            let all = client.get(kind.path()).await?;
            let rows = all.as_array().cloned().unwrap_or_default();
            if rows.is_empty() {
                println!("no {}", kind.path().trim_start_matches("/v1/"));
            }
            for r in rows {
                println!("{}", summary(kind, &r));
            }
            Ok(())
        }
        RegistryAction::Show { id, remote } => {
            let client = Client::new(&remote.url, &remote.key)?;
            let v = client.get(&format!("{}/{}", kind.path(), seg(&id))).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(())
        }
        RegistryAction::Remove { id, remote } => {
            let client = Client::new(&remote.url, &remote.key)?;
            client
                .delete(&format!("{}/{}", kind.path(), seg(&id)))
                .await?;
            println!("{} {id} removed", kind.singular());
            Ok(())
        }
    }
}

/// One line per entry, the fields a person scans for.
fn summary(kind: Kind, r: &Value) -> String {
    let id = r["id"].as_str().unwrap_or("");
    match kind {
        Kind::Contacts => format!(
            "{id:<16} {:<16} {}",
            r["number"].as_str().unwrap_or(""),
            r["name"].as_str().unwrap_or("")
        ),
        Kind::Groups => {
            let levels: Vec<String> = r["levels"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| {
                    let who = l["contacts"]
                        .as_array()
                        .map(|c| list(c))
                        .unwrap_or_default();
                    format!("[{who}] {}", l["delay"].as_str().unwrap_or(""))
                })
                .collect();
            format!("{id:<16} {}", levels.join(" → "))
        }
        Kind::Rules => {
            let what = match r["kind"].as_str() {
                Some("silence") => "silence".to_owned(),
                _ => r["condition"].as_str().unwrap_or("").to_owned(),
            };
            let scope = ["device", "device_group", "tag"]
                .iter()
                .find_map(|k| r[*k].as_str().map(|v| format!("{k}={v}")))
                .unwrap_or_else(|| "all devices".to_owned());
            let on = if r["enabled"].as_bool() == Some(false) {
                " (disabled)"
            } else {
                ""
            };
            format!(
                "{id:<16} {:<9} {what:<28} {scope}{on}",
                r["severity"].as_str().unwrap_or("")
            )
        }
    }
}

/// Runs an `iot` subcommand.
pub async fn apply(action: IotAction) -> anyhow::Result<()> {
    let IotAction::Apply { file, remote } = action;
    use figment::Figment;
    use figment::providers::{Format, Toml};
    if !file.exists() {
        bail!("{}: no such file", file.display());
    }
    let doc: Value = Figment::from(Toml::file(&file))
        .extract()
        .with_context(|| format!("{} is not valid TOML", file.display()))?;
    let Some(table) = doc.as_object() else {
        bail!("{}: expected TOML tables", file.display());
    };
    const ORDER: [&str; 4] = ["contacts", "groups", "devices", "rules"];
    if let Some(k) = table.keys().find(|k| !ORDER.contains(&k.as_str())) {
        bail!(
            "{}: unknown table '{k}' (use [[contacts]], [[groups]], [[devices]], [[rules]])",
            file.display()
        );
    }
    let client = Client::new(&remote.url, &remote.key)?;
    let mut done = 0;
    for kind in ORDER {
        for entry in table
            .get(kind)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(id) = entry["id"].as_str() else {
                bail!("{}: an entry of [[{kind}]] has no id", file.display());
            };
            client
                .put(&format!("/v1/{kind}/{}", seg(id)), entry)
                .await
                .with_context(|| format!("[[{kind}]] '{id}'"))?;
            println!("{kind}/{id}: saved");
            done += 1;
        }
    }
    println!("{done} entries applied from {}", file.display());
    Ok(())
}
