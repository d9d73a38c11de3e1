//! API errors: an HTTP status and `{"error": {"code", "message"}}` (SPEC.md § HTTP API).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use smsgate_core::intake::{IntakeError, Rejection};
use smsgate_core::store::StoreError;
use utoipa::ToSchema;

/// An error answer. Client mistakes are logged at debug, our own faults at error.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: String,
}

/// The error body as the OpenAPI document describes it.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message of an error.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `invalid_number`.
    pub code: String,
    /// Explanation for people.
    pub message: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        if r.code == "opted_out" || r.code == "no_consent" {
            // Valid, and refused by policy: 422 as Twilio's 21610 is a 400 only by accident.
            return Self::new(StatusCode::UNPROCESSABLE_ENTITY, r.code, r.message);
        }
        Self::bad_request(r.code, r.message)
    }
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Rejected(r) => r.into(),
            IntakeError::QueueFull(full) => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "queue_full",
                format!(
                    "{} messages are waiting, the configured bound is {} ([limits] max_queued); \
                     retry after the Retry-After delay",
                    full.depth, full.max
                ),
            ),
            IntakeError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error while serving a request");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the message store is unavailable; retry shortly",
        )
    }
}

impl From<smsgate_iot::IotError> for ApiError {
    fn from(e: smsgate_iot::IotError) -> Self {
        use smsgate_iot::IotError as E;
        match e {
            E::Invalid { code, message } => Self::bad_request(code, message),
            E::NotFound(what) => Self::not_found(&what),
            E::Conflict { code, message } => Self::new(StatusCode::CONFLICT, code, message),
            E::Store(e) => e.into(),
            E::Stopped => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "iot_unavailable",
                "the IoT engine is not running on this node (several nodes on one database \
                 run it on the leader only: see GET /v1/nodes)",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            tracing::debug!(code = self.code, message = %self.message, "request refused");
        }
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut res = (self.status, axum::Json(body)).into_response();
        // Tell well-behaved clients when to come back.
        let retry_after = match self.status {
            StatusCode::TOO_MANY_REQUESTS => Some("2"),
            StatusCode::SERVICE_UNAVAILABLE => Some("5"),
            _ => None,
        };
        if let Some(v) = retry_after {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(v),
            );
        }
        res
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
