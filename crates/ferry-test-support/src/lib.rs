//! Test support for ferry: certificates made by rcgen (a CA and the leaves it signs), and
//! servers on loopback to run a client against.
//!
//! - [`certs`]: a CA and its leaves, and the rustls server configurations that present them.
//! - [`origin`]: an in-process origin, HTTP or HTTPS, with routes for a client's tests, a hook
//!   for raw behaviour, counters and a log of the requests it saw.
//! - [`proxy`]: an in-process HTTP proxy (plain or behind TLS) that forwards absolute-form
//!   requests and tunnels CONNECT, with optional Basic auth, counters and a log.
//! - [`real`]: tinyproxy and squid, the Debian binaries, configured and started per test.
//!
//! Everything binds `127.0.0.1` only, runs on background threads with blocking std sockets,
//! and stops on drop. Keys are generated fresh in memory on every run and never written
//! anywhere the caller does not ask for.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod certs;
pub mod origin;
pub mod proxy;
pub mod real;
mod server;
mod wire;

pub use wire::SeenRequest;
