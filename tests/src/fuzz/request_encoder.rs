//! The `request_encoder` target: requests from structured input, encoded, sent and re-parsed.

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use bytes::{Bytes, BytesMut};
use ferry_proto::proxy::Proxy;
use ferry_proto::wire::encode_request;
use ferry_proto::{
    BodyFraming, Config, Connection, Credentials, ErrorKind, Headers, Method, Output, ProxyAuth,
    Request, Scheme, Url, UrlError,
};

use super::oracle;
use super::stream::contains;

const USER: &str = "route-user";
const PROXY: &str = "http://proxy.invalid:3128";
const PASSWORD: &str = "route-pw-4b1d";

/// Names the encoder treats specially, so the fuzzer need not guess them.
const NAMES: [&str; 10] = [
    "Host",
    "Content-Length",
    "Transfer-Encoding",
    "Proxy-Authorization",
    "Expect",
    "Connection",
    "Upgrade",
    "content-length",
    "TRANSFER-ENCODING",
    "Accept",
];

const METHODS: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "PATCH", "M-SEARCH"];

const URLS: [&str; 6] = [
    "http://example.com/",
    "https://example.com:8443/a/b?c=d&e",
    "http://user:pw@[2001:db8::1]:8080/x",
    "http://10.0.0.1",
    "https://xn--bcher-kva.example/%7Euser/?q=%20",
    "http://h:80/p#frag",
];

#[derive(Arbitrary, Debug)]
enum Bytes8 {
    Known(u8),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Field {
    name: Bytes8,
    value: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
enum BodyKind {
    Empty,
    Length,
    Chunked,
}

#[derive(Arbitrary, Debug)]
enum RouteKind {
    Origin,
    Forwarded,
    ForwardedWithCredentials { preemptive: bool },
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: Bytes8,
    url: Bytes8,
    /// Appended to the URL when it is one of the known ones.
    path: String,
    fields: Vec<Field>,
    body: BodyKind,
    route: RouteKind,
    /// The body, in the pieces it is handed over.
    pieces: Vec<Vec<u8>>,
    trailers: Vec<Field>,
}

fn pick(b: &Bytes8, known: &[&str]) -> Vec<u8> {
    match b {
        Bytes8::Known(i) => known[usize::from(*i) % known.len()].as_bytes().to_vec(),
        Bytes8::Raw(raw) => raw.clone(),
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// RFC 9110 §5.5: VCHAR, SP, HTAB, obs-text.
fn is_value(v: &[u8]) -> bool {
    v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |e| e + 1);
    &v[start..end]
}

/// The `request_encoder` fuzz target, on structured input (`arbitrary`): method, URL, header
/// fields (names drawn from the special ones or raw bytes), body framing and pieces, trailers,
/// and the route (origin-form, forwarded, forwarded with the proxy's credentials, preemptive
/// or not), applied with [`Request::via`] through a forwarding route made for a plain-HTTP URL.
/// Properties:
///
/// - `encode_request` fails exactly when a naive check says it must (method not a token, or
///   `CONNECT`; an `https` URL to be forwarded; a name not a token; a value with CR, LF, NUL
///   or another control byte; a framing field that contradicts the body), with a caller
///   error, and then writes nothing;
/// - else the head ends in CRLF CRLF, has no CR or LF but in CRLF line endings and no NUL, and
///   re-parses (httparse) to the same method, the target (path or absolute-form), version
///   1.1, and the fields in order: `Host` first when the caller gave none, the caller's (less
///   its `Proxy-Authorization` when forwarded with route credentials), the route's
///   `Proxy-Authorization` only when forwarded with preemptive credentials (the value the
///   connection passes), and one framing field when needed;
/// - the route's password never reaches the wire, nor its Basic token unless forwarded, and
///   `Debug` of the request shows neither;
/// - sent through a [`Connection`], the same head goes out, then the body exactly (decoded with
///   httparse's chunk-size parser when chunked, trailers included), held until the deadline
///   when the head asks for `100-continue`.
pub fn request_encoder(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else { return };
    let method = pick(&input.method, &METHODS);
    let url_text = match &input.url {
        Bytes8::Known(i) => format!("{}{}", URLS[usize::from(*i) % URLS.len()], input.path),
        Bytes8::Raw(raw) => String::from_utf8_lossy(raw).into_owned(),
    };
    let Ok(url) = Url::parse(&url_text) else { return };
    let fields: Vec<(Vec<u8>, Vec<u8>)> =
        input.fields.iter().map(|f| (pick(&f.name, &NAMES), f.value.clone())).collect();
    let body_len: usize = input.pieces.iter().map(Vec::len).sum();
    let body = match input.body {
        BodyKind::Empty => BodyFraming::Empty,
        BodyKind::Length => BodyFraming::Length(body_len as u64),
        BodyKind::Chunked => BodyFraming::Chunked,
    };
    let (route_auth, preemptive) = match input.route {
        RouteKind::ForwardedWithCredentials { preemptive } => (
            Some(ProxyAuth::basic(Credentials::new(USER, PASSWORD)).preemptive(preemptive)),
            preemptive,
        ),
        _ => (None, false),
    };
    let forwarded = !matches!(input.route, RouteKind::Origin);

    let mut req = Request::new(Method::new(method.clone()), url.clone()).body(body);
    for (n, v) in &fields {
        req = req.header(n.clone(), v.clone());
    }
    if forwarded {
        let mut proxy = Proxy::parse(PROXY).unwrap_or_else(|e| panic!("{e}"));
        if let Some(auth) = &route_auth {
            proxy = proxy.with_auth(auth.clone());
        }
        let plain = Url::parse("http://example.com/").unwrap_or_else(|e| panic!("{e}"));
        req = req.via(&ferry_proto::Route::new(&plain, Some(proxy)));
        assert!(req.is_forwarded(), "a forwarding route");
    }
    let basic = oracle::basic(USER, PASSWORD);
    // What the connection passes for the first request: the value when preemptive.
    let sent_auth = (route_auth.is_some() && preemptive).then_some(basic.as_str());
    let token = &basic["Basic ".len()..];
    // The caller may write the secret itself anywhere: then it is the caller's to show (a
    // URL's host is shown lower-cased).
    let caller_wrote = |secret: &str| {
        contains(&method, secret.as_bytes())
            || url_text.to_ascii_lowercase().contains(&secret.to_ascii_lowercase())
            || fields
                .iter()
                .any(|(n, v)| contains(n, secret.as_bytes()) || contains(v, secret.as_bytes()))
    };
    let debug = format!("{req:?}");
    for secret in [PASSWORD, token] {
        assert!(caller_wrote(secret) || !debug.contains(secret), "Debug shows {secret}: {debug}");
    }

    // The naive verdict.
    let framing_ok = |n: &[u8], v: &[u8]| {
        if n.eq_ignore_ascii_case(b"content-length") {
            let want = match body {
                BodyFraming::Empty => 0,
                BodyFraming::Length(n) => n,
                BodyFraming::Chunked => return false,
            };
            let v = trim(v);
            !v.is_empty()
                && v.len() <= 20
                && v.iter().all(u8::is_ascii_digit)
                && std::str::from_utf8(v).ok().and_then(|s| s.parse::<u64>().ok()) == Some(want)
        } else if n.eq_ignore_ascii_case(b"transfer-encoding") {
            body == BodyFraming::Chunked && trim(v).eq_ignore_ascii_case(b"chunked")
        } else {
            true
        }
    };
    let https_forwarded = forwarded && url.scheme() == Scheme::Https;
    let valid = is_token(&method)
        && method != b"CONNECT"
        && !https_forwarded
        && fields.iter().all(|(n, v)| is_token(n) && is_value(v) && framing_ok(n, v));

    let mut out = BytesMut::from(&b"KEEP"[..]);
    match encode_request(&req, sent_auth, &mut out) {
        Err(e) => {
            assert!(!valid, "refused a valid request: {e:?}");
            assert_eq!(&out[..], b"KEEP", "written before the error {e:?}");
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::InvalidMethod
                        | ErrorKind::InvalidHeaderName { .. }
                        | ErrorKind::InvalidHeaderValue { .. }
                        | ErrorKind::FramingHeader { .. }
                        | ErrorKind::Misuse { .. }
                        | ErrorKind::InvalidUrl { what: UrlError::HttpsForwarded }
                ),
                "{e:?}"
            );
            return;
        }
        Ok(_) => assert!(valid, "encoded an invalid request: {:?}", String::from_utf8_lossy(&out)),
    }
    let head = out.split_off(4).freeze();
    let shape = Shape { forwarded, route_auth: route_auth.is_some(), sent_auth };
    check_head(&head, &method, &url, &fields, body, &shape);
    assert!(
        caller_wrote(PASSWORD) || !contains(&head, PASSWORD.as_bytes()),
        "the route's password on the wire"
    );
    if sent_auth.is_none() {
        assert!(
            caller_wrote(token) || !contains(&head, token.as_bytes()),
            "route credentials on the wire of a request not forwarded with them preemptively"
        );
    }

    send(&req, &head, &input, body);
}

/// What the route made of the request.
struct Shape<'a> {
    /// Sent in absolute-form.
    forwarded: bool,
    /// Forwarded, with route credentials.
    route_auth: bool,
    /// The `Proxy-Authorization` value passed to the encoder.
    sent_auth: Option<&'a str>,
}

/// The head, re-parsed.
fn check_head(
    head: &[u8],
    method: &[u8],
    url: &Url,
    fields: &[(Vec<u8>, Vec<u8>)],
    body: BodyFraming,
    shape: &Shape<'_>,
) {
    let Shape { forwarded, route_auth, sent_auth } = *shape;
    assert!(head.ends_with(b"\r\n\r\n"), "no empty line at the end");
    assert!(!head.contains(&0), "NUL on the wire");
    for (i, &b) in head.iter().enumerate() {
        match b {
            b'\r' => assert_eq!(head.get(i + 1), Some(&b'\n'), "bare CR at {i}"),
            b'\n' => assert_eq!(head.get(i.wrapping_sub(1)), Some(&b'\r'), "bare LF at {i}"),
            _ => {}
        }
    }
    let mut slots = vec![httparse::EMPTY_HEADER; fields.len() + 4];
    let mut parsed = httparse::Request::new(&mut slots);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(n)) => assert_eq!(n, head.len(), "more than one head"),
        other => {
            panic!("the head does not re-parse: {other:?}: {:?}", String::from_utf8_lossy(head))
        }
    }
    assert_eq!(parsed.method.map(str::as_bytes), Some(method));
    let target = if forwarded { url.to_string() } else { url.path_and_query().to_owned() };
    assert_eq!(parsed.path, Some(target.as_str()));
    assert_eq!(parsed.version, Some(1));

    let mut want: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    if !fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(b"host")) {
        want.push((b"Host".to_vec(), url.host_header().as_bytes().to_vec()));
    }
    for (n, v) in fields {
        if !(route_auth && n.eq_ignore_ascii_case(b"proxy-authorization")) {
            want.push((n.clone(), trim(v).to_vec()));
        }
    }
    if let Some(value) = sent_auth {
        want.push((b"Proxy-Authorization".to_vec(), value.as_bytes().to_vec()));
    }
    let has_framing = fields.iter().any(|(n, _)| {
        n.eq_ignore_ascii_case(b"content-length") || n.eq_ignore_ascii_case(b"transfer-encoding")
    });
    if !has_framing {
        let m = method;
        match body {
            BodyFraming::Length(n) => {
                want.push((b"Content-Length".to_vec(), n.to_string().into_bytes()))
            }
            BodyFraming::Empty if m == b"POST" || m == b"PUT" || m == b"PATCH" => {
                want.push((b"Content-Length".to_vec(), b"0".to_vec()));
            }
            BodyFraming::Empty => {}
            BodyFraming::Chunked => want.push((b"Transfer-Encoding".to_vec(), b"chunked".to_vec())),
        }
    }
    let got: Vec<(Vec<u8>, Vec<u8>)> =
        parsed.headers.iter().map(|h| (h.name.as_bytes().to_vec(), h.value.to_vec())).collect();
    assert_eq!(got, want, "fields on the wire");
}

/// Sends the request through a connection; the wire is the head, then the body.
fn send(req: &Request, head: &[u8], input: &Input, body: BodyFraming) {
    let mut conn: Connection<Duration> = Connection::new(Duration::ZERO, Config::default());
    conn.send_request(Duration::ZERO, req).unwrap_or_else(|e| panic!("send_request: {e}"));
    let mut trailers = None;
    // A declared empty body is complete at once: the machine never asks for it.
    if matches!(body, BodyFraming::Chunked | BodyFraming::Length(1..)) {
        // A `Content-Length` body ends with its last byte: no empty piece or `finish_body`
        // after it.
        for piece in input.pieces.iter().filter(|p| !p.is_empty()) {
            conn.send_body(Duration::ZERO, Bytes::from(piece.clone()))
                .unwrap_or_else(|e| panic!("send_body: {e}"));
        }
        if body == BodyFraming::Chunked {
            let pairs: Vec<(Vec<u8>, Vec<u8>)> =
                input.trailers.iter().map(|f| (pick(&f.name, &NAMES), f.value.clone())).collect();
            trailers = Headers::from_pairs(pairs).ok();
            let framing = trailers.iter().flat_map(|t| t.iter()).find(|(n, _)| {
                n.eq_ignore_ascii_case("content-length")
                    || n.eq_ignore_ascii_case("transfer-encoding")
            });
            if let Some((name, _)) = framing {
                // RFC 9110 §6.5.1: refused, and nothing changes; the body ends without them.
                let refused = conn.finish_body(Duration::ZERO, trailers.as_ref());
                let want = ErrorKind::FramingHeader { name: name.to_owned() };
                assert_eq!(refused.map_err(|e| e.kind().clone()), Err(want));
                trailers = None;
            }
            conn.finish_body(Duration::ZERO, trailers.as_ref())
                .unwrap_or_else(|e| panic!("finish_body: {e}"));
        }
    }
    let mut wire = Vec::new();
    let poll = |conn: &mut Connection<Duration>, wire: &mut Vec<u8>| loop {
        match conn.poll_output() {
            Output::Transmit(t) => wire.extend_from_slice(&t),
            Output::NeedInput => break,
            other => panic!("sending: {other:?}"),
        }
    };
    poll(&mut conn, &mut wire);
    let held = has_expect(req) && matches!(body, BodyFraming::Chunked | BodyFraming::Length(1..));
    if held {
        // `Expect: 100-continue` holds the body until a 100 or the deadline.
        assert_eq!(wire, head, "the body went out before a 100 or the deadline");
    }
    conn.handle_timeout(Duration::from_secs(5));
    poll(&mut conn, &mut wire);
    assert!(wire.starts_with(head), "the connection sent another head");
    let rest = &wire[head.len()..];
    let data: Vec<u8> = input.pieces.concat();
    match body {
        BodyFraming::Empty => assert!(rest.is_empty(), "a body without one"),
        BodyFraming::Length(_) => assert_eq!(rest, &data[..], "the body"),
        BodyFraming::Chunked => {
            let mut decoded = Vec::new();
            let mut at = 0;
            loop {
                let (n, size) = match httparse::parse_chunk_size(&rest[at..]) {
                    Ok(httparse::Status::Complete(c)) => c,
                    other => panic!("chunk size at {at}: {other:?}"),
                };
                at += n;
                if size == 0 {
                    break;
                }
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                decoded.extend_from_slice(&rest[at..at + size]);
                at += size;
                assert_eq!(&rest[at..at + 2], b"\r\n", "after chunk data");
                at += 2;
            }
            assert_eq!(decoded, data, "the chunked body");
            let mut slots = vec![httparse::EMPTY_HEADER; input.trailers.len() + 1];
            let (n, parsed) = match httparse::parse_headers(&rest[at..], &mut slots) {
                Ok(httparse::Status::Complete(c)) => c,
                other => panic!("trailers: {other:?}"),
            };
            assert_eq!(at + n, rest.len(), "bytes after the trailers");
            let got: Vec<(&str, &[u8])> = parsed.iter().map(|h| (h.name, h.value)).collect();
            let want: Vec<(&str, &[u8])> =
                trailers.iter().flat_map(|t| t.iter()).map(|(n, v)| (n, trim(v))).collect();
            assert_eq!(got, want, "trailers");
        }
    }
}

fn has_expect(req: &Request) -> bool {
    req.headers().any(|(n, v)| {
        n.eq_ignore_ascii_case(b"expect")
            && v.split(|&b| b == b',').any(|i| trim(i).eq_ignore_ascii_case(b"100-continue"))
    })
}
