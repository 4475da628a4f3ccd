//! The model and its rules: pure types and functions, no AWS, HTTP or other I/O.

pub mod access;
pub mod api_key;
pub mod catalog;
pub mod console;
pub mod delivery;
pub mod endpoint_auth;
pub mod error;
pub mod event;
pub mod filter;
pub mod ids;
pub mod json_depth;
pub mod limits;
pub mod metrics;
pub mod net_policy;
pub mod quota;
pub mod recipient;
pub mod sealed;
pub mod secret;
pub mod settings;
pub mod special_ranges;
pub mod task;
pub mod timestamp;
pub mod topic;
pub mod webhook;
