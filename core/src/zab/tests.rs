//! Tests of the pure ZAB pieces.
