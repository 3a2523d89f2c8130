//! The e2e suite lives in `tests/`; this crate has no library code.
