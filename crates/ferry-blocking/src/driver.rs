//! The driver: dials, moves bytes between a socket and the stack, waits. It makes no protocol
//! decision; every `if` here is on an I/O result. `ferry-smol` and `ferry-mem` are this file
//! with other sockets.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferry_client::{Output, Stack, TransportOp};

/// The fewest bytes a `read` call may fill: below it the read buffer's room is renewed.
const READ_SIZE: usize = 16 * 1024;

/// The read buffer's initialised room, zeroed once and filled by reads until less than
/// [`READ_SIZE`] is left: a download costs one `memset` per byte, not a copy, and a
/// keep-alive exchange almost nothing.
const ROOM: usize = 64 * 1024;

/// How much of the room one `memset` zeroes.
const ZERO_STEP: usize = 2 * 1024;

/// Pieces per vectored write (a head, a chunk-size line, the data, a CRLF fit many times).
const MAX_SLICES: usize = 16;

/// A stack and the socket it runs over.
pub(crate) struct Driver {
    pub(crate) stack: Stack<Instant>,
    stream: Option<TcpStream>,
    /// The one read buffer: socket reads are appended, the stack takes what it consumes.
    input: BytesMut,
    /// Initialised room right after `input` in the same buffer: a read fills its front, which
    /// is then joined to `input` (`unsplit`, O(1)). No `unsafe`, no copy.
    room: BytesMut,
    /// Transmits gathered for one vectored write.
    writes: Vec<Bytes>,
    /// The address the socket is connected to.
    remote: Option<SocketAddr>,
    /// Outputs taken from the stack and not yet given to the user (those that came while the
    /// request was being sent).
    pub(crate) pending: VecDeque<Output>,
    /// Transports opened (dials that connected), redials after a 407 included.
    dials: u64,
}

impl Driver {
    /// A driver for `stack`, not yet connected: the first [`Driver::next`] dials.
    pub(crate) fn new(stack: Stack<Instant>) -> Driver {
        Driver {
            stack,
            stream: None,
            input: BytesMut::new(),
            room: BytesMut::new(),
            writes: Vec::new(),
            remote: None,
            pending: VecDeque::new(),
            dials: 0,
        }
    }

    /// Transports this driver opened so far.
    pub(crate) fn dials(&self) -> u64 {
        self.dials
    }

    /// The peer's address, once connected.
    pub(crate) fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// Runs the stack until it has something for the user: an event, an end, `NeedBody`,
    /// `Idle`, an error or `Closed`.
    pub(crate) fn next(&mut self) -> Output {
        if let Some(o) = self.pending.pop_front() {
            return o;
        }
        if self.stream.is_none() && !self.stack.is_closed() {
            self.dial();
        }
        loop {
            match self.stack.poll_output() {
                Output::Transmit(bytes) => self.writes.push(bytes),
                Output::NeedInput => {
                    if self.flush() {
                        self.read();
                    }
                }
                Output::Reconnect => {
                    self.stream = None;
                    self.writes.clear();
                    self.input.clear();
                    self.dial();
                }
                other => {
                    // A failed write has been reported to the stack, which says what follows
                    // at the next poll; what it handed out already still goes to the user,
                    // but for a request for more body, which the failure withdrew.
                    if !self.flush() && matches!(other, Output::NeedBody) {
                        continue;
                    }
                    return other;
                }
            }
        }
    }

    /// Checks, without blocking, whether the peer spoke or hung up while the connection sat
    /// idle, and tells the stack (which then closes itself).
    pub(crate) fn probe(&mut self) {
        let Some(stream) = &mut self.stream else { return };
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        renew_room(&mut self.input, &mut self.room);
        let result = stream.read(&mut self.room[..]);
        let _ = stream.set_nonblocking(false);
        match result {
            Ok(0) => self.stack.handle_eof(Instant::now()),
            Ok(n) => {
                self.input.unsplit(self.room.split_to(n));
                self.stack.handle_input(Instant::now(), &mut self.input);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => self.stack.handle_transport_error(Instant::now(), TransportOp::Read, e),
        }
    }

    /// Resolves the first hop and tries each address in turn within the connect deadline.
    fn dial(&mut self) {
        self.stack.handle_dialing(Instant::now());
        let plan = self.stack.plan();
        let plan_dial = plan.dial().clone();
        let target = (plan.dial_host(), plan.dial().port());
        let addrs: Vec<SocketAddr> = match target.to_socket_addrs() {
            Ok(addrs) => {
                self.stack.handle_resolved(Instant::now());
                addrs.collect()
            }
            Err(e) => {
                return self.stack.handle_transport_error(Instant::now(), TransportOp::Resolve, e);
            }
        };
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address");
        for addr in addrs {
            let Some(budget) = self.remaining() else {
                last = io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
                break;
            };
            let attempt = match budget {
                Some(t) => TcpStream::connect_timeout(&addr, t),
                None => TcpStream::connect(addr),
            };
            match attempt {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    self.stream = Some(stream);
                    self.remote = Some(addr);
                    self.dials += 1;
                    tracing::debug!(target: "ferry::connect", dial = %plan_dial, %addr, "connected");
                    self.stack.handle_connected(Instant::now());
                    return;
                }
                Err(e) => last = e,
            }
        }
        // A connect that waited until the stack's deadline is that deadline firing.
        if last.kind() == io::ErrorKind::TimedOut {
            self.stack.handle_timeout(Instant::now());
            if self.stack.is_closed() {
                return;
            }
        }
        self.stack.handle_transport_error(Instant::now(), TransportOp::Connect, last);
    }

    /// Time left until the stack's next deadline: `Some(None)` when there is none, `None`
    /// when it has passed.
    fn remaining(&self) -> Option<Option<Duration>> {
        match self.stack.poll_timeout() {
            None => Some(None),
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                (!left.is_zero()).then_some(Some(left))
            }
        }
    }

    /// Writes the gathered transmits in vectored calls; `false` when the write failed (the
    /// stack has been told).
    fn flush(&mut self) -> bool {
        let Some(stream) = &mut self.stream else {
            self.writes.clear();
            return true;
        };
        if self.writes.is_empty() {
            return true;
        }
        // A write that cannot go on is bounded by the same next deadline as a read.
        let timeout = self
            .stack
            .poll_timeout()
            .map(|at| at.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)));
        if stream.set_write_timeout(timeout).is_err() {
            return true;
        }
        let mut done = 0; // whole pieces written
        let mut offset = 0; // bytes of `writes[done]` written
        while done < self.writes.len() {
            // Up to `MAX_SLICES` pieces per call, from an array on the stack: no allocation.
            let count = (self.writes.len() - done).min(MAX_SLICES);
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            slices[0] = IoSlice::new(&self.writes[done][offset..]);
            for (slot, piece) in slices[1..count].iter_mut().zip(&self.writes[done + 1..]) {
                *slot = IoSlice::new(piece);
            }
            match stream.write_vectored(&slices[..count]) {
                Ok(0) => {
                    let e = io::Error::new(io::ErrorKind::WriteZero, "the socket took no bytes");
                    return self.write_failed(e);
                }
                Ok(mut n) => {
                    while n > 0 && done < self.writes.len() {
                        let left = self.writes[done].len() - offset;
                        if n >= left {
                            n -= left;
                            done += 1;
                            offset = 0;
                        } else {
                            offset += n;
                            n = 0;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
                {
                    // The write waited until the stack's next deadline: it fires.
                    self.writes.clear();
                    self.stack.handle_timeout(Instant::now());
                    return false;
                }
                Err(e) => return self.write_failed(e),
            }
        }
        self.writes.clear();
        true
    }

    fn write_failed(&mut self, e: io::Error) -> bool {
        self.writes.clear();
        self.stack.handle_transport_error(Instant::now(), TransportOp::Write, e);
        false
    }

    /// Body bytes read from the socket straight into `out`, when the stack can take them so
    /// ([`Stack::read_body`]): `None` when it cannot now, or has something to say first (an
    /// end, an error, a deadline), which [`Driver::next`] then gives.
    pub(crate) fn read_body(&mut self, out: &mut [u8]) -> Option<usize> {
        if !self.pending.is_empty()
            || !self.writes.is_empty()
            || !self.input.is_empty()
            || self.stack.body_window().is_none()
        {
            return None;
        }
        let stream = self.stream.as_mut()?;
        let timeout = match self.stack.poll_timeout() {
            None => None,
            Some(at) => match at.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => {
                    self.stack.handle_timeout(Instant::now());
                    return None;
                }
            },
        };
        stream.set_read_timeout(timeout).ok()?;
        match self.stack.read_body(Instant::now(), out, &self.input, stream) {
            Ok(got) => got,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                self.stack.handle_timeout(Instant::now());
                None
            }
            Err(_) => None,
        }
    }

    /// One read, bounded by the stack's next deadline.
    fn read(&mut self) {
        let Some(stream) = &mut self.stream else {
            return self.stack.handle_eof(Instant::now());
        };
        let timeout = match self.stack.poll_timeout() {
            None => None,
            Some(at) => match at.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return self.stack.handle_timeout(Instant::now()),
            },
        };
        if stream.set_read_timeout(timeout).is_err() {
            return;
        }
        renew_room(&mut self.input, &mut self.room);
        match stream.read(&mut self.room[..]) {
            Ok(0) => self.stack.handle_eof(Instant::now()),
            Ok(n) => {
                self.input.unsplit(self.room.split_to(n));
                self.stack.handle_input(Instant::now(), &mut self.input);
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                self.stack.handle_timeout(Instant::now());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => self.stack.handle_transport_error(Instant::now(), TransportOp::Read, e),
        }
    }
}

/// Makes sure at least [`READ_SIZE`] bytes of initialised room follow `input`: when less is
/// left, [`ROOM`] bytes are zeroed after it, in place when no piece handed out still holds the
/// buffer (the core's pieces are views of it), else in a new one.
fn renew_room(input: &mut BytesMut, room: &mut BytesMut) {
    if room.len() >= READ_SIZE {
        return;
    }
    *room = BytesMut::new();
    let len = input.len();
    input.reserve(ROOM);
    // Zeroed a page at a time: a short `memset` is a few vector stores, where one of 64 KiB
    // takes the string instruction (slower at these sizes, and counted per byte by callgrind).
    while input.len() < len + ROOM {
        let step = (len + ROOM - input.len()).min(ZERO_STEP);
        input.resize(input.len() + step, 0);
    }
    *room = input.split_off(len);
}

impl ferry_proto::Reusable<Instant> for Driver {
    fn is_reusable(&self, now: Instant) -> bool {
        self.stream.is_some()
            && self.pending.is_empty()
            && ferry_proto::Reusable::is_reusable(&self.stack, now)
    }

    fn idle_deadline(&self) -> Option<Instant> {
        ferry_proto::Reusable::idle_deadline(&self.stack)
    }
}
