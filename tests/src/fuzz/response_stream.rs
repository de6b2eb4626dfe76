//! The `response_stream` target: one exchange's response bytes, read whole, in the input's cuts
//! and byte by byte.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferry_proto::{
    BodyFraming, CloseReason, Config, Connection, End, Eof, Error, Event, Headers, Limits, Method,
    Output, Profile, Request, ResponseHead, Url,
    testing::{self, Join, Rest, Seen},
};

use super::oracle::{self, Framing};
use super::stream::{Framed, bytewise, reads};

/// Streams longer than this are not also fed byte by byte (it would dominate the run time).
pub(crate) const BYTEWISE_MAX: usize = 1024;

/// The request whose response the stream is: mode bits 0 to 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Get,
    Head,
    /// `Upgrade: websocket`: a 101 is allowed.
    Upgrade,
    /// A 5-byte body, sent whole before any response.
    Post,
    /// A 5-byte body held for `100 Continue`.
    ExpectContinue,
    /// A chunked body never finished: the response ends it.
    Unfinished,
    /// `Connection: close`.
    Close,
    /// A chunked body with trailers, held for `100 Continue`.
    ExpectChunked,
}

/// What the mode byte chose.
#[derive(Clone, Copy, Debug)]
struct Options {
    kind: Kind,
    config: Config,
    /// Call `discard_body` when the final head comes out.
    discard: bool,
    /// Let an hour pass at the end (every deadline fires).
    tick: bool,
    /// End with `handle_eof`.
    eof: bool,
}

impl Options {
    fn new(f: &Framed<'_>) -> Options {
        let kind = match f.mode & 7 {
            0 => Kind::Get,
            1 => Kind::Head,
            2 => Kind::Upgrade,
            3 => Kind::Post,
            4 => Kind::ExpectContinue,
            5 => Kind::Unfinished,
            6 => Kind::Close,
            _ => Kind::ExpectChunked,
        };
        let mut config = Config::default();
        if f.bit(3) {
            config.profile = Profile::Compatible;
        }
        if f.bit(4) {
            config.limits = tight_limits();
        }
        config.timeouts.response_head = Some(Duration::from_secs(30));
        config.timeouts.body_read = Some(Duration::from_secs(30));
        Options { kind, config, discard: f.bit(5), tick: f.bit(7), eof: !f.bit(6) }
    }
}

/// Small limits, so that every limit is within the fuzzer's reach.
pub(crate) fn tight_limits() -> Limits {
    let mut l = Limits::default();
    l.max_head_bytes = 256;
    l.max_headers = 8;
    l.max_informational = 2;
    l.max_chunk_extension_bytes = 32;
    l.max_trailer_bytes = 64;
    l.max_trailers = 2;
    l.max_drain_bytes = 64;
    l.max_proxy_error_body = 32;
    l.max_auth_rounds = 2;
    l
}

/// What one run of the stream gave.
struct Run {
    seen: Vec<Seen>,
    /// For `End::Upgraded`: its leftover and every byte not yet fed, the new protocol's stream.
    tail: Option<Vec<u8>>,
    /// Whether `poll_output` said `Closed` (then nothing else may come out).
    closed: bool,
}

/// Whether the core's decoded `data` agrees with the oracle's `decoded` (flate2; `whole`: it
/// ended without an error): it is a prefix of it, or, for a corrupt stream, it may go further.
/// flate2's `read` drops what it inflated in the call that then fails, while the core
/// (streaming miniz_oxide) rightly hands out the bytes it inflated before the error
/// (fuzz/regressions/response_stream/gzip-corrupt-deflate-prefix, deflate-corrupt-prefix).
fn agrees(decoded: &[u8], whole: bool, data: &[u8]) -> bool {
    decoded.starts_with(data) || (!whole && data.starts_with(decoded))
}

/// The `response_stream` fuzz target.
///
/// The mode byte (see `stream.rs` for the input's layout) picks the request (bits 0-2: GET,
/// HEAD, GET with `Upgrade`, POST with a body, POST held for `100 Continue`, POST with an
/// unfinished chunked body, GET with `Connection: close`, chunked POST held for `100
/// Continue`), [`Profile::Compatible`] (bit 3), small limits (bit 4), `discard_body` at the
/// final head (bit 5), no `handle_eof` at the end (bit 6), and an hour passing at the end so
/// every deadline fires (bit 7). The stream is read whole, in the input's cuts, and (when short)
/// byte by byte. Properties:
///
/// - nothing panics;
/// - each run's outputs keep the protocol's order: interim heads, at most one final head, data
///   only after it, trailers only before the end, exactly one `End` or `Error` when the stream
///   ended with EOF and at most one otherwise, nothing after it, and after `Closed` only
///   `Closed`, whatever the driver calls;
/// - no data for HEAD, 1xx, 204 or 304; the data is always a prefix of the body that a naive
///   RFC 9112 reader finds after the head (so never more than the `Content-Length`), and all of
///   it when the exchange ends without an error;
/// - a held body goes out only after a `100`, and never after a final head came first;
/// - the core never holds more than its limits: what it leaves in the buffer while reading is
///   under `max_head_bytes`, and `retained_bytes()` stays under its bound;
/// - the three runs give the same outputs once data is merged, transmits dropped and errors
///   reduced to their kind (how much of the request was handed out depends on the reads), with
///   the known exception of bytes after a complete response: `End::MustClose { ExtraBytes }`
///   when they come in the same read, `End::Done { reusable: true }` and then `Closed` when
///   later.
///   With `discard_body` the runs agree up to the final head, and after it unless the body was
///   longer than `max_drain_bytes` (then the end comes at whichever read shows the excess);
///   `BodyNotDrained` only ever ends such a body.
pub fn response_stream(data: &[u8]) {
    let Some(framed) = Framed::read(data) else { return };
    let opts = Options::new(&framed);
    let stream = framed.stream;

    let whole = run(&opts, stream, &[]);
    check(&opts, stream, &whole);
    let body = body_len(&opts, stream, &whole.seen);
    let split = run(&opts, stream, &framed.cuts);
    check(&opts, stream, &split);
    compare(&opts, body, &whole, &split, "whole", "split");
    if stream.len() <= BYTEWISE_MAX {
        let bytes = run(&opts, stream, &bytewise(stream));
        check(&opts, stream, &bytes);
        compare(&opts, body, &whole, &bytes, "whole", "bytewise");
    }
}

fn url() -> Url {
    Url::parse("http://example.com/r").unwrap_or_else(|e| panic!("{e}"))
}

/// Starts the exchange as a driver would, body and all.
fn start(conn: &mut Connection<Duration>, kind: Kind) {
    let now = Duration::ZERO;
    let req = match kind {
        Kind::Get => Request::get(url()),
        Kind::Head => Request::new(Method::HEAD, url()),
        Kind::Upgrade => {
            Request::get(url()).header("Connection", "upgrade").header("Upgrade", "websocket")
        }
        Kind::Post => Request::new(Method::POST, url()).body(BodyFraming::Length(5)),
        Kind::ExpectContinue => Request::new(Method::POST, url())
            .header("Expect", "100-continue")
            .body(BodyFraming::Length(5)),
        Kind::Unfinished => Request::new(Method::POST, url()).body(BodyFraming::Chunked),
        Kind::Close => Request::get(url()).header("Connection", "close"),
        Kind::ExpectChunked => Request::new(Method::PUT, url())
            .header("Expect", "100-continue")
            .body(BodyFraming::Chunked),
    };
    let ok = |r: ferry_proto::Result<()>| r.unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    ok(conn.send_request(now, &req));
    match kind {
        // The declared length given in full ends the body.
        Kind::Post | Kind::ExpectContinue => ok(conn.send_body(now, Bytes::from_static(b"hello"))),
        Kind::Unfinished => ok(conn.send_body(now, Bytes::from_static(b"hello"))),
        Kind::ExpectChunked => {
            ok(conn.send_body(now, Bytes::from_static(b"hello")));
            let trailers = Headers::from_pairs([("Checksum", "x")]);
            ok(conn.finish_body(now, Some(&trailers.unwrap_or_else(|e| panic!("{e}")))));
        }
        _ => {}
    }
}

/// Feeds `stream` cut at `cuts`, draining after every call as the driver contract says.
fn run(opts: &Options, stream: &[u8], cuts: &[usize]) -> Run {
    let mut conn: Connection<Duration> = Connection::new(Duration::ZERO, opts.config);
    let mut run = Run { seen: Vec::new(), tail: None, closed: false };
    let limits = opts.config.limits;
    start(&mut conn, opts.kind);
    drain(&mut conn, opts, &mut run, &[]);
    let mut input = BytesMut::new();
    let mut fed = 0;
    for piece in reads(stream, cuts) {
        input.extend_from_slice(piece);
        fed += piece.len();
        conn.handle_input(Duration::ZERO, &mut input);
        let reading = drain(&mut conn, opts, &mut run, &stream[fed..]);
        if reading {
            // Bounded memory: a partial head stays under its limit, the rest is taken.
            assert!(
                input.len() < limits.max_head_bytes,
                "{} bytes left in the buffer while reading",
                input.len()
            );
        }
        assert!(
            conn.retained_bytes() <= limits.max_trailer_bytes + limits.max_proxy_error_body,
            "retained_bytes() = {}",
            conn.retained_bytes()
        );
    }
    if opts.tick {
        conn.handle_timeout(Duration::from_secs(3600));
        drain(&mut conn, opts, &mut run, &[]);
    }
    if opts.eof {
        conn.handle_eof(Duration::ZERO, Eof::Clean);
        drain(&mut conn, opts, &mut run, &[]);
    }
    if run.closed {
        // Terminal: every call is ignored or answered with `Closed`.
        conn.handle_input(Duration::ZERO, &mut BytesMut::from(&b"HTTP/1.1 200 OK\r\n\r\n"[..]));
        conn.handle_timeout(Duration::from_secs(7200));
        conn.handle_eof(Duration::ZERO, Eof::Clean);
        conn.discard_body(Duration::ZERO);
        for _ in 0..2 {
            let out = conn.poll_output();
            assert!(matches!(out, Output::Closed | Output::HandedOver), "after Closed: {out:?}");
        }
    }
    run
}

/// Drains outputs into `run` through the shared harness; returns whether the connection still
/// reads the response. `unfed`: the bytes of the stream not yet given to the connection.
fn drain(conn: &mut Connection<Duration>, opts: &Options, run: &mut Run, unfed: &[u8]) -> bool {
    if run.closed {
        let out = conn.poll_output();
        assert!(matches!(out, Output::Closed | Output::HandedOver), "after Closed: {out:?}");
        return false;
    }
    let tail = &mut run.tail;
    let rest = testing::drain(conn, &mut run.seen, Join::No, |conn, out| match out {
        Output::Event(Event::ResponseHead(_)) if opts.discard => {
            conn.discard_body(Duration::ZERO);
        }
        Output::End(End::Upgraded { leftover }) => {
            let mut bytes = leftover.to_vec();
            bytes.extend_from_slice(unfed);
            *tail = Some(bytes);
        }
        _ => {}
    });
    match rest {
        Rest::NeedInput | Rest::NeedBody => true,
        Rest::Idle => false,
        // After an upgrade the transport is handed over; otherwise closed. Either is for good.
        Rest::Closed | Rest::HandedOver => {
            run.closed = true;
            let out = conn.poll_output();
            assert!(matches!(out, Output::Closed | Output::HandedOver), "after Closed: {out:?}");
            false
        }
        Rest::Reconnect => panic!("Reconnect without CONNECT"),
    }
}

/// Where the run is in the protocol's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Head,
    Body,
    AfterTrailers,
    Over,
}

/// The properties of one run on its own.
fn check(opts: &Options, stream: &[u8], run: &Run) {
    let seen = &run.seen;
    // Order.
    let mut phase = Phase::Head;
    let mut ends = 0;
    let mut final_head = None;
    for s in seen {
        match (phase, s) {
            (Phase::Over, Seen::Wrote(_)) => {
                // A held body released by the last deadline, after the exchange was decided,
                // would be a bug too: nothing goes out after the end.
                panic!("transmit after the end: {seen:#?}")
            }
            (_, Seen::Wrote(_)) => {}
            (Phase::Head, Seen::Info(h)) => {
                assert!(
                    (100..200).contains(&h.status()) && h.status() != 101,
                    "interim {}",
                    h.status()
                );
            }
            (Phase::Head, Seen::Head(h)) => {
                assert!(
                    // Codes below 100 are invalid and read as final (RFC 9110 §15).
                    !(100..200).contains(&h.status())
                        || (h.status() == 101 && opts.kind == Kind::Upgrade),
                    "final head {}",
                    h.status()
                );
                final_head = Some(h);
                phase = Phase::Body;
            }
            (Phase::Body, Seen::Data(d)) => {
                assert!(!d.is_empty(), "empty data event");
                assert!(!opts.discard, "data after discard_body: {seen:#?}");
            }
            (Phase::Body, Seen::Trailers(t)) => {
                assert!(!t.is_empty(), "empty trailers event");
                phase = Phase::AfterTrailers;
            }
            (Phase::Body | Phase::AfterTrailers, Seen::End(_)) | (_, Seen::Error(_)) => {
                ends += 1;
                phase = Phase::Over;
            }
            (phase, s) => panic!("{s:?} in phase {phase:?}: {seen:#?}"),
        }
    }
    assert!(ends <= 1, "{ends} ends: {seen:#?}");
    if opts.eof {
        assert_eq!(ends, 1, "EOF came and the exchange did not end: {seen:#?}");
    }
    let end = seen.iter().find_map(|s| match s {
        Seen::End(e) => Some(e),
        _ => None,
    });
    match end {
        Some(End::Upgraded { .. }) => {
            assert_eq!(opts.kind, Kind::Upgrade, "upgraded without asking");
            assert_eq!(final_head.map(ResponseHead::status), Some(101));
        }
        Some(End::Tunnel { .. }) => panic!("a tunnel without CONNECT"),
        _ => {}
    }
    if final_head.is_some_and(|h| h.status() == 101) {
        assert!(matches!(end, Some(End::Upgraded { .. })), "101 without Upgraded: {seen:#?}");
    }

    check_held_body(opts, seen);
    check_body(opts, stream, seen, end.is_some());
}

/// A held body goes out only after a `100`; never when a final head came first.
fn check_held_body(opts: &Options, seen: &[Seen]) {
    if !matches!(opts.kind, Kind::ExpectContinue | Kind::ExpectChunked) {
        return;
    }
    let mut head_sent = false;
    let mut released = false;
    for s in seen {
        match s {
            Seen::Wrote(_) if !head_sent => head_sent = true,
            Seen::Wrote(t) => {
                assert!(released || opts.tick, "body piece {t:?} went out before a 100: {seen:#?}");
            }
            Seen::Info(h) if h.status() == 100 => released = true,
            Seen::Head(_) if !released => {
                // The final response came first: the body is never sent.
                let late = seen
                    .iter()
                    .skip_while(|s| !matches!(s, Seen::Head(_)))
                    .any(|s| matches!(s, Seen::Wrote(_)));
                assert!(!late, "held body sent after a final head: {seen:#?}");
                let ends_incomplete = seen.iter().any(|s| {
                    matches!(
                        s,
                        Seen::End(End::MustClose { reason: CloseReason::RequestIncomplete })
                            | Seen::Error(_)
                    )
                });
                assert!(
                    ends_incomplete || !seen.iter().any(|s| matches!(s, Seen::End(_))),
                    "held body never sent, yet the end is not RequestIncomplete: {seen:#?}"
                );
                return;
            }
            _ => {}
        }
    }
}

/// Walks the heads the core reported through httparse (same statuses, same field counts):
/// the final head and where its body starts in the stream.
fn final_head(stream: &[u8], seen: &[Seen]) -> Option<(oracle::Head, usize)> {
    let mut at = 0;
    let mut final_head = None;
    for s in seen {
        let (Seen::Info(h) | Seen::Head(h)) = s else { continue };
        let parsed = oracle::head(&stream[at..])
            .unwrap_or_else(|| panic!("httparse finds no head at {at} where the core found one"));
        assert_eq!(parsed.status, h.status(), "status of the head at {at}");
        assert_eq!(parsed.fields.len(), h.headers().len(), "fields of the head at {at}");
        at += parsed.len;
        if let Seen::Head(_) = s {
            final_head = Some(parsed);
        }
    }
    final_head.map(|h| (h, at))
}

/// How long the body after the final head is, by the naive reading of the stream.
fn body_len(opts: &Options, stream: &[u8], seen: &[Seen]) -> u64 {
    let Some((head, at)) = final_head(stream, seen) else { return 0 };
    let body = &stream[at..];
    match oracle::framing(&head, opts.kind == Kind::Head) {
        _ if head.status == 101 => 0,
        Framing::Length(n) => n.min(body.len() as u64),
        Framing::UntilClose => body.len() as u64,
        Framing::Chunked => oracle::chunked(body).data.len() as u64,
        Framing::None | Framing::Invalid => 0,
    }
}

/// The data against a naive reading of the stream.
fn check_body(opts: &Options, stream: &[u8], seen: &[Seen], ended: bool) {
    let Some((head, at)) = final_head(stream, seen) else {
        assert!(!seen.iter().any(|s| matches!(s, Seen::Data(_))), "data without a head");
        return;
    };
    let data: Vec<u8> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Data(d) => Some(&d[..]),
            _ => None,
        })
        .flatten()
        .copied()
        .collect();
    let trailers: Option<oracle::Fields> = seen.iter().find_map(|s| match s {
        Seen::Trailers(t) => {
            Some(t.iter().map(|(n, v)| (n.to_owned(), v.to_vec())).collect::<Vec<_>>())
        }
        _ => None,
    });
    let body = &stream[at..];
    let clean = ended && !seen.iter().any(|s| matches!(s, Seen::Error(_)));
    let is_head = opts.kind == Kind::Head;
    let framing = oracle::framing(&head, is_head);
    let codings = oracle::codings(&head);
    let cap = opts.config.limits.max_decoded_body;
    let not_drained = Seen::End(End::MustClose { reason: CloseReason::BodyNotDrained });
    if seen.contains(&not_drained) {
        // Only an unwanted body longer than the drain budget may end this way.
        let longer = body_len(opts, stream, seen) > opts.config.limits.max_drain_bytes;
        assert!(opts.discard && longer, "BodyNotDrained without a long unwanted body");
    }
    match framing {
        _ if head.status == 101 => assert!(data.is_empty(), "data with a 101"),
        Framing::None | Framing::Invalid => {
            assert!(data.is_empty(), "{} bytes of data where there is no body", data.len());
        }
        Framing::Length(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            let want = &body[..n.min(body.len())];
            assert!(data.len() <= n, "{} bytes of data, Content-Length {n}", data.len());
            assert!(want.starts_with(&data), "data is not the body's start");
            if clean && !opts.discard {
                assert_eq!(data.len(), n, "ended cleanly with {} of {n} bytes", data.len());
            }
        }
        Framing::UntilClose if !codings.is_empty() => {
            let (decoded, whole) = oracle::decode(body, &codings, cap);
            assert!(agrees(&decoded, whole, &data), "decoded data is not the decoded body's start");
        }
        Framing::UntilClose => {
            assert!(body.starts_with(&data), "data is not the body's start");
            if clean && !opts.discard {
                assert_eq!(data.len(), body.len(), "read to EOF, yet not all of it");
            }
        }
        Framing::Chunked if !codings.is_empty() => {
            let naive = oracle::chunked(body);
            let (decoded, whole) = oracle::decode(&naive.data, &codings, cap);
            assert!(agrees(&decoded, whole, &data), "decoded data is not the decoded body's start");
            if clean && !opts.discard {
                assert!(naive.end.is_some() && whole, "a coded body ended cleanly, yet it is cut");
                assert_eq!(data, decoded, "decoded chunked data");
            }
        }
        Framing::Chunked => {
            let naive = oracle::chunked(body);
            assert!(
                naive.data.starts_with(&data),
                "chunked data differs from the naive decoder's: {:?} vs {:?}",
                String::from_utf8_lossy(&data),
                String::from_utf8_lossy(&naive.data)
            );
            if clean && !opts.discard {
                let Some((fields, _)) = naive.end else {
                    panic!("the core ended a chunked body the naive decoder finds incomplete")
                };
                assert_eq!(data, naive.data, "chunked data");
                assert_eq!(trailers.unwrap_or_default(), fields, "trailers");
            }
        }
    }
}

/// Outputs with data merged and transmits dropped.
fn normalize(run: &Run) -> Vec<Seen> {
    let mut out: Vec<Seen> = Vec::new();
    for s in &run.seen {
        match (out.last_mut(), s) {
            (_, Seen::Wrote(_)) => {}
            (Some(Seen::Data(a)), Seen::Data(b)) => {
                let mut joined = BytesMut::from(&a[..]);
                joined.extend_from_slice(b);
                *a = joined.freeze();
            }
            // The one known difference: bytes after a complete response.
            (_, Seen::End(End::MustClose { reason: CloseReason::ExtraBytes })) => {
                out.push(Seen::End(End::Done { reusable: true }));
            }
            // How much of the request had gone out depends on when the driver got to write
            // (a body released by a `100` in the same read as an error is never handed out):
            // compare what went wrong.
            (_, Seen::Error(e)) => out.push(Seen::Error(Error::new(e.kind().clone()))),
            // The new protocol's bytes, wherever the reads were cut.
            (_, Seen::End(End::Upgraded { .. })) => out.push(Seen::End(End::Upgraded {
                leftover: Bytes::from(run.tail.clone().unwrap_or_default()),
            })),
            (_, s) => out.push(s.clone()),
        }
    }
    out
}

fn compare(opts: &Options, body_len: u64, a: &Run, b: &Run, a_name: &str, b_name: &str) {
    let (a, b) = (normalize(a), normalize(b));
    if !opts.discard {
        assert_eq!(a, b, "{a_name} and {b_name} runs differ");
        return;
    }
    // With discard_body: the same up to the final head; after it the same unless the unread
    // body was longer than the drain budget.
    let head =
        |v: &[Seen]| v.iter().position(|s| matches!(s, Seen::Head(_))).map_or(v.len(), |i| i + 1);
    let (ha, hb) = (head(&a), head(&b));
    assert_eq!(a[..ha], b[..hb], "{a_name} and {b_name} runs differ before the body");
    // Past the budget the exchange ends at the read that shows it, so the end depends on the
    // reads: when the whole unwanted body was in the buffer at `discard_body`, the excess is
    // noted and acted on at the next read, EOF or deadline.
    if body_len > opts.config.limits.max_drain_bytes {
        return;
    }
    assert_eq!(a[ha..], b[hb..], "{a_name} and {b_name} runs differ after discard_body");
}
