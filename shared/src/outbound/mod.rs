//! One webhook request, built and judged, without I/O: the body rendered, the request signed
//! and assembled, the answer classified, the next attempt scheduled.

pub mod integration;
pub mod mail;
pub mod render;
pub mod request;
pub mod retry;
pub mod signatures;
pub mod verdict;
