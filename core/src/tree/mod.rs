//! The data tree (placeholder).
