//! Content codings (`Content-Encoding`, RFC 9110 §8.4): what a client asks for and decodes.
//!
//! The core decodes *transfer* codings, which are framing; content codings are the
//! representation the server chose, decoded here on request (a client's default), streaming
//! and under a limit on the decoded size (a decompression bomb is an error, not memory).

use bytes::Bytes;
use ferry_proto::Headers;
use ferry_proto::wire::{Coding, Codings, Decoder};

use crate::error::{Error, ErrorKind, Phase};

/// The `Accept-Encoding` value for the codings [`ContentDecoder`] decodes.
pub const ACCEPT_ENCODING: &str = "gzip, deflate";

/// Decodes a response's content codings, or passes the content through untouched when the
/// response has none, or one this decoder does not know (the caller sees `Content-Encoding`
/// and the coded bytes, as with decoding off).
#[derive(Debug)]
pub struct ContentDecoder {
    decoder: Option<Decoder>,
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
        let decoder = (any && known).then(|| Decoder::new(codings, limit));
        ContentDecoder { decoder, seen: false }
    }

    /// A decoder that passes everything through.
    #[must_use]
    pub fn identity() -> ContentDecoder {
        ContentDecoder { decoder: None, seen: false }
    }

    /// Whether the content is being decoded (not passed through).
    #[must_use]
    pub fn is_decoding(&self) -> bool {
        self.decoder.is_some()
    }

    /// Decodes a piece of content, handing the decoded pieces to `out`.
    ///
    /// # Errors
    /// [`ErrorKind::Content`] when the content does not decode or decodes past the limit.
    pub fn decode(&mut self, piece: Bytes, out: &mut impl FnMut(Bytes)) -> Result<(), Error> {
        match &mut self.decoder {
            None => {
                out(piece);
                Ok(())
            }
            Some(d) => {
                self.seen |= !piece.is_empty();
                d.decode(piece, out).map_err(content_error)
            }
        }
    }

    /// The content ended: a truncated stream is an error.
    ///
    /// # Errors
    /// [`ErrorKind::Content`] for a stream that did not end.
    pub fn finish(&mut self, out: &mut impl FnMut(Bytes)) -> Result<(), Error> {
        match &mut self.decoder {
            Some(d) if self.seen => d.finish(out).map_err(content_error),
            _ => Ok(()),
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

    #[test]
    fn unknown_codings_pass_through_untouched() {
        for value in ["br", "gzip, br", "compress"] {
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
