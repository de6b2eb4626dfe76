//! A connection's settings: limits on what the peer may make it hold, deadlines, and how
//! strictly it reads.

use core::time::Duration;

/// How strictly responses are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Profile {
    /// RFC 9112 as written (the default). Every deviation is an error and the connection is
    /// never reused.
    #[default]
    Strict,
    /// Accepts exactly two deviations old servers still make, in response heads only:
    /// - bare LF line endings (RFC 9112 §2.2 allows a recipient to accept them);
    /// - empty lines before the status line.
    ///
    /// (A status line without the space before an empty reason, `HTTP/1.1 200\r\n`, is
    /// unambiguous and accepted in every profile.)
    ///
    /// Chunk lines stay strict in every profile: their ambiguities are smuggling vectors.
    Compatible,
}

/// Bounds on everything that grows from peer input. Past a bound the peer gets an error
/// ([`Blame::Limit`](crate::Blame)), never more memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest response head, status line to the empty line. Default 64 KiB.
    pub max_head_bytes: usize,
    /// Most header fields in one head. Default 100.
    pub max_headers: usize,
    /// Most interim (1xx) responses before the final one. Default 16.
    pub max_informational: usize,
    /// Chunk extension bytes, summed over a whole body. Default 16 KiB.
    pub max_chunk_extension_bytes: usize,
    /// Largest trailer section. Default 16 KiB.
    pub max_trailer_bytes: usize,
    /// Most trailer fields. Default 32.
    pub max_trailers: usize,
    /// How much of an unwanted body (see [`Connection::discard_body`](crate::Connection)) is
    /// read and dropped to keep the connection; past it the connection is closed instead.
    /// Default 64 KiB.
    pub max_drain_bytes: u64,
    /// How much of a refused CONNECT's body is kept for the error. Default 4 KiB.
    pub max_proxy_error_body: usize,
    /// How many CONNECT requests with credentials may be sent for one tunnel. Default 3.
    pub max_auth_rounds: u8,
    /// The most content a [`Decoder`](crate::Decoder) produces from one transfer coding of
    /// one body (`gzip`, `deflate`; RFC 9112 §7): a bound on decompression bombs. Default
    /// 64 MiB; `u64::MAX` for none.
    pub max_decoded_body: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 64 * 1024,
            max_headers: 100,
            max_informational: 16,
            max_chunk_extension_bytes: 16 * 1024,
            max_trailer_bytes: 16 * 1024,
            max_trailers: 32,
            max_drain_bytes: 64 * 1024,
            max_proxy_error_body: 4 * 1024,
            max_auth_rounds: 3,
            max_decoded_body: 64 * 1024 * 1024,
        }
    }
}

/// Deadlines, each counted from the event it names; `None` waits for ever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// How long a body waits for `100 Continue` before it is sent anyway. Default 1 s (curl's).
    pub expect_continue: Option<Duration>,
    /// From the end of the request head to the end of the final response head. Default none.
    pub response_head: Option<Duration>,
    /// The longest gap between two reads of the response body. Default none.
    pub body_read: Option<Duration>,
    /// The whole CONNECT handshake, 407 rounds included. Default none.
    pub tunnel_setup: Option<Duration>,
    /// How long a reusable connection may sit idle, counted from its creation or the end of
    /// its last exchange. The one owner of idle expiry. Default 90 s.
    pub idle: Option<Duration>,
    /// The longest gap between two pieces of the request body while the connection asks for
    /// them (an upload's own timer). Default none.
    pub send_body: Option<Duration>,
    /// Opening the transport, when the driver runs it as a setup phase. Default 30 s.
    pub connect: Option<Duration>,
    /// The TLS handshake, when the layer above runs it as a setup phase. Default 30 s.
    pub tls_handshake: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            expect_continue: Some(Duration::from_secs(1)),
            response_head: None,
            body_read: None,
            tunnel_setup: None,
            idle: Some(Duration::from_secs(90)),
            send_body: None,
            connect: Some(Duration::from_secs(30)),
            tls_handshake: Some(Duration::from_secs(30)),
        }
    }
}

/// Everything a [`Connection`](crate::Connection) is configured with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Config {
    /// Size and count bounds.
    pub limits: Limits,
    /// Deadlines.
    pub timeouts: Timeouts,
    /// Strictness.
    pub profile: Profile,
}
