//! Record, request and response encodings (placeholder until the codec lands).
