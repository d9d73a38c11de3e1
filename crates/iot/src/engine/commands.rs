//! Commands to devices: `pending → sent → acknowledged | failed | timed_out`.
//!
//! A command is an SMS to the device's number. Its state follows the SMS (`sent` once the
//! network took it, `failed` if it could not be delivered) and then the device's answer: the
//! first message from the device's number that matches the command's `expect` pattern (any
//! message when there is none) acknowledges the oldest outstanding command it matches; one
//! matching `error_pattern` fails it. No answer by the deadline: `timed_out`.

use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use smsgate_core::message::{MessageId, Status};
use utoipa::ToSchema;

use super::Engine;
use crate::error::IotError;
use crate::model::{Command, CommandEncoding, CommandState};
use crate::view;

/// `POST /v1/devices/{id}/commands`.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    /// The command text, e.g. `OFF`.
    pub command: String,
    /// `text` (default) or `binary` (8-bit data).
    #[serde(default)]
    pub encoding: CommandEncoding,
    /// Regular expression the reply must match to acknowledge; any reply when absent.
    #[serde(default)]
    pub expect: Option<String>,
    /// Regular expression that marks a reply as an error (`failed`).
    #[serde(default)]
    pub error_pattern: Option<String>,
    /// Time the device has to answer, e.g. `"2m"`; default `iot.command_timeout`.
    #[serde(default, with = "humantime_serde")]
    #[schema(value_type = Option<String>, example = "2m")]
    pub timeout: Option<Duration>,
}

/// A command still waiting, with its patterns compiled.
pub(super) struct Outstanding {
    pub(super) cmd: Command,
    expect: Option<Regex>,
    error: Option<Regex>,
}

impl Outstanding {
    /// Compiles the patterns of a stored command (they were checked when it was sent).
    pub(super) fn new(cmd: Command) -> Self {
        let compile = |p: &Option<String>| p.as_deref().and_then(|p| Regex::new(p).ok());
        Self {
            expect: compile(&cmd.expect),
            error: compile(&cmd.error_pattern),
            cmd,
        }
    }
}

/// Checks that an optional pattern compiles.
pub(super) fn check_pattern(field: &str, p: Option<&str>) -> Result<(), IotError> {
    if let Some(p) = p {
        Regex::new(p)
            .map_err(|e| IotError::invalid("invalid_pattern", format!("{field} '{p}': {e}")))?;
    }
    Ok(())
}

impl Engine {
    /// Sends a command to a device (`POST /v1/devices/{id}/commands`).
    pub fn send_command(
        &mut self,
        device_id: &str,
        req: CommandRequest,
        owner: Option<String>,
        now: i64,
    ) -> Result<Command, IotError> {
        self.batch.now = now;
        self.send_command_inner(device_id, req, owner, None, now)
    }

    pub(super) fn send_command_inner(
        &mut self,
        device_id: &str,
        req: CommandRequest,
        owner: Option<String>,
        alert_id: Option<i64>,
        now: i64,
    ) -> Result<Command, IotError> {
        let Some(dev) = self.devices.get(device_id) else {
            return Err(IotError::NotFound(format!("device '{device_id}'")));
        };
        let command = req.command.trim().to_owned();
        if command.is_empty() {
            return Err(IotError::invalid("invalid_command", "command is empty"));
        }
        let word = command.split_whitespace().next().unwrap_or("");
        if !dev.commands.is_empty() && !dev.commands.iter().any(|c| c.eq_ignore_ascii_case(word)) {
            return Err(IotError::invalid(
                "command_not_allowed",
                format!(
                    "device '{device_id}' accepts only {}",
                    dev.commands.join(", ")
                ),
            ));
        }
        check_pattern("expect", req.expect.as_deref())?;
        check_pattern("error_pattern", req.error_pattern.as_deref())?;
        let number = dev.row.device.number.clone();
        let timeout = req.timeout.unwrap_or(self.config.command_timeout);
        if timeout.is_zero() {
            return Err(IotError::invalid(
                "invalid_timeout",
                "timeout must be at least 1s",
            ));
        }
        let owner = owner.or(dev.row.device.owner.clone());
        let encoding = match req.encoding {
            CommandEncoding::Text => None,
            CommandEncoding::Binary => Some("binary"),
            CommandEncoding::Hex => Some("hex"),
        };
        let Some(message_id) =
            self.queue_sms(&number, &command, encoding, timeout, owner.as_ref(), now)
        else {
            return Err(IotError::invalid(
                "invalid_command",
                "the command cannot be sent as one SMS message (too long or not encodable)",
            ));
        };
        let id = self.next_command_id;
        self.next_command_id += 1;
        let cmd = Command {
            id,
            device_id: device_id.to_owned(),
            command,
            encoding: req.encoding,
            state: CommandState::Pending,
            message_id: Some(message_id),
            expect: req.expect,
            error_pattern: req.error_pattern,
            reply: None,
            error: None,
            created_at: now,
            updated_at: now,
            deadline: now + timeout.as_millis() as i64,
            alert_id,
            owner,
        };
        tracing::info!(command = id, device = device_id, "command queued");
        self.event("command.pending", view::command_json(&cmd));
        self.batch.commands.push(cmd.clone());
        self.commands.insert(id, Outstanding::new(cmd.clone()));
        Ok(cmd)
    }

    /// SMS ids of commands not yet known to be sent, for the caller to look up.
    pub fn awaiting_network(&self) -> Vec<MessageId> {
        self.commands
            .values()
            .filter(|c| c.cmd.state == CommandState::Pending)
            .filter_map(|c| c.cmd.message_id)
            .collect()
    }

    /// The status of a command's SMS: `sent`/`delivered` moves it to `sent`; a failure fails it.
    pub fn handle_message_status(&mut self, message_id: MessageId, status: Status, now: i64) {
        let Some(id) = self
            .commands
            .values()
            .find(|c| c.cmd.message_id == Some(message_id))
            .map(|c| c.cmd.id)
        else {
            return;
        };
        self.batch.now = now;
        match status {
            Status::Sent | Status::Delivered => {
                self.move_command(id, CommandState::Sent, None, None, now)
            }
            Status::Failed | Status::Undelivered | Status::Expired | Status::Canceled => {
                let why = format!("the SMS was {status}");
                self.move_command(id, CommandState::Failed, None, Some(why), now)
            }
            Status::Queued | Status::Sending => {}
        }
    }

    /// Takes a device's message as the reply to its oldest outstanding command it matches.
    /// Returns whether it was one.
    pub(super) fn take_reply(&mut self, device_id: &str, text: &str, now: i64) -> bool {
        let found = self
            .commands
            .values()
            .filter(|c| c.cmd.device_id == device_id)
            .find_map(|c| {
                if c.error.as_ref().is_some_and(|re| re.is_match(text)) {
                    Some((c.cmd.id, CommandState::Failed))
                } else if c.expect.as_ref().is_none_or(|re| re.is_match(text)) {
                    Some((c.cmd.id, CommandState::Acknowledged))
                } else {
                    None
                }
            });
        let Some((id, state)) = found else {
            return false;
        };
        let error =
            (state == CommandState::Failed).then(|| "the device answered with an error".into());
        self.move_command(id, state, Some(text.to_owned()), error, now);
        true
    }

    pub(super) fn run_command_timeouts(&mut self, now: i64) {
        let due: Vec<i64> = self
            .commands
            .values()
            .filter(|c| c.cmd.deadline <= now)
            .map(|c| c.cmd.id)
            .collect();
        for id in due {
            let why = "no matching reply before the deadline".to_owned();
            self.move_command(id, CommandState::TimedOut, None, Some(why), now);
        }
    }

    pub(super) fn fail_commands_of(&mut self, device_id: &str, why: &str, now: i64) {
        let ids: Vec<i64> = self
            .commands
            .values()
            .filter(|c| c.cmd.device_id == device_id)
            .map(|c| c.cmd.id)
            .collect();
        for id in ids {
            self.move_command(id, CommandState::Failed, None, Some(why.to_owned()), now);
        }
    }

    fn move_command(
        &mut self,
        id: i64,
        state: CommandState,
        reply: Option<String>,
        error: Option<String>,
        now: i64,
    ) {
        let Some(entry) = self.commands.get_mut(&id) else {
            return;
        };
        if entry.cmd.state == state {
            return;
        }
        entry.cmd.state = state;
        entry.cmd.updated_at = now;
        if reply.is_some() {
            entry.cmd.reply = reply;
        }
        if error.is_some() {
            entry.cmd.error = error;
        }
        let cmd = entry.cmd.clone();
        if !state.is_outstanding() {
            self.commands.remove(&id);
        }
        tracing::info!(command = id, state = state.as_str(), "command moved");
        self.event(
            &format!("command.{}", state.as_str()),
            view::command_json(&cmd),
        );
        self.batch.commands.push(cmd);
    }
}
