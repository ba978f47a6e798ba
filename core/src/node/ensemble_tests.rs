//! Ensemble harness.
