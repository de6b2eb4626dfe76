//! The driver: dials, moves bytes between a socket and the stack, waits. It makes no protocol
//! decision; every `if` here is on an I/O result. `ferry-smol` and `ferry-mem` are this file
//! with other sockets.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_client::{Output, ReadBuffer, Stack, TransportOp};

/// Pieces per vectored write (a head, a chunk-size line, the data, a CRLF fit many times).
const MAX_SLICES: usize = 16;

/// A stack and the socket it runs over.
pub(crate) struct Driver {
    pub(crate) stack: Stack<Instant>,
    stream: Option<TcpStream>,
    /// The one read buffer: socket reads land in its room, the stack takes what it consumes.
    reads: ReadBuffer,
    /// Transmits gathered for one vectored write.
    writes: Vec<Bytes>,
    /// The address the socket is connected to.
    remote: Option<SocketAddr>,
    /// Outputs taken from the stack and not yet given to the user (those that came while the
    /// request was being sent).
    pub(crate) pending: VecDeque<Output>,
    /// Transports opened (dials that connected), redials after a 407 included.
    dials: u64,
    /// The socket's read and write timeouts as last set.
    read_timeout: SocketTimeout,
    write_timeout: SocketTimeout,
}

/// A socket timeout as last set (`None`: none, as on a new socket), so that it is set again
/// only when it would wake a call too late, or far too early. A blocking socket's timeout
/// bounds each call, while the stack's deadline moves with every exchange: following it
/// exactly would cost a system call per read and per write. Waking early is harmless: the
/// stack's `handle_timeout` finds nothing due and the driver waits again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SocketTimeout(Option<Duration>);

impl SocketTimeout {
    /// Below this, a timeout is set to the time left exactly.
    const EXACT: Duration = Duration::from_millis(8);

    /// Makes the socket wake a call within `left` (`None`: no deadline) through `set`, unless
    /// the timeout set already does, no earlier than half-way. A new one is set an eighth
    /// short of `left`, so that the next exchange's budget, a few microseconds longer or
    /// shorter, finds it still good; a call that waits to the end wakes a few times (each
    /// time closer) before the deadline fires.
    ///
    /// # Errors
    /// `set`'s; what was set is unknown then, and is set at the next call.
    fn arm(
        &mut self,
        left: Option<Duration>,
        set: impl FnOnce(Option<Duration>) -> io::Result<()>,
    ) -> io::Result<()> {
        let good = match (self.0, left) {
            (None, None) => true,
            (Some(set), Some(left)) => set <= left && set >= left / 2,
            _ => false,
        };
        if good {
            return Ok(());
        }
        let new = left.map(|l| if l < Self::EXACT { l } else { l - l / 8 });
        match set(new) {
            Ok(()) => {
                self.0 = new;
                Ok(())
            }
            Err(e) => {
                // Neither `None` nor a timeout this short is ever kept as it is.
                self.0 = Some(Duration::MAX);
                Err(e)
            }
        }
    }
}

impl Driver {
    /// A driver for `stack`, not yet connected: the first [`Driver::next`] dials.
    pub(crate) fn new(stack: Stack<Instant>) -> Driver {
        Driver {
            stack,
            stream: None,
            reads: ReadBuffer::new(),
            writes: Vec::new(),
            remote: None,
            pending: VecDeque::new(),
            dials: 0,
            read_timeout: SocketTimeout::default(),
            write_timeout: SocketTimeout::default(),
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
    #[inline]
    pub(crate) fn next(&mut self) -> Output {
        match self.pending.pop_front() {
            Some(o) => o,
            None => self.run(),
        }
    }

    /// [`Driver::next`] when nothing is pending: the loop. Inline, so that an output is moved
    /// once from the stack to the caller's match (the reads, writes and dials are calls).
    #[inline]
    fn run(&mut self) -> Output {
        if self.stream.is_none() && !self.stack.is_closed() {
            self.dial();
        }
        loop {
            let output = self.stack.poll_output();
            match output {
                Output::Transmit(bytes) => self.writes.push(bytes),
                Output::NeedInput => {
                    // One look at the deadline bounds both the write and the read.
                    let deadline = self.stack.poll_timeout();
                    if self.flush(deadline) {
                        self.read(deadline);
                    }
                }
                Output::Reconnect => {
                    self.stream = None;
                    self.writes.clear();
                    self.reads.clear();
                    self.dial();
                }
                _ => {
                    // A failed write has been reported to the stack, which says what follows
                    // at the next poll; what it handed out already still goes to the user,
                    // but for a request for more body, which the failure withdrew.
                    if !self.writes.is_empty()
                        && !self.flush(self.stack.poll_timeout())
                        && matches!(output, Output::NeedBody)
                    {
                        continue;
                    }
                    return output;
                }
            }
        }
    }

    /// The next output for the user when the stack has it without I/O ([`Stack::poll_ready`]):
    /// what [`Driver::next`] would give now without writing, reading or dialling; `None`
    /// when it would have to (nothing is taken then).
    #[inline]
    pub(crate) fn ready(&mut self) -> Option<Output> {
        match self.pending.pop_front() {
            Some(o) => Some(o),
            None if self.writes.is_empty() => self.stack.poll_ready(),
            None => None,
        }
    }

    /// Checks, without blocking, whether the peer spoke or hung up while the connection sat
    /// idle, and tells the stack (which then closes itself).
    ///
    /// One system call when nothing happened: a non-blocking peek (where the platform has
    /// `MSG_DONTWAIT`; elsewhere a read with the socket made non-blocking around it). Bytes
    /// that came are then read, without waiting, and given to the stack.
    pub(crate) fn probe(&mut self) {
        let Some(stream) = &mut self.stream else { return };
        match read_ready(stream, self.reads.room()) {
            Ok(None) => {}
            Ok(Some(0)) => self.stack.handle_eof(Instant::now()),
            Ok(Some(n)) => {
                self.reads.filled(n);
                self.stack.handle_input(Instant::now(), self.reads.input());
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
                    // A new socket has no timeouts.
                    self.read_timeout = SocketTimeout::default();
                    self.write_timeout = SocketTimeout::default();
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

    /// Writes the gathered transmits in vectored calls, bounded by `deadline` (the stack's
    /// [`Stack::poll_timeout`], just asked); `false` when the write failed (the stack has been
    /// told).
    fn flush(&mut self, deadline: Option<Instant>) -> bool {
        let Some(stream) = &mut self.stream else {
            self.writes.clear();
            return true;
        };
        if self.writes.is_empty() {
            return true;
        }
        // A write that cannot go on is bounded by the same next deadline as a read.
        let timeout = deadline
            .map(|at| at.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)));
        if self.write_timeout.arm(timeout, |t| stream.set_write_timeout(t)).is_err() {
            return true;
        }
        if let [piece] = &self.writes[..] {
            // One piece (a request head alone), written whole in one call: the usual case.
            match stream.write(piece) {
                Ok(n) if n == piece.len() => {
                    self.writes.clear();
                    return true;
                }
                written => return self.flush_rest(Some(written)),
            }
        }
        self.flush_rest(None)
    }

    /// [`Driver::flush`] in vectored calls, after the result of a first write of the first
    /// piece when one was made.
    fn flush_rest(&mut self, mut first: Option<io::Result<usize>>) -> bool {
        let Some(stream) = &mut self.stream else {
            self.writes.clear();
            return true;
        };
        let mut done = 0; // whole pieces written
        let mut offset = 0; // bytes of `writes[done]` written
        while done < self.writes.len() {
            // Up to `MAX_SLICES` pieces per call, from an array on the stack: no allocation.
            let count = (self.writes.len() - done).min(MAX_SLICES);
            let written = match first.take() {
                Some(written) => written,
                // One piece: no slices to fill.
                None if count == 1 => stream.write(&self.writes[done][offset..]),
                None => {
                    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                    slices[0] = IoSlice::new(&self.writes[done][offset..]);
                    for (slot, piece) in slices[1..count].iter_mut().zip(&self.writes[done + 1..]) {
                        *slot = IoSlice::new(piece);
                    }
                    stream.write_vectored(&slices[..count])
                }
            };
            match written {
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
                    let now = Instant::now();
                    match self.stack.poll_timeout() {
                        // The socket's timeout is set short of the deadline: wait out the rest.
                        Some(at) if at > now => {
                            let left = Some(at - now);
                            if let Err(e) =
                                self.write_timeout.arm(left, |t| stream.set_write_timeout(t))
                            {
                                return self.write_failed(e);
                            }
                        }
                        // The write waited until the stack's next deadline: it fires.
                        _ => {
                            self.writes.clear();
                            self.stack.handle_timeout(now);
                            return false;
                        }
                    }
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
    /// end, an error, a deadline), which [`Driver::next`] then gives. The checks that say no
    /// (a small body came with its head, say) are inline: they cost a few comparisons.
    #[inline]
    pub(crate) fn read_body(&mut self, out: &mut [u8]) -> Option<usize> {
        if !self.pending.is_empty()
            || !self.writes.is_empty()
            || !self.reads.is_empty()
            || self.stream.is_none()
            || self.stack.body_window().is_none()
        {
            return None;
        }
        self.pull_body(out)
    }

    /// [`Driver::read_body`] once the stack has a body window: the read.
    fn pull_body(&mut self, out: &mut [u8]) -> Option<usize> {
        if !self.arm_read_timeout(self.stack.poll_timeout()) {
            return None;
        }
        let stream = self.stream.as_mut()?;
        match self.stack.read_body(Instant::now(), out, self.reads.input(), stream) {
            Ok(got) => got,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                self.stack.handle_timeout(Instant::now());
                None
            }
            Err(_) => None,
        }
    }

    /// Bounds the next read by `deadline` (the stack's next one; the socket timeout set only
    /// when it must change); `false` when the deadline has passed (the stack has been told) or
    /// the timeout could not be set.
    fn arm_read_timeout(&mut self, deadline: Option<Instant>) -> bool {
        let Some(stream) = &self.stream else { return false };
        let timeout = match deadline {
            None => None,
            Some(at) => match at.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => {
                    self.stack.handle_timeout(Instant::now());
                    return false;
                }
            },
        };
        self.read_timeout.arm(timeout, |t| stream.set_read_timeout(t)).is_ok()
    }

    /// One read, bounded by `deadline` (the stack's next one, just asked).
    #[inline]
    fn read(&mut self, deadline: Option<Instant>) {
        if self.stream.is_none() {
            return self.stack.handle_eof(Instant::now());
        }
        if !self.arm_read_timeout(deadline) {
            return;
        }
        let Some(stream) = &mut self.stream else { return };
        match stream.read(self.reads.room()) {
            Ok(0) => self.stack.handle_eof(Instant::now()),
            Ok(n) => {
                self.reads.filled(n);
                self.stack.handle_input(Instant::now(), self.reads.input());
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                self.stack.handle_timeout(Instant::now());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => self.stack.handle_transport_error(Instant::now(), TransportOp::Read, e),
        }
    }
}

/// Reads what the socket has without waiting: `None` when it has nothing, `Some(0)` at its
/// end. One `recv(MSG_PEEK | MSG_DONTWAIT)` when nothing came; a read when something did.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
fn read_ready(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
    let mut one = [std::mem::MaybeUninit::<u8>::uninit()];
    let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT;
    match socket2::SockRef::from(&*stream).recv_with_flags(&mut one, flags) {
        Ok(0) => Ok(Some(0)),
        // Bytes are waiting: this read returns at once.
        Ok(_) => stream.read(buf).map(Some),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads what the socket has without waiting: `None` when it has nothing, `Some(0)` at its
/// end. The socket is made non-blocking for one read.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)))]
fn read_ready(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
    stream.set_nonblocking(true)?;
    let result = stream.read(buf);
    stream.set_nonblocking(false)?;
    match result {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Arms `t` for `left`: what was set on the socket, if anything.
    fn arm(t: &mut SocketTimeout, left: Option<Duration>) -> Option<Option<Duration>> {
        let mut set = None;
        t.arm(left, |d| {
            set = Some(d);
            Ok(())
        })
        .unwrap();
        set
    }

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_socket_timeout_is_set_only_when_it_would_fire_late_or_far_too_early() {
        let mut t = SocketTimeout::default();
        assert_eq!(arm(&mut t, None), None, "a new socket has none");
        assert_eq!(arm(&mut t, Some(ms(8000))), Some(Some(ms(7000))), "an eighth short");
        // The next exchanges' budgets, a little longer or shorter: the one set still does.
        assert_eq!(arm(&mut t, Some(ms(8001))), None);
        assert_eq!(arm(&mut t, Some(ms(7000))), None);
        assert_eq!(arm(&mut t, Some(ms(14_000))), None, "early, but no earlier than half-way");
        // It would fire late: set again.
        assert_eq!(arm(&mut t, Some(ms(6999))), Some(Some(ms(6999) - ms(6999) / 8)));
        // Far too early: set again.
        assert_eq!(arm(&mut t, Some(ms(40_000))), Some(Some(ms(35_000))));
        // No deadline any more: no timeout.
        assert_eq!(arm(&mut t, None), Some(None));
        assert_eq!(arm(&mut t, None), None);
        // Short ones are exact, and never too long.
        assert_eq!(arm(&mut t, Some(ms(5))), Some(Some(ms(5))));
        assert_eq!(arm(&mut t, Some(ms(4))), Some(Some(ms(4))));
        // A call that waits to the end wakes closer each time, and never after the deadline.
        let (mut left, mut t) = (ms(30_000), SocketTimeout::default());
        let mut wakes = 0;
        while !left.is_zero() {
            arm(&mut t, Some(left));
            let set = t.0.unwrap();
            assert!(set <= left, "{set:?} after {left:?}");
            left -= set;
            wakes += 1;
        }
        assert!(wakes <= 8, "{wakes} wake-ups");
    }

    #[test]
    fn a_failed_set_is_tried_again() {
        let mut t = SocketTimeout::default();
        assert!(t.arm(Some(ms(100)), |_| Err(io::Error::other("no"))).is_err());
        assert_eq!(arm(&mut t, Some(ms(100))), Some(Some(ms(87) + Duration::from_micros(500))));
        assert!(t.arm(None, |_| Err(io::Error::other("no"))).is_err());
        assert_eq!(arm(&mut t, None), Some(None));
    }
}
