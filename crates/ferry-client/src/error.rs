//! One error for the stack and the drivers: what failed, in which phase, with the core's retry
//! facts.

use std::fmt;
use std::io;
use std::sync::Arc;

use ferry_proto::{ErrorKind as HttpKind, RequestSent};

/// The phase of a connection's life an error happened in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Looking up the name to dial.
    Resolve,
    /// Opening the transport to the first hop (the proxy, or the origin).
    Connect,
    /// The TLS handshake with an `https://` proxy.
    ProxyTls,
    /// The CONNECT handshake with the proxy, 407 rounds included.
    Tunnel,
    /// The TLS handshake with the origin.
    OriginTls,
    /// Sending the request.
    Send,
    /// Receiving the response.
    Receive,
}

impl Phase {
    fn describe(self) -> &'static str {
        match self {
            Phase::Resolve => "resolving the host name",
            Phase::Connect => "connecting",
            Phase::ProxyTls => "the TLS handshake with the proxy",
            Phase::Tunnel => "opening the tunnel through the proxy",
            Phase::OriginTls => "the TLS handshake with the server",
            Phase::Send => "sending the request",
            Phase::Receive => "receiving the response",
        }
    }
}

/// What failed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// HTTP, as the core saw it (including CONNECT refusals and proxy authentication).
    Http(ferry_proto::Error),
    /// TLS, with the proxy or the origin.
    Tls(ferry_tls::Error),
    /// The transport, as the driver reported it.
    Io(Arc<io::Error>),
    /// A deadline passed: which one is named (the core's own timers come as
    /// [`ErrorKind::Http`] with [`ferry_proto::ErrorKind::Timeout`]; [`Error::timeout`] names
    /// both alike).
    Timeout(Timeout),
    /// A redirect could not be followed.
    Redirect(RedirectError),
    /// The response's content coding (`Content-Encoding`) did not decode, or decoded past the
    /// limit (a decompression bomb).
    Content(ferry_proto::Error),
    /// The request cannot be sent on this connection (the route's settings refuse it).
    Request(ferry_proto::Error),
    /// Reading the caller's request body failed.
    Body(Arc<io::Error>),
    /// A call the connection's state does not allow (a response asked for with no request).
    Misuse {
        /// What was wrong.
        what: &'static str,
    },
}

/// Which deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timeout {
    /// Opening the transport ([`Timeouts::connect`](ferry_proto::Timeouts)), or, when the
    /// first hop is a proxy, the budget for reaching it.
    Connect,
    /// A TLS handshake ([`Timeouts::tls_handshake`](ferry_proto::Timeouts)).
    TlsHandshake,
    /// The CONNECT handshake ([`Timeouts::tunnel_setup`](ferry_proto::Timeouts)).
    Tunnel,
    /// Sending the request body: the gap between two pieces, or a blocked write.
    Write,
    /// The response head ([`Timeouts::response_head`](ferry_proto::Timeouts)).
    ResponseHead,
    /// The gap between two reads of the response body.
    Read,
    /// The whole request, every redirect and retry included.
    Request,
    /// Waiting for a connection when the pool's limit per host is reached.
    PoolWait,
}

impl Timeout {
    fn describe(self) -> &'static str {
        match self {
            Timeout::Connect => "connect timeout",
            Timeout::TlsHandshake => "TLS handshake timeout",
            Timeout::Tunnel => "tunnel setup timeout",
            Timeout::Write => "write timeout",
            Timeout::ResponseHead => "response head timeout",
            Timeout::Read => "read timeout",
            Timeout::Request => "whole-request timeout",
            Timeout::PoolWait => "pool wait timeout",
        }
    }

    /// The name of a core timer.
    fn of_timer(timer: ferry_proto::TimerKind) -> Option<Timeout> {
        use ferry_proto::TimerKind as K;
        Some(match timer {
            K::Connect => Timeout::Connect,
            K::TlsHandshake => Timeout::TlsHandshake,
            K::SendBody => Timeout::Write,
            K::ResponseHead => Timeout::ResponseHead,
            K::BodyRead => Timeout::Read,
            K::TunnelSetup => Timeout::Tunnel,
            _ => return None,
        })
    }
}

/// Why a redirect was not followed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectError {
    /// More redirects than the limit; the URLs visited, in order, the last one included.
    TooMany {
        /// Every URL of the chain, the first request's included.
        chain: Vec<String>,
    },
    /// An `https://` URL redirected to `http://` and the client does not allow it.
    Insecure {
        /// The `https://` URL.
        from: String,
        /// The `http://` URL it pointed to.
        to: String,
    },
    /// The `Location` is not a URL ferry can follow (another scheme, malformed).
    Location {
        /// The field's value, lossily decoded.
        location: String,
    },
}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectError::TooMany { chain } => {
                write!(
                    f,
                    "too many redirects ({}): {}",
                    chain.len().saturating_sub(1),
                    chain.join(" -> ")
                )
            }
            RedirectError::Insecure { from, to } => {
                write!(f, "refused to follow a redirect from {from} to the insecure {to}")
            }
            RedirectError::Location { location } => {
                write!(f, "the redirect's location {location:?} cannot be followed")
            }
        }
    }
}

/// The error of the stack and of every ferry driver.
#[derive(Clone)]
pub struct Error {
    phase: Phase,
    kind: ErrorKind,
    sent: RequestSent,
    response_started: bool,
    /// The failure was with the proxy (reaching it, its TLS, its CONNECT handling).
    proxy: bool,
}

impl Error {
    /// An error of this kind in this phase (for drivers; the stack makes its own).
    #[must_use]
    pub fn new(phase: Phase, kind: ErrorKind) -> Error {
        let (sent, response_started) = match &kind {
            ErrorKind::Http(e) => (e.request_sent(), e.response_started()),
            _ => (RequestSent::No, false),
        };
        Error { phase, kind, sent, response_started, proxy: false }
    }

    /// Marks the error as one with the proxy (the stack does, for the hops before the origin).
    #[must_use]
    pub fn at_proxy(mut self, yes: bool) -> Error {
        self.proxy = yes;
        self
    }

    /// Whether the failure was with the proxy: resolving or reaching it, its TLS handshake,
    /// or its handling of CONNECT (curl's exit code 5 for a proxy that does not resolve, say).
    #[must_use]
    pub fn is_proxy(&self) -> bool {
        self.proxy
    }

    /// Which deadline passed, whoever owned it (the stack, the core, the client).
    #[must_use]
    pub fn timeout(&self) -> Option<Timeout> {
        match &self.kind {
            ErrorKind::Timeout(t) => Some(*t),
            ErrorKind::Http(e) => match e.kind() {
                HttpKind::Timeout { timer } => Timeout::of_timer(*timer),
                _ => None,
            },
            _ => None,
        }
    }

    /// The redirect error, if a redirect was refused.
    #[must_use]
    pub fn redirect(&self) -> Option<&RedirectError> {
        match &self.kind {
            ErrorKind::Redirect(e) => Some(e),
            _ => None,
        }
    }

    /// Reading the caller's request body failed.
    #[must_use]
    pub fn body(e: io::Error) -> Error {
        Error::new(Phase::Send, ErrorKind::Body(Arc::new(e)))
    }

    /// A call the connection's state does not allow.
    #[must_use]
    pub fn misuse(phase: Phase, what: &'static str) -> Error {
        Error::new(phase, ErrorKind::Misuse { what })
    }

    pub(crate) fn with_progress(mut self, sent: RequestSent, response_started: bool) -> Error {
        if !matches!(self.kind, ErrorKind::Http(_)) {
            self.sent = sent;
            self.response_started = response_started;
        }
        self
    }

    /// The phase it failed in.
    #[must_use]
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// What failed.
    #[must_use]
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Whether a deadline passed (the stack's, the core's, or a socket's).
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        match &self.kind {
            ErrorKind::Timeout(_) => true,
            ErrorKind::Http(e) => e.is_timeout(),
            ErrorKind::Io(e) => {
                matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
            }
            ErrorKind::Tls(_)
            | ErrorKind::Request(_)
            | ErrorKind::Body(_)
            | ErrorKind::Redirect(_)
            | ErrorKind::Content(_)
            | ErrorKind::Misuse { .. } => false,
        }
    }

    /// Whether the first hop could not be reached (resolving or connecting).
    #[must_use]
    pub fn is_connect(&self) -> bool {
        matches!(self.phase, Phase::Resolve | Phase::Connect)
    }

    /// Whether TLS failed (with the proxy or the origin).
    #[must_use]
    pub fn is_tls(&self) -> bool {
        matches!(self.kind, ErrorKind::Tls(_))
    }

    /// The TLS error, if TLS failed.
    #[must_use]
    pub fn tls(&self) -> Option<&ferry_tls::Error> {
        match &self.kind {
            ErrorKind::Tls(e) => Some(e),
            _ => None,
        }
    }

    /// The core's error, if HTTP failed.
    #[must_use]
    pub fn http(&self) -> Option<&ferry_proto::Error> {
        match &self.kind {
            ErrorKind::Http(e) | ErrorKind::Request(e) => Some(e),
            _ => None,
        }
    }

    /// The status of a refusal: a proxy's answer to CONNECT other than 2xx, or its last 407.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self.http()?.kind() {
            HttpKind::ProxyRefused { head, .. } => Some(head.status()),
            HttpKind::ProxyAuthFailed { .. } => Some(407),
            _ => None,
        }
    }

    /// How much of the request had gone out.
    #[must_use]
    pub fn request_sent(&self) -> RequestSent {
        self.sent
    }

    /// Whether any byte of a response had arrived.
    #[must_use]
    pub fn response_started(&self) -> bool {
        self.response_started
    }

    /// Whether the request may be sent again on a new connection: nothing of it went out, or
    /// the connection broke before a response byte and the request is idempotent.
    #[must_use]
    pub fn is_retryable(&self, idempotent: bool) -> bool {
        match &self.kind {
            ErrorKind::Http(e) => e.is_retryable(idempotent),
            ErrorKind::Request(_)
            | ErrorKind::Body(_)
            | ErrorKind::Redirect(_)
            | ErrorKind::Content(_)
            | ErrorKind::Timeout(Timeout::Request | Timeout::PoolWait)
            | ErrorKind::Misuse { .. } => false,
            _ => {
                self.sent == RequestSent::No
                    || (idempotent
                        && !self.response_started
                        && matches!(self.phase, Phase::Send | Phase::Receive))
            }
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("phase", &self.phase)
            .field("request_sent", &self.sent)
            .field("response_started", &self.response_started)
            .field("proxy", &self.proxy)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = self.phase.describe();
        match &self.kind {
            ErrorKind::Http(e) | ErrorKind::Request(e) => write!(f, "{phase}: {e}"),
            ErrorKind::Tls(e) => write!(f, "{phase}: {e}"),
            ErrorKind::Io(e) => write!(f, "{phase}: {e}"),
            ErrorKind::Timeout(t) => write!(f, "{phase}: timed out ({})", t.describe()),
            ErrorKind::Redirect(e) => write!(f, "following redirects: {e}"),
            ErrorKind::Content(e) => write!(f, "{phase}: decoding the content: {e}"),
            ErrorKind::Body(e) => write!(f, "{phase}: reading the request body failed: {e}"),
            ErrorKind::Misuse { what } => write!(f, "{phase}: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Http(e) | ErrorKind::Request(e) | ErrorKind::Content(e) => Some(e),
            ErrorKind::Tls(e) => Some(e),
            ErrorKind::Io(e) | ErrorKind::Body(e) => Some(&**e),
            ErrorKind::Timeout(_) | ErrorKind::Redirect(_) | ErrorKind::Misuse { .. } => None,
        }
    }
}
