//! Header fields: the zero-copy [`Headers`] of a parsed head, and the checks every field the
//! core writes must pass.

use alloc::string::String;
use core::fmt;

use bytes::{Bytes, BytesMut};

use crate::error::{Error, ErrorKind, Result};

/// `tchar` (RFC 9110 §5.6.2).
#[must_use]
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// Each byte: whether it is a `tchar`, one look instead of a search of the punctuation.
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric();
        b += 1;
    }
    let punct = b"!#$%&'*+-.^_`|~";
    let mut i = 0;
    while i < punct.len() {
        t[punct[i] as usize] = true;
        i += 1;
    }
    t
};

/// `token = 1*tchar` (RFC 9110 §5.6.2): header names and methods.
#[must_use]
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// A field value may hold VCHAR, SP, HTAB and obs-text, never CR, LF, NUL or another control
/// byte (RFC 9110 §5.5).
#[must_use]
pub fn is_valid_value(v: &[u8]) -> bool {
    v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Escapes a name for an error message: lossy UTF-8 with control bytes shown as `\xNN`.
pub(crate) fn printable(name: &[u8]) -> String {
    use core::fmt::Write as _;
    let mut s = String::with_capacity(name.len());
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                let _ = write!(s, "\\x{:02x}", c as u32);
            } else {
                s.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s
}

/// Checks a field the caller wants on the wire.
///
/// # Errors
/// [`ErrorKind::InvalidHeaderName`] or [`ErrorKind::InvalidHeaderValue`].
pub fn check_field(name: &[u8], value: &[u8]) -> Result<()> {
    if !is_token(name) {
        return Err(ErrorKind::InvalidHeaderName { name: printable(name) }.into());
    }
    if !is_valid_value(value) {
        return Err(ErrorKind::InvalidHeaderValue { name: printable(name) }.into());
    }
    Ok(())
}

/// Whether the comma-separated list `value` holds `token`, case-insensitively (RFC 9110 §5.6.1).
#[must_use]
pub fn list_contains(value: &[u8], token: &str) -> bool {
    value.split(|&b| b == b',').any(|item| trim(item).eq_ignore_ascii_case(token.as_bytes()))
}

/// Whether `s` is `lower` ignoring ASCII case, where `lower` has no uppercase letter: what
/// `eq_ignore_ascii_case` answers, without lowercasing both sides. With `lower` a literal, each
/// byte costs an OR and a compare.
pub(crate) fn eq_lower(s: &[u8], lower: &[u8]) -> bool {
    s.len() == lower.len()
        && s.iter().zip(lower).all(|(&a, &b)| a == b || (a | 0x20 == b && b.is_ascii_lowercase()))
}

/// Trims optional whitespace (SP, HTAB) on both ends.
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Where a piece of a parsed head lies in its buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    pub(crate) fn of(buf: &[u8], part: &[u8]) -> Span {
        // `part` is a sub-slice of `buf`: its offset is the pointer difference.
        let start = (part.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
        Span { start: start as u32, end: (start + part.len()) as u32 }
    }

    fn get(self, buf: &[u8]) -> &[u8] {
        buf.get(self.start as usize..self.end as usize).unwrap_or_default()
    }
}

/// The header fields of a parsed head (or trailer section), in the order they arrived.
///
/// The fields stay where they arrived: one shared [`Bytes`] holding the validated field lines
/// (`name: value` and a line ending, as httparse accepted them), walked on each look-up. So
/// parsing a head builds no index and copies nothing; a look-up costs a scan of the lines
/// (`memchr`), which for the few look-ups a response gets is cheaper than building an index
/// for every response. Names are case-insensitive in every look-up; values are trimmed of
/// surrounding SP/HTAB (RFC 9110 §5.5). Cloning is cheap.
#[derive(Clone, Default)]
pub struct Headers {
    /// Field lines start at `start`; exactly `count` of them follow.
    buf: Bytes,
    start: u32,
    count: u32,
}

impl Headers {
    /// No fields.
    #[must_use]
    pub fn new() -> Self {
        Headers::default()
    }

    /// The `count` field lines that start at `start` in `buf`, which httparse accepted (so
    /// each is `token ":" OWS value OWS` and a line ending, with no obs-fold).
    pub(crate) fn from_lines(buf: Bytes, start: usize, count: usize) -> Headers {
        // Heads and trailer sections are capped far below 4 GiB by `Limits`.
        let start = u32::try_from(start).unwrap_or(u32::MAX);
        let count = u32::try_from(count).unwrap_or(0);
        Headers { buf, start, count }
    }

    /// The bytes a span of this block's buffer points at, as text.
    pub(crate) fn text(&self, span: Span) -> &str {
        core::str::from_utf8(span.get(&self.buf)).unwrap_or_default()
    }

    /// Builds from pairs, checking each like the core checks what it writes. Values lose
    /// surrounding SP/HTAB, as on the wire.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidHeaderName`] or [`ErrorKind::InvalidHeaderValue`].
    pub fn from_pairs<N, V, I>(pairs: I) -> Result<Headers>
    where
        N: AsRef<[u8]>,
        V: AsRef<[u8]>,
        I: IntoIterator<Item = (N, V)>,
    {
        let mut buf = BytesMut::new();
        let mut count = 0usize;
        for (n, v) in pairs {
            let (n, v) = (n.as_ref(), v.as_ref());
            check_field(n, v)?;
            buf.extend_from_slice(n);
            buf.extend_from_slice(b": ");
            buf.extend_from_slice(v);
            buf.extend_from_slice(b"\r\n");
            count += 1;
        }
        if u32::try_from(buf.len()).is_err() {
            return Err(Error::new(ErrorKind::TrailersTooLarge { limit: u32::MAX as usize }));
        }
        Ok(Headers::from_lines(buf.freeze(), 0, count))
    }

    /// How many fields.
    #[must_use]
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every field as `(name, value)`, in arrival order. Names are as the peer wrote them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        // Names were checked as tokens (ASCII) when parsed or built.
        self.fields().map(|(n, v)| (core::str::from_utf8(n).unwrap_or_default(), v))
    }

    /// Every field as raw bytes, in arrival order: [`Headers::iter`] without turning each name
    /// into a `&str`, which costs a UTF-8 check per name. For the core's own look-ups.
    pub(crate) fn fields(&self) -> Fields<'_> {
        let rest = self.buf.get(self.start as usize..).unwrap_or_default();
        Fields { rest, left: self.count }
    }

    /// The first value of `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields().find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v)
    }

    /// The first value of `name` as text, when it is valid UTF-8.
    #[must_use]
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields().filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v)
    }

    /// Whether any `name` field lists `token` (comma-separated, case-insensitive).
    #[must_use]
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name).any(|v| list_contains(v, token))
    }
}

/// The field lines of a [`Headers`], split lazily.
pub(crate) struct Fields<'a> {
    rest: &'a [u8],
    left: u32,
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let end = memchr::memchr(b'\n', self.rest).unwrap_or(self.rest.len());
        let line = &self.rest[..end];
        self.rest = self.rest.get(end + 1..).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = memchr::memchr(b':', line).unwrap_or(line.len());
        Some((&line[..colon], trim(line.get(colon + 1..).unwrap_or_default())))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(|(n, v)| (n, String::from_utf8_lossy(v)))).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tchar_table_is_the_rfc_9110_5_6_2_set() {
        // tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" /
        //         "`" / "|" / "~" / DIGIT / ALPHA
        for b in 0..=255u8 {
            let rfc = matches!(b, b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
                || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), rfc, "{b:#04x}");
        }
    }

    #[test]
    fn tokens_and_values() {
        // RFC 9110 §5.6.2 tchar; §5.5 field values.
        for (name, ok) in [
            (&b"Content-Type"[..], true),
            (b"x!#$%&'*+-.^_`|~1", true),
            (b"", false),
            (b"a b", false),
            (b"a:b", false),
            (b"a\r", false),
            (b"\xc3\xa9", false),
        ] {
            assert_eq!(is_token(name), ok, "{name:?}");
        }
        for (value, ok) in [
            (&b"text/html; q=1"[..], true),
            (b"tab\there", true),
            (b"obs\xfftext", true),
            (b"", true),
            (b"a\rb", false),
            (b"a\nb", false),
            (b"a\0b", false),
            (b"a\x7fb", false),
            (b"a\x01b", false),
        ] {
            assert_eq!(is_valid_value(value), ok, "{value:?}");
        }
    }

    #[test]
    fn lists_are_case_insensitive_tokens() {
        // RFC 9110 §7.6.1: Connection options are case-insensitive tokens.
        assert!(list_contains(b"keep-alive, Close", "close"));
        assert!(list_contains(b" close ", "close"));
        assert!(!list_contains(b"closed", "close"));
        assert!(!list_contains(b"", "close"));
    }

    #[test]
    fn eq_lower_is_eq_ignore_ascii_case() {
        let words: [&[u8]; 4] = [b"content-length", b"keep-alive", b"chunked", b"x-1_~"];
        for lower in words {
            for s in [lower.to_ascii_uppercase(), lower.to_vec(), b"Content-Lengtg".to_vec()] {
                assert_eq!(eq_lower(&s, lower), s.eq_ignore_ascii_case(lower), "{s:?}");
            }
        }
        // Bytes one case bit away from a non-letter are not that byte.
        for b in 0..=255u8 {
            assert_eq!(eq_lower(&[b], b"-"), b == b'-');
            assert_eq!(eq_lower(&[b], b"1"), b == b'1');
            assert_eq!(eq_lower(&[b], b"k"), b == b'k' || b == b'K');
        }
    }

    #[test]
    fn lookups() {
        let h = Headers::from_pairs([("Content-Length", "5"), ("X-A", "1"), ("x-a", "2")]).unwrap();
        assert_eq!(h.get("content-length"), Some(&b"5"[..]));
        assert_eq!(h.get_all("X-a").collect::<alloc::vec::Vec<_>>(), [&b"1"[..], b"2"]);
        assert_eq!(h.len(), 3);
        assert!(Headers::from_pairs([("bad name", "v")]).is_err());
        assert_eq!(
            Headers::from_pairs([("n", "a\r\nb")]).unwrap_err().kind(),
            &ErrorKind::InvalidHeaderValue { name: "n".into() }
        );
        assert_eq!(printable(b"a\r\n\xff"), "a\\x0d\\x0a\\xff");
    }
}
