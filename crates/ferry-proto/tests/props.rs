//! Property tests of ferry-proto's public API.
//!
//! 1. Any split of a response stream gives the same events once data events are merged.
//! 2. Random valid requests encode and re-parse (httparse) to the same method, target, fields
//!    and body.
//! 3. Arbitrary header names and values, methods and targets never put CR, LF or NUL on the
//!    wire outside line endings.
//! 4. A model test: random driver call sequences against a small reference model of the states.
//! 5. Arbitrary bytes as a response never panic, and never make the core hold more than its
//!    limits.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferry_proto::{
    Blame, BodyFraming, CloseReason, Config, Connection, End, Eof, ErrorKind, Expected, Headers,
    Limits, Method, Output, Request, TimerKind, Url, testing,
};
use proptest::prelude::*;
use testing::Rest;

// ---- helpers ---------------------------------------------------------------------------

/// Outputs as the properties compare them: heads as status and fields, transmits dropped.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Info(u16, Vec<(String, Vec<u8>)>),
    Head(u16, Vec<(String, Vec<u8>)>),
    Data(Vec<u8>),
    Trailers(Vec<(String, Vec<u8>)>),
    End(End),
    Error(ErrorKind),
}

fn fields(h: &Headers) -> Vec<(String, Vec<u8>)> {
    h.iter().map(|(n, v)| (n.to_string(), v.to_vec())).collect()
}

/// The shared harness's record, pieces joined, as the properties compare it.
fn compact(seen: Vec<testing::Seen>) -> Vec<Seen> {
    testing::joined(seen)
        .into_iter()
        .filter_map(|s| {
            Some(match s {
                testing::Seen::Wrote(_) => return None,
                testing::Seen::Info(h) => Seen::Info(h.status(), fields(h.headers())),
                testing::Seen::Head(h) => Seen::Head(h.status(), fields(h.headers())),
                testing::Seen::Data(d) => Seen::Data(d.to_vec()),
                testing::Seen::Trailers(t) => Seen::Trailers(fields(&t)),
                testing::Seen::End(e) => Seen::End(e),
                testing::Seen::Error(e) => Seen::Error(e.kind().clone()),
            })
        })
        .collect()
}

/// Drains outputs into `seen`; returns whether the connection is still reading.
fn drain(conn: &mut Connection<Duration>, seen: &mut Vec<testing::Seen>) -> bool {
    testing::drain(conn, seen, testing::Join::Pieces, |_, _| {}).is_reading()
}

/// Sends a GET, feeds `stream` cut at `cuts`, then EOF; returns what came out.
fn run(stream: &[u8], cuts: &[usize], config: Config) -> Vec<Seen> {
    let mut conn = Connection::new(Duration::ZERO, config);
    let url = Url::parse("http://example.com/").unwrap();
    conn.send_request(Duration::ZERO, &Request::get(url)).unwrap();
    let mut seen = Vec::new();
    drain(&mut conn, &mut seen);
    let mut input = BytesMut::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(stream.len());
    for cut in cuts {
        if cut < at {
            continue;
        }
        input.extend_from_slice(&stream[at..cut]);
        at = cut;
        conn.handle_input(Duration::ZERO, &mut input);
        if !drain(&mut conn, &mut seen) {
            return compact(seen);
        }
    }
    conn.handle_eof(Duration::ZERO, Eof::Clean);
    drain(&mut conn, &mut seen);
    compact(seen)
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9-]{0,12}".prop_filter("not a framing field", |n| {
        let n = n.to_ascii_lowercase();
        !matches!(
            n.as_str(),
            "content-length" | "transfer-encoding" | "connection" | "host" | "expect" | "upgrade"
        )
    })
}

fn value() -> impl Strategy<Value = String> {
    "[ -~]{0,24}".prop_map(|v| v.trim().to_string())
}

#[derive(Debug, Clone)]
enum Framing {
    Length,
    Chunked { sizes: Vec<usize>, ext: bool, trailers: Vec<(String, String)> },
    Close,
}

/// A valid response stream: interim responses, then a final one with a body.
fn response() -> impl Strategy<Value = Vec<u8>> {
    let interim = (
        prop_oneof![Just(100u16), Just(102), Just(103)],
        prop::collection::vec((token(), value()), 0..3),
    );
    let framing = prop_oneof![
        Just(Framing::Length),
        (
            prop::collection::vec(1usize..40, 0..5),
            any::<bool>(),
            prop::collection::vec((token(), value()), 0..3)
        )
            .prop_map(|(sizes, ext, trailers)| Framing::Chunked { sizes, ext, trailers }),
        Just(Framing::Close),
    ];
    (
        prop::collection::vec(interim, 0..3),
        prop_oneof![Just(200u16), Just(201), Just(204), Just(206), Just(301), Just(404), Just(500)],
        prop::collection::vec((token(), value()), 0..6),
        framing,
        prop::collection::vec(any::<u8>(), 0..120),
    )
        .prop_map(|(interims, status, headers, framing, body)| {
            let mut out = Vec::new();
            for (code, fields) in interims {
                out.extend_from_slice(format!("HTTP/1.1 {code} Interim\r\n").as_bytes());
                for (n, v) in fields {
                    out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
                }
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(format!("HTTP/1.1 {status} Reason\r\n").as_bytes());
            for (n, v) in headers {
                out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
            }
            match framing {
                Framing::Length => {
                    out.extend_from_slice(
                        format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                    );
                    out.extend_from_slice(&body);
                }
                Framing::Chunked { sizes, ext, trailers } => {
                    out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                    let mut rest = &body[..];
                    for size in sizes {
                        let n = size.min(rest.len());
                        if n == 0 {
                            break;
                        }
                        let e = if ext { ";name=\"v\"" } else { "" };
                        out.extend_from_slice(format!("{n:X}{e}\r\n").as_bytes());
                        out.extend_from_slice(&rest[..n]);
                        out.extend_from_slice(b"\r\n");
                        rest = &rest[n..];
                    }
                    out.extend_from_slice(b"0\r\n");
                    for (n, v) in trailers {
                        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
                    }
                    out.extend_from_slice(b"\r\n");
                }
                Framing::Close => {
                    out.extend_from_slice(b"\r\n");
                    out.extend_from_slice(&body);
                }
            }
            out
        })
}

// ---- 1. splits ---------------------------------------------------------------------------

proptest! {
    #[test]
    fn any_split_gives_the_same_events(
        stream in response(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        corrupt in prop::option::of((any::<usize>(), any::<u8>())),
    ) {
        let mut stream = stream;
        // Sometimes flip a byte, so the error paths are split too.
        if let Some((at, byte)) = corrupt {
            let len = stream.len();
            stream[at % len] = byte;
        }
        // Bytes beyond a complete response are known only if they came in the same read:
        // then the end says `ExtraBytes`; in a later read they close the idle connection
        // instead. Both close it; the property holds up to that one difference.
        let normalize = |mut seen: Vec<Seen>| {
            for s in &mut seen {
                if *s == Seen::End(End::MustClose { reason: ferry_proto::CloseReason::ExtraBytes }) {
                    *s = Seen::End(End::Done { reusable: true });
                }
            }
            seen
        };
        let whole = normalize(run(&stream, &[], Config::default()));
        let split = normalize(run(&stream, &cuts, Config::default()));
        prop_assert_eq!(&whole, &split);
        let bytewise: Vec<usize> = (0..stream.len()).collect();
        prop_assert_eq!(&whole, &normalize(run(&stream, &bytewise, Config::default())));
        if corrupt.is_none() {
            // A valid stream always ends, and never in an error.
            prop_assert!(matches!(whole.last(), Some(Seen::End(_))), "{:?}", whole);
        }
    }
}

// ---- 2. encode then re-parse ----------------------------------------------------------------

fn path() -> impl Strategy<Value = String> {
    "(/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,10}){1,3}(\\?[A-Za-z0-9=&]{0,10})?"
}

proptest! {
    #[test]
    fn requests_reparse(
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE"), Just("PROPFIND")],
        host in "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5})?",
        port in prop::option::of(1u16..),
        path in path(),
        headers in prop::collection::vec((token(), value()), 0..8),
        body in prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
        chunked in any::<bool>(),
        absolute in any::<bool>(),
    ) {
        let url = match port {
            Some(p) => format!("http://{host}:{p}{path}"),
            None => format!("http://{host}{path}"),
        };
        let url = Url::parse(&url).unwrap();
        let mut req = Request::new(Method::new(method), url.clone());
        for (n, v) in &headers {
            req = req.header(n.clone(), v.clone());
        }
        let kind = match (&body, chunked) {
            (None, _) => BodyFraming::Empty,
            (Some(_), true) => BodyFraming::Chunked,
            (Some(b), false) => BodyFraming::Length(b.len() as u64),
        };
        req = req.body(kind);
        if absolute {
            let proxy = ferry_proto::proxy::Proxy::parse("http://proxy:3128").unwrap();
            req = req.via(&ferry_proto::Route::new(&url, Some(proxy)));
        }
        let mut conn: Connection<Duration> = Connection::new(Duration::ZERO, Config::default());
        conn.send_request(Duration::ZERO, &req).unwrap();
        // A declared empty body is complete at once: the machine never asks for it; a
        // `Content-Length` body ends with its last byte.
        if let Some(b) = body.as_ref().filter(|_| kind != BodyFraming::Length(0)) {
            for piece in b.chunks(7) {
                conn.send_body(Duration::ZERO, Bytes::copy_from_slice(piece)).unwrap();
            }
            if kind == BodyFraming::Chunked {
                conn.finish_body(Duration::ZERO, None).unwrap();
            }
        }
        let mut wire = Vec::new();
        while let Output::Transmit(t) = conn.poll_output() {
            wire.extend_from_slice(&t);
        }
        let mut parsed_headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Request::new(&mut parsed_headers);
        let head_len = match parsed.parse(&wire).unwrap() {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => panic!("partial head"),
        };
        prop_assert_eq!(parsed.method, Some(method));
        let want_target = if absolute { url.to_string() } else { url.path_and_query().to_string() };
        prop_assert_eq!(parsed.path, Some(want_target.as_str()));
        prop_assert_eq!(parsed.version, Some(1));
        // Host first, then the caller's fields in order, then framing.
        prop_assert_eq!(parsed.headers[0].name, "Host");
        let host = url.host_header();
        prop_assert_eq!(parsed.headers[0].value, host.as_bytes());
        for (i, (n, v)) in headers.iter().enumerate() {
            prop_assert_eq!(parsed.headers[i + 1].name, n.as_str());
            prop_assert_eq!(parsed.headers[i + 1].value, v.as_bytes());
        }
        let rest = &wire[head_len..];
        match (&body, kind) {
            (Some(b), BodyFraming::Chunked) => {
                // Decode with httparse's chunk-size parser as an independent oracle.
                let mut out = Vec::new();
                let mut at = 0;
                loop {
                    let (n, size) = httparse::parse_chunk_size(&rest[at..]).unwrap().unwrap();
                    at += n;
                    if size == 0 {
                        prop_assert_eq!(&rest[at..], b"\r\n");
                        break;
                    }
                    out.extend_from_slice(&rest[at..at + size as usize]);
                    at += size as usize;
                    prop_assert_eq!(&rest[at..at + 2], b"\r\n");
                    at += 2;
                }
                prop_assert_eq!(&out, b);
            }
            (Some(b), _) => prop_assert_eq!(rest, &b[..]),
            (None, _) => prop_assert!(rest.is_empty()),
        }
    }
}

// ---- 3. nothing unchecked on the wire -------------------------------------------------------

proptest! {
    #[test]
    fn no_cr_lf_nul_reaches_the_wire(
        method in prop::collection::vec(any::<u8>(), 0..12),
        target in prop::collection::vec(any::<u8>(), 0..24),
        fields in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..10), prop::collection::vec(any::<u8>(), 0..16)), 0..6),
    ) {
        let url = format!("http://h{}", String::from_utf8_lossy(&target));
        let Ok(url) = Url::parse(&url) else { return Ok(()) };
        let mut req = Request::new(Method::new(method.clone()), url);
        for (n, v) in &fields {
            req = req.header(n.clone(), v.clone());
        }
        let mut out = BytesMut::new();
        if ferry_proto::wire::encode_request(&req, None, &mut out).is_err() {
            prop_assert!(out.is_empty(), "nothing is written on error");
            return Ok(());
        }
        let text = &out[..];
        prop_assert!(text.ends_with(b"\r\n\r\n"));
        let body = &text[..text.len() - 4];
        for line in body.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            prop_assert!(!line.contains(&b'\r') && !line.contains(&0), "{:?}", String::from_utf8_lossy(text));
        }
        // Exactly one line per field, plus the request line and Host (when added).
        let lines = body.split(|&b| b == b'\n').count();
        let host_added = !fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(b"host"));
        prop_assert_eq!(lines, 1 + fields.len() + usize::from(host_added));
    }
}

// ---- 4. model test ----------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Send {
        body: Option<u8>,
        chunked: bool,
    },
    Body(u8),
    Finish,
    /// A response, fed in two reads cut at `cut`; `discard_mid`: `discard_body` between them.
    Respond {
        status: u16,
        len: u8,
        close: bool,
        chunked: bool,
        cut: u16,
        discard_mid: bool,
    },
    Eof,
    Tick(u8),
    Discard,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (prop::option::of(0u8..8), any::<bool>())
            .prop_map(|(body, chunked)| Op::Send { body, chunked }),
        (0u8..6).prop_map(Op::Body),
        Just(Op::Finish),
        (
            prop_oneof![Just(200u16), Just(204), Just(404)],
            0u8..7,
            any::<bool>(),
            any::<bool>(),
            any::<u16>(),
            any::<bool>()
        )
            .prop_map(|(status, len, close, chunked, cut, discard_mid)| Op::Respond {
                status,
                len,
                close,
                chunked,
                cut,
                discard_mid
            }),
        Just(Op::Eof),
        (0u8..60).prop_map(Op::Tick),
        Just(Op::Discard),
    ]
}

/// The model's drain budget ([`Limits::max_drain_bytes`]), small so that bodies pass it.
const BUDGET: u64 = 3;
/// `Timeouts::idle` and `Timeouts::response_head` of the model, in seconds.
const IDLE: u64 = 90;
const RESPONSE_HEAD: u64 = 30;

/// The reference model: what the machine must be doing, as little as that can be said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Model {
    /// `since`: when it was made or went idle after an exchange.
    Idle {
        since: u64,
    },
    /// `body`: bytes still owed (`Some(Some(n))`), chunked (`Some(None)`) or done (`None`).
    /// `since`: when the request was complete (the response-head timer runs from then).
    /// `discard`: the caller said it wants no body before the head came.
    Exchange {
        body: Option<Option<u64>>,
        since: Option<u64>,
        discard: bool,
    },
    Closed,
}

/// What the machine says about an exchange's end: the `End` or the error.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    End(End),
    Error(ErrorKind),
}

fn response_text(status: u16, len: u8, close: bool, chunked: bool) -> String {
    let body = "y".repeat(usize::from(len));
    let conn_field = if close { "Connection: close\r\n" } else { "" };
    if status == 204 {
        return format!("HTTP/1.1 204 No Content\r\n{conn_field}\r\n");
    }
    let framing = if chunked && body.is_empty() {
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_string()
    } else if chunked {
        format!("Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n", body.len())
    } else {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    };
    format!("HTTP/1.1 {status} X\r\n{conn_field}{framing}")
}

/// The model's step: whether the call succeeds (`None`: the call returns nothing), the
/// outcome it makes the machine report, and the next model.
fn model_step(op: &Op, model: Model, now: u64) -> (Option<bool>, Vec<Outcome>, Model) {
    use Model::*;
    // The request complete at `now`: the response-head timer starts.
    let done = |discard| Exchange { body: None, since: Some(now), discard };
    match (op, model) {
        (Op::Send { body, chunked }, Idle { .. }) => {
            let body = match (body, chunked) {
                (None, _) | (Some(0), false) => None,
                (Some(_), true) => Some(None),
                (Some(n), false) => Some(Some(u64::from(*n))),
            };
            let since = body.is_none().then_some(now);
            (Some(true), vec![], Exchange { body, since, discard: false })
        }
        (Op::Send { .. }, m) => (Some(false), vec![], m),
        (Op::Body(0), m @ Exchange { body: Some(_), .. }) => (Some(true), vec![], m),
        (Op::Body(n), Exchange { body: Some(Some(left)), discard, .. }) => {
            let n = u64::from(*n);
            match n.cmp(&left) {
                core::cmp::Ordering::Greater => (Some(false), vec![], Closed),
                // The declared length given in full ends the body: no `finish_body`.
                core::cmp::Ordering::Equal => (Some(true), vec![], done(discard)),
                core::cmp::Ordering::Less => (
                    Some(true),
                    vec![],
                    Exchange { body: Some(Some(left - n)), since: None, discard },
                ),
            }
        }
        (Op::Body(_), m @ Exchange { body: Some(None), .. }) => (Some(true), vec![], m),
        (Op::Body(_), m) => (Some(false), vec![], m),
        (Op::Finish, Exchange { body: Some(None), discard, .. }) => {
            (Some(true), vec![], done(discard))
        }
        (Op::Finish, Exchange { body: Some(Some(_)), .. }) => (Some(false), vec![], Closed),
        (Op::Finish, m) => (Some(false), vec![], m),
        (
            Op::Respond { status, len, close, chunked, cut, discard_mid },
            Exchange { body, discard, .. },
        ) => {
            let text = response_text(*status, *len, *close, *chunked);
            let cut = usize::from(*cut) % (text.len() + 1);
            let has_body = *status != 204 && *len > 0;
            // Unless the whole response was in the first read (its end decided before the
            // call), discarding at the cut drops the body from there on.
            let discarded = discard || (*discard_mid && cut < text.len());
            let end = if body.is_some() {
                End::MustClose { reason: CloseReason::RequestIncomplete }
            } else if has_body && discarded && u64::from(*len) > BUDGET {
                End::MustClose { reason: CloseReason::BodyNotDrained }
            } else {
                End::Done { reusable: !*close }
            };
            let next =
                if end == (End::Done { reusable: true }) { Idle { since: now } } else { Closed };
            (None, vec![Outcome::End(end)], next)
        }
        // Unsolicited bytes close an idle connection, without an error.
        (Op::Respond { .. }, Idle { .. }) => (None, vec![], Closed),
        (Op::Respond { .. }, Closed) => (None, vec![], Closed),
        (Op::Eof, Exchange { .. }) => (
            None,
            vec![Outcome::Error(ErrorKind::UnexpectedEof { expected: Expected::ResponseHead })],
            Closed,
        ),
        (Op::Eof, _) => (None, vec![], Closed),
        (Op::Tick(_), Idle { since }) if now >= since + IDLE => (None, vec![], Closed),
        (Op::Tick(_), Exchange { since: Some(since), .. }) if now >= since + RESPONSE_HEAD => (
            None,
            vec![Outcome::Error(ErrorKind::Timeout { timer: TimerKind::ResponseHead })],
            Closed,
        ),
        (Op::Tick(_), m) => (None, vec![], m),
        (Op::Discard, Exchange { body, since, .. }) => {
            (None, vec![], Exchange { body, since, discard: true })
        }
        (Op::Discard, m) => (None, vec![], m),
    }
}

proptest! {
    #[test]
    fn model(ops in prop::collection::vec(op(), 1..30)) {
        let mut config = Config::default();
        config.timeouts.idle = Some(Duration::from_secs(IDLE));
        config.timeouts.response_head = Some(Duration::from_secs(RESPONSE_HEAD));
        config.limits.max_drain_bytes = BUDGET;
        let mut conn: Connection<Duration> = Connection::new(Duration::ZERO, config);
        let mut model = Model::Idle { since: 0 };
        let mut now = 0u64;
        let mut input = BytesMut::new();
        for op in ops {
            if let Op::Tick(s) = op {
                now += u64::from(s);
            }
            let t = Duration::from_secs(now);
            let result = match &op {
                Op::Send { body, chunked } => {
                    let kind = match (body, chunked) {
                        (None, _) | (Some(0), false) => BodyFraming::Empty,
                        (Some(_), true) => BodyFraming::Chunked,
                        (Some(n), false) => BodyFraming::Length(u64::from(*n)),
                    };
                    let req = Request::new(Method::POST, Url::parse("http://h/").unwrap()).body(kind);
                    Some(conn.send_request(t, &req).is_ok())
                }
                Op::Body(n) => Some(conn.send_body(t, Bytes::from(vec![b'x'; usize::from(*n)])).is_ok()),
                Op::Finish => Some(conn.finish_body(t, None).is_ok()),
                Op::Respond { status, len, close, chunked, cut, discard_mid } => {
                    let text = response_text(*status, *len, *close, *chunked);
                    let cut = usize::from(*cut) % (text.len() + 1);
                    input.clear();
                    input.extend_from_slice(&text.as_bytes()[..cut]);
                    conn.handle_input(t, &mut input);
                    if *discard_mid {
                        conn.discard_body(t);
                    }
                    input.extend_from_slice(&text.as_bytes()[cut..]);
                    conn.handle_input(t, &mut input);
                    None
                }
                Op::Eof => {
                    conn.handle_eof(t, Eof::Clean);
                    None
                }
                Op::Tick(_) => {
                    conn.handle_timeout(t);
                    None
                }
                Op::Discard => {
                    conn.discard_body(t);
                    None
                }
            };
            let (want_result, want_outcomes, next) = model_step(&op, model, now);
            prop_assert_eq!(result, want_result, "{:?} in {:?}", op, model);
            // Settle: the ends and errors it reports, and where it rests.
            let mut seen = Vec::new();
            let rest = testing::drain(&mut conn, &mut seen, testing::Join::No, |_, _| {});
            let outcomes: Vec<Outcome> = seen
                .into_iter()
                .filter_map(|s| match s {
                    testing::Seen::End(e) => Some(Outcome::End(e)),
                    testing::Seen::Error(e) => Some(Outcome::Error(e.kind().clone())),
                    _ => None,
                })
                .collect();
            prop_assert_eq!(outcomes, want_outcomes, "after {:?} in {:?}", op, model);
            model = next;
            let want = match model {
                Model::Idle { .. } => Rest::Idle,
                Model::Exchange { body: Some(_), .. } => Rest::NeedBody,
                Model::Exchange { body: None, .. } => Rest::NeedInput,
                Model::Closed => Rest::Closed,
            };
            prop_assert_eq!(rest, want, "after {:?}", op);
        }
    }
}

// ---- 5. arbitrary bytes -------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn arbitrary_bytes_never_panic_nor_overgrow(
        prefix in prop_oneof![
            Just(&b""[..]),
            Just(&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..]),
            Just(&b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"[..]),
            Just(&b"HTTP/1.1 100 Continue\r\n\r\n"[..]),
        ],
        noise in prop::collection::vec(any::<u8>(), 0..2048),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        connect in any::<bool>(),
    ) {
        let mut limits = Limits::default();
        limits.max_head_bytes = 512;
        limits.max_headers = 8;
        limits.max_trailer_bytes = 64;
        limits.max_trailers = 4;
        limits.max_chunk_extension_bytes = 64;
        limits.max_proxy_error_body = 64;
        let mut config = Config::default();
        config.limits = limits;
        let mut conn: Connection<Duration> = Connection::new(Duration::ZERO, config);
        if connect {
            let target = Url::parse("https://t:443/").unwrap().authority();
            conn.send_connect(Duration::ZERO, &ferry_proto::Connect::new(target)).unwrap();
        } else {
            conn.send_request(Duration::ZERO, &Request::get(Url::parse("http://h/").unwrap())).unwrap();
        }
        let stream: Vec<u8> = prefix.iter().chain(noise.iter()).copied().collect();
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(stream.len());
        let mut input = BytesMut::new();
        let mut at = 0;
        let mut seen = Vec::new();
        for cut in cuts {
            if cut < at { continue; }
            input.extend_from_slice(&stream[at..cut]);
            at = cut;
            conn.handle_input(Duration::ZERO, &mut input);
            // What the core leaves in the driver's buffer while reading a head is bounded.
            if !drain(&mut conn, &mut seen) { break; }
            prop_assert!(input.len() < limits.max_head_bytes, "left {} bytes", input.len());
            prop_assert!(conn.retained_bytes() <= limits.max_trailer_bytes + limits.max_proxy_error_body);
        }
        conn.handle_eof(Duration::ZERO, Eof::Clean);
        drain(&mut conn, &mut seen);
        for s in &seen {
            if let testing::Seen::Error(e) = s {
                // Peer bytes never make an error the caller's, and every message is a
                // lowercase sentence fragment naming what went wrong.
                prop_assert!(e.blame() != Blame::Caller, "{:?}", e);
                let text = e.to_string();
                prop_assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{:?}: {}", e, text);
                prop_assert!(text.len() > 10 && !text.ends_with('.'), "{:?}: {}", e, text);
            }
        }
    }
}
