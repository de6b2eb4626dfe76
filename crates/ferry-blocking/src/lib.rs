//! ferry-blocking: ferry over std sockets.
//!
//! The driver ([`driver`](crate) module, private) resolves the first hop of a route, tries each
//! address within the connect deadline, sets `TCP_NODELAY`, moves bytes between the socket and
//! the sans-I/O [`Stack`](ferry_client::Stack) (one reused read buffer, vectored writes), sets
//! the socket's read timeout from the stack's next deadline, and reports I/O errors to the
//! stack. It makes no protocol decision: the stack and the core make them all, for every
//! driver.
//!
//! On top: [`Connection`], after Python's `http.client`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod connection;
mod driver;

pub use connection::{Body, Connection, ConnectionBuilder, Response};
pub use ferry_client::{Error, ErrorKind, Phase};
pub use ferry_proto::Scheme;
pub use ferry_proto::proxy::{Proxy, ProxyMode};
pub use ferry_tls::{TlsConfig, TlsConfigBuilder};
