//! A connection's settings: limits on what the peer may make it hold, deadlines, and how
//! strictly it reads.
//!
//! Every settings type is `#[non_exhaustive]` so fields can be added without breaking users;
//! build one from its `default()` and the `with_*` methods, which are `const`:
//!
//! ```
//! use core::time::Duration;
//! use ferry_proto::{Config, Limits, Profile, Timeouts};
//!
//! let config = Config::default()
//!     .with_limits(Limits::default().with_max_head_bytes(16 * 1024).with_max_headers(50))
//!     .with_timeouts(Timeouts::default().with_response_head(Some(Duration::from_secs(30))))
//!     .with_profile(Profile::Compatible);
//! assert_eq!(config.limits.max_head_bytes, 16 * 1024);
//! assert_eq!(config.timeouts.response_head, Some(Duration::from_secs(30)));
//! assert_eq!(config.timeouts.idle, Some(Duration::from_secs(90)), "the rest stay default");
//! ```

use core::time::Duration;

/// `pub const fn with_<field>(self, value) -> Self` for each named field, documented with the
/// field's own doc line.
macro_rules! with_fields {
    ($ty:ident { $( $(#[$doc:meta])* $field:ident / $with:ident : $fty:ty ),* $(,)? }) => {
        impl $ty {
            $(
                $(#[$doc])*
                #[must_use]
                pub const fn $with(mut self, value: $fty) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

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
    /// How many requests with credentials may be sent for one proxy exchange (a CONNECT or a
    /// forwarded request) after 407s. Default 3.
    pub max_auth_rounds: u8,
    /// The most content a [`Decoder`](crate::wire::Decoder) produces from one transfer coding of
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

with_fields!(Limits {
    /// Sets [`Limits::max_head_bytes`].
    max_head_bytes / with_max_head_bytes: usize,
    /// Sets [`Limits::max_headers`].
    max_headers / with_max_headers: usize,
    /// Sets [`Limits::max_informational`].
    max_informational / with_max_informational: usize,
    /// Sets [`Limits::max_chunk_extension_bytes`].
    max_chunk_extension_bytes / with_max_chunk_extension_bytes: usize,
    /// Sets [`Limits::max_trailer_bytes`].
    max_trailer_bytes / with_max_trailer_bytes: usize,
    /// Sets [`Limits::max_trailers`].
    max_trailers / with_max_trailers: usize,
    /// Sets [`Limits::max_drain_bytes`].
    max_drain_bytes / with_max_drain_bytes: u64,
    /// Sets [`Limits::max_proxy_error_body`].
    max_proxy_error_body / with_max_proxy_error_body: usize,
    /// Sets [`Limits::max_auth_rounds`].
    max_auth_rounds / with_max_auth_rounds: u8,
    /// Sets [`Limits::max_decoded_body`].
    max_decoded_body / with_max_decoded_body: u64,
});

/// Deadlines, each counted from the event it names; `None` waits for ever.
///
/// The connection owns every one of them, the driver's phases included: a driver arms none of
/// its own, it sleeps until [`Connection::poll_timeout`](crate::Connection::poll_timeout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Opening the transport (TCP connect, all addresses tried in turn), as a driver reports
    /// it. Default 30 s.
    pub connect: Option<Duration>,
    /// A TLS handshake, to a proxy or to the origin, as the layer above reports it.
    /// Default 30 s.
    pub tls_handshake: Option<Duration>,
    /// How long a body waits for `100 Continue` before it is sent anyway. Default 1 s (curl's).
    pub expect_continue: Option<Duration>,
    /// The longest gap between two pieces of request body handed to the connection while it
    /// asks for them. Default none.
    pub send_body: Option<Duration>,
    /// From the moment the whole request was handed out to the end of the final response
    /// head. Default none.
    pub response_head: Option<Duration>,
    /// The longest gap between two reads of the response body. Default none.
    pub body_read: Option<Duration>,
    /// The whole CONNECT handshake, 407 rounds included. Default none.
    pub tunnel_setup: Option<Duration>,
    /// How long a reusable connection may sit idle, in a pool or not: past it the connection
    /// is closed and takes no request. The one idle timeout of ferry (the pool asks the
    /// connection). Default 90 s (Go's `IdleConnTimeout`, hyper-util's default).
    pub idle: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Some(Duration::from_secs(30)),
            tls_handshake: Some(Duration::from_secs(30)),
            expect_continue: Some(Duration::from_secs(1)),
            send_body: None,
            response_head: None,
            body_read: None,
            tunnel_setup: None,
            idle: Some(Duration::from_secs(90)),
        }
    }
}

with_fields!(Timeouts {
    /// Sets [`Timeouts::connect`].
    connect / with_connect: Option<Duration>,
    /// Sets [`Timeouts::tls_handshake`].
    tls_handshake / with_tls_handshake: Option<Duration>,
    /// Sets [`Timeouts::expect_continue`].
    expect_continue / with_expect_continue: Option<Duration>,
    /// Sets [`Timeouts::send_body`].
    send_body / with_send_body: Option<Duration>,
    /// Sets [`Timeouts::response_head`].
    response_head / with_response_head: Option<Duration>,
    /// Sets [`Timeouts::body_read`].
    body_read / with_body_read: Option<Duration>,
    /// Sets [`Timeouts::tunnel_setup`].
    tunnel_setup / with_tunnel_setup: Option<Duration>,
    /// Sets [`Timeouts::idle`].
    idle / with_idle: Option<Duration>,
});

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

with_fields!(Config {
    /// Sets [`Config::limits`].
    limits / with_limits: Limits,
    /// Sets [`Config::timeouts`].
    timeouts / with_timeouts: Timeouts,
    /// Sets [`Config::profile`].
    profile / with_profile: Profile,
});

#[cfg(test)]
mod tests {
    use super::*;

    /// Each `with_*` sets its own field and no other: a table of (built, field read back).
    #[test]
    fn with_methods_set_exactly_their_field() {
        let d = Limits::default();
        let cases: [(Limits, Limits); 10] = [
            (d.with_max_head_bytes(1), Limits { max_head_bytes: 1, ..d }),
            (d.with_max_headers(2), Limits { max_headers: 2, ..d }),
            (d.with_max_informational(3), Limits { max_informational: 3, ..d }),
            (d.with_max_chunk_extension_bytes(4), Limits { max_chunk_extension_bytes: 4, ..d }),
            (d.with_max_trailer_bytes(5), Limits { max_trailer_bytes: 5, ..d }),
            (d.with_max_trailers(6), Limits { max_trailers: 6, ..d }),
            (d.with_max_drain_bytes(7), Limits { max_drain_bytes: 7, ..d }),
            (d.with_max_proxy_error_body(8), Limits { max_proxy_error_body: 8, ..d }),
            (d.with_max_auth_rounds(9), Limits { max_auth_rounds: 9, ..d }),
            (d.with_max_decoded_body(10), Limits { max_decoded_body: 10, ..d }),
        ];
        for (i, (built, expected)) in cases.into_iter().enumerate() {
            assert_eq!(built, expected, "Limits case {i}");
            assert_ne!(built, d, "Limits case {i} changed nothing");
        }
        let t = Timeouts::default();
        let s = |n| Some(Duration::from_millis(n));
        let cases: [(Timeouts, Timeouts); 8] = [
            (t.with_connect(s(1)), Timeouts { connect: s(1), ..t }),
            (t.with_tls_handshake(s(2)), Timeouts { tls_handshake: s(2), ..t }),
            (t.with_expect_continue(s(3)), Timeouts { expect_continue: s(3), ..t }),
            (t.with_send_body(s(4)), Timeouts { send_body: s(4), ..t }),
            (t.with_response_head(s(5)), Timeouts { response_head: s(5), ..t }),
            (t.with_body_read(s(6)), Timeouts { body_read: s(6), ..t }),
            (t.with_tunnel_setup(s(7)), Timeouts { tunnel_setup: s(7), ..t }),
            (t.with_idle(s(8)), Timeouts { idle: s(8), ..t }),
        ];
        for (i, (built, expected)) in cases.into_iter().enumerate() {
            assert_eq!(built, expected, "Timeouts case {i}");
            assert_ne!(built, t, "Timeouts case {i} changed nothing");
        }
        let c = Config::default()
            .with_limits(d.with_max_headers(1))
            .with_timeouts(t.with_idle(None))
            .with_profile(Profile::Compatible);
        assert_eq!(
            (c.limits.max_headers, c.timeouts.idle, c.profile),
            (1, None, Profile::Compatible)
        );
    }

    #[test]
    fn documented_defaults() {
        let l = Limits::default();
        assert_eq!(
            (l.max_head_bytes, l.max_headers, l.max_informational, l.max_auth_rounds),
            (65_536, 100, 16, 3)
        );
        assert_eq!((l.max_drain_bytes, l.max_proxy_error_body), (65_536, 4096));
        let t = Timeouts::default();
        let secs = |n| Some(Duration::from_secs(n));
        assert_eq!((t.connect, t.tls_handshake, t.idle), (secs(30), secs(30), secs(90)));
        assert_eq!(t.expect_continue, secs(1));
        assert_eq!(
            (t.send_body, t.response_head, t.body_read, t.tunnel_setup),
            (None, None, None, None)
        );
        assert_eq!(Config::default().profile, Profile::Strict);
    }
}
