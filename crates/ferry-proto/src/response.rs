//! Response heads (RFC 9112 §4) and what they say about the body and the connection
//! (RFC 9112 §6.3, §9.3).

use alloc::vec::Vec;
use core::fmt;
use core::mem::MaybeUninit;

use bytes::BytesMut;

use crate::coding::{Coding, Codings};
use crate::config::{Config, Profile};
use crate::error::{ErrorKind, HeadFault, Part, Result};
use crate::headers::{Headers, Span, eq_lower, printable, trim};
use crate::request::parse_length;

mod fast;

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
    /// What the framing fields said, packed: with them a head is 64 bytes, and so are the
    /// events and outputs that carry one, which are moved several times per response.
    length: u64,
    framing: FramingBits,
}

impl ResponseHead {
    /// The status code as sent: any three digits, 000 to 999. A code outside 100 to 599 is
    /// invalid (RFC 9110 §15) and treated as a final 5xx-class response (see
    /// [`ResponseHead::semantics`]); it is kept here so a caller can see it.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the head has a `Content-Encoding` field: noted while the head was parsed, so
    /// asking costs nothing (a client that decodes content walks the fields only when so).
    #[must_use]
    pub fn has_content_encoding(&self) -> bool {
        self.framing.flags & FramingBits::CONTENT_ENCODING != 0
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

    /// Whether this is an interim (1xx) response: codes 100 to 199 only.
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

/// Reads one response head at a time off the front of a growing buffer, in time linear in
/// the head's size however it was split into reads (RFC 9112 §4, §5).
///
/// A head that arrives in many small reads is not re-parsed from its start on each: the
/// parser remembers how far it looked for the empty line that ends the head, and parses (one
/// httparse pass) once that line is there, once the status line is complete (to refuse a peer
/// that is not speaking HTTP at once), or once [`Limits::max_head_bytes`](crate::Limits) are
/// buffered. So whatever the split, the same bytes give the same result at the same point.
/// The first look at a fresh head is one httparse pass, so a head that arrives in one read
/// costs no scan.
///
/// Between calls the bytes already given must stay at the front of `input` (append only);
/// after a head is returned (or an error) the parser starts afresh.
///
/// ```
/// use bytes::BytesMut;
/// use ferry_proto::Config;
/// use ferry_proto::wire::HeadParser;
/// let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
/// let (mut parser, mut input) = (HeadParser::new(), BytesMut::new());
/// for (i, b) in wire.iter().enumerate() {
///     input.extend_from_slice(&[*b]);
///     let head = parser.parse(&mut input, &Config::default()).unwrap();
///     assert_eq!(head.is_some(), i + 1 == wire.len());
/// }
/// assert!(input.is_empty());
/// ```
#[derive(Clone, Debug, Default)]
pub struct HeadParser {
    /// Some bytes were looked at since the last head.
    started: bool,
    /// No head end starts before this offset (past the leading empty lines).
    scanned: usize,
    /// Where the status line starts (after any leading empty lines), once known.
    start: Option<usize>,
    /// The status line is complete and was checked.
    status_checked: bool,
    /// httparse passes so far (for the test of the cost).
    #[cfg(test)]
    parses: usize,
}

impl HeadParser {
    /// A parser at the start of a head.
    #[must_use]
    pub fn new() -> HeadParser {
        HeadParser::default()
    }

    /// How far the search for the end of the head has looked (for tests of its cost).
    #[must_use]
    pub fn scanned(&self) -> usize {
        self.scanned
    }

    /// Parses one response head off the front of `input`, under the configured limits and
    /// profile.
    ///
    /// `Ok(None)`: the head is not complete yet and nothing was taken. On success exactly the
    /// head's bytes are split off; they back the returned [`ResponseHead`] without a copy
    /// (an obs-fold is replaced with spaces in place, and an `HTTP/1.x` version with x ≥ 2 is
    /// rewritten to `HTTP/1.1` in place). Cost: once the head is complete, one httparse pass
    /// and a look at each field (whether it frames the body, and in the strict profile the
    /// line ending before it); before that, a `memchr` over the bytes not yet looked at.
    ///
    /// # Errors
    /// Peer errors ([`ErrorKind::InvalidHead`], [`ErrorKind::UnsupportedVersion`],
    /// [`ErrorKind::BareLineEnding`]) and limits ([`ErrorKind::HeadTooLarge`],
    /// [`ErrorKind::TooManyHeaders`]).
    #[inline]
    pub fn parse(&mut self, input: &mut BytesMut, config: &Config) -> Result<Option<ResponseHead>> {
        let result = self.step(input, config);
        if !matches!(result, Ok(None)) {
            #[cfg(test)]
            let parses = self.parses;
            *self = HeadParser::default();
            #[cfg(test)]
            {
                self.parses = parses;
            }
        }
        result
    }

    #[inline(always)]
    fn step(&mut self, input: &mut BytesMut, config: &Config) -> Result<Option<ResponseHead>> {
        let limits = &config.limits;
        let window = input.len().min(limits.max_head_bytes);
        // RFC 9112 §2.2 lets a server skip empty lines before a request line; a response has
        // no such allowance, so only the compatible profile skips them.
        if config.profile == Profile::Strict && matches!(input.first(), Some(b'\r' | b'\n')) {
            return Err(ErrorKind::InvalidHead { what: HeadFault::EmptyLineBeforeStatus }.into());
        }
        if !self.started {
            // The first look: one pass. A head that came in one read ends here.
            self.started = true;
            self.count_parse();
            let first = parse_complete(input, config);
            if let Ok(Some(_)) = first {
                return first;
            }
        }
        if self.scanned > window {
            // The buffer shrank: a caller broke the contract; look again from the start.
            self.scanned = 0;
            self.start = None;
            self.status_checked = false;
        }
        let status_end = self.scan(&input[..window]);
        if status_end == Scan::End {
            self.count_parse();
            return parse_complete(input, config);
        }
        if !self.status_checked {
            if let Scan::StatusLine(lf) = status_end {
                self.status_checked = true;
                self.count_parse();
                check_status_line(&mut input[..=lf], config)?;
            }
        }
        if window >= limits.max_head_bytes {
            // Past the limit whatever follows: the answer does not depend on the split. A
            // refused byte within the window is what is reported.
            return match parse_complete(&mut BytesMut::from(&input[..window]), config) {
                Err(e) if !matches!(e.kind(), ErrorKind::HeadTooLarge { .. }) => Err(e),
                _ => Err(ErrorKind::HeadTooLarge { limit: limits.max_head_bytes }.into()),
            };
        }
        Ok(None)
    }

    fn count_parse(&mut self) {
        #[cfg(test)]
        {
            self.parses += 1;
        }
    }

    /// Looks for the end of the head in the bytes not yet looked at: an LF followed by an LF,
    /// or by a CR and one more byte (a CRLF, or a bare CR that httparse refuses).
    fn scan(&mut self, w: &[u8]) -> Scan {
        let start = match self.start {
            Some(s) => s,
            None => {
                let from = self.scanned;
                match w[from..].iter().position(|&b| !matches!(b, b'\r' | b'\n')) {
                    Some(i) => {
                        self.start = Some(from + i);
                        self.scanned = from + i;
                        from + i
                    }
                    None => {
                        self.scanned = w.len();
                        return Scan::Nothing;
                    }
                }
            }
        };
        let mut status_lf = None;
        let mut at = self.scanned.max(start);
        while let Some(i) = memchr::memchr(b'\n', &w[at..]) {
            let lf = at + i;
            status_lf.get_or_insert(lf);
            match (w.get(lf + 1), w.get(lf + 2)) {
                (Some(b'\n'), _) | (Some(b'\r'), Some(_)) => return Scan::End,
                (None, _) | (Some(b'\r'), None) => {
                    self.scanned = lf;
                    return status_lf.map_or(Scan::Nothing, Scan::StatusLine);
                }
                _ => at = lf + 1,
            }
        }
        self.scanned = w.len();
        status_lf.map_or(Scan::Nothing, Scan::StatusLine)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scan {
    /// No line ended yet.
    Nothing,
    /// A line ended (the first one seen in this call at this offset), not the head.
    StatusLine(usize),
    /// The head's end is in the window.
    End,
}

/// Parses one response head off the front of `input`, under the configured limits and
/// profile: [`HeadParser::parse`] with a fresh parser. [`Connection`](crate::Connection)
/// keeps a [`HeadParser`] across reads; this is for tools, fuzzing and benchmarks, and for
/// a head known to be whole (on a partial head it costs one httparse pass per call).
///
/// # Errors
/// As [`HeadParser::parse`].
///
/// ```
/// use ferry_proto::Config;
/// use ferry_proto::wire::{parse_response_head, Framing};
/// let mut input = bytes::BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..]);
/// let head = parse_response_head(&mut input, &Config::default()).unwrap().unwrap();
/// assert_eq!(head.status(), 200);
/// assert_eq!(head.semantics(false).unwrap().framing, Framing::Length(2));
/// assert_eq!(&input[..], b"hi");
/// ```
pub fn parse_response_head(input: &mut BytesMut, config: &Config) -> Result<Option<ResponseHead>> {
    HeadParser::new().parse(input, config)
}

/// Rewrites `HTTP/1.x` with x from 2 to 9 to `HTTP/1.1` in place: a recipient processes a
/// higher minor version as the highest it implements (RFC 9110 §2.5, RFC 9112 §2.3).
/// Whether it rewrote.
#[cold]
fn normalize_minor(head: &mut [u8]) -> bool {
    let start = head.len() - trim_leading_newlines(head).len();
    match head.get_mut(start..start + 9) {
        Some(v) if v[..7] == *b"HTTP/1." && matches!(v[7], b'2'..=b'9') && v[8] == b' ' => {
            v[7] = b'1';
            true
        }
        _ => false,
    }
}

/// Checks a complete status line (and nothing after it) at once, so that a peer that does not
/// speak HTTP is refused without waiting for a head end that may never come.
fn check_status_line(line: &mut [u8], config: &Config) -> Result<()> {
    let _ = normalize_minor(line);
    let mut response = httparse::Response::new(&mut []);
    match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        line,
        &mut [],
    ) {
        Err(e) => Err(map_httparse(e, line, config.limits.max_headers).into()),
        Ok(_) => Ok(()),
    }
}

/// One pass over the window; `Ok(None)` when the head is not complete in it. An ordinary head
/// takes the fast pass ([`fast::parse`]); anything else, errors included, the general one
/// ([`parse_general`]), which decides exactly as if the fast pass had not run.
#[inline(always)]
fn parse_complete(input: &mut BytesMut, config: &Config) -> Result<Option<ResponseHead>> {
    match parse_fast(input, config) {
        Some(head) => Ok(head),
        None => parse_general(input, config),
    }
}

/// The fast pass: `Some` with the head (or `None` when it is not complete yet, every byte so
/// far ordinary), or `None` when the general path must decide. Nothing is taken off `input`
/// unless a head is returned.
#[inline(always)]
fn parse_fast(input: &mut BytesMut, config: &Config) -> Option<Option<ResponseHead>> {
    let limits = &config.limits;
    let window = &input[..input.len().min(limits.max_head_bytes)];
    let mut framing = FramingFields::default();
    let p = match fast::parse(window, limits.max_headers, |name, value| framing.add(name, value)) {
        fast::Fast::Complete(p) => p,
        fast::Fast::Partial => return Some(None),
        fast::Fast::General => return None,
    };
    let reason = Span::of(window, &window[p.reason.0..p.reason.1]);
    let buf = input.split_to(p.len).freeze();
    let headers = Headers::from_lines(buf, p.fields_at, p.count);
    let (length, framing) = framing.pack();
    let (version, status) = (p.version, p.status);
    Some(Some(ResponseHead { version, status, reason, headers, length, framing }))
}

/// The general path: one httparse pass over the window, then ferry's checks (strict line
/// endings, the version, obs-folds through [`parse_folded`]); `Ok(None)` when the head is not
/// complete in it.
#[cold]
#[inline(never)]
fn parse_general(input: &mut BytesMut, config: &Config) -> Result<Option<ResponseHead>> {
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
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::HeaderName) => return parse_folded(input, config),
        // Rare: rewritten, then parsed again (the version is then `HTTP/1.1`).
        Err(httparse::Error::Version) => {
            if normalize_minor(input) {
                return parse_general(input, config);
            }
            let window = &input[..input.len().min(limits.max_head_bytes)];
            return Err(map_httparse(httparse::Error::Version, window, limits.max_headers).into());
        }
        Err(e) => return Err(map_httparse(e, window, limits.max_headers).into()),
    };
    let head = &window[..len];
    let strict = config.profile == Profile::Strict;
    let version = version(response.version)?;
    let reason = reason_span(head, response.reason);
    // One look at each field: the framing fields, and in the strict profile the line ending
    // before it (see `lines_end_in_crlf`).
    let mut framing = FramingFields::default();
    let crlf = if strict {
        let mut crlf = head_ends_in_crlf(head);
        for field in &*response.headers {
            framing.add(field.name.as_bytes(), field.value);
            crlf &= crlf_before(head, name_at(head, field));
        }
        crlf
    } else {
        for field in &*response.headers {
            framing.add(field.name.as_bytes(), field.value);
        }
        true
    };
    if !crlf {
        return Err(bare_lf(head).into());
    }
    let fields_at = response.headers.first().map_or(0, |f| name_at(head, f));
    let count = response.headers.len();
    let status = response.code.unwrap_or_default();
    let buf = input.split_to(len).freeze();
    let headers = Headers::from_lines(buf, fields_at, count);
    let (length, framing) = framing.pack();
    Ok(Some(ResponseHead { version, status, reason, headers, length, framing }))
}

/// The rare path: httparse refused a field name, which may be an obs-fold (RFC 9112 §5.2).
/// Parsed again allowing folds; each fold's CR and LF become SP in place ("replace each
/// received obs-fold with one or more SP octets prior to interpreting the field value"),
/// except in `Content-Length` and `Transfer-Encoding`, where a fold stays an error.
#[cold]
fn parse_folded(input: &mut BytesMut, config: &Config) -> Result<Option<ResponseHead>> {
    let limits = &config.limits;
    let window = &input[..input.len().min(limits.max_head_bytes)];
    let mut slots = alloc::vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut response = httparse::Response::new(&mut slots);
    let parsed = httparse::ParserConfig::default()
        .allow_obsolete_multiline_headers_in_responses(true)
        .parse_response(&mut response, window);
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(map_httparse(e, window, limits.max_headers).into()),
    };
    let head = &window[..len];
    let strict = config.profile == Profile::Strict;
    let version = version(response.version)?;
    let status = response.code.unwrap_or_default();
    let reason = reason_span(head, response.reason);
    let count = response.headers.len();
    let fields_at = response.headers.first().map_or(0, |f| name_at(head, f));
    // Field lines run from one name to the next; an LF inside one is a fold.
    let mut folds = Vec::new();
    let mut crlf = !strict || head_ends_in_crlf(head);
    for (i, field) in response.headers.iter().enumerate() {
        let from = name_at(head, field);
        let to = response.headers.get(i + 1).map_or(len - 1, |next| name_at(head, next));
        if strict {
            crlf &= crlf_before(head, from);
        }
        let line = &head[from..to];
        let Some(last) = memchr::memrchr(b'\n', line) else { continue };
        for lf in memchr::memchr_iter(b'\n', &line[..last]) {
            let name = field.name.as_bytes();
            if eq_lower(name, b"content-length") || eq_lower(name, b"transfer-encoding") {
                return Err(ErrorKind::InvalidHead { what: HeadFault::FoldedFramingField }.into());
            }
            if strict && (lf == 0 || line[lf - 1] != b'\r') {
                return Err(ErrorKind::BareLineEnding { part: Part::Header }.into());
            }
            folds.push(from + lf);
        }
    }
    if !crlf {
        return Err(bare_lf(head).into());
    }
    for &lf in &folds {
        input[lf] = b' ';
        if input[lf - 1] == b'\r' {
            input[lf - 1] = b' ';
        }
    }
    let buf = input.split_to(len).freeze();
    let headers = Headers::from_lines(buf, fields_at, count);
    let mut framing = FramingFields::default();
    for (name, value) in headers.fields() {
        framing.add(name, value);
    }
    let (length, framing) = framing.pack();
    Ok(Some(ResponseHead { version, status, reason, headers, length, framing }))
}

fn version(v: Option<u8>) -> Result<Version> {
    match v {
        Some(0) => Ok(Version::Http10),
        Some(1) => Ok(Version::Http11),
        _ => Err(ErrorKind::UnsupportedVersion.into()),
    }
}

fn reason_span(head: &[u8], reason: Option<&str>) -> Span {
    match reason {
        Some(r) if !r.is_empty() => Span::of(head, r.as_bytes()),
        _ => Span::of(head, &head[..0]),
    }
}

fn name_at(head: &[u8], f: &httparse::Header<'_>) -> usize {
    (f.name.as_ptr() as usize).wrapping_sub(head.as_ptr() as usize)
}

fn map_httparse(e: httparse::Error, input: &[u8], max_headers: usize) -> ErrorKind {
    match e {
        httparse::Error::TooManyHeaders => ErrorKind::TooManyHeaders { limit: max_headers },
        httparse::Error::Version if trim_leading_newlines(input).starts_with(b"HTTP/") => {
            ErrorKind::UnsupportedVersion
        }
        httparse::Error::Version => ErrorKind::InvalidHead { what: HeadFault::NotHttp },
        httparse::Error::NewLine => ErrorKind::BareLineEnding { part: Part::Header },
        httparse::Error::Status => ErrorKind::InvalidHead { what: HeadFault::StatusLine },
        httparse::Error::HeaderName => ErrorKind::InvalidHead { what: HeadFault::HeaderName },
        httparse::Error::HeaderValue => ErrorKind::InvalidHead { what: HeadFault::HeaderValue },
        httparse::Error::Token => ErrorKind::InvalidHead { what: HeadFault::Token },
    }
}

fn trim_leading_newlines(mut s: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    s
}

/// Where the first bare LF is, for [`Profile::Strict`]'s error (RFC 9112 §2.2). Rare: a scan.
#[cold]
fn bare_lf(head: &[u8]) -> ErrorKind {
    let first_line_end = memchr::memchr(b'\n', head).unwrap_or(head.len());
    let part = memchr::memchr_iter(b'\n', head)
        .find(|&lf| lf == 0 || head[lf - 1] != b'\r')
        .map_or(
            Part::Header,
            |lf| if lf <= first_line_end { Part::StartLine } else { Part::Header },
        );
    ErrorKind::BareLineEnding { part }
}

/// Whether CRLF comes right before `at`.
///
/// The strict profile's line-ending check costs a look at each line start, not at each byte:
/// httparse ends every line with an LF, takes a CR only right before an LF, and (as
/// configured) starts each field line with the name: no space before a name, and folds only
/// in [`parse_folded`], which checks them itself. So a line ends in CRLF exactly when CRLF
/// comes right before the start of the next line: the next field's name, or the empty line
/// that ends the head (its last two bytes, once they are a CRLF). The strict profile refuses
/// empty lines before the status line, so there are none to check.
fn crlf_before(head: &[u8], at: usize) -> bool {
    // Every line httparse accepted ends in LF: the CR before it is what to look at.
    head.get(at.wrapping_sub(2)) == Some(&b'\r')
}

/// Whether the head ends in CRLF CRLF: its empty line, and the line before it.
fn head_ends_in_crlf(head: &[u8]) -> bool {
    head.ends_with(b"\r\n") && crlf_before(head, head.len() - 2)
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
    /// The transfer codings applied below `chunked` (or below the connection's close), in the
    /// order applied: what a [`coding::Decoder`](crate::wire::Decoder) must undo before the body
    /// is content (RFC 9112 §6.1, §7). Empty when there are none, and whenever the framing is
    /// [`Framing::None`] or [`Framing::Length`].
    pub codings: Codings,
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
    /// A status code outside 100 to 599 (RFC 9110 §15: invalid) is kept as sent by
    /// [`ResponseHead::status`] and framed like a final 5xx: its body is read by the rules
    /// below.
    ///
    /// # Errors
    /// [`ErrorKind::ContentLengthWithTransferEncoding`],
    /// [`ErrorKind::ConflictingContentLength`], [`ErrorKind::InvalidContentLength`],
    /// [`ErrorKind::InvalidTransferEncoding`], [`ErrorKind::UnsupportedTransferCoding`].
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
    /// A `Transfer-Encoding` field is empty, `chunked` comes twice or before another coding,
    /// or the codings overflow [`Codings`].
    te_invalid: bool,
    /// A transfer coding ferry cannot decode.
    te_unsupported: bool,
    /// The last transfer coding is `chunked`.
    chunked_last: bool,
    /// `chunked` was seen.
    chunked: bool,
    /// The codings other than `chunked`, in order.
    codings: Codings,
    /// `Connection` lists `close`.
    close: bool,
    /// `Connection` lists `keep-alive`.
    keep_alive: bool,
    /// A `Content-Encoding` field is present (not framing, but noted in the same look so
    /// that a client need not walk the fields for it: [`ResponseHead::has_content_encoding`]).
    content_encoding: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LengthFault {
    Invalid,
    Conflicting,
}

/// [`FramingFields`] as a [`ResponseHead`] keeps them, beside the length's value: the codings
/// and one byte of flags (`chunked` alone is left out: only the gathering needs it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FramingBits {
    codings: Codings,
    flags: u8,
}

impl FramingBits {
    // Bits 0 and 1: the length's state.
    const LENGTH_MASK: u8 = 0b11;
    const LENGTH_OK: u8 = 1;
    const LENGTH_INVALID: u8 = 2;
    const LENGTH_CONFLICTING: u8 = 3;
    // Bits 2 and 3: `Transfer-Encoding`'s state (absent, valid, invalid, unsupported; an
    // invalid one is refused before an unsupported coding is looked at).
    const TE_MASK: u8 = 0b11 << 2;
    const TE_VALID: u8 = 1 << 2;
    const TE_INVALID: u8 = 2 << 2;
    const TE_UNSUPPORTED: u8 = 3 << 2;
    const CHUNKED_LAST: u8 = 1 << 4;
    const CLOSE: u8 = 1 << 5;
    const KEEP_ALIVE: u8 = 1 << 6;
    /// Not framing: a `Content-Encoding` field is present.
    const CONTENT_ENCODING: u8 = 1 << 7;
}

impl FramingFields {
    /// The length's value (0 when there is none) and the rest as [`FramingBits`].
    #[inline(always)]
    fn pack(self) -> (u64, FramingBits) {
        let (value, state) = match self.length {
            None => (0, 0),
            Some(Ok(n)) => (n, FramingBits::LENGTH_OK),
            Some(Err(LengthFault::Invalid)) => (0, FramingBits::LENGTH_INVALID),
            Some(Err(LengthFault::Conflicting)) => (0, FramingBits::LENGTH_CONFLICTING),
        };
        let bit = |on: bool, bit: u8| if on { bit } else { 0 };
        let te = match (self.te, self.te_invalid, self.te_unsupported) {
            (false, _, _) => 0,
            (true, true, _) => FramingBits::TE_INVALID,
            (true, false, true) => FramingBits::TE_UNSUPPORTED,
            (true, false, false) => FramingBits::TE_VALID,
        };
        let flags = state
            | te
            | bit(self.chunked_last, FramingBits::CHUNKED_LAST)
            | bit(self.close, FramingBits::CLOSE)
            | bit(self.keep_alive, FramingBits::KEEP_ALIVE)
            | bit(self.content_encoding, FramingBits::CONTENT_ENCODING);
        (value, FramingBits { codings: self.codings, flags })
    }
}

impl FramingFields {
    /// Takes in one field, in arrival order. `name` is a token (checked by the parse), `value`
    /// the field's value, with or without the OWS around it (trimmed here when the field is
    /// one that counts, so the fast pass need not trim every value).
    ///
    /// Cost: a length compare for most fields; for a name of a framing field's length (or
    /// `Content-Encoding`'s), one branch-free compare of its bytes.
    #[inline(always)]
    fn add(&mut self, name: &[u8], value: &[u8]) {
        // One test rules out every other length.
        const LENGTHS: u32 = 1 << 14 | 1 << 17 | 1 << 10 | 1 << 16;
        if LENGTHS.checked_shr(name.len() as u32).unwrap_or(0) & 1 == 0 {
            return;
        }
        self.add_framing(name, value);
    }

    #[inline(never)]
    fn add_framing(&mut self, name: &[u8], value: &[u8]) {
        match name.len() {
            14 if token_is(name, b"content-length") => self.add_length(trim(value)),
            // Each coding is trimmed.
            17 if token_is(name, b"transfer-encoding") => self.add_codings(value),
            16 if token_is(name, b"content-encoding") => self.content_encoding = true,
            10 if token_is(name, b"connection") => {
                let value = trim(value);
                // The value is trimmed: a lone option is matched whole.
                if value.len() == 10 && token_is(value, b"keep-alive") {
                    self.keep_alive = true;
                    return;
                }
                if value.len() == 5 && token_is(value, b"close") {
                    self.close = true;
                    return;
                }
                // Both options in one pass over the list (RFC 9110 §7.6.1).
                for option in value.split(|&b| b == b',').map(trim) {
                    match option.len() {
                        5 => self.close |= token_is(option, b"close"),
                        10 => self.keep_alive |= token_is(option, b"keep-alive"),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// A list of lengths; empty elements do not count (RFC 9110 §5.6.1), so `5,` and `5, 5`
    /// are one value (RFC 9112 §6.3 item 5).
    fn add_length(&mut self, value: &[u8]) {
        // The usual value: digits alone (httparse trimmed it).
        if let Some(n) = digits(value) {
            self.length = Some(match self.length {
                None => Ok(n),
                Some(Ok(a)) if a == n => Ok(n),
                Some(Ok(_)) => Err(LengthFault::Conflicting),
                Some(Err(e)) => Err(e),
            });
            return;
        }
        let mut any = false;
        for item in value.split(|&b| b == b',').map(trim).filter(|i| !i.is_empty()) {
            any = true;
            let this = parse_length(item).ok_or(LengthFault::Invalid);
            self.length = Some(match (self.length, this) {
                (Some(Err(e)), _) | (_, Err(e)) => Err(e),
                (Some(Ok(a)), Ok(b)) if a != b => Err(LengthFault::Conflicting),
                (_, Ok(b)) => Ok(b),
            });
        }
        if !any {
            self.length = Some(Err(LengthFault::Invalid));
        }
    }

    /// A list of transfer codings, in the order applied (RFC 9112 §6.1).
    fn add_codings(&mut self, value: &[u8]) {
        self.te = true;
        let mut any = false;
        for coding in value.split(|&b| b == b',').map(trim).filter(|c| !c.is_empty()) {
            any = true;
            if eq_lower(coding, b"chunked") {
                // Twice is never allowed (RFC 9112 §6.1).
                self.te_invalid |= self.chunked;
                self.chunked = true;
                self.chunked_last = true;
                continue;
            }
            // A coding applied after chunked: the framing would be under a coding ferry
            // cannot see through.
            self.te_invalid |= self.chunked;
            self.chunked_last = false;
            match Coding::from_token(coding) {
                Some(c) => self.te_invalid |= !self.codings.push(c),
                None => self.te_unsupported = true,
            }
        }
        self.te_invalid |= !any;
    }
}

/// `1*DIGIT` as a `u64`, or `None` (not all digits, or it overflows).
#[inline(always)]
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// Whether `name`, a token or a piece of a field value, is `lower` ignoring ASCII case, where
/// `lower` holds only lowercase letters and `-`. `b | 0x20` equals such a byte exactly when
/// `b` is that letter in either case, or `-` (the other byte that maps to `-` is CR, which is
/// no tchar and never inside a parsed value), so one OR and XOR per byte, without branches,
/// decide.
#[inline(always)]
fn token_is<const N: usize>(name: &[u8], lower: &[u8; N]) -> bool {
    let Ok(name) = <&[u8; N]>::try_from(name) else { return false };
    let mut diff = 0;
    for i in 0..N {
        diff |= (name[i] | 0x20) ^ lower[i];
    }
    diff == 0
}

/// Applies RFC 9112 §6.3 to a final response head.
fn semantics(head: &ResponseHead, request_was_head: bool) -> Result<Semantics> {
    // Read straight from the packed bits (see `FramingFields::pack`).
    let flags = head.framing.flags;
    let on = |bit: u8| flags & bit != 0;
    let length = flags & FramingBits::LENGTH_MASK;
    let te_state = flags & FramingBits::TE_MASK;
    let te = te_state != 0;
    let keep_alive =
        !on(FramingBits::CLOSE) && (head.version == Version::Http11 || on(FramingBits::KEEP_ALIVE));
    let status = head.status;
    let none = Codings::new();
    // Item 1: always bodiless, whatever the fields say; fields that claim a body make the
    // connection suspect. A code outside 100..=599 is not 1xx: it is framed as a 5xx.
    if request_was_head || (100..200).contains(&status) || status == 204 || status == 304 {
        let faulty = status != 304 && !request_was_head && (te || length != 0);
        return Ok(Semantics {
            framing: Framing::None,
            codings: none,
            keep_alive: keep_alive && !faulty,
            faulty,
        });
    }
    if te {
        // Item 3: both is a smuggling shape: refused.
        if length != 0 {
            return Err(ErrorKind::ContentLengthWithTransferEncoding.into());
        }
        if te_state == FramingBits::TE_INVALID {
            return Err(ErrorKind::InvalidTransferEncoding.into());
        }
        if te_state == FramingBits::TE_UNSUPPORTED {
            return Err(unsupported_coding(head).into());
        }
        // Transfer-Encoding in HTTP/1.0 is faulty framing: read it, then close (§6.1).
        let faulty = head.version == Version::Http10;
        let codings = head.framing.codings;
        // Item 4: chunked last → chunked; otherwise read until close.
        return Ok(if on(FramingBits::CHUNKED_LAST) {
            Semantics {
                framing: Framing::Chunked,
                codings,
                keep_alive: keep_alive && !faulty,
                faulty,
            }
        } else {
            Semantics { framing: Framing::UntilClose, codings, keep_alive: false, faulty }
        });
    }
    let framing = match length {
        FramingBits::LENGTH_OK => Framing::Length(head.length),
        // Items 5 and 6.
        FramingBits::LENGTH_INVALID => return Err(ErrorKind::InvalidContentLength.into()),
        FramingBits::LENGTH_CONFLICTING => {
            return Err(ErrorKind::ConflictingContentLength.into());
        }
        // Item 8: neither: read until close.
        _ => {
            return Ok(Semantics {
                framing: Framing::UntilClose,
                codings: none,
                keep_alive: false,
                faulty: false,
            });
        }
    };
    Ok(Semantics { framing, codings: none, keep_alive, faulty: false })
}

/// The first transfer coding of `head` that ferry cannot decode, for the error (rare: a walk
/// of the fields).
#[cold]
fn unsupported_coding(head: &ResponseHead) -> ErrorKind {
    let coding = head
        .headers
        .fields()
        .filter(|(n, _)| eq_lower(n, b"transfer-encoding"))
        .flat_map(|(_, v)| v.split(|&b| b == b',').map(trim))
        .find(|c| !c.is_empty() && !eq_lower(c, b"chunked") && Coding::from_token(c).is_none())
        .unwrap_or_default();
    ErrorKind::UnsupportedTransferCoding { coding: printable(coding) }
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
        use HeadFault::*;
        // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
        check_head("HTTP/1.1 200 OK\r\n\r\n", Ok((200, "OK")), true);
        check_head("HTTP/1.0 404 Not Found\r\n\r\n", Ok((404, "Not Found")), true);
        check_head("HTTP/1.1 204 \r\n\r\n", Ok((204, "")), true);
        // No SP before an empty reason: unambiguous and common, accepted in every profile.
        check_head("HTTP/1.1 200\r\n\r\n", Ok((200, "")), true);
        check_head("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", Ok((200, "")), true);
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
        // Empty lines before the status line (§2.2's leniency is for servers reading
        // requests): strict refuses them, compatible skips them.
        for leading in ["\r\n", "\n", "\r\n\r\n", "\n\r\n"] {
            check_head(
                &alloc::format!("{leading}HTTP/1.1 200 OK\r\n\r\n"),
                Err(InvalidHead { what: EmptyLineBeforeStatus }),
                true,
            );
        }
        // Major versions other than 1, and 1.0 / 1.1 as such (§2.3).
        check_head("HTTP/2 200 OK\r\n\r\n", Err(UnsupportedVersion), false);
        check_head("HTTP/2.0 200 OK\r\n\r\n", Err(UnsupportedVersion), false);
        check_head("HTTP/0.9 200 OK\r\n\r\n", Err(UnsupportedVersion), false);
        check_head("HTTP/1.10 200 OK\r\n\r\n", Err(UnsupportedVersion), false);
        check_head("ICY 200 OK\r\n\r\n", Err(InvalidHead { what: NotHttp }), false);
        check_head("HTTP/1.1 20 OK\r\n\r\n", Err(InvalidHead { what: StatusLine }), false);
        check_head("HTTP/1.1 2000 OK\r\n\r\n", Err(InvalidHead { what: StatusLine }), false);
        // Whitespace between name and colon (§5.1) is a smuggling shape.
        check_head(
            "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",
            Err(InvalidHead { what: HeaderName }),
            false,
        );
        // A line starting with whitespace right after the status line folds nothing.
        check_head("HTTP/1.1 200 OK\r\n c\r\n\r\n", Err(InvalidHead { what: HeaderName }), false);
    }

    #[test]
    fn higher_minor_versions_are_http11_rfc9110_2_5() {
        // RFC 9110 §2.5: a recipient processes HTTP/1.x, x above what it implements, as
        // the highest minor version it implements.
        for (line, version) in [
            ("HTTP/1.0 200 OK", Version::Http10),
            ("HTTP/1.1 200 OK", Version::Http11),
            ("HTTP/1.2 200 OK", Version::Http11),
            ("HTTP/1.9 200 OK", Version::Http11),
            ("HTTP/1.2 200", Version::Http11),
        ] {
            for profile in [Profile::Strict, Profile::Compatible] {
                let head = parse(alloc::format!("{line}\r\n\r\n").as_bytes(), profile);
                let head = head.unwrap_or_else(|e| panic!("{line}: {e}")).expect("complete");
                assert_eq!(head.version(), version, "{line}");
                assert_eq!(head.status(), 200, "{line}");
            }
        }
        let head = parse(b"\r\nHTTP/1.3 200 OK\r\n\r\n", Profile::Compatible).unwrap().unwrap();
        assert_eq!(head.version(), Version::Http11);
    }

    #[test]
    fn status_codes_rfc9110_15() {
        use Framing::*;
        // Three digits are kept as sent; outside 100..=599 a code is invalid and read as a
        // final 5xx: not interim, framed by its fields. Found by the response_stream fuzz
        // target (fuzz/regressions/response_stream/status-000), then made uniform.
        for (line, status, framing) in [
            ("HTTP/1.1 000 Zero\r\nContent-Length: 3", 0, Length(3)),
            ("HTTP/1.1 099 Low\r\nContent-Length: 3", 99, Length(3)),
            ("HTTP/1.1 099 Low", 99, UntilClose),
            ("HTTP/1.1 100 Continue\r\nContent-Length: 3", 100, None),
            ("HTTP/1.1 199 Hm", 199, None),
            ("HTTP/1.1 599 Odd\r\nContent-Length: 3", 599, Length(3)),
            ("HTTP/1.1 600 High\r\nContent-Length: 3", 600, Length(3)),
            ("HTTP/1.1 999 Custom\r\nTransfer-Encoding: chunked", 999, Chunked),
        ] {
            let input = alloc::format!("{line}\r\n\r\n");
            let head = parse(input.as_bytes(), Profile::Strict).unwrap().unwrap();
            assert_eq!(head.status(), status, "{line}");
            assert_eq!(head.is_informational(), (100..200).contains(&status), "{line}");
            assert_eq!(head.semantics(false).unwrap().framing, framing, "{line}");
        }
    }

    #[test]
    fn a_content_encoding_field_is_noted_as_the_head_is_parsed() {
        for (fields, want) in [
            ("Content-Encoding: gzip", true),
            ("content-ENCODING: br\r\nX-A: b", true),
            ("X-A: b\r\nContent-Encoding:", true),
            ("X-A: b\r\n c\r\nContent-Encoding: gzip", true), // the folded path
            ("Content-Language: en", false),                  // the same length
            ("Content-Encodings: gzip", false),
            ("X-Content-Encoding: gzip", false),
            ("X-A: b\r\n c", false),
            ("", false),
        ] {
            let input = alloc::format!("HTTP/1.1 200 OK\r\n{fields}\r\n\r\n");
            for profile in [Profile::Strict, Profile::Compatible] {
                let head = parse(input.as_bytes(), profile).unwrap().unwrap();
                assert_eq!(head.has_content_encoding(), want, "{fields:?} {profile:?}");
            }
        }
    }

    #[test]
    fn obs_fold_is_replaced_with_sp_rfc9112_5_2() {
        use ErrorKind::*;
        // RFC 9112 §5.2: a user agent replaces each obs-fold with SP before interpreting
        // the value; in the framing fields a fold stays an error (a smuggling shape).
        for (fields, want) in [
            ("X-A: b\r\n c", Ok(alloc::vec![("X-A", &b"b   c"[..])])),
            ("X-A: b\r\n\tc\r\n  d", Ok(alloc::vec![("X-A", &b"b  \tc    d"[..])])),
            ("X-A: b\r\n c\r\nX-B: e", Ok(alloc::vec![("X-A", &b"b   c"[..]), ("X-B", b"e")])),
            ("X-A:\r\n c", Ok(alloc::vec![("X-A", &b"c"[..])])),
            ("X-A: b\r\n ", Ok(alloc::vec![("X-A", &b"b"[..])])),
            ("Content-Length: 5\r\n 5", Err(InvalidHead { what: HeadFault::FoldedFramingField })),
            (
                "transfer-encoding: gzip,\r\n chunked",
                Err(InvalidHead { what: HeadFault::FoldedFramingField }),
            ),
        ] {
            let input = alloc::format!("HTTP/1.1 200 OK\r\n{fields}\r\n\r\nBODY");
            for profile in [Profile::Strict, Profile::Compatible] {
                let mut buf = BytesMut::from(input.as_bytes());
                let config = Config { profile, ..Config::default() };
                let got = parse_response_head(&mut buf, &config)
                    .map(|h| {
                        let h = h.expect("complete");
                        h.headers().iter().map(|(n, v)| (String::from(n), v.to_vec())).collect()
                    })
                    .map_err(|e| e.kind().clone());
                let want = want.clone().map(|w: Vec<(&str, &[u8])>| {
                    w.into_iter().map(|(n, v)| (String::from(n), v.to_vec())).collect::<Vec<_>>()
                });
                assert_eq!(got, want, "{fields:?} {profile:?}");
                if got.is_ok() {
                    assert_eq!(&buf[..], b"BODY", "{fields:?}: the head is split off exactly");
                }
            }
        }
        // A folded Connection is read unfolded.
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive,\r\n close\r\n\r\n"[..],
        );
        let head = parse_response_head(&mut buf, &Config::default()).unwrap().unwrap();
        assert!(!head.semantics(false).unwrap().keep_alive);
        // In the strict profile the fold's line ending is CRLF too; compatible takes LF.
        let bare = b"HTTP/1.1 200 OK\r\nX-A: b\n c\r\n\r\n";
        assert_eq!(parse(bare, Profile::Strict), Err(BareLineEnding { part: Part::Header }));
        let head = parse(bare, Profile::Compatible).unwrap().unwrap();
        assert_eq!(head.headers().get("x-a"), Some(&b"b  c"[..]));
    }

    #[test]
    fn bare_lf_line_endings_strict_refuses_compatible_reads() {
        use ErrorKind::*;
        let bare = |part| Err::<(), _>(BareLineEnding { part });
        // A bare LF ending the status line, a field line, or the head; each head also has a
        // fold, which takes the folded-head path.
        for (input, strict) in [
            (
                &b"HTTP/1.1 200 OK\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n"[..],
                bare(Part::StartLine),
            ),
            (b"HTTP/1.1 200 OK\r\nX-A: b\r\n c\nContent-Length: 0\r\n\r\n", bare(Part::Header)),
            (b"HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\n\n", bare(Part::Header)),
            (b"HTTP/1.1 200 OK\nX-A: b\r\nContent-Length: 0\r\n\r\n", bare(Part::StartLine)),
        ] {
            assert_eq!(parse(input, Profile::Strict).map(|_| ()), strict, "{input:?}");
            let head = parse(input, Profile::Compatible).unwrap().unwrap();
            let a = head.headers().get("x-a").unwrap();
            assert!(a == b"b   c" || a == b"b  c" || a == b"b", "{input:?}: {a:?}");
            assert_eq!(head.headers().get("content-length"), Some(&b"0"[..]), "{input:?}");
        }
    }

    #[test]
    fn a_framing_field_last_in_a_folded_head_is_not_a_fold() {
        for profile in [Profile::Strict, Profile::Compatible] {
            for input in [
                &b"HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 5\r\n\r\n"[..],
                b"HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nTransfer-Encoding: chunked\r\n\r\n",
            ] {
                let head = parse(input, profile).unwrap().unwrap();
                assert_eq!(head.headers().len(), 2, "{input:?} {profile:?}");
                assert_eq!(head.headers().get("x-a"), Some(&b"b   c"[..]));
            }
        }
    }

    #[test]
    fn a_peer_that_does_not_speak_http_is_refused_at_its_first_line() {
        // The status line is complete but the head is not: refused now, not after waiting
        // for a head end that a non-HTTP peer never sends.
        let config = Config::default();
        for line in [&b"SSH-2.0-OpenSSH_9.2\r\n"[..], b"HTTP/1.1 2x0 OK\r\n", b"ICY 200 OK\r\nX"] {
            let mut parser = HeadParser::new();
            let mut input = BytesMut::from(line);
            let e = parser.parse(&mut input, &config).expect_err("refused at once");
            assert!(matches!(e.kind(), ErrorKind::InvalidHead { .. }), "{line:?}: {e:?}");
        }
        let mut input = BytesMut::from(&b"HTTP/1.1 200 OK\r\n"[..]);
        assert_eq!(HeadParser::new().parse(&mut input, &config), Ok(None), "a valid line waits");
    }

    #[test]
    fn a_read_of_nothing_new_looks_at_nothing_again() {
        // Called again with the same partial head (no new bytes): no rescan, no second
        // check of the status line.
        let config = Config::default();
        let mut parser = HeadParser::new();
        let mut input = BytesMut::from(&b"HTTP/1.1 200 OK\r\nX: y"[..]);
        assert_eq!(parser.parse(&mut input, &config), Ok(None));
        assert_eq!(parser.parse(&mut input, &config), Ok(None));
        let (parses, scanned) = (parser.parses, parser.scanned());
        assert_eq!(scanned, input.len(), "all of it looked at");
        assert_eq!(parser.parse(&mut input, &config), Ok(None));
        assert_eq!((parser.parses, parser.scanned()), (parses, scanned));
        assert_eq!(input.len(), 21);
    }

    #[test]
    fn leading_empty_lines_in_many_reads_compatible() {
        // The compatible profile skips empty lines before the status line (RFC 9112 §2.2
        // allows it of a server reading requests), however many reads bring them.
        let config = Config { profile: crate::Profile::Compatible, ..Config::default() };
        let head: &[u8] = b"HTTP/1.1 204 X\r\nA: b\r\n\r\nrest";
        let shapes: [&[&[u8]]; 3] = [
            &[b"\r\n", b"\r\n\r\n", b"\r\n\r\n\r\n", head],
            // More of them in the read that brings the status line.
            &[b"\r\n\r\n\r\n", b"\r\n\r\n\r\nHTTP/1.1 204 X\r\nA: b\r\n\r\nrest"],
            // And the head ends in a later read.
            &[b"\r\n\r\n\r\n", b"\r\n\r\n\r\nHTTP/1.1 204 X\r\n", b"A: b\r\n\r\nrest"],
        ];
        for pieces in shapes {
            let mut parser = HeadParser::new();
            let mut input = BytesMut::new();
            let (last, first) = pieces.split_last().unwrap();
            for piece in first {
                input.extend_from_slice(piece);
                assert_eq!(parser.parse(&mut input, &config), Ok(None));
            }
            input.extend_from_slice(last);
            let head = parser.parse(&mut input, &config).unwrap().expect("a head");
            assert_eq!((head.status(), head.reason(), head.headers().len()), (204, "X", 1));
            assert_eq!(&input[..], b"rest");
        }
    }

    #[test]
    fn a_buffer_that_shrank_is_looked_at_again_from_its_start() {
        // A caller that broke the contract (its buffer lost bytes the parser had looked at)
        // gets the head its buffer now holds, not a panic.
        let config = Config::default();
        let mut parser = HeadParser::new();
        let mut input = BytesMut::from(&b"HTTP/1.1 200 OK\r\nX-Long-Field: yyyyyyyy\r\n"[..]);
        assert_eq!(parser.parse(&mut input, &config), Ok(None));
        assert_eq!(parser.parse(&mut input, &config), Ok(None));
        let mut input = BytesMut::from(&b"HTTP/1.1 204 OK\r\n\r\n"[..]);
        let head = parser.parse(&mut input, &config).unwrap().expect("a head");
        assert_eq!(head.status(), 204);
        assert!(input.is_empty());
    }

    #[test]
    fn a_head_fed_byte_by_byte_is_scanned_once() {
        // 64 KiB of head in one-byte reads: each call looks only at the new byte, and
        // httparse runs on the first byte, once the status line is complete, and at the end.
        let limits = crate::Limits { max_headers: 2000, ..crate::Limits::default() };
        let config = Config { limits, ..Config::default() };
        let mut head = BytesMut::from(&b"HTTP/1.1 200 OK\r\n"[..]);
        while head.len() < config.limits.max_head_bytes - 40 {
            head.extend_from_slice(b"X-Filler: 0123456789abcdef0123456789\r\n");
        }
        head.extend_from_slice(b"\r\n");
        let mut parser = HeadParser::new();
        let mut input = BytesMut::new();
        for (i, &b) in head.iter().enumerate() {
            input.extend_from_slice(&[b]);
            let before = parser.parses;
            let got = parser.parse(&mut input, &config).unwrap();
            if i + 1 < head.len() {
                assert!(got.is_none(), "complete at {i}");
                // An LF is looked at again only while the byte after it is unknown.
                assert!(
                    parser.scanned() + 2 >= input.len(),
                    "scanned {} of {}",
                    parser.scanned(),
                    input.len()
                );
                let parsed = parser.parses - before;
                let want = usize::from(i == 0) + usize::from(i == 16);
                assert_eq!(parsed, want, "httparse runs at byte {i}");
            } else {
                assert_eq!(got.expect("complete").headers().len(), (head.len() - 19) / 38);
                assert_eq!(parser.scanned(), 0, "a fresh parser after the head");
            }
        }
        assert!(input.is_empty());
    }

    #[test]
    fn a_head_gives_the_same_result_however_split() {
        // Every cut of each head into two reads gives what one read gives: the error of a
        // refused byte is reported once the status line, the head or the window is complete.
        let cases: [&[u8]; 6] = [
            b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody",
            b"HTTP/1.1 200 OK\r\nBad\x01Name: x\r\n\r\n",
            b"ICY 200 OK\r\n\r\n",
            b"HTTP/1.2 204\r\nX: y\r\n z\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\n\r\n",
            b"\nHTTP/1.1 200 OK\n\r",
        ];
        for case in cases {
            for profile in [Profile::Strict, Profile::Compatible] {
                let config = Config { profile, ..Config::default() };
                let whole = parse_response_head(&mut BytesMut::from(case), &config)
                    .map(|h| h.map(|h| (h.status(), h.headers().clone())));
                for cut in 0..=case.len() {
                    let mut parser = HeadParser::new();
                    let mut input = BytesMut::from(&case[..cut]);
                    let first = parser.parse(&mut input, &config);
                    let got = match first {
                        Ok(None) => {
                            input.extend_from_slice(&case[cut..]);
                            parser.parse(&mut input, &config)
                        }
                        other => other,
                    };
                    let got = got.map(|h| h.map(|h| (h.status(), h.headers().clone())));
                    let comparable = |r: &Result<Option<(u16, Headers)>>| {
                        r.clone().map_err(|e| e.kind().clone())
                    };
                    // An error found by the first read stands whatever follows; otherwise the
                    // two reads agree with one.
                    assert_eq!(comparable(&got), comparable(&whole), "{case:?} cut at {cut}");
                }
            }
        }
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
    fn values_at_each_limit() {
        // max_head_bytes: a head of exactly the limit passes, one byte more does not, in one
        // read or byte by byte.
        let limits =
            crate::Limits { max_head_bytes: 64, max_headers: 3, ..crate::Limits::default() };
        let config = Config { limits, ..Config::default() };
        let head_of = |len: usize| {
            let mut h = BytesMut::from(&b"HTTP/1.1 200 OK\r\nX-Pad: "[..]);
            h.resize(len - 4, b'p');
            h.extend_from_slice(b"\r\n\r\n");
            h
        };
        let bytewise = |bytes: &[u8]| {
            let mut parser = HeadParser::new();
            let mut input = BytesMut::new();
            for &b in bytes {
                input.extend_from_slice(&[b]);
                match parser.parse(&mut input, &config) {
                    Ok(None) => {}
                    other => return other.map(|h| h.map(|h| h.headers().len())),
                }
            }
            Ok(None)
        };
        for (len, ok) in [(64, true), (65, false)] {
            let whole = parse_response_head(&mut head_of(len), &config);
            let split = bytewise(&head_of(len));
            if ok {
                assert_eq!(whole.unwrap().unwrap().headers().len(), 1, "{len}");
                assert_eq!(split.unwrap(), Some(1), "{len}");
            } else {
                let too_large = ErrorKind::HeadTooLarge { limit: 64 };
                assert_eq!(whole.unwrap_err().kind(), &too_large, "{len}");
                assert_eq!(split.unwrap_err().kind(), &too_large, "{len}");
            }
        }
        // max_headers: three fields pass, four do not.
        for (n, ok) in [(3, true), (4, false)] {
            let mut h = BytesMut::from(&b"HTTP/1.1 200 OK\r\n"[..]);
            for _ in 0..n {
                h.extend_from_slice(b"A: b\r\n");
            }
            h.extend_from_slice(b"\r\n");
            let got = bytewise(&h.clone());
            let whole = parse_response_head(&mut h, &config);
            if ok {
                assert_eq!(whole.unwrap().unwrap().headers().len(), n);
                assert_eq!(got.unwrap(), Some(n));
            } else {
                let too_many = ErrorKind::TooManyHeaders { limit: 3 };
                assert_eq!(whole.unwrap_err().kind(), &too_many);
                assert_eq!(got.unwrap_err().kind(), &too_many);
            }
        }
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
            &ErrorKind::InvalidHead { what: HeadFault::HeaderName }
        );

        // A refused byte within the window, the limit passed after it, in reads of any size:
        // the byte is what is reported.
        let mut head = BytesMut::from(&b"HTTP/1.1 200 OK\r\nBad\x01Name: "[..]);
        head.resize(100, b'f');
        for step in [head.len(), 64, 10, 1] {
            let mut parser = HeadParser::new();
            let mut input = BytesMut::new();
            let mut result = Ok(None);
            for piece in head.chunks(step) {
                input.extend_from_slice(piece);
                result = parser.parse(&mut input, &config);
                if !matches!(result, Ok(None)) {
                    break;
                }
            }
            assert_eq!(
                result.unwrap_err().kind(),
                &ErrorKind::InvalidHead { what: HeadFault::HeaderName },
                "step {step}"
            );
        }
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
        // A coding applied after chunked hides the framing: refused (RFC 9112 §6.1).
        check_framing(
            &h("200 OK\r\nTransfer-Encoding: chunked, gzip"),
            false,
            Err(InvalidTransferEncoding),
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
    fn content_length_lists_rfc9112_6_3_5() {
        use ErrorKind::*;
        use Framing::*;
        // RFC 9112 §6.3 (5) with RFC 9110 §5.6.1: a list of identical values is one value,
        // and empty list elements do not count.
        for (value, want) in [
            ("5", Ok(Length(5))),
            ("5,", Ok(Length(5))),
            (",5", Ok(Length(5))),
            ("5, 5", Ok(Length(5))),
            ("5 , ,5,", Ok(Length(5))),
            ("5,,6", Err(ConflictingContentLength)),
            (",", Err(InvalidContentLength)),
            (" , ", Err(InvalidContentLength)),
            ("", Err(InvalidContentLength)),
            ("5, x", Err(InvalidContentLength)),
        ] {
            let head = alloc::format!("HTTP/1.1 200 OK\r\nContent-Length: {value}\r\n\r\n");
            check_framing(&head, false, want.map(|f| (f, true)));
        }
        // An empty field beside a valid one is still no value.
        check_framing(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: ,\r\n\r\n",
            false,
            Err(InvalidContentLength),
        );
    }

    #[test]
    fn transfer_codings_rfc9112_6_1_and_7() {
        use Coding::*;
        use ErrorKind::*;
        use Framing::*;
        // RFC 9112 §6.1: codings in the order applied, chunked last for a framed body;
        // §7: ferry decodes gzip (x-gzip, §7.2) and deflate, and refuses the rest
        // (`identity` is not in the registry).
        let sem = |te: &str| {
            let head = alloc::format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: {te}\r\n\r\n");
            let h = parse(head.as_bytes(), Profile::Strict).unwrap().unwrap();
            h.semantics(false)
                .map(|s| (s.framing, s.codings.iter().collect::<Vec<_>>()))
                .map_err(|e| e.kind().clone())
        };
        for (te, want) in [
            ("chunked", Ok((Chunked, alloc::vec![]))),
            ("gzip, chunked", Ok((Chunked, alloc::vec![Gzip]))),
            ("X-GZIP,chunked", Ok((Chunked, alloc::vec![Gzip]))),
            ("deflate, gzip, chunked", Ok((Chunked, alloc::vec![Deflate, Gzip]))),
            ("gzip", Ok((UntilClose, alloc::vec![Gzip]))),
            ("gzip, gzip, gzip, gzip, chunked", Ok((Chunked, alloc::vec![Gzip; 4]))),
            ("gzip, gzip, gzip, gzip, gzip, chunked", Err(InvalidTransferEncoding)),
            ("chunked, gzip", Err(InvalidTransferEncoding)),
            ("gzip, chunked, chunked", Err(InvalidTransferEncoding)),
            (",", Err(InvalidTransferEncoding)),
            ("identity, chunked", Err(UnsupportedTransferCoding { coding: "identity".into() })),
            ("identity", Err(UnsupportedTransferCoding { coding: "identity".into() })),
            (
                "gzip, Compress, chunked",
                Err(UnsupportedTransferCoding { coding: "Compress".into() }),
            ),
            ("br, chunked", Err(UnsupportedTransferCoding { coding: "br".into() })),
        ] {
            assert_eq!(sem(te), want, "{te:?}");
        }
        // A bodiless response has nothing to decode, whatever it lists.
        let h = parse(b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: br\r\n\r\n", Profile::Strict);
        let sem = h.unwrap().unwrap().semantics(false).unwrap();
        assert_eq!((sem.framing, sem.codings.len()), (None, 0));
    }

    #[test]
    fn fields_shaped_like_the_framing_fields_are_not_them() {
        use Framing::*;
        // Same lengths as Content-Length (14), Transfer-Encoding (17) and Connection (10),
        // and values of the lengths of `keep-alive` (10) and `close` (5): none of them frames
        // the body or decides keep-alive.
        check_framing(
            "HTTP/1.1 200 OK\r\nAccept-Charset: 7\r\nIf-Modified-Since: chunked\r\n\
             Set-Cookie: close\r\nContent-Length: 3\r\n\r\n",
            false,
            Ok((Length(3), true)),
        );
        check_framing(
            "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: abcdefghij\r\n\r\n",
            false,
            Ok((Length(0), false)),
        );
        check_framing(
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: other\r\n\r\n",
            false,
            Ok((Length(0), true)),
        );
        // `keep-alive` inside a list, on HTTP/1.0 (RFC 9112 §9.3).
        check_framing(
            "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: foo, keep-alive\r\n\r\n",
            false,
            Ok((Length(0), true)),
        );
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

    /// The 20-field head of `benches/common` (nginx behind a CDN), with its framing field.
    const BENCH_HEAD: &str = "HTTP/1.1 200 OK\r\nServer: nginx/1.25.3\r\n\
        Date: Tue, 18 Nov 2025 10:21:34 GMT\r\nContent-Type: text/html; charset=utf-8\r\n\
        Connection: keep-alive\r\n\
        Cache-Control: public, max-age=3600, stale-while-revalidate=60\r\n\
        ETag: \"6553f2a1-400\"\r\nLast-Modified: Tue, 14 Nov 2025 22:41:05 GMT\r\n\
        Vary: Accept-Encoding, Origin\r\nAccept-Ranges: bytes\r\n\
        Strict-Transport-Security: max-age=63072000; includeSubDomains; preload\r\n\
        Content-Security-Policy: default-src 'self'; img-src 'self' https://cdn.example.com\r\n\
        X-Content-Type-Options: nosniff\r\nReferrer-Policy: strict-origin-when-cross-origin\r\n\
        Set-Cookie: session=8f14e45fceea167a5a36dedd4bea2543; Path=/; Secure; HttpOnly; SameSite=Lax\r\n\
        Age: 127\r\nX-Cache: HIT, HIT\r\n\
        X-Served-By: cache-fra-etou8220123-FRA, cache-ams-eham2210040-AMS\r\n\
        Via: 1.1 varnish, 1.1 varnish\r\nAlt-Svc: h3=\":443\"; ma=86400\r\n\
        Content-Length: 1024\r\n\r\n";

    type Outcome = core::result::Result<Option<ResponseHead>, ErrorKind>;

    /// `parse_complete` (the fast pass first) and `parse_general` (httparse and ferry's checks,
    /// what `parse_complete` was before the fast pass) on copies of `bytes`: each one's result
    /// and what is left in its buffer (the rest, with any in-place rewrite).
    fn both_paths(bytes: &[u8], config: &Config) -> ((Outcome, Vec<u8>), (Outcome, Vec<u8>)) {
        let run = |f: fn(&mut BytesMut, &Config) -> Result<Option<ResponseHead>>| {
            let mut input = BytesMut::from(bytes);
            let r = f(&mut input, config).map_err(|e| e.kind().clone());
            (r, input.to_vec())
        };
        (run(parse_complete), run(parse_general))
    }

    /// Each `(at, byte, how)` of `mutations` applied to `bytes` in turn (`how` 0: the byte at
    /// `at` replaced, 1: removed, else `byte` inserted there; `at` taken modulo the length),
    /// then `bytes` cut to `cut` when given.
    fn mutate(bytes: &mut Vec<u8>, mutations: &[(usize, u8, u8)], cut: Option<usize>) {
        for &(at, b, how) in mutations {
            let at = at % (bytes.len() + 1);
            match how {
                0 if at < bytes.len() => bytes[at] = b,
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, b),
            }
        }
        if let Some(cut) = cut {
            bytes.truncate(cut);
        }
    }

    /// Whether the fast pass decides `bytes` alone (a head, or not complete yet).
    fn fast_decides(bytes: &[u8], config: &Config) -> bool {
        parse_fast(&mut BytesMut::from(bytes), config).is_some()
    }

    /// Every byte value at every position of a short ordinary head, put in place of the byte
    /// there and inserted before it, in both profiles: the fast pass decides each exactly as the
    /// general path does (a DEL in the reason or a `/` in a name must not slip through: random
    /// mutations rarely put such a byte at such a place).
    #[test]
    fn every_byte_at_every_place_is_decided_alike() {
        let head: &[u8] = b"HTTP/1.1 200 OK\r\nAb-c: v x\r\nContent-Length: 2\r\n\r\nhi";
        for profile in [Profile::Strict, Profile::Compatible] {
            let config = Config { profile, ..Config::default() };
            for at in 0..head.len() {
                for b in 0..=255u8 {
                    let mut replaced = head.to_vec();
                    replaced[at] = b;
                    let mut inserted = head.to_vec();
                    inserted.insert(at, b);
                    for bytes in [replaced, inserted] {
                        let (ours, general) = both_paths(&bytes, &config);
                        assert_eq!(ours, general, "{:?}", String::from_utf8_lossy(&bytes));
                    }
                }
            }
        }
    }

    #[test]
    fn ordinary_heads_take_the_fast_pass() {
        // If these went the general way, the fast pass would have lost its point silently.
        for head in [
            BENCH_HEAD,
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
            "HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 204 \r\n\r\n",
            "HTTP/1.1 200\r\n\r\n",
            "HTTP/1.1 599 A\tB \r\nX-Empty:\r\nX-Ws: \t a\tb \t\r\nX-Obs: \u{e9}\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Encoding: br\r\n\r\n",
        ] {
            for profile in [Profile::Strict, Profile::Compatible] {
                let config = Config { profile, ..Config::default() };
                let mut input = BytesMut::from(head.as_bytes());
                let fast = parse_fast(&mut input, &config);
                assert!(matches!(fast, Some(Some(_))), "{head:?} {profile:?}: {fast:?}");
                let (ours, general) = both_paths(head.as_bytes(), &config);
                assert_eq!(ours, general, "{head:?} {profile:?}");
            }
        }
        // A partial ordinary head: the fast pass says so, without httparse.
        let config = Config::default();
        for cut in 13..BENCH_HEAD.len() {
            let prefix = &BENCH_HEAD.as_bytes()[..cut];
            assert!(fast_decides(prefix, &config), "cut at {cut}");
            assert_eq!(parse_complete(&mut BytesMut::from(prefix), &config), Ok(None));
        }
    }

    #[test]
    fn unusual_heads_go_the_general_way() {
        // Each of these is something the fast pass does not take: it must hand them on (and
        // what comes back is the general path's answer, errors included).
        let big = Config {
            limits: crate::Limits { max_headers: 1, ..crate::Limits::default() },
            ..Config::default()
        };
        for (head, config) in [
            ("\r\nHTTP/1.1 200 OK\r\n\r\n", Config::default()),
            ("HTTP/1.1 200 OK\nA: b\r\n\r\n", Config::default()),
            ("HTTP/1.1 200 OK\r\nA: b\n\r\n", Config::default()),
            ("HTTP/1.1 200 OK\r\nA: b\r\n\n", Config::default()),
            ("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", Config::default()),
            ("HTTP/1.1 200 OK\r\n A: b\r\n\r\n", Config::default()),
            ("HTTP/1.1 200 OK\r\nA : b\r\n\r\n", Config::default()),
            ("HTTP/1.1 200 OK\r\n: b\r\n\r\n", Config::default()),
            ("HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n", Config::default()),
            ("HTTP/1.1 200 OK\r\nA: b\x7fc\r\n\r\n", Config::default()),
            ("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", Config::default()),
            ("HTTP/1.1 200 OK\r\nA\x01: b\r\n\r\n", Config::default()),
            ("HTTP/1.1 200 OK\r\n\rX", Config::default()),
            ("HTTP/1.1 200 O\u{e9}K\r\n\r\n", Config::default()),
            ("HTTP/1.1 200 O\x01K\r\n\r\n", Config::default()),
            ("HTTP/1.2 200 OK\r\n\r\n", Config::default()),
            ("HTTP/2 200 OK\r\n\r\n", Config::default()),
            ("HTTP/1.1 20 OK\r\n\r\n", Config::default()),
            ("HTTP/1.1 200\n\r\n", Config::default()),
            ("HTTP/1.1 200-OK\r\n\r\n", Config::default()),
            ("HTTP/1.1  200 OK\r\n\r\n", Config::default()),
            ("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", big),
            ("ICY 200 OK\r\n\r\n", Config::default()),
            ("HTTP/1.1 200", Config::default()),
        ] {
            assert!(!fast_decides(head.as_bytes(), &config), "{head:?}");
            let (ours, general) = both_paths(head.as_bytes(), &config);
            assert_eq!(ours, general, "{head:?}");
        }
    }

    /// Pieces of heads, ordinary and not, for the differential test.
    fn head_piece() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            3 => proptest::sample::select(alloc::vec![
                "HTTP/1.1 200 OK", "HTTP/1.0 404 Not Found", "HTTP/1.1 204 ", "HTTP/1.1 200",
                "HTTP/1.2 200 OK", "HTTP/1.1 2000", "HTTP/1.1 099 x\ty", "ICY 200 OK",
                "HTTP/1.1 200 O\u{e9}", "HTTP/1.1", "HTTP/1.", "HTTP/1.1 ", "HTTP/1.1 20",
            ]).prop_map(|s| s.as_bytes().to_vec()),
            6 => proptest::sample::select(alloc::vec![
                "\r\n", "\r\n", "\r\n", "\n", "\r", " ", "\t", ":", ": ", ":\t", " :",
            ]).prop_map(|s| s.as_bytes().to_vec()),
            4 => proptest::sample::select(alloc::vec![
                "Content-Length", "content-length: 5", "Transfer-Encoding: chunked",
                "Transfer-Encoding: gzip, chunked", "Connection: close", "Connection: keep-alive",
                "Content-Encoding: gzip", "Content-Length: 5, 5", "Content-Length: x",
                "X-A", "a", "Set-Cookie: a=b; c", "Date: Tue, 18 Nov 2025 10:21:34 GMT",
            ]).prop_map(|s| s.as_bytes().to_vec()),
            3 => "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}".prop_map(|s| s.into_bytes()),
            3 => proptest::collection::vec(
                prop_oneof![
                    8 => 0x20u8..0x7f,
                    1 => Just(b'\t'),
                    1 => 0x80u8..=0xff,
                    1 => any::<u8>(),
                ],
                0..24,
            ),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(2048))]

        /// The fast pass changes nothing but the cost: on heads made of ordinary and unusual
        /// pieces, mutated and cut anywhere, under either profile and tight limits,
        /// `parse_complete` gives what the general path alone gives (the same head, fields,
        /// spans and framing, the same error, the same bytes left).
        #[test]
        fn the_fast_pass_decides_as_the_general_path(
            status in head_piece(),
            pieces in proptest::collection::vec(head_piece(), 0..16),
            mutations in proptest::collection::vec((0usize..400, proptest::num::u8::ANY, 0u8..3), 0..3),
            cut in proptest::option::of(0usize..400),
            compatible: bool,
            limits in 0u8..4,
        ) {
            let mut bytes = status;
            for piece in pieces {
                bytes.extend_from_slice(&piece);
            }
            bytes.extend_from_slice(b"\r\n\r\nbody");
            mutate(&mut bytes, &mutations, cut);
            let mut l = crate::Limits::default();
            match limits {
                1 => l.max_headers = 2,
                2 => { l.max_headers = 0; l.max_head_bytes = 40; }
                3 => { l.max_headers = 200; l.max_head_bytes = 16; }
                _ => {}
            }
            let profile = if compatible { Profile::Compatible } else { Profile::Strict };
            let config = Config { limits: l, profile, ..Config::default() };
            let (ours, general) = both_paths(&bytes, &config);
            proptest::prop_assert_eq!(ours, general, "{:?}", String::from_utf8_lossy(&bytes));
        }

        /// The same on the 20-field head of the benchmark, with a few bytes changed, inserted
        /// or removed anywhere and cut anywhere: every mutation of it is decided alike.
        #[test]
        fn mutated_bench_heads_are_decided_alike(
            mutations in proptest::collection::vec((0usize..900, proptest::num::u8::ANY, 0u8..3), 1..4),
            cut in proptest::option::of(0usize..900),
            compatible: bool,
        ) {
            let mut bytes = BENCH_HEAD.as_bytes().to_vec();
            bytes.extend_from_slice(b"body");
            mutate(&mut bytes, &mutations, cut);
            let profile = if compatible { Profile::Compatible } else { Profile::Strict };
            let config = Config { profile, ..Config::default() };
            let (ours, general) = both_paths(&bytes, &config);
            proptest::prop_assert_eq!(ours, general, "{:?}", String::from_utf8_lossy(&bytes));
        }

        /// Any bytes at all: no panic, and the same answer both ways.
        #[test]
        fn arbitrary_bytes_are_decided_alike(
            prefix in proptest::sample::select(alloc::vec!["", "HTTP/1.1 200 OK\r\n", "HTTP/1.0 200 "]),
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            compatible: bool,
        ) {
            let mut all = prefix.as_bytes().to_vec();
            all.extend_from_slice(&bytes);
            let profile = if compatible { Profile::Compatible } else { Profile::Strict };
            let config = Config { profile, ..Config::default() };
            let (ours, general) = both_paths(&all, &config);
            proptest::prop_assert_eq!(ours, general, "{:?}", all);
        }
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
                // Strict refuses empty lines before the status line first of all.
                _ if !leading.is_empty() => {
                    Err(ErrorKind::InvalidHead { what: HeadFault::EmptyLineBeforeStatus })
                }
                Some(part) => Err(ErrorKind::BareLineEnding { part }),
                None => Ok(Some(fields.len())),
            };
            proptest::prop_assert_eq!(strict, expected, "{:?}", String::from_utf8_lossy(head));
        }

        /// A head read in any number of pieces gives what one read gives: the same head, or
        /// the same error, from bytes drawn from the ones that matter to the scan.
        #[test]
        fn head_parser_is_split_independent(
            parts in proptest::collection::vec(
                proptest::sample::select(alloc::vec![
                    "HTTP/1.1 200 OK", "HTTP/1.2 204", "ICY 200", "\r\n", "\n", "\r", " ",
                    "\t", "A: b", "Content-Length: 1", "x", ":", "\x01",
                ]),
                0..14,
            ),
            cuts in proptest::collection::vec(0usize..64, 0..6),
            compatible: bool,
            small: bool,
        ) {
            let bytes: String = parts.concat();
            let bytes = bytes.as_bytes();
            let mut limits = crate::Limits::default();
            if small {
                limits.max_head_bytes = 24;
                limits.max_headers = 2;
            }
            let profile = if compatible { Profile::Compatible } else { Profile::Strict };
            let config = Config { limits, profile, ..Config::default() };
            let outcome = |r: Result<Option<ResponseHead>>, rest: &[u8]| {
                r.map(|h| h.map(|h| (h.status(), h.version(), h.headers().clone(), rest.to_vec())))
                    .map_err(|e| e.kind().clone())
            };
            let mut one = BytesMut::from(bytes);
            let whole = parse_response_head(&mut one, &config);
            let whole = outcome(whole, &one);
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= bytes.len()).collect();
            cuts.sort_unstable();
            cuts.push(bytes.len());
            let mut parser = HeadParser::new();
            let mut input = BytesMut::new();
            let mut at = 0;
            let mut split = Ok(None);
            for cut in cuts {
                input.extend_from_slice(&bytes[at..cut]);
                at = cut;
                let r = parser.parse(&mut input, &config);
                if !matches!(r, Ok(None)) {
                    input.extend_from_slice(&bytes[at..]);
                    split = outcome(r, &input);
                    break;
                }
            }
            proptest::prop_assert_eq!(whole, split);
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
