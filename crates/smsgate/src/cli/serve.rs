//! `smsgate serve`: the one command that runs the gateway itself rather than talking to it, so
//! it alone owns the process lifetime (start-up banner, SIGHUP route reloads, orderly shutdown).

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::gateway::Gateway;

/// Runs `serve`: loads the config file at `path`, starts the gateway and serves until SIGINT or
/// SIGTERM; `path` is kept so SIGHUP can re-read the routes from the same file.
pub async fn run(path: Option<PathBuf>) -> anyhow::Result<()> {
    let config = Config::load(path.as_deref())?;
    super::init_logs(&config);
    serve(config, path).await
}

async fn serve(config: Config, path: Option<PathBuf>) -> anyhow::Result<()> {
    let key_file = admin_key_file(&config.store.url, path.as_deref());
    let gw = Gateway::start(config).await?;
    println!("smsgate is running");
    println!("  dashboard and API: http://{}/", gw.addr);
    println!("  OpenAPI:           http://{}/v1/openapi.json", gw.addr);
    if let Some(addr) = gw.smpp_addr {
        println!("  SMPP server:       {addr}");
    }
    if let Some(addr) = gw.smpp_tls_addr {
        println!("  SMPP over TLS:     {addr}");
    }
    if let Some(addr) = gw.smtp_addr {
        println!("  email-to-SMS:      smtp://{addr}");
    }
    if let Some(addr) = gw.smtp_tls_addr {
        println!("  email over TLS:    smtps://{addr}");
    }
    if let Some(addr) = gw.kannel_addr {
        println!("  Kannel sendsms:    http://{addr}/cgi-bin/sendsms");
    }
    if let Some(key) = &gw.first_admin_key {
        show_first_key(key, key_file.as_deref())?;
    }
    println!("  stop with Ctrl-C (SIGINT) or SIGTERM; in-flight work finishes first");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let reload = reload_on_sighup(&gw, path.as_deref());
    tokio::select! {
        _ = super::shutdown_signal() => {}
        _ = reload => {}
    }
    gw.shutdown().await;
    Ok(())
}

/// Re-reads the config file's `[[routes]]` on every SIGHUP; never returns (on Unix).
async fn reload_on_sighup(gw: &Gateway, path: Option<&Path>) {
    #[cfg(unix)]
    {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return std::future::pending().await;
        };
        while hup.recv().await.is_some() {
            let result = Config::load(path).and_then(|c| gw.reload_routes(&c.routes));
            if let Err(e) = result {
                tracing::error!(
                    error = format!("{e:#}"),
                    "SIGHUP: routes not reloaded; the previous table stays"
                );
            }
        }
    }
    std::future::pending().await
}

/// Where the first admin key is written: `admin.key` beside a SQLite database file (its data
/// directory, 0700 when smsgate created it); for a database server, beside the config file
/// (the node that created the key is the one whose directory has it); `None` for an
/// in-memory store or a server store started without a config file.
fn admin_key_file(store_url: &str, config: Option<&Path>) -> Option<PathBuf> {
    if store_url.starts_with("postgres") {
        let dir = config?.parent()?;
        return Some(if dir.as_os_str().is_empty() {
            PathBuf::from("admin.key")
        } else {
            dir.join("admin.key")
        });
    }
    let path = store_url
        .strip_prefix("sqlite://")
        .or_else(|| store_url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    let dir = Path::new(path).parent()?;
    Some(if dir.as_os_str().is_empty() {
        PathBuf::from("admin.key")
    } else {
        dir.join("admin.key")
    })
}

/// The first admin key goes to a file only its owner can read, and to the terminal when there
/// is one; never to a log or a pipe (a service manager would keep it in its journal).
fn show_first_key(key: &str, file: Option<&Path>) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if let Some(file) = file {
        write_private(file, &format!("{key}\n")).map_err(|e| {
            anyhow::anyhow!("cannot write the admin key to {}: {e}", file.display())
        })?;
        println!(
            "  admin API key written to {} (mode 0600; read it, store it, then delete the file)",
            file.display()
        );
    }
    if std::io::stdout().is_terminal() || file.is_none() {
        println!("  admin API key (shown once, store it now):");
        println!("{key}");
    }
    Ok(())
}

/// Creates `path` with mode 0600 (owner read/write only) and writes `text`.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_lies_beside_the_database() {
        assert_eq!(
            admin_key_file("sqlite://smsgate-data/smsgate.db", None),
            Some(PathBuf::from("smsgate-data/admin.key"))
        );
        assert_eq!(
            admin_key_file("sqlite:///var/lib/smsgate/db.sqlite?mode=rwc", None),
            Some(PathBuf::from("/var/lib/smsgate/admin.key"))
        );
        assert_eq!(admin_key_file("sqlite::memory:", None), None);
        assert_eq!(
            admin_key_file(
                "postgres://gw@db/smsgate",
                Some(Path::new("/etc/smsgate/a.toml"))
            ),
            Some(PathBuf::from("/etc/smsgate/admin.key"))
        );
        assert_eq!(admin_key_file("postgres://gw@db/smsgate", None), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("smsgate-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("admin.key");
        write_private(&file, "sk_test\n").unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "sk_test\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
