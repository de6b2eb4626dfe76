//! Transfer codings below `chunked` (RFC 9112 §7): which ones a response applies
//! ([`Codings`], from [`Semantics::codings`](crate::Semantics)) and their decoder
//! ([`Decoder`]), so a caller never receives transfer-coded bytes as content.
//!
//! ferry decodes `gzip` (and its alias `x-gzip`, RFC 9112 §7.2) and `deflate` (the zlib format,
//! RFC 9110 §8.4.1.2), with `miniz_oxide`'s inflater, no_std. Every other coding (`compress`,
//! the unregistered `identity`, any unknown name) is refused when the head is read:
//! [`ErrorKind::UnsupportedTransferCoding`].

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use bytes::{Bytes, BytesMut};
use miniz_oxide::inflate::stream::{InflateState, inflate};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

use crate::error::{ErrorKind, Result};
use crate::headers::eq_lower;

/// A transfer coding ferry can decode (RFC 9112 §7, the IANA HTTP Transfer Coding Registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Coding {
    /// `gzip` or `x-gzip`: one or more gzip members (RFC 1952), each checked against its
    /// CRC-32 and length.
    Gzip,
    /// `deflate`: the zlib format (RFC 1950) around a deflate stream (RFC 1951), checked
    /// against its Adler-32.
    Deflate,
}

impl Coding {
    /// The coding a `Transfer-Encoding` list element names (case-insensitively), if ferry
    /// decodes it. `chunked` is framing, not a [`Coding`]: `None`, as for `identity` or
    /// `compress`.
    #[must_use]
    pub fn from_token(token: &[u8]) -> Option<Coding> {
        if eq_lower(token, b"gzip") || eq_lower(token, b"x-gzip") {
            Some(Coding::Gzip)
        } else if eq_lower(token, b"deflate") {
            Some(Coding::Deflate)
        } else {
            None
        }
    }
}

impl fmt::Display for Coding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        })
    }
}

/// The transfer codings a response applies below `chunked`, in the order the sender applied
/// them (the order of `Transfer-Encoding`, RFC 9112 §6.1): a small inline list, no
/// allocation. Empty for a response without transfer codings, or with `chunked` alone.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Codings {
    /// The codings first, then `None`s: the length is where the first `None` is (no count
    /// of its own, so a [`ResponseHead`](crate::ResponseHead) stays one byte smaller).
    list: [Option<Coding>; Codings::CAPACITY],
}

impl Codings {
    /// The most codings one response may stack; a longer list is
    /// [`ErrorKind::InvalidTransferEncoding`].
    pub const CAPACITY: usize = 4;

    /// No codings.
    #[must_use]
    pub const fn new() -> Codings {
        Codings { list: [None; Codings::CAPACITY] }
    }

    /// Appends a coding; `false` (and no change) when the list is full.
    pub fn push(&mut self, coding: Coding) -> bool {
        let len = self.len();
        let Some(slot) = self.list.get_mut(len) else { return false };
        *slot = Some(coding);
        true
    }

    /// How many codings.
    #[must_use]
    pub fn len(&self) -> usize {
        self.list.iter().take_while(|c| c.is_some()).count()
    }

    /// Whether there are none: the content is the (de-chunked) body itself.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.list[0].is_none()
    }

    /// The codings in the order they were applied.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Coding> + '_ {
        self.list[..self.len()].iter().flatten().copied()
    }
}

impl fmt::Debug for Codings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Output pieces are split off buffers of this many bytes (a piece holds what one call to the
/// inflater produced).
const PIECE: usize = 16 * 1024;

/// The inflater's window: each call is given this much room, so that everything it decoded
/// comes out of the call. With less, what it could not hand out stays in its window, and is
/// lost if the stream then proves corrupt: the content before an error would depend on how
/// the input was split.
const WINDOW: usize = miniz_oxide::inflate::core::TINFL_LZ_DICT_SIZE;

/// Turns transfer-coded bytes into content, undoing [`Codings`] in reverse order, under a
/// bound on the decoded size (RFC 9112 §7). Sans-I/O like the rest of the core: bytes in,
/// content pieces out through a callback, [`Decoder::finish`] at the end of the body.
///
/// With no codings it passes every piece through untouched, so a reader can always use one.
/// Input may be split anywhere: the output is the same bytes, whatever the split, up to an
/// error too (the content before a corrupt spot, or exactly `limit` bytes). Cost: the
/// inflater's, plus a CRC-32 of gzip content and one copy of the content out of the
/// inflater's window; output pieces are frozen from one growing buffer.
///
/// After an error every later call returns it again.
///
/// ```
/// use bytes::Bytes;
/// use ferry_proto::wire::{Coding, Codings, Decoder};
/// let mut codings = Codings::new();
/// codings.push(Coding::Deflate);
/// // zlib of "hi", as `deflate` content (RFC 1950).
/// let coded = Bytes::from_static(&[0x78, 0x9c, 0xcb, 0xc8, 0x04, 0x00, 0x01, 0x3b, 0x00, 0xd2]);
/// let mut content = Vec::new();
/// let mut decoder = Decoder::new(codings, 1024);
/// decoder.decode(coded, &mut |piece| content.extend_from_slice(&piece)).unwrap();
/// decoder.finish(&mut |piece| content.extend_from_slice(&piece)).unwrap();
/// assert_eq!(content, b"hi");
/// ```
pub struct Decoder {
    /// In decoding order: the last coding applied comes first.
    layers: Vec<Layer>,
    limit: u64,
    failed: Option<ErrorKind>,
    /// Transfer-coded bytes given so far.
    coded: u64,
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("layers", &self.layers.iter().map(|l| l.coding).collect::<Vec<_>>())
            .field("limit", &self.limit)
            .field("failed", &self.failed)
            .finish()
    }
}

impl Decoder {
    /// A decoder for content coded with `codings` (in the order applied), which refuses to
    /// produce more than `limit` bytes from any one coding
    /// ([`Limits::max_decoded_body`](crate::Limits)). Allocates an inflater (about 43 KiB)
    /// and a 32 KiB window per coding; none for an empty list.
    #[must_use]
    pub fn new(codings: Codings, limit: u64) -> Decoder {
        Decoder {
            layers: codings.iter().rev().map(Layer::new).collect(),
            limit,
            failed: None,
            coded: 0,
        }
    }

    /// How many transfer-coded bytes [`Decoder::decode`] was given so far, an error's included:
    /// what a body's content cost on the wire (the drain budget counts these).
    pub(crate) fn coded_len(&self) -> u64 {
        self.coded
    }

    /// Decodes one piece of transfer-coded input, handing each piece of content to `out`
    /// (none, one or several; never an empty one).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidCodedBody`] for a stream that does not decode (or continues past
    /// its end), [`ErrorKind::DecodedBodyTooLarge`] past the limit.
    pub fn decode(&mut self, input: Bytes, out: &mut impl FnMut(Bytes)) -> Result<()> {
        self.coded += input.len() as u64;
        if let Some(kind) = &self.failed {
            return Err(kind.clone().into());
        }
        if self.layers.is_empty() {
            if !input.is_empty() {
                out(input);
            }
            return Ok(());
        }
        let result = run(&mut self.layers, &input, self.limit, &mut |b| {
            out(b);
            Ok(())
        });
        self.check(result)
    }

    /// Ends the content: every coding's stream must have ended properly (a truncated gzip
    /// member or zlib stream is an error). Hands `out` whatever content was still held.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidCodedBody`] when a stream is incomplete.
    pub fn finish(&mut self, out: &mut impl FnMut(Bytes)) -> Result<()> {
        if let Some(kind) = &self.failed {
            return Err(kind.clone().into());
        }
        // Nothing is held between calls (each call drains the inflaters): finishing is
        // checking that each stream reached its end.
        let _ = out;
        let result = match self.layers.iter().find(|l| !l.at_end()) {
            Some(l) => Err(ErrorKind::InvalidCodedBody { coding: l.coding }),
            None => Ok(()),
        };
        self.check(result)
    }

    fn check(&mut self, result: core::result::Result<(), ErrorKind>) -> Result<()> {
        result.map_err(|kind| {
            self.failed = Some(kind.clone());
            kind.into()
        })
    }
}

/// Feeds `input` to the first layer, its output to the rest, the last one's to `out`.
fn run(
    layers: &mut [Layer],
    input: &[u8],
    limit: u64,
    out: &mut dyn FnMut(Bytes) -> core::result::Result<(), ErrorKind>,
) -> core::result::Result<(), ErrorKind> {
    let Some((first, rest)) = layers.split_first_mut() else {
        return Ok(());
    };
    if rest.is_empty() {
        first.feed(input, limit, out)
    } else {
        first.feed(input, limit, &mut |piece| run(rest, &piece, limit, out))
    }
}

/// Where a gzip member's framing stands (RFC 1952 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gz {
    /// The fixed 10-byte header, `n` bytes in.
    Header { n: u8 },
    /// FEXTRA's 2-byte length, `n` bytes in.
    ExtraLen { n: u8, len: u16 },
    /// FEXTRA's bytes still to skip.
    Extra { left: u16 },
    /// FNAME, up to its NUL.
    Name,
    /// FCOMMENT, up to its NUL.
    Comment,
    /// FHCRC's 2 bytes, `n` bytes in.
    HeaderCrc { n: u8, crc: u16 },
    /// The deflate stream.
    Body,
    /// The 8-byte trailer (CRC-32, ISIZE), `n` bytes in.
    Trailer { n: u8 },
    /// A whole member ended; another may follow.
    Between,
}

const FHCRC: u8 = 1 << 1;
const FEXTRA: u8 = 1 << 2;
const FNAME: u8 = 1 << 3;
const FCOMMENT: u8 = 1 << 4;

struct Layer {
    coding: Coding,
    inflater: Box<InflateState>,
    /// Where the inflater writes, [`WINDOW`] bytes.
    window: Box<[u8]>,
    /// Where output is copied; pieces are split off it.
    scratch: BytesMut,
    /// Bytes produced so far.
    produced: u64,
    /// zlib: the stream ended. gzip: unused.
    ended: bool,
    gz: Gz,
    /// gzip: the header's flags, its bytes' running CRC, and the member's content CRC and
    /// size; the trailer as read.
    flags: u8,
    header_crc: u32,
    crc: u32,
    size: u32,
    trailer: [u8; 8],
}

impl Layer {
    fn new(coding: Coding) -> Layer {
        let format = match coding {
            Coding::Gzip => DataFormat::Raw,
            Coding::Deflate => DataFormat::Zlib,
        };
        Layer {
            coding,
            inflater: InflateState::new_boxed(format),
            window: alloc::vec![0; WINDOW].into_boxed_slice(),
            scratch: BytesMut::new(),
            produced: 0,
            ended: false,
            gz: Gz::Header { n: 0 },
            flags: 0,
            header_crc: CRC_INIT,
            crc: CRC_INIT,
            size: 0,
            trailer: [0; 8],
        }
    }

    fn at_end(&self) -> bool {
        match self.coding {
            Coding::Gzip => self.gz == Gz::Between,
            Coding::Deflate => self.ended,
        }
    }

    fn broken(&self) -> ErrorKind {
        ErrorKind::InvalidCodedBody { coding: self.coding }
    }

    fn feed(
        &mut self,
        mut input: &[u8],
        limit: u64,
        out: &mut dyn FnMut(Bytes) -> core::result::Result<(), ErrorKind>,
    ) -> core::result::Result<(), ErrorKind> {
        match self.coding {
            Coding::Deflate => {
                if self.ended {
                    // Bytes after the zlib stream's end.
                    return if input.is_empty() { Ok(()) } else { Err(self.broken()) };
                }
                let used = self.inflate(input, limit, out)?;
                if self.ended && used < input.len() {
                    return Err(self.broken());
                }
                Ok(())
            }
            Coding::Gzip => {
                while !input.is_empty() {
                    if self.gz == Gz::Body {
                        let used = self.inflate(input, limit, out)?;
                        input = &input[used..];
                        if self.ended {
                            self.ended = false;
                            self.gz = Gz::Trailer { n: 0 };
                        }
                        continue;
                    }
                    let (&b, rest) = input.split_first().ok_or_else(|| self.broken())?;
                    input = rest;
                    self.gz_byte(b)?;
                }
                Ok(())
            }
        }
    }

    /// One byte of a gzip member's framing (RFC 1952 §2.3.1).
    fn gz_byte(&mut self, b: u8) -> core::result::Result<(), ErrorKind> {
        if !matches!(self.gz, Gz::HeaderCrc { .. } | Gz::Trailer { .. } | Gz::Between) {
            self.header_crc = crc32_update(self.header_crc, &[b]);
        }
        self.gz = match self.gz {
            Gz::Between => {
                // A further member (RFC 1952 §2.2).
                self.header_crc = crc32_update(CRC_INIT, &[b]);
                self.crc = CRC_INIT;
                self.size = 0;
                return self.gz_header(0, b);
            }
            Gz::Header { n } => return self.gz_header(n, b),
            Gz::ExtraLen { n: 0, .. } => Gz::ExtraLen { n: 1, len: u16::from(b) },
            Gz::ExtraLen { len, .. } => {
                let left = len | u16::from(b) << 8;
                if left == 0 { self.after_extra() } else { Gz::Extra { left } }
            }
            Gz::Extra { left: 1 } => self.after_extra(),
            Gz::Extra { left } => Gz::Extra { left: left - 1 },
            Gz::Name if b == 0 => self.after_name(),
            Gz::Comment if b == 0 => self.after_comment(),
            s @ (Gz::Name | Gz::Comment) => s,
            Gz::HeaderCrc { n: 0, .. } => Gz::HeaderCrc { n: 1, crc: u16::from(b) },
            Gz::HeaderCrc { crc, .. } => {
                let crc = crc | u16::from(b) << 8;
                if u32::from(crc) != crc32_finish(self.header_crc) & 0xffff {
                    return Err(self.broken());
                }
                Gz::Body
            }
            Gz::Trailer { n } => {
                self.trailer[usize::from(n)] = b;
                if n < 7 {
                    Gz::Trailer { n: n + 1 }
                } else {
                    let [c0, c1, c2, c3, s0, s1, s2, s3] = self.trailer;
                    let crc = u32::from_le_bytes([c0, c1, c2, c3]);
                    let size = u32::from_le_bytes([s0, s1, s2, s3]);
                    if crc != crc32_finish(self.crc) || size != self.size {
                        return Err(self.broken());
                    }
                    self.inflater.reset(DataFormat::Raw);
                    Gz::Between
                }
            }
            Gz::Body => Gz::Body,
        };
        Ok(())
    }

    /// The fixed header: ID1 ID2 CM FLG MTIME(4) XFL OS.
    fn gz_header(&mut self, n: u8, b: u8) -> core::result::Result<(), ErrorKind> {
        let ok = match n {
            0 => b == 0x1f,
            1 => b == 0x8b,
            // CM 8 is deflate, the only one defined.
            2 => b == 8,
            // Reserved flag bits must be zero.
            3 => b & 0xe0 == 0,
            _ => true,
        };
        if !ok {
            return Err(self.broken());
        }
        if n == 3 {
            self.flags = b;
        }
        self.gz = if n < 9 { Gz::Header { n: n + 1 } } else { self.after_fixed() };
        Ok(())
    }

    fn after_fixed(&self) -> Gz {
        if self.flags & FEXTRA != 0 { Gz::ExtraLen { n: 0, len: 0 } } else { self.after_extra() }
    }

    fn after_extra(&self) -> Gz {
        if self.flags & FNAME != 0 { Gz::Name } else { self.after_name() }
    }

    fn after_name(&self) -> Gz {
        if self.flags & FCOMMENT != 0 { Gz::Comment } else { self.after_comment() }
    }

    fn after_comment(&self) -> Gz {
        if self.flags & FHCRC != 0 { Gz::HeaderCrc { n: 0, crc: 0 } } else { Gz::Body }
    }

    /// Runs the inflater over `input` until it needs more or the stream ends, handing out
    /// what it writes. Returns how much of `input` it used. Past the limit, exactly `limit`
    /// bytes came out before the error, however the input was split.
    fn inflate(
        &mut self,
        input: &[u8],
        limit: u64,
        out: &mut dyn FnMut(Bytes) -> core::result::Result<(), ErrorKind>,
    ) -> core::result::Result<usize, ErrorKind> {
        let mut used = 0;
        loop {
            let r = inflate(&mut self.inflater, &input[used..], &mut self.window, MZFlush::None);
            used += r.bytes_consumed;
            if r.bytes_written > 0 {
                let room = limit.saturating_sub(self.produced);
                let keep =
                    usize::try_from(room).map_or(r.bytes_written, |n| n.min(r.bytes_written));
                self.produced = self.produced.saturating_add(r.bytes_written as u64);
                if keep > 0 {
                    if self.scratch.capacity() < keep {
                        self.scratch = BytesMut::with_capacity(PIECE.max(keep));
                    }
                    self.scratch.extend_from_slice(&self.window[..keep]);
                    let piece = self.scratch.split().freeze();
                    if self.coding == Coding::Gzip {
                        self.crc = crc32_update(self.crc, &piece);
                        self.size = self.size.wrapping_add(piece.len() as u32);
                    }
                    out(piece)?;
                }
                if keep < r.bytes_written {
                    return Err(ErrorKind::DecodedBodyTooLarge { limit });
                }
            }
            match r.status {
                Ok(MZStatus::StreamEnd) => {
                    self.ended = true;
                    return Ok(used);
                }
                Ok(MZStatus::Ok) => {
                    // A full window may hide more output; otherwise it wants input.
                    if used == input.len() && r.bytes_written < WINDOW {
                        return Ok(used);
                    }
                }
                // No progress was possible: every byte given is taken, more is needed.
                Err(MZError::Buf) if used == input.len() => return Ok(used),
                Ok(MZStatus::NeedDict) | Err(_) => return Err(self.broken()),
            }
        }
    }
}

const CRC_INIT: u32 = 0xffff_ffff;

/// The CRC-32 of RFC 1952 §8 (ISO 3309, reflected polynomial 0xedb88320), a byte at a time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

fn crc32_update(mut crc: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        crc = CRC_TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

fn crc32_finish(crc: u32) -> u32 {
    crc ^ CRC_INIT
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use miniz_oxide::deflate::{compress_to_vec, compress_to_vec_zlib};

    /// A gzip member as encoders write it (RFC 1952 §2.3): the fixed header, the raw
    /// deflate stream, the content's CRC-32 (computed by flate2's independent `Crc`) and size.
    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut member = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
        member.extend_from_slice(&compress_to_vec(data, 6));
        let mut crc = flate2::Crc::new();
        crc.update(data);
        member.extend_from_slice(&crc.sum().to_le_bytes());
        member.extend_from_slice(&(data.len() as u32).to_le_bytes());
        member
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        compress_to_vec_zlib(data, 6)
    }

    fn codings(list: &[Coding]) -> Codings {
        let mut c = Codings::new();
        for &coding in list {
            assert!(c.push(coding));
        }
        c
    }

    /// Decodes `input` cut at `cuts`, then finishes.
    fn decode_cut(
        list: &[Coding],
        limit: u64,
        input: &[u8],
        cuts: &[usize],
    ) -> core::result::Result<Vec<u8>, ErrorKind> {
        let mut d = Decoder::new(codings(list), limit);
        let mut content = Vec::new();
        let mut push = |b: Bytes| {
            assert!(!b.is_empty(), "an empty piece");
            content.extend_from_slice(&b);
        };
        let mut at = 0;
        for &cut in cuts.iter().chain([&input.len()]) {
            d.decode(Bytes::copy_from_slice(&input[at..cut]), &mut push)
                .map_err(|e| e.kind().clone())?;
            at = cut;
        }
        d.finish(&mut push).map_err(|e| e.kind().clone())?;
        Ok(content)
    }

    /// Every split into two pieces, and one byte at a time, gives the same content.
    #[track_caller]
    fn check(list: &[Coding], input: &[u8], want: core::result::Result<&[u8], ErrorKind>) {
        let want = want.map(<[u8]>::to_vec);
        for cut in 0..=input.len() {
            assert_eq!(decode_cut(list, u64::MAX, input, &[cut]), want, "cut at {cut}");
        }
        let every: Vec<usize> = (1..input.len()).collect();
        assert_eq!(decode_cut(list, u64::MAX, input, &every), want, "byte by byte");
    }

    fn text() -> Vec<u8> {
        (0..3000u32).flat_map(|i| alloc::format!("line {i} of the body\n").into_bytes()).collect()
    }

    #[test]
    fn gzip_and_deflate_decode_however_split_rfc9112_7_2() {
        // RFC 9112 §7.2 (gzip, x-gzip), RFC 9110 §8.4.1.2 (deflate = zlib, RFC 1950).
        let short = b"hello, transfer codings";
        check(&[Coding::Gzip], &gzip(short), Ok(short));
        check(&[Coding::Deflate], &zlib(short), Ok(short));
        check(&[Coding::Gzip], &gzip(b""), Ok(b""));
        // Two gzip members are one content (RFC 1952 §2.2).
        let mut two = gzip(b"first ");
        two.extend_from_slice(&gzip(b"second"));
        check(&[Coding::Gzip], &two, Ok(b"first second"));
        // Stacked: deflate applied first, then gzip; undone in reverse.
        let body = text();
        let stacked = gzip(&zlib(&body));
        let got = decode_cut(&[Coding::Deflate, Coding::Gzip], u64::MAX, &stacked, &[7, 300]);
        assert_eq!(got.as_deref(), Ok(&body[..]));
        // A long body, compressed well: many output pieces, each under a piece's size.
        let coded = gzip(&body);
        let cuts: Vec<usize> = (1..coded.len()).step_by(97).collect();
        assert_eq!(decode_cut(&[Coding::Gzip], u64::MAX, &coded, &cuts).as_deref(), Ok(&body[..]));
    }

    #[test]
    fn gzip_header_fields_are_skipped_and_checked_rfc1952_2_3() {
        // FEXTRA, FNAME, FCOMMENT and FHCRC, written by hand around a raw deflate stream.
        let content = b"abc";
        let raw = compress_to_vec(content, 1);
        let mut member = vec![0x1f, 0x8b, 8, FEXTRA | FNAME | FCOMMENT | FHCRC, 0, 0, 0, 0, 0, 255];
        member.extend_from_slice(&[3, 0, b'x', b'y', b'z']);
        member.extend_from_slice(b"name.txt\0a comment\0");
        let hcrc = crc32_finish(crc32_update(CRC_INIT, &member)) as u16;
        member.extend_from_slice(&hcrc.to_le_bytes());
        member.extend_from_slice(&raw);
        member.extend_from_slice(&crc32_finish(crc32_update(CRC_INIT, content)).to_le_bytes());
        member.extend_from_slice(&(content.len() as u32).to_le_bytes());
        check(&[Coding::Gzip], &member, Ok(content));
        // A wrong header CRC is refused.
        let mut bad = member.clone();
        let at = 10 + 5 + 19;
        bad[at] ^= 1;
        check(&[Coding::Gzip], &bad, Err(ErrorKind::InvalidCodedBody { coding: Coding::Gzip }));
    }

    #[test]
    fn broken_streams_are_refused() {
        let broken = |coding| Err(ErrorKind::InvalidCodedBody { coding });
        let gz = gzip(b"some content to break");
        let z = zlib(b"some content to break");
        // Truncated anywhere: `finish` says so.
        for n in [0, 1, 9, 10, gz.len() - 8, gz.len() - 1] {
            check(&[Coding::Gzip], &gz[..n], broken(Coding::Gzip));
        }
        for n in [0, 1, 2, z.len() - 4, z.len() - 1] {
            check(&[Coding::Deflate], &z[..n], broken(Coding::Deflate));
        }
        // A wrong CRC-32, a wrong ISIZE, a wrong Adler-32, a bad magic, a reserved flag.
        for (at, coding, input) in [
            (gz.len() - 8, Coding::Gzip, &gz),
            (gz.len() - 1, Coding::Gzip, &gz),
            (z.len() - 1, Coding::Deflate, &z),
            (0, Coding::Gzip, &gz),
            (3, Coding::Gzip, &gz),
            (0, Coding::Deflate, &z),
        ] {
            let mut bad = input.clone();
            bad[at] ^= 0x80;
            check(&[coding], &bad, broken(coding));
        }
        // Bytes after a zlib stream, or garbage after a gzip member.
        let mut after = z.clone();
        after.push(0);
        check(&[Coding::Deflate], &after, broken(Coding::Deflate));
        let mut after = gz.clone();
        after.extend_from_slice(b"junk");
        check(&[Coding::Gzip], &after, broken(Coding::Gzip));
        // Raw deflate is not the zlib format that `deflate` names.
        check(&[Coding::Deflate], &compress_to_vec(b"raw", 1), broken(Coding::Deflate));
        // After an error, the same error again.
        let mut d = Decoder::new(codings(&[Coding::Gzip]), u64::MAX);
        let bad = Bytes::from_static(b"not gzip");
        assert!(d.decode(bad.clone(), &mut |_| {}).is_err());
        let again = d.decode(gz.into(), &mut |_| panic!("output after an error"));
        assert_eq!(
            again.unwrap_err().kind(),
            &ErrorKind::InvalidCodedBody { coding: Coding::Gzip }
        );
        assert!(d.finish(&mut |_| {}).is_err());
    }

    /// The content handed out before the end or the error, and how it ended.
    fn decode_until_error(
        list: &[Coding],
        limit: u64,
        input: &[u8],
        step: usize,
    ) -> (Vec<u8>, core::result::Result<(), ErrorKind>) {
        let mut d = Decoder::new(codings(list), limit);
        let mut content = Vec::new();
        let mut push = |b: Bytes| content.extend_from_slice(&b);
        let mut ended = Ok(());
        for piece in input.chunks(step.max(1)) {
            ended = d.decode(Bytes::copy_from_slice(piece), &mut push);
            if ended.is_err() {
                break;
            }
        }
        if ended.is_ok() {
            ended = d.finish(&mut push);
        }
        (content, ended.map_err(|e| e.kind().clone()))
    }

    #[test]
    fn the_content_before_an_error_does_not_depend_on_the_split() {
        // A long stream corrupted near its end: the inflater decodes far ahead of what it can
        // hand out in one call when the input comes whole, and that part was lost at the
        // error; byte by byte it had all come out (found by the response_stream fuzz target,
        // fuzz/regressions/response_stream/deflate-corrupt-content-depends-on-split).
        // The fuzz input's body, after its 47-byte head (and the target's 2-byte header).
        let input = include_bytes!(
            "../../../fuzz/regressions/response_stream/deflate-corrupt-content-depends-on-split"
        );
        let bad = &input[49..];
        let whole = decode_until_error(&[Coding::Deflate], u64::MAX, bad, bad.len());
        assert_eq!(whole.1, Err(ErrorKind::InvalidCodedBody { coding: Coding::Deflate }));
        for step in [1, 2, 3, 100] {
            let split = decode_until_error(&[Coding::Deflate], u64::MAX, bad, step);
            assert!(split == whole, "step {step}: {} vs {} bytes", split.0.len(), whole.0.len());
        }
    }

    #[test]
    fn exactly_the_limit_comes_out_before_the_limit_error() {
        // However the input is split, and whatever the size of the inflater's outputs.
        let zeros = vec![0u8; 100_000];
        for limit in [1, 1000, 40_000, 99_999] {
            let want = (vec![0u8; limit as usize], Err(ErrorKind::DecodedBodyTooLarge { limit }));
            for step in [usize::MAX, 1, 7] {
                for (coding, coded) in
                    [(Coding::Deflate, zlib(&zeros)), (Coding::Gzip, gzip(&zeros))]
                {
                    let step = step.min(coded.len());
                    assert_eq!(
                        decode_until_error(&[coding], limit, &coded, step),
                        want,
                        "{limit} {step}"
                    );
                }
            }
        }
        let exact = decode_until_error(&[Coding::Deflate], 100_000, &zlib(&zeros), 5);
        assert_eq!(exact, (zeros, Ok(())));
    }

    #[test]
    fn the_decoded_size_is_bounded() {
        // A bomb: 1 MiB of zeros in about a kilobyte.
        let zeros = vec![0u8; 1 << 20];
        let bomb = gzip(&zeros);
        assert!(bomb.len() < 4096);
        let limit = 1 << 20;
        assert_eq!(decode_cut(&[Coding::Gzip], limit, &bomb, &[]).map(|c| c.len()), Ok(1 << 20));
        assert_eq!(
            decode_cut(&[Coding::Gzip], limit - 1, &bomb, &[100]),
            Err(ErrorKind::DecodedBodyTooLarge { limit: limit - 1 })
        );
        // Each layer is bounded: the inner one of a stack too.
        let stacked = gzip(&zlib(&zeros));
        assert_eq!(
            decode_cut(&[Coding::Deflate, Coding::Gzip], 1000, &stacked, &[]),
            Err(ErrorKind::DecodedBodyTooLarge { limit: 1000 })
        );
    }

    #[test]
    fn no_codings_pass_pieces_through() {
        let mut d = Decoder::new(Codings::new(), 0);
        let piece = Bytes::from_static(b"as is");
        let mut out = Vec::new();
        d.decode(piece.clone(), &mut |b| out.push(b)).unwrap();
        d.decode(Bytes::new(), &mut |b| out.push(b)).unwrap();
        d.finish(&mut |b| out.push(b)).unwrap();
        assert_eq!(out, [piece]);
    }

    #[test]
    fn tokens_and_the_inline_list() {
        // RFC 9112 §7 and the IANA registry: gzip, x-gzip, deflate; chunked is framing.
        for (token, want) in [
            (&b"gzip"[..], Some(Coding::Gzip)),
            (b"X-Gzip", Some(Coding::Gzip)),
            (b"DEFLATE", Some(Coding::Deflate)),
            (b"chunked", None),
            (b"identity", None),
            (b"compress", None),
            (b"x-compress", None),
            (b"br", None),
            (b"gzip2", None),
        ] {
            assert_eq!(Coding::from_token(token), want, "{token:?}");
        }
        let mut c = Codings::new();
        for _ in 0..Codings::CAPACITY {
            assert!(c.push(Coding::Deflate));
        }
        assert!(!c.push(Coding::Gzip));
        assert_eq!(c.len(), Codings::CAPACITY);
        assert_eq!(alloc::format!("{c:?}"), "[Deflate, Deflate, Deflate, Deflate]");
        // The CRC of RFC 1952 §8: the check value of "123456789".
        assert_eq!(crc32_finish(crc32_update(CRC_INIT, b"123456789")), 0xcbf4_3926);
    }
}
