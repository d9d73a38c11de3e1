//! The thin tokio layer shared by the drivers: owns the transport halves and the timer, feeds
//! the [`Session`] core and writes what it produces (STYLE §1: one task per connection that
//! `select!`s over socket, timer and commands).

use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Sleep;
use tracing::trace;

use crate::session::Session;

/// How long a closing session may spend flushing its last PDUs (e.g. `unbind_resp`).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
const READ_CHUNK: usize = 16 * 1024;
/// Unsent output above which the connection stops reading: a peer that sends requests but
/// never reads our answers (enquire_links in a loop, say) would otherwise grow this buffer
/// without bound. Reading resumes once the peer has taken the output below it.
const MAX_UNSENT: usize = 256 * 1024;

/// The current time in the form the session core takes (virtual under `tokio::time::pause`).
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

pub(crate) struct Conn<T> {
    pub session: Session,
    reader: ReadHalf<T>,
    writer: WriteHalf<T>,
    rbuf: BytesMut,
    wbuf: BytesMut,
    sleep: Pin<Box<Sleep>>,
    /// Since when reading has been paused for unsent output (see [`MAX_UNSENT`]); after the
    /// session's `response_timeout` of that, the connection is closed.
    stalled_since: Option<Instant>,
}

impl<T: AsyncRead + AsyncWrite> Conn<T> {
    pub fn new(io: T, session: Session) -> Self {
        let (reader, writer) = tokio::io::split(io);
        Self {
            session,
            reader,
            writer,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: BytesMut::new(),
            sleep: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
            stalled_since: None,
        }
    }

    /// Moves the session's pending output into the write buffer.
    pub fn pump(&mut self) {
        if let Some(bytes) = self.session.poll_transmit() {
            self.wbuf.extend_from_slice(&bytes);
        }
    }

    /// Waits for the next thing to happen. Socket reads, writes and timers are handled here;
    /// a command (or `None` once every sender is gone) is returned to the driver.
    pub async fn next<C>(&mut self, commands: &mut UnboundedReceiver<C>) -> Option<Option<C>> {
        let deadline = self.session.poll_timeout();
        if let Some(deadline) = deadline {
            let deadline = tokio::time::Instant::from_std(deadline);
            if self.sleep.deadline() != deadline {
                self.sleep.as_mut().reset(deadline);
            }
        }
        let writing = !self.wbuf.is_empty();
        let reading = self.wbuf.len() <= MAX_UNSENT;
        let stall_limit = self.session.config().response_timeout;
        self.stalled_since = match (reading, self.stalled_since) {
            (true, _) => None,
            (false, None) => Some(now()),
            (false, Some(since)) => Some(since),
        };
        if let Some(since) = self.stalled_since
            && now().duration_since(since) >= stall_limit
        {
            self.session.handle_transport_closed(&format!(
                "the peer has not read {} bytes of our output for {stall_limit:?}",
                self.wbuf.len()
            ));
            self.wbuf.clear();
            self.stalled_since = None;
            return None;
        }
        let stall_check = tokio::time::sleep(if self.stalled_since.is_some() {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(3600)
        });
        if self.rbuf.capacity() - self.rbuf.len() < 1024 {
            self.rbuf.reserve(READ_CHUNK);
        }
        tokio::select! {
            biased;
            written = self.writer.write_buf(&mut self.wbuf), if writing => {
                match written {
                    Ok(0) => self.session.handle_transport_closed("write returned 0"),
                    Ok(n) => trace!(n, "wrote"),
                    Err(e) => self.session.handle_transport_closed(&e.to_string()),
                }
                None
            }
            read = self.reader.read_buf(&mut self.rbuf), if reading => {
                match read {
                    Ok(0) => self.session.handle_transport_closed("peer closed the connection"),
                    Ok(_) => {
                        // The length only: the bytes may hold a bind's password.
                        trace!(n = self.rbuf.len(), "read");
                        self.session.handle_bytes(now(), &self.rbuf);
                        self.rbuf.clear();
                    }
                    Err(e) => self.session.handle_transport_closed(&e.to_string()),
                }
                None
            }
            command = commands.recv() => Some(command),
            () = &mut self.sleep, if deadline.is_some() => {
                self.session.handle_timeout(now());
                None
            }
            () = stall_check, if self.stalled_since.is_some() => None,
        }
    }

    /// Flushes what is left (bounded by a timeout) and shuts the write side down.
    pub async fn finish(&mut self) {
        self.pump();
        let flush = async {
            while !self.wbuf.is_empty() {
                if self.writer.write_buf(&mut self.wbuf).await.unwrap_or(0) == 0 {
                    break;
                }
            }
            let _ = self.writer.shutdown().await;
        };
        let _ = tokio::time::timeout(FLUSH_TIMEOUT, flush).await;
    }
}
