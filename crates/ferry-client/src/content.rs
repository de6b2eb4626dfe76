//! Content codings (`Content-Encoding`, RFC 9110 §8.4): what a client asks for and decodes.
//!
//! The core decodes *transfer* codings, which are framing; content codings are the
//! representation the server chose, decoded here on request (a client's default), streaming
//! and under a limit on the decoded size (a decompression bomb is an error, not memory).

use bytes::Bytes;
use ferry_proto::Headers;
use ferry_proto::wire::{Coding, Codings, Decoder};

use crate::error::{Error, ErrorKind, Phase};

/// The `Accept-Encoding` value for the codings [`ContentDecoder`] decodes: gzip and deflate
/// always, br and zstd with the `brotli` and `zstd` features.
pub const ACCEPT_ENCODING: &str = accept_encoding();

const fn accept_encoding() -> &'static str {
    match (cfg!(feature = "brotli"), cfg!(feature = "zstd")) {
        (true, true) => "gzip, deflate, br, zstd",
        (true, false) => "gzip, deflate, br",
        (false, true) => "gzip, deflate, zstd",
        (false, false) => "gzip, deflate",
    }
}

/// Where a streaming decoder writes: a `Vec` that refuses to grow past the room left under the
/// decoded-size limit, so a decompression bomb fails as the decoder produces it, before it is
/// in memory (one write of the decoder's own buffer at most).
#[cfg_attr(not(any(feature = "brotli", feature = "zstd")), allow(dead_code))]
#[derive(Default)]
struct Bounded {
    buf: Vec<u8>,
    /// Bytes the limit still allows.
    room: u64,
    /// A write did not fit.
    over: bool,
}

impl std::io::Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if data.len() as u64 > self.room {
            // What fits is kept: exactly `limit` decoded bytes come out before the error, as
            // from the core's decoder.
            let fits = usize::try_from(self.room).unwrap_or(usize::MAX).min(data.len());
            self.buf.extend_from_slice(&data[..fits]);
            self.room = 0;
            self.over = true;
            return Err(std::io::Error::other("the decoded-size limit"));
        }
        self.room -= data.len() as u64;
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A decoder behind `std::io::Write` (brotli's, zstd's): coded bytes written in, decoded bytes
/// gathered in its [`Bounded`] buffer, taken out after each write and counted against the
/// limit.
enum Streaming {
    /// Never made: keeps the enum inhabited-looking for the matches when neither feature is on.
    #[allow(dead_code)]
    Off(std::convert::Infallible),
    #[cfg(feature = "brotli")]
    Brotli(Box<brotli_decompressor::DecompressorWriter<Bounded>>),
    #[cfg(feature = "zstd")]
    Zstd(Box<zstd::stream::write::Decoder<'static, Bounded>>),
}

impl std::fmt::Debug for Streaming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Streaming {
    fn name(&self) -> &'static str {
        match *self {
            Streaming::Off(never) => match never {},
            #[cfg(feature = "brotli")]
            Streaming::Brotli(_) => "br",
            #[cfg(feature = "zstd")]
            Streaming::Zstd(_) => "zstd",
        }
    }

    fn for_token(token: &[u8]) -> Option<Streaming> {
        #[cfg(feature = "brotli")]
        if token.eq_ignore_ascii_case(b"br") {
            let w = brotli_decompressor::DecompressorWriter::new(Bounded::default(), 16 * 1024);
            return Some(Streaming::Brotli(Box::new(w)));
        }
        #[cfg(feature = "zstd")]
        if token.eq_ignore_ascii_case(b"zstd") {
            return zstd::stream::write::Decoder::new(Bounded::default())
                .ok()
                .map(|d| Streaming::Zstd(Box::new(d)));
        }
        let _ = token;
        None
    }

    /// Writes `input` (or, with `None`, ends the stream) and hands out what was decoded.
    /// Without either feature no value exists and this is never called.
    #[cfg_attr(
        not(any(feature = "brotli", feature = "zstd")),
        allow(unreachable_code, unused_variables)
    )]
    fn run(
        &mut self,
        input: Option<&[u8]>,
        produced: &mut u64,
        limit: u64,
        out: &mut impl FnMut(Bytes),
    ) -> Result<(), Error> {
        #[cfg(any(feature = "brotli", feature = "zstd"))]
        use std::io::Write as _;
        let name = self.name();
        let fail = |what: String| {
            Error::new(
                Phase::Receive,
                ErrorKind::Body(std::sync::Arc::new(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{name} content {what}"),
                ))),
            )
        };
        let too_large = || {
            Error::new(
                Phase::Receive,
                ErrorKind::Content(ferry_proto::Error::new(
                    ferry_proto::ErrorKind::DecodedBodyTooLarge { limit },
                )),
            )
        };
        let room = limit.saturating_sub(*produced);
        let (result, sink): (std::io::Result<()>, &mut Bounded) = match self {
            Streaming::Off(never) => match *never {},
            #[cfg(feature = "brotli")]
            Streaming::Brotli(w) => {
                w.get_mut().room = room;
                let r = match input {
                    Some(i) => w.write_all(i),
                    None => w.close(),
                };
                (r, w.get_mut())
            }
            #[cfg(feature = "zstd")]
            Streaming::Zstd(w) => {
                w.get_mut().room = room;
                let r = match input {
                    Some(i) => w.write_all(i),
                    // `do_finish` fails on a frame cut short; `flush` would not.
                    None => w.do_finish(),
                };
                (r, w.get_mut())
            }
        };
        *produced += sink.buf.len() as u64;
        if !sink.buf.is_empty() {
            out(Bytes::from(std::mem::take(&mut sink.buf)));
        }
        if sink.over {
            return Err(too_large());
        }
        result.map_err(|e| fail(format!("does not decode: {e}")))
    }
}

/// Decodes a response's content codings, or passes the content through untouched when the
/// response has none, or one this decoder does not know (the caller sees `Content-Encoding`
/// and the coded bytes, as with decoding off).
#[derive(Debug)]
pub struct ContentDecoder {
    decoder: Option<Decoder>,
    /// br or zstd (one coding alone; a list mixing them with others passes through).
    streaming: Option<Streaming>,
    produced: u64,
    limit: u64,
    /// Any coded byte arrived (an empty body, a HEAD's, has nothing to finish).
    seen: bool,
}

impl ContentDecoder {
    /// The decoder for a response with these header fields, producing at most `limit` bytes.
    #[must_use]
    pub fn for_response(headers: &Headers, limit: u64) -> ContentDecoder {
        let mut codings = Codings::default();
        let mut known = true;
        let mut any = false;
        for value in headers.get_all("content-encoding") {
            for token in value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.is_empty() || token.eq_ignore_ascii_case(b"identity") {
                    continue;
                }
                any = true;
                match Coding::from_token(token) {
                    Some(c) if codings.push(c) => {}
                    _ => known = false,
                }
            }
        }
        let mut streaming = None;
        if any && !known && codings.is_empty() {
            let mut tokens =
                headers.get_all("content-encoding").flat_map(|v| v.split(|&b| b == b','));
            let only = tokens.next().map(<[u8]>::trim_ascii);
            if tokens.next().is_none() {
                streaming = only.and_then(Streaming::for_token);
            }
        }
        let decoder = (any && known).then(|| Decoder::new(codings, limit));
        ContentDecoder { decoder, streaming, produced: 0, limit, seen: false }
    }

    /// A decoder that passes everything through.
    #[must_use]
    pub fn identity() -> ContentDecoder {
        ContentDecoder { decoder: None, streaming: None, produced: 0, limit: u64::MAX, seen: false }
    }

    /// Whether the content is being decoded (not passed through).
    #[must_use]
    pub fn is_decoding(&self) -> bool {
        self.decoder.is_some() || self.streaming.is_some()
    }

    /// Decodes a piece of content, handing the decoded pieces to `out`.
    ///
    /// # Errors
    /// [`ErrorKind::Content`] when the content does not decode or decodes past the limit.
    pub fn decode(&mut self, piece: Bytes, out: &mut impl FnMut(Bytes)) -> Result<(), Error> {
        self.seen |= !piece.is_empty();
        if let Some(s) = &mut self.streaming {
            return s.run(Some(&piece), &mut self.produced, self.limit, out);
        }
        match &mut self.decoder {
            None => {
                out(piece);
                Ok(())
            }
            Some(d) => d.decode(piece, out).map_err(content_error),
        }
    }

    /// The content ended: a truncated stream is an error.
    ///
    /// # Errors
    /// [`ErrorKind::Content`] for a stream that did not end.
    pub fn finish(&mut self, out: &mut impl FnMut(Bytes)) -> Result<(), Error> {
        if !self.seen {
            return Ok(());
        }
        if let Some(s) = &mut self.streaming {
            return s.run(None, &mut self.produced, self.limit, out);
        }
        match &mut self.decoder {
            Some(d) => d.finish(out).map_err(content_error),
            None => Ok(()),
        }
    }
}

fn content_error(e: ferry_proto::Error) -> Error {
    Error::new(Phase::Receive, ErrorKind::Content(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        Headers::from_pairs(pairs.iter().copied()).expect("valid fields")
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("in memory");
        e.finish().expect("in memory")
    }

    fn decode_all(d: &mut ContentDecoder, input: &[u8], step: usize) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        for piece in input.chunks(step.max(1)) {
            d.decode(Bytes::copy_from_slice(piece), &mut |b| out.extend_from_slice(&b))?;
        }
        d.finish(&mut |b| out.extend_from_slice(&b))?;
        Ok(out)
    }

    #[test]
    fn gzip_is_decoded_in_any_split() {
        let coded = gzip(b"hello, hello, hello");
        for step in [1, 3, coded.len()] {
            let mut d =
                ContentDecoder::for_response(&headers(&[("Content-Encoding", "gzip")]), 1 << 20);
            assert!(d.is_decoding());
            assert_eq!(decode_all(&mut d, &coded, step).expect("decodes"), b"hello, hello, hello");
        }
    }

    #[cfg(feature = "brotli")]
    #[test]
    fn brotli_is_decoded_in_any_split_and_bounded() {
        let mut coded = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut coded, 4096, 9, 22);
            std::io::Write::write_all(&mut w, &vec![b'x'; 100_000]).expect("in memory");
        }
        for step in [1, 7, coded.len()] {
            let mut d =
                ContentDecoder::for_response(&headers(&[("Content-Encoding", "br")]), 1 << 20);
            assert_eq!(decode_all(&mut d, &coded, step).expect("decodes"), vec![b'x'; 100_000]);
        }
        let mut d = ContentDecoder::for_response(&headers(&[("Content-Encoding", "br")]), 1000);
        assert!(matches!(
            decode_all(&mut d, &coded, 50).unwrap_err().kind(),
            ErrorKind::Content(_)
        ));
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_is_decoded_in_any_split_and_bounded() {
        let coded = zstd::encode_all(&vec![b'z'; 100_000][..], 3).expect("in memory");
        for step in [1, 7, coded.len()] {
            let mut d =
                ContentDecoder::for_response(&headers(&[("Content-Encoding", "zstd")]), 1 << 20);
            assert_eq!(decode_all(&mut d, &coded, step).expect("decodes"), vec![b'z'; 100_000]);
        }
        let mut d = ContentDecoder::for_response(&headers(&[("Content-Encoding", "zstd")]), 1000);
        assert!(matches!(
            decode_all(&mut d, &coded, 50).unwrap_err().kind(),
            ErrorKind::Content(_)
        ));
        let mut d =
            ContentDecoder::for_response(&headers(&[("Content-Encoding", "zstd")]), 1 << 20);
        assert!(decode_all(&mut d, b"not zstd at all", 3).is_err());
    }

    /// Feeds `coded` in one piece under `limit`: what came out before the error, and the error.
    #[cfg(any(feature = "brotli", feature = "zstd"))]
    fn bomb(coding: &str, coded: &[u8], limit: u64) -> (usize, Error) {
        let mut d = ContentDecoder::for_response(&headers(&[("Content-Encoding", coding)]), limit);
        let mut out = 0;
        let err = d
            .decode(Bytes::copy_from_slice(coded), &mut |b| out += b.len())
            .and_then(|()| d.finish(&mut |b| out += b.len()))
            .expect_err("over the limit");
        (out, err)
    }

    #[cfg(any(feature = "brotli", feature = "zstd"))]
    fn is_too_large(e: &Error) -> bool {
        matches!(e.kind(), ErrorKind::Content(c)
            if matches!(c.kind(), ferry_proto::ErrorKind::DecodedBodyTooLarge { .. }))
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_bomb_stops_at_the_limit_and_a_cut_frame_is_an_error() {
        // 64 MiB of zeros is a few KiB coded: one piece must not become 64 MiB in memory.
        let coded = zstd::encode_all(&vec![0u8; 64 << 20][..], 3).expect("in memory");
        assert!(coded.len() < 64 << 10);
        let (out, err) = bomb("zstd", &coded, 1 << 20);
        assert_eq!(out, 1 << 20, "exactly the limit comes out first");
        assert!(is_too_large(&err), "{err:?}");

        let coded = zstd::encode_all(&vec![b'q'; 10_000][..], 3).expect("in memory");
        for cut in [1, 4, coded.len() / 2] {
            let mut d =
                ContentDecoder::for_response(&headers(&[("Content-Encoding", "zstd")]), 1 << 20);
            let short = &coded[..coded.len() - cut];
            assert!(decode_all(&mut d, short, 7).is_err(), "cut by {cut}");
        }
    }

    #[cfg(feature = "brotli")]
    #[test]
    fn brotli_bomb_stops_at_the_limit_and_a_cut_stream_is_an_error() {
        let mut coded = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut coded, 4096, 5, 22);
            std::io::Write::write_all(&mut w, &vec![0u8; 64 << 20]).expect("in memory");
        }
        let (out, err) = bomb("br", &coded, 1 << 20);
        assert_eq!(out, 1 << 20, "exactly the limit comes out first");
        assert!(is_too_large(&err), "{err:?}");

        let mut coded = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut coded, 4096, 9, 22);
            std::io::Write::write_all(&mut w, &vec![b'q'; 10_000]).expect("in memory");
        }
        let mut d = ContentDecoder::for_response(&headers(&[("Content-Encoding", "br")]), 1 << 20);
        assert!(decode_all(&mut d, &coded[..coded.len() - 2], 7).is_err());
    }

    #[test]
    fn unknown_codings_pass_through_untouched() {
        let mut unknown = vec!["gzip, br", "compress", "zstd, gzip"];
        if !cfg!(feature = "brotli") {
            unknown.push("br");
        }
        if !cfg!(feature = "zstd") {
            unknown.push("zstd");
        }
        for value in unknown {
            let mut d = ContentDecoder::for_response(&headers(&[("Content-Encoding", value)]), 10);
            assert!(!d.is_decoding(), "{value}");
            assert_eq!(decode_all(&mut d, b"\x00\x01raw", 2).expect("passes"), b"\x00\x01raw");
        }
        let d = ContentDecoder::for_response(&headers(&[("Content-Encoding", "identity")]), 10);
        assert!(!d.is_decoding());
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let coded = gzip(&vec![0u8; 1 << 20]);
        let mut d =
            ContentDecoder::for_response(&headers(&[("Content-Encoding", "gzip")]), 64 * 1024);
        let e = decode_all(&mut d, &coded, 4096).expect_err("past the limit");
        assert!(matches!(e.kind(), ErrorKind::Content(_)), "{e:?}");
        assert!(e.to_string().contains("65536"), "{e}");
    }

    #[test]
    fn a_truncated_stream_is_an_error_and_an_empty_body_is_not() {
        let coded = gzip(b"some content here");
        let mut d =
            ContentDecoder::for_response(&headers(&[("Content-Encoding", "gzip")]), 1 << 20);
        assert!(decode_all(&mut d, &coded[..coded.len() - 4], 5).is_err());
        let mut d =
            ContentDecoder::for_response(&headers(&[("Content-Encoding", "gzip")]), 1 << 20);
        assert_eq!(decode_all(&mut d, b"", 1).expect("nothing to decode"), b"");
    }
}
