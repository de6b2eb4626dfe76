//! Tests of the connection machine, driven like a driver would, on a virtual clock.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::auth::{Credentials, ProxyAuth};
use crate::config::{Config, Limits, Timeouts};
use crate::conn::{CloseReason, Connection, End, Eof, Event, Output, Phase};
use crate::connect::Connect;
use crate::error::{ErrorKind, Expected, RequestSent};
use crate::headers::Headers;
use crate::request::{BodyFraming, Method, Request};
use crate::testing::{self, Rest};
use crate::time::TimerKind;
use crate::url::Url;

/// What a driver saw, compactly: writes and data as text, heads as their status.
#[derive(Debug, PartialEq, Eq, Clone)]
enum Seen {
    Wrote(String),
    Info(u16),
    Head(u16),
    Data(String),
    Trailers(Vec<(String, String)>),
    End(End),
    /// `End::Tunnel`, with the reply's status.
    Tunnel(u16, Bytes),
    Error(ErrorKind),
}

fn compact(seen: testing::Seen) -> Seen {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match seen {
        testing::Seen::Wrote(b) => Seen::Wrote(text(&b)),
        testing::Seen::Info(h) => Seen::Info(h.status()),
        testing::Seen::Head(h) => Seen::Head(h.status()),
        testing::Seen::Data(d) => Seen::Data(text(&d)),
        testing::Seen::Trailers(t) => {
            Seen::Trailers(t.iter().map(|(n, v)| (n.to_string(), text(v))).collect())
        }
        testing::Seen::End(End::Tunnel { reply, leftover }) => {
            Seen::Tunnel(reply.status(), leftover)
        }
        testing::Seen::End(e) => Seen::End(e),
        testing::Seen::Error(e) => Seen::Error(e.kind().clone()),
    }
}

struct Harness {
    conn: Connection<Duration>,
    now: Duration,
    input: BytesMut,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(Config::default())
    }

    fn with(config: Config) -> Harness {
        Harness {
            conn: Connection::new(Duration::ZERO, config),
            now: Duration::ZERO,
            input: BytesMut::new(),
        }
    }

    /// Drains as a driver does, through the shared harness; pieces joined, shown compactly.
    fn drain(&mut self) -> (Vec<Seen>, Rest) {
        let (seen, rest) = self.drain_raw();
        (seen.into_iter().map(compact).collect(), rest)
    }

    fn drain_raw(&mut self) -> (Vec<testing::Seen>, Rest) {
        let mut seen = Vec::new();
        let rest = testing::drain(&mut self.conn, &mut seen, testing::Join::Pieces, |_, _| {});
        (seen, rest)
    }

    fn request(&mut self, req: Request) -> (Vec<Seen>, Rest) {
        self.conn.send_request(self.now, &req).unwrap();
        self.drain()
    }

    fn feed(&mut self, bytes: &str) -> (Vec<Seen>, Rest) {
        self.input.extend_from_slice(bytes.as_bytes());
        self.conn.handle_input(self.now, &mut self.input);
        self.drain()
    }

    fn eof(&mut self) -> (Vec<Seen>, Rest) {
        self.conn.handle_eof(self.now, Eof::Clean);
        self.drain()
    }

    fn advance(&mut self, by: Duration) -> (Vec<Seen>, Rest) {
        self.now += by;
        self.conn.handle_timeout(self.now);
        self.drain()
    }
}

fn get(url: &str) -> Request {
    Request::get(Url::parse(url).unwrap())
}

fn post(url: &str, body: BodyFraming) -> Request {
    Request::new(Method::POST, Url::parse(url).unwrap()).body(body)
}

fn wrote(s: &str) -> Seen {
    Seen::Wrote(s.into())
}

fn data(s: &str) -> Seen {
    Seen::Data(s.into())
}

const GET_H: &str = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";

/// One GET, one response fed whole and byte by byte: the events and end state must agree.
#[track_caller]
fn check_response(response: &str, expected: &[Seen], rest: Rest) {
    for step in [response.len().max(1), 1] {
        let mut h = Harness::new();
        assert_eq!(h.request(get("http://h/")), (vec![wrote(GET_H)], Rest::NeedInput));
        let mut seen = Vec::new();
        let mut last = Rest::NeedInput;
        for piece in response.as_bytes().chunks(step) {
            h.input.extend_from_slice(piece);
            h.conn.handle_input(h.now, &mut h.input);
            let (s, r) = h.drain_raw();
            seen.extend(s);
            last = r;
        }
        if last == Rest::NeedInput {
            h.conn.handle_eof(h.now, Eof::Clean);
            let (s, r) = h.drain_raw();
            seen.extend(s);
            last = r;
        }
        // Data split across feeds, joined.
        let merged: Vec<Seen> = testing::joined(seen).into_iter().map(compact).collect();
        assert_eq!(merged, expected, "step {step}: {response:?}");
        assert_eq!(last, rest, "step {step}: {response:?}");
    }
}

#[test]
fn responses_rfc9112() {
    use Seen::*;
    let done = |reusable| End(crate::End::Done { reusable });
    let must_close = |reason| End(crate::End::MustClose { reason });
    // §6.3 item 6: Content-Length.
    check_response(
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        &[Head(200), data("hello"), done(true)],
        Rest::Idle,
    );
    // §7.1: chunked, with trailers surfaced as their own event.
    check_response(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n",
        &[Head(200), data("hello"), Trailers(vec![("X-Sum".into(), "1".into())]), done(true)],
        Rest::Idle,
    );
    // §6.3 item 8: close-delimited, 3xx included; then the connection must close.
    check_response(
        "HTTP/1.1 200 OK\r\n\r\nuntil close",
        &[Head(200), data("until close"), must_close(CloseReason::ReadToEof)],
        Rest::Closed,
    );
    check_response(
        "HTTP/1.1 301 Moved\r\nLocation: /\r\n\r\n",
        &[Head(301), must_close(CloseReason::ReadToEof)],
        Rest::Closed,
    );
    // §6.3 item 1: 204 and 304 end at the head.
    check_response("HTTP/1.1 204 No Content\r\n\r\n", &[Head(204), done(true)], Rest::Idle);
    check_response(
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n",
        &[Head(304), done(true)],
        Rest::Idle,
    );
    // §9.3: keep-alive by token, case-insensitive; HTTP/1.0 only with keep-alive.
    check_response(
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive, Close\r\n\r\n",
        &[Head(200), done(false)],
        Rest::Closed,
    );
    check_response(
        "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        &[Head(200), done(false)],
        Rest::Closed,
    );
    check_response(
        "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: Keep-Alive\r\n\r\n",
        &[Head(200), done(true)],
        Rest::Idle,
    );
    // §6.1: Transfer-Encoding in HTTP/1.0 is read, then the connection closes.
    check_response(
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
        &[Head(200), data("x"), must_close(CloseReason::FaultyFraming)],
        Rest::Closed,
    );
    // §15.2: interim responses are events; 103 keeps its hints.
    check_response(
        "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        &[Info(103), Info(100), Head(200), done(true)],
        Rest::Idle,
    );
}

#[test]
fn peer_errors_close_and_say_how_far_it_got() {
    use Seen::*;
    // Smuggling shapes (§6.3 items 3, 5; §7.1).
    check_response(
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        &[Error(ErrorKind::ContentLengthWithTransferEncoding)],
        Rest::Closed,
    );
    check_response(
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        &[Error(ErrorKind::ConflictingContentLength)],
        Rest::Closed,
    );
    check_response(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n-1\r\n",
        &[Head(200), data("x"), Error(ErrorKind::InvalidChunkSize)],
        Rest::Closed,
    );
    // 101 without an upgrade asked for (RFC 9110 §15.2.2).
    check_response(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
        &[Error(ErrorKind::UnexpectedSwitchingProtocols)],
        Rest::Closed,
    );
    // Hanging up early.
    check_response(
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
        &[
            Head(200),
            data("hel"),
            Error(ErrorKind::UnexpectedEof { expected: Expected::ResponseBody }),
        ],
        Rest::Closed,
    );
    check_response(
        "HTTP/1.1 200 OK\r\n",
        &[Error(ErrorKind::UnexpectedEof { expected: Expected::ResponseHead })],
        Rest::Closed,
    );
}

#[test]
fn a_reused_connection_closed_before_any_byte_is_retryable() {
    // The facts a retry needs: a reused connection closed before any response byte.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    assert_eq!(h.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").1, Rest::Idle);
    h.conn.send_request(h.now, &get("http://h/")).unwrap();
    assert_eq!(h.conn.request_sent(), RequestSent::No);
    let _ = h.conn.poll_output();
    assert_eq!(h.conn.request_sent(), RequestSent::Fully);
    h.conn.handle_eof(h.now, Eof::Clean);
    let out = h.conn.poll_output();
    let Output::Error(e) = out else { panic!("{out:?}") };
    assert_eq!(e.kind(), &ErrorKind::UnexpectedEof { expected: Expected::ResponseHead });
    assert_eq!((e.request_sent(), e.response_started()), (RequestSent::Fully, false));
    assert_eq!((e.is_retryable(true), e.is_retryable(false)), (true, false));
    // After an error: closed for good, calls are refused, nothing panics.
    assert_eq!(h.conn.poll_output(), Output::Closed);
    assert_eq!(
        h.conn.send_request(h.now, &get("http://h/")).unwrap_err().kind(),
        &ErrorKind::Misuse { call: crate::Call::SendRequest, phase: Some(Phase::Closed) }
    );
    h.input.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
    h.conn.handle_input(h.now, &mut h.input);
    h.conn.handle_eof(h.now, Eof::Clean);
    h.conn.handle_timeout(h.now + Duration::from_secs(1000));
    assert_eq!(h.conn.poll_output(), Output::Closed);
}

#[test]
fn bytes_beyond_the_body_make_the_connection_unusable() {
    // In the same read: known at the end of the body.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    let (seen, rest) = h.feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiEXTRA");
    assert_eq!(
        seen,
        [
            Seen::Head(200),
            data("hi"),
            Seen::End(End::MustClose { reason: CloseReason::ExtraBytes })
        ]
    );
    assert_eq!(rest, Rest::Closed);
    assert_eq!(&h.input[..], b"EXTRA", "left for the caller to see, never parsed");
    // In a later read: the exchange was complete, the idle connection closes on them.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    assert_eq!(h.feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").1, Rest::Idle);
    assert_eq!(h.feed("EXTRA"), (vec![], Rest::Closed));
}

#[test]
fn bytes_beyond_a_closing_response_change_nothing() {
    // The connection closes anyway, so the end is the same whether the bytes came in the
    // response's last read or later. Found by the response_stream fuzz target
    // (fuzz/regressions/response_stream/close-then-extra-bytes).
    for (request, response) in [
        (get("http://h/"), "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi"),
        (
            get("http://h/").header("Connection", "close"),
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
        ),
        (get("http://h/"), "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
    ] {
        let mut h = Harness::new();
        h.request(request.clone());
        let (seen, rest) = h.feed(&alloc::format!("{response}EXTRA"));
        assert_eq!(seen, [Seen::Head(200), data("hi"), Seen::End(End::Done { reusable: false })]);
        assert_eq!(rest, Rest::Closed);
        let mut h = Harness::new();
        h.request(request);
        let (seen, rest) = h.feed(response);
        assert_eq!(seen, [Seen::Head(200), data("hi"), Seen::End(End::Done { reusable: false })]);
        assert_eq!((rest, h.feed("EXTRA")), (Rest::Closed, (vec![], Rest::Closed)));
    }
}

#[test]
fn interim_flood_is_bounded() {
    let mut h = Harness::with(Config {
        limits: Limits { max_informational: 3, ..Limits::default() },
        ..Config::default()
    });
    h.request(get("http://h/"));
    let (seen, rest) = h.feed(&"HTTP/1.1 103 Early Hints\r\n\r\n".repeat(5));
    assert_eq!(seen.last(), Some(&Seen::Error(ErrorKind::TooManyInformational { limit: 3 })));
    assert_eq!(seen.iter().filter(|s| **s == Seen::Info(103)).count(), 3);
    assert_eq!(rest, Rest::Closed);
}

#[test]
fn a_reused_connection_expires_when_idle() {
    let mut h = Harness::new();
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na");
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(90)));
    // Second exchange on the same connection; the idle timer is disarmed.
    assert_eq!(
        h.request(get("http://h/b")),
        (vec![wrote("GET /b HTTP/1.1\r\nHost: h\r\n\r\n")], Rest::NeedInput)
    );
    assert_eq!(h.conn.poll_timeout(), None);
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb");
    // Early and repeated timeouts do nothing; the due one closes.
    assert_eq!(h.advance(Duration::from_secs(89)), (vec![], Rest::Idle));
    assert_eq!(h.advance(Duration::from_secs(1)), (vec![], Rest::Closed));
    assert_eq!(h.advance(Duration::from_secs(1)), (vec![], Rest::Closed));
}

#[test]
fn unsolicited_bytes_close_an_idle_connection() {
    // Unsolicited bytes on an idle connection close it.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(h.feed("HTTP/1.1 408 Request Timeout\r\n\r\n"), (vec![], Rest::Closed));
}

#[test]
fn eof_closes_an_idle_connection() {
    // So does the peer closing it.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(h.eof(), (vec![], Rest::Closed));
}

#[test]
fn the_response_head_deadline() {
    let config = Config {
        timeouts: Timeouts {
            response_head: Some(Duration::from_secs(5)),
            body_read: Some(Duration::from_secs(2)),
            ..Timeouts::default()
        },
        ..Config::default()
    };
    let mut h = Harness::with(config);
    h.request(get("http://h/"));
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(5)));
    assert_eq!(h.advance(Duration::from_secs(4)), (vec![], Rest::NeedInput));
    let (seen, rest) = h.advance(Duration::from_secs(1));
    assert_eq!(seen, [Seen::Error(ErrorKind::Timeout { timer: TimerKind::ResponseHead })]);
    assert_eq!(rest, Rest::Closed);
}

#[test]
fn the_body_read_deadline_is_rearmed_by_each_read() {
    let config = Config {
        timeouts: Timeouts {
            response_head: Some(Duration::from_secs(5)),
            body_read: Some(Duration::from_secs(2)),
            ..Timeouts::default()
        },
        ..Config::default()
    };
    let mut h = Harness::with(config);
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab");
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(2)));
    h.now += Duration::from_secs(1);
    h.feed("cd");
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(3)));
    let (seen, _) = h.advance(Duration::from_secs(2));
    assert_eq!(seen, [Seen::Error(ErrorKind::Timeout { timer: TimerKind::BodyRead })]);
}

#[test]
fn a_read_of_several_chunk_pieces_rearms_the_body_read_deadline_and_framing_alone_does_not() {
    let config = Config {
        timeouts: Timeouts { body_read: Some(Duration::from_secs(2)), ..Timeouts::default() },
        ..Config::default()
    };
    let mut h = Harness::with(config);
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab");
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(2)));
    // The end of one chunk, a size line and the start of the next: two pieces, one read.
    h.now += Duration::from_secs(1);
    assert_eq!(h.feed("c\r\n3\r\nde").0, [data("cde")]);
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(3)));
    h.now += Duration::from_secs(1);
    assert_eq!(h.feed("f").0, [data("f")]);
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(4)));
    // Framing bytes alone are no body data: the deadline stays.
    h.now += Duration::from_secs(1);
    assert_eq!(h.feed("\r\n").0, []);
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(4)));
    let (seen, _) = h.advance(Duration::from_secs(1));
    assert_eq!(seen, [Seen::Error(ErrorKind::Timeout { timer: TimerKind::BodyRead })]);
}

#[test]
fn request_heads_follow_each_other_in_one_block() {
    // The scratch buffer keeps room for the next head: heads of consecutive requests are
    // written one after the other into the same allocation (none per head, even while the
    // driver still holds the earlier ones), not each into a buffer of its own size.
    let mut conn = Connection::new(Duration::ZERO, Config::default());
    let now = Duration::ZERO;
    let mut heads = Vec::new();
    for _ in 0..4 {
        conn.send_request(now, &get("http://h/").header("Accept", "*/*")).unwrap();
        let Output::Transmit(t) = conn.poll_output() else { panic!("a head first") };
        heads.push(t.into_bytes());
        let mut input = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"[..]);
        conn.handle_input(now, &mut input);
        let idle = (0..8).any(|_| matches!(conn.poll_output(), Output::Idle));
        assert!(idle, "the exchange ends");
    }
    for pair in heads.windows(2) {
        assert_eq!(pair[0].as_ptr().wrapping_add(pair[0].len()), pair[1].as_ptr());
    }
}

#[test]
fn outputs_stay_small() {
    // Every output is moved into the queue and out again, and an event or an end inside
    // other values on the way: a head inline in `End::Tunnel` made them all 120 bytes.
    use core::mem::size_of;
    assert!(size_of::<crate::ResponseHead>() <= 64, "{}", size_of::<crate::ResponseHead>());
    assert!(size_of::<Output>() <= 72, "{}", size_of::<Output>());
    assert!(size_of::<End>() <= 48, "{}", size_of::<End>());
}

#[test]
fn a_known_length_body_passes_through_uncopied() {
    // Known length: bytes pass through untouched.
    let mut h = Harness::new();
    assert_eq!(
        h.request(post("http://h/", BodyFraming::Length(5))),
        (vec![wrote("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n")], Rest::NeedBody)
    );
    let body = Bytes::from_static(b"hello");
    h.conn.send_body(h.now, body.slice(..2)).unwrap();
    h.conn.send_body(h.now, body.slice(2..)).unwrap();
    let out = h.conn.poll_output();
    let Output::Transmit(t) = out else { panic!("{out:?}") };
    // Not copied: the very same memory.
    assert_eq!(t.as_ptr(), body.as_ptr());
    assert_eq!(h.drain(), (vec![wrote("llo")], Rest::NeedInput));
    assert_eq!(h.conn.request_sent(), RequestSent::Fully);
}

#[test]
fn a_chunked_body_has_its_size_lines_as_separate_pieces() {
    // Chunked: size lines are separate small pieces; trailers at the end.
    let mut h = Harness::new();
    h.request(post("http://h/", BodyFraming::Chunked));
    h.conn.send_body(h.now, Bytes::from_static(b"0123456789abcdef!")).unwrap();
    let trailers = Headers::from_pairs([("X-Sum", "9")]).unwrap();
    h.conn.finish_body(h.now, Some(&trailers)).unwrap();
    let mut pieces = Vec::new();
    while let Output::Transmit(t) = h.conn.poll_output() {
        pieces.push(String::from_utf8_lossy(&t).into_owned());
    }
    assert_eq!(pieces, ["11\r\n", "0123456789abcdef!", "\r\n", "0\r\nX-Sum: 9\r\n\r\n"]);
}

#[test]
fn a_body_longer_than_declared_is_a_caller_error() {
    // Length mismatches are the caller's errors, and close the connection.
    let mut h = Harness::new();
    h.request(post("http://h/", BodyFraming::Length(2)));
    let e = h.conn.send_body(h.now, Bytes::from_static(b"abc")).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::BodyLength { expected: 2, actual: 3 });
    assert_eq!(h.drain(), (vec![], Rest::Closed));
    // Not yet polled, the head is dropped too: nothing of a request the caller broke is written.
    let mut h = Harness::new();
    h.conn.send_request(h.now, &post("http://h/", BodyFraming::Length(2))).unwrap();
    assert!(h.conn.send_body(h.now, Bytes::from_static(b"abc")).is_err());
    assert_eq!(h.drain(), (vec![], Rest::Closed));
}

#[test]
fn a_body_shorter_than_declared_is_a_caller_error() {
    let mut h = Harness::new();
    h.request(post("http://h/", BodyFraming::Length(2)));
    h.conn.send_body(h.now, Bytes::from_static(b"a")).unwrap();
    assert_eq!(
        h.conn.finish_body(h.now, None).unwrap_err().kind(),
        &ErrorKind::BodyLength { expected: 2, actual: 1 }
    );
}

#[test]
fn no_chunked_body_to_an_http10_peer() {
    // Never chunked to an HTTP/1.0 peer.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    h.feed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
    let e = h.conn.send_request(h.now, &post("http://h/", BodyFraming::Chunked)).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::ChunkedToHttp10);
    assert!(h.conn.is_idle(), "a refused request changes nothing");
}

#[test]
fn a_response_before_the_whole_body_abandons_it() {
    // A response that ends before the body went out: the body is abandoned.
    let mut h = Harness::new();
    h.request(post("http://h/", BodyFraming::Length(100)));
    h.conn.send_body(h.now, Bytes::from_static(b"part")).unwrap();
    let (seen, rest) = h.feed("HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        seen,
        [
            wrote("part"),
            Seen::Head(413),
            Seen::End(End::MustClose { reason: CloseReason::RequestIncomplete })
        ]
    );
    assert_eq!(rest, Rest::Closed);
}

#[test]
fn expect_continue_holds_the_body_until_a_100() {
    let req = || post("http://h/", BodyFraming::Length(4)).header("Expect", "100-Continue");
    let head = "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n";
    // Held until a 100; a 103 (RFC 8297) never releases it.
    let mut h = Harness::new();
    assert_eq!(h.request(req()), (vec![wrote(head)], Rest::NeedInput));
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(1)));
    assert_eq!(
        h.feed("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"),
        (vec![Seen::Info(103)], Rest::NeedInput)
    );
    // A 100 with header fields is still an interim response, and releases the body.
    assert_eq!(
        h.feed("HTTP/1.1 100 Continue\r\nX-A: b\r\n\r\n"),
        (vec![Seen::Info(100)], Rest::NeedBody)
    );
    h.conn.send_body(h.now, Bytes::from_static(b"body")).unwrap();
    assert_eq!(h.drain(), (vec![wrote("body")], Rest::NeedInput));
    assert_eq!(h.conn.poll_timeout(), None);
}

#[test]
fn expect_continue_deadline_sends_the_held_body() {
    let req = || post("http://h/", BodyFraming::Length(4)).header("Expect", "100-Continue");
    // Body pushed early is held too; the deadline sends it.
    let mut h = Harness::new();
    h.request(req());
    h.conn.send_body(h.now, Bytes::from_static(b"body")).unwrap();
    assert_eq!(h.drain(), (vec![], Rest::NeedInput));
    assert_eq!(h.advance(Duration::from_millis(999)), (vec![], Rest::NeedInput));
    assert_eq!(h.advance(Duration::from_millis(1)), (vec![wrote("body")], Rest::NeedInput));
}

#[test]
fn expect_continue_final_response_first_drops_the_body() {
    let req = || post("http://h/", BodyFraming::Length(4)).header("Expect", "100-Continue");
    // A final response first: the body is never sent and the connection closes.
    let mut h = Harness::new();
    h.request(req());
    let (seen, rest) = h.feed("HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        seen,
        [Seen::Head(417), Seen::End(End::MustClose { reason: CloseReason::RequestIncomplete })]
    );
    assert_eq!(rest, Rest::Closed);
    assert_eq!(
        h.conn.send_body(h.now, Bytes::from_static(b"x")).unwrap_err().kind(),
        &ErrorKind::Misuse { call: crate::Call::SendBody, phase: Some(Phase::Closed) }
    );
}

#[test]
fn expect_continue_final_response_before_a_finished_held_body() {
    // The whole body held, `finish_body` already called, then a final response: the body is
    // never sent, so the server may still be waiting for it (RFC 9110 §10.1.1): reusing the
    // connection would make the next request its body. Found by the response_stream fuzz
    // target (fuzz/regressions/response_stream/final-before-finished-held-body).
    for body in [BodyFraming::Length(4), BodyFraming::Chunked] {
        let mut h = Harness::new();
        h.request(post("http://h/", body).header("Expect", "100-continue"));
        h.conn.send_body(h.now, Bytes::from_static(b"body")).unwrap();
        if body == BodyFraming::Chunked {
            h.conn.finish_body(h.now, None).unwrap();
        }
        assert_eq!(h.drain(), (vec![], Rest::NeedInput));
        let (seen, rest) = h.feed("HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            seen,
            [Seen::Head(417), Seen::End(End::MustClose { reason: CloseReason::RequestIncomplete })],
            "{body:?}"
        );
        assert_eq!(rest, Rest::Closed);
        // Nothing of the body goes out later either.
        assert_eq!(h.advance(Duration::from_secs(5)), (vec![], Rest::Closed));
    }
}

#[test]
fn upgrade() {
    let mut h = Harness::new();
    h.request(get("http://h/").header("Connection", "upgrade").header("Upgrade", "websocket"));
    let (seen, rest) =
        h.feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x01\x00");
    assert_eq!(
        seen,
        [Seen::Head(101), Seen::End(End::Upgraded { leftover: Bytes::from_static(b"\x01\x00") })]
    );
    assert_eq!(rest, Rest::HandedOver);
}

#[test]
fn a_small_discarded_body_is_drained() {
    // Small enough: drained, connection kept.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234");
    h.conn.discard_body(h.now);
    assert_eq!(h.feed("56789"), (vec![Seen::End(End::Done { reusable: true })], Rest::Idle));
}

#[test]
fn a_large_discarded_body_closes_the_connection() {
    // Too big: closed instead of read.
    let limits = Limits { max_drain_bytes: 4, ..Limits::default() };
    let mut h = Harness::with(Config { limits, ..Config::default() });
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    h.conn.discard_body(h.now);
    assert_eq!(
        h.feed("0123456789"),
        (vec![Seen::End(End::MustClose { reason: CloseReason::BodyNotDrained })], Rest::Closed)
    );
}

#[test]
fn a_discarded_chunked_body_ends_the_same_at_every_split() {
    // Reads that hold the end of one chunk and the start of the next (two pieces of one
    // split): under the drain bound the body is drained and the connection kept; past it the
    // exchange ends at the first piece that does not fit, however the reads were split.
    let body = "6\r\nabcdef\r\n3\r\nxyz\r\n4\r\n1234\r\n0\r\n\r\n";
    for (max, end) in [
        (13, End::Done { reusable: true }),
        (12, End::MustClose { reason: CloseReason::BodyNotDrained }),
        (5, End::MustClose { reason: CloseReason::BodyNotDrained }),
    ] {
        for i in 0..=body.len() {
            for j in i..=body.len() {
                let limits = Limits { max_drain_bytes: max, ..Limits::default() };
                let mut h = Harness::with(Config { limits, ..Config::default() });
                h.request(get("http://h/"));
                h.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                h.conn.discard_body(h.now);
                let mut seen = Vec::new();
                for read in [&body[..i], &body[i..j], &body[j..]] {
                    if h.conn.is_closed() || h.conn.is_idle() {
                        break;
                    }
                    seen.extend(h.feed(read).0);
                }
                assert_eq!(seen, [Seen::End(end.clone())], "max {max}, cut {i} {j}");
            }
        }
    }
}

#[test]
fn discarding_a_body_that_came_whole() {
    // The whole response in the read that brought the head: its end is already decided when
    // the caller discards the body at the head, and the queued data and trailers must go all
    // the same, as when the body comes in later reads. Found by the response_stream fuzz target
    // (fuzz/regressions/response_stream/discard-whole-*).
    for response in [
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n\r\n",
    ] {
        let mut h = Harness::new();
        h.request(get("http://h/"));
        h.input.extend_from_slice(response.as_bytes());
        h.conn.handle_input(h.now, &mut h.input);
        let out = h.conn.poll_output();
        assert!(matches!(out, Output::Event(Event::ResponseHead(_))), "{out:?}");
        h.conn.discard_body(h.now);
        assert_eq!(h.drain(), (vec![Seen::End(End::Done { reusable: true })], Rest::Idle));
    }
}

#[test]
fn head_requests_have_no_body() {
    let mut h = Harness::new();
    h.request(Request::new(Method::HEAD, Url::parse("http://h/").unwrap()));
    assert_eq!(
        h.feed("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
        (vec![Seen::Head(200), Seen::End(End::Done { reusable: true })], Rest::Idle)
    );
}

#[test]
fn misuse_is_refused_without_damage() {
    let mut h = Harness::new();
    let misuse = |call, phase| ErrorKind::Misuse { call, phase: Some(phase) };
    let e = h.conn.send_body(h.now, Bytes::from_static(b"x")).unwrap_err();
    assert_eq!(e.kind(), &misuse(crate::Call::SendBody, Phase::Idle));
    assert_eq!(e.to_string(), "send_body called while idle");
    let e = h.conn.finish_body(h.now, None).unwrap_err();
    assert_eq!(e.kind(), &misuse(crate::Call::FinishBody, Phase::Idle));
    let e = h.conn.handle_reconnected(h.now).unwrap_err();
    assert_eq!(e.kind(), &misuse(crate::Call::HandleReconnected, Phase::Idle));
    h.request(get("http://h/"));
    let e = h.conn.send_request(h.now, &get("http://h/")).unwrap_err();
    assert_eq!(e.kind(), &misuse(crate::Call::SendRequest, Phase::RecvHead));
    // The exchange in flight is untouched.
    assert_eq!(
        h.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        (vec![Seen::Head(200), Seen::End(End::Done { reusable: true })], Rest::Idle)
    );
    // A bad header is refused and nothing is queued.
    let e = h.conn.send_request(h.now, &get("http://h/").header("X", "a\r\nb")).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidHeaderValue { name: "X".into() });
    assert_eq!(h.drain(), (vec![], Rest::Idle));
}

#[test]
fn transmit_debug_hides_bytes() {
    let mut h = Harness::new();
    let auth = ProxyAuth::basic(Credentials::new("user", "hunter2"));
    h.conn.send_request(h.now, &get("http://h/").forwarded_with(Some(auth))).unwrap();
    let out = h.conn.poll_output();
    let dbg = alloc::format!("{out:?} {:?}", h.conn);
    assert!(!dbg.contains("aHVudGVy") && !dbg.contains("Basic"), "{dbg}");
}

// ---- CONNECT ---------------------------------------------------------------------------

fn target() -> crate::url::Authority {
    Url::parse("https://origin.example:8443/").unwrap().authority()
}

fn creds(preemptive: bool) -> Option<ProxyAuth> {
    Some(ProxyAuth::basic(Credentials::new("Aladdin", "open sesame")).preemptive(preemptive))
}

const BASIC: &str = "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n";

fn connect_head(auth: bool) -> String {
    let mut s =
        String::from("CONNECT origin.example:8443 HTTP/1.1\r\nHost: origin.example:8443\r\n");
    if auth {
        s.push_str(BASIC);
    }
    s.push_str("\r\n");
    s
}

fn connect(h: &mut Harness, auth: Option<ProxyAuth>) -> (Vec<Seen>, Rest) {
    h.conn.send_connect(h.now, &Connect::new(target()).auth(auth)).unwrap();
    h.drain()
}

#[test]
fn connect_tunnel_leftover_however_split() {
    let reply = "HTTP/1.1 200 Connection Established\r\nContent-Length: 99\r\n\r\n\x16\x03\x01TLS";
    for step in 1..reply.len() {
        let mut h = Harness::new();
        assert_eq!(connect(&mut h, None), (vec![wrote(&connect_head(false))], Rest::NeedInput));
        let mut seen = Vec::new();
        for piece in reply.as_bytes().chunks(step) {
            if h.conn.is_closed() {
                // After the tunnel opens the driver hands the rest to TLS directly.
                h.input.extend_from_slice(piece);
                continue;
            }
            seen.extend(h.feed(core::str::from_utf8(piece).unwrap()).0);
        }
        let leftover: Vec<u8> = match seen.as_slice() {
            [Seen::Tunnel(200, leftover)] => {
                leftover.iter().chain(h.input.iter()).copied().collect()
            }
            other => panic!("step {step}: {other:?}"),
        };
        // A 2xx's Content-Length is ignored: every byte after the head is the tunnel's.
        assert_eq!(leftover, b"\x16\x03\x01TLS", "step {step}");
    }
}

#[test]
fn connect_407_retries_basic_on_the_same_connection_when_framed() {
    let mut h = Harness::new();
    connect(&mut h, creds(false));
    let (seen, rest) = h.feed(
        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 4\r\n\r\ndeny",
    );
    assert_eq!(seen, [wrote(&connect_head(true))]);
    assert_eq!(rest, Rest::NeedInput);
    let (seen, _) = h.feed("HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(seen, [Seen::Tunnel(200, Bytes::new())]);
}

#[test]
fn connect_407_unframed_asks_for_a_new_connection() {
    let mut h = Harness::new();
    connect(&mut h, creds(false));
    let (seen, rest) =
        h.feed("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n");
    assert_eq!((seen, rest), (vec![], Rest::NeedInput));
    let (seen, rest) = h.eof();
    assert_eq!((seen, rest), (vec![], Rest::Reconnect));
    h.input.clear();
    h.conn.handle_reconnected(h.now).unwrap();
    assert_eq!(h.drain(), (vec![wrote(&connect_head(true))], Rest::NeedInput));
    assert_eq!(
        h.feed("HTTP/1.1 200 OK\r\n\r\n"),
        (vec![Seen::Tunnel(200, Bytes::new())], Rest::HandedOver)
    );
    // Also when the 407 says Connection: close.
    let mut h = Harness::new();
    connect(&mut h, creds(false));
    let (_, rest) = h.feed("HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assert_eq!(rest, Rest::Reconnect);
}

#[test]
fn connect_refused_preemptive_credentials_are_not_retried() {
    // Preemptive credentials refused: no pointless retry with the same value.
    let mut h = Harness::new();
    assert_eq!(connect(&mut h, creds(true)).0, [wrote(&connect_head(true))]);
    let (seen, rest) = h.feed("HTTP/1.1 407 No\r\nProxy-Authenticate: Basic realm=x, Digest realm=y\r\nContent-Length: 0\r\n\r\n");
    let [Seen::Error(ErrorKind::ProxyAuthFailed { target: t, attempts: 1, head, body })] =
        seen.as_slice()
    else {
        panic!("{seen:?}")
    };
    assert_eq!((t, head.status(), &body[..]), (&target(), 407, &b""[..]));
    assert_eq!(
        head.headers().get("proxy-authenticate"),
        Some(&b"Basic realm=x, Digest realm=y"[..])
    );
    assert_eq!(rest, Rest::Closed);
}

#[test]
fn connect_407_without_credentials_is_refused_with_its_reply() {
    // No credentials: the 407 itself, with its fields and body.
    let mut h = Harness::new();
    connect(&mut h, None);
    let (seen, _) =
        h.feed("HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic\r\nContent-Length: 2\r\n\r\nno");
    let [Seen::Error(ErrorKind::ProxyRefused { target: t, head, body })] = seen.as_slice() else {
        panic!("{seen:?}")
    };
    assert_eq!((t, head.status(), head.reason(), &body[..]), (&target(), 407, "Auth", &b"no"[..]));
    assert_eq!(head.headers().get("proxy-authenticate"), Some(&b"Basic"[..]));
}

#[test]
fn connect_refusal_keeps_a_bounded_body() {
    // Anything else: status, reason, fields and a bounded body.
    let limits = Limits { max_proxy_error_body: 8, ..Limits::default() };
    let mut h = Harness::with(Config { limits, ..Config::default() });
    connect(&mut h, None);
    let (seen, rest) =
        h.feed("HTTP/1.1 403 Forbidden\r\nContent-Length: 1000\r\n\r\nnot allowed here");
    let [Seen::Error(ErrorKind::ProxyRefused { head, body, .. })] = seen.as_slice() else {
        panic!("{seen:?}")
    };
    assert_eq!((head.status(), &body[..]), (403, &b"not allo"[..]));
    assert_eq!(rest, Rest::Closed);
}

#[test]
fn connect_close_delimited_refusal_is_reported_at_eof() {
    // Close-delimited refusal: reported at EOF.
    let mut h = Harness::new();
    connect(&mut h, None);
    assert_eq!(h.feed("HTTP/1.1 502 Bad Gateway\r\n\r\nupstream down").0, []);
    let (seen, _) = h.eof();
    let [Seen::Error(ErrorKind::ProxyRefused { head, body, .. })] = seen.as_slice() else {
        panic!("{seen:?}")
    };
    assert_eq!((head.status(), &body[..]), (502, &b"upstream down"[..]));
}

#[test]
fn connect_rounds_are_bounded() {
    /// An authenticator that answers every challenge with a new value, like a broken multi-step
    /// scheme would.
    struct Counter(core::sync::atomic::AtomicU32);
    impl crate::ProxyAuthenticator for Counter {
        fn scheme(&self) -> &str {
            "Custom"
        }
        fn authorization(
            &self,
            _: Option<&crate::Challenge>,
            _: &crate::Authority,
        ) -> Option<String> {
            Some(alloc::format!(
                "Custom {}",
                self.0.fetch_add(1, core::sync::atomic::Ordering::Relaxed)
            ))
        }
        fn fingerprint(&self) -> u64 {
            7
        }
    }
    let auth = ProxyAuth::custom(alloc::sync::Arc::new(Counter(0.into())), false);
    let mut h = Harness::new();
    connect(&mut h, Some(auth));
    let reply = "HTTP/1.1 407 Again\r\nProxy-Authenticate: Custom\r\nContent-Length: 0\r\n\r\n";
    let mut rounds = 0;
    loop {
        let (seen, rest) = h.feed(reply);
        if rest == Rest::Closed {
            assert!(
                matches!(
                    seen.as_slice(),
                    [Seen::Error(ErrorKind::ProxyAuthFailed { attempts: 3, head, .. })]
                        if head.status() == 407
                ),
                "{seen:?}"
            );
            break;
        }
        rounds += 1;
        assert!(rounds <= 3);
    }
    assert_eq!(rounds, 3);
}

#[test]
fn tunnel_setup_deadline_spans_rounds() {
    let config = Config {
        timeouts: Timeouts { tunnel_setup: Some(Duration::from_secs(10)), ..Timeouts::default() },
        ..Config::default()
    };
    let mut h = Harness::with(config);
    connect(&mut h, creds(false));
    h.now += Duration::from_secs(6);
    h.feed("HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n");
    let (seen, rest) = h.advance(Duration::from_secs(4));
    assert_eq!(seen, [Seen::Error(ErrorKind::Timeout { timer: TimerKind::TunnelSetup })]);
    assert_eq!(rest, Rest::Closed);
}

#[test]
fn a_407_body_deadline_does_not_outlive_the_407() {
    let mut config = Config::default();
    config.timeouts.body_read = Some(Duration::from_secs(2));
    let mut h = Harness::with(config);
    connect(&mut h, creds(false));
    h.feed("HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic\r\nContent-Length: 4\r\n\r\nde");
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(2)));
    assert_eq!(h.feed("ny"), (vec![wrote(&connect_head(true))], Rest::NeedInput));
    // Waiting for the proxy's next head is not waiting for a body.
    assert_eq!(h.conn.poll_timeout(), None);
    assert_eq!(h.advance(Duration::from_secs(5)), (vec![], Rest::NeedInput));
}

#[test]
fn discarding_more_than_the_budget_already_read_ends_at_once() {
    let mut config = Config::default();
    config.limits.max_drain_bytes = 4;
    let mut h = Harness::with(config);
    h.request(get("http://h/"));
    h.input.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    h.conn.handle_input(h.now, &mut h.input);
    let out = h.conn.poll_output();
    assert!(matches!(out, Output::Event(Event::ResponseHead(_))), "{out:?}");
    // Ten unwanted bytes are queued, the budget is four, ninety more are to come: no waiting.
    h.conn.discard_body(h.now);
    assert_eq!(
        h.drain(),
        (vec![Seen::End(End::MustClose { reason: CloseReason::BodyNotDrained })], Rest::Closed)
    );
}

// ---- regressions: bugs a first driver found ------------------------------------------------

fn timeouts(f: impl FnOnce(&mut Timeouts)) -> Config {
    let mut config = Config::default();
    f(&mut config.timeouts);
    config
}

#[test]
fn a_content_length_body_given_in_full_ends_the_upload() {
    // The declared length sent means the body is finished, with no
    // `finish_body`: the core stops asking and the response may keep the connection.
    let mut h = Harness::new();
    h.request(post("http://h/", BodyFraming::Length(3)));
    h.conn.send_body(h.now, Bytes::from_static(b"abc")).unwrap();
    assert_eq!(h.drain(), (vec![wrote("abc")], Rest::NeedInput));
    assert_eq!(h.conn.request_sent(), RequestSent::Fully);
    assert_eq!(h.conn.phase(), Phase::RecvHead);
    assert_eq!(
        h.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        (vec![Seen::Head(200), Seen::End(End::Done { reusable: true })], Rest::Idle)
    );
}

#[test]
fn finish_body_after_a_complete_content_length_body_is_misuse() {
    let mut h = Harness::new();
    h.request(post("http://h/", BodyFraming::Length(3)));
    h.conn.send_body(h.now, Bytes::from_static(b"abc")).unwrap();
    let e = h.conn.finish_body(h.now, None).unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::Misuse { call: crate::Call::FinishBody, phase: Some(Phase::RecvHead) }
    );
    assert_eq!(e.to_string(), "finish_body called while waiting for the response head");
    assert_eq!(h.drain(), (vec![wrote("abc")], Rest::NeedInput), "nothing changed");
}

#[test]
fn a_fresh_connection_arms_its_idle_deadline() {
    // A pooled, never used connection expires like a used one.
    let mut h = Harness::with(timeouts(|t| t.idle = Some(Duration::from_secs(1))));
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(1)));
    assert_eq!(h.advance(Duration::from_secs(1)), (vec![], Rest::Closed));
}

#[test]
fn a_request_after_the_idle_deadline_is_refused() {
    // `send_request(now = 5 s)` after `poll_timeout()` said 1 s, with no
    // `handle_timeout` in between.
    let mut h = Harness::with(timeouts(|t| t.idle = Some(Duration::from_secs(1))));
    h.now = Duration::from_secs(5);
    let e = h.conn.send_request(h.now, &get("http://h/")).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Timeout { timer: TimerKind::Idle });
    assert!(e.is_retryable(false), "nothing went out: {e:?}");
    assert_eq!(h.drain(), (vec![], Rest::Closed));
    // The same after an exchange, and `now` exactly at the deadline is past it.
    let mut h = Harness::with(timeouts(|t| t.idle = Some(Duration::from_secs(1))));
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 204 No Content\r\n\r\n");
    h.now = Duration::from_secs(1);
    let e = h.conn.send_connect(h.now, &Connect::new(target())).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Timeout { timer: TimerKind::Idle });
    // Before it: accepted.
    let mut h = Harness::with(timeouts(|t| t.idle = Some(Duration::from_secs(1))));
    h.now = Duration::from_millis(999);
    assert_eq!(h.request(get("http://h/")), (vec![wrote(GET_H)], Rest::NeedInput));
}

#[test]
fn a_slow_upload_is_not_a_response_head_timeout() {
    // The response-head timer starts when the request is out in full; the
    // upload has its own timer, re-armed by each piece.
    let config = timeouts(|t| {
        t.response_head = Some(Duration::from_secs(5));
        t.send_body = Some(Duration::from_secs(10));
    });
    let mut h = Harness::with(config);
    h.request(post("http://h/", BodyFraming::Chunked));
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(10)), "send_body only");
    assert_eq!(h.advance(Duration::from_secs(6)), (vec![], Rest::NeedBody));
    h.conn.send_body(h.now, Bytes::from_static(b"x")).unwrap();
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(16)), "re-armed");
    assert_eq!(h.advance(Duration::from_secs(9)), (vec![wrote("1\r\nx\r\n")], Rest::NeedBody));
    h.conn.finish_body(h.now, None).unwrap();
    // Now the response head is awaited: 15 s + 5 s.
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(20)));
    assert_eq!(h.advance(Duration::from_secs(4)), (vec![wrote("0\r\n\r\n")], Rest::NeedInput));
    let (seen, rest) = h.advance(Duration::from_secs(1));
    assert_eq!(seen, [Seen::Error(ErrorKind::Timeout { timer: TimerKind::ResponseHead })]);
    assert_eq!(rest, Rest::Closed);
}

#[test]
fn a_stalled_upload_trips_the_send_body_timer() {
    let mut h = Harness::with(timeouts(|t| t.send_body = Some(Duration::from_secs(10))));
    h.request(post("http://h/", BodyFraming::Length(10)));
    h.now = Duration::from_secs(3);
    h.conn.send_body(h.now, Bytes::from_static(b"abc")).unwrap();
    h.drain();
    assert_eq!(h.advance(Duration::from_secs(9)), (vec![], Rest::NeedBody));
    let (seen, rest) = h.advance(Duration::from_secs(1));
    assert_eq!(seen, [Seen::Error(ErrorKind::Timeout { timer: TimerKind::SendBody })]);
    assert_eq!(rest, Rest::Closed);
}

#[test]
fn a_connect_without_reply_is_a_tunnel_setup_timeout() {
    // Not `Timeout { ResponseHead }`, even when that one is shorter.
    let config = timeouts(|t| {
        t.response_head = Some(Duration::from_secs(5));
        t.tunnel_setup = Some(Duration::from_secs(10));
    });
    let mut h = Harness::with(config);
    connect(&mut h, None);
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(10)));
    let (seen, rest) = h.advance(Duration::from_secs(10));
    assert_eq!(seen, [Seen::Error(ErrorKind::Timeout { timer: TimerKind::TunnelSetup })]);
    assert_eq!(rest, Rest::Closed);
}

const FORWARDED: &str = "GET http://h/ HTTP/1.1\r\nHost: h\r\n";
const CHALLENGE: &str =
    "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\n";

#[test]
fn a_forwarded_request_waits_for_the_challenge_when_not_preemptive() {
    // `preemptive(false)` honoured, and the 407 answered on this connection
    // when its body is framed; the 407 itself is not the response.
    let mut h = Harness::new();
    let req = get("http://h/").forwarded_with(creds(false));
    assert_eq!(h.request(req), (vec![wrote(&alloc::format!("{FORWARDED}\r\n"))], Rest::NeedInput));
    let (seen, rest) = h.feed(&alloc::format!("{CHALLENGE}Content-Length: 4\r\n\r\ndeny"));
    assert_eq!(seen, [wrote(&alloc::format!("{FORWARDED}{BASIC}\r\n"))]);
    assert_eq!((rest, h.conn.request_sent()), (Rest::NeedInput, RequestSent::Fully));
    assert_eq!(
        h.feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        (vec![Seen::Head(200), data("ok"), Seen::End(End::Done { reusable: true })], Rest::Idle)
    );
}

#[test]
fn a_forwarded_request_407_unframed_asks_for_a_new_connection() {
    let mut h = Harness::new();
    h.request(get("http://h/").forwarded_with(creds(false)));
    assert_eq!(
        h.feed(&alloc::format!("{CHALLENGE}\r\nclose-delimited")),
        (vec![], Rest::NeedInput)
    );
    assert_eq!(h.eof(), (vec![], Rest::Reconnect));
    assert_eq!(h.conn.phase(), Phase::Reconnect);
    h.input.clear();
    h.conn.handle_reconnected(h.now).unwrap();
    assert_eq!(
        h.drain(),
        (vec![wrote(&alloc::format!("{FORWARDED}{BASIC}\r\n"))], Rest::NeedInput)
    );
    assert_eq!(
        h.feed("HTTP/1.1 204 No Content\r\n\r\n"),
        (vec![Seen::Head(204), Seen::End(End::Done { reusable: true })], Rest::Idle)
    );
}

#[test]
fn a_forwarded_request_with_refused_preemptive_credentials_gets_the_407() {
    // The same value again would be refused again: the 407 is the response.
    let mut h = Harness::new();
    let (seen, _) = h.request(get("http://h/").forwarded_with(creds(true)));
    assert_eq!(seen, [wrote(&alloc::format!("{FORWARDED}{BASIC}\r\n"))]);
    assert_eq!(
        h.feed(&alloc::format!("{CHALLENGE}Content-Length: 0\r\n\r\n")),
        (vec![Seen::Head(407), Seen::End(End::Done { reusable: true })], Rest::Idle)
    );
}

#[test]
fn a_forwarded_request_with_a_body_is_not_replayed() {
    // Its body went out (or is going): replaying it needs the caller; the 407 is the response.
    let mut h = Harness::new();
    h.request(post("http://h/", BodyFraming::Length(2)).forwarded_with(creds(false)));
    h.conn.send_body(h.now, Bytes::from_static(b"hi")).unwrap();
    h.drain();
    assert_eq!(
        h.feed(&alloc::format!("{CHALLENGE}Content-Length: 0\r\n\r\n")),
        (vec![Seen::Head(407), Seen::End(End::Done { reusable: true })], Rest::Idle)
    );
}

#[test]
fn an_unclean_end_of_a_close_delimited_body_is_truncation() {
    // Over TLS, an EOF without close_notify may be an attacker's.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    assert_eq!(h.feed("HTTP/1.1 200 OK\r\n\r\npartial").1, Rest::NeedInput);
    h.conn.handle_eof(h.now, Eof::Unclean);
    let (seen, rest) = h.drain();
    assert_eq!(seen, [Seen::Error(ErrorKind::UnexpectedEof { expected: Expected::CleanClose })]);
    assert_eq!(rest, Rest::Closed);
    // A clean one completes it.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 200 OK\r\n\r\nwhole");
    assert_eq!(
        h.eof(),
        (vec![Seen::End(End::MustClose { reason: CloseReason::ReadToEof })], Rest::Closed)
    );
    // A framed body needs no clean close: it ended at its length.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
    h.conn.handle_eof(h.now, Eof::Unclean);
    assert_eq!(h.drain(), (vec![], Rest::Closed));
}

#[test]
fn framing_fields_are_refused_as_trailers() {
    // RFC 9110 §6.5.1: a sender must not generate framing fields in trailers.
    for name in ["Content-Length", "transfer-encoding"] {
        let mut h = Harness::new();
        h.request(post("http://h/", BodyFraming::Chunked));
        let trailers = Headers::from_pairs([("X-Sum", "1"), (name, "5")]).unwrap();
        let e = h.conn.finish_body(h.now, Some(&trailers)).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::FramingHeader { name: name.into() });
        assert_eq!(h.drain(), (vec![], Rest::NeedBody), "{name}: nothing written");
        h.conn.finish_body(h.now, None).unwrap();
        assert_eq!(h.drain(), (vec![wrote("0\r\n\r\n")], Rest::NeedInput));
    }
}

#[test]
fn a_failed_send_stops_asking_for_body_and_reads_the_response() {
    let mut h = Harness::with(timeouts(|t| t.response_head = Some(Duration::from_secs(5))));
    h.request(post("http://h/", BodyFraming::Length(100)));
    h.conn.send_body(h.now, Bytes::from_static(b"part")).unwrap();
    // The write of the head broke: what is queued is dropped, no more body is asked for.
    h.conn.handle_send_failed(h.now);
    assert_eq!(h.drain(), (vec![], Rest::NeedInput));
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(5)), "bounded");
    assert_eq!(
        h.feed("HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n"),
        (
            vec![
                Seen::Head(413),
                Seen::End(End::MustClose { reason: CloseReason::RequestIncomplete })
            ],
            Rest::Closed
        )
    );
}

#[test]
fn transport_errors_carry_the_retry_facts() {
    use crate::error::TransportError;
    // A reset before any response byte, the request out in full: retryable when idempotent.
    for (error, retryable) in [
        (TransportError::Reset, true),
        (TransportError::BrokenPipe, true),
        (TransportError::Other, false),
    ] {
        let mut h = Harness::new();
        h.request(get("http://h/"));
        h.conn.handle_transport_error(h.now, error);
        let Output::Error(e) = h.conn.poll_output() else { panic!("{error:?}") };
        assert_eq!(e.kind(), &ErrorKind::Transport { error });
        assert_eq!((e.request_sent(), e.response_started()), (RequestSent::Fully, false));
        assert_eq!((e.is_retryable(true), e.is_retryable(false)), (retryable, false), "{error:?}");
        assert_eq!(h.drain(), (vec![], Rest::Closed));
    }
    // After a response byte: not retryable.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 200");
    h.conn.handle_transport_error(h.now, TransportError::Reset);
    let out = h.conn.poll_output();
    let Output::Error(e) = out else { panic!("{out:?}") };
    assert!(e.response_started() && !e.is_retryable(true), "{e:?}");
}

#[test]
fn poll_transmit_takes_every_queued_piece_at_once() {
    let mut h = Harness::new();
    h.conn.send_request(h.now, &post("http://h/", BodyFraming::Chunked)).unwrap();
    h.conn.send_body(h.now, Bytes::from_static(b"hello")).unwrap();
    let mut pieces: Vec<Bytes> = Vec::new();
    assert_eq!(h.conn.poll_transmit(&mut pieces), 4);
    let text: Vec<&[u8]> = pieces.iter().map(|b| &b[..]).collect();
    assert_eq!(
        text,
        [
            &b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"5\r\n",
            b"hello",
            b"\r\n"
        ]
    );
    assert_eq!(h.conn.poll_transmit(&mut pieces), 0);
    assert_eq!(h.conn.request_sent(), RequestSent::Partly);
    assert_eq!(h.conn.poll_output(), Output::NeedBody);
}

#[test]
fn setup_phases_are_timed_by_the_connection() {
    use crate::conn::SetupPhase;
    let mut h = Harness::new();
    h.conn.start_setup(h.now, SetupPhase::Connect);
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(30)));
    h.conn.end_setup(h.now, SetupPhase::Connect);
    h.conn.start_setup(h.now, SetupPhase::TlsHandshake);
    let (seen, rest) = h.advance(Duration::from_secs(30));
    assert_eq!(seen, [Seen::Error(ErrorKind::Timeout { timer: TimerKind::TlsHandshake })]);
    assert_eq!(rest, Rest::Closed);
    // Ended in time: nothing fires, and the idle deadline is the next one.
    let mut h = Harness::new();
    h.conn.start_setup(h.now, SetupPhase::Connect);
    h.now = Duration::from_secs(29);
    h.conn.end_setup(h.now, SetupPhase::Connect);
    assert_eq!(h.conn.poll_timeout(), Some(Duration::from_secs(90)));
    // A closed connection times nothing.
    let (_, rest) = h.feed("HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(rest, Rest::Closed);
    h.conn.start_setup(h.now, SetupPhase::Connect);
    assert_eq!(h.conn.poll_timeout(), None);
}

#[test]
fn a_held_body_is_not_fully_sent() {
    // `request_sent()` answered `Fully` for a held body that never left, and after
    // a 417 abandoned it.
    let mut h = Harness::new();
    h.request(post("http://h/", BodyFraming::Length(4)).header("Expect", "100-continue"));
    h.conn.send_body(h.now, Bytes::from_static(b"body")).unwrap();
    assert_eq!(h.drain().1, Rest::NeedInput);
    assert_eq!(
        (h.conn.phase(), h.conn.request_sent()),
        (Phase::AwaitContinue, RequestSent::Partly)
    );
    h.input.extend_from_slice(b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 1\r\n\r\n");
    h.conn.handle_input(h.now, &mut h.input);
    assert_eq!(h.conn.request_sent(), RequestSent::Partly);
}

#[test]
fn phases_name_the_diagram() {
    let mut h = Harness::new();
    assert_eq!(h.conn.phase(), Phase::Idle);
    h.request(post("http://h/", BodyFraming::Length(2)));
    assert_eq!(h.conn.phase(), Phase::SendBody);
    h.conn.send_body(h.now, Bytes::from_static(b"ab")).unwrap();
    assert_eq!(h.conn.phase(), Phase::RecvHead);
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\na");
    assert_eq!(h.conn.phase(), Phase::RecvBody);
    h.feed("b");
    assert_eq!(h.conn.phase(), Phase::Idle);
    let mut h = Harness::new();
    connect(&mut h, None);
    assert_eq!(h.conn.phase(), Phase::ProxyConnect);
    h.feed("HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!((h.conn.phase(), h.conn.poll_output()), (Phase::HandedOver, Output::HandedOver));
    assert_eq!(alloc::format!("{}", Phase::AwaitContinue), "waiting for 100 (continue)");
}

#[test]
fn a_proxy_refusal_is_not_the_peer_breaking_http() {
    let mut h = Harness::new();
    connect(&mut h, None);
    h.input.extend_from_slice(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    h.conn.handle_input(h.now, &mut h.input);
    let out = h.conn.poll_output();
    let Output::Error(e) = out else { panic!("{out:?}") };
    assert_eq!(e.blame(), crate::Blame::Refused);
    assert_eq!(e.to_string(), "proxy refused the tunnel to origin.example:8443: 403 Forbidden");
}

#[test]
fn the_upload_timer_stops_at_the_final_head() {
    // An upload the response overtook ends with the response: only the response's timers run.
    let mut h = Harness::with(timeouts(|t| t.send_body = Some(Duration::from_secs(10))));
    h.request(post("http://h/", BodyFraming::Chunked));
    assert_eq!(h.feed("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab").1, Rest::NeedBody);
    h.conn.send_body(h.now, Bytes::from_static(b"x")).unwrap();
    assert_eq!(h.conn.poll_timeout(), None);
    assert_eq!(h.advance(Duration::from_secs(60)), (vec![wrote("1\r\nx\r\n")], Rest::NeedBody));
    assert_eq!(
        h.feed("cd"),
        (
            vec![data("cd"), Seen::End(End::MustClose { reason: CloseReason::RequestIncomplete })],
            Rest::Closed
        )
    );
}

/// Shapes `req` for a route through a forwarding proxy with these credentials.
trait ForwardedWith {
    fn forwarded_with(self, auth: Option<ProxyAuth>) -> Request;
}

impl ForwardedWith for Request {
    fn forwarded_with(self, auth: Option<ProxyAuth>) -> Request {
        let mut proxy = crate::route::Proxy::parse("http://p:1").unwrap();
        if let Some(auth) = auth {
            proxy = proxy.with_auth(auth);
        }
        let route = crate::Route::new(self.url(), Some(proxy));
        self.via(&route)
    }
}

// ---- transfer codings and long heads through the connection (RFC 9112 §7, §5) --------------

/// A gzip member (RFC 1952): a minimal header, raw deflate, CRC-32 and length.
fn gzip(data: &[u8]) -> alloc::vec::Vec<u8> {
    let mut out = alloc::vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, 6));
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// A zlib stream (RFC 1950), what HTTP's `deflate` means.
fn zlib(data: &[u8]) -> alloc::vec::Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

/// Feeds raw bytes (not text) and drains, data joined.
fn feed_bytes(
    h: &mut Harness,
    bytes: &[u8],
) -> (alloc::string::String, Rest, alloc::vec::Vec<Seen>) {
    h.input.extend_from_slice(bytes);
    h.conn.handle_input(h.now, &mut h.input);
    let (seen, rest) = h.drain();
    let data = seen
        .iter()
        .filter_map(|s| if let Seen::Data(d) = s { Some(d.as_str()) } else { None })
        .collect();
    (data, rest, seen)
}

#[test]
fn a_gzip_transfer_coding_below_chunked_is_decoded_before_the_caller_sees_it() {
    // RFC 9112 §6.1, §7: the caller never receives transfer-coded bytes as content.
    let coded = gzip(b"hello, gzip");
    let mut wire = alloc::format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n{:x}\r\n",
        coded.len()
    )
    .into_bytes();
    wire.extend_from_slice(&coded);
    wire.extend_from_slice(b"\r\n0\r\n\r\n");
    let mut h = Harness::new();
    h.request(get("http://h/"));
    let (data, rest, seen) = feed_bytes(&mut h, &wire);
    assert_eq!(data, "hello, gzip", "{seen:?}");
    assert_eq!(rest, Rest::Idle, "{seen:?}");
    assert!(seen.contains(&Seen::End(End::Done { reusable: true })), "{seen:?}");
}

#[test]
fn a_deflate_body_read_to_a_clean_close_is_decoded() {
    let coded = zlib(b"deflated until close");
    let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: deflate\r\n\r\n".to_vec();
    wire.extend_from_slice(&coded);
    let mut h = Harness::new();
    h.request(get("http://h/"));
    let (data, _, _) = feed_bytes(&mut h, &wire);
    let (seen, _) = h.eof();
    let tail: alloc::string::String = seen
        .iter()
        .filter_map(|s| if let Seen::Data(d) = s { Some(d.as_str()) } else { None })
        .collect();
    assert_eq!(alloc::format!("{data}{tail}"), "deflated until close");
    assert!(
        seen.contains(&Seen::End(End::MustClose { reason: CloseReason::ReadToEof })),
        "{seen:?}"
    );
}

#[test]
fn a_truncated_gzip_body_is_an_error_not_a_short_body() {
    let coded = gzip(&[b'x'; 5000]);
    let cut = &coded[..coded.len() - 6];
    let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec();
    wire.extend_from_slice(cut);
    let mut h = Harness::new();
    h.request(get("http://h/"));
    let _ = feed_bytes(&mut h, &wire);
    let (seen, rest) = h.eof();
    assert!(
        matches!(seen.last(), Some(Seen::Error(ErrorKind::InvalidCodedBody { .. }))),
        "{seen:?}"
    );
    assert_eq!(rest, Rest::Closed);
}

#[test]
fn an_unknown_transfer_coding_is_refused() {
    let mut h = Harness::new();
    h.request(get("http://h/"));
    let (seen, rest) = h.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: br, chunked\r\n\r\n0\r\n\r\n");
    assert!(
        matches!(seen.last(), Some(Seen::Error(ErrorKind::UnsupportedTransferCoding { coding })) if coding == "br"),
        "{seen:?}"
    );
    assert_eq!(rest, Rest::Closed);
}

#[test]
fn a_long_head_fed_a_byte_at_a_time_is_parsed_once_it_ends() {
    // Each read used to re-parse the head from its start.
    let mut head = alloc::string::String::from("HTTP/1.1 200 OK\r\n");
    for i in 0..500 {
        head.push_str(&alloc::format!("X-Field-{i}: {}\r\n", "v".repeat(40)));
    }
    head.push_str("Content-Length: 0\r\n\r\n");
    let mut config = Config::default();
    config.limits.max_headers = 600;
    let mut h = Harness::with(config);
    h.request(get("http://h/"));
    for b in head.as_bytes()[..head.len() - 1].iter() {
        h.input.extend_from_slice(&[*b]);
        h.conn.handle_input(h.now, &mut h.input);
        assert!(matches!(h.conn.poll_output(), Output::NeedInput));
    }
    let scanned = h.conn.head_scanned().expect("reading a head");
    assert!(scanned + 4 >= head.len() - 1, "the parser remembers how far it looked: {scanned}");
    let (seen, _) = h.feed("\n");
    assert_eq!(seen[0], Seen::Head(200));
}

#[test]
fn an_errors_debug_shows_its_kind_first() {
    let e = crate::Error::new(ErrorKind::InvalidMethod);
    let shown = alloc::format!("{e:?}");
    assert!(shown.starts_with("Error { kind: InvalidMethod, blame: Caller,"), "{shown}");
}

/// A GET whose response `wire` is fed `step` bytes at a time (then EOF, if still reading),
/// the body discarded as soon as the final head is polled: what came out, data joined.
fn discarded_at_head(config: Config, wire: &[u8], step: usize) -> (Vec<Seen>, Rest) {
    let mut h = Harness::with(config);
    h.request(get("http://h/"));
    let mut seen = Vec::new();
    let mut rest = Rest::NeedInput;
    let drain = |h: &mut Harness, seen: &mut Vec<testing::Seen>| {
        testing::drain(&mut h.conn, seen, testing::Join::Pieces, |conn, out| {
            if let Output::Event(Event::ResponseHead(_)) = out {
                conn.discard_body(Duration::ZERO);
            }
        })
    };
    for piece in wire.chunks(step) {
        h.input.extend_from_slice(piece);
        h.conn.handle_input(h.now, &mut h.input);
        rest = drain(&mut h, &mut seen);
    }
    if rest.is_reading() {
        h.conn.handle_eof(h.now, Eof::Clean);
        rest = drain(&mut h, &mut seen);
    }
    (testing::joined(seen).into_iter().map(compact).collect(), rest)
}

#[test]
fn a_discarded_coded_body_ends_the_same_however_split() {
    // A transfer-coding error in a body the caller discards at its head: in one read the body
    // is decoded before the caller can say it wants none of it, byte by byte it arrives after
    // `discard_body`; the end must not depend on that (fuzz/regressions/response_stream/
    // discard-coded-invalid-runs-differ). Discarded, the content is not the caller's problem:
    // the exchange ends, never reusable, without an error. Delivered, it is an error.
    use crate::wire::Coding;
    let mut broken_zlib = zlib(b"hello, deflate until close");
    *broken_zlib.last_mut().unwrap() ^= 1;
    let mut broken_gzip = gzip(b"hello, gzip");
    broken_gzip[12] ^= 0x55;
    let mut until_close = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: deflate\r\n\r\n".to_vec();
    until_close.extend_from_slice(&broken_zlib);
    let mut chunked = alloc::format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n{:x}\r\n",
        broken_gzip.len()
    )
    .into_bytes();
    chunked.extend_from_slice(&broken_gzip);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    // Cut short: the zlib stream lacks its Adler-32 when the last chunk says the body is over.
    let whole_zlib = zlib(b"a complete body, a truncated stream");
    let cut = &whole_zlib[..whole_zlib.len() - 4];
    let mut truncated = alloc::format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: deflate, chunked\r\n\r\n{:x}\r\n",
        cut.len()
    )
    .into_bytes();
    truncated.extend_from_slice(cut);
    truncated.extend_from_slice(b"\r\n0\r\n\r\n");
    // 1000 bytes of content, over a limit of 100 on decoding: discarded, not an error either.
    let mut bomb = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: deflate\r\n\r\n".to_vec();
    bomb.extend_from_slice(&zlib(&[b'z'; 1000]));
    let mut small_decode = Config::default();
    small_decode.limits.max_decoded_body = 100;
    for (wire, config, error) in [
        (until_close, Config::default(), ErrorKind::InvalidCodedBody { coding: Coding::Deflate }),
        (chunked, Config::default(), ErrorKind::InvalidCodedBody { coding: Coding::Gzip }),
        (truncated, Config::default(), ErrorKind::InvalidCodedBody { coding: Coding::Deflate }),
        (bomb, small_decode, ErrorKind::DecodedBodyTooLarge { limit: 100 }),
    ] {
        let text = String::from_utf8_lossy(&wire).into_owned();
        let discarded = (
            vec![
                Seen::Head(200),
                Seen::End(End::MustClose { reason: CloseReason::UndecodableBody }),
            ],
            Rest::Closed,
        );
        for step in [wire.len(), 7, 1] {
            assert_eq!(discarded_at_head(config, &wire, step), discarded, "step {step}: {text:?}");
            // Delivered: the content before the error, then the error.
            let mut h = Harness::with(config);
            h.request(get("http://h/"));
            let mut seen = Vec::new();
            for piece in wire.chunks(step) {
                h.input.extend_from_slice(piece);
                h.conn.handle_input(h.now, &mut h.input);
                seen.extend(h.drain().0);
            }
            let (tail, rest) = h.eof();
            seen.extend(tail);
            assert_eq!(seen.first(), Some(&Seen::Head(200)), "step {step}: {text:?}");
            assert_eq!(seen.last(), Some(&Seen::Error(error.clone())), "step {step}: {text:?}");
            assert_eq!(rest, Rest::Closed, "step {step}: {text:?}");
        }
    }
}

#[test]
fn a_discarded_coded_body_with_its_request_unsent_ends_request_incomplete() {
    // The fuzz input's own shape: a final response before the body held for `100 Continue`,
    // so the request is incomplete, which comes first, as in every other end.
    let mut broken = zlib(b"hello, deflate until close");
    *broken.last_mut().unwrap() ^= 1;
    let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: deflate\r\n\r\n".to_vec();
    wire.extend_from_slice(&broken);
    for step in [wire.len(), 1] {
        let mut h = Harness::new();
        let req = post("http://h/", BodyFraming::Length(5)).header("Expect", "100-continue");
        h.request(req);
        h.conn.send_body(h.now, Bytes::from_static(b"hello")).unwrap();
        let mut seen = Vec::new();
        for piece in wire.chunks(step) {
            h.input.extend_from_slice(piece);
            h.conn.handle_input(h.now, &mut h.input);
            testing::drain(&mut h.conn, &mut seen, testing::Join::Pieces, |conn, out| {
                if let Output::Event(Event::ResponseHead(_)) = out {
                    conn.discard_body(Duration::ZERO);
                }
            });
        }
        h.conn.handle_eof(h.now, Eof::Clean);
        let (tail, rest) = h.drain();
        let seen: Vec<Seen> = seen.into_iter().map(compact).chain(tail).collect();
        assert_eq!(
            seen,
            [Seen::Head(200), Seen::End(End::MustClose { reason: CloseReason::RequestIncomplete })],
            "step {step}"
        );
        assert_eq!(rest, Rest::Closed);
    }
}

#[test]
fn a_discarded_coded_body_is_budgeted_in_coded_bytes_however_split() {
    // The drain budget counts the bytes read off the connection: for a coded body, its coded
    // bytes, not the content they decode to, whether the content was decoded before
    // `discard_body` (one read) or is dropped after it (byte by byte).
    let mut config = Config::default();
    config.limits.max_drain_bytes = 64;
    let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: deflate\r\n\r\n".to_vec();
    let coded = zlib(&[b'z'; 1000]);
    assert!(coded.len() < 64);
    wire.extend_from_slice(&coded);
    let whole = discarded_at_head(config, &wire, wire.len());
    let bytewise = discarded_at_head(config, &wire, 1);
    assert_eq!(whole, bytewise, "whole and byte by byte");
    assert_eq!(
        whole,
        (
            vec![Seen::Head(200), Seen::End(End::MustClose { reason: CloseReason::ReadToEof })],
            Rest::Closed
        )
    );
    // Thirteen coded bytes for five of content: a budget of thirteen is enough, twelve is not,
    // and then the end comes at once, the body being close-delimited.
    let coded = zlib(b"hello");
    assert_eq!(coded.len(), 13);
    let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: deflate\r\n\r\n".to_vec();
    wire.extend_from_slice(&coded);
    for (max, reason) in [(13, CloseReason::ReadToEof), (12, CloseReason::BodyNotDrained)] {
        config.limits.max_drain_bytes = max;
        for step in [wire.len(), 1] {
            assert_eq!(
                discarded_at_head(config, &wire, step),
                (vec![Seen::Head(200), Seen::End(End::MustClose { reason })], Rest::Closed),
                "budget {max}, step {step}"
            );
        }
    }
    // All in the head's read and over the budget: ended by `discard_body`, no EOF needed.
    let mut h = Harness::with(config);
    h.request(get("http://h/"));
    h.input.extend_from_slice(&wire);
    h.conn.handle_input(h.now, &mut h.input);
    assert!(matches!(h.conn.poll_output(), Output::Event(Event::ResponseHead(_))));
    h.conn.discard_body(h.now);
    assert_eq!(
        h.drain(),
        (vec![Seen::End(End::MustClose { reason: CloseReason::BodyNotDrained })], Rest::Closed)
    );
}

#[test]
fn retained_bytes_count_a_partial_trailer_section_and_a_refusal_body() {
    // Peer input held beyond the driver's buffer, exactly: a trailer section not yet ended
    // (the chunked decoder's), and a refused CONNECT's body kept for its error.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    assert_eq!(h.conn.retained_bytes(), 0);
    h.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n");
    assert_eq!(h.conn.retained_bytes(), 0);
    h.feed("X-Sum: 12\r\nY: 1");
    assert_eq!(h.conn.retained_bytes(), "X-Sum: 12\r\nY: 1".len());
    let (seen, _) = h.feed("\r\n\r\n");
    assert_eq!(seen.last(), Some(&Seen::End(End::Done { reusable: true })));
    assert_eq!(h.conn.retained_bytes(), 0);

    // Both at once: a refusal with a chunked body, its trailers still coming.
    let mut h = Harness::new();
    connect(&mut h, None);
    h.feed("HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(h.conn.retained_bytes(), 0);
    h.feed("7\r\nno way!\r\n0\r\nX: y\r\n");
    assert_eq!(h.conn.retained_bytes(), "no way!".len() + "X: y\r\n".len());
    let (seen, _) = h.feed("\r\n");
    let [Seen::Error(ErrorKind::ProxyRefused { body, .. })] = seen.as_slice() else {
        panic!("{seen:?}")
    };
    assert_eq!(&body[..], b"no way!");
    assert_eq!(h.conn.retained_bytes(), 0);
}

#[test]
fn getters_say_what_the_connection_holds() {
    // The configuration given.
    let limits = Limits { max_drain_bytes: 7, ..Limits::default() };
    let mut h = Harness::with(Config { limits, ..Config::default() });
    assert_eq!(h.conn.config().limits.max_drain_bytes, 7);
    // A transmit derefs to its bytes; its Debug shows only their length.
    h.conn.send_request(h.now, &get("http://h/")).unwrap();
    let Output::Transmit(t) = h.conn.poll_output() else { panic!("no transmit") };
    assert_eq!(&t[..], GET_H.as_bytes());
    assert_eq!(alloc::format!("{t:?}"), alloc::format!("Transmit({} bytes)", GET_H.len()));
    // The peer's version, once a response came.
    assert_eq!(h.conn.peer_version(), None);
    h.feed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(h.conn.peer_version(), Some(crate::Version::Http10));
    let mut h = Harness::new();
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 204 No Content\r\n\r\n");
    assert_eq!(h.conn.peer_version(), Some(crate::Version::Http11));
    // Closed, or handed over: finished either way; idle or in an exchange: not.
    assert!(h.conn.is_idle() && !h.conn.is_closed());
    h.request(get("http://h/"));
    assert!(!h.conn.is_idle() && !h.conn.is_closed());
    h.feed("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assert!(!h.conn.is_idle() && h.conn.is_closed());
    let mut h = Harness::new();
    connect(&mut h, None);
    h.feed("HTTP/1.1 200 OK\r\n\r\n");
    assert!(!h.conn.is_idle() && h.conn.is_closed());
}

#[test]
fn discarding_exactly_the_budget_already_read_waits_for_the_end() {
    // Ten unwanted bytes queued, a budget of ten: not over it, so the end is the body's own.
    let mut config = Config::default();
    config.limits.max_drain_bytes = 10;
    for (head, rest, end) in [
        (
            "HTTP/1.1 200 OK\r\n\r\n0123456789",
            None,
            End::MustClose { reason: CloseReason::ReadToEof },
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n",
            Some("0\r\n\r\n"),
            End::Done { reusable: true },
        ),
    ] {
        let mut h = Harness::with(config);
        h.request(get("http://h/"));
        h.input.extend_from_slice(head.as_bytes());
        h.conn.handle_input(h.now, &mut h.input);
        assert!(matches!(h.conn.poll_output(), Output::Event(Event::ResponseHead(_))));
        h.conn.discard_body(h.now);
        assert_eq!(h.drain(), (vec![], Rest::NeedInput), "{head:?}");
        let (seen, _) = match rest {
            Some(rest) => h.feed(rest),
            None => h.eof(),
        };
        assert_eq!(seen, [Seen::End(end)], "{head:?}");
    }
}

#[test]
fn an_empty_read_leaves_an_idle_connection_idle() {
    // Only bytes nobody asked for close an idle connection; a read of nothing is no such byte.
    let mut h = Harness::new();
    h.conn.handle_input(h.now, &mut h.input);
    assert!(h.conn.is_idle());
    assert_eq!(h.drain(), (vec![], Rest::Idle));
}

#[test]
fn eof_before_a_proxy_reply_says_a_proxy_reply_was_expected() {
    let mut h = Harness::new();
    connect(&mut h, None);
    h.feed("HTTP/1.1 200 Conn");
    let (seen, rest) = h.eof();
    assert_eq!(seen, [Seen::Error(ErrorKind::UnexpectedEof { expected: Expected::ProxyReply })]);
    assert_eq!(rest, Rest::Closed);
}

#[test]
fn poll_transmit_taking_nothing_hands_nothing_out() {
    // The write failed before the head was polled: its bytes are dropped, and a
    // `poll_transmit` that finds none does not make the request count as begun.
    let mut h = Harness::new();
    h.conn.send_request(h.now, &get("http://h/")).unwrap();
    h.conn.handle_send_failed(h.now);
    let mut pieces: Vec<Bytes> = Vec::new();
    assert_eq!(h.conn.poll_transmit(&mut pieces), 0);
    assert!(pieces.is_empty());
    assert_eq!(h.conn.request_sent(), RequestSent::No);
}

#[test]
fn a_send_failure_while_the_body_is_read_arms_no_head_deadline() {
    // The response head is already in: only its body is awaited, and no deadline of a head.
    let mut h = Harness::with(timeouts(|t| t.response_head = Some(Duration::from_secs(5))));
    h.request(post("http://h/", BodyFraming::Chunked));
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234");
    assert_eq!(h.conn.phase(), Phase::RecvBody);
    h.conn.handle_send_failed(h.now);
    assert_eq!(h.conn.poll_timeout(), None);
    let (seen, _) = h.feed("56789");
    assert_eq!(
        seen,
        [data("56789"), Seen::End(End::MustClose { reason: CloseReason::RequestIncomplete })]
    );
}

#[test]
fn only_a_407_is_answered_with_proxy_credentials() {
    // A challenge on any other status is not the proxy asking: the response is the caller's.
    let mut h = Harness::new();
    // Not preemptive: a 407 would be answered with them.
    h.conn.send_request(h.now, &get("http://h/").forwarded_with(creds(false))).unwrap();
    let (seen, _) = h.drain();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (seen, rest) = h.feed(
        "HTTP/1.1 200 OK\r\nProxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 2\r\n\r\nok",
    );
    assert_eq!(seen, [Seen::Head(200), data("ok"), Seen::End(End::Done { reusable: true })]);
    assert_eq!(rest, Rest::Idle);
}
