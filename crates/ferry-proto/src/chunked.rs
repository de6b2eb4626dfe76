//! The chunked transfer coding's decoder (RFC 9112 §7.1).
//!
//! A size line that is all in the buffer in its usual shape (`1*HEXDIG CRLF`) is read in one
//! look; any other shape, or a line split across reads, goes through a byte-at-a-time
//! machine, so the result does not depend on the split. Framing bytes are taken off the input
//! with one `advance` per call, chunk data is split off uncopied (where a chunk ends inside the
//! input and the next chunk's usual framing and data follow, both pieces in one split), and a
//! body without trailers allocates nothing. [`Decoder::decode_each`] hands a whole read's
//! pieces to a callback as they are cut (the connection's path for a body taken whole and
//! uncoded); [`Decoder::decode`] gives them one step at a time, and both give the same pieces. Stricter than httparse's `parse_chunk_size`, which
//! takes LF inside an extension and has no cap: here a size is `1*16HEXDIG` (no sign, no `0x`,
//! no overflow), only SP/HTAB may stand between size and `;`, an extension holds no control
//! byte, every line ends in CRLF, and extensions and trailers have cumulative caps.

use bytes::{Buf, Bytes, BytesMut};

use crate::config::Limits;
use crate::error::{ErrorKind, Part, Result};
use crate::headers::Headers;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading hex digits.
    Size { value: u64, digits: u8 },
    /// SP/HTAB after the size: only `;` or CR may follow.
    SizeWs { value: u64 },
    /// Inside a chunk extension, up to CR.
    Ext { value: u64 },
    /// Saw CR ending the size line.
    SizeLf { value: u64 },
    /// Chunk data still to come.
    Data { remaining: u64 },
    /// CR after the chunk data.
    DataCr,
    /// LF after the chunk data.
    DataLf,
    /// The trailer section, collected into `trailers`.
    Trailers { line_len: usize, cr: bool },
    /// The last chunk and trailers are done.
    Done,
}

/// One step of decoded output.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Body data, split off the input.
    Data(Bytes),
    /// The end of one chunk's data and the start of the next, in this order, with the framing
    /// between them (`CRLF 1*HEXDIG CRLF`) split off the input with them and dropped: the
    /// usual read of a large chunked body, taken in one split.
    Pieces(Bytes, Bytes),
    /// The trailer section (possibly empty); the body is complete.
    End(Headers),
}

/// Decodes one chunked body. Feed it the connection's input buffer; it takes exactly the bytes
/// of the body and leaves whatever follows.
#[derive(Debug)]
pub(crate) struct Decoder {
    state: State,
    ext_bytes: usize,
    trailers: BytesMut,
    trailer_count: usize,
    /// The size of the last chunk whose size line was read.
    size: u64,
}

impl Decoder {
    pub(crate) fn new() -> Decoder {
        Decoder {
            state: State::Size { value: 0, digits: 0 },
            ext_bytes: 0,
            trailers: BytesMut::new(),
            trailer_count: 0,
            size: 0,
        }
    }

    /// Decodes from `input`. `Ok(None)` means all of `input` was consumed and more is needed.
    ///
    /// Cost: chunk data is split off uncopied; framing bytes are walked in the slice and taken
    /// with one `advance` per call, a size line `1*HEXDIG CRLF` that is all there in one
    /// look. A body without trailers allocates nothing here.
    #[inline]
    pub(crate) fn decode(
        &mut self,
        input: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Chunk>> {
        // Inside a chunk's data (most calls): no framing, so none of the framing machine's
        // set-up either.
        if let State::Data { remaining } = self.state {
            if input.is_empty() {
                return Ok(None);
            }
            return self.data(input, remaining);
        }
        // Between two chunks, in the usual shape and all there: `CRLF 1*HEXDIG CRLF` and data.
        if self.state == State::DataCr {
            if let Some((framing, value)) = next_chunk(input) {
                // The framing and the data after it are split off together, and the framing
                // dropped from the front of the piece: one split, no advance of the buffer.
                let take = self.next_data(value, input.len() - framing);
                let mut data = input.split_to(framing + take).freeze();
                data.advance(framing);
                return Ok(Some(Chunk::Data(data)));
            }
        }
        self.decode_framing(input, limits)
    }

    /// [`Decoder::decode`] to the end of `input`, each piece of data handed to `piece` as it
    /// is split off: `Ok(Some(trailers))` when the body ended (what follows it is left in
    /// `input`), `Ok(None)` when all of `input` was consumed and more is needed. The same
    /// pieces, in the same order, as calls of [`Decoder::decode`] until it gives `None` or
    /// the end; a [`Chunk::Pieces`] is two calls of `piece`.
    ///
    /// Cost: a read inside a chunk's data, or across one chunk boundary in the usual shape,
    /// is one split of `input` and no [`Chunk`] in between, the data going to `piece` where
    /// it was cut.
    #[inline(always)]
    pub(crate) fn decode_each(
        &mut self,
        input: &mut BytesMut,
        limits: &Limits,
        mut piece: impl FnMut(Bytes),
    ) -> Result<Option<Headers>> {
        while !input.is_empty() {
            let State::Data { remaining } = self.state else {
                match self.decode(input, limits)? {
                    None => return Ok(None),
                    Some(Chunk::Data(data)) => piece(data),
                    Some(Chunk::Pieces(data, next)) => {
                        piece(data);
                        piece(next);
                    }
                    Some(Chunk::End(trailers)) => return Ok(Some(trailers)),
                }
                continue;
            };
            // What `data` does, the pieces handed on where they are cut.
            let take = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
            if take < input.len() {
                if let Some((framing, value)) = next_chunk_in(&input[take..]) {
                    let more = self.next_data(value, input.len() - take - framing);
                    let mut both = input.split_to(take + framing + more).freeze();
                    let mut first = both.clone();
                    first.truncate(take);
                    piece(first);
                    both.advance(take + framing);
                    piece(both);
                    continue;
                }
            }
            let data = input.split_to(take).freeze();
            let remaining = remaining - take as u64;
            self.state = if remaining == 0 { State::DataCr } else { State::Data { remaining } };
            piece(data);
        }
        Ok(None)
    }

    /// Chunk data: as much of `remaining` as `input` holds, split off uncopied. When the
    /// chunk ends inside `input` and the next chunk's framing (in the usual shape) and some
    /// of its data follow, both pieces come out of one split ([`Chunk::Pieces`]).
    #[inline(always)]
    fn data(&mut self, input: &mut BytesMut, remaining: u64) -> Result<Option<Chunk>> {
        let take = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
        if take < input.len() {
            if let Some((framing, value)) = next_chunk(&input[take..]) {
                let more = self.next_data(value, input.len() - take - framing);
                let mut both = input.split_to(take + framing + more).freeze();
                // A clone cut short, not `split_to` (out of line): the same two views.
                let mut first = both.clone();
                first.truncate(take);
                both.advance(take + framing);
                return Ok(Some(Chunk::Pieces(first, both)));
            }
        }
        let data = input.split_to(take).freeze();
        let remaining = remaining - take as u64;
        self.state = if remaining == 0 { State::DataCr } else { State::Data { remaining } };
        Ok(Some(Chunk::Data(data)))
    }

    /// Enters a chunk of `value` bytes of which `available` are at hand: how many of them to
    /// take now.
    #[inline(always)]
    fn next_data(&mut self, value: u64, available: usize) -> usize {
        let take = usize::try_from(value).map_or(available, |v| v.min(available));
        let remaining = value - take as u64;
        self.size = value;
        self.state = if remaining == 0 { State::DataCr } else { State::Data { remaining } };
        take
    }

    /// [`Decoder::decode`] outside chunk data: framing bytes, then the data after them.
    #[inline(never)]
    fn decode_framing(&mut self, input: &mut BytesMut, limits: &Limits) -> Result<Option<Chunk>> {
        loop {
            match self.state {
                State::Data { remaining } => {
                    if input.is_empty() {
                        return Ok(None);
                    }
                    return self.data(input, remaining);
                }
                State::Done => return Ok(None),
                _ if input.is_empty() => return Ok(None),
                _ => {}
            }
            let (used, step) = self.framing(input, limits);
            input.advance(used);
            if let Some(chunk) = step? {
                return Ok(Some(chunk));
            }
        }
    }

    /// Walks framing bytes at the front of `buf` until the state reaches chunk data, the end
    /// or the end of `buf`: how many bytes it used, and what came of them.
    fn framing(&mut self, buf: &[u8], limits: &Limits) -> (usize, Result<Option<Chunk>>) {
        let mut at = 0;
        // The usual shapes at once: CRLF after data, then `1*HEXDIG CRLF`.
        if self.state == State::DataCr && buf.starts_with(b"\r\n") {
            self.state = State::Size { value: 0, digits: 0 };
            at = 2;
        }
        if self.state == (State::Size { value: 0, digits: 0 }) {
            if let Some((value, len)) = size_line(&buf[at..]) {
                at += len;
                if value > 0 {
                    self.state = State::Data { remaining: value };
                    self.size = value;
                    return (at, Ok(None));
                }
                self.state = State::Trailers { line_len: 0, cr: false };
                // An empty trailer section, all there: nothing is buffered.
                if self.trailers.is_empty() && buf[at..].starts_with(b"\r\n") {
                    self.state = State::Done;
                    return (at + 2, Ok(Some(Chunk::End(Headers::new()))));
                }
            }
        }
        // Any other shape, or a line split across reads: a byte at a time. Trailer bytes are
        // copied into `trailers` in one piece, from where the section starts in `buf`.
        let mut trailers_from = at;
        while let Some(&b) = buf.get(at) {
            if matches!(self.state, State::Data { .. } | State::Done) {
                break;
            }
            let in_trailers = matches!(self.state, State::Trailers { .. });
            at += 1;
            if in_trailers && self.trailers.len() + (at - trailers_from) > limits.max_trailer_bytes
            {
                let limit = limits.max_trailer_bytes;
                return (at, Err(ErrorKind::TrailersTooLarge { limit }.into()));
            }
            match self.step(b, limits) {
                Ok(None) if !in_trailers => trailers_from = at,
                Ok(None) => {}
                Ok(Some(())) => {
                    // The trailer section ended at this byte.
                    let rest = &buf[trailers_from..at];
                    if self.trailers.is_empty() && matches!(rest, b"\r\n" | b"\n") {
                        // Empty (its CR may have come in an earlier read): nothing was held.
                        return (at, Ok(Some(Chunk::End(Headers::new()))));
                    }
                    self.trailers.extend_from_slice(rest);
                    return (at, self.finish_trailers(limits).map(Some));
                }
                Err(e) => return (at, Err(e)),
            }
        }
        if matches!(self.state, State::Trailers { .. }) {
            let rest = &buf[trailers_from..at];
            // The CR of an empty section is state enough (`cr`): a body without trailers
            // never fills the buffer.
            if !(self.trailers.is_empty() && rest == b"\r") {
                self.trailers.extend_from_slice(rest);
            }
        }
        (at, Ok(None))
    }

    /// The declared size of the chunk being read (its data, or the framing after it).
    pub(crate) fn chunk_size(&self) -> u64 {
        self.size
    }

    /// Inside a chunk's data: how many bytes of it are still to come (the body window of
    /// [`Connection::body_window`](crate::Connection::body_window)); `None` when framing is
    /// next.
    pub(crate) fn data_window(&self) -> Option<u64> {
        match self.state {
            State::Data { remaining } => Some(remaining),
            _ => None,
        }
    }

    /// `n` bytes of the current chunk's data were read past the decoder, straight from the
    /// transport; `n` is at most [`Decoder::data_window`] (checked by the caller). The state
    /// moves on as [`Decoder::decode`] would have after handing them out.
    pub(crate) fn consume_data(&mut self, n: u64) {
        if let State::Data { remaining } = self.state {
            let remaining = remaining.saturating_sub(n);
            self.state = if remaining == 0 { State::DataCr } else { State::Data { remaining } };
        }
    }

    /// Bytes of peer input held here (a partial trailer section).
    pub(crate) fn buffered(&self) -> usize {
        self.trailers.len()
    }

    #[cfg(test)]
    /// Whether the body is complete.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// One framing byte. `Ok(Some(()))`: the trailer section's empty line ended with it.
    fn step(&mut self, b: u8, limits: &Limits) -> Result<Option<()>> {
        let bad_size = || ErrorKind::InvalidChunkSize;
        self.state = match self.state {
            State::Size { value, digits } => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    if digits >= 16 {
                        return Err(bad_size().into());
                    }
                    State::Size { value: value << 4 | u64::from(hex(b)), digits: digits + 1 }
                }
                _ if digits == 0 => return Err(bad_size().into()),
                // BWS before ';' only (RFC 9112 §7.1.1): `5 \r\n` is refused.
                b' ' | b'\t' => {
                    self.count_ext(limits)?;
                    State::SizeWs { value }
                }
                b';' => State::Ext { value },
                b'\r' => State::SizeLf { value },
                b'\n' => return Err(ErrorKind::BareLineEnding { part: Part::ChunkSize }.into()),
                _ => return Err(bad_size().into()),
            },
            State::SizeWs { value } => match b {
                b' ' | b'\t' => {
                    self.count_ext(limits)?;
                    State::SizeWs { value }
                }
                b';' => State::Ext { value },
                _ => return Err(bad_size().into()),
            },
            State::Ext { value } => match b {
                b'\r' => State::SizeLf { value },
                b'\t' | 0x20..=0x7e | 0x80..=0xff => {
                    self.count_ext(limits)?;
                    State::Ext { value }
                }
                _ => return Err(ErrorKind::InvalidChunkExtension.into()),
            },
            State::SizeLf { value } => match (b, value) {
                (b'\n', 0) => State::Trailers { line_len: 0, cr: false },
                (b'\n', remaining) => {
                    self.size = remaining;
                    State::Data { remaining }
                }
                _ => return Err(ErrorKind::BareLineEnding { part: Part::ChunkSize }.into()),
            },
            State::DataCr => match b {
                b'\r' => State::DataLf,
                b'\n' => return Err(ErrorKind::BareLineEnding { part: Part::ChunkData }.into()),
                _ => return Err(ErrorKind::InvalidChunkData.into()),
            },
            State::DataLf => match b {
                b'\n' => State::Size { value: 0, digits: 0 },
                _ => return Err(ErrorKind::BareLineEnding { part: Part::ChunkData }.into()),
            },
            State::Trailers { line_len, cr } => match (b, cr) {
                (b'\n', true) if line_len == 0 => {
                    self.state = State::Done;
                    return Ok(Some(()));
                }
                (b'\n', true) => {
                    self.trailer_count += 1;
                    if self.trailer_count > limits.max_trailers {
                        return Err(
                            ErrorKind::TooManyTrailers { limit: limits.max_trailers }.into()
                        );
                    }
                    State::Trailers { line_len: 0, cr: false }
                }
                (b'\n', false) | (_, true) => {
                    return Err(ErrorKind::BareLineEnding { part: Part::Trailer }.into());
                }
                (b'\r', false) => State::Trailers { line_len, cr: true },
                _ => State::Trailers { line_len: line_len + 1, cr: false },
            },
            State::Data { .. } | State::Done => self.state,
        };
        Ok(None)
    }

    fn count_ext(&mut self, limits: &Limits) -> Result<()> {
        self.ext_bytes += 1;
        if self.ext_bytes > limits.max_chunk_extension_bytes {
            return Err(ErrorKind::ChunkExtensionsTooLarge {
                limit: limits.max_chunk_extension_bytes,
            }
            .into());
        }
        Ok(())
    }

    fn finish_trailers(&mut self, limits: &Limits) -> Result<Chunk> {
        self.state = State::Done;
        let raw = core::mem::take(&mut self.trailers).freeze();
        if raw.len() == 2 {
            return Ok(Chunk::End(Headers::new()));
        }
        let mut fields = alloc::vec![httparse::EMPTY_HEADER; limits.max_trailers];
        match httparse::parse_headers(&raw, &mut fields) {
            Ok(httparse::Status::Complete((n, parsed))) if n == raw.len() => {
                let count = parsed.len();
                Ok(Chunk::End(Headers::from_lines(raw, 0, count)))
            }
            _ => Err(ErrorKind::InvalidTrailers.into()),
        }
    }
}

/// The framing between two chunks in its usual shape, `CRLF 1*16HEXDIG CRLF` with a size
/// above 0, at the front of `buf`, with at least one byte of data after it: the framing's
/// length and the size. `None` for any other shape, or when it is not all there.
#[inline(always)]
fn next_chunk(buf: &[u8]) -> Option<(usize, u64)> {
    let [b'\r', b'\n', rest @ ..] = buf else { return None };
    let (value, len) = size_line(rest)?;
    (value > 0 && rest.len() > len).then_some((2 + len, value))
}

/// [`next_chunk`] when `buf` holds the longest usual framing and a byte of data after it: the
/// digits read from a fixed array, no bound checked at each. The same answer for any `buf`.
#[inline(always)]
fn next_chunk_in(buf: &[u8]) -> Option<(usize, u64)> {
    let Some(head) = buf.first_chunk::<{ 2 + 16 + 2 + 1 }>() else {
        return next_chunk(buf);
    };
    if head[..2] != *b"\r\n" {
        return None;
    }
    let mut value = 0u64;
    let mut at = 2;
    while at < 2 + 16 {
        let d = HEX[usize::from(head[at])];
        if d >= 16 {
            break;
        }
        value = value << 4 | u64::from(d);
        at += 1;
    }
    // After 16 digits a 17th is no CR: not the usual shape.
    let usual = at > 2 && head[at..at + 2] == *b"\r\n" && value > 0;
    usual.then_some((at + 2, value))
}

/// A whole `1*16HEXDIG CRLF` line at the front of `buf`: its value and length. `None` for
/// any other shape (extensions, whitespace, a line not all there, an error), which the byte
/// machine then reads.
#[inline(always)]
fn size_line(buf: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    let mut digits = 0;
    while let Some(&b) = buf.get(digits) {
        let d = HEX[usize::from(b)];
        if d >= 16 {
            break;
        }
        if digits == 16 {
            return None;
        }
        value = value << 4 | u64::from(d);
        digits += 1;
    }
    let crlf = digits > 0 && buf.get(digits..digits + 2) == Some(b"\r\n");
    crlf.then_some((value, digits + 2))
}

/// Each byte's value as a hex digit (RFC 5234 HEXDIG, either case), 16 for the rest.
const HEX: [u8; 256] = {
    let mut t = [16u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Decodes `input` fed in pieces of `step` bytes; returns the body, the trailers and what
    /// was left after the body, or the error.
    fn decode_split(
        input: &[u8],
        step: usize,
        limits: &Limits,
    ) -> core::result::Result<(Vec<u8>, Headers, Vec<u8>), ErrorKind> {
        let mut dec = Decoder::new();
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut fed = 0;
        while fed < input.len() {
            let end = (fed + step.max(1)).min(input.len());
            buf.extend_from_slice(&input[fed..end]);
            fed = end;
            while let Some(chunk) = dec.decode(&mut buf, limits).map_err(|e| e.kind().clone())? {
                match chunk {
                    Chunk::Data(d) => body.extend_from_slice(&d),
                    Chunk::Pieces(a, b) => {
                        body.extend_from_slice(&a);
                        body.extend_from_slice(&b);
                    }
                    Chunk::End(t) => {
                        assert!(dec.is_done());
                        // What is left belongs to the next message.
                        let mut rest = buf.to_vec();
                        rest.extend_from_slice(&input[fed..]);
                        return Ok((body, t, rest));
                    }
                }
            }
        }
        Err(ErrorKind::UnexpectedEof { expected: crate::error::Expected::ChunkedBody })
    }

    /// Body, trailers, what follows.
    type Decoded<'a> = (&'a [u8], &'a [(&'a str, &'a str)], &'a [u8]);

    #[track_caller]
    fn check(input: &[u8], expected: core::result::Result<Decoded<'_>, ErrorKind>) {
        let limits = Limits::default();
        for step in [input.len(), 1, 2, 3, 7] {
            let got = decode_split(input, step, &limits);
            match (&got, &expected) {
                (Ok((body, trailers, rest)), Ok((want_body, want_trailers, want_rest))) => {
                    assert_eq!(&body[..], *want_body, "step {step}");
                    let t: Vec<(&str, &[u8])> = trailers.iter().collect();
                    let w: Vec<(&str, &[u8])> =
                        want_trailers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
                    assert_eq!(t, w, "step {step}");
                    assert_eq!(&rest[..], *want_rest, "step {step}");
                }
                (Err(e), Err(want)) => assert_eq!(e, want, "step {step}"),
                _ => panic!("step {step}: got {got:?}, want {expected:?}"),
            }
        }
    }

    #[test]
    fn valid_bodies() {
        // RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; last-chunk; trailers.
        check(b"5\r\nhello\r\n0\r\n\r\n", Ok((b"hello", &[], b"")));
        check(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT", Ok((b"hello world", &[], b"NEXT")));
        check(b"A\r\n0123456789\r\n0\r\n\r\n", Ok((b"0123456789", &[], b"")));
        check(b"000005\r\nhello\r\n0\r\n\r\n", Ok((b"hello", &[], b"")));
        // §7.1.1 extensions, with BWS before ';'.
        check(b"5;a=b;c=\"d e\"\r\nhello\r\n0;last\r\n\r\n", Ok((b"hello", &[], b"")));
        check(b"5 ;a\r\nhello\r\n0\r\n\r\n", Ok((b"hello", &[], b"")));
        // §7.1.2 trailers.
        check(
            b"1\r\nx\r\n0\r\nExpires: never\r\nX-Sum: 12\r\n\r\nrest",
            Ok((b"x", &[("Expires", "never"), ("X-Sum", "12")], b"rest")),
        );
        check(b"0\r\n\r\n", Ok((b"", &[], b"")));
    }

    #[test]
    fn smuggling_shapes_are_refused() {
        use ErrorKind::*;
        // Sizes: 1*HEXDIG only (RFC 9112 §7.1).
        check(b"+5\r\nhello\r\n0\r\n\r\n", Err(InvalidChunkSize));
        check(b"-5\r\nhello\r\n0\r\n\r\n", Err(InvalidChunkSize));
        check(b"0x5\r\nhello\r\n0\r\n\r\n", Err(InvalidChunkSize));
        check(b"\r\nhello\r\n0\r\n\r\n", Err(InvalidChunkSize));
        check(b" 5\r\nhello\r\n0\r\n\r\n", Err(InvalidChunkSize));
        check(b"5 5\r\nhello\r\n0\r\n\r\n", Err(InvalidChunkSize));
        check(b"1_0\r\n", Err(InvalidChunkSize));
        // The bytes next to the digits and letters in ASCII are no digits, in the usual
        // shape too (`1*HEXDIG CRLF`, read in one look when it is all there). The data is
        // longer than any size these could be misread as.
        for size in ["1/", "1:", "1@", "1G", "1`", "1g", "/", ":", "@", "?", "<", "G", "g"] {
            let data = "x".repeat(300);
            let body = alloc::format!("{size}\r\n{data}\r\n0\r\n\r\n");
            check(body.as_bytes(), Err(InvalidChunkSize));
        }
        // Overflow: 17 hex digits, or a value past u64::MAX.
        check(b"10000000000000000\r\n", Err(InvalidChunkSize));
        check(b"00000000000000001\r\n", Err(InvalidChunkSize));
        check(
            b"ffffffffffffffff\r\n",
            Err(UnexpectedEof { expected: crate::error::Expected::ChunkedBody }),
        );
        // Bare LF or bare CR in chunk lines (RFC 9112 §2.2).
        check(b"5\nhello\r\n0\r\n\r\n", Err(BareLineEnding { part: Part::ChunkSize }));
        check(b"5\rhello\r\n0\r\n\r\n", Err(BareLineEnding { part: Part::ChunkSize }));
        check(b"5\r\nhello\n0\r\n\r\n", Err(BareLineEnding { part: Part::ChunkData }));
        check(b"5\r\nhello\rX0\r\n\r\n", Err(BareLineEnding { part: Part::ChunkData }));
        check(b"5\r\nhelloX\r\n0\r\n\r\n", Err(InvalidChunkData));
        // LF or a control byte inside an extension (RFC 9112 §7.1.1).
        check(b"5;a\nb\r\nhello\r\n0\r\n\r\n", Err(InvalidChunkExtension));
        check(b"5;a\0\r\nhello\r\n0\r\n\r\n", Err(InvalidChunkExtension));
        // Trailers with bare LF or not parsing.
        check(b"0\r\nX: y\n\r\n", Err(BareLineEnding { part: Part::Trailer }));
        check(b"0\r\nbad line\r\n\r\n", Err(InvalidTrailers));
    }

    #[test]
    fn hex_digits_in_either_case_rfc9112_7_1() {
        // RFC 9112 §7.1: chunk-size = 1*HEXDIG, and HEXDIG is case-insensitive (RFC 5234 §2.3):
        // each digit a-f in both cases, alone, mixed, and with leading zeros.
        for (size, n) in [
            ("a", 10),
            ("b", 11),
            ("c", 12),
            ("d", 13),
            ("e", 14),
            ("f", 15),
            ("A", 10),
            ("B", 11),
            ("C", 12),
            ("D", 13),
            ("E", 14),
            ("F", 15),
            ("1a", 26),
            ("1F", 31),
            ("aB", 171),
            ("Cd", 205),
            ("0e", 14),
            ("00fF", 255),
            ("10", 16),
            ("9", 9),
            ("fFf", 4095),
        ] {
            let data: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            for ext in ["", ";x", " ;x"] {
                let mut body = alloc::format!("{size}{ext}\r\n").into_bytes();
                body.extend_from_slice(&data);
                body.extend_from_slice(b"\r\n0\r\n\r\n");
                check(&body, Ok((&data, &[], b"")));
            }
        }
    }

    #[test]
    fn whitespace_only_before_a_semicolon_rfc9112_7_1_1() {
        use ErrorKind::*;
        // RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name ... ): whitespace after
        // the size is allowed only when an extension follows, in every profile.
        check(b"5 ;a\r\nhello\r\n0\r\n\r\n", Ok((b"hello", &[], b"")));
        check(b"5\t;a\r\nhello\r\n0\r\n\r\n", Ok((b"hello", &[], b"")));
        check(b"5 \t ;a\r\nhello\r\n0\r\n\r\n", Ok((b"hello", &[], b"")));
        check(b"5 \r\nhello\r\n0\r\n\r\n", Err(InvalidChunkSize));
        check(b"5\t\r\nhello\r\n0\r\n\r\n", Err(InvalidChunkSize));
        check(b"5\r\nhello\r\n0 \r\n\r\n", Err(InvalidChunkSize));
        check(b"5 x\r\nhello\r\n0\r\n\r\n", Err(InvalidChunkSize));
    }

    #[test]
    fn values_at_each_limit() {
        use ErrorKind::*;
        // Each cap passes at the limit and fails one past it, however the input is split.
        let at = |limits: &Limits, body: &[u8]| {
            for step in [body.len(), 1, 2, 5] {
                let got = decode_split(body, step, limits);
                assert!(got.is_ok(), "step {step}: {got:?}");
            }
        };
        let past = |limits: &Limits, body: &[u8], want: ErrorKind| {
            for step in [body.len(), 1, 2, 5] {
                assert_eq!(decode_split(body, step, limits).unwrap_err(), want, "step {step}");
            }
        };
        // Extension bytes (BWS included), summed over the body: 4 in all.
        // (The `;` itself is not counted.)
        let limits = Limits { max_chunk_extension_bytes: 4, ..Limits::default() };
        at(&limits, b"1;ab\r\nx\r\n0;cd\r\n\r\n");
        past(&limits, b"1;ab\r\nx\r\n0;cde\r\n\r\n", ChunkExtensionsTooLarge { limit: 4 });
        at(&limits, b"1   ;a\r\nx\r\n0\r\n\r\n");
        past(&limits, b"1    ;a\r\nx\r\n0\r\n\r\n", ChunkExtensionsTooLarge { limit: 4 });
        // The trailer section, its empty line included: "A: 1\r\n\r\n" is 8 bytes.
        let limits = Limits { max_trailer_bytes: 8, ..Limits::default() };
        at(&limits, b"0\r\nA: 1\r\n\r\n");
        past(&limits, b"0\r\nA: 12\r\n\r\n", TrailersTooLarge { limit: 8 });
        // Trailer fields: 2.
        let limits = Limits { max_trailers: 2, ..Limits::default() };
        at(&limits, b"0\r\nA: 1\r\nB: 2\r\n\r\n");
        past(&limits, b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", TooManyTrailers { limit: 2 });
        // Sizes: 16 hex digits at most.
        past(&Limits::default(), b"00000000000000000\r\n", InvalidChunkSize);
        check(b"0000000000000005\r\nhello\r\n0\r\n\r\n", Ok((b"hello", &[], b"")));
    }

    #[test]
    fn reads_across_chunk_boundaries_give_the_same_pieces_at_every_split() {
        // Reads that hold the end of one chunk, the framing, a whole chunk and the start of
        // the next (the one-split path between chunks), cut at every pair of bytes: the
        // same content, and each piece ends where a chunk or a read ends, never inside
        // framing.
        let input = b"5\r\nhello\r\n3\r\nabc\r\n4\r\nwxyz\r\nA\r\n0123456789\r\n0\r\n\r\nNEXT";
        let limits = Limits::default();
        for i in 0..=input.len() {
            for j in i..=input.len() {
                let mut dec = Decoder::new();
                let mut buf = BytesMut::new();
                let mut pieces = Vec::new();
                let mut ended = false;
                for read in [&input[..i], &input[i..j], &input[j..]] {
                    buf.extend_from_slice(read);
                    while let Some(chunk) = dec.decode(&mut buf, &limits).unwrap() {
                        match chunk {
                            Chunk::Data(d) => {
                                assert!(!d.is_empty(), "cut {i} {j}");
                                pieces.push(d);
                            }
                            Chunk::Pieces(a, b) => {
                                assert!(!a.is_empty() && !b.is_empty(), "cut {i} {j}");
                                pieces.extend([a, b]);
                            }
                            Chunk::End(t) => {
                                assert!(t.is_empty());
                                ended = true;
                            }
                        }
                    }
                }
                assert!(ended, "cut {i} {j}");
                assert_eq!(&buf[..], b"NEXT", "cut {i} {j}");
                let body: Vec<u8> = pieces.iter().flat_map(|p| p.iter().copied()).collect();
                assert_eq!(&body[..], b"helloabcwxyz0123456789", "cut {i} {j}");
                // At most one piece per chunk per read: 4 chunks, 3 reads.
                assert!(pieces.len() <= 4 + 2, "cut {i} {j}: {pieces:?}");
            }
        }
    }

    /// What one decoder made of `reads` fed in turn: the data pieces as they came (a
    /// [`Chunk::Pieces`] is two), the trailers at the end, the state after each read, what was
    /// left in the buffer, or the error.
    type Run = (Vec<Vec<u8>>, Option<Headers>, Vec<State>, Vec<u8>, Option<ErrorKind>);

    /// `reads` through [`Decoder::decode`], called until it gives `None` or the end.
    fn run_decode(reads: &[&[u8]], limits: &Limits) -> Run {
        let mut dec = Decoder::new();
        let mut buf = BytesMut::new();
        let (mut pieces, mut states) = (Vec::new(), Vec::new());
        for read in reads {
            buf.extend_from_slice(read);
            loop {
                match dec.decode(&mut buf, limits) {
                    Ok(None) => break,
                    Ok(Some(Chunk::Data(d))) => pieces.push(d.to_vec()),
                    Ok(Some(Chunk::Pieces(a, b))) => pieces.extend([a.to_vec(), b.to_vec()]),
                    Ok(Some(Chunk::End(t))) => {
                        states.push(dec.state);
                        return (pieces, Some(t), states, buf.to_vec(), None);
                    }
                    Err(e) => {
                        states.push(dec.state);
                        return (pieces, None, states, buf.to_vec(), Some(e.kind().clone()));
                    }
                }
            }
            states.push(dec.state);
        }
        (pieces, None, states, buf.to_vec(), None)
    }

    /// `reads` through [`Decoder::decode_each`], once per read.
    fn run_decode_each(reads: &[&[u8]], limits: &Limits) -> Run {
        let mut dec = Decoder::new();
        let mut buf = BytesMut::new();
        let (mut pieces, mut states) = (Vec::new(), Vec::new());
        for read in reads {
            buf.extend_from_slice(read);
            let ended = dec.decode_each(&mut buf, limits, |d| pieces.push(d.to_vec()));
            states.push(dec.state);
            match ended {
                Ok(None) => {}
                Ok(Some(t)) => return (pieces, Some(t), states, buf.to_vec(), None),
                Err(e) => return (pieces, None, states, buf.to_vec(), Some(e.kind().clone())),
            }
        }
        (pieces, None, states, buf.to_vec(), None)
    }

    #[test]
    fn decode_each_gives_what_decode_gives_at_every_split() {
        // `decode_each` takes a read inside a chunk, or across a boundary in the usual shape,
        // without `decode`'s `Chunk`; for anything else it asks `decode`. At every cut of
        // each body into three reads, both give the same pieces (cut at the same bytes), the
        // same trailers, states, leftover and error. Chunks of 30 bytes and more put a whole
        // framing and the data after it in a read (the fixed-array size line).
        let long = alloc::format!(
            "1e\r\n{a}\r\n1F\r\n{b}\r\n3\r\nxyz\r\n21;e=1\r\n{c}\r\n0\r\nT: v\r\n\r\nNEXT",
            a = "a".repeat(30),
            b = "b".repeat(31),
            c = "c".repeat(33),
        );
        let bodies: [&[u8]; 7] = [
            b"5\r\nhello\r\n3\r\nabc\r\n4\r\nwxyz\r\nA\r\n0123456789\r\n0\r\n\r\nNEXT",
            long.as_bytes(),
            b"5 ;x\r\nhello\r\n0000000000000003\r\nabc\r\n0\r\n\r\n",
            b"3\r\nabc\r\n00000000000000003\r\nabc\r\n0\r\n\r\n",
            b"3\r\nabc\r\n3\nabc\r\n0\r\n\r\n",
            b"3\r\nabcX\r\n3\r\nabc\r\n0\r\n\r\n",
            b"3\r\nabc\r\n0\r\nA: 1\r\nB: 2\r\n\r\nNEXT",
        ];
        let limits = Limits::default();
        for input in bodies {
            for i in 0..=input.len() {
                for j in i..=input.len() {
                    let reads = [&input[..i], &input[i..j], &input[j..]];
                    let want = run_decode(&reads, &limits);
                    let got = run_decode_each(&reads, &limits);
                    assert_eq!(got, want, "{:?} cut {i} {j}", core::str::from_utf8(input));
                }
            }
        }
    }

    #[test]
    fn the_fixed_array_size_line_reads_as_the_slice_one() {
        // `next_chunk_in` (framing read from a fixed array when the longest usual one and a
        // byte of data are there) against `next_chunk`, the slice walk, on every shape near
        // the usual one: each byte of `CRLF 1*17HEXDIG CRLF` replaced by every byte value,
        // with no data after it, too little for the array, and enough.
        let limits_of = |digits: usize| {
            let mut line = alloc::vec![b'\r', b'\n'];
            line.extend(core::iter::repeat_n(b'f', digits));
            line.extend_from_slice(b"\r\n");
            line
        };
        for digits in 0..=17 {
            let line = limits_of(digits);
            for at in 0..line.len() {
                for b in 0..=255u8 {
                    let mut framing = line.clone();
                    framing[at] = b;
                    for data in [0, 1, 5, 21] {
                        let mut buf = framing.clone();
                        buf.extend(core::iter::repeat_n(b'x', data));
                        assert_eq!(next_chunk_in(&buf), next_chunk(&buf), "{buf:?}");
                    }
                }
            }
        }
        // A size of 0 is the last chunk, never the usual shape between two.
        assert_eq!(next_chunk_in(b"\r\n0\r\n\r\nxxxxxxxxxxxxxxxxxx"), None);
        assert_eq!(next_chunk_in(b"\r\n4000\r\nxxxxxxxxxxxxxxxxxx"), Some((8, 0x4000)));
    }

    #[test]
    fn a_body_without_trailers_allocates_nothing() {
        // The trailer buffer is never touched when the section is empty, however split.
        for body in [&b"5\r\nhello\r\n0\r\n\r\n"[..], b"5;x\r\nhello\r\n0;y\r\n\r\n"] {
            for step in [body.len(), 1, 2, 3] {
                let mut dec = Decoder::new();
                let mut buf = BytesMut::new();
                let limits = Limits::default();
                let mut ended = false;
                for piece in body.chunks(step) {
                    buf.extend_from_slice(piece);
                    while let Some(chunk) = dec.decode(&mut buf, &limits).unwrap() {
                        if let Chunk::End(t) = chunk {
                            assert!(t.is_empty());
                            ended = true;
                        }
                    }
                    assert_eq!(dec.trailers.capacity(), 0, "{body:?} step {step}");
                }
                assert!(ended, "{body:?} step {step}");
            }
        }
    }

    #[test]
    fn a_size_line_is_taken_in_one_look() {
        // The usual shape, all in the buffer, moves the state straight to the data.
        let mut dec = Decoder::new();
        let (used, step) = dec.framing(b"1f\r\nxyz", &Limits::default());
        assert_eq!((used, step), (4, Ok(None)));
        assert_eq!(dec.state, State::Data { remaining: 31 });
        dec.state = State::DataCr;
        let (used, step) = dec.framing(b"\r\nA\r\n", &Limits::default());
        assert_eq!((used, step), (5, Ok(None)));
        assert_eq!(dec.state, State::Data { remaining: 10 });
    }

    #[test]
    fn a_finished_decoder_takes_nothing_more() {
        // After the last chunk and trailers, what follows is the next message's: called again,
        // the decoder leaves it in the buffer and asks for nothing.
        let limits = Limits::default();
        let mut dec = Decoder::new();
        let mut buf = BytesMut::from(&b"3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n"[..]);
        assert_eq!(
            dec.decode(&mut buf, &limits),
            Ok(Some(Chunk::Data(Bytes::from_static(b"abc"))))
        );
        assert_eq!(dec.decode(&mut buf, &limits), Ok(Some(Chunk::End(Headers::new()))));
        for _ in 0..2 {
            assert_eq!(dec.decode(&mut buf, &limits), Ok(None));
            assert_eq!(&buf[..], b"HTTP/1.1 200 OK\r\n");
        }
    }

    #[test]
    fn buffered_is_the_partial_trailer_section() {
        // What the decoder holds of the peer's input: the trailer section read so far, and
        // nothing for data, sizes or an empty section's CR.
        let limits = Limits::default();
        let mut dec = Decoder::new();
        let mut buf = BytesMut::new();
        let mut feed = |dec: &mut Decoder, bytes: &[u8]| {
            buf.extend_from_slice(bytes);
            while let Some(chunk) = dec.decode(&mut buf, &limits).unwrap() {
                assert!(matches!(chunk, Chunk::Data(_) | Chunk::Pieces(..)), "{chunk:?}");
            }
            dec.buffered()
        };
        assert_eq!(feed(&mut dec, b"5;ext\r\nhel"), 0);
        assert_eq!(feed(&mut dec, b"lo\r\n0\r\n"), 0);
        assert_eq!(feed(&mut dec, b"X: 1\r\nY"), 7);
        assert_eq!(feed(&mut dec, b": 22"), 11);
        let mut dec = Decoder::new();
        let mut buf = BytesMut::from(&b"0\r\n\r"[..]);
        assert_eq!(dec.decode(&mut buf, &limits), Ok(None));
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn caps_are_cumulative() {
        let limits = Limits {
            max_chunk_extension_bytes: 7,
            max_trailer_bytes: 16,
            max_trailers: 2,
            ..Limits::default()
        };
        // Each extension fits, together they do not.
        let body = b"1;abcd\r\nx\r\n1;efgh\r\ny\r\n0\r\n\r\n";
        assert_eq!(
            decode_split(body, 1, &limits).unwrap_err(),
            ErrorKind::ChunkExtensionsTooLarge { limit: 7 }
        );
        let body = b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(
            decode_split(body, 3, &limits).unwrap_err(),
            ErrorKind::TrailersTooLarge { limit: 16 }
        );
        let limits = Limits { max_trailers: 2, ..Limits::default() };
        assert_eq!(
            decode_split(body, 3, &limits).unwrap_err(),
            ErrorKind::TooManyTrailers { limit: 2 }
        );
        // Whitespace before ';' counts too, so an endless run of spaces is bounded.
        let limits = Limits { max_chunk_extension_bytes: 4, ..Limits::default() };
        assert_eq!(
            decode_split(b"1       ;a\r\n", 1, &limits).unwrap_err(),
            ErrorKind::ChunkExtensionsTooLarge { limit: 4 }
        );
    }
}
