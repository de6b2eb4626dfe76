//! Response heads (RFC 9112 §4) and what they say about the body and the connection
//! (RFC 9112 §6.3, §9.3).

use alloc::vec::Vec;
use core::fmt;
use core::mem::MaybeUninit;

use bytes::BytesMut;

use crate::config::{Config, Profile};
use crate::error::{ErrorKind, Part, Result};
use crate::headers::{Headers, Span, eq_lower, trim};
use crate::request::parse_length;

/// The protocol version of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// HTTP/1.0: keep-alive only when the peer says so; never sent chunked bodies.
    Http10,
    /// HTTP/1.1.
    Http11,
}

/// A parsed status line and header section. The bytes are shared, not copied; cloning is cheap.
#[derive(Clone, PartialEq, Eq)]
pub struct ResponseHead {
    version: Version,
    status: u16,
    reason: Span,
    headers: Headers,
    framing: FramingFields,
}

impl ResponseHead {
    /// The status code (100..=999, as httparse allows three digits).
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase; empty when absent or not ASCII.
    #[must_use]
    pub fn reason(&self) -> &str {
        self.headers.text(self.reason)
    }

    /// The version.
    #[must_use]
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields.
    #[must_use]
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Whether this is an interim (1xx) response.
    #[must_use]
    pub fn is_informational(&self) -> bool {
        (100..200).contains(&self.status)
    }
}

impl fmt::Debug for ResponseHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseHead")
            .field("version", &self.version)
            .field("status", &self.status)
            .field("reason", &self.reason())
            .field("headers", &self.headers)
            .finish()
    }
}

const STACK_HEADERS: usize = 128;

/// Parses one response head off the front of `input`, under the configured limits and
/// profile. [`Connection`](crate::Connection) uses it; it is public for tools, fuzzing and
/// benchmarks.
///
/// `Ok(None)`: the head is not complete yet and nothing was taken. On success exactly the
/// head's bytes are split off; they back the returned [`ResponseHead`] without a copy. Cost:
/// one httparse pass, then a look at each field (its offsets into one `Vec`, whether it frames
/// the body, and in the strict profile the line ending before it).
///
/// # Errors
/// Peer errors ([`ErrorKind::InvalidHead`], [`ErrorKind::UnsupportedVersion`],
/// [`ErrorKind::BareLineEnding`], [`ErrorKind::MissingReasonPhrase`]) and limits
/// ([`ErrorKind::HeadTooLarge`], [`ErrorKind::TooManyHeaders`]).
///
/// ```
/// use ferry_proto::{parse_response_head, Config, Framing};
/// let mut input = bytes::BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..]);
/// let head = parse_response_head(&mut input, &Config::default()).unwrap().unwrap();
/// assert_eq!(head.status(), 200);
/// assert_eq!(head.semantics(false).unwrap().framing, Framing::Length(2));
/// assert_eq!(&input[..], b"hi");
/// ```
pub fn parse_response_head(input: &mut BytesMut, config: &Config) -> Result<Option<ResponseHead>> {
    let limits = &config.limits;
    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_HEADERS];
    let mut heap = Vec::new();
    let slots = if limits.max_headers <= STACK_HEADERS {
        &mut stack[..limits.max_headers]
    } else {
        heap.resize_with(limits.max_headers, MaybeUninit::uninit);
        &mut heap[..]
    };
    // Only the first `max_head_bytes` are parsed: past them the answer is `HeadTooLarge`
    // whatever follows, so it does not depend on how the head was split into reads.
    let window = &input[..input.len().min(limits.max_head_bytes)];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        window,
        slots,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if window.len() >= limits.max_head_bytes => {
            return Err(ErrorKind::HeadTooLarge { limit: limits.max_head_bytes }.into());
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(map_httparse(e, input, limits.max_headers).into()),
    };
    if len > limits.max_head_bytes {
        return Err(ErrorKind::HeadTooLarge { limit: limits.max_head_bytes }.into());
    }
    let head = &input[..len];
    if config.profile == Profile::Strict {
        check_strict(head, response.headers)?;
    }
    let version = match response.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(ErrorKind::UnsupportedVersion.into()),
    };
    // httparse takes any three digits; valid codes start at 100 (RFC 9110 §15).
    let status = response.code.unwrap_or_default();
    if status < 100 {
        return Err(ErrorKind::InvalidHead { what: "invalid status line" }.into());
    }
    let reason = match response.reason {
        Some(r) if !r.is_empty() => Span::of(head, r.as_bytes()),
        _ => Span::of(head, &head[..0]),
    };
    let mut framing = FramingFields::default();
    for field in &*response.headers {
        framing.add(field.name.as_bytes(), field.value);
    }
    let fields_at =
        response.headers.first().map_or(0, |f| Span::of(head, f.name.as_bytes()).start());
    let count = response.headers.len();
    let buf = input.split_to(len).freeze();
    let headers = Headers::from_lines(buf, fields_at, count);
    Ok(Some(ResponseHead { version, status, reason, headers, framing }))
}

fn map_httparse(e: httparse::Error, input: &[u8], max_headers: usize) -> ErrorKind {
    match e {
        httparse::Error::TooManyHeaders => ErrorKind::TooManyHeaders { limit: max_headers },
        httparse::Error::Version if trim_leading_newlines(input).starts_with(b"HTTP/") => {
            ErrorKind::UnsupportedVersion
        }
        httparse::Error::Version => ErrorKind::InvalidHead { what: "no HTTP version" },
        httparse::Error::NewLine => ErrorKind::BareLineEnding { part: Part::Header },
        httparse::Error::Status => ErrorKind::InvalidHead { what: "invalid status line" },
        httparse::Error::HeaderName => ErrorKind::InvalidHead { what: "invalid header name" },
        httparse::Error::HeaderValue => ErrorKind::InvalidHead { what: "invalid header value" },
        httparse::Error::Token => ErrorKind::InvalidHead { what: "invalid token" },
    }
}

fn trim_leading_newlines(mut s: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    s
}

/// What [`Profile::Strict`] refuses beyond httparse: bare LF line endings (RFC 9112 §2.2) and a
/// status line without the space after the code (RFC 9112 §4).
fn check_strict(head: &[u8], fields: &[httparse::Header<'_>]) -> Result<()> {
    if !lines_end_in_crlf(head, fields) {
        // Rare: scan for the first bare LF to say which part holds it.
        let first_line_end = memchr::memchr(b'\n', head).unwrap_or(head.len());
        for lf in memchr::memchr_iter(b'\n', head) {
            if lf == 0 || head[lf - 1] != b'\r' {
                let part = if lf <= first_line_end { Part::StartLine } else { Part::Header };
                return Err(ErrorKind::BareLineEnding { part }.into());
            }
        }
    }
    // httparse accepted "HTTP/1.x NNN": the byte after the code must be the space.
    let line = trim_leading_newlines(head);
    if line.get(12) != Some(&b' ') {
        return Err(ErrorKind::MissingReasonPhrase.into());
    }
    Ok(())
}

/// Whether every line of `head`, which httparse accepted with these `fields`, ends in CRLF.
/// Costs a look at each line start, not at each byte.
///
/// httparse ends every line with an LF, takes a CR only right before an LF, and (as
/// configured) starts each field line with the name: no obs-fold, no space before a name. So a
/// line ends in CRLF exactly when CRLF comes right before the start of the next line: the next
/// field's name, or the empty line that ends the head (its last two bytes, once they are a
/// CRLF). The empty lines httparse skips before the status line are checked on their own.
fn lines_end_in_crlf(head: &[u8], fields: &[httparse::Header<'_>]) -> bool {
    let crlf_before = |at: usize| at >= 2 && head.get(at - 2..at) == Some(b"\r\n");
    let name_at =
        |f: &httparse::Header<'_>| (f.name.as_ptr() as usize).wrapping_sub(head.as_ptr() as usize);
    let skipped = head.len() - trim_leading_newlines(head).len();
    head[..skipped].chunks(2).all(|pair| pair == b"\r\n")
        && head.ends_with(b"\r\n")
        && crlf_before(head.len() - 2)
        && fields.iter().all(|f| crlf_before(name_at(f)))
}

/// How a response body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body: HEAD, 1xx, 204, 304.
    None,
    /// `Content-Length`.
    Length(u64),
    /// `chunked` is the final transfer coding.
    Chunked,
    /// Read until the server closes.
    UntilClose,
}

/// What a final response head says about its body and the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Semantics {
    /// How the body is delimited.
    pub framing: Framing,
    /// The peer is willing to keep the connection (RFC 9112 §9.3).
    pub keep_alive: bool,
    /// The framing is faulty but readable (Transfer-Encoding in HTTP/1.0, or framing fields on
    /// a bodiless status): read it, then close (RFC 9112 §6.1).
    pub faulty: bool,
}

impl ResponseHead {
    /// Applies RFC 9112 §6.3 (framing) and §9.3 (persistence) to this final head.
    /// `request_was_head`: the request's method was `HEAD`. (A 2xx to CONNECT is handled by the
    /// connection before this: it has no body at all.) Cost: constant; the fields it needs were
    /// read when the head was parsed.
    ///
    /// # Errors
    /// [`ErrorKind::ContentLengthWithTransferEncoding`],
    /// [`ErrorKind::ConflictingContentLength`], [`ErrorKind::InvalidContentLength`],
    /// [`ErrorKind::InvalidTransferEncoding`].
    pub fn semantics(&self, request_was_head: bool) -> Result<Semantics> {
        semantics(self, request_was_head)
    }
}

/// What the fields that frame the body and govern the connection say (RFC 9112 §6.3, §9.3),
/// gathered as the head is parsed: [`ResponseHead::semantics`] then need not walk the fields
/// again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FramingFields {
    /// `Content-Length`, when present: its value, or the first fault in its values.
    length: Option<core::result::Result<u64, LengthFault>>,
    /// `Transfer-Encoding` is present.
    te: bool,
    /// A `Transfer-Encoding` field is empty.
    te_empty: bool,
    /// How many transfer codings are `chunked`.
    chunked_count: u32,
    /// The last transfer coding is `chunked`.
    chunked_last: bool,
    /// `Connection` lists `close`.
    close: bool,
    /// `Connection` lists `keep-alive`.
    keep_alive: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LengthFault {
    Invalid,
    Conflicting,
}

impl FramingFields {
    /// Takes in one field, in arrival order.
    fn add(&mut self, name: &[u8], value: &[u8]) {
        if eq_lower(name, b"content-length") {
            for item in value.split(|&b| b == b',') {
                let this = parse_length(item).ok_or(LengthFault::Invalid);
                self.length = Some(match (self.length, this) {
                    (Some(Err(e)), _) | (_, Err(e)) => Err(e),
                    (Some(Ok(a)), Ok(b)) if a != b => Err(LengthFault::Conflicting),
                    (_, Ok(b)) => Ok(b),
                });
            }
        } else if eq_lower(name, b"transfer-encoding") {
            self.te = true;
            self.te_empty |= trim(value).is_empty();
            for coding in value.split(|&b| b == b',').map(trim).filter(|c| !c.is_empty()) {
                self.chunked_last = eq_lower(coding, b"chunked");
                self.chunked_count += u32::from(self.chunked_last);
            }
        } else if eq_lower(name, b"connection") {
            // Both options in one pass over the list (RFC 9110 §7.6.1).
            for option in value.split(|&b| b == b',').map(trim) {
                self.close |= eq_lower(option, b"close");
                self.keep_alive |= eq_lower(option, b"keep-alive");
            }
        }
    }
}

/// Applies RFC 9112 §6.3 to a final response head.
fn semantics(head: &ResponseHead, request_was_head: bool) -> Result<Semantics> {
    let FramingFields { length, te, te_empty, chunked_count, chunked_last, close, keep_alive } =
        head.framing;
    let keep_alive = !close && (head.version == Version::Http11 || keep_alive);
    let status = head.status;
    // Item 1: always bodiless, whatever the fields say; fields that claim a body make the
    // connection suspect.
    if request_was_head || (100..200).contains(&status) || status == 204 || status == 304 {
        let faulty = status != 304 && !request_was_head && (te || length.is_some());
        return Ok(Semantics { framing: Framing::None, keep_alive: keep_alive && !faulty, faulty });
    }
    if te {
        // Item 3: both is a smuggling shape: refused.
        if length.is_some() {
            return Err(ErrorKind::ContentLengthWithTransferEncoding.into());
        }
        if te_empty || chunked_count > 1 {
            return Err(ErrorKind::InvalidTransferEncoding.into());
        }
        // Transfer-Encoding in HTTP/1.0 is faulty framing: read it, then close (§6.1).
        let faulty = head.version == Version::Http10;
        // Item 4: chunked last → chunked; otherwise read until close.
        return Ok(if chunked_last {
            Semantics { framing: Framing::Chunked, keep_alive: keep_alive && !faulty, faulty }
        } else {
            Semantics { framing: Framing::UntilClose, keep_alive: false, faulty }
        });
    }
    match length {
        // Items 5 and 6.
        Some(Err(LengthFault::Invalid)) => Err(ErrorKind::InvalidContentLength.into()),
        Some(Err(LengthFault::Conflicting)) => Err(ErrorKind::ConflictingContentLength.into()),
        Some(Ok(n)) => Ok(Semantics { framing: Framing::Length(n), keep_alive, faulty: false }),
        // Item 8: neither: read until close.
        None => Ok(Semantics { framing: Framing::UntilClose, keep_alive: false, faulty: false }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn parse(
        input: &[u8],
        profile: Profile,
    ) -> core::result::Result<Option<ResponseHead>, ErrorKind> {
        let config = Config { profile, ..Config::default() };
        let mut buf = BytesMut::from(input);
        parse_response_head(&mut buf, &config).map_err(|e| e.kind().clone())
    }

    #[track_caller]
    fn check_head(
        input: &str,
        strict: core::result::Result<(u16, &str), ErrorKind>,
        compatible_ok: bool,
    ) {
        match (parse(input.as_bytes(), Profile::Strict), &strict) {
            (Ok(Some(h)), Ok((status, reason))) => {
                assert_eq!((h.status(), h.reason()), (*status, *reason), "{input:?}");
            }
            (Err(e), Err(want)) => assert_eq!(&e, want, "{input:?}"),
            (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
        }
        let compat = parse(input.as_bytes(), Profile::Compatible);
        assert_eq!(
            matches!(compat, Ok(Some(_))),
            compatible_ok,
            "{input:?} compatible: {compat:?}"
        );
    }

    #[test]
    fn status_lines() {
        use ErrorKind::*;
        // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
        check_head("HTTP/1.1 200 OK\r\n\r\n", Ok((200, "OK")), true);
        check_head("HTTP/1.0 404 Not Found\r\n\r\n", Ok((404, "Not Found")), true);
        check_head("HTTP/1.1 204 \r\n\r\n", Ok((204, "")), true);
        // Missing SP after the code: strict refuses, compatible accepts.
        check_head("HTTP/1.1 200\r\n\r\n", Err(MissingReasonPhrase), true);
        // Bare LF (§2.2): strict refuses, compatible accepts.
        check_head(
            "HTTP/1.1 200 OK\nA: b\n\n",
            Err(BareLineEnding { part: Part::StartLine }),
            true,
        );
        check_head(
            "HTTP/1.1 200 OK\r\nA: b\n\r\n",
            Err(BareLineEnding { part: Part::Header }),
            true,
        );
        // Versions other than 1.0 and 1.1 (§2.3).
        check_head("HTTP/2 200 OK\r\n\r\n", Err(UnsupportedVersion), false);
        check_head("HTTP/1.2 200 OK\r\n\r\n", Err(UnsupportedVersion), false);
        check_head("HTTP/0.9 200 OK\r\n\r\n", Err(UnsupportedVersion), false);
        check_head("ICY 200 OK\r\n\r\n", Err(InvalidHead { what: "no HTTP version" }), false);
        check_head(
            "HTTP/1.1 20 OK\r\n\r\n",
            Err(InvalidHead { what: "invalid status line" }),
            false,
        );
        // Three digits, yet no status class (RFC 9110 §15: 100 to 599 are valid; up to 999
        // are read as their class). Found by the response_stream fuzz target
        // (fuzz/regressions/response_stream/status-000).
        for line in ["HTTP/1.1 000 OK\r\n\r\n", "HTTP/1.1 099 OK\r\n\r\n"] {
            check_head(line, Err(InvalidHead { what: "invalid status line" }), false);
        }
        check_head("HTTP/1.1 999 Custom\r\n\r\n", Ok((999, "Custom")), true);
        // Whitespace between name and colon (§5.1) is a smuggling shape.
        check_head(
            "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",
            Err(InvalidHead { what: "invalid header name" }),
            false,
        );
        // obs-fold (§5.2) is refused.
        check_head(
            "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n",
            Err(InvalidHead { what: "invalid header name" }),
            false,
        );
    }

    #[test]
    fn limits() {
        let config = Config::default();
        let mut big = BytesMut::from(&b"HTTP/1.1 200 OK\r\n"[..]);
        while big.len() < config.limits.max_head_bytes {
            big.extend_from_slice(b"X-Filler: 0123456789abcdef0123456789\r\n");
        }
        let mut partial = big.clone();
        assert_eq!(
            parse_response_head(
                &mut partial,
                &Config {
                    limits: crate::Limits { max_headers: 10_000, ..config.limits },
                    ..config
                }
            )
            .unwrap_err()
            .kind(),
            &ErrorKind::HeadTooLarge { limit: 64 * 1024 }
        );
        let mut many = BytesMut::from(&b"HTTP/1.1 200 OK\r\n"[..]);
        for _ in 0..101 {
            many.extend_from_slice(b"A: b\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_response_head(&mut many, &config).unwrap_err().kind(),
            &ErrorKind::TooManyHeaders { limit: 100 }
        );
        // More than the stack holds, when configured.
        let roomy =
            Config { limits: crate::Limits { max_headers: 200, ..config.limits }, ..config };
        let mut many = BytesMut::from(&b"HTTP/1.1 200 OK\r\n"[..]);
        for _ in 0..150 {
            many.extend_from_slice(b"A: b\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse_response_head(&mut many, &roomy).unwrap().unwrap().headers().len(), 150);
    }

    #[test]
    fn past_the_limit_it_is_too_large_however_split() {
        // A byte httparse refuses, beyond `max_head_bytes`: the limit was passed first, in one
        // read or in two. Found by the response_stream fuzz target
        // (fuzz/regressions/response_stream/head-too-large-invalid-byte-past-limit).
        let limits = crate::Limits { max_head_bytes: 64, ..crate::Limits::default() };
        let config = Config { limits, ..Config::default() };
        let mut head = BytesMut::from(&b"HTTP/1.1 200 OK\r\nX-Filler: "[..]);
        head.resize(80, b'f');
        head.extend_from_slice(b"\r\nBad\x01Name: x\r\n\r\n");
        for cut in [head.len(), 64, 63, 30] {
            let mut input = BytesMut::from(&head[..cut]);
            let first = parse_response_head(&mut input, &config);
            let result = match first {
                Ok(None) => {
                    input.extend_from_slice(&head[cut..]);
                    parse_response_head(&mut input, &config)
                }
                other => other,
            };
            assert_eq!(
                result.unwrap_err().kind(),
                &ErrorKind::HeadTooLarge { limit: 64 },
                "first read of {cut} bytes"
            );
        }
        // Within the limit, the refused byte is what is reported.
        let mut input = BytesMut::from(&b"HTTP/1.1 200 OK\r\nBad\x01Name: x\r\n\r\n"[..]);
        assert_eq!(
            parse_response_head(&mut input, &config).unwrap_err().kind(),
            &ErrorKind::InvalidHead { what: "invalid header name" }
        );
    }

    #[test]
    fn head_bytes_are_split_off_exactly() {
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\nBODY"[..]);
        let head = parse_response_head(&mut buf, &Config::default()).unwrap().unwrap();
        assert_eq!(&buf[..], b"BODY");
        assert_eq!(head.headers().get("a"), Some(&b"1"[..]));
        let mut partial = BytesMut::from(&b"HTTP/1.1 200 OK\r\nA: 1\r\n"[..]);
        assert!(parse_response_head(&mut partial, &Config::default()).unwrap().is_none());
        assert_eq!(partial.len(), 23);
    }

    #[track_caller]
    fn check_framing(
        head: &str,
        is_head: bool,
        expected: core::result::Result<(Framing, bool), ErrorKind>,
    ) {
        let mut buf = BytesMut::from(head.as_bytes());
        let h = parse_response_head(&mut buf, &Config::default()).unwrap().unwrap();
        let got =
            semantics(&h, is_head).map(|s| (s.framing, s.keep_alive)).map_err(|e| e.kind().clone());
        assert_eq!(got, expected, "{head:?}");
    }

    #[test]
    fn framing_rfc9112_6_3() {
        use ErrorKind::*;
        use Framing::*;
        let h = |s: &str| String::from("HTTP/1.1 ") + s + "\r\n\r\n";
        // Item 1: HEAD, 1xx, 204, 304 have no body whatever the fields say.
        check_framing(&h("200 OK\r\nContent-Length: 10"), true, Ok((None, true)));
        check_framing(&h("204 No Content"), false, Ok((None, true)));
        check_framing(&h("304 Not Modified\r\nContent-Length: 10"), false, Ok((None, true)));
        check_framing(&h("204 No Content\r\nTransfer-Encoding: chunked"), false, Ok((None, false)));
        // Item 3: TE and CL together are refused.
        check_framing(
            &h("200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5"),
            false,
            Err(ContentLengthWithTransferEncoding),
        );
        check_framing(
            &h("200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked"),
            false,
            Err(ContentLengthWithTransferEncoding),
        );
        // Item 4: chunked final → chunked; not final → until close.
        check_framing(&h("200 OK\r\nTransfer-Encoding: gzip, Chunked"), false, Ok((Chunked, true)));
        check_framing(
            &h("200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked"),
            false,
            Ok((Chunked, true)),
        );
        check_framing(
            &h("200 OK\r\nTransfer-Encoding: chunked, gzip"),
            false,
            Ok((UntilClose, false)),
        );
        check_framing(
            &h("200 OK\r\nTransfer-Encoding: chunked, chunked"),
            false,
            Err(InvalidTransferEncoding),
        );
        check_framing(&h("200 OK\r\nTransfer-Encoding: "), false, Err(InvalidTransferEncoding));
        // Items 5, 6: Content-Length, identical duplicates allowed, anything else refused.
        check_framing(&h("200 OK\r\nContent-Length: 5"), false, Ok((Length(5), true)));
        check_framing(
            &h("200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5"),
            false,
            Ok((Length(5), true)),
        );
        check_framing(
            &h("200 OK\r\nContent-Length: 5\r\nContent-Length: 6"),
            false,
            Err(ConflictingContentLength),
        );
        check_framing(&h("200 OK\r\nContent-Length: 5, 6"), false, Err(ConflictingContentLength));
        for bad in ["+5", "-5", "5 5", "0x5", "5_0", "", "99999999999999999999999"] {
            check_framing(
                &h(&alloc::format!("200 OK\r\nContent-Length: {bad}")),
                false,
                Err(InvalidContentLength),
            );
        }
        // Item 8: neither → until close, 3xx included.
        check_framing(&h("200 OK"), false, Ok((UntilClose, false)));
        check_framing(&h("302 Found\r\nLocation: /x"), false, Ok((UntilClose, false)));
    }

    #[test]
    fn keep_alive_rfc9112_9_3() {
        use Framing::*;
        let cl = "Content-Length: 0";
        check_framing(
            &alloc::format!("HTTP/1.1 200 OK\r\n{cl}\r\n\r\n"),
            false,
            Ok((Length(0), true)),
        );
        check_framing(
            &alloc::format!("HTTP/1.1 200 OK\r\n{cl}\r\nConnection: keep-alive, Close\r\n\r\n"),
            false,
            Ok((Length(0), false)),
        );
        check_framing(
            &alloc::format!("HTTP/1.1 200 OK\r\n{cl}\r\nConnection: CLOSE\r\n\r\n"),
            false,
            Ok((Length(0), false)),
        );
        check_framing(
            &alloc::format!("HTTP/1.0 200 OK\r\n{cl}\r\n\r\n"),
            false,
            Ok((Length(0), false)),
        );
        check_framing(
            &alloc::format!("HTTP/1.0 200 OK\r\n{cl}\r\nConnection: Keep-Alive\r\n\r\n"),
            false,
            Ok((Length(0), true)),
        );
        // TE in HTTP/1.0 is faulty: read, then close (§6.1).
        check_framing(
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n",
            false,
            Ok((Chunked, false)),
        );
    }

    /// Where the scan of every LF, the strict check's original form, finds a bare one.
    fn naive_bare_lf(head: &[u8]) -> Option<Part> {
        let first_line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
        let lf = (0..head.len()).find(|&i| head[i] == b'\n' && (i == 0 || head[i - 1] != b'\r'))?;
        Some(if lf <= first_line_end { Part::StartLine } else { Part::Header })
    }

    proptest::proptest! {
        /// The strict profile's look at line starts only agrees with a scan of every LF, on
        /// heads whose lines (skipped leading ones included) end in CRLF or LF at random.
        #[test]
        fn strict_line_endings_match_a_scan(
            leading in proptest::collection::vec(proptest::bool::ANY, 0..3),
            status_crlf: bool,
            fields in proptest::collection::vec(
                ("[A-Za-z-]{1,12}", "[ \t!-~\u{80}-\u{ff}]{0,12}", proptest::bool::ANY),
                0..6,
            ),
            end_crlf: bool,
        ) {
            let eol = |crlf: bool| if crlf { "\r\n" } else { "\n" };
            let mut head: String = leading.iter().map(|&crlf| eol(crlf)).collect();
            head += "HTTP/1.1 200 OK";
            head += eol(status_crlf);
            for (name, value, crlf) in &fields {
                head += &alloc::format!("{name}: {value}{}", eol(*crlf));
            }
            head += eol(end_crlf);
            let head = head.as_bytes();
            proptest::prop_assert!(matches!(parse(head, Profile::Compatible), Ok(Some(_))));
            let strict = parse(head, Profile::Strict).map(|h| h.map(|h| h.headers().len()));
            let expected = match naive_bare_lf(head) {
                Some(part) => Err(ErrorKind::BareLineEnding { part }),
                None => Ok(Some(fields.len())),
            };
            proptest::prop_assert_eq!(strict, expected, "{:?}", String::from_utf8_lossy(head));
        }

        /// `Headers` walks the field lines lazily: what it yields must be exactly the fields
        /// httparse parsed, whatever the whitespace around values and the line endings.
        #[test]
        fn lazy_fields_are_what_httparse_saw(
            fields in proptest::collection::vec(
                ("[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}", "[ \t]{0,2}", "[ \t!-~\u{80}-\u{ff}]{0,16}", "[ \t]{0,2}", proptest::bool::ANY),
                0..12,
            ),
            body in "[ -~]{0,8}",
        ) {
            let mut head = String::from("HTTP/1.1 200 OK\r\n");
            for (name, before, value, after, crlf) in &fields {
                head += &alloc::format!("{name}:{before}{value}{after}{}", if *crlf { "\r\n" } else { "\n" });
            }
            head += "\r\n";
            head += &body;
            let mut slots = [httparse::EMPTY_HEADER; 16];
            let mut theirs = httparse::Response::new(&mut slots);
            let Ok(httparse::Status::Complete(_)) = theirs.parse(head.as_bytes()) else {
                // Not a head httparse accepts (a value ending in obs-text before a space, say):
                // nothing to compare.
                return Ok(());
            };
            let want: Vec<(&str, &[u8])> = theirs.headers.iter().map(|h| (h.name, h.value)).collect();
            let ours = parse(head.as_bytes(), Profile::Compatible).unwrap().unwrap();
            let got: Vec<(&str, &[u8])> = ours.headers().iter().collect();
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(ours.headers().len(), fields.len());
        }
    }
}
