//! The whole-cycle workload shared by `benches/cycle.rs` (divan, wall time) and
//! `examples/cycle_cost.rs` (callgrind instruction counts, allocation counts), so both run
//! exactly the same code on the same bytes.
//!
//! A cycle is one keep-alive exchange as a driver runs it: [`Connection::send_request`] of a
//! GET, `poll_output` drained (the head "written"), then reads of at most [`READ_SIZE`] bytes
//! appended to one steady-state `BytesMut` that lives as long as the connection, each followed
//! by `handle_input` and a drain, until [`End::Done`]. Every output is dropped as soon as it is
//! polled, as a driver that hands events straight on would. The connection and the buffer are
//! reused from cycle to cycle, so after the first cycle what a cycle costs is what every
//! request on a pooled connection costs.
//!
//! What a read costs (the kernel's copy into the buffer, and the driver's `reserve`) is in
//! [`socket_read`], which is `#[inline(never)]` so callgrind can leave it out
//! (`--toggle-collect` on it as well as on [`Driver::cycle`] switches collection off inside it).

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use ferry_proto::{Config, Connection, End, Event, Output, Request, Url};

use crate::common::HEAD_CHUNKED;

/// How much a driver asks the socket for in one read.
pub(crate) const READ_SIZE: usize = 16 * 1024;

/// The large bodies' length.
pub(crate) const MIB: usize = 1024 * 1024;

/// The chunk size of the chunked 1 MiB body.
pub(crate) const CHUNK_SIZE: usize = 16 * 1024;

/// How many chunks (besides the last, empty one) the chunked 1 MiB body has.
pub(crate) const CHUNKS: usize = MIB / CHUNK_SIZE;

/// One response shape, by the name the bench and the script use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// `HTTP/1.1 200 OK`, `Content-Length: 2`, `hi`: the smallest useful response.
    Small,
    /// The 20-field head of `benches/parse.rs` and its 1 KiB body.
    Head20,
    /// The 20-field head, `Content-Length: 1048576` and 1 MiB of body.
    Length1Mib,
    /// The 20-field head, `Transfer-Encoding: chunked` and 1 MiB in 64 chunks of 16 KiB.
    Chunked1Mib,
}

impl Scenario {
    /// Every scenario, in the order the script's table lists them.
    pub(crate) const ALL: [Scenario; 4] =
        [Scenario::Small, Scenario::Head20, Scenario::Length1Mib, Scenario::Chunked1Mib];

    /// The name on the command line and in the tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Small => "small-get",
            Scenario::Head20 => "head20-1k",
            Scenario::Length1Mib => "length-1mib",
            Scenario::Chunked1Mib => "chunked-1mib",
        }
    }

    /// The scenario called `name`.
    pub(crate) fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The body length every cycle must deliver.
    pub(crate) fn body_len(self) -> usize {
        match self {
            Scenario::Small => 2,
            Scenario::Head20 => 1024,
            Scenario::Length1Mib | Scenario::Chunked1Mib => MIB,
        }
    }

    /// The response bytes the server sends, whole.
    pub(crate) fn response(self) -> Vec<u8> {
        match self {
            Scenario::Small => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi".to_vec(),
            Scenario::Head20 => head20("Content-Length: 1024\r\n", 1024),
            Scenario::Length1Mib => head20(&format!("Content-Length: {MIB}\r\n"), MIB),
            Scenario::Chunked1Mib => {
                let mut r = head20("Transfer-Encoding: chunked\r\n", 0);
                for _ in 0..CHUNKS {
                    r.extend_from_slice(format!("{CHUNK_SIZE:x}\r\n").as_bytes());
                    r.resize(r.len() + CHUNK_SIZE, b'x');
                    r.extend_from_slice(b"\r\n");
                }
                r.extend_from_slice(b"0\r\n\r\n");
                r
            }
        }
    }
}

/// The 19 fields of `common::HEAD` followed by `framing` (one field line) and `body` bytes.
fn head20(framing: &str, body: usize) -> Vec<u8> {
    let fields = HEAD_CHUNKED
        .strip_suffix(b"Transfer-Encoding: chunked\r\n\r\n")
        .expect("HEAD_CHUNKED ends with its framing field");
    let mut r = fields.to_vec();
    r.extend_from_slice(framing.as_bytes());
    r.extend_from_slice(b"\r\n");
    r.resize(r.len() + body, b'x');
    r
}

/// A driver reduced to its loop, with the socket replaced by a canned response.
pub(crate) struct Driver {
    scenario: Scenario,
    conn: Connection<Duration>,
    request: Request,
    response: Vec<u8>,
    /// The driver's one read buffer, reused for every read of every cycle.
    input: BytesMut,
}

impl Driver {
    /// A fresh connection, its request and its response, built once.
    pub(crate) fn new(scenario: Scenario) -> Driver {
        let url = Url::parse("http://example.com/index.html").expect("valid url");
        Driver {
            scenario,
            conn: Connection::new(Duration::ZERO, Config::default()),
            request: Request::get(url).header("Accept", "*/*"),
            response: scenario.response(),
            input: BytesMut::with_capacity(READ_SIZE),
        }
    }

    /// How many bytes the server sends per cycle.
    pub(crate) fn response_len(&self) -> usize {
        self.response.len()
    }

    /// One whole exchange on the kept-alive connection; returns the body bytes delivered.
    ///
    /// # Panics
    /// When the exchange does not end in `End::Done { reusable: true }` with the whole body:
    /// a benchmark of a broken cycle would measure nothing.
    #[inline(never)]
    pub(crate) fn cycle(&mut self) -> usize {
        let now = Duration::ZERO;
        self.conn.send_request(now, &self.request).expect("valid request");
        let mut body = 0;
        assert_eq!(drain(&mut self.conn, &mut body), Drained::NeedInput, "after send_request");
        let mut sent = 0;
        loop {
            assert!(sent < self.response.len(), "the response ended but the exchange did not");
            sent += socket_read(&mut self.input, &self.response[sent..]);
            self.conn.handle_input(now, &mut self.input);
            if drain(&mut self.conn, &mut body) == Drained::Done {
                break;
            }
        }
        assert_eq!(
            (sent, body, self.input.len()),
            (self.response.len(), self.scenario.body_len(), 0),
            "the whole response read, the whole body delivered, nothing left over"
        );
        body
    }
}

/// What a read from the socket does: the driver makes room for [`READ_SIZE`] bytes and the
/// kernel copies up to that many in. Returns how many bytes it appended.
#[inline(never)]
pub(crate) fn socket_read(input: &mut BytesMut, rest: &[u8]) -> usize {
    let n = rest.len().min(READ_SIZE);
    input.reserve(READ_SIZE);
    input.extend_from_slice(&rest[..n]);
    n
}

#[derive(Debug, PartialEq, Eq)]
enum Drained {
    NeedInput,
    Done,
}

/// Drains `poll_output` as a driver does, dropping each output at once and counting body
/// bytes, until the connection asks for input or the exchange ends.
fn drain(conn: &mut Connection<Duration>, body: &mut usize) -> Drained {
    loop {
        match conn.poll_output() {
            Output::Transmit(t) => drop(black_box(t)),
            Output::Event(Event::Data(data)) => *body += black_box(data).len(),
            Output::Event(event) => drop(black_box(event)),
            Output::NeedInput => return Drained::NeedInput,
            Output::End(End::Done { reusable: true }) => return Drained::Done,
            other => panic!("a keep-alive cycle does not output {other:?}"),
        }
    }
}
