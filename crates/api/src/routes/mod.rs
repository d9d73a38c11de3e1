//! Route handlers, grouped by resource.

pub mod alerts;
pub mod inbound;
pub mod messages;
pub mod registry;
pub mod routing;
pub mod system;
pub mod webhooks;

use crate::AppState;
use crate::error::ApiError;

/// The IoT engine's handle, or 503 `iot_unavailable` while it is not running.
pub(crate) fn iot_service(state: &AppState) -> Result<&smsgate_iot::task::IotService, ApiError> {
    state.iot.as_ref().ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "iot_unavailable",
            "the IoT engine is not running",
        )
    })
}
