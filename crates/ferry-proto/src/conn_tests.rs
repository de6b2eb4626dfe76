//! Tests of the connection machine, driven like a driver would, on a virtual clock.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::auth::{Credentials, ProxyAuth};
use crate::config::{Config, Limits, Timeouts};
use crate::conn::{CloseReason, Connection, End, Event, Output};
use crate::connect::Connect;
use crate::error::{ErrorKind, RequestSent};
use crate::headers::Headers;
use crate::request::{Body, Method, Request};
use crate::time::TimerKind;
use crate::url::Url;

/// What a driver saw, normalized: writes joined, data merged.
#[derive(Debug, PartialEq, Eq, Clone)]
enum Seen {
    Wrote(String),
    Info(u16),
    Head(u16),
    Data(String),
    Trailers(Vec<(String, String)>),
    End(End),
    Error(ErrorKind),
}

/// The state `poll_output` settled in.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Rest {
    NeedInput,
    NeedBody,
    Idle,
    Reconnect,
    Closed,
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
        Harness { conn: Connection::new(config), now: Duration::ZERO, input: BytesMut::new() }
    }

    fn drain(&mut self) -> (Vec<Seen>, Rest) {
        let mut seen: Vec<Seen> = Vec::new();
        let rest = loop {
            let item = match self.conn.poll_output() {
                Output::Transmit(t) => Seen::Wrote(String::from_utf8_lossy(&t).into()),
                Output::Event(Event::Informational(h)) => Seen::Info(h.status()),
                Output::Event(Event::ResponseHead(h)) => Seen::Head(h.status()),
                Output::Event(Event::Data(d)) => Seen::Data(String::from_utf8_lossy(&d).into()),
                Output::Event(Event::Trailers(t)) => Seen::Trailers(
                    t.iter()
                        .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v).into()))
                        .collect(),
                ),
                Output::End(e) => Seen::End(e),
                Output::Error(e) => Seen::Error(e.kind().clone()),
                Output::NeedInput => break Rest::NeedInput,
                Output::NeedBody => break Rest::NeedBody,
                Output::Idle => break Rest::Idle,
                Output::Reconnect => break Rest::Reconnect,
                Output::Closed => break Rest::Closed,
            };
            match (seen.last_mut(), item) {
                (Some(Seen::Wrote(a)), Seen::Wrote(b)) => a.push_str(&b),
                (Some(Seen::Data(a)), Seen::Data(b)) => a.push_str(&b),
                (_, item) => seen.push(item),
            }
        };
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
        self.conn.handle_eof(self.now);
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

fn post(url: &str, body: Body) -> Request {
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
            let (s, r) = h.feed(core::str::from_utf8(piece).unwrap());
            seen.extend(s);
            last = r;
        }
        if last == Rest::NeedInput {
            let (s, r) = h.eof();
            seen.extend(s);
            last = r;
        }
        // Merge data split across feeds.
        let mut merged: Vec<Seen> = Vec::new();
        for item in seen {
            match (merged.last_mut(), item) {
                (Some(Seen::Data(a)), Seen::Data(b)) => a.push_str(&b),
                (_, item) => merged.push(item),
            }
        }
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
        &[Head(200), data("hel"), Error(ErrorKind::UnexpectedEof { expected: "response body" })],
        Rest::Closed,
    );
    check_response(
        "HTTP/1.1 200 OK\r\n",
        &[Error(ErrorKind::UnexpectedEof { expected: "response head" })],
        Rest::Closed,
    );

    // The facts a retry needs: a reused connection closed before any response byte.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    assert!(h.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").1 == Rest::Idle);
    h.conn.send_request(h.now, &get("http://h/")).unwrap();
    assert_eq!(h.conn.request_sent(), RequestSent::No);
    let _ = h.conn.poll_output();
    assert_eq!(h.conn.request_sent(), RequestSent::Fully);
    h.conn.handle_eof(h.now);
    let Output::Error(e) = h.conn.poll_output() else { panic!() };
    assert_eq!((e.request_sent(), e.response_started()), (RequestSent::Fully, false));
    assert!(e.is_retryable(true) && !e.is_retryable(false));
    // After an error: closed for good, calls are refused, nothing panics.
    assert!(matches!(h.conn.poll_output(), Output::Closed));
    assert!(matches!(
        h.conn.send_request(h.now, &get("http://h/")).unwrap_err().kind(),
        ErrorKind::Misuse { state: "Closed", .. }
    ));
    h.input.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
    h.conn.handle_input(h.now, &mut h.input);
    h.conn.handle_eof(h.now);
    h.conn.handle_timeout(h.now + Duration::from_secs(1000));
    assert!(matches!(h.conn.poll_output(), Output::Closed));
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
fn reuse_and_idle_expiry() {
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
    // Unsolicited bytes on an idle connection close it.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(h.feed("HTTP/1.1 408 Request Timeout\r\n\r\n"), (vec![], Rest::Closed));
    // So does the peer closing it.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(h.eof(), (vec![], Rest::Closed));
}

#[test]
fn deadlines() {
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
fn request_bodies() {
    // Known length: bytes pass through untouched.
    let mut h = Harness::new();
    assert_eq!(
        h.request(post("http://h/", Body::Length(5))),
        (vec![wrote("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n")], Rest::NeedBody)
    );
    let body = Bytes::from_static(b"hello");
    h.conn.send_body(body.slice(..2)).unwrap();
    h.conn.send_body(body.slice(2..)).unwrap();
    h.conn.finish_body(None).unwrap();
    let Output::Transmit(t) = h.conn.poll_output() else { panic!() };
    // Not copied: the very same memory.
    assert_eq!(t.as_ptr(), body.as_ptr());
    assert_eq!(h.drain(), (vec![wrote("llo")], Rest::NeedInput));
    assert_eq!(h.conn.request_sent(), RequestSent::Fully);

    // Chunked: size lines are separate small pieces; trailers at the end.
    let mut h = Harness::new();
    h.request(post("http://h/", Body::Chunked));
    h.conn.send_body(Bytes::from_static(b"0123456789abcdef!")).unwrap();
    let trailers = Headers::from_pairs([("X-Sum", "9")]).unwrap();
    h.conn.finish_body(Some(&trailers)).unwrap();
    let mut pieces = Vec::new();
    while let Output::Transmit(t) = h.conn.poll_output() {
        pieces.push(String::from_utf8_lossy(&t).into_owned());
    }
    assert_eq!(pieces, ["11\r\n", "0123456789abcdef!", "\r\n", "0\r\nX-Sum: 9\r\n\r\n"]);

    // Length mismatches are the caller's errors, and close the connection.
    let mut h = Harness::new();
    h.request(post("http://h/", Body::Length(2)));
    let e = h.conn.send_body(Bytes::from_static(b"abc")).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::BodyLength { expected: 2, actual: 3 });
    assert_eq!(h.drain(), (vec![], Rest::Closed));
    let mut h = Harness::new();
    h.request(post("http://h/", Body::Length(2)));
    h.conn.send_body(Bytes::from_static(b"a")).unwrap();
    assert_eq!(
        h.conn.finish_body(None).unwrap_err().kind(),
        &ErrorKind::BodyLength { expected: 2, actual: 1 }
    );

    // Never chunked to an HTTP/1.0 peer.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    h.feed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
    let e = h.conn.send_request(h.now, &post("http://h/", Body::Chunked)).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::ChunkedToHttp10);
    assert!(h.conn.is_idle(), "a refused request changes nothing");

    // A response that ends before the body went out: the body is abandoned.
    let mut h = Harness::new();
    h.request(post("http://h/", Body::Length(100)));
    h.conn.send_body(Bytes::from_static(b"part")).unwrap();
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
fn expect_continue() {
    let req = || post("http://h/", Body::Length(4)).header("Expect", "100-Continue");
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
    h.conn.send_body(Bytes::from_static(b"body")).unwrap();
    h.conn.finish_body(None).unwrap();
    assert_eq!(h.drain(), (vec![wrote("body")], Rest::NeedInput));
    assert_eq!(h.conn.poll_timeout(), None);

    // Body pushed early is held too; the deadline sends it.
    let mut h = Harness::new();
    h.request(req());
    h.conn.send_body(Bytes::from_static(b"body")).unwrap();
    h.conn.finish_body(None).unwrap();
    assert_eq!(h.drain(), (vec![], Rest::NeedInput));
    assert_eq!(h.advance(Duration::from_millis(999)), (vec![], Rest::NeedInput));
    assert_eq!(h.advance(Duration::from_millis(1)), (vec![wrote("body")], Rest::NeedInput));

    // A final response first: the body is never sent and the connection closes.
    let mut h = Harness::new();
    h.request(req());
    let (seen, rest) = h.feed("HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        seen,
        [Seen::Head(417), Seen::End(End::MustClose { reason: CloseReason::RequestIncomplete })]
    );
    assert_eq!(rest, Rest::Closed);
    assert!(matches!(
        h.conn.send_body(Bytes::from_static(b"x")).unwrap_err().kind(),
        ErrorKind::Misuse { .. }
    ));
}

#[test]
fn expect_continue_final_response_before_a_finished_held_body() {
    // The whole body held, `finish_body` already called, then a final response: the body is
    // never sent, so the server may still be waiting for it (RFC 9110 §10.1.1): reusing the
    // connection would make the next request its body. Found by the response_stream fuzz
    // target (fuzz/regressions/response_stream/final-before-finished-held-body).
    for body in [Body::Length(4), Body::Chunked] {
        let mut h = Harness::new();
        h.request(post("http://h/", body).header("Expect", "100-continue"));
        h.conn.send_body(Bytes::from_static(b"body")).unwrap();
        h.conn.finish_body(None).unwrap();
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
    assert_eq!(rest, Rest::Closed);
}

#[test]
fn discarding_bodies() {
    // Small enough: drained, connection kept.
    let mut h = Harness::new();
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234");
    h.conn.discard_body();
    assert_eq!(h.feed("56789"), (vec![Seen::End(End::Done { reusable: true })], Rest::Idle));
    // Too big: closed instead of read.
    let limits = Limits { max_drain_bytes: 4, ..Limits::default() };
    let mut h = Harness::with(Config { limits, ..Config::default() });
    h.request(get("http://h/"));
    h.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    h.conn.discard_body();
    assert_eq!(
        h.feed("0123456789"),
        (vec![Seen::End(End::MustClose { reason: CloseReason::BodyNotDrained })], Rest::Closed)
    );
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
        assert!(matches!(h.conn.poll_output(), Output::Event(Event::ResponseHead(_))));
        h.conn.discard_body();
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
    assert!(matches!(
        h.conn.send_body(Bytes::from_static(b"x")).unwrap_err().kind(),
        ErrorKind::Misuse { state: "Idle", .. }
    ));
    assert!(matches!(h.conn.finish_body(None).unwrap_err().kind(), ErrorKind::Misuse { .. }));
    assert!(h.conn.handle_reconnected(h.now).is_err());
    h.request(get("http://h/"));
    assert!(matches!(
        h.conn.send_request(h.now, &get("http://h/")).unwrap_err().kind(),
        ErrorKind::Misuse { state: "RecvHead", .. }
    ));
    // The exchange in flight is untouched.
    assert_eq!(
        h.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        (vec![Seen::Head(200), Seen::End(End::Done { reusable: true })], Rest::Idle)
    );
    // A bad header is refused and nothing is queued.
    assert!(h.conn.send_request(h.now, &get("http://h/").header("X", "a\r\nb")).is_err());
    assert_eq!(h.drain(), (vec![], Rest::Idle));
}

#[test]
fn transmit_debug_hides_bytes() {
    let mut h = Harness::new();
    let auth = ProxyAuth::basic(Credentials::new("user", "hunter2"));
    let proxy = crate::Proxy::parse("http://p:1").unwrap().with_auth(auth);
    let route = crate::Route::new(&Url::parse("http://h/").unwrap(), Some(proxy));
    h.conn.send_request(h.now, &get("http://h/").via(&route)).unwrap();
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
    h.conn.send_connect(h.now, Connect::new(target()).auth(auth)).unwrap();
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
            [Seen::Head(200), Seen::End(End::Tunnel { leftover })] => {
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
    assert_eq!(seen, [Seen::Head(200), Seen::End(End::Tunnel { leftover: Bytes::new() })]);
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
        h.feed("HTTP/1.1 200 OK\r\n\r\n").0[1],
        Seen::End(End::Tunnel { leftover: Bytes::new() })
    );
    // Also when the 407 says Connection: close.
    let mut h = Harness::new();
    connect(&mut h, creds(false));
    let (_, rest) = h.feed("HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assert_eq!(rest, Rest::Reconnect);
}

#[test]
fn connect_refusals_are_typed() {
    // Preemptive credentials refused: no pointless retry with the same value.
    let mut h = Harness::new();
    assert_eq!(connect(&mut h, creds(true)).0, [wrote(&connect_head(true))]);
    let (seen, rest) = h.feed("HTTP/1.1 407 No\r\nProxy-Authenticate: Basic realm=x, Digest realm=y\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        seen,
        [Seen::Error(ErrorKind::ProxyAuthFailed {
            attempts: 1,
            schemes: vec!["Basic".into(), "Digest".into()]
        })]
    );
    assert_eq!(rest, Rest::Closed);
    // No credentials: the 407 itself, with its fields and body.
    let mut h = Harness::new();
    connect(&mut h, None);
    let (seen, _) =
        h.feed("HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic\r\nContent-Length: 2\r\n\r\nno");
    let [Seen::Error(ErrorKind::ProxyRefused { status: 407, reason, headers, body })] =
        seen.as_slice()
    else {
        panic!("{seen:?}")
    };
    assert_eq!((reason.as_str(), &body[..]), ("Auth", &b"no"[..]));
    assert_eq!(headers.get("proxy-authenticate"), Some(&b"Basic"[..]));
    // Anything else: status, reason, fields and a bounded body.
    let limits = Limits { max_proxy_error_body: 8, ..Limits::default() };
    let mut h = Harness::with(Config { limits, ..Config::default() });
    connect(&mut h, None);
    let (seen, rest) =
        h.feed("HTTP/1.1 403 Forbidden\r\nContent-Length: 1000\r\n\r\nnot allowed here");
    let [Seen::Error(ErrorKind::ProxyRefused { status: 403, body, .. })] = seen.as_slice() else {
        panic!("{seen:?}")
    };
    assert_eq!(&body[..], b"not allo");
    assert_eq!(rest, Rest::Closed);
    // Close-delimited refusal: reported at EOF.
    let mut h = Harness::new();
    connect(&mut h, None);
    assert_eq!(h.feed("HTTP/1.1 502 Bad Gateway\r\n\r\nupstream down").0, []);
    let (seen, _) = h.eof();
    let [Seen::Error(ErrorKind::ProxyRefused { status: 502, body, .. })] = seen.as_slice() else {
        panic!("{seen:?}")
    };
    assert_eq!(&body[..], b"upstream down");
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
            assert_eq!(
                seen,
                [Seen::Error(ErrorKind::ProxyAuthFailed {
                    attempts: 3,
                    schemes: vec!["Custom".into()]
                })]
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
    assert!(matches!(h.conn.poll_output(), Output::Event(Event::ResponseHead(_))));
    // Ten unwanted bytes are queued, the budget is four, ninety more are to come: no waiting.
    h.conn.discard_body();
    assert_eq!(
        h.drain(),
        (vec![Seen::End(End::MustClose { reason: CloseReason::BodyNotDrained })], Rest::Closed)
    );
}
