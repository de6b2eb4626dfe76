//! The one error type of the core.
//!
//! Every error says who is to blame ([`Blame`]): the peer broke HTTP, a proxy refused, the
//! caller broke the contract, or a limit (size, count or time) was hit. Errors raised while an exchange runs also
//! carry the facts a retry decision needs: how much of the request had gone out
//! ([`RequestSent`]) and whether any byte of a response had arrived.

use alloc::string::String;
use core::fmt;

use bytes::Bytes;

use crate::coding::Coding;
use crate::conn::Phase;
use crate::response::ResponseHead;
use crate::time::TimerKind;
use crate::url::Authority;

/// Who broke what.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Blame {
    /// The server or proxy sent something HTTP/1.1 does not allow (RFC 9112), or hung up early.
    Peer,
    /// The caller asked for something invalid: a bad header, a method that is no token, a call
    /// out of order.
    Caller,
    /// A configured limit was reached: a size, a count or a deadline.
    Limit,
    /// A proxy understood the request and declined it (a 403 to CONNECT, credentials it kept
    /// refusing): nothing broke, the answer is no.
    Refused,
}

/// What a connection still expected when the transport ended ([`ErrorKind::UnexpectedEof`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Expected {
    /// The head of the response.
    ResponseHead,
    /// The rest of a response body framed by `Content-Length`.
    ResponseBody,
    /// The rest of a chunked body (RFC 9112 §7.1).
    ChunkedBody,
    /// The proxy's reply to CONNECT.
    ProxyReply,
    /// A clean close ending a close-delimited body: the transport ended uncleanly (over TLS:
    /// without `close_notify`), so the body may have been cut short by an attacker.
    CleanClose,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::ResponseHead => "connection closed before the end of the response head",
            Expected::ResponseBody => "connection closed before the end of the response body",
            Expected::ChunkedBody => "connection closed before the end of the chunked body",
            Expected::ProxyReply => "connection closed before the proxy's reply",
            Expected::CleanClose => {
                "connection ended uncleanly during a close-delimited body (it may be truncated)"
            }
        })
    }
}

/// A call made when it was not allowed ([`ErrorKind::Misuse`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Call {
    /// [`Connection::send_request`](crate::Connection::send_request).
    SendRequest,
    /// [`Connection::send_connect`](crate::Connection::send_connect).
    SendConnect,
    /// [`Connection::send_body`](crate::Connection::send_body).
    SendBody,
    /// [`Connection::finish_body`](crate::Connection::finish_body).
    FinishBody,
    /// [`Connection::finish_body`](crate::Connection::finish_body) with trailers for a body
    /// framed by `Content-Length`, which has no trailer section (RFC 9112 §7.1.2).
    FinishBodyWithTrailers,
    /// [`Connection::handle_reconnected`](crate::Connection::handle_reconnected) when no
    /// reconnect was asked for.
    HandleReconnected,
    /// [`Connection::handle_body_read`](crate::Connection::handle_body_read) without a body
    /// window, or for more bytes than the window holds.
    HandleBodyRead,
    /// [`encode_request`](crate::wire::encode_request) with the `CONNECT` method: use
    /// [`Connection::send_connect`](crate::Connection::send_connect).
    EncodeConnect,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Call::SendRequest => "send_request",
            Call::SendConnect => "send_connect",
            Call::SendBody => "send_body",
            Call::FinishBody => "finish_body",
            Call::FinishBodyWithTrailers => "finish_body with trailers for a content-length body",
            Call::HandleReconnected => "handle_reconnected",
            Call::HandleBodyRead => "handle_body_read beyond the body window",
            Call::EncodeConnect => "encode_request with CONNECT (use send_connect)",
        })
    }
}

/// How the transport failed, as the driver tells
/// [`Connection::handle_transport_error`](crate::Connection::handle_transport_error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportError {
    /// The peer reset the connection (`ECONNRESET`).
    Reset,
    /// A write found the connection closed (`EPIPE`).
    BrokenPipe,
    /// Any other I/O failure; the driver keeps its `io::Error` for the details.
    Other,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportError::Reset => "connection reset by the peer",
            TransportError::BrokenPipe => "broken pipe",
            TransportError::Other => "transport failed",
        })
    }
}

/// How much of the request had been handed out as [`Output::Transmit`](crate::Output) when the
/// error happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RequestSent {
    /// Nothing of the request was handed out: it is always safe to send it again.
    #[default]
    No,
    /// Part of the request was handed out.
    Partly,
    /// The whole request was handed out.
    Fully,
}

/// Which part of a message an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// The status line or the request line.
    StartLine,
    /// A header field.
    Header,
    /// A chunk-size line.
    ChunkSize,
    /// A chunk extension.
    ChunkExtension,
    /// The line ending after a chunk's data.
    ChunkData,
    /// A trailer field.
    Trailer,
}

/// What [`ErrorKind::InvalidHead`] found wrong with a response head (RFC 9112 §2, §4, §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeadFault {
    /// The bytes do not start with `HTTP/`: not an HTTP response at all.
    NotHttp,
    /// The status line is not `HTTP-version SP 3DIGIT [SP reason-phrase]` (RFC 9112 §4).
    StatusLine,
    /// A field line whose name is not a token, or with whitespace before the colon
    /// (RFC 9112 §5.1), or a line starting with whitespace where no field precedes it.
    HeaderName,
    /// A field value with a control byte (RFC 9110 §5.5).
    HeaderValue,
    /// A token that is not one (httparse's `Token`).
    Token,
    /// An empty line before the status line, refused by
    /// [`Profile::Strict`](crate::Profile) (RFC 9112 §2.2 allows it to servers reading requests).
    EmptyLineBeforeStatus,
    /// An obs-fold in `Content-Length` or `Transfer-Encoding`: a smuggling shape, never
    /// unfolded (RFC 9112 §5.2).
    FoldedFramingField,
    /// A status code outside what a conversion (the `http` crate's 100 to 999) can represent.
    StatusOutOfRange,
}

impl fmt::Display for HeadFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeadFault::NotHttp => "no HTTP version",
            HeadFault::StatusLine => "invalid status line",
            HeadFault::HeaderName => "invalid header name",
            HeadFault::HeaderValue => "invalid header value",
            HeadFault::Token => "invalid token",
            HeadFault::EmptyLineBeforeStatus => "empty line before the status line",
            HeadFault::FoldedFramingField => "obs-fold in content-length or transfer-encoding",
            HeadFault::StatusOutOfRange => "status code out of range",
        })
    }
}

/// What went wrong, with its typed facts.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    // ---- the peer broke HTTP -------------------------------------------------------------
    /// The response head is not valid HTTP/1.1 (RFC 9112 §4, §5).
    InvalidHead {
        /// What was rejected.
        what: HeadFault,
    },
    /// The status line names a version other than HTTP/1.0 or HTTP/1.1.
    UnsupportedVersion,
    /// A line ended in a bare LF or a bare CR (RFC 9112 §2.2); allowed only by
    /// [`Profile::Compatible`](crate::Profile) for heads.
    BareLineEnding {
        /// Where it was found.
        part: Part,
    },
    /// Both `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.3 item 3): a smuggling shape.
    ContentLengthWithTransferEncoding,
    /// `Content-Length` values that differ (RFC 9112 §6.3 item 5).
    ConflictingContentLength,
    /// A `Content-Length` that is not `1*DIGIT` or overflows a `u64`.
    InvalidContentLength,
    /// A `Transfer-Encoding` that is empty, applies `chunked` twice or before another coding,
    /// or stacks more than [`Codings::CAPACITY`](crate::wire::Codings) other codings (RFC 9112 §6.1).
    InvalidTransferEncoding,
    /// A transfer coding the core cannot decode (RFC 9112 §7: `compress`, `identity`, which is
    /// not registered, or any unknown name). The content cannot be read, so the connection is
    /// not reused.
    UnsupportedTransferCoding {
        /// The coding as the peer wrote it (lossily decoded, control bytes escaped).
        coding: String,
    },
    /// Transfer-coded content that does not decode: corrupt, truncated, or with bytes after
    /// its end (RFC 9112 §7.2, RFC 1950, RFC 1952).
    InvalidCodedBody {
        /// The coding whose stream is broken.
        coding: Coding,
    },
    /// A chunk-size line that is not `1*HEXDIG` or overflows a `u64` (RFC 9112 §7.1).
    InvalidChunkSize,
    /// A chunk extension with a control byte, or LF in it (RFC 9112 §7.1.1).
    InvalidChunkExtension,
    /// A chunk's data was not followed by CRLF.
    InvalidChunkData,
    /// A trailer section that does not parse (RFC 9112 §7.1.2).
    InvalidTrailers,
    /// The peer answered `101 Switching Protocols` to a request that asked for no upgrade.
    UnexpectedSwitchingProtocols,
    /// The peer sent bytes while no request was outstanding.
    UnsolicitedResponse,
    /// The peer closed the connection before the response was complete.
    UnexpectedEof {
        /// What was still expected.
        expected: Expected,
    },
    /// The transport failed under the exchange (reported by the driver).
    Transport {
        /// How.
        error: TransportError,
    },

    // ---- a proxy refused -----------------------------------------------------------------
    /// The proxy refused the CONNECT with a status other than 2xx (RFC 9110 §9.3.6).
    ProxyRefused {
        /// The tunnel's target the CONNECT asked for.
        target: Authority,
        /// The proxy's reply (boxed, to keep `ErrorKind` small).
        head: alloc::boxed::Box<ResponseHead>,
        /// The start of the reply's body, at most
        /// [`Limits::max_proxy_error_body`](crate::Limits) bytes.
        body: Bytes,
    },
    /// The proxy kept answering `407 Proxy Authentication Required` to a CONNECT.
    ProxyAuthFailed {
        /// The tunnel's target the CONNECT asked for.
        target: Authority,
        /// How many requests carried credentials.
        attempts: u8,
        /// The last 407; its `Proxy-Authenticate` fields name the schemes it asked for (boxed,
        /// to keep `ErrorKind` small).
        head: alloc::boxed::Box<ResponseHead>,
        /// The start of its body, at most [`Limits::max_proxy_error_body`](crate::Limits)
        /// bytes.
        body: Bytes,
    },

    // ---- the caller broke the contract ---------------------------------------------------
    /// A header name that is not a token (RFC 9110 §5.1).
    InvalidHeaderName {
        /// The name, lossily decoded, with control bytes escaped.
        name: String,
    },
    /// A header value with CR, LF, NUL or another control byte (RFC 9110 §5.5).
    InvalidHeaderValue {
        /// The header's name.
        name: String,
    },
    /// A header the core sets itself (`Content-Length`, `Transfer-Encoding`) disagrees with the
    /// body the request declares, or is given as a trailer field (RFC 9110 §6.5.1 forbids
    /// framing fields in trailers).
    FramingHeader {
        /// The header's name.
        name: String,
    },
    /// A method that is not a token.
    InvalidMethod,
    /// A URL or request-target that cannot be used.
    InvalidUrl {
        /// What is wrong with it.
        what: crate::url::UrlError,
    },
    /// An unknown-length body on a connection whose peer speaks HTTP/1.0 (RFC 9112 §7.1: no
    /// chunked to HTTP/1.0).
    ChunkedToHttp10,
    /// More or fewer body bytes than the declared `Content-Length`.
    BodyLength {
        /// Declared.
        expected: u64,
        /// Given so far.
        actual: u64,
    },
    /// A call that the connection's phase does not allow.
    Misuse {
        /// The call.
        call: Call,
        /// The connection's phase when it was made; `None` for a call outside a connection.
        phase: Option<Phase>,
    },

    // ---- a limit was hit -----------------------------------------------------------------
    /// The response head grew past [`Limits::max_head_bytes`](crate::Limits).
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The response head has more than [`Limits::max_headers`](crate::Limits) fields.
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// More interim (1xx) responses than [`Limits::max_informational`](crate::Limits).
    TooManyInformational {
        /// The limit.
        limit: usize,
    },
    /// Chunk extensions longer, in all, than [`Limits::max_chunk_extension_bytes`](crate::Limits).
    ChunkExtensionsTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A trailer section larger than [`Limits::max_trailer_bytes`](crate::Limits).
    TrailersTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// More trailer fields than [`Limits::max_trailers`](crate::Limits).
    TooManyTrailers {
        /// The limit.
        limit: usize,
    },
    /// Transfer-decoded content larger than
    /// [`Limits::max_decoded_body`](crate::Limits).
    DecodedBodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// A deadline passed.
    Timeout {
        /// Which one.
        timer: TimerKind,
    },

    // ---- routes -----------------------------------------------------------------------------
    /// A proxy URL that cannot be used.
    InvalidProxyUrl {
        /// What is wrong with it.
        what: crate::route::ProxyUrlError,
    },
    /// A proxy URL whose scheme is neither `http` nor `https`.
    UnsupportedProxyScheme {
        /// The scheme as written.
        scheme: String,
    },
    /// A key of a [`Proxies`](crate::proxy::Proxies) map that is not `http`, `https`, `all` or one of
    /// those followed by `://` and a host.
    InvalidProxyKey {
        /// What is wrong with it.
        what: crate::route::ProxyKeyError,
    },
    /// A proxy environment variable whose value cannot be used (raised when a URL would use it).
    InvalidProxyEnv {
        /// The variable's name, e.g. `"HTTPS_PROXY"`.
        var: &'static str,
        /// Why: [`ErrorKind::InvalidProxyUrl`] or [`ErrorKind::UnsupportedProxyScheme`].
        cause: alloc::boxed::Box<ErrorKind>,
    },
}

impl ErrorKind {
    /// Who is to blame for this kind of error.
    #[must_use]
    pub fn blame(&self) -> Blame {
        use ErrorKind::*;
        match self {
            InvalidHead { .. }
            | UnsupportedVersion
            | BareLineEnding { .. }
            | ContentLengthWithTransferEncoding
            | ConflictingContentLength
            | InvalidContentLength
            | InvalidTransferEncoding
            | UnsupportedTransferCoding { .. }
            | InvalidCodedBody { .. }
            | InvalidChunkSize
            | InvalidChunkExtension
            | InvalidChunkData
            | InvalidTrailers
            | UnexpectedSwitchingProtocols
            | UnsolicitedResponse
            | UnexpectedEof { .. }
            | Transport { .. } => Blame::Peer,
            ProxyRefused { .. } | ProxyAuthFailed { .. } => Blame::Refused,
            InvalidHeaderName { .. }
            | InvalidHeaderValue { .. }
            | FramingHeader { .. }
            | InvalidMethod
            | InvalidUrl { .. }
            | ChunkedToHttp10
            | BodyLength { .. }
            | Misuse { .. }
            | InvalidProxyUrl { .. }
            | UnsupportedProxyScheme { .. }
            | InvalidProxyKey { .. }
            | InvalidProxyEnv { .. } => Blame::Caller,
            HeadTooLarge { .. }
            | TooManyHeaders { .. }
            | TooManyInformational { .. }
            | ChunkExtensionsTooLarge { .. }
            | TrailersTooLarge { .. }
            | TooManyTrailers { .. }
            | DecodedBodyTooLarge { .. }
            | Timeout { .. } => Blame::Limit,
        }
    }
}

/// The error of every fallible call in the core.
///
/// After a [`Connection`](crate::Connection) outputs an error (or returns one that its docs say
/// ends it) it is closed for good: every later call answers with [`ErrorKind::Misuse`] or
/// [`Output::Closed`](crate::Output), and it never panics.
///
/// One pointer wide, so `Result<T, Error>` stays small on hot paths.
#[derive(Clone, PartialEq, Eq)]
pub struct Error(alloc::boxed::Box<Inner>);

impl fmt::Debug for Error {
    /// The kind first, then who is to blame and the retry facts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("blame", &self.blame())
            .field("request_sent", &self.0.sent)
            .field("response_started", &self.0.response_started)
            .finish()
    }
}

#[derive(Clone, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    sent: RequestSent,
    response_started: bool,
}

impl Error {
    /// An error of this kind, raised outside an exchange (nothing sent, nothing received).
    #[must_use]
    pub fn new(kind: ErrorKind) -> Self {
        Error(alloc::boxed::Box::new(Inner {
            kind,
            sent: RequestSent::No,
            response_started: false,
        }))
    }

    pub(crate) fn with_progress(mut self, sent: RequestSent, response_started: bool) -> Self {
        self.0.sent = sent;
        self.0.response_started = response_started;
        self
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// Who is to blame.
    #[must_use]
    pub fn blame(&self) -> Blame {
        self.0.kind.blame()
    }

    /// How much of the request had been handed out for sending.
    #[must_use]
    pub fn request_sent(&self) -> RequestSent {
        self.0.sent
    }

    /// Whether any byte of a response had arrived.
    #[must_use]
    pub fn response_started(&self) -> bool {
        self.0.response_started
    }

    /// Whether a deadline passed.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Timeout { .. })
    }

    /// Whether the request may be sent again on a new connection without risk of doing it
    /// twice: nothing of it went out, or the peer closed an idle-looking connection before a
    /// single response byte (the stale keep-alive race, seen as an EOF, a reset or a broken
    /// pipe) and the method is idempotent.
    #[must_use]
    pub fn is_retryable(&self, idempotent: bool) -> bool {
        match self.0.sent {
            RequestSent::No => true,
            _ => {
                idempotent
                    && !self.0.response_started
                    && matches!(
                        self.0.kind,
                        ErrorKind::UnexpectedEof { .. }
                            | ErrorKind::Transport {
                                error: TransportError::Reset | TransportError::BrokenPipe
                            }
                    )
            }
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.kind, f)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorKind::*;
        match self {
            InvalidHead { what } => write!(f, "invalid response head: {what}"),
            UnsupportedVersion => f.write_str("response has an HTTP version other than 1.0 or 1.1"),
            BareLineEnding { part } => {
                write!(f, "bare CR or LF line ending in {}", part_name(*part))
            }
            ContentLengthWithTransferEncoding => {
                f.write_str("response has both transfer-encoding and content-length")
            }
            ConflictingContentLength => f.write_str("response has differing content-length values"),
            InvalidContentLength => f.write_str("response has an invalid content-length"),
            InvalidTransferEncoding => f.write_str("response has an invalid transfer-encoding"),
            UnsupportedTransferCoding { coding } => {
                write!(f, "response uses the transfer coding {coding:?}, which cannot be decoded")
            }
            InvalidCodedBody { coding } => write!(f, "{} transfer coding does not decode", coding),
            InvalidChunkSize => f.write_str("invalid chunk size line"),
            InvalidChunkExtension => f.write_str("invalid chunk extension"),
            InvalidChunkData => f.write_str("chunk data not followed by CRLF"),
            InvalidTrailers => f.write_str("invalid trailer section"),
            UnexpectedSwitchingProtocols => {
                f.write_str("server switched protocols without being asked to")
            }
            UnsolicitedResponse => {
                f.write_str("server sent bytes while no request was outstanding")
            }
            UnexpectedEof { expected } => fmt::Display::fmt(expected, f),
            Transport { error } => fmt::Display::fmt(error, f),
            ProxyRefused { target, head, .. } => {
                write!(
                    f,
                    "proxy refused the tunnel to {target}: {} {}",
                    head.status(),
                    head.reason()
                )
            }
            ProxyAuthFailed { target, attempts, .. } => {
                write!(
                    f,
                    "proxy rejected the credentials for the tunnel to {target} after {attempts} attempt(s)"
                )
            }
            InvalidHeaderName { name } => write!(f, "invalid header name {name:?}"),
            InvalidHeaderValue { name } => {
                write!(f, "value of header {name:?} contains CR, LF, NUL or another control byte")
            }
            FramingHeader { name } => {
                write!(f, "header {name:?} disagrees with the request's body")
            }
            InvalidMethod => f.write_str("method is not a token"),
            InvalidUrl { what } => write!(f, "invalid URL: {what}"),
            ChunkedToHttp10 => {
                f.write_str("cannot send a body of unknown length to an HTTP/1.0 peer")
            }
            BodyLength { expected, actual } => {
                write!(f, "body length {actual} does not match content-length {expected}")
            }
            Misuse { call, phase: Some(phase) } => write!(f, "{call} called while {phase}"),
            Misuse { call, phase: None } => write!(f, "{call} is not allowed"),
            HeadTooLarge { limit } => write!(f, "response head larger than {limit} bytes"),
            TooManyHeaders { limit } => write!(f, "response head has more than {limit} fields"),
            TooManyInformational { limit } => {
                write!(f, "more than {limit} interim (1xx) responses")
            }
            ChunkExtensionsTooLarge { limit } => {
                write!(f, "chunk extensions larger than {limit} bytes in all")
            }
            TrailersTooLarge { limit } => write!(f, "trailer section larger than {limit} bytes"),
            TooManyTrailers { limit } => write!(f, "more than {limit} trailer fields"),
            DecodedBodyTooLarge { limit } => {
                write!(f, "transfer-decoded body larger than {limit} bytes")
            }
            Timeout { timer } => write!(f, "timed out waiting for the {}", timer.describe()),
            InvalidProxyUrl { what } => write!(f, "invalid proxy URL: {what}"),
            UnsupportedProxyScheme { scheme } => {
                write!(f, "unsupported proxy scheme {scheme:?} (expected http or https)")
            }
            InvalidProxyKey { what } => write!(f, "invalid proxy key: {what}"),
            InvalidProxyEnv { var, cause } => write!(f, "environment variable {var}: {cause}"),
        }
    }
}

fn part_name(part: Part) -> &'static str {
    match part {
        Part::StartLine => "the status line",
        Part::Header => "a header field",
        Part::ChunkSize => "a chunk-size line",
        Part::ChunkExtension => "a chunk extension",
        Part::ChunkData => "the end of a chunk",
        Part::Trailer => "a trailer field",
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// Shorthand used throughout the core.
pub type Result<T, E = Error> = core::result::Result<T, E>;
