//! The tokio side of the engine: one task's view of a modem stream, generic over
//! `AsyncRead + AsyncWrite`. [`Link::command`] runs one command to its end while queueing the
//! URCs that arrive meanwhile; [`Link::next_urc`] waits for the next URC and is cancel-safe, so
//! the worker can `select!` on it.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::at::{Command, CommandError, Engine, EngineConfig, Event, Response, Urc};
use crate::transport::BoxStream;

/// Why the link is unusable; the worker resets the modem.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Reading or writing failed, or the stream ended (device unplugged, TCP closed).
    #[error("modem link: {0}")]
    Io(#[from] std::io::Error),
    /// A write did not complete in time (nobody reads the other end).
    #[error("modem link: write blocked for {0:?}")]
    WriteTimeout(Duration),
}

/// What one command ended with.
#[derive(Debug)]
pub enum Outcome {
    /// The modem answered (with any final code).
    Answered(Response),
    /// No answer in time.
    Failed(CommandError),
}

/// A modem stream driven by an [`Engine`].
pub struct Link {
    io: BoxStream,
    engine: Engine,
    urcs: VecDeque<Urc>,
    buf: Vec<u8>,
    write_timeout: Duration,
    /// Lines that belonged to nothing (late answers), for counters.
    pub stray: u64,
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

impl Link {
    /// A link over a freshly opened stream.
    pub fn new(io: BoxStream, write_timeout: Duration) -> Self {
        Self {
            io,
            engine: Engine::new(EngineConfig::default()),
            urcs: VecDeque::new(),
            buf: vec![0; 4096],
            write_timeout,
            stray: 0,
        }
    }

    async fn flush(&mut self) -> Result<(), LinkError> {
        while let Some(bytes) = self.engine.poll_transmit() {
            tracing::trace!(bytes = %String::from_utf8_lossy(&bytes).escape_debug(), "to modem");
            let write = async {
                self.io.write_all(&bytes).await?;
                self.io.flush().await
            };
            tokio::time::timeout(self.write_timeout, write)
                .await
                .map_err(|_| LinkError::WriteTimeout(self.write_timeout))??;
        }
        Ok(())
    }

    async fn read_some(&mut self) -> Result<(), LinkError> {
        let n = self.io.read(&mut self.buf).await?;
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        tracing::trace!(bytes = %String::from_utf8_lossy(&self.buf[..n]).escape_debug(), "from modem");
        self.engine.handle_input(&self.buf[..n], now());
        Ok(())
    }

    /// Sorts the engine's events: URCs are queued, strays counted, a completion returned.
    fn drain(&mut self) -> Option<(crate::at::CommandId, Result<Response, CommandError>)> {
        let mut done = None;
        while let Some(ev) = self.engine.poll_event() {
            match ev {
                Event::Urc(u) => self.urcs.push_back(u),
                Event::Stray(line) => {
                    self.stray += 1;
                    tracing::debug!(%line, "modem line belongs to no command");
                }
                Event::Completed { id, result } => done = Some((id, result)),
            }
        }
        done
    }

    /// Runs one command to its final result code or timeout.
    pub async fn command(&mut self, command: Command) -> Result<Outcome, LinkError> {
        tracing::debug!(command = %command.line, "AT");
        let id = self.engine.submit(command, now());
        loop {
            self.flush().await?;
            if let Some((done, result)) = self.drain()
                && done == id
            {
                return Ok(match result {
                    Ok(r) => {
                        tracing::debug!(result = %r.result, lines = r.lines.len(), "AT answer");
                        Outcome::Answered(r)
                    }
                    Err(e) => Outcome::Failed(e),
                });
            }
            let deadline = self.engine.poll_timeout();
            tokio::select! {
                r = self.read_some() => r?,
                () = sleep_until(deadline) => self.engine.handle_timeout(now()),
            }
        }
    }

    /// A URC that arrived during an earlier command, if any.
    pub fn take_urc(&mut self) -> Option<Urc> {
        self.urcs.pop_front()
    }

    /// Waits for the next URC. Cancel-safe: bytes read are processed before it returns to a
    /// `select!`, and queued URCs stay queued.
    pub async fn next_urc(&mut self) -> Result<Urc, LinkError> {
        loop {
            if let Some(u) = self.urcs.pop_front() {
                return Ok(u);
            }
            self.read_some().await?;
            let _ = self.drain();
        }
    }
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}
