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
    if let Some(key) = &gw.first_admin_key {
        println!("  admin API key (shown once, store it now):");
        println!("{key}");
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
