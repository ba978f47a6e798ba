//! Shared helpers for zab integration tests.
