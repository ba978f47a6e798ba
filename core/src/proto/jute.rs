//! Jute primitives (placeholder until the codec lands).

/// A decoding failure.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended early.
    #[error("truncated")]
    Truncated,
}

/// Reads jute primitives from a byte slice.
pub struct JuteReader;
/// Writes jute primitives into a buffer.
pub struct JuteWriter;
