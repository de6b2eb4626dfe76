//! The body window: body bytes read by the caller straight into its own buffer, past the
//! connection's input, and accounted here exactly as if they had come through
//! [`Connection::handle_input`] and gone out as [`Event::Data`](crate::Event::Data).
//!
//! A download then costs the transport's one copy: a driver whose buffer is empty reads the
//! next bytes of a `Content-Length` body, of a chunk's data or of a close-delimited body into
//! the caller's buffer, and tells the connection how many with
//! [`Connection::handle_body_read`]. Framing, transfer codings, limits and every state
//! transition stay in `conn.rs`; this module only asks it where the body stands.

use core::mem;

use super::{BodyReader, Connection, Exchange, Recv, Sink, State, conclude};
use crate::error::{Call, Result};
use crate::time::{TimerKind, Timestamp};

impl<T: Timestamp> Connection<T> {
    /// How many of the next bytes on the transport are plain body content for the caller:
    /// `Some(n)` while a response body is being received, nothing of it is queued or held
    /// here, no output waits in [`Connection::poll_output`], and the next `n` bytes carry no
    /// framing and no transfer coding (the rest of a `Content-Length` body, the rest of the
    /// current chunk's data, or `u64::MAX` for a body delimited by the connection's close).
    /// `None` otherwise: no body yet, a chunk-size line or the trailers next, a transfer coding
    /// to undo, a body the caller discards, an output to poll first.
    ///
    /// The caller may read up to `n` bytes into its own buffer, provided the input it feeds
    /// [`Connection::handle_input`] is empty, and then calls
    /// [`Connection::handle_body_read`]. Cost: a few comparisons.
    #[must_use]
    pub fn body_window(&self) -> Option<u64> {
        if !self.ctx.out.is_empty() {
            return None;
        }
        let State::Exchange(Exchange {
            recv: Recv::Body { reader, sink: Sink::Deliver, coding: None, .. },
            ..
        }) = &self.state
        else {
            return None;
        };
        match reader {
            // Never 0 here: a length body that is over has concluded.
            BodyReader::Length(remaining) => Some(*remaining),
            BodyReader::Chunked(decoder) => decoder.data_window(),
            BodyReader::UntilClose => Some(u64::MAX),
        }
    }

    /// When the [`Connection::body_window`] is the rest of a chunk's data, that chunk's
    /// declared size: a chunk's framing (its CRLF and the next size line) follows the window
    /// on the transport. `None` for any other window, or none. A caller that reads past the
    /// window (a vectored read that guesses the next size line from this one, say) feeds those
    /// bytes to [`Connection::handle_input`].
    #[must_use]
    pub fn body_window_chunk(&self) -> Option<u64> {
        self.body_window()?;
        match &self.state {
            State::Exchange(Exchange {
                recv: Recv::Body { reader: BodyReader::Chunked(d), .. },
                ..
            }) => d.data_window().map(|_| d.chunk_size()),
            _ => None,
        }
    }

    /// The caller read `n` bytes of the [`Connection::body_window`] straight into its own
    /// buffer. They count exactly as bytes fed through [`Connection::handle_input`] and taken
    /// as [`Event::Data`](crate::Event::Data) would: the body's remaining length, the chunk's
    /// data, the [`TimerKind::BodyRead`] deadline (re-armed from `now`), and at the body's
    /// last byte its end, which [`Connection::poll_output`] then gives as
    /// [`Output::End`](crate::Output::End) with the keep-alive decision. `n == 0` within a
    /// window does nothing (a transport's end is [`Connection::handle_eof`]).
    ///
    /// # Errors
    /// [`ErrorKind::Misuse`](crate::ErrorKind::Misuse) with [`Call::HandleBodyRead`] when there
    /// is no window or `n` is larger than it; nothing changes then.
    pub fn handle_body_read(&mut self, now: T, n: usize) -> Result<()> {
        let len = u64::try_from(n).unwrap_or(u64::MAX);
        if self.body_window().is_none_or(|window| len > window) {
            return Err(self.misuse(Call::HandleBodyRead));
        }
        if len == 0 {
            return Ok(());
        }
        let State::Exchange(ex) = &mut self.state else { return Ok(()) };
        let Recv::Body { reader, sink, sem, .. } = &mut ex.recv else { return Ok(()) };
        self.ctx.response_started = true;
        self.ctx.arm(TimerKind::BodyRead, now);
        let done = match reader {
            BodyReader::Length(remaining) => {
                *remaining -= len;
                *remaining == 0
            }
            // The chunk's CRLF and the next size line come through `handle_input`.
            BodyReader::Chunked(decoder) => {
                decoder.consume_data(len);
                false
            }
            BodyReader::UntilClose => false,
        };
        if done {
            // Read exactly to the end: no byte followed it in this read.
            let sink = mem::replace(sink, Sink::Deliver);
            let next = conclude(&ex.kind, &ex.upload, *sem, sink, false, false);
            self.enter_in_place(now, next);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;
    use core::time::Duration;

    use bytes::{Bytes, BytesMut};
    use proptest::prelude::*;

    use crate::config::{Config, Timeouts};
    use crate::conn::{CloseReason, Connection, End, Eof, Phase};
    use crate::error::{Call, ErrorKind, Expected};
    use crate::request::Request;
    use crate::testing::{self, Join, Rest, Seen};
    use crate::time::TimerKind;
    use crate::url::Url;

    /// A connection with a GET sent, its head written out.
    fn started(config: Config) -> Connection<Duration> {
        let mut conn = Connection::new(Duration::ZERO, config);
        let url = Url::parse("http://h/x").unwrap();
        conn.send_request(Duration::ZERO, &Request::get(url)).unwrap();
        let mut seen = Vec::new();
        assert_eq!(testing::drain(&mut conn, &mut seen, Join::Pieces, |_, _| {}), Rest::NeedInput);
        conn
    }

    /// Feeds `wire` in reads of the sizes `steps` gives (cycled); at each read where the
    /// window is open, the input empty and `direct` says so, the bytes go past the input as a
    /// driver's direct read would (at most the window), recorded as data. Then `eof`.
    fn run(wire: &[u8], steps: &[(usize, bool)], eof: Option<Eof>) -> (Vec<Seen>, Rest, Phase) {
        let mut conn = started(Config::default());
        let mut input = BytesMut::new();
        let mut seen = Vec::new();
        let mut at = 0;
        let mut i = 0;
        let mut rest = Rest::NeedInput;
        while at < wire.len() && rest.is_reading() {
            let (size, direct) = steps.get(i % steps.len().max(1)).copied().unwrap_or((1, false));
            i += 1;
            let size = size.clamp(1, wire.len() - at);
            let now = Duration::from_millis(i as u64);
            match conn.body_window() {
                Some(window) if direct && input.is_empty() => {
                    let take = size.min(usize::try_from(window).unwrap_or(usize::MAX));
                    testing::push(
                        &mut seen,
                        Seen::Data(Bytes::copy_from_slice(&wire[at..at + take])),
                        Join::Pieces,
                    );
                    conn.handle_body_read(now, take).unwrap();
                    at += take;
                }
                _ => {
                    input.extend_from_slice(&wire[at..at + size]);
                    at += size;
                    conn.handle_input(now, &mut input);
                }
            }
            rest = testing::drain(&mut conn, &mut seen, Join::Pieces, |_, _| {});
        }
        if let (Some(eof), true) = (eof, rest.is_reading()) {
            conn.handle_eof(Duration::from_secs(1), eof);
            rest = testing::drain(&mut conn, &mut seen, Join::Pieces, |_, _| {});
        }
        (seen, rest, conn.phase())
    }

    fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let mut rest = body;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes.get(i % sizes.len().max(1)).copied().unwrap_or(1).clamp(1, rest.len());
            i += 1;
            wire.extend_from_slice(alloc::format!("{n:x}\r\n").as_bytes());
            wire.extend_from_slice(&rest[..n]);
            wire.extend_from_slice(b"\r\n");
            rest = &rest[n..];
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        wire
    }

    fn length(body: &[u8]) -> Vec<u8> {
        let mut wire = alloc::format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
            .into_bytes();
        wire.extend_from_slice(body);
        wire
    }

    fn until_close(body: &[u8]) -> Vec<u8> {
        let mut wire = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        wire.extend_from_slice(body);
        wire
    }

    fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(any::<u8>(), 0..300)
    }

    fn steps() -> impl Strategy<Value = Vec<(usize, bool)>> {
        prop::collection::vec((1usize..80, any::<bool>()), 1..12)
    }

    proptest! {
        /// Any split of a body between `handle_input` and direct reads gives the events and
        /// the end that `handle_input` alone gives.
        #[test]
        fn direct_reads_are_pushed_reads(
            body in body_bytes(),
            sizes in prop::collection::vec(1usize..64, 1..6),
            kind in 0u8..3,
            clean in any::<bool>(),
            steps in steps(),
        ) {
            let (wire, eof) = match kind {
                0 => (length(&body), None),
                1 => (chunked(&body, &sizes), None),
                _ => (until_close(&body), Some(if clean { Eof::Clean } else { Eof::Unclean })),
            };
            let pushed: Vec<(usize, bool)> = steps.iter().map(|&(n, _)| (n, false)).collect();
            let expected = run(&wire, &pushed, eof);
            prop_assert_eq!(run(&wire, &steps, eof), expected);
        }
    }

    fn window_after(wire: &[u8]) -> (Connection<Duration>, Option<u64>) {
        let mut conn = started(Config::default());
        let mut input = BytesMut::from(wire);
        conn.handle_input(Duration::ZERO, &mut input);
        let mut seen = Vec::new();
        let _ = testing::drain(&mut conn, &mut seen, Join::Pieces, |_, _| {});
        let window = conn.body_window();
        (conn, window)
    }

    #[test]
    fn windows() {
        // The rest of a length body, of a chunk's data, a close-delimited body: unbounded.
        assert_eq!(window_after(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").1, Some(7));
        let chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabcd";
        assert_eq!(window_after(chunk).1, Some(12));
        assert_eq!(window_after(b"HTTP/1.1 200 OK\r\n\r\nabc").1, Some(u64::MAX));
        // No window: the head not read, a size line next, a coding, a HEAD's bodiless answer.
        assert_eq!(window_after(b"HTTP/1.1 200 OK\r\nContent-Le").1, None);
        let between = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab";
        assert_eq!(window_after(between).1, None);
        let coded = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n10\r\n";
        assert_eq!(window_after(coded).1, None);
        assert_eq!(window_after(b"HTTP/1.1 204 No Content\r\n\r\n").1, None);
    }

    #[test]
    fn only_a_chunks_window_is_followed_by_framing() {
        let chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabcd";
        assert_eq!(window_after(chunk).0.body_window_chunk(), Some(16));
        // Each size line sets it, in every shape the decoder reads.
        let (mut conn, _) = window_after(chunk);
        let mut input = BytesMut::from(&b"efghijklmnop\r\n3;x=1\r\nab"[..]);
        conn.handle_input(Duration::ZERO, &mut input);
        let mut seen = Vec::new();
        let _ = testing::drain(&mut conn, &mut seen, Join::Pieces, |_, _| {});
        assert_eq!((conn.body_window(), conn.body_window_chunk()), (Some(1), Some(3)));
        let length = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        assert_eq!(window_after(length).0.body_window_chunk(), None);
        assert_eq!(window_after(b"HTTP/1.1 200 OK\r\n\r\nabc").0.body_window_chunk(), None);
        let between = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab";
        assert_eq!(window_after(between).0.body_window_chunk(), None);
    }

    #[test]
    fn no_window_while_output_is_queued() {
        // The head event is not polled yet: the caller has not seen it.
        let mut conn = started(Config::default());
        let mut input = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"[..]);
        conn.handle_input(Duration::ZERO, &mut input);
        assert_eq!(conn.body_window(), None);
        let mut seen = Vec::new();
        let _ = testing::drain(&mut conn, &mut seen, Join::Pieces, |_, _| {});
        assert_eq!(conn.body_window(), Some(10));
    }

    #[test]
    fn discarded_bodies_have_no_window() {
        let (mut conn, window) = window_after(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
        assert_eq!(window, Some(10));
        conn.discard_body(Duration::ZERO);
        assert_eq!(conn.body_window(), None);
    }

    #[test]
    fn the_last_byte_ends_the_exchange() {
        let (mut conn, _) = window_after(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
        conn.handle_body_read(Duration::ZERO, 4).unwrap();
        assert_eq!(conn.body_window(), Some(6));
        assert_eq!(conn.phase(), Phase::RecvBody);
        conn.handle_body_read(Duration::ZERO, 6).unwrap();
        let mut seen = Vec::new();
        let rest = testing::drain(&mut conn, &mut seen, Join::Pieces, |_, _| {});
        assert_eq!(seen, [Seen::End(End::Done { reusable: true })]);
        assert_eq!(rest, Rest::Idle);
    }

    #[test]
    fn a_chunk_read_to_its_end_leaves_its_crlf_to_the_decoder() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n";
        let (mut conn, window) = window_after(wire);
        assert_eq!(window, Some(5));
        conn.handle_body_read(Duration::ZERO, 5).unwrap();
        assert_eq!(conn.body_window(), None);
        let mut input = BytesMut::from(&b"\r\n3\r\nxyz\r\n0\r\n\r\n"[..]);
        conn.handle_input(Duration::ZERO, &mut input);
        let mut seen = Vec::new();
        let rest = testing::drain(&mut conn, &mut seen, Join::Pieces, |_, _| {});
        let data = Seen::Data(Bytes::from_static(b"xyz"));
        assert_eq!(seen, [data, Seen::End(End::Done { reusable: true })]);
        assert_eq!(rest, Rest::Idle);
    }

    #[test]
    fn close_delimited_ends_clean_or_not() {
        for (eof, ends) in [(Eof::Clean, true), (Eof::Unclean, false)] {
            let (mut conn, _) = window_after(b"HTTP/1.1 200 OK\r\n\r\n");
            conn.handle_body_read(Duration::ZERO, 1000).unwrap();
            conn.handle_eof(Duration::ZERO, eof);
            let mut seen = Vec::new();
            let _ = testing::drain(&mut conn, &mut seen, Join::Pieces, |_, _| {});
            if ends {
                assert_eq!(seen, [Seen::End(End::MustClose { reason: CloseReason::ReadToEof })]);
            } else {
                let [Seen::Error(e)] = &seen[..] else { panic!("{seen:?}") };
                let expected = ErrorKind::UnexpectedEof { expected: Expected::CleanClose };
                assert_eq!(e.kind(), &expected);
            }
        }
    }

    #[test]
    fn a_truncated_length_body_is_still_an_error() {
        let (mut conn, _) = window_after(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
        conn.handle_body_read(Duration::ZERO, 3).unwrap();
        conn.handle_eof(Duration::ZERO, Eof::Clean);
        let mut seen = Vec::new();
        let _ = testing::drain(&mut conn, &mut seen, Join::Pieces, |_, _| {});
        let [Seen::Error(e)] = &seen[..] else { panic!("{seen:?}") };
        assert_eq!(e.kind(), &ErrorKind::UnexpectedEof { expected: Expected::ResponseBody });
    }

    #[test]
    fn a_direct_read_rearms_the_read_deadline() {
        let timeouts = Timeouts { body_read: Some(Duration::from_secs(5)), ..Timeouts::default() };
        let config = Config { timeouts, ..Config::default() };
        let mut conn = started(config);
        let mut input = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"[..]);
        conn.handle_input(Duration::ZERO, &mut input);
        let mut seen = Vec::new();
        let _ = testing::drain(&mut conn, &mut seen, Join::Pieces, |_, _| {});
        conn.handle_body_read(Duration::from_secs(4), 2).unwrap();
        assert_eq!(conn.poll_timeout(), Some(Duration::from_secs(9)));
        conn.handle_timeout(Duration::from_secs(9));
        let _ = testing::drain(&mut conn, &mut seen, Join::Pieces, |_, _| {});
        let Some(Seen::Error(e)) = seen.last() else { panic!("{seen:?}") };
        assert_eq!(e.kind(), &ErrorKind::Timeout { timer: TimerKind::BodyRead });
    }

    /// `data` as a zlib stream of one stored deflate block (RFC 1950; RFC 1951 §3.2.4).
    fn zlib_stored(data: &[u8]) -> Vec<u8> {
        let len = u16::try_from(data.len()).unwrap();
        let mut out = alloc::vec![0x78, 0x01, 0x01];
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(data);
        let (mut a, mut b) = (1u32, 0u32);
        for &byte in data {
            a = (a + u32::from(byte)) % 65521;
            b = (b + a) % 65521;
        }
        out.extend_from_slice(&(b << 16 | a).to_be_bytes());
        out
    }

    /// A GET's response: `head` in one read, drained, `discard` told, then `body` in reads of
    /// `step` bytes, each drained; what came out, joined.
    fn head_then_body(head: &[u8], body: &[u8], step: usize, discard: bool) -> (Vec<Seen>, Rest) {
        let mut conn = started(Config::default());
        let mut seen = Vec::new();
        let mut input = BytesMut::from(head);
        conn.handle_input(Duration::ZERO, &mut input);
        let mut rest = testing::drain(&mut conn, &mut seen, Join::Pieces, |_, _| {});
        if discard {
            conn.discard_body(Duration::ZERO);
            rest = testing::drain(&mut conn, &mut seen, Join::Pieces, |_, _| {});
        }
        for read in body.chunks(step) {
            input.extend_from_slice(read);
            conn.handle_input(Duration::ZERO, &mut input);
            rest = testing::drain(&mut conn, &mut seen, Join::Pieces, |_, _| {});
        }
        (seen, rest)
    }

    #[test]
    fn the_chunked_fast_path_is_only_for_a_body_taken_whole_and_uncoded() {
        // Reads after the head's of a chunked body taken whole and without a transfer coding
        // go straight to the queue, out of `handle_input`'s loop (`deliver_chunked`): the
        // same events as the loop gives with the head and body in one read. A coded body is
        // decoded and a discarded one dropped, read after read, never handed on as it came.
        let content: Vec<u8> = (0..=255u8).cycle().take(700).collect();
        let sizes = [30, 1, 64, 200];
        let plain = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut wire = chunked(&content, &sizes);
        wire.truncate(wire.len() - 2);
        wire.extend_from_slice(b"Sum: 7\r\n\r\n");
        let body = &wire[plain.len()..];
        let (whole, rest) = head_then_body(&wire, b"", 1, false);
        let [Seen::Head(_), Seen::Data(d), Seen::Trailers(t), Seen::End(end)] = &whole[..] else {
            panic!("{whole:?}")
        };
        assert_eq!((&d[..], t.get("sum"), rest), (&content[..], Some(&b"7"[..]), Rest::Idle));
        assert_eq!(end, &End::Done { reusable: true });
        let coded_head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: deflate, chunked\r\n\r\n";
        let coded = chunked(&zlib_stored(&content), &sizes);
        let coded_body = &coded[plain.len()..];
        for step in [1, 2, 7, 31, 64, 1000] {
            // Taken whole: as in one read.
            let got = head_then_body(plain, body, step, false);
            assert_eq!(got, (whole.clone(), Rest::Idle), "step {step}");
            // Coded: the content, decoded.
            let (seen, rest) = head_then_body(coded_head, coded_body, step, false);
            let data: Vec<u8> = seen
                .iter()
                .filter_map(|s| if let Seen::Data(d) = s { Some(d.to_vec()) } else { None })
                .flatten()
                .collect();
            assert_eq!((data, rest), (content.clone(), Rest::Idle), "coded, step {step}");
            // Discarded: no data, and the connection kept.
            let (seen, rest) = head_then_body(plain, body, step, true);
            let [Seen::Head(_), Seen::End(end)] = &seen[..] else {
                panic!("discarded, step {step}: {seen:?}")
            };
            assert_eq!((end, rest), (&End::Done { reusable: true }, Rest::Idle), "step {step}");
        }
    }

    #[test]
    fn misuse_changes_nothing() {
        let misuse = |e: crate::Error| {
            matches!(e.kind(), ErrorKind::Misuse { call: Call::HandleBodyRead, .. })
        };
        // No exchange.
        let mut idle = Connection::new(Duration::ZERO, Config::default());
        assert!(misuse(idle.handle_body_read(Duration::ZERO, 1).unwrap_err()));
        assert!(idle.is_idle());
        // Past the window, and no window between chunks.
        let (mut conn, _) = window_after(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
        assert!(misuse(conn.handle_body_read(Duration::ZERO, 11).unwrap_err()));
        assert!(misuse(conn.handle_body_read(Duration::ZERO, usize::MAX).unwrap_err()));
        assert_eq!(conn.body_window(), Some(10));
        conn.handle_body_read(Duration::ZERO, 0).unwrap();
        assert_eq!(conn.body_window(), Some(10));
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let (mut chunked, _) = window_after(wire);
        assert!(misuse(chunked.handle_body_read(Duration::ZERO, 1).unwrap_err()));
        assert_eq!(chunked.phase(), Phase::RecvBody);
        // The body still reads as ever afterwards.
        let mut input = BytesMut::from(&b"1\r\nz\r\n0\r\n\r\n"[..]);
        chunked.handle_input(Duration::ZERO, &mut input);
        let mut seen = Vec::new();
        let rest = testing::drain(&mut chunked, &mut seen, Join::Pieces, |_, _| {});
        assert_eq!(rest, Rest::Idle);
    }
}
