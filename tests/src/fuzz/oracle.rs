//! Deliberately naive reference code the targets compare the core with: written from the RFCs,
//! sharing nothing with ferry-proto but httparse for head syntax.

/// Header fields as `(name, value)`, in order.
pub(crate) type Fields = Vec<(String, Vec<u8>)>;

/// A response head as httparse reads it.
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) fields: Fields,
    /// Its length in bytes, leading empty lines included.
    pub(crate) len: usize,
}

/// The response head at the start of `bytes`, if one is complete and valid. RFC 9112 read
/// literally where httparse is stricter: an obs-fold is allowed (§5.2: the value is then
/// replaced with SP, which the oracle does not need: it never looks inside a folded value),
/// and `HTTP/1.x` with x ≥ 2 is read as HTTP/1.1 (RFC 9110 §2.5).
pub(crate) fn head(bytes: &[u8]) -> Option<Head> {
    let mut bytes = bytes.to_vec();
    let start = bytes.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(bytes.len());
    if let Some(v) = bytes.get_mut(start..start + 9) {
        if v.starts_with(b"HTTP/1.") && (b'2'..=b'9').contains(&v[7]) && v[8] == b' ' {
            v[7] = b'1';
        }
    }
    let mut slots = vec![httparse::EMPTY_HEADER; 512];
    let mut response = httparse::Response::new(&mut slots);
    let len = match httparse::ParserConfig::default()
        .allow_obsolete_multiline_headers_in_responses(true)
        .parse_response(&mut response, &bytes)
    {
        Ok(httparse::Status::Complete(len)) => len,
        _ => return None,
    };
    Some(Head {
        status: response.code?,
        fields: response.headers.iter().map(|h| (h.name.to_owned(), h.value.to_vec())).collect(),
        len,
    })
}

/// How a response body is delimited, from RFC 9112 §6.3 read literally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
    /// The head's framing fields contradict each other: no body can be read.
    Invalid,
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// RFC 9112 §6.3 for a final head. A status outside 100..=599 is invalid and read as a 5xx
/// (RFC 9110 §15). Transfer codings (RFC 9112 §6.1, §7): `chunked` once and last, below it
/// at most four of `gzip`, `x-gzip`, `deflate`; anything else cannot be read. A
/// `Content-Length` is a list whose empty elements do not count (RFC 9110 §5.6.1). A framing
/// field with an obs-fold is invalid (§5.2).
pub(crate) fn framing(head: &Head, request_was_head: bool) -> Framing {
    if request_was_head
        || (100..200).contains(&head.status)
        || head.status == 204
        || head.status == 304
    {
        return Framing::None;
    }
    let named = |name: &'static str| {
        head.fields.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    };
    let values = |name: &'static str| {
        named(name).flat_map(|v| v.split(|&b| b == b',')).map(trim).filter(|c| !c.is_empty())
    };
    let folded = |name: &'static str| named(name).any(|v| v.contains(&b'\n'));
    if folded("transfer-encoding") || folded("content-length") {
        return Framing::Invalid;
    }
    let codings: Vec<&[u8]> = values("transfer-encoding").collect();
    let has_te = named("transfer-encoding").next().is_some();
    let has_cl = named("content-length").next().is_some();
    if has_te {
        if has_cl || codings.is_empty() {
            return Framing::Invalid;
        }
        let is_chunked = |c: &[u8]| c.eq_ignore_ascii_case(b"chunked");
        let chunked = codings.iter().filter(|c| is_chunked(c)).count();
        let chunked_last = codings.last().is_some_and(|c| is_chunked(c));
        let others = &codings[..codings.len() - usize::from(chunked_last)];
        let known = |c: &[u8]| {
            [&b"gzip"[..], b"x-gzip", b"deflate"].iter().any(|k| c.eq_ignore_ascii_case(k))
        };
        if chunked > usize::from(chunked_last)
            || others.len() > 4
            || !others.iter().all(|c| known(c))
        {
            return Framing::Invalid;
        }
        return if chunked_last { Framing::Chunked } else { Framing::UntilClose };
    }
    if !has_cl {
        return Framing::UntilClose;
    }
    let mut length = None;
    for v in values("content-length") {
        let n = if v.len() <= 20 && v.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(v).ok().and_then(|s| s.parse::<u64>().ok())
        } else {
            None
        };
        match (n, length) {
            (None, _) => return Framing::Invalid,
            (Some(n), Some(l)) if n != l => return Framing::Invalid,
            (Some(n), _) => length = Some(n),
        }
    }
    // A field with no element at all is no length.
    if named("content-length").any(|v| v.split(|&b| b == b',').all(|i| trim(i).is_empty())) {
        return Framing::Invalid;
    }
    length.map_or(Framing::Invalid, Framing::Length)
}

/// A chunked body decoded as far as it goes (RFC 9112 §7.1): the data, and the trailer fields
/// with the body's length when it is complete.
pub(crate) struct Chunked {
    pub(crate) data: Vec<u8>,
    pub(crate) end: Option<(Fields, usize)>,
}

/// Decodes a chunked body at the start of `body`, line by line: `size [ext] CRLF data CRLF`,
/// the last chunk `0 [ext] CRLF`, then trailer fields and an empty line. Lenient about what an
/// extension holds (anything but CR, LF and NUL): where the core refuses an extension the
/// oracle is not asked.
pub(crate) fn chunked(body: &[u8]) -> Chunked {
    let mut data = Vec::new();
    let mut at = 0;
    loop {
        let rest = &body[at..];
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Chunked { data, end: None };
        };
        let line = &rest[..eol];
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 || digits > 16 || line.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)) {
            return Chunked { data, end: None };
        }
        // Whitespace after the size only before an extension (RFC 9112 §7.1.1).
        let after = &line[digits..];
        let ws = after.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        if ws > 0 && after.get(ws) != Some(&b';') {
            return Chunked { data, end: None };
        }
        let Some(size) =
            std::str::from_utf8(&line[..digits]).ok().and_then(|s| u64::from_str_radix(s, 16).ok())
        else {
            return Chunked { data, end: None };
        };
        at += eol + 2;
        if size == 0 {
            let mut slots = vec![httparse::EMPTY_HEADER; 512];
            return match httparse::parse_headers(&body[at..], &mut slots) {
                Ok(httparse::Status::Complete((n, fields))) => {
                    let fields =
                        fields.iter().map(|h| (h.name.to_owned(), h.value.to_vec())).collect();
                    Chunked { data, end: Some((fields, at + n)) }
                }
                _ => Chunked { data, end: None },
            };
        }
        let available = (body.len() - at) as u64;
        if available < size {
            data.extend_from_slice(&body[at..]);
            return Chunked { data, end: None };
        }
        let size = size as usize;
        data.extend_from_slice(&body[at..at + size]);
        at += size;
        if !body[at..].starts_with(b"\r\n") {
            return Chunked { data, end: None };
        }
        at += 2;
    }
}

/// Standard base64 with padding (RFC 4648 §4).
pub(crate) fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in input.chunks(3) {
        let b = [group[0], *group.get(1).unwrap_or(&0), *group.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `Basic base64(user ":" password)` (RFC 7617 §2).
pub(crate) fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

/// The transfer codings below `chunked`, in the order they were applied: the lower-cased
/// tokens of every `Transfer-Encoding` element but a last `chunked`. Only meaningful when
/// [`framing`] is `Chunked` or `UntilClose` from a `Transfer-Encoding`.
pub(crate) fn codings(head: &Head) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = head
        .fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
        .flat_map(|(_, v)| v.split(|&b| b == b','))
        .map(|c| c.trim_ascii().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .collect();
    if out.last().is_some_and(|c| c == b"chunked") {
        out.pop();
    }
    out
}

/// What a body coded with `codings` decodes to, as far as it decodes (flate2, at most `cap`
/// bytes), and whether it decoded whole: every layer ended exactly where its input ended.
pub(crate) fn decode(raw: &[u8], codings: &[Vec<u8>], cap: u64) -> (Vec<u8>, bool) {
    use std::io::Read as _;
    let mut data = raw.to_vec();
    let mut whole = true;
    for coding in codings.iter().rev() {
        let input = std::mem::take(&mut data);
        let reader: Box<dyn std::io::Read + '_> = match &coding[..] {
            b"gzip" | b"x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(&input[..])),
            _ => Box::new(flate2::read::ZlibDecoder::new(&input[..])),
        };
        let mut out = Vec::new();
        let mut limited = reader.take(cap.saturating_add(1));
        let mut buf = [0u8; 4096];
        loop {
            match limited.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => {
                    whole = false;
                    break;
                }
            }
        }
        drop(limited);
        data = out;
    }
    (data, whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        // RFC 4648 §10.
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
        assert_eq!(basic("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    }

    #[test]
    fn chunked_oracle() {
        let c = chunked(b"4;a=b\r\nWiki\r\n5\r\npedia\r\n0\r\nX: y\r\n\r\nnext");
        assert_eq!(c.data, b"Wikipedia");
        let (fields, len) = c.end.unwrap_or_default();
        assert_eq!(fields, [("X".to_owned(), b"y".to_vec())]);
        assert_eq!(len, 34, "the body ends after the empty line");
        assert!(chunked(b"4\r\nWi").end.is_none());
        assert!(chunked(b"-1\r\n").end.is_none());
    }
}
