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
//! `NO_PROXY` ([`ProxyConfig`]), and keeps the idle-connection [`Pool`]'s books.
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
//! let mut conn = Connection::new(Config::default());
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
//! - [`Connection`]: the state machine, its theory of operation and state diagram.
//! - [`encode_request`], [`Request`], [`Connect`]: what goes on the wire.
//! - [`parse_response_head`], [`ResponseHead::semantics`]: heads, framing, keep-alive.
//! - [`ProxyConfig`], [`Proxies`], [`EnvProxies`], [`NoProxy`], [`Route`]: which way a
//!   request goes; [`Pool`]: idle connections by [`RouteKey`].
//! - [`Error`]: one error type, with [`Blame`] and the facts a retry decision needs.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod auth;
mod chunked;
mod config;
mod conn;
#[cfg(test)]
mod conn_tests;
mod error;
mod headers;
#[cfg(feature = "http")]
mod http_compat;
mod pool;
mod request;
mod response;
mod route;
mod time;
mod url;

pub use auth::{Challenge, Credentials, ProxyAuth, ProxyAuthenticator};
pub use config::{Config, Limits, Profile, Timeouts};
pub use conn::{CloseReason, Connection, End, Event, Output, Transmit};
pub use error::{Blame, Error, ErrorKind, Part, RequestSent, Result};
pub use headers::{Headers, check_field, is_token, is_valid_value, list_contains};
pub use pool::{Pool, PoolConfig, Put, Reusable, Take};
pub use request::{
    Body, Connect, HeadInfo, Method, Request, TargetForm, chunk_size_line, encode_request,
};
pub use response::{Framing, ResponseHead, Semantics, Version, parse_response_head};
pub use route::{
    Diagnostic, EnvProxies, InvalidNoProxyEntry, NoProxy, NoProxyEntry, NoProxyMatch, NoProxyRule,
    NoProxySource, Proxies, Proxy, ProxyConfig, ProxyDecision, ProxyKey, ProxyMode, ProxySource,
    Route, RouteKey, parse_no_proxy,
};
pub use time::{TimerKind, Timestamp};
pub use url::{Authority, Host, Scheme, Url};
