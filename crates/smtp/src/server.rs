//! The listener's I/O: accepts connections (plain with STARTTLS, or TLS from the first byte),
//! enforces the connection limit and timeouts, reads command lines and mail data with bounded
//! buffers, and drives a [`Session`] per connection.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::deliver::Gateway;
use crate::session::{Session, Settings, Step};

/// Longest command line (RFC 5321 says 512; AUTH responses and long addresses need more).
const MAX_LINE: usize = 4096;

/// Counters for `/v1/channels` and `/metrics`.
#[derive(Default)]
pub struct Counters {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Mails whose SMS were queued.
    pub accepted: AtomicU64,
    /// Mails, recipients or senders refused (any 5xx), and connections refused at the limit.
    pub refused: AtomicU64,
    /// Failed `AUTH` attempts.
    pub auth_failed: AtomicU64,
}

/// What every connection shares.
pub struct Shared {
    /// Session rules.
    pub settings: Arc<Settings>,
    /// The gateway.
    pub gateway: Gateway,
    /// STARTTLS / TLS listener, when a certificate is configured.
    pub tls: Option<TlsAcceptor>,
    /// Per command (and per read during DATA).
    pub timeout: Duration,
    /// Open connections.
    pub slots: Arc<Semaphore>,
    /// Counters.
    pub counters: Counters,
}

/// Accepts on `listener` until `stop`; `tls` when connections start with a TLS handshake.
pub async fn accept(
    listener: TcpListener,
    shared: Arc<Shared>,
    implicit_tls: bool,
    stop: watch::Receiver<bool>,
) {
    let mut stopped = std::pin::pin!(wait_stop(stop.clone()));
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "smtp: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stopped => return,
        };
        shared.counters.connections.fetch_add(1, Ordering::Relaxed);
        let Ok(slot) = Arc::clone(&shared.slots).try_acquire_owned() else {
            shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            info!(%peer, "smtp: connection limit reached; refused");
            tokio::spawn(async move {
                let mut tcp = tcp;
                let _ = tcp
                    .write_all(b"421 4.3.2 too many connections; try again later\r\n")
                    .await;
            });
            continue;
        };
        let shared = Arc::clone(&shared);
        let stop = stop.clone();
        tokio::spawn(async move {
            let _slot = slot;
            tokio::select! {
                () = connection(tcp, peer, &shared, implicit_tls) => {}
                _ = wait_stop(stop) => {}
            }
        });
    }
}

async fn wait_stop(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn connection(tcp: TcpStream, peer: SocketAddr, shared: &Shared, implicit_tls: bool) {
    let _ = tcp.set_nodelay(true);
    let mut session = Session::new(Arc::clone(&shared.settings), peer.ip(), implicit_tls);
    if implicit_tls {
        let Some(tls) = &shared.tls else { return };
        match tokio::time::timeout(shared.timeout, tls.accept(tcp)).await {
            Ok(Ok(stream)) => {
                let mut io = BufReader::new(stream);
                if write(&mut io, &session.greeting(), shared).await {
                    let _ = run(&mut io, &mut session, shared, peer.ip()).await;
                }
            }
            Ok(Err(e)) => info!(%peer, error = %e, "smtp: TLS handshake failed"),
            Err(_) => info!(%peer, "smtp: TLS handshake timed out"),
        }
        return;
    }
    let mut io = BufReader::new(tcp);
    if !write(&mut io, &session.greeting(), shared).await {
        return;
    }
    if run(&mut io, &mut session, shared, peer.ip()).await != Outcome::StartTls {
        return;
    }
    // RFC 3207: anything the client pipelined after STARTTLS is discarded (a plaintext
    // injection would otherwise be executed inside the TLS session).
    let tcp = io.into_inner();
    let Some(tls) = &shared.tls else { return };
    match tokio::time::timeout(shared.timeout, tls.accept(tcp)).await {
        Ok(Ok(stream)) => {
            session.tls_started();
            let mut io = BufReader::new(stream);
            let _ = run(&mut io, &mut session, shared, peer.ip()).await;
        }
        Ok(Err(e)) => info!(%peer, error = %e, "smtp: STARTTLS handshake failed"),
        Err(_) => info!(%peer, "smtp: STARTTLS handshake timed out"),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Closed,
    StartTls,
}

async fn write<S: AsyncWrite + Unpin>(io: &mut S, reply: &str, shared: &Shared) -> bool {
    if reply.starts_with('5') {
        shared.counters.refused.fetch_add(1, Ordering::Relaxed);
    }
    debug!(reply = reply.trim_end(), "smtp: reply");
    matches!(
        tokio::time::timeout(shared.timeout, async {
            io.write_all(reply.as_bytes()).await?;
            io.flush().await
        })
        .await,
        Ok(Ok(()))
    )
}

async fn run<S>(
    io: &mut BufReader<S>,
    session: &mut Session,
    shared: &Shared,
    peer: IpAddr,
) -> Outcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        match tokio::time::timeout(shared.timeout, read_line(io, &mut line)).await {
            Err(_) => {
                let _ = write(io, "421 4.4.2 timeout; closing\r\n", shared).await;
                return Outcome::Closed;
            }
            Ok(Err(LineError::Closed)) => return Outcome::Closed,
            Ok(Err(LineError::TooLong)) => {
                if !write(io, "500 5.5.2 line too long\r\n", shared).await {
                    return Outcome::Closed;
                }
                continue;
            }
            Ok(Ok(())) => {}
        }
        let mut step = session.line(&line);
        loop {
            step = match step {
                Step::Reply(r) => {
                    if !write(io, &r, shared).await {
                        return Outcome::Closed;
                    }
                    break;
                }
                Step::Close(r) => {
                    let _ = write(io, &r, shared).await;
                    return Outcome::Closed;
                }
                Step::StartTls => {
                    if !write(io, "220 2.0.0 ready to start TLS\r\n", shared).await {
                        return Outcome::Closed;
                    }
                    return Outcome::StartTls;
                }
                Step::Authenticate { secret } => match shared.gateway.identity(&secret).await {
                    Ok(identity) => {
                        if identity.is_none() {
                            shared.counters.auth_failed.fetch_add(1, Ordering::Relaxed);
                            info!(%peer, "smtp: AUTH with an unknown, revoked or send-less key");
                        }
                        session.auth_result(identity)
                    }
                    Err(e) => {
                        warn!(error = %e, "smtp: key lookup failed");
                        Step::Reply("454 4.7.0 temporary authentication failure\r\n".into())
                    }
                },
                Step::CheckRecipient(r) => {
                    let verdict = match session.sender() {
                        Some(who) => shared.gateway.check_recipient(who, &r.number),
                        None => Err("503 5.5.1 MAIL FROM first".into()),
                    };
                    if let Err(why) = &verdict {
                        info!(%peer, recipient = %r.address, reason = %why, "smtp: recipient refused");
                    }
                    session.rcpt_result(r, verdict)
                }
                Step::ReadData => {
                    if !write(io, "354 end data with <CR><LF>.<CR><LF>\r\n", shared).await {
                        return Outcome::Closed;
                    }
                    let max = shared.settings.max_message_bytes;
                    match read_data(io, max, shared.timeout).await {
                        Err(DataError::Closed) => return Outcome::Closed,
                        Err(DataError::Timeout) => {
                            let _ = write(io, "421 4.4.2 timeout during DATA; closing\r\n", shared)
                                .await;
                            return Outcome::Closed;
                        }
                        Err(DataError::TooBig) => {
                            let _ = session.envelope();
                            Step::Reply(format!(
                                "552 5.3.4 message exceeds the limit of {max} bytes\r\n"
                            ))
                        }
                        Ok(data) => match session.envelope() {
                            None => Step::Reply("503 5.5.1 no transaction\r\n".into()),
                            Some(env) => {
                                let reply = shared.gateway.deliver(&env, &data, peer).await;
                                if reply.starts_with('2') {
                                    shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
                                } else {
                                    info!(%peer, sender = %env.mail_from, reply = reply.trim_end(), "smtp: mail refused");
                                }
                                Step::Reply(reply)
                            }
                        },
                    }
                }
            };
        }
    }
}

enum LineError {
    Closed,
    TooLong,
}

/// One line up to and including LF, at most [`MAX_LINE`] bytes (a longer one is read to its
/// end and refused).
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, out: &mut Vec<u8>) -> Result<(), LineError> {
    let mut too_long = false;
    loop {
        let buf = r.fill_buf().await.map_err(|_| LineError::Closed)?;
        if buf.is_empty() {
            return Err(LineError::Closed);
        }
        let (take, done) = match buf.iter().position(|c| *c == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if !too_long {
            out.extend_from_slice(&buf[..take]);
            if out.len() > MAX_LINE {
                too_long = true;
                out.clear();
            }
        }
        r.consume(take);
        if done {
            return if too_long {
                Err(LineError::TooLong)
            } else {
                Ok(())
            };
        }
    }
}

enum DataError {
    Closed,
    Timeout,
    TooBig,
}

/// The mail after `354`, dot-unstuffed, up to the lone dot. A mail over `max` is read to its
/// end (so the session stays in step) and refused.
async fn read_data<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
    timeout: Duration,
) -> Result<Vec<u8>, DataError> {
    let mut rx = smtp_proto::request::receiver::DataReceiver::new();
    let mut out = Vec::with_capacity(4096);
    let mut too_big = false;
    loop {
        let buf = match tokio::time::timeout(timeout, r.fill_buf()).await {
            Err(_) => return Err(DataError::Timeout),
            Ok(Err(_)) => return Err(DataError::Closed),
            Ok(Ok(b)) => b,
        };
        if buf.is_empty() {
            return Err(DataError::Closed);
        }
        let len = buf.len();
        let mut it = buf.iter();
        let done = rx.ingest(&mut it, &mut out);
        let used = len - it.as_slice().len();
        r.consume(used);
        if out.len() > max {
            too_big = true;
            // Keep only the tail the end-of-data detection might still need.
            out.clear();
        }
        if done {
            return if too_big {
                Err(DataError::TooBig)
            } else {
                Ok(out)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn data_is_unstuffed_and_bounded() {
        let mut r: &[u8] = b"Subject: x\r\n\r\n..leading dot\r\nbody\r\n.\r\nQUIT\r\n";
        let d = read_data(&mut r, 1000, Duration::from_secs(1))
            .await
            .ok()
            .unwrap();
        assert_eq!(d, b"Subject: x\r\n\r\n.leading dot\r\nbody\r\n");
        assert_eq!(r, b"QUIT\r\n");
        let big = format!("Subject: x\r\n\r\n{}\r\n.\r\nQUIT\r\n", "a".repeat(5000));
        let mut r = big.as_bytes();
        assert!(matches!(
            read_data(&mut r, 1000, Duration::from_secs(1)).await,
            Err(DataError::TooBig)
        ));
        assert_eq!(r, b"QUIT\r\n", "the rest of the session is still readable");
    }

    #[tokio::test]
    async fn long_lines_are_refused_and_skipped() {
        let long = format!("{}\r\nNOOP\r\n", "A".repeat(MAX_LINE + 10));
        let mut r = long.as_bytes();
        let mut line = Vec::new();
        assert!(matches!(
            read_line(&mut r, &mut line).await,
            Err(LineError::TooLong)
        ));
        line.clear();
        assert!(read_line(&mut r, &mut line).await.is_ok());
        assert_eq!(line, b"NOOP\r\n");
    }
}
