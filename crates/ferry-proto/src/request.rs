//! Requests and their encoding (RFC 9112 §3, §6, §7).
//!
//! Everything that reaches the wire is checked first: the method is a token, header names are
//! tokens, values hold no CR, LF, NUL or other control byte, and the target comes from a checked
//! [`Url`]. When a check fails nothing is written.

use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use bytes::{BufMut, Bytes, BytesMut};

use crate::auth::ProxyAuth;
use crate::error::{ErrorKind, Result};
use crate::headers::{check_field, is_token, list_contains, printable, trim};
use crate::url::{Authority, Url};

/// A request method: a token (RFC 9110 §9.1), compared case-sensitively.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Method(Bytes);

impl Method {
    /// `GET`
    pub const GET: Method = Method(Bytes::from_static(b"GET"));
    /// `HEAD`: its response never has a body (RFC 9112 §6.3 item 1).
    pub const HEAD: Method = Method(Bytes::from_static(b"HEAD"));
    /// `POST`
    pub const POST: Method = Method(Bytes::from_static(b"POST"));
    /// `PUT`
    pub const PUT: Method = Method(Bytes::from_static(b"PUT"));
    /// `DELETE`
    pub const DELETE: Method = Method(Bytes::from_static(b"DELETE"));
    /// `PATCH`
    pub const PATCH: Method = Method(Bytes::from_static(b"PATCH"));
    /// `OPTIONS`
    pub const OPTIONS: Method = Method(Bytes::from_static(b"OPTIONS"));
    /// `TRACE`
    pub const TRACE: Method = Method(Bytes::from_static(b"TRACE"));
    /// `CONNECT`: use [`Connection::send_connect`](crate::Connection::send_connect).
    pub const CONNECT: Method = Method(Bytes::from_static(b"CONNECT"));

    /// Any method; checked to be a token when the request is encoded.
    #[must_use]
    pub fn new(m: impl Into<Bytes>) -> Method {
        Method(m.into())
    }

    /// The method's bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether it is idempotent (RFC 9110 §9.2.2), so a request can be retried safely.
    #[must_use]
    pub fn is_idempotent(&self) -> bool {
        matches!(&self.0[..], b"GET" | b"HEAD" | b"PUT" | b"DELETE" | b"OPTIONS" | b"TRACE")
    }

    /// Methods whose requests define a meaning for content: an empty body is sent as
    /// `Content-Length: 0` (RFC 9110 §8.6).
    fn expects_content(&self) -> bool {
        matches!(&self.0[..], b"POST" | b"PUT" | b"PATCH")
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", printable(&self.0))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", printable(&self.0))
    }
}

/// The request body's framing (RFC 9112 §6.2, §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Body {
    /// No body. `POST`, `PUT` and `PATCH` still say `Content-Length: 0`.
    #[default]
    Empty,
    /// Exactly this many bytes, announced with `Content-Length`.
    Length(u64),
    /// Unknown length: sent with `Transfer-Encoding: chunked`, trailers allowed. Refused on a
    /// connection whose peer answered in HTTP/1.0.
    Chunked,
}

/// Which request-target form to write (RFC 9112 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`: to an origin, or through a tunnel.
    Origin,
    /// `http://host:port/path?query`: plain HTTP forwarded by a proxy.
    Absolute,
}

/// A request: method, URL, header fields in the caller's order, body framing and, when it is
/// forwarded by a proxy, the proxy's credentials (route state, never part of the header list).
#[derive(Clone)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: Vec<(Bytes, Bytes)>,
    pub(crate) body: Body,
    pub(crate) form: TargetForm,
    pub(crate) proxy_auth: Option<ProxyAuth>,
}

impl Request {
    /// A request with no header fields and no body, in origin-form.
    #[must_use]
    pub fn new(method: Method, url: Url) -> Request {
        Request {
            method,
            url,
            headers: Vec::new(),
            body: Body::Empty,
            form: TargetForm::Origin,
            proxy_auth: None,
        }
    }

    /// `GET url`.
    #[must_use]
    pub fn get(url: Url) -> Request {
        Request::new(Method::GET, url)
    }

    /// Appends a header field; it is checked when the request is encoded. `&'static str`,
    /// `String` and `Vec<u8>` convert without copying.
    #[must_use]
    pub fn header(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body framing.
    #[must_use]
    pub fn body(mut self, body: Body) -> Request {
        self.body = body;
        self
    }

    /// Sends the request to a proxy that forwards it: absolute-form target, and
    /// `Proxy-Authorization` from `auth` when given.
    #[must_use]
    pub fn forwarded(mut self, auth: Option<ProxyAuth>) -> Request {
        self.form = TargetForm::Absolute;
        self.proxy_auth = auth;
        self
    }

    /// Shapes the request for `route`: absolute-form with the proxy's credentials when the
    /// route forwards it through an HTTP proxy; origin-form otherwise (direct, or inside a
    /// tunnel, where proxy credentials must never go).
    #[must_use]
    pub fn via(mut self, route: &crate::route::Route) -> Request {
        if route.is_forwarded() {
            self.form = TargetForm::Absolute;
            self.proxy_auth = route.proxy_auth().cloned();
        } else {
            self.form = TargetForm::Origin;
            self.proxy_auth = None;
        }
        self
    }

    /// The method.
    #[must_use]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The header fields, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.headers.iter().map(|(n, v)| (&n[..], &v[..]))
    }

    /// The body framing.
    #[must_use]
    pub fn body_kind(&self) -> Body {
        self.body
    }

    /// The target form.
    #[must_use]
    pub fn target_form(&self) -> TargetForm {
        self.form
    }

    /// The proxy's credentials for a forwarded request (set by [`Request::via`] or
    /// [`Request::forwarded`]).
    #[must_use]
    pub fn proxy_auth(&self) -> Option<&ProxyAuth> {
        self.proxy_auth.as_ref()
    }
}

impl fmt::Debug for Request {
    /// Header values are not shown (they may hold credentials); names are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers.iter().map(|(n, _)| printable(n)).collect::<Vec<_>>())
            .field("body", &self.body)
            .field("form", &self.form)
            .field("proxy_auth", &self.proxy_auth)
            .finish()
    }
}

/// What encoding a request head learned about the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadInfo {
    /// The method is `HEAD`: the response has no body.
    pub is_head: bool,
    /// `Expect: 100-continue` was sent with a body: hold the body until `100` or the deadline.
    pub expect_continue: bool,
    /// `Connection: close` was sent.
    pub close: bool,
    /// An `Upgrade` field was sent: `101` is allowed.
    pub upgrade: bool,
    /// The body framing that goes on the wire.
    pub body: Body,
}

fn name_is(name: &[u8], wanted: &str) -> bool {
    name.eq_ignore_ascii_case(wanted.as_bytes())
}

/// Encodes `req`'s head into `out` (HTTP/1.1, CRLF line endings).
///
/// Adds `Host` first when missing (port only when not the scheme's default, IPv6 in brackets),
/// the framing field for the body, and `Proxy-Authorization: <proxy_authorization>` when that
/// is given and the request is forwarded (absolute-form); a caller's own
/// `Proxy-Authorization` is dropped then. [`Connection::send_request`](crate::Connection)
/// decides the value from the request's [`ProxyAuth`] (sent at once only when preemptive).
///
/// # Errors
/// [`ErrorKind::InvalidMethod`], [`ErrorKind::InvalidHeaderName`],
/// [`ErrorKind::InvalidHeaderValue`] or [`ErrorKind::FramingHeader`]; `out` is then left as it
/// was.
///
/// ```
/// use ferry_proto::{encode_request, Request, Url};
/// let mut out = bytes::BytesMut::new();
/// let req = Request::get(Url::parse("http://example.com:8080/x?y").unwrap()).header("Accept", "*/*");
/// encode_request(&req, None, &mut out).unwrap();
/// assert_eq!(&out[..], b"GET /x?y HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n\r\n");
/// ```
pub fn encode_request(
    req: &Request,
    proxy_authorization: Option<&str>,
    out: &mut BytesMut,
) -> Result<HeadInfo> {
    let info = check_request(req)?;
    let start = out.len();
    out.reserve(64 + req.headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum::<usize>());
    out.put_slice(req.method.as_bytes());
    out.put_u8(b' ');
    match req.form {
        TargetForm::Origin => out.put_slice(req.url.path_and_query().as_bytes()),
        TargetForm::Absolute => {
            let _ = write!(Writer(out), "{}", req.url);
        }
    }
    out.put_slice(b" HTTP/1.1\r\n");
    if !req.headers.iter().any(|(n, _)| name_is(n, "host")) {
        out.put_slice(b"Host: ");
        let _ = req.url.write_host_value(&mut Writer(out));
        out.put_slice(b"\r\n");
    }
    let route_auth = match req.form {
        TargetForm::Absolute => proxy_authorization,
        TargetForm::Origin => None,
    };
    let mut has_framing = false;
    for (n, v) in &req.headers {
        if route_auth.is_some() && name_is(n, "proxy-authorization") {
            continue;
        }
        has_framing |= name_is(n, "content-length") || name_is(n, "transfer-encoding");
        put_field(out, n, v);
    }
    if let Some(value) = route_auth {
        if let Err(e) = check_field(b"Proxy-Authorization", value.as_bytes()) {
            out.truncate(start);
            return Err(e);
        }
        put_field(out, b"Proxy-Authorization", value.as_bytes());
    }
    if !has_framing {
        match info.body {
            Body::Length(n) => {
                out.put_slice(b"Content-Length: ");
                let _ = write!(Writer(out), "{n}");
                out.put_slice(b"\r\n");
            }
            Body::Empty if req.method.expects_content() => out.put_slice(b"Content-Length: 0\r\n"),
            Body::Empty => {}
            Body::Chunked => out.put_slice(b"Transfer-Encoding: chunked\r\n"),
        }
    }
    out.put_slice(b"\r\n");
    Ok(info)
}

/// Checks every part of `req` that goes on the wire and works out what the head says.
fn check_request(req: &Request) -> Result<HeadInfo> {
    if !is_token(req.method.as_bytes()) {
        return Err(ErrorKind::InvalidMethod.into());
    }
    if req.method == Method::CONNECT {
        return Err(
            ErrorKind::Misuse { call: crate::error::Call::EncodeConnect, phase: None }.into()
        );
    }
    let mut info = HeadInfo {
        is_head: req.method == Method::HEAD,
        expect_continue: false,
        close: false,
        upgrade: false,
        body: req.body,
    };
    for (n, v) in &req.headers {
        check_field(n, v)?;
        if name_is(n, "content-length") {
            let ok = match req.body {
                Body::Length(len) => parse_length(v) == Some(len),
                Body::Empty => parse_length(v) == Some(0),
                Body::Chunked => false,
            };
            if !ok {
                return Err(ErrorKind::FramingHeader { name: printable(n) }.into());
            }
        } else if name_is(n, "transfer-encoding") {
            if req.body != Body::Chunked || !trim(v).eq_ignore_ascii_case(b"chunked") {
                return Err(ErrorKind::FramingHeader { name: printable(n) }.into());
            }
        } else if name_is(n, "expect") {
            info.expect_continue |= list_contains(v, "100-continue");
        } else if name_is(n, "connection") {
            info.close |= list_contains(v, "close");
        } else if name_is(n, "upgrade") {
            info.upgrade = true;
        }
    }
    // Nothing to hold back when there is no body.
    info.expect_continue &= matches!(req.body, Body::Chunked | Body::Length(1..));
    Ok(info)
}

/// `Content-Length = 1*DIGIT` (RFC 9110 §8.6), no sign, no spaces inside, no overflow.
pub(crate) fn parse_length(v: &[u8]) -> Option<u64> {
    let v = trim(v);
    if v.is_empty() || v.len() > 20 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

fn put_field(out: &mut BytesMut, name: &[u8], value: &[u8]) {
    out.put_slice(name);
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

/// A CONNECT request (RFC 9110 §9.3.6): the tunnel's target, header fields for the proxy, and
/// the proxy's credentials (route state).
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

    /// Adds a header field for the proxy (`User-Agent`, say); checked when encoded.
    #[must_use]
    pub fn header(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Connect {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the proxy's credentials.
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
}

/// Encodes `CONNECT host:port HTTP/1.1` with `Host: host:port` (the port always, IPv6 in
/// brackets; RFC 9112 §3.2.3), the caller's fields (without any `Proxy-Authorization` of
/// theirs) and `authorization` when given.
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
    let _ = write!(Writer(out), "CONNECT {0} HTTP/1.1\r\nHost: {0}\r\n", connect.target);
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

/// Writes the chunk-size line for a chunk of `len` bytes (RFC 9112 §7.1) and returns it as its
/// own small piece, so the chunk's data can be written vectored, uncopied.
pub fn chunk_size_line(len: usize, scratch: &mut BytesMut) -> Bytes {
    let _ = write!(Writer(scratch), "{len:x}\r\n");
    scratch.split().freeze()
}

/// `fmt::Write` into a `BytesMut`.
pub(crate) struct Writer<'a>(pub(crate) &'a mut BytesMut);

impl fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.put_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Credentials;
    use alloc::string::String;

    #[track_caller]
    fn check(req: Request, expected: core::result::Result<&str, ErrorKind>) {
        let mut out = BytesMut::from(&b"KEEP"[..]);
        // What `Connection::send_request` passes: the route's answer before any challenge.
        let auth = req
            .proxy_auth
            .as_ref()
            .filter(|a| a.is_preemptive())
            .and_then(|a| a.authorization(None, &req.url.authority()));
        match (encode_request(&req, auth.as_deref(), &mut out), expected) {
            (Ok(_), Ok(wire)) => assert_eq!(String::from_utf8_lossy(&out[4..]), wire),
            (Err(e), Err(kind)) => {
                assert_eq!(e.kind(), &kind);
                assert_eq!(&out[..], b"KEEP", "nothing written on error");
            }
            (got, want) => {
                panic!("got {got:?} / {:?}, want {want:?}", String::from_utf8_lossy(&out))
            }
        }
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn targets_and_host() {
        // RFC 9112 §3.2.1 origin-form; RFC 9110 §7.2 Host first, port only when not default.
        check(Request::get(url("http://h/")), Ok("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
        check(Request::get(url("http://h:80/a")), Ok("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"));
        check(Request::get(url("https://h:80/a")), Ok("GET /a HTTP/1.1\r\nHost: h:80\r\n\r\n"));
        check(
            Request::get(url("http://[::1]:8080/?q")),
            Ok("GET /?q HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
        );
        // Userinfo reaches neither target nor Host.
        check(Request::get(url("http://u:pw@h/p")), Ok("GET /p HTTP/1.1\r\nHost: h\r\n\r\n"));
        // RFC 9112 §3.2.2 absolute-form through a proxy: no userinfo, no fragment.
        check(
            Request::get(url("http://u:pw@h:81/p#f")).forwarded(None),
            Ok("GET http://h:81/p HTTP/1.1\r\nHost: h:81\r\n\r\n"),
        );
        // The caller's Host wins and keeps its place; order of fields is kept.
        check(
            Request::get(url("http://h/"))
                .header("B", "2")
                .header("host", "other")
                .header("A", "1"),
            Ok("GET / HTTP/1.1\r\nB: 2\r\nhost: other\r\nA: 1\r\n\r\n"),
        );
    }

    #[test]
    fn bodies() {
        // RFC 9112 §6.2 Content-Length; §7.1 chunked; RFC 9110 §8.6 CL: 0 for POST.
        check(
            Request::new(Method::POST, url("http://h/")),
            Ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"),
        );
        check(
            Request::new(Method::PUT, url("http://h/")).body(Body::Length(5)),
            Ok("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"),
        );
        check(
            Request::new(Method::POST, url("http://h/")).body(Body::Chunked),
            Ok("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"),
        );
        // A matching framing field of the caller's is kept, not doubled.
        check(
            Request::new(Method::POST, url("http://h/"))
                .header("content-length", "5")
                .body(Body::Length(5)),
            Ok("POST / HTTP/1.1\r\nHost: h\r\ncontent-length: 5\r\n\r\n"),
        );
        check(
            Request::new(Method::POST, url("http://h/"))
                .header("content-length", "6")
                .body(Body::Length(5)),
            Err(ErrorKind::FramingHeader { name: "content-length".into() }),
        );
        check(
            Request::new(Method::POST, url("http://h/"))
                .header("Transfer-Encoding", "gzip")
                .body(Body::Chunked),
            Err(ErrorKind::FramingHeader { name: "Transfer-Encoding".into() }),
        );
        check(
            Request::get(url("http://h/")).header("Content-Length", "+0"),
            Err(ErrorKind::FramingHeader { name: "Content-Length".into() }),
        );
    }

    #[test]
    fn nothing_unchecked_reaches_the_wire() {
        // RFC 9110 §5.5: no CR, LF, NUL in values; §5.1 names are tokens; §9.1 methods are tokens.
        check(
            Request::get(url("http://h/")).header("X", "a\r\nInjected: 1"),
            Err(ErrorKind::InvalidHeaderValue { name: "X".into() }),
        );
        check(
            Request::get(url("http://h/")).header("X", "a\0"),
            Err(ErrorKind::InvalidHeaderValue { name: "X".into() }),
        );
        check(
            Request::get(url("http://h/")).header("X\r\nY", "a"),
            Err(ErrorKind::InvalidHeaderName { name: "X\\x0d\\x0aY".into() }),
        );
        check(
            Request::get(url("http://h/")).header("", "a"),
            Err(ErrorKind::InvalidHeaderName { name: "".into() }),
        );
        check(Request::new(Method::new("GET /x"), url("http://h/")), Err(ErrorKind::InvalidMethod));
        check(Request::new(Method::new(""), url("http://h/")), Err(ErrorKind::InvalidMethod));
    }

    #[test]
    fn proxy_credentials_are_route_state() {
        let auth = ProxyAuth::basic(Credentials::new("Aladdin", "open sesame"));
        // Forwarded: the route's credentials replace any of the caller's.
        check(
            Request::get(url("http://h/"))
                .header("Proxy-Authorization", "Basic bad")
                .forwarded(Some(auth.clone())),
            Ok(
                "GET http://h/ HTTP/1.1\r\nHost: h\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n",
            ),
        );
        // In origin-form (direct or tunnelled) route credentials are never written.
        let mut req = Request::get(url("http://h/"));
        req.proxy_auth = Some(auth);
        check(req, Ok("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    }

    #[test]
    fn routes_shape_the_request() {
        use crate::route::{Proxy, ProxyMode, Route};
        let proxy = Proxy::parse("http://alice:s3cret@proxy:3128").unwrap();
        // Plain HTTP through an HTTP proxy: forwarded in absolute-form, with its credentials.
        let route = Route::new(&url("http://h/x"), Some(proxy.clone()));
        check(
            Request::get(url("http://h/x")).via(&route),
            Ok(
                "GET http://h/x HTTP/1.1\r\nHost: h\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n",
            ),
        );
        assert!(route.connect().is_none());
        // HTTPS, or a tunnelling proxy: CONNECT first, then origin-form without credentials.
        for route in [
            Route::new(&url("https://h/x"), Some(proxy.clone())),
            Route::new(&url("http://h/x"), Some(proxy.clone().with_mode(ProxyMode::Tunnel))),
        ] {
            let connect = route.connect().unwrap();
            assert_eq!(
                alloc::format!("{}", connect.target()),
                alloc::format!("h:{}", route.origin().port)
            );
            assert!(connect.auth.is_some());
            check(
                Request::get(url("http://h/x")).via(&route),
                Ok("GET /x HTTP/1.1\r\nHost: h\r\n\r\n"),
            );
        }
        // Direct.
        let route = Route::direct(&url("http://h/x"));
        assert!(route.connect().is_none());
        check(
            Request::get(url("http://h/x")).via(&route),
            Ok("GET /x HTTP/1.1\r\nHost: h\r\n\r\n"),
        );
    }

    #[test]
    fn head_info() {
        let mut out = BytesMut::new();
        let info = encode_request(
            &Request::new(Method::POST, url("http://h/"))
                .header("Expect", "100-Continue")
                .header("Connection", "keep-alive, Close")
                .body(Body::Length(3)),
            None,
            &mut out,
        )
        .unwrap();
        assert!(info.expect_continue && info.close && !info.upgrade && !info.is_head);
        // No body: nothing to hold back.
        let info = encode_request(
            &Request::get(url("http://h/")).header("expect", "100-continue"),
            None,
            &mut out,
        )
        .unwrap();
        assert!(!info.expect_continue);
    }

    #[test]
    fn connect_head() {
        // RFC 9112 §3.2.3: authority-form, Host with the port always.
        let mut out = BytesMut::new();
        let c = Connect::new(Url::parse("https://[::1]/").unwrap().authority())
            .header("User-Agent", "ferry");
        encode_connect(&c, Some("Basic eA=="), &mut out).unwrap();
        assert_eq!(
            &out[..],
            b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\nUser-Agent: ferry\r\nProxy-Authorization: Basic eA==\r\n\r\n"
        );
    }

    #[test]
    fn lengths() {
        for (v, want) in [
            (&b"0"[..], Some(0)),
            (b"18446744073709551615", Some(u64::MAX)),
            (b"18446744073709551616", None),
            (b"+1", None),
            (b"-1", None),
            (b"1 2", None),
            (b"0x10", None),
            (b"1_000", None),
            (b"", None),
            (b" 7 ", Some(7)),
        ] {
            assert_eq!(parse_length(v), want, "{v:?}");
        }
    }

    #[test]
    fn chunk_lines() {
        let mut s = BytesMut::new();
        assert_eq!(&chunk_size_line(255, &mut s)[..], b"ff\r\n");
        assert_eq!(&chunk_size_line(1, &mut s)[..], b"1\r\n");
    }
}
