//! ferry-proto: the sans-I/O HTTP/1.1 client core (crate docs are written with the state machine).
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
pub use pool::{Pool, PoolConfig, Put};
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
