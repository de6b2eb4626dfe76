//! The fast path of the response-head parse: one pass over an ordinary head, with no
//! httparse call.
//!
//! An ordinary head is `HTTP/1.0` or `HTTP/1.1`, SP, three digits, then CRLF or SP, a reason
//! of HTAB / SP / VCHAR and CRLF; then field lines `token ":" OWS value OWS CRLF`, values of
//! HTAB / SP / VCHAR / obs-text; then CRLF. Every line ends in CRLF, so the strict profile's
//! line-ending check holds by construction. What this pass accepts, httparse (as
//! [`parse_general`](super::parse_general) configures it) accepts too, with the same fields,
//! and ferry's checks after it pass; anything else (leading empty lines, a bare LF, an
//! obs-fold, `HTTP/1.2`, obs-text in the reason, a refused byte, more fields than allowed) is
//! [`Fast::General`]: the general path decides, errors included. So the fast path changes
//! what costs what, never what is accepted (the differential tests in `super::tests` hold it
//! to that).
//!
//! Cost: field values are scanned 8 bytes at a time (SWAR on `u64` words, for the first byte
//! below 0x20 or 0x7f); names a byte at a time through the `tchar` table.

use crate::headers::is_tchar;
use crate::response::Version;

/// What the fast pass made of the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fast {
    /// An ordinary head, complete in the window.
    Complete(Parsed),
    /// Every byte so far is ordinary and the head is not complete: httparse would say
    /// `Partial` too.
    Partial,
    /// Not an ordinary head (or not yet known to be one): the general path decides.
    General,
}

/// An ordinary head's parts, as offsets into the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Parsed {
    /// The head's length, its final CRLF included.
    pub(super) len: usize,
    pub(super) version: Version,
    pub(super) status: u16,
    /// The reason phrase (`start..end`), `0..0` when empty (as the general path has it).
    pub(super) reason: (usize, usize),
    /// Where the first field line starts; 0 when there are none.
    pub(super) fields_at: usize,
    /// How many field lines.
    pub(super) count: usize,
}

const LO: u64 = u64::from_le_bytes([0x01; 8]);
const HI: u64 = u64::from_le_bytes([0x80; 8]);

/// `b` in every byte.
const fn rep(b: u8) -> u64 {
    LO * b as u64
}

/// One bit (the high bit of its byte) at least at the first byte of `x` (little-endian) that
/// is a control byte: below 0x20, or 0x7f. The lowest bit set is exact; bits above it may be
/// borrows and mean nothing.
#[inline(always)]
fn controls(x: u64) -> u64 {
    // A byte below 0x20 borrows on subtracting 0x20 and has its high bit clear; a byte at or
    // above 0x80 never counts (its high bit is set). Borrows only run upwards from a byte
    // that counts, so the lowest flag is a true one; likewise for 0x7f through the XOR.
    let below = x.wrapping_sub(rep(0x20)) & !x;
    let y = x ^ rep(0x7f);
    let del = y.wrapping_sub(LO) & !y;
    (below | del) & HI
}

/// The high bit of each byte of `x` that is not an ASCII letter or `-`, exactly (no carry
/// crosses a byte: every sum below stays under 0x100).
#[inline(always)]
fn not_letters(x: u64) -> u64 {
    let low = x & !HI;
    // A letter in either case is 0x61..=0x7a with the case bit set; nothing else is.
    let lower = low | rep(0x20);
    let letter = lower.wrapping_add(rep(0x80 - 0x61)) & !lower.wrapping_add(rep(0x7f - 0x7a));
    // Not `-`: anything else XORs to a nonzero low part, which carries into the high bit.
    let not_dash = (low ^ rep(b'-')).wrapping_add(!HI);
    // A byte with its high bit set is neither.
    (!letter & not_dash | x) & HI
}

/// The `u64` of the 8 bytes `b` (little-endian).
#[inline(always)]
fn le(b: &[u8]) -> u64 {
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// The first index from `at` on whose byte does not pass `ok` (or `w.len()`): whole words
/// through `flags` (the high bit of each byte that does not pass, the lowest one exact),
/// then a byte at a time.
#[inline(always)]
fn skip<const JOINED: bool>(
    w: &[u8],
    mut at: usize,
    flags: impl Fn(u64) -> u64,
    ok: impl Fn(u8) -> bool,
) -> usize {
    // Two words a step: one bounds test per 16 bytes. `JOINED`: one branch for both words
    // too (for runs that are usually longer than a word).
    while let Some(block) = w.get(at..at + 16) {
        let a = flags(le(&block[..8]));
        if JOINED {
            let b = flags(le(&block[8..]));
            if a | b != 0 {
                return at
                    + if a != 0 { a.trailing_zeros() / 8 } else { 8 + b.trailing_zeros() / 8 }
                        as usize;
            }
        } else {
            if a != 0 {
                return at + (a.trailing_zeros() / 8) as usize;
            }
            let b = flags(le(&block[8..]));
            if b != 0 {
                return at + 8 + (b.trailing_zeros() / 8) as usize;
            }
        }
        at += 16;
    }
    if let Some(word) = w.get(at..at + 8) {
        let a = flags(le(word));
        if a != 0 {
            return at + (a.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&b) = w.get(at) {
        if !ok(b) {
            break;
        }
        at += 1;
    }
    at
}

/// The first control byte (HTAB is one) from `at` on, or `w.len()`.
#[inline(always)]
fn skip_text(w: &[u8], at: usize) -> usize {
    skip::<true>(w, at, controls, |b| b >= 0x20 && b != 0x7f)
}

/// The first byte from `at` on that is not an ASCII letter or `-`, or `w.len()`.
#[inline(always)]
fn skip_letters(w: &[u8], at: usize) -> usize {
    skip::<false>(w, at, not_letters, |b| b.is_ascii_alphabetic() || b == b'-')
}

/// The fast pass over `w` (the window: at most `max_head_bytes`), taking in each field
/// (name, and value with the OWS around it: trim it before use) in order through `field`. At most `max_headers`
/// fields; one more is [`Fast::General`] (which refuses it).
#[inline(always)]
pub(super) fn parse(w: &[u8], max_headers: usize, field: impl FnMut(&[u8], &[u8])) -> Fast {
    use Fast::{General, Partial};
    // The status line.
    let Some(line) = w.get(..13) else { return General };
    let mut version = [0; 8];
    version.copy_from_slice(&line[..8]);
    let version = match u64::from_le_bytes(version) {
        v if v == u64::from_le_bytes(*b"HTTP/1.1") => Version::Http11,
        v if v == u64::from_le_bytes(*b"HTTP/1.0") => Version::Http10,
        _ => return General,
    };
    let digit = |b: u8| u16::from(b.wrapping_sub(b'0'));
    let (d0, d1, d2) = (digit(line[9]), digit(line[10]), digit(line[11]));
    if line[8] != b' ' || d0 > 9 || d1 > 9 || d2 > 9 {
        return General;
    }
    let status = d0 * 100 + d1 * 10 + d2;
    let (reason, mut at) = match line[12] {
        b' ' => {
            // HTAB / SP / VCHAR; obs-text (which httparse reports as an empty reason) and
            // anything else go the general way.
            let start = 13;
            let mut at = start;
            loop {
                match w.get(at) {
                    None => return Partial,
                    Some(b'\r') => break,
                    Some(&b) if b == b'\t' || (0x20..0x7f).contains(&b) => at += 1,
                    Some(_) => return General,
                }
            }
            let reason = if at == start { (0, 0) } else { (start, at) };
            (reason, at)
        }
        b'\r' => ((0, 0), 12),
        _ => return General,
    };
    // `at` is at the status line's CR.
    match w.get(at + 1) {
        Some(b'\n') => at += 2,
        None => return Partial,
        Some(_) => return General,
    }
    let fields_at = at;
    match fields(w, at, max_headers, field) {
        Fields::Complete { len, count } => Fast::Complete(Parsed {
            len,
            version,
            status,
            reason,
            fields_at: if count == 0 { 0 } else { fields_at },
            count,
        }),
        Fields::Partial => Partial,
        Fields::General => General,
    }
}

/// What [`fields`] found.
enum Fields {
    /// The empty line ends the head at `len`, after `count` fields.
    Complete { len: usize, count: usize },
    /// As [`Fast::Partial`].
    Partial,
    /// As [`Fast::General`].
    General,
}

/// The field lines from `at` on, and the empty line after them. Apart from [`parse`] so that
/// the loop has the registers to itself.
#[inline(never)]
fn fields(
    w: &[u8],
    mut at: usize,
    max_headers: usize,
    mut field: impl FnMut(&[u8], &[u8]),
) -> Fields {
    use Fields::{General, Partial};
    let mut count = 0;
    loop {
        // `at` starts a line: the empty line, or a field line.
        match w.get(at) {
            Some(b'\r') => {
                return match w.get(at + 1) {
                    Some(b'\n') => Fields::Complete { len: at + 2, count },
                    None => Partial,
                    Some(_) => General,
                };
            }
            None => return Partial,
            Some(_) => {}
        }
        let line = at;
        // The name: letters and `-` 8 at a time, other tchars one at a time, up to the colon.
        let colon = loop {
            at = skip_letters(w, at);
            match w.get(at) {
                Some(b':') => break at,
                Some(&b) if is_tchar(b) => at += 1,
                None => return Partial,
                // A space before the colon, a refused byte.
                Some(_) => return General,
            }
        };
        if colon == line {
            // No name: a fold, a space, a colon first.
            return General;
        }
        // The value with the OWS around it, up to a CR: SP and HTAB pass as value bytes do,
        // and `field` trims where it looks.
        at = colon + 1;
        let cr = loop {
            at = skip_text(w, at);
            match w.get(at) {
                Some(b'\r') => break at,
                Some(b'\t') => at += 1,
                None => return Partial,
                // A bare LF, a NUL, another control byte: the general path's.
                Some(_) => return General,
            }
        };
        match w.get(cr + 1) {
            Some(b'\n') => {}
            None => return Partial,
            Some(_) => return General,
        }
        // Past the limit: httparse refuses the field once its line is whole.
        if count == max_headers {
            return General;
        }
        count += 1;
        field(&w[line..colon], &w[colon + 1..cr]);
        at = cr + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_finds_the_first_control_byte() {
        // Every byte value at every position, with bytes around it that are not controls
        // (and some that are, further on, which must not hide the first).
        for b in 0..=255u8 {
            for pos in 0..8 {
                for fill in [b'a', 0x80, 0xff, b' ', b'~'] {
                    let mut word = [fill; 8];
                    word[pos] = b;
                    if pos < 7 {
                        word[7] = 0x00;
                    }
                    let want = word.iter().position(|&c| c < 0x20 || c == 0x7f);
                    let m = controls(u64::from_le_bytes(word));
                    let got = (m != 0).then(|| (m.trailing_zeros() / 8) as usize);
                    assert_eq!(got, want, "{word:?}");
                }
            }
        }
    }

    #[test]
    fn not_letters_flags_exactly_the_other_bytes() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                for fill in [b'a', b'Z', b'-', 0x80, b':', 0x00] {
                    let mut word = [fill; 8];
                    word[pos] = b;
                    let m = not_letters(u64::from_le_bytes(word));
                    for (i, &c) in word.iter().enumerate() {
                        let flagged = m & (0x80 << (8 * i)) != 0;
                        assert_eq!(flagged, !(c.is_ascii_alphabetic() || c == b'-'), "{word:?}");
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn the_word_scans_are_byte_scans(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::num::u8::ANY,
                    proptest::sample::select(alloc::vec![b'a', b'Q', b'-', b' ', 0x7e, 0x80, 0xff]),
                ],
                0..40,
            ),
            from in 0usize..40,
        ) {
            let from = from.min(bytes.len());
            let s = &bytes[from..];
            let text = s.iter().position(|&c| c < 0x20 || c == 0x7f).unwrap_or(s.len());
            proptest::prop_assert_eq!(skip_text(&bytes, from), from + text);
            let letters =
                s.iter().position(|&c| !(c.is_ascii_alphabetic() || c == b'-')).unwrap_or(s.len());
            proptest::prop_assert_eq!(skip_letters(&bytes, from), from + letters);
        }
    }
}
