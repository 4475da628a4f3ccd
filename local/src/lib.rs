//! The local stack: a moto server standing in for AWS, the resources of `template.yaml`
//! created in it, and the SDK configuration that points at it. Used by `make run`
//! (`hookline-local`) and by the integration tests, so both build the stack the same way.

pub mod aws_proxy;
pub mod chaos;
pub mod cost;
pub mod listen;
pub mod moto;
pub mod pump;
pub mod sdk;
pub mod stack;
