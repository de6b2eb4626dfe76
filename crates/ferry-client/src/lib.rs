//! ferry-client: the sans-I/O client of ferry.
//!
//! **What it leaves out.** No socket, no clock, no thread, no DNS: like the core, it takes
//! bytes and instants and gives bytes, events and deadlines. A driver (`ferry-blocking`, and
//! later `ferry-smol`, `ferry-mem`) dials, moves bytes and waits, and makes no decision.
//!
//! **What it does.** Turns a [`Route`](ferry_proto::Route) into a [`Plan`] (the address to dial
//! and the layers above it, as data) and a plan into a [`Stack`]: TLS to an `https://` proxy,
//! the core's CONNECT handshake with its 407 rounds, TLS to the origin, then HTTP/1.1, offered
//! to the driver as one machine with the core's contract. One error type, [`Error`], names the
//! [`Phase`] that failed for the stack and the drivers alike.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod plan;
mod retry;
mod settings;
mod stack;

pub use error::{Error, ErrorKind, Phase};
pub use plan::{Form, Layer, Peer, Plan};
pub use retry::may_retry;
pub use settings::TlsSettings;
pub use stack::{Output, Stack, TransportOp};
