//! ZAB unit tests.
