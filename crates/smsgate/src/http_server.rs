//! The HTTP listener: our own accept loop around hyper's HTTP/1 connections, because what
//! `axum::serve` leaves open is what an exposed gateway must close:
//! - a client must send its request headers within `header_timeout` (hyper's header read
//!   timer, which also ends idle keep-alive connections), so a slowloris client holding
//!   connections open byte by byte is cut off;
//! - at most `max_connections` connections are open; more are closed when accepted (logged at
//!   most once a second), so a flood cannot exhaust file descriptors;
//! - with a certificate, connections are TLS (rustls, the stack already in the tree) and the
//!   handshake too must finish within `header_timeout`.
//!
//! The request timeout and security headers are layers of the router (`smsgate_api`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// How the listener bounds its clients.
#[derive(Clone)]
pub struct Limits {
    /// Time to send request headers (and to finish a TLS handshake); idle keep-alive limit.
    pub header_timeout: Duration,
    /// Connections open at once; 0 for no limit.
    pub max_connections: usize,
    /// TLS, when configured.
    pub tls: Option<TlsAcceptor>,
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open connections finish
/// their requests (at most 10 s).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(if limits.max_connections == 0 {
        Semaphore::MAX_PERMITS
    } else {
        limits.max_connections
    }));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut last_refusal_log: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: wait a little instead of spinning.
                    tracing::warn!(error = %e, "accepting an HTTP connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            if last_refusal_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                tracing::warn!(%peer, max = limits.max_connections,
                    "HTTP connection refused: [http] max_connections reached");
                last_refusal_log = Some(Instant::now());
            }
            drop(stream);
            continue;
        };
        let (app, limits, stop) = (app.clone(), limits.clone(), stop_rx.clone());
        conns.spawn(async move {
            connection(stream, peer, app, &limits, stop).await;
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        tracing::warn!("HTTP connections still open after 10 s of shutdown; closing them");
        conns.abort_all();
    }
    Ok(())
}

/// One client connection: TLS if configured, then HTTP/1 with the header timeout; a graceful
/// end (the current request answered) when the gateway stops.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: &Limits,
    stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    match &limits.tls {
        None => http1(TokioIo::new(stream), peer, app, limits, stop).await,
        Some(acceptor) => {
            match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => http1(TokioIo::new(tls), peer, app, limits, stop).await,
                Ok(Err(e)) => tracing::info!(%peer, error = %e, "HTTPS handshake failed"),
                Err(_) => tracing::info!(%peer, "HTTPS handshake timed out"),
            }
        }
    }
}

async fn http1<I>(
    io: I,
    peer: SocketAddr,
    app: Router,
    limits: &Limits,
    mut stop: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(app);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = async { let _ = stop.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // A header timeout, a client that went away, a malformed request: the client's
        // business, worth a line at debug.
        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}
