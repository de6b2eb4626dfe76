//! Cross-crate tests of ferry live in `tests/`; this library holds their shared helpers.

pub mod fuzz;
