//! How the driver reaches a modem: a serial device (`/dev/ttyUSB0` at a baud rate, or a
//! pseudo-terminal path), a TCP serial server (`tcp://host:port`, as ser2net offers), or any
//! in-process stream (the simulator in tests). The driver is generic over [`ModemStream`] and
//! reopens through an [`Opener`] after a reset.

pub mod tty;

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};

pub use tty::{Pty, Tty};

/// Any byte stream to a modem.
pub trait ModemStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> ModemStream for T {}

/// A boxed modem stream.
pub type BoxStream = Box<dyn ModemStream>;

/// The future [`Opener::open`] returns.
pub type OpenFuture<'a> = Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + 'a>>;

/// Opens (and, after a reset, reopens) the link to a modem.
pub trait Opener: Send + Sync + 'static {
    /// A fresh stream; the previous one has been dropped.
    fn open(&self) -> OpenFuture<'_>;
    /// For logs and `/v1/connectors`, e.g. `/dev/ttyUSB0@115200`.
    fn describe(&self) -> String;
}

/// A configured device: `device = "/dev/ttyUSB0"` with `baud`, or `device = "tcp://host:port"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Device {
    /// A serial port or pseudo-terminal.
    Serial {
        /// Device path.
        path: PathBuf,
        /// Line speed.
        baud: u32,
    },
    /// A TCP serial server.
    Tcp {
        /// `host:port`.
        addr: String,
    },
}

/// Why a `device` setting is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// Nothing was given.
    #[error("device is empty; give a path such as /dev/ttyUSB0 or tcp://host:port")]
    Empty,
    /// `tcp://` without `host:port`.
    #[error("device '{0}': expected tcp://host:port")]
    BadTcp(String),
    /// A baud rate of 0.
    #[error("baud must be greater than 0")]
    BadBaud,
}

impl Device {
    /// Reads a `device` setting.
    pub fn parse(device: &str, baud: u32) -> Result<Self, DeviceError> {
        let device = device.trim();
        if device.is_empty() {
            return Err(DeviceError::Empty);
        }
        if let Some(addr) = device.strip_prefix("tcp://") {
            let ok = addr
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !ok {
                return Err(DeviceError::BadTcp(device.to_owned()));
            }
            return Ok(Self::Tcp {
                addr: addr.to_owned(),
            });
        }
        if baud == 0 {
            return Err(DeviceError::BadBaud);
        }
        Ok(Self::Serial {
            path: PathBuf::from(device),
            baud,
        })
    }
}

impl Opener for Device {
    fn open(&self) -> OpenFuture<'_> {
        Box::pin(async move {
            match self {
                Device::Serial { path, baud } => Ok(Box::new(Tty::open(path, *baud)?) as BoxStream),
                Device::Tcp { addr } => {
                    let s = tokio::net::TcpStream::connect(addr.as_str()).await?;
                    s.set_nodelay(true)?;
                    Ok(Box::new(s) as BoxStream)
                }
            }
        })
    }

    fn describe(&self) -> String {
        match self {
            Device::Serial { path, baud } => format!("{}@{baud}", path.display()),
            Device::Tcp { addr } => format!("tcp://{addr}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_settings_parse() {
        assert_eq!(
            Device::parse("/dev/ttyUSB0", 115200),
            Ok(Device::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: 115200
            })
        );
        assert_eq!(
            Device::parse("tcp://10.0.0.5:4001", 0),
            Ok(Device::Tcp {
                addr: "10.0.0.5:4001".into()
            })
        );
        assert!(Device::parse("tcp://nohost", 1).is_err());
        assert!(Device::parse(" ", 1).is_err());
        assert!(Device::parse("/dev/x", 0).is_err());
    }
}
