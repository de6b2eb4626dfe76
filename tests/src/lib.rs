//! Cross-crate tests of ferry live in `tests/`; this library holds their shared helpers.

pub mod fuzz;

/// The README's code, compiled and run as a doctest so it cannot rot.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
