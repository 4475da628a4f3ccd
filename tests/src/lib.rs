//! Integration tests for Hookline: see `tests/`.
