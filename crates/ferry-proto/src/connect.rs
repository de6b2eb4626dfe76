//! The CONNECT request (RFC 9110 §9.3.6, RFC 9112 §3.2.3): what opens a tunnel through a proxy.
//!
//! A [`Connect`] is built from a route ([`Route::connect`](crate::Route::connect)) or by hand;
//! the connection sends it ([`Connection::send_connect`](crate::Connection::send_connect)) and
//! answers the proxy's 407 challenges. Encoding checks every byte it writes, the target's once
//! more, and writes nothing when a check fails.

use alloc::vec::Vec;

use bytes::{BufMut, Bytes, BytesMut};

use crate::auth::ProxyAuth;
use crate::error::{ErrorKind, Result};
use crate::headers::{check_field, printable};
use crate::url::{Authority, UrlError, is_authority_byte};

/// A CONNECT request: the tunnel's target, header fields for the proxy, and the proxy's
/// credentials (route state, never one of the header fields).
#[derive(Clone, Debug)]
pub struct Connect {
    pub(crate) target: Authority,
    pub(crate) headers: Vec<(Bytes, Bytes)>,
    pub(crate) auth: Option<ProxyAuth>,
}

impl Connect {
    /// A CONNECT to `target`, without credentials.
    #[must_use]
    pub fn new(target: Authority) -> Connect {
        Connect { target, headers: Vec::new(), auth: None }
    }

    /// Adds a header field for the proxy (`User-Agent`, say); checked when encoded. `Host`,
    /// `Content-Length` and `Transfer-Encoding` are refused then (the core writes `Host`; a
    /// CONNECT has no content), and a `Proxy-Authorization` of the caller's is dropped.
    #[must_use]
    pub fn header(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Connect {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the proxy's credentials: sent with the first CONNECT when
    /// [`ProxyAuth::is_preemptive`], else in answer to a 407.
    #[must_use]
    pub fn auth(mut self, auth: Option<ProxyAuth>) -> Connect {
        self.auth = auth;
        self
    }

    /// The tunnel's target.
    #[must_use]
    pub fn target(&self) -> &Authority {
        &self.target
    }

    /// The caller's header fields for the proxy, in order (not `Host` or the credentials,
    /// which the core writes).
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.headers.iter().map(|(n, v)| (&n[..], &v[..]))
    }

    /// Whether credentials go with it (first or after a 407).
    #[must_use]
    pub fn has_auth(&self) -> bool {
        self.auth.is_some()
    }
}

fn name_is(name: &[u8], wanted: &str) -> bool {
    name.eq_ignore_ascii_case(wanted.as_bytes())
}

/// Encodes `CONNECT host:port HTTP/1.1` with `Host: host:port` (the port always, IPv6 in
/// brackets; RFC 9112 §3.2.3), the caller's fields (without any `Proxy-Authorization` of
/// theirs) and `Proxy-Authorization: <authorization>` when given.
///
/// # Errors
/// [`ErrorKind::InvalidHeaderName`], [`ErrorKind::InvalidHeaderValue`],
/// [`ErrorKind::FramingHeader`] for a caller's `Host`, `Content-Length` or
/// `Transfer-Encoding`, or [`ErrorKind::InvalidUrl`] should the target hold a byte no authority
/// may; `out` is then left as it was.
pub(crate) fn encode_connect(
    connect: &Connect,
    authorization: Option<&str>,
    out: &mut BytesMut,
) -> Result<()> {
    for (n, v) in &connect.headers {
        check_field(n, v)?;
        if name_is(n, "host") || name_is(n, "content-length") || name_is(n, "transfer-encoding") {
            return Err(ErrorKind::FramingHeader { name: printable(n) }.into());
        }
    }
    if let Some(a) = authorization {
        check_field(b"Proxy-Authorization", a.as_bytes())?;
    }
    let target = connect.target.to_wire();
    // The last check before the wire: the types make this hold, the bytes are checked anyway.
    if !target.bytes().all(is_authority_byte) {
        return Err(ErrorKind::InvalidUrl { what: UrlError::HostByte }.into());
    }
    out.reserve(48 + 2 * target.len());
    out.put_slice(b"CONNECT ");
    out.put_slice(target.as_bytes());
    out.put_slice(b" HTTP/1.1\r\nHost: ");
    out.put_slice(target.as_bytes());
    out.put_slice(b"\r\n");
    for (n, v) in &connect.headers {
        if !name_is(n, "proxy-authorization") {
            put_field(out, n, v);
        }
    }
    if let Some(a) = authorization {
        put_field(out, b"Proxy-Authorization", a.as_bytes());
    }
    out.put_slice(b"\r\n");
    Ok(())
}

fn put_field(out: &mut BytesMut, name: &[u8], value: &[u8]) {
    out.put_slice(name);
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url::{Host, Url};
    use alloc::string::String;
    use core::net::Ipv4Addr;

    #[track_caller]
    fn check(c: &Connect, auth: Option<&str>, expected: core::result::Result<&str, ErrorKind>) {
        let mut out = BytesMut::from(&b"KEEP"[..]);
        match (encode_connect(c, auth, &mut out), expected) {
            (Ok(()), Ok(wire)) => assert_eq!(String::from_utf8_lossy(&out[4..]), wire),
            (Err(e), Err(kind)) => {
                assert_eq!(e.kind(), &kind);
                assert_eq!(&out[..], b"KEEP", "nothing written on error");
            }
            (got, want) => {
                panic!("got {got:?} / {:?}, want {want:?}", String::from_utf8_lossy(&out))
            }
        }
    }

    fn target(s: &str) -> Authority {
        Url::parse(s).unwrap().authority()
    }

    #[test]
    fn connect_heads() {
        // RFC 9112 §3.2.3: authority-form, Host with the port always, IPv6 in brackets.
        check(
            &Connect::new(target("https://[::1]/")).header("User-Agent", "ferry"),
            Some("Basic eA=="),
            Ok(
                "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\nUser-Agent: ferry\r\nProxy-Authorization: Basic eA==\r\n\r\n",
            ),
        );
        check(
            &Connect::new(Authority::new(Host::Ipv4(Ipv4Addr::new(192, 0, 2, 7)), 65535)),
            None,
            Ok("CONNECT 192.0.2.7:65535 HTTP/1.1\r\nHost: 192.0.2.7:65535\r\n\r\n"),
        );
        // The caller's Proxy-Authorization never goes out: credentials are route state.
        check(
            &Connect::new(target("https://h/")).header("proxy-authorization", "Basic bad"),
            None,
            Ok("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"),
        );
    }

    #[test]
    fn refused_fields() {
        // RFC 9110 §9.3.6: a CONNECT has no content; the core writes Host itself.
        for name in ["Host", "host", "Content-Length", "content-length", "Transfer-Encoding"] {
            check(
                &Connect::new(target("https://h/")).header(name, "0"),
                None,
                Err(ErrorKind::FramingHeader { name: name.into() }),
            );
        }
        check(
            &Connect::new(target("https://h/")).header("X", "a\r\nHost: evil"),
            None,
            Err(ErrorKind::InvalidHeaderValue { name: "X".into() }),
        );
        check(
            &Connect::new(target("https://h/")),
            Some("Basic x\r\nX-Injected: 1"),
            Err(ErrorKind::InvalidHeaderValue { name: "Proxy-Authorization".into() }),
        );
    }
}
