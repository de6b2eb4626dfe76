//! ferry-proto: the sans-I/O protocol core of the ferry HTTP/1.1 client.
//!
//! **What it leaves out.** No networking, no clock, no threads, no TLS I/O, no DNS, no
//! environment variables. Bytes and instants go in; bytes to write, events and the next
//! deadline come out. A driver owns the socket (or TLS session), reads into one `BytesMut`,
//! writes what it is handed, sleeps until [`Connection::poll_timeout`], and maps I/O errors: it
//! makes no protocol decision. Everything that needs a decision lives here, so one set of tests
//! covers every driver.
//!
//! **What it does.** Encodes requests (origin-form, absolute-form through a proxy,
//! authority-form `CONNECT`), checks every byte it writes, frames responses by RFC 9112 §6.3,
//! decodes chunked bodies strictly and under caps, handles interim responses and
//! `Expect: 100-continue`, decides keep-alive, runs the CONNECT handshake with proxy
//! authentication ([`Connection::send_connect`]), picks routes through proxies with
//! `NO_PROXY` ([`proxy::ProxyConfig`]), and keeps the idle-connection [`Pool`]'s books.
//!
//! **Reach.** `#![no_std]` with `alloc`. Features: `std` (default: `std::error::Error`,
//! [`Timestamp`] for `std::time::Instant`) and `http` (default: conversions to and from the
//! `http` crate's types).
//!
//! # A whole GET over in-memory bytes
//!
//! The driver loop with the transport replaced by two byte strings and the clock by a
//! `Duration`:
//!
//! ```
//! use std::time::Duration;
//! use bytes::BytesMut;
//! use ferry_proto::{Config, Connection, End, Event, Output, Request, Url};
//!
//! let mut conn = Connection::new(Duration::ZERO, Config::default());
//! let now = Duration::ZERO; // any `Timestamp`: a driver passes `Instant::now()`
//!
//! // 1. The request head is encoded and handed out for writing.
//! let url = Url::parse("http://example.com/hello?lang=en").unwrap();
//! conn.send_request(now, &Request::get(url).header("Accept", "text/plain")).unwrap();
//! let Output::Transmit(wire) = conn.poll_output() else { panic!() };
//! assert_eq!(&wire[..], b"GET /hello?lang=en HTTP/1.1\r\nHost: example.com\r\nAccept: text/plain\r\n\r\n");
//! assert!(matches!(conn.poll_output(), Output::NeedInput));
//!
//! // 2. The response arrives in two reads, split anywhere.
//! let mut input = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello"[..]);
//! conn.handle_input(now, &mut input);
//! let Output::Event(Event::ResponseHead(head)) = conn.poll_output() else { panic!() };
//! assert_eq!((head.status(), head.reason()), (200, "OK"));
//! assert_eq!(head.headers().get("content-length"), Some(&b"11"[..]));
//! let Output::Event(Event::Data(data)) = conn.poll_output() else { panic!() };
//! assert_eq!(&data[..], b"hello");
//! assert!(matches!(conn.poll_output(), Output::NeedInput));
//!
//! input.extend_from_slice(b" world");
//! conn.handle_input(now, &mut input);
//! let Output::Event(Event::Data(data)) = conn.poll_output() else { panic!() };
//! assert_eq!(&data[..], b" world");
//!
//! // 3. The exchange ends; the connection may carry another request.
//! assert!(matches!(conn.poll_output(), Output::End(End::Done { reusable: true })));
//! assert!(matches!(conn.poll_output(), Output::Idle));
//! assert!(input.is_empty(), "every byte was consumed");
//! // An idle connection is closed after `Timeouts::idle` (90 s by default).
//! assert_eq!(conn.poll_timeout(), Some(Duration::from_secs(90)));
//! ```
//!
//! # Where things are
//!
//! - At the root, the machine: [`Connection`] (its theory of operation and state diagram),
//!   its [`Config`], its inputs ([`Request`], [`Connect`], [`Eof`], [`Timestamp`]) and
//!   outputs ([`Output`], [`Event`], [`End`]), [`Route`] and the [`Pool`] of idle
//!   connections by [`RouteKey`], and [`Error`]: one error type, with [`Blame`] and the facts
//!   a retry decision needs.
//! - [`proxy`]: which way a request goes ([`proxy::ProxyConfig`], [`proxy::Proxies`],
//!   [`proxy::EnvProxies`], [`proxy::NoProxy`]).
//! - [`wire`]: the wire format as pure functions ([`wire::encode_request`],
//!   [`wire::HeadParser`], [`ResponseHead::semantics`], [`wire::Decoder`] for `gzip` /
//!   `deflate`).
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod auth;
mod chunked;
mod coding;
mod config;
mod conn;
#[cfg(test)]
mod conn_tests;
mod connect;
mod error;
mod headers;
#[cfg(feature = "http")]
mod http_compat;
mod pool;
mod request;
mod response;
mod route;
#[doc(hidden)]
pub mod testing;
mod time;
mod url;

// The machine and what a driver hands it or gets from it.
pub use auth::{Challenge, Credentials, ProxyAuth, ProxyAuthenticator};
pub use config::{Config, Limits, Profile, Timeouts};
pub use conn::{CloseReason, Connection, End, Eof, Event, Output, Phase, SetupPhase, Transmit};
pub use connect::Connect;
pub use error::{
    Blame, Call, Error, ErrorKind, Expected, HeadFault, Part, RequestSent, Result, TransportError,
};
pub use headers::Headers;
pub use pool::{Pool, PoolConfig, Put, Reusable, Take};
pub use request::{BodyFraming, CheckedFields, Method, Request};
pub use response::{ResponseHead, Version};
pub use route::{Route, RouteKey};
pub use time::{TimerKind, Timestamp};
pub use url::{Authority, Domain, Host, Scheme, Url, UrlError};

/// Proxy policy: which proxy, if any, a request goes through.
///
/// [`ProxyConfig::proxy_for`](crate::proxy::ProxyConfig::proxy_for) combines a client's
/// [`Proxies`](crate::proxy::Proxies) (a Requests-style map of `scheme://host`, `scheme` and
/// `all` entries), the environment as plain data ([`EnvProxies`](crate::proxy::EnvProxies):
/// `HTTP(S)_PROXY`, `ALL_PROXY`, `NO_PROXY`) and [`NoProxy`](crate::proxy::NoProxy) rules into
/// an explained [`ProxyDecision`](crate::proxy::ProxyDecision), whose
/// [`route`](crate::proxy::ProxyDecision::route) is the [`Route`] a driver carries out.
/// Nothing here reads the environment itself.
pub mod proxy {
    pub use crate::route::{
        Diagnostic, EnvProxies, InvalidNoProxyEntry, NoProxy, NoProxyEntry, NoProxyEntryError,
        NoProxyMatch, NoProxyRule, NoProxySource, Proxies, Proxy, ProxyConfig, ProxyDecision,
        ProxyKey, ProxyKeyError, ProxyMode, ProxySource, ProxyUrlError,
    };
}

/// The wire format as pure functions, for tools, tests and layers that need a piece of it
/// without a [`Connection`]: request encoding, response heads and their
/// framing (RFC 9112 §6.3), chunk-size lines, the token and field-value checks, and the
/// transfer-coding decoder. A driver needs none of it.
pub mod wire {
    pub use crate::coding::{Coding, Codings, Decoder};
    pub use crate::headers::{check_field, is_token, is_valid_value, list_contains};
    pub use crate::request::{HeadInfo, chunk_size_line, encode_request};
    pub use crate::response::{Framing, HeadParser, Semantics, parse_response_head};
}
