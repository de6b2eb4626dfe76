//! Test support for ferry: certificates made by rcgen (a CA and the leaves it signs) and the
//! rustls server configurations that present them.
//!
//! Everything here is for tests and the demo: keys are generated fresh in memory on every run
//! and never written anywhere the caller does not ask for.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod certs;
