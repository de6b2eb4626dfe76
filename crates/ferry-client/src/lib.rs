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
//!
//! **The client's decisions**, each a pure value a driver consults: [`Call`] (one logical
//! request across redirects and retries, under one deadline: what to send next, whether to
//! follow, what to strip, whether to retry), [`ClientPool`] (idle connections by route, open
//! ones counted against a per-route limit), [`ContentDecoder`] (`Content-Encoding` under a
//! size limit), and, with the `cookies` feature, [`Jar`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod call;
mod content;
#[cfg(feature = "cookies")]
mod cookies;
mod error;
mod plan;
mod pool;
mod read_buffer;
mod retry;
mod session;
mod settings;
mod stack;
mod trace;

pub use call::{Call, CallBody, Next, RedirectPolicy};
pub use content::{ACCEPT_ENCODING, ContentDecoder};
#[cfg(feature = "cookies")]
pub use cookies::Jar;
pub use error::{Error, ErrorKind, Phase, RedirectError, Timeout};
pub use plan::{Form, Layer, Peer, Plan};
pub use pool::{Checkout, ClientPool};
pub use read_buffer::ReadBuffer;
pub use retry::may_retry;
pub use session::{
    ClientBuilder, ClientDriver, Hop, RequestBody, RequestBuilder, RequestSpec, Session, Timings,
    USER_AGENT,
};
pub use settings::TlsSettings;
pub use stack::{Instants, Output, Stack, TransportOp};

/// A final response head to `tracing` (target `ferry::response`), credentials masked.
pub fn trace_response(head: &ferry_proto::ResponseHead) {
    stack::trace_head("ferry::response", "response", head);
}

/// Header fields for `tracing`, credentials masked: `Name: value` lines joined by `\n`.
#[must_use]
pub fn masked_fields<'a, V: AsRef<[u8]> + 'a>(
    fields: impl Iterator<Item = (&'a str, V)>,
) -> String {
    trace::fields(fields).to_string()
}
