//! HTTP/1.1 wire pieces shared by the origin and the proxy: reading a head under a limit, the
//! message framing of RFC 9112 §6, reading a body (and copying its raw bytes on), writing a
//! response.

use std::io::{self, BufRead, Read, Write};

/// The longest request or response head read, in bytes.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// The longest body kept in memory (a request's, or a response a proxy looks at), in bytes.
pub(crate) const MAX_BODY: usize = 64 * 1024 * 1024;
/// The longest chunk-size or trailer line, in bytes.
const MAX_LINE: usize = 8 * 1024;
/// The most header fields in one head.
const MAX_FIELDS: usize = 128;

/// One request as a server or a proxy saw it: its head, headers in the order they came, and
/// (for requests that were read whole) the decoded body and trailers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenRequest {
    /// The method, as sent (`GET`, `CONNECT`...).
    pub method: String,
    /// The request target, as sent (origin-form `/a?b`, absolute-form, or authority-form).
    pub target: String,
    /// The minor HTTP version: `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub version: u8,
    /// Every header field in the order received, names with the case they were sent in.
    pub headers: Vec<(String, String)>,
    /// The decoded request body (chunked framing removed); empty for a CONNECT.
    pub body: Vec<u8>,
    /// The trailer fields of a chunked body, in order.
    pub trailers: Vec<(String, String)>,
}

impl SeenRequest {
    /// The value of the first field with this name (ASCII case-insensitive), if any.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The values of every field with this name (ASCII case-insensitive), in order.
    #[must_use]
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether a field with this name (ASCII case-insensitive) was sent.
    #[must_use]
    pub fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    /// The path of the target without its query: origin-form as is, absolute-form with its
    /// scheme and authority removed.
    #[must_use]
    pub fn path(&self) -> &str {
        let target = strip_absolute(&self.target);
        target.split_once('?').map_or(target, |(path, _)| path)
    }

    /// The query of the target (after `?`), if any.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        strip_absolute(&self.target).split_once('?').map(|(_, query)| query)
    }
}

/// An absolute-form target (`http://host/p`) turned into its origin-form part (`/p`).
fn strip_absolute(target: &str) -> &str {
    match target.split_once("://") {
        Some((scheme, rest)) if !scheme.contains('/') => {
            rest.find(['/', '?']).map_or("/", |at| &rest[at..])
        }
        _ => target,
    }
}

/// Why a message could not be read.
#[derive(Debug)]
pub(crate) enum WireError {
    /// The socket failed or closed mid-message.
    Io,
    /// The bytes are not HTTP/1.1 (the reason is for humans).
    Malformed(&'static str),
    /// A head, line or body is over its limit.
    TooLarge,
}

impl From<io::Error> for WireError {
    fn from(_: io::Error) -> WireError {
        WireError::Io
    }
}

/// A response head, as a proxy reads it from an upstream.
#[derive(Clone, Debug)]
pub(crate) struct ResponseHead {
    pub(crate) code: u16,
    pub(crate) reason: String,
    pub(crate) headers: Vec<(String, String)>,
}

/// Reads one head's bytes, up to and including the empty line. `Ok(None)`: the peer closed
/// cleanly before the first byte. Empty lines before a request line are skipped (RFC 9112 §2.2).
fn read_head_bytes<R: BufRead>(r: &mut R) -> Result<Option<Vec<u8>>, WireError> {
    let mut head = Vec::new();
    loop {
        let budget = (MAX_HEAD + 1).saturating_sub(head.len()) as u64;
        let before = head.len();
        let n = r.by_ref().take(budget).read_until(b'\n', &mut head)?;
        if n == 0 {
            if head.is_empty() {
                return Ok(None);
            }
            return Err(if head.len() > MAX_HEAD { WireError::TooLarge } else { WireError::Io });
        }
        if head.len() > MAX_HEAD {
            return Err(WireError::TooLarge);
        }
        if !head.ends_with(b"\n") {
            return Err(WireError::Io);
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            if before == 0 {
                head.clear();
                continue;
            }
            return Ok(Some(head));
        }
    }
}

fn fields(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
        .collect()
}

/// Reads and parses one request head; `Ok(None)` when the peer closed between requests.
pub(crate) fn read_request_head<R: BufRead>(r: &mut R) -> Result<Option<SeenRequest>, WireError> {
    let Some(bytes) = read_head_bytes(r)? else { return Ok(None) };
    let mut slots = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(&bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(WireError::Malformed("incomplete head")),
        Err(httparse::Error::TooManyHeaders) => return Err(WireError::TooLarge),
        Err(_) => return Err(WireError::Malformed("not an HTTP/1.x request head")),
    }
    Ok(Some(SeenRequest {
        method: req.method.unwrap_or_default().to_owned(),
        target: req.path.unwrap_or_default().to_owned(),
        version: req.version.unwrap_or(1),
        headers: fields(req.headers),
        body: Vec::new(),
        trailers: Vec::new(),
    }))
}

/// Reads and parses one response head; a closed connection before it is an error.
pub(crate) fn read_response_head<R: BufRead>(r: &mut R) -> Result<ResponseHead, WireError> {
    let Some(bytes) = read_head_bytes(r)? else {
        return Err(WireError::Io);
    };
    let mut slots = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut resp = httparse::Response::new(&mut slots);
    match resp.parse(&bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(WireError::Malformed("incomplete head")),
        Err(httparse::Error::TooManyHeaders) => return Err(WireError::TooLarge),
        Err(_) => return Err(WireError::Malformed("not an HTTP/1.x response head")),
    }
    Ok(ResponseHead {
        code: resp.code.unwrap_or_default(),
        reason: resp.reason.unwrap_or_default().to_owned(),
        headers: fields(resp.headers),
    })
}

/// How a message body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the connection closes (responses only).
    UntilClose,
}

fn values<'a>(headers: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Whether a field's comma-separated list holds this token (ASCII case-insensitive).
pub(crate) fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    values(headers, name).flat_map(|v| v.split(',')).any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// The last transfer coding named by the `Transfer-Encoding` fields, if there are any.
fn last_coding(headers: &[(String, String)]) -> Option<String> {
    let mut last = None;
    for v in values(headers, "transfer-encoding") {
        for t in v.split(',') {
            last = Some(t.trim().to_ascii_lowercase());
        }
    }
    last
}

/// The one Content-Length the fields agree on (a list of equal values is one value, §6.3.5).
fn content_length(headers: &[(String, String)]) -> Result<Option<u64>, WireError> {
    let mut found: Option<u64> = None;
    for v in values(headers, "content-length") {
        for part in v.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(WireError::Malformed("invalid Content-Length"));
            }
            let n: u64 =
                part.parse().map_err(|_| WireError::Malformed("Content-Length overflows"))?;
            if found.is_some_and(|f| f != n) {
                return Err(WireError::Malformed("conflicting Content-Length values"));
            }
            found = Some(n);
        }
    }
    Ok(found)
}

/// A request's framing (RFC 9112 §6.3 rules 3 to 6); both Transfer-Encoding and Content-Length,
/// or a coding other than chunked last, is refused (§6.3 rule 4: respond 400 and close).
pub(crate) fn request_framing(headers: &[(String, String)]) -> Result<Framing, WireError> {
    let coding = last_coding(headers);
    let length = content_length(headers)?;
    match (coding, length) {
        (Some(_), Some(_)) => {
            Err(WireError::Malformed("both Transfer-Encoding and Content-Length"))
        }
        (Some(c), None) if c == "chunked" => Ok(Framing::Chunked),
        (Some(_), None) => Err(WireError::Malformed("a request coding other than chunked last")),
        (None, Some(0) | None) => Ok(Framing::None),
        (None, Some(n)) => Ok(Framing::Length(n)),
    }
}

/// A response's framing (RFC 9112 §6.3 rules 1 to 7) for a request with this method.
pub(crate) fn response_framing(
    request_method: &str,
    code: u16,
    headers: &[(String, String)],
) -> Result<Framing, WireError> {
    if request_method.eq_ignore_ascii_case("HEAD") || code < 200 || code == 204 || code == 304 {
        return Ok(Framing::None);
    }
    if request_method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&code) {
        return Ok(Framing::None);
    }
    match last_coding(headers) {
        Some(c) if c == "chunked" => return Ok(Framing::Chunked),
        Some(_) => return Ok(Framing::UntilClose),
        None => {}
    }
    Ok(match content_length(headers)? {
        Some(n) => Framing::Length(n),
        None => Framing::UntilClose,
    })
}

/// A body read by [`read_body`]: the decoded data (when kept) and the trailer fields.
#[derive(Debug, Default)]
pub(crate) struct Body {
    pub(crate) data: Vec<u8>,
    pub(crate) trailers: Vec<(String, String)>,
}

/// Reads a body framed as `framing`, copying the raw bytes as they came to `raw` (a proxy passes
/// its peer there, an origin `io::sink()`), and keeping the decoded data when `keep`.
pub(crate) fn read_body<R: BufRead>(
    r: &mut R,
    framing: Framing,
    raw: &mut dyn Write,
    keep: bool,
) -> Result<Body, WireError> {
    let mut body = Body::default();
    let mut total: u64 = 0;
    let mut take =
        |r: &mut R, n: u64, body: &mut Body, raw: &mut dyn Write| -> Result<(), WireError> {
            total = total.saturating_add(n);
            if keep && total > MAX_BODY as u64 {
                return Err(WireError::TooLarge);
            }
            copy_exact(r, n, raw, keep.then_some(&mut body.data))
        };
    match framing {
        Framing::None => {}
        Framing::Length(n) => take(r, n, &mut body, raw)?,
        Framing::UntilClose => loop {
            let buf = r.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let n = buf.len();
            raw.write_all(buf)?;
            if keep {
                if body.data.len() + n > MAX_BODY {
                    return Err(WireError::TooLarge);
                }
                body.data.extend_from_slice(buf);
            }
            r.consume(n);
        },
        Framing::Chunked => loop {
            let line = read_line(r)?;
            raw.write_all(&line)?;
            let size = parse_chunk_size(&line)?;
            if size == 0 {
                loop {
                    let line = read_line(r)?;
                    raw.write_all(&line)?;
                    let text = trim_eol(&line);
                    if text.is_empty() {
                        return Ok(body);
                    }
                    let (name, value) = text
                        .split_once(':')
                        .ok_or(WireError::Malformed("a trailer line without a colon"))?;
                    body.trailers.push((name.to_owned(), value.trim().to_owned()));
                }
            }
            take(r, size, &mut body, raw)?;
            let end = read_line(r)?;
            raw.write_all(&end)?;
            if !trim_eol(&end).is_empty() {
                return Err(WireError::Malformed("chunk data longer than its size"));
            }
        },
    }
    Ok(body)
}

/// Copies exactly `n` bytes from `r` to `raw` (and `keep`), failing on an early end.
fn copy_exact<R: BufRead>(
    r: &mut R,
    mut n: u64,
    raw: &mut dyn Write,
    mut keep: Option<&mut Vec<u8>>,
) -> Result<(), WireError> {
    while n > 0 {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Err(WireError::Io);
        }
        let len = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        raw.write_all(&buf[..len])?;
        if let Some(data) = keep.as_deref_mut() {
            data.extend_from_slice(&buf[..len]);
        }
        r.consume(len);
        n -= len as u64;
    }
    Ok(())
}

/// One line including its end, under [`MAX_LINE`].
fn read_line<R: BufRead>(r: &mut R) -> Result<Vec<u8>, WireError> {
    let mut line = Vec::new();
    r.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line)?;
    if line.len() > MAX_LINE {
        return Err(WireError::TooLarge);
    }
    if !line.ends_with(b"\n") {
        return Err(WireError::Io);
    }
    Ok(line)
}

fn trim_eol(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(line).into_owned()
}

/// The size of a chunk-size line (RFC 9112 §7.1), extensions ignored.
fn parse_chunk_size(line: &[u8]) -> Result<u64, WireError> {
    let text = trim_eol(line);
    let size = text.split(';').next().unwrap_or_default().trim_end_matches([' ', '\t']);
    if size.is_empty() || size.len() > 15 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(WireError::Malformed("invalid chunk size"));
    }
    u64::from_str_radix(size, 16).map_err(|_| WireError::Malformed("invalid chunk size"))
}

/// The reason phrase ferry's servers send for a status code.
pub(crate) fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        413 => "Content Too Large",
        417 => "Expectation Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Other",
    }
}

/// The body of a response a server writes.
#[derive(Clone, Debug)]
pub(crate) enum OutBody {
    /// No body and no `Content-Length` (1xx, 204, 304, a 2xx to CONNECT).
    Empty,
    /// A body with its `Content-Length`.
    Full(Vec<u8>),
    /// Chunked, these chunks (empty ones skipped) then these trailers.
    Chunked { chunks: Vec<Vec<u8>>, trailers: Vec<(String, String)> },
}

/// A response a server writes.
#[derive(Clone, Debug)]
pub(crate) struct Response {
    pub(crate) code: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: OutBody,
}

impl Response {
    /// A response with a `Content-Length` body and a content type.
    pub(crate) fn full(code: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            code,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body: OutBody::Full(body.into()),
        }
    }

    /// A short plain-text response.
    pub(crate) fn text(code: u16, body: &str) -> Response {
        Response::full(code, "text/plain; charset=utf-8", body)
    }

    /// Adds a header field.
    pub(crate) fn with(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The response on the wire; without the body bytes when `head_only` (a reply to HEAD, whose
    /// framing fields still describe the body a GET would get).
    pub(crate) fn encode(&self, head_only: bool) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.code, reason(self.code)).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        match &self.body {
            OutBody::Empty => out.extend_from_slice(b"\r\n"),
            OutBody::Full(data) => {
                out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", data.len()).as_bytes());
                if !head_only {
                    out.extend_from_slice(data);
                }
            }
            OutBody::Chunked { chunks, trailers } => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                if !head_only {
                    for chunk in chunks.iter().filter(|c| !c.is_empty()) {
                        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                        out.extend_from_slice(chunk);
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(b"0\r\n");
                    for (name, value) in trailers {
                        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
                    }
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        out
    }
}

/// Whether the client asked for the connection to close after this request (RFC 9112 §9.3):
/// `Connection: close`, or HTTP/1.0 without `keep-alive`.
pub(crate) fn client_wants_close(req: &SeenRequest) -> bool {
    has_token(&req.headers, "connection", "close")
        || (req.version == 0 && !has_token(&req.headers, "connection", "keep-alive"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    /// RFC 9112 §6.3: the framing of a request.
    #[test]
    fn request_framing_table() {
        let cases: &[(&[(&str, &str)], Option<Framing>)] = &[
            (&[], Some(Framing::None)),
            (&[("Content-Length", "5")], Some(Framing::Length(5))),
            (&[("Content-Length", "5, 5")], Some(Framing::Length(5))),
            (&[("Content-Length", "5"), ("content-length", "6")], None),
            (&[("Content-Length", "+5")], None),
            (&[("Transfer-Encoding", "gzip, chunked")], Some(Framing::Chunked)),
            (&[("Transfer-Encoding", "chunked, gzip")], None),
            (&[("Transfer-Encoding", "chunked"), ("Content-Length", "3")], None),
        ];
        for (headers, expected) in cases {
            let got = request_framing(&h(headers)).ok();
            assert_eq!(got, *expected, "{headers:?}");
        }
    }

    /// RFC 9112 §6.3: the framing of a response.
    #[test]
    fn response_framing_table() {
        let cases: &[(&str, u16, &[(&str, &str)], Framing)] = &[
            ("HEAD", 200, &[("Content-Length", "9")], Framing::None),
            ("GET", 204, &[], Framing::None),
            ("GET", 304, &[("Content-Length", "9")], Framing::None),
            ("CONNECT", 200, &[], Framing::None),
            ("CONNECT", 407, &[("Content-Length", "3")], Framing::Length(3)),
            ("GET", 200, &[("Transfer-Encoding", "chunked")], Framing::Chunked),
            ("GET", 200, &[("Transfer-Encoding", "gzip")], Framing::UntilClose),
            ("GET", 200, &[], Framing::UntilClose),
        ];
        for (method, code, headers, expected) in cases {
            let got = response_framing(method, *code, &h(headers)).ok();
            assert_eq!(got, Some(*expected), "{method} {code} {headers:?}");
        }
    }

    #[test]
    fn chunked_body_is_decoded_and_copied_raw() {
        let wire = b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx-t: 1\r\n\r\nNEXT";
        let mut r = io::BufReader::new(&wire[..]);
        let mut raw = Vec::new();
        let body = read_body(&mut r, Framing::Chunked, &mut raw, true).expect("valid chunked");
        assert_eq!(body.data, b"abcde");
        assert_eq!(body.trailers, h(&[("x-t", "1")]));
        assert_eq!(raw, &wire[..wire.len() - 4]);
        let mut rest = String::new();
        r.read_to_string(&mut rest).expect("rest");
        assert_eq!(rest, "NEXT");
    }

    #[test]
    fn bad_chunk_sizes_are_malformed() {
        for wire in [&b"x\r\n"[..], b"\r\n", b"-1\r\n", b"1234567890abcdef0\r\n"] {
            let mut r = io::BufReader::new(wire);
            let got = read_body(&mut r, Framing::Chunked, &mut io::sink(), true);
            assert!(matches!(got, Err(WireError::Malformed(_))), "{wire:?}: {got:?}");
        }
    }

    #[test]
    fn head_over_the_limit_is_too_large() {
        let mut wire = b"GET / HTTP/1.1\r\nx: ".to_vec();
        wire.resize(MAX_HEAD + 10, b'a');
        wire.extend_from_slice(b"\r\n\r\n");
        let got = read_request_head(&mut io::BufReader::new(&wire[..]));
        assert!(matches!(got, Err(WireError::TooLarge)), "{got:?}");
    }

    #[test]
    fn leading_empty_lines_are_skipped_and_eof_is_none() {
        let wire = b"\r\nGET /a?b=1 HTTP/1.0\r\nHost: x\r\n\r\n";
        let mut r = io::BufReader::new(&wire[..]);
        let req = read_request_head(&mut r).expect("valid").expect("a head");
        assert_eq!((req.method.as_str(), req.path(), req.query()), ("GET", "/a", Some("b=1")));
        assert_eq!(req.version, 0);
        assert!(client_wants_close(&req));
        assert!(matches!(read_request_head(&mut r), Ok(None)));
    }

    #[test]
    fn absolute_targets_give_their_path() {
        for (target, path) in
            [("http://h:1/x?q", "/x"), ("http://h", "/"), ("/p", "/p"), ("h:443", "h:443")]
        {
            let req = SeenRequest {
                method: "GET".into(),
                target: target.into(),
                version: 1,
                headers: vec![],
                body: vec![],
                trailers: vec![],
            };
            assert_eq!(req.path(), path, "{target}");
        }
    }
}
