//! Errors of the IoT engine and its service handle; the API maps them to JSON errors.

use smsgate_core::store::StoreError;

/// Why an IoT request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum IotError {
    /// The request is malformed (bad id, number, expression, template, pattern); HTTP 400 with
    /// `code`.
    #[error("{message}")]
    Invalid {
        /// Stable code (`invalid_condition`, `invalid_number`, …).
        code: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The named thing does not exist; HTTP 404.
    #[error("{0} not found")]
    NotFound(String),
    /// The request contradicts the current state (a number already registered, an alert
    /// already resolved); HTTP 409 with `code`.
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// What is in the way.
        message: String,
    },
    /// The store failed; HTTP 503.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine task has stopped (shutdown); HTTP 503.
    #[error("the IoT engine is not running")]
    Stopped,
}

impl IotError {
    /// An [`IotError::Invalid`].
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }

    /// An [`IotError::Conflict`].
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
}
