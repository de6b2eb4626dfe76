//! ferry-blocking: ferry over std sockets.
//!
//! The driver ([`driver`](crate) module, private) resolves the first hop of a route, tries each
//! address within the connect deadline, sets `TCP_NODELAY`, moves bytes between the socket and
//! the sans-I/O [`Stack`](ferry_client::Stack) (one reused read buffer, vectored writes), sets
//! the socket's timeouts from the stack's next deadline (again only when the one set would wake
//! a call too late), probes an idle connection with one non-blocking peek when the stack asks
//! for it, and reports I/O errors to the stack. It makes no protocol decision: the stack and the core make them all, for every
//! driver.
//!
//! On top: [`Connection`], after Python's `http.client`, and [`Client`], after a Requests
//! `Session`: a pool, proxies (explicit, per host, from the environment), redirects, retries,
//! content decoding, timeouts, and cookies with the `cookies` feature.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod connection;
mod driver;
mod exchange;

pub use client::{Client, ClientBuilder, RequestBuilder, Response};
pub use connection::{Connection, ConnectionBuilder, Response as ConnectionResponse};
pub use exchange::Body;
pub use ferry_client::{Error, ErrorKind, Phase, RedirectError, Timeout, Timings, USER_AGENT};
pub use ferry_proto::Scheme;
pub use ferry_proto::proxy::{EnvProxies, NoProxy, Proxies};
pub use ferry_proto::proxy::{Proxy, ProxyMode};
pub use ferry_proto::{Headers, ResponseHead, Url, Version};
pub use ferry_tls::{TlsConfig, TlsConfigBuilder};
