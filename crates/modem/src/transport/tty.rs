//! Serial ports and pseudo-terminals as tokio byte streams, through rustix's safe termios and
//! pty calls (no libudev, no `unsafe`). The non-blocking descriptor is duplicated into tokio's
//! pipe reader and writer, which read and write any non-blocking descriptor.

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use rustix::fs::{Mode, OFlags};
use rustix::termios::{self, ControlModes, OptionalActions, QueueSelector, SpecialCodeIndex};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::unix::pipe;

/// A non-blocking terminal file descriptor (serial port, pty slave or pty master).
#[derive(Debug)]
pub struct Tty {
    rx: pipe::Receiver,
    tx: pipe::Sender,
}

/// Puts a terminal in raw mode: no echo, no line editing, no CR/LF translation, 8N1; `baud`
/// when given (pseudo-terminals accept any speed and ignore it).
fn make_raw(fd: &OwnedFd, baud: Option<u32>) -> io::Result<()> {
    let mut t = termios::tcgetattr(fd)?;
    t.make_raw();
    t.control_modes |= ControlModes::CLOCAL | ControlModes::CREAD;
    t.special_codes[SpecialCodeIndex::VMIN] = 1;
    t.special_codes[SpecialCodeIndex::VTIME] = 0;
    if let Some(b) = baud {
        t.set_speed(b)?;
    }
    termios::tcsetattr(fd, OptionalActions::Now, &t)?;
    Ok(())
}

impl Tty {
    /// Opens a serial device (or a pty slave) in raw mode at `baud`, and discards whatever
    /// the line still held from before (a late answer to a previous session).
    pub fn open(path: &Path, baud: u32) -> io::Result<Self> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDWR | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        make_raw(&fd, Some(baud))?;
        termios::tcflush(&fd, QueueSelector::IOFlush)?;
        Self::from_nonblocking(fd)
    }

    /// Wraps a descriptor that is already non-blocking (must run inside the tokio runtime).
    fn from_nonblocking(fd: OwnedFd) -> io::Result<Self> {
        let writer = rustix::io::dup(&fd)?;
        Ok(Self {
            rx: pipe::Receiver::from_owned_fd_unchecked(fd)?,
            tx: pipe::Sender::from_owned_fd_unchecked(writer)?,
        })
    }
}

/// A pseudo-terminal pair for the modem simulator: the master as a stream, the slave's path
/// for the gateway, and an open slave descriptor that keeps the line up (and raw) while the
/// gateway closes and reopens the device.
#[derive(Debug)]
pub struct Pty {
    /// The simulator's side.
    pub master: Tty,
    /// The device path to give the gateway (`/dev/pts/N`).
    pub path: PathBuf,
    _slave: OwnedFd,
}

impl Pty {
    /// Allocates a pseudo-terminal.
    pub fn open() -> io::Result<Self> {
        use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let name = ptsname(&master, Vec::new())?;
        let path = PathBuf::from(name.to_string_lossy().into_owned());
        let slave = rustix::fs::open(
            &path,
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        make_raw(&slave, None)?;
        let flags = rustix::fs::fcntl_getfl(&master)?;
        rustix::fs::fcntl_setfl(&master, flags | OFlags::NONBLOCK)?;
        Ok(Self {
            master: Tty::from_nonblocking(master)?,
            path,
            _slave: slave,
        })
    }
}

impl AsyncRead for Tty {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.rx).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tty {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tx).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tx).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tx).poll_shutdown(cx)
    }
}
