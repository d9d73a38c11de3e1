//! Route handlers, grouped by resource.

pub mod messages;
pub mod other;
