//! The AT-command layer without I/O: line framing ([`framer`]), classification of lines
//! ([`mod@line`]), error meanings ([`errors`]), the command engine ([`engine`]) and the parsers of
//! the information responses the gateway uses ([`info`]).

pub mod command;
pub mod engine;
pub mod errors;
pub mod framer;
pub mod info;
pub mod line;

pub use command::{Command, CommandError, Response, Stage};
pub use engine::{CommandId, Engine, EngineConfig, Event};
pub use errors::{CmeError, CmsError, SendClass};
pub use line::{Final, Urc};
