//! The workload shared by `benches/parse.rs` (divan, wall time) and `examples/parse_cost.rs`
//! (callgrind, instruction counts), so both measure exactly the same code on the same bytes.
//!
//! Each `run_*` function is the timed region: its input is prepared by the caller and its
//! output is dropped by the caller. They are `#[inline(never)]` so callgrind can collect
//! inside them alone (`--toggle-collect`).

use std::time::Duration;

use bytes::BytesMut;
use ferry_proto::wire::{Semantics, parse_response_head};
use ferry_proto::{Config, Connection, Event, Output, Request, ResponseHead, Url};

/// The status line and header fields shared by both heads: what an nginx origin behind a CDN
/// sends for a small HTML page. The framing field comes last.
macro_rules! head {
    ($framing:literal) => {
        concat!(
            "HTTP/1.1 200 OK\r\n",
            "Server: nginx/1.25.3\r\n",
            "Date: Tue, 18 Nov 2025 10:21:34 GMT\r\n",
            "Content-Type: text/html; charset=utf-8\r\n",
            "Connection: keep-alive\r\n",
            "Cache-Control: public, max-age=3600, stale-while-revalidate=60\r\n",
            "ETag: \"6553f2a1-400\"\r\n",
            "Last-Modified: Tue, 14 Nov 2025 22:41:05 GMT\r\n",
            "Vary: Accept-Encoding, Origin\r\n",
            "Accept-Ranges: bytes\r\n",
            "Strict-Transport-Security: max-age=63072000; includeSubDomains; preload\r\n",
            "Content-Security-Policy: default-src 'self'; img-src 'self' https://cdn.example.com\r\n",
            "X-Content-Type-Options: nosniff\r\n",
            "Referrer-Policy: strict-origin-when-cross-origin\r\n",
            "Set-Cookie: session=8f14e45fceea167a5a36dedd4bea2543; Path=/; Secure; HttpOnly; SameSite=Lax\r\n",
            "Age: 127\r\n",
            "X-Cache: HIT, HIT\r\n",
            "X-Served-By: cache-fra-etou8220123-FRA, cache-ams-eham2210040-AMS\r\n",
            "Via: 1.1 varnish, 1.1 varnish\r\n",
            "Alt-Svc: h3=\":443\"; ma=86400\r\n",
            $framing,
            "\r\n",
        )
    };
}

/// A 20-field response head with `Content-Length: 1024`: 841 bytes.
pub(crate) const HEAD: &[u8] = head!("Content-Length: 1024\r\n").as_bytes();

/// The same fields, framed with `Transfer-Encoding: chunked`.
pub(crate) const HEAD_CHUNKED: &[u8] = head!("Transfer-Encoding: chunked\r\n").as_bytes();

/// The body both responses carry.
pub(crate) const BODY_LEN: usize = 1024;

/// [`HEAD`] followed by its 1 KiB body: what one socket read typically holds.
pub(crate) fn response() -> Vec<u8> {
    let mut r = HEAD.to_vec();
    r.resize(HEAD.len() + BODY_LEN, b'x');
    r
}

/// [`HEAD_CHUNKED`] with the same 1 KiB body in two 512-byte chunks.
pub(crate) fn response_chunked() -> Vec<u8> {
    let mut r = HEAD_CHUNKED.to_vec();
    for _ in 0..2 {
        r.extend_from_slice(b"200\r\n");
        r.resize(r.len() + BODY_LEN / 2, b'x');
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"0\r\n\r\n");
    r
}

/// [`HEAD_CHUNKED`] with the same 1 KiB body in `n` chunks (`n` divides 1024), for the cost of
/// one chunk's framing: compare two counts of chunks.
#[allow(dead_code)] // used by examples/parse_cost.rs, not by the divan bench
pub(crate) fn response_chunks(n: usize) -> Vec<u8> {
    let mut r = HEAD_CHUNKED.to_vec();
    for _ in 0..n {
        r.extend_from_slice(format!("{:x}\r\n", BODY_LEN / n).as_bytes());
        r.resize(r.len() + BODY_LEN / n, b'x');
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"0\r\n\r\n");
    r
}

/// Bare httparse as a typical user calls it: a fresh `[EMPTY_HEADER; N]`, `Response::parse`.
/// Returns the head length and status.
#[inline(never)]
pub(crate) fn run_httparse<const N: usize>(input: &[u8]) -> (usize, u16) {
    let mut headers = [httparse::EMPTY_HEADER; N];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(input) {
        Ok(httparse::Status::Complete(len)) => (len, response.code.unwrap_or_default()),
        _ => (0, 0),
    }
}

/// The floor: httparse with uninitialized header slots (what ferry calls), no setup cost.
#[inline(never)]
pub(crate) fn run_httparse_uninit(input: &[u8]) -> (usize, u16) {
    let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; 100];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        input,
        &mut headers,
    );
    match parsed {
        Ok(httparse::Status::Complete(len)) => (len, response.code.unwrap_or_default()),
        _ => (0, 0),
    }
}

/// ferry: parse the head off the buffer, then RFC 9112 §6.3 framing and keep-alive.
/// The response in a buffer as a driver's is after its first read: already shared (the first
/// `split_to` of a fresh `BytesMut` allocates its shared header once per buffer, i.e. once per
/// connection, not per response). `shared_input` keeps that one-time cost out; the fresh
/// variant (`BytesMut::from`) keeps it in.
#[allow(dead_code)] // used by examples/parse_cost.rs, not by the divan bench
pub(crate) fn shared_input(response: &[u8]) -> BytesMut {
    let mut buf = BytesMut::with_capacity(response.len() + 1);
    buf.extend_from_slice(response);
    buf.extend_from_slice(b"!");
    // Splitting promotes the buffer to shared; the split-off byte is dropped at once.
    drop(buf.split_off(response.len()));
    buf
}

#[inline(never)]
pub(crate) fn run_ferry(input: &mut BytesMut, config: &Config) -> (ResponseHead, Semantics) {
    let head = parse_response_head(input, config).expect("valid head").expect("complete head");
    let semantics = head.semantics(false).expect("valid framing");
    (head, semantics)
}

/// What one exchange needs, built outside the timed region.
pub(crate) struct Exchange {
    pub(crate) conn: Connection<Duration>,
    pub(crate) request: Request,
    pub(crate) input: BytesMut,
}

impl Exchange {
    pub(crate) fn new(response: &[u8]) -> Exchange {
        let url = Url::parse("http://example.com/index.html").expect("valid url");
        Exchange {
            conn: Connection::new(Duration::ZERO, Config::default()),
            request: Request::get(url).header("Accept", "*/*"),
            input: BytesMut::from(response),
        }
    }
}

/// A whole exchange through the connection machine: send a GET, take its head out, feed the
/// response, drain every event. Returns how many body bytes arrived.
#[inline(never)]
pub(crate) fn run_exchange(ex: &mut Exchange) -> usize {
    let now = Duration::ZERO;
    ex.conn.send_request(now, &ex.request).expect("valid request");
    let mut body = drain(&mut ex.conn);
    ex.conn.handle_input(now, &mut ex.input);
    body += drain(&mut ex.conn);
    assert!(ex.conn.is_idle(), "the exchange ended: {:?}", ex.conn.phase());
    body
}

/// Drains `poll_output` until it asks for something, as a driver does.
fn drain(conn: &mut Connection<Duration>) -> usize {
    let mut body = 0;
    loop {
        match conn.poll_output() {
            Output::Event(Event::Data(data)) => body += std::hint::black_box(data).len(),
            Output::NeedInput
            | Output::NeedBody
            | Output::Idle
            | Output::Reconnect
            | Output::HandedOver
            | Output::Closed => {
                return body;
            }
            other => drop(std::hint::black_box(other)),
        }
    }
}
