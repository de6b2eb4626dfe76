//! The layers of a route as one machine with the core's contract.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ferry_proto::{
    Config, Connection, End, Eof, Event, Headers, Output as HttpOutput, Request, ResponseHead,
    Timestamp, TransportError,
};
use ferry_tls::Tls;

use crate::error::{Error, ErrorKind, Phase, Timeout};
use crate::plan::{Layer, Peer, Plan};
use crate::settings::TlsSettings;

/// What the driver should do next: the core's [`Output`](ferry_proto::Output) for a whole
/// route. See [`Stack`] for the loop.
#[derive(Debug)]
#[must_use]
pub enum Output {
    /// Write these bytes to the transport, in order.
    Transmit(Bytes),
    /// A response event of the HTTP layer.
    Event(Event),
    /// The exchange is over.
    End(End),
    /// The connection failed; it is closed for good. Close the transport.
    Error(Error),
    /// Ready for request body: [`Stack::send_body`] or [`Stack::finish_body`].
    NeedBody,
    /// Waiting for bytes from the transport (or [`Stack::poll_timeout`]).
    NeedInput,
    /// The connection is open and idle: it may take [`Stack::send_request`].
    Idle,
    /// Close the transport, dial [`Stack::dial`] again, then [`Stack::handle_dialing`] /
    /// [`Stack::handle_connected`] as at the start.
    Reconnect,
    /// The connection is finished; close the transport.
    Closed,
}

/// What the driver was doing when the transport failed, for [`Stack::handle_transport_error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportOp {
    /// Resolving the name of [`Stack::dial`].
    Resolve,
    /// Opening the transport.
    Connect,
    /// Reading.
    Read,
    /// Writing.
    Write,
}

/// One TLS session of the stack and whose it is.
struct TlsLayer {
    tls: Tls,
    peer: Peer,
}

/// The deadlines the stack owns itself; the core's machines own theirs.
struct Deadlines<T> {
    connect: Option<T>,
    /// The TLS handshake of the layer at this index.
    handshake: Option<(T, usize)>,
    /// The caller's whole-request budget ([`Stack::set_deadline`]).
    request: Option<T>,
}

/// When each step of a connection's setup finished, on the driver's clock; `None` for a step
/// the route does not have (or has not reached). The exchange's own instants are beside them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Instants<T> {
    /// The driver started resolving the first hop.
    pub dialing: Option<T>,
    /// The name resolved ([`Stack::handle_resolved`]).
    pub resolved: Option<T>,
    /// The transport was open.
    pub connected: Option<T>,
    /// The TLS handshake with an `https://` proxy finished.
    pub proxy_tls: Option<T>,
    /// The proxy answered CONNECT with 2xx.
    pub tunnel: Option<T>,
    /// The TLS handshake with the origin finished.
    pub origin_tls: Option<T>,
    /// The current (or last) request was queued.
    pub request: Option<T>,
    /// Its first response byte reached the HTTP layer.
    pub first_byte: Option<T>,
}

/// A route's layers (TLS to an `https://` proxy, the CONNECT handshake, TLS to the origin,
/// HTTP/1.1) offered to a driver as one machine.
///
/// # The driver's loop
///
/// ```text
/// handle_dialing(now)  → dial stack.dial() (each address in turn, until poll_timeout())
/// handle_connected(now)
/// loop: poll_output() ─▶ Transmit → write        NeedInput → read → handle_input / handle_eof
///                        Reconnect → close, dial again: handle_dialing, handle_connected
///                        Event/End/Idle/NeedBody → the user     Error/Closed → close
///       poll_timeout() ─▶ wait until then → handle_timeout(now)
/// transport failure    ─▶ handle_transport_error(op, error), then poll_output() as ever
/// ```
///
/// Bytes from the transport go to the bottom layer; each layer's output goes to the one above
/// it; the top (the CONNECT machine while the tunnel is being opened, then HTTP) gets
/// plaintext. Bytes the top sends go down the same way. When the tunnel opens, the bytes that
/// came with the proxy's 2xx are fed to the origin's TLS layer, inside the stack: a driver
/// never sees a layer change.
pub struct Stack<T: Timestamp> {
    plan: Plan,
    settings: TlsSettings,
    config: Config,
    /// TLS sessions, bottom-up.
    tls: Vec<TlsLayer>,
    /// The CONNECT machine, while the tunnel is being opened.
    connect: Option<Connection<T>>,
    /// The plan's layers built so far.
    built: usize,
    http: Connection<T>,
    /// Plaintext for the top machine, when TLS is below it (or bytes that came with a tunnel).
    top_in: BytesMut,
    queue: VecDeque<Output>,
    deadlines: Deadlines<T>,
    /// The proxy's reply to CONNECT, once the tunnel is open.
    tunnel_reply: Option<ResponseHead>,
    /// The I/O error behind a transport failure the HTTP layer is reporting.
    io_cause: Option<Arc<io::Error>>,
    /// A transport is connected (between `handle_connected` and a reconnect).
    connected: bool,
    /// Per TLS layer: its end was passed to the layer above.
    eof_passed: Vec<bool>,
    closed: bool,
    timings: Instants<T>,
    /// When [`Stack::read_body`] last pulled through TLS layers, which may hold plaintext
    /// since: lifted before the driver is told to wait.
    pulled: Option<T>,
    /// When bytes last came from the transport.
    heard: Option<T>,
}

/// How recently the peer must have spoken for [`Stack::needs_probe`] to skip the probe.
const PROBE_AFTER: core::time::Duration = core::time::Duration::from_millis(1);

impl<T: Timestamp> fmt::Debug for Stack<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("plan", &self.plan)
            .field("phase", &self.phase())
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl<T: Timestamp> Stack<T> {
    /// The machine for `plan`, with these TLS settings and the core's configuration (whose
    /// [`Timeouts`](ferry_proto::Timeouts) bound every phase, the driver's included).
    #[must_use]
    pub fn new(now: T, plan: Plan, settings: TlsSettings, config: Config) -> Stack<T> {
        Stack {
            plan,
            settings,
            http: Connection::new(now, config),
            config,
            tls: Vec::new(),
            connect: None,
            built: 0,
            top_in: BytesMut::new(),
            queue: VecDeque::new(),
            deadlines: Deadlines { connect: None, handshake: None, request: None },
            tunnel_reply: None,
            io_cause: None,
            connected: false,
            eof_passed: Vec::new(),
            closed: false,
            timings: Instants {
                dialing: None,
                resolved: None,
                connected: None,
                proxy_tls: None,
                tunnel: None,
                origin_tls: None,
                request: None,
                first_byte: None,
            },
            pulled: None,
            heard: None,
        }
    }

    /// When each step of the setup and of the current exchange happened.
    #[must_use]
    pub fn instants(&self) -> &Instants<T> {
        &self.timings
    }

    /// What the TLS handshake with the origin agreed (version, cipher, certificate), once done.
    #[must_use]
    pub fn origin_tls(&self) -> Option<ferry_tls::SessionInfo> {
        self.tls.iter().find(|l| l.peer == Peer::Origin).and_then(|l| l.tls.session_info())
    }

    /// What the TLS handshake with an `https://` proxy agreed, once done.
    #[must_use]
    pub fn proxy_tls(&self) -> Option<ferry_tls::SessionInfo> {
        self.tls.iter().find(|l| l.peer == Peer::Proxy).and_then(|l| l.tls.session_info())
    }

    /// Bounds everything from now on by `at` (a client's whole-request budget, which spans
    /// connections): when it passes, the connection fails with [`Timeout::Request`] in the
    /// phase it is in. `None` lifts it.
    pub fn set_deadline(&mut self, at: Option<T>) {
        self.deadlines.request = at;
    }

    /// The plan being carried out.
    #[must_use]
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Where the driver dials: host and port of the first hop.
    #[must_use]
    pub fn dial(&self) -> &ferry_proto::Authority {
        self.plan.dial()
    }

    /// The proxy's reply to CONNECT (status and headers), once the tunnel is open.
    #[must_use]
    pub fn tunnel_reply(&self) -> Option<&ResponseHead> {
        self.tunnel_reply.as_ref()
    }

    /// The phase the connection is in: where an error now would be reported.
    #[must_use]
    pub fn phase(&self) -> Phase {
        if !self.connected {
            return Phase::Connect;
        }
        if let Some(layer) = self.tls.iter().find(|l| l.tls.is_handshaking()) {
            return match layer.peer {
                Peer::Proxy => Phase::ProxyTls,
                Peer::Origin => Phase::OriginTls,
            };
        }
        if self.connect.is_some() {
            return Phase::Tunnel;
        }
        match self.http.request_sent() {
            ferry_proto::RequestSent::Fully if !self.http.is_idle() => Phase::Receive,
            _ => Phase::Send,
        }
    }

    /// Whether the connection is open and idle: it may take a request, or go to a pool.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        !self.closed && self.http.is_idle()
    }

    /// Whether the connection is finished.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether a driver should probe this idle connection (a read that does not wait: did
    /// the peer close it, or say something?) before sending a request on it at `now`.
    ///
    /// Not when the peer spoke less than a millisecond ago (its last response, which kept the
    /// connection alive) and the request is `retryable` should the connection turn out stale
    /// all the same: a replayable body and an idempotent method, as [`may_retry`](crate::may_retry)
    /// wants. A server closes an idle connection after a timeout, not a moment after it said
    /// it would keep it; the one that does costs a retry. Always otherwise: a request that
    /// cannot be sent twice is only sent on a connection just found open.
    #[must_use]
    pub fn needs_probe(&self, now: T, retryable: bool) -> bool {
        let recent =
            self.heard.and_then(|at| at.checked_add(PROBE_AFTER)).is_some_and(|until| now < until);
        !(recent && retryable)
    }

    // ---- the driver's inputs --------------------------------------------------------------

    /// The driver starts dialing [`Stack::dial`] (at the start, or after
    /// [`Output::Reconnect`]): the connect deadline ([`Timeouts::connect`](ferry_proto::Timeouts))
    /// runs from `now`, reported by [`Stack::poll_timeout`].
    pub fn handle_dialing(&mut self, now: T) {
        self.connected = false;
        self.timings.dialing = Some(now);
        self.timings.resolved = None;
        self.deadlines.connect = self.config.timeouts.connect.and_then(|d| now.checked_add(d));
    }

    /// The driver resolved the first hop's name (for [`Stack::instants`]; optional).
    pub fn handle_resolved(&mut self, now: T) {
        self.timings.resolved = Some(now);
    }

    /// The transport is open: the layers are built and the first bytes (a ClientHello, a
    /// CONNECT) queued.
    pub fn handle_connected(&mut self, now: T) {
        self.deadlines.connect = None;
        self.connected = true;
        self.timings.connected = Some(now);
        if self.connect.is_some() {
            // A reconnect asked for by the CONNECT machine (a 407 on a closing connection):
            // the layers below it are new, the handshake goes on.
            self.tls.clear();
            self.eof_passed.clear();
            self.top_in.clear();
            self.built = 0;
            self.build(now, true);
            let result = self.connect.as_mut().map(|c| c.handle_reconnected(now));
            if let Some(Err(e)) = result {
                self.fail(Phase::Tunnel, ErrorKind::Http(e));
            }
            self.settle(now);
            return;
        }
        self.build(now, false);
        self.settle(now);
    }

    /// Bytes read from the transport; all of them are consumed.
    #[inline]
    pub fn handle_input(&mut self, now: T, input: &mut BytesMut) {
        self.heard = Some(now);
        if !self.closed && self.tls.is_empty() && self.connect.is_none() && self.top_in.is_empty() {
            // The hot path of a plain-HTTP route: the driver's buffer goes straight to HTTP.
            // With no TLS layer and no CONNECT machine there is nothing to settle.
            feed_http(&mut self.http, &mut self.timings, now, input);
            return;
        }
        self.input_layered(now, input);
    }

    /// [`Stack::handle_input`] through the layers (or after the stack closed).
    #[inline(never)]
    fn input_layered(&mut self, now: T, input: &mut BytesMut) {
        if self.closed {
            input.clear();
            return;
        }
        match self.tls.first_mut() {
            Some(bottom) => {
                bottom.tls.handle_input(input);
                self.settle(now);
            }
            None if self.top_in.is_empty() => {
                self.feed_top(now, input);
                if self.connect.is_some() {
                    self.settle(now);
                }
            }
            None => {
                self.top_in.extend_from_slice(input);
                input.clear();
                self.settle(now);
            }
        }
    }

    /// The transport's read side ended (a read returned 0).
    pub fn handle_eof(&mut self, now: T) {
        if self.closed {
            return;
        }
        match self.tls.first_mut() {
            Some(bottom) => bottom.tls.handle_eof(),
            None => {
                self.settle(now);
                // Plain TCP has no close_notify: its end is all the peer can say.
                self.top_eof(now, Eof::Clean);
            }
        }
        self.settle(now);
    }

    /// The transport failed; `op` says what the driver was doing. The connection is closed
    /// and the error, with its phase and the core's retry facts, comes out of
    /// [`Stack::poll_output`].
    ///
    /// A failed write of a request the server may already be answering (an early `413`,
    /// say) does not end the connection at once: the HTTP layer stops sending and reads what
    /// still arrives, so [`Stack::poll_output`] goes on as ever.
    pub fn handle_transport_error(&mut self, now: T, op: TransportOp, error: io::Error) {
        let phase = match op {
            TransportOp::Resolve => Phase::Resolve,
            TransportOp::Connect => Phase::Connect,
            TransportOp::Read | TransportOp::Write => self.phase(),
        };
        let http_owns_it = matches!(phase, Phase::Send | Phase::Receive)
            && !self.http.is_idle()
            && self.connect.is_none();
        match op {
            TransportOp::Write if http_owns_it && self.tls.is_empty() => {
                self.http.handle_send_failed(now);
                self.settle(now);
            }
            TransportOp::Read | TransportOp::Write if http_owns_it => {
                // The core's error carries what was sent and received: the retry facts.
                let kind = match error.kind() {
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                        TransportError::Reset
                    }
                    io::ErrorKind::BrokenPipe => TransportError::BrokenPipe,
                    _ => TransportError::Other,
                };
                self.http.handle_transport_error(now, kind);
                self.io_cause = Some(Arc::new(error));
                self.settle(now);
            }
            _ => self.fail(phase, ErrorKind::Io(Arc::new(error))),
        }
    }

    /// Fires every deadline due at `now`; early or twice does nothing.
    pub fn handle_timeout(&mut self, now: T) {
        if self.closed {
            return;
        }
        if self.deadlines.request.is_some_and(|at| at <= now) {
            self.deadlines.request = None;
            let phase = self.phase();
            self.fail(phase, ErrorKind::Timeout(Timeout::Request));
            return;
        }
        if self.deadlines.connect.is_some_and(|at| at <= now) {
            self.deadlines.connect = None;
            self.fail(Phase::Connect, ErrorKind::Timeout(Timeout::Connect));
            return;
        }
        if let Some((at, i)) = self.deadlines.handshake {
            if at <= now {
                self.deadlines.handshake = None;
                let phase = self.tls_phase(i);
                self.fail(phase, ErrorKind::Timeout(Timeout::TlsHandshake));
                return;
            }
        }
        if let Some(c) = &mut self.connect {
            c.handle_timeout(now);
        }
        self.http.handle_timeout(now);
        self.settle(now);
    }

    // ---- the user's commands ---------------------------------------------------------------

    /// Starts an exchange: the request is shaped for the route (origin- or absolute-form, the
    /// proxy's credentials only towards a forwarding proxy) and queued. It goes out once the
    /// layers below are ready. The request stays the caller's: a request in origin-form
    /// without proxy credentials (as [`Request::new`] makes it) is encoded as it is, with no
    /// copy; one to or from a forwarding route is shaped on a copy.
    ///
    /// # Errors
    /// The core's checks ([`ErrorKind::Request`]); nothing is queued then.
    #[inline]
    pub fn send_request(&mut self, now: T, request: &Request) -> Result<(), Error> {
        // `via` leaves a request that is not forwarded, on a route that does not forward,
        // as it is (origin-form, no proxy credentials): no copy then.
        if request.is_forwarded() || self.plan.route().is_forwarded() {
            return self.send_shaped(now, request);
        }
        match self.http.send_request(now, request) {
            Ok(()) => {
                self.timings.request = Some(now);
                self.timings.first_byte = None;
                Ok(())
            }
            Err(e) => Err(request_error(e)),
        }
    }

    /// [`Stack::send_request`] of a request shaped for a forwarding route, on a copy.
    #[inline(never)]
    fn send_shaped(&mut self, now: T, request: &Request) -> Result<(), Error> {
        let shaped = request.clone().via(self.plan.route());
        self.http.send_request(now, &shaped).map_err(request_error)?;
        self.timings.request = Some(now);
        self.timings.first_byte = None;
        Ok(())
    }

    /// A piece of request body, handed on uncopied.
    ///
    /// # Errors
    /// The core's checks; see [`Connection::send_body`].
    pub fn send_body(&mut self, now: T, data: Bytes) -> Result<(), Error> {
        self.http.send_body(now, data).map_err(|e| Error::new(Phase::Send, ErrorKind::Request(e)))
    }

    /// Ends the request body.
    ///
    /// # Errors
    /// The core's checks; see [`Connection::finish_body`].
    pub fn finish_body(&mut self, now: T, trailers: Option<&Headers>) -> Result<(), Error> {
        self.http
            .finish_body(now, trailers)
            .map_err(|e| Error::new(Phase::Send, ErrorKind::Request(e)))
    }

    /// The rest of the response body is not wanted; see [`Connection::discard_body`].
    pub fn discard_body(&mut self, now: T) {
        self.http.discard_body(now);
    }

    // ---- the pull path of a body ----------------------------------------------------------

    /// How much body [`Stack::read_body`] could read now (the HTTP layer's
    /// [`Connection::body_window`], when nothing is buffered or queued in the stack), given
    /// an empty driver buffer: a driver's check before it arms a read. Cost: a few
    /// comparisons.
    #[must_use]
    #[inline]
    pub fn body_window(&self) -> Option<u64> {
        if self.closed
            || self.connect.is_some()
            || !self.top_in.is_empty()
            || !self.queue.is_empty()
            || self.tls.iter().any(|l| l.tls.has_output() || l.tls.has_buffered_plaintext())
        {
            return None;
        }
        self.http.body_window()
    }

    /// Reads response body straight into `out`, past every buffer, when the HTTP layer has a
    /// body window ([`Connection::body_window`]) and nothing is buffered on the way to it:
    /// `input` (the driver's read buffer) empty, no plaintext waiting in the stack, no output
    /// queued. On a plain route it reads at most `min(out.len(), window)` bytes from
    /// `transport`; the HTTP layer accounts them as body (its remaining length, limits, read
    /// deadline, the body's end). The stack calls only the reader it is given.
    ///
    /// `Ok(Some(n))`: `n > 0` body bytes are in `out[..n]`. `Ok(None)`: not possible now, or
    /// the stack has something to say (the transport's end, a failure, the body's end):
    /// take the usual path, [`Stack::poll_output`] and [`Stack::handle_input`]. A transport's
    /// end and errors are taken as [`Stack::handle_eof`] and [`Stack::handle_transport_error`]
    /// take them.
    ///
    /// # Errors
    /// A `WouldBlock`, `TimedOut` or `Interrupted` from `transport`, untouched: the caller's
    /// to turn into [`Stack::handle_timeout`] (its read waited until the next deadline) or to
    /// retry.
    pub fn read_body(
        &mut self,
        now: T,
        out: &mut [u8],
        input: &BytesMut,
        transport: &mut dyn io::Read,
    ) -> io::Result<Option<usize>> {
        if !input.is_empty() {
            return Ok(None);
        }
        let Some(window) = self.body_window() else { return Ok(None) };
        let want = usize::try_from(window).map_or(out.len(), |w| w.min(out.len()));
        let tls = !self.tls.is_empty();
        // A small buffer with much body to come: one big read into the driver's buffer and
        // copies out of it cost fewer calls than a read per buffer (`BufReader`'s rule).
        if !tls && out.len() < MIN_PULL && (want as u64) < window {
            return Ok(None);
        }
        if let (false, true, Some(size)) = (tls, want < out.len(), self.http.body_window_chunk()) {
            // Small chunks: one read into the driver's buffer takes many of them at once.
            let reach = usize::try_from(size)
                .map_or(usize::MAX, |s| want.saturating_add(s.saturating_mul(GUESSES - 1)));
            if reach < MIN_PULL.min(out.len()) {
                return Ok(None);
            }
            return self.read_chunks(now, out, want, size, transport);
        }
        let Some(out) = out.get_mut(..want).filter(|o| !o.is_empty()) else { return Ok(None) };
        if tls {
            // Plaintext or ciphertext may now wait inside rustls: lifted by `poll_output`
            // before the driver waits for input.
            self.pulled = Some(now);
        }
        let read = io::Read::read(&mut Pull { layers: &mut self.tls, transport }, out);
        match read {
            Ok(0) if tls => {
                // A layer's end: its `Closed` goes up the usual way.
                self.settle(now);
                Ok(None)
            }
            Ok(0) => {
                self.handle_eof(now);
                Ok(None)
            }
            Ok(n) => {
                if let Err(e) = self.http.handle_body_read(now, n) {
                    // Only a reader that claims more than it was given: a broken transport.
                    self.fail(Phase::Receive, ErrorKind::Http(e));
                    return Ok(None);
                }
                if tls && self.tls.iter().any(|l| l.tls.has_output()) {
                    self.settle(now);
                }
                Ok(Some(n))
            }
            Err(e) if e.get_ref().is_some_and(|inner| inner.is::<Stop>()) => {
                self.settle(now);
                Ok(None)
            }
            Err(e) if is_the_callers(&e) => Err(e),
            Err(e) => {
                self.handle_transport_error(now, TransportOp::Read, e);
                Ok(None)
            }
        }
    }

    /// [`Stack::read_body`] for the rest of a chunk shorter than `out`, on a plain route: one
    /// vectored read into the rest of the chunk, then the next chunks' data further on in
    /// `out`, with the framing between them (guessed from the current chunk's `size`: `CRLF
    /// hex CRLF`) read into small buffers of its own and fed to the HTTP layer. Where the guess
    /// was right the data sits in `out` uncopied; from the first byte where it was not, the
    /// rest of the read goes the usual way (through `top_in`, in order).
    fn read_chunks(
        &mut self,
        now: T,
        out: &mut [u8],
        window: usize,
        size: u64,
        transport: &mut dyn io::Read,
    ) -> io::Result<Option<usize>> {
        let seg_len = usize::try_from(size).unwrap_or(usize::MAX);
        let mut frame = [0u8; FRAME_MAX];
        let flen = framing_line(size, &mut frame);
        let mut frames = [[0u8; FRAME_MAX]; GUESSES];
        // Data segments in `out`: the window's, then one per guessed chunk.
        let mut lens = [0usize; GUESSES + 1];
        let read = {
            let mut slices: [io::IoSliceMut<'_>; 2 * GUESSES + 1] =
                std::array::from_fn(|_| io::IoSliceMut::new(&mut []));
            let (first, mut rest) = out.split_at_mut(window);
            lens[0] = window;
            slices[0] = io::IoSliceMut::new(first);
            let mut count = 1;
            // A frame after each segment that ends a chunk (the last one too: the next call
            // then finds the next chunk's window open), a segment after each frame while `out`
            // has room.
            for (i, f) in frames.iter_mut().enumerate() {
                if i > 0 && lens[i] < seg_len {
                    break;
                }
                slices[count] = io::IoSliceMut::new(&mut f[..flen]);
                count += 1;
                if rest.is_empty() || i + 1 == GUESSES {
                    break;
                }
                let take = rest.len().min(seg_len);
                let (seg, tail) = std::mem::take(&mut rest).split_at_mut(take);
                slices[count] = io::IoSliceMut::new(seg);
                lens[i + 1] = take;
                count += 1;
                rest = tail;
            }
            transport.read_vectored(&mut slices[..count])
        };
        let mut got = match read {
            Ok(0) => {
                self.handle_eof(now);
                return Ok(None);
            }
            Ok(n) => n,
            Err(e) if is_the_callers(&e) => {
                return Err(e);
            }
            Err(e) => {
                self.handle_transport_error(now, TransportOp::Read, e);
                return Ok(None);
            }
        };
        let first = got.min(window);
        if let Err(e) = self.http.handle_body_read(now, first) {
            self.fail(Phase::Receive, ErrorKind::Http(e));
            return Ok(None);
        }
        let mut verified = first;
        got -= first;
        let mut i = 0;
        while got > 0 && i < GUESSES {
            let f = got.min(flen);
            got -= f;
            self.top_in.extend_from_slice(&frames[i][..f]);
            self.feed_held(now);
            // Right when the framing was all of the guessed bytes and the chunk after it is
            // as long as the one before: its data is the next segment.
            let fresh = self.top_in.is_empty() && self.http.body_window_chunk() == Some(size);
            if f == flen && fresh && self.http.body_window() == Some(size) {
                let d = got.min(lens[i + 1]);
                if let Err(e) = self.http.handle_body_read(now, d) {
                    self.fail(Phase::Receive, ErrorKind::Http(e));
                    return Ok(None);
                }
                verified += d;
                got -= d;
                i += 1;
                continue;
            }
            // A wrong guess (or a short read inside the framing): the rest of the read, in
            // order, is plain input.
            let mut at = verified;
            let mut j = i + 1;
            while got > 0 && j <= GUESSES {
                let d = got.min(lens[j]);
                self.top_in.extend_from_slice(&out[at..at + d]);
                at += d;
                got -= d;
                if got == 0 || j == GUESSES {
                    break;
                }
                let f = got.min(flen);
                self.top_in.extend_from_slice(&frames[j][..f]);
                got -= f;
                j += 1;
            }
            self.settle(now);
            break;
        }
        Ok(Some(verified))
    }

    /// Feeds what waits in `top_in` to the top machine; what it leaves stays there.
    fn feed_held(&mut self, now: T) {
        let mut held = std::mem::take(&mut self.top_in);
        self.feed_top(now, &mut held);
        self.top_in = held;
    }

    // ---- outputs ---------------------------------------------------------------------------

    /// The next thing for the driver to do. Never blocks.
    #[inline]
    pub fn poll_output(&mut self) -> Output {
        loop {
            if let Some(o) = self.queue.pop_front() {
                return o;
            }
            if self.closed {
                return Output::Closed;
            }
            if !self.connected {
                return Output::NeedInput;
            }
            if let Some(connect) = &mut self.connect {
                // `settle` took everything else: the machine is waiting.
                return match connect.poll_output() {
                    HttpOutput::Reconnect => Output::Reconnect,
                    _ => Output::NeedInput,
                };
            }
            match self.http.poll_output() {
                // No TLS below and nothing queued: straight to the driver.
                HttpOutput::Transmit(t) if self.tls.is_empty() => {
                    return Output::Transmit(t.into_bytes());
                }
                HttpOutput::Transmit(t) => {
                    let n = self.tls.len();
                    self.send_down(n, t.into_bytes());
                }
                HttpOutput::Event(e) => return Output::Event(e),
                HttpOutput::End(end) => return Output::End(end),
                HttpOutput::Error(e) => self.http_failed(e),
                HttpOutput::NeedBody => return Output::NeedBody,
                HttpOutput::NeedInput => {
                    // What a body pull left inside the TLS layers goes up before the wait.
                    if let Some(at) = self.pulled.take() {
                        self.settle(at);
                        continue;
                    }
                    return Output::NeedInput;
                }
                HttpOutput::Idle => return Output::Idle,
                HttpOutput::Reconnect => return Output::Reconnect,
                // An upgrade the caller asked for hands the transport on; this stack has no use
                // for it then.
                HttpOutput::Closed | HttpOutput::HandedOver => {
                    self.close_transport();
                    return Output::Closed;
                }
            }
        }
    }

    /// The next output, taken, when it is one for the user that needs no step of the driver
    /// first (an event, an end, an error, `Idle`, `Closed`): what [`Stack::poll_output`]
    /// would give next. `None` when that would be anything else (a transmit, a wait for
    /// input or body, a reconnect), which stays for [`Stack::poll_output`]. A driver asks it
    /// after a piece of body, to take the body's end that came with it without a turn of its
    /// loop.
    #[inline(always)]
    pub fn poll_ready(&mut self) -> Option<Output> {
        if !self.queue.is_empty()
            || self.closed
            || !self.connected
            || self.connect.is_some()
            || !self.tls.is_empty()
        {
            return self.ready_queued();
        }
        // A plain route: the HTTP layer's output. Its queue holds transmits, events, errors
        // and ends; every other output it derives from its state, so it says it again.
        match self.http.poll_output() {
            HttpOutput::Event(e) => Some(Output::Event(e)),
            HttpOutput::End(end) => Some(Output::End(end)),
            HttpOutput::Idle => Some(Output::Idle),
            HttpOutput::NeedBody | HttpOutput::NeedInput | HttpOutput::Reconnect => None,
            other => self.ready_other(other),
        }
    }

    /// [`Stack::poll_ready`] with outputs queued, or layers between the HTTP layer and the
    /// driver (which [`Stack::poll_output`] settles first: nothing is taken past them).
    #[inline(never)]
    fn ready_queued(&mut self) -> Option<Output> {
        match self.queue.front() {
            Some(Output::Event(_) | Output::End(_) | Output::Error(_) | Output::Idle) => {
                self.queue.pop_front()
            }
            Some(_) => None,
            None if self.closed => Some(Output::Closed),
            None => None,
        }
    }

    /// [`Stack::poll_ready`]'s rare outputs of the HTTP layer on a plain route.
    #[inline(never)]
    fn ready_other(&mut self, output: HttpOutput) -> Option<Output> {
        match output {
            HttpOutput::Transmit(t) => {
                // In order, ahead of whatever the HTTP layer says next.
                self.queue.push_back(Output::Transmit(t.into_bytes()));
                None
            }
            HttpOutput::Error(e) => {
                self.http_failed(e);
                self.ready_queued()
            }
            HttpOutput::Closed | HttpOutput::HandedOver => {
                self.close_transport();
                Some(Output::Closed)
            }
            HttpOutput::Event(e) => Some(Output::Event(e)),
            HttpOutput::End(end) => Some(Output::End(end)),
            HttpOutput::Idle => Some(Output::Idle),
            HttpOutput::NeedBody | HttpOutput::NeedInput | HttpOutput::Reconnect => None,
        }
    }

    /// The HTTP layer failed: the stack fails with it, in the phase the core's progress says
    /// (or with the I/O error behind a transport failure). Out of line: `poll_output` is asked
    /// several times a request.
    #[cold]
    #[inline(never)]
    fn http_failed(&mut self, e: ferry_proto::Error) {
        if let (Some(io), ferry_proto::ErrorKind::Transport { .. }) =
            (self.io_cause.take(), e.kind())
        {
            let err = Error::new(self.phase(), ErrorKind::Io(io))
                .with_progress(e.request_sent(), e.response_started());
            self.fail_with(err);
            return;
        }
        let phase = if e.response_started() || e.request_sent() == ferry_proto::RequestSent::Fully {
            Phase::Receive
        } else {
            Phase::Send
        };
        self.fail(phase, ErrorKind::Http(e));
    }

    /// The earliest deadline of every layer: call [`Stack::handle_timeout`] then. A blocking
    /// driver sets its socket timeouts from it.
    #[must_use]
    #[inline]
    pub fn poll_timeout(&self) -> Option<T> {
        /// The earlier of two deadlines, `None` being never.
        fn earlier<T: Timestamp>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, None) => a,
                (None, b) => b,
            }
        }
        // Asked before every read and write: comparisons, not an iterator over five.
        let mut at = earlier(self.http.poll_timeout(), self.deadlines.request);
        if let Some(connect) = &self.connect {
            at = earlier(at, connect.poll_timeout());
        }
        at = earlier(at, self.deadlines.connect);
        earlier(at, self.deadlines.handshake.map(|(at, _)| at))
    }

    // ---- transitions -----------------------------------------------------------------------

    /// Builds the plan's layers from `built` up to and including the next CONNECT (or to the
    /// top). `reconnect`: the CONNECT machine already exists and goes on.
    fn build(&mut self, now: T, reconnect: bool) {
        while let Some(layer) = self.plan.layers().get(self.built).cloned() {
            self.built += 1;
            match layer {
                Layer::Tls { server, peer } => {
                    let config = match peer {
                        Peer::Proxy => &self.settings.proxy,
                        Peer::Origin => &self.settings.origin,
                    };
                    match Tls::new(config, &server) {
                        Ok(tls) => {
                            self.tls.push(TlsLayer { tls, peer });
                            self.eof_passed.push(false);
                            let at =
                                self.config.timeouts.tls_handshake.and_then(|d| now.checked_add(d));
                            self.deadlines.handshake = at.map(|at| (at, self.tls.len() - 1));
                        }
                        Err(e) => {
                            let phase = match peer {
                                Peer::Proxy => Phase::ProxyTls,
                                Peer::Origin => Phase::OriginTls,
                            };
                            self.fail(phase, ErrorKind::Tls(e));
                            return;
                        }
                    }
                }
                Layer::Connect(connect) => {
                    if !reconnect {
                        let host = connect.target().to_string();
                        let fields = std::iter::once(("Host", host.as_bytes()))
                            .chain(
                                connect
                                    .headers()
                                    .map(|(n, v)| (std::str::from_utf8(n).unwrap_or("?"), v)),
                            )
                            .chain(
                                connect
                                    .has_auth()
                                    .then_some(("Proxy-Authorization", &b"Basic ***"[..])),
                            );
                        tracing::debug!(
                            target: "ferry::tunnel",
                            method = "CONNECT",
                            authority = %connect.target(),
                            proxy = %self.plan.dial(),
                            fields = %crate::trace::fields(fields),
                            "CONNECT"
                        );
                        let mut machine = Connection::new(now, self.config);
                        if let Err(e) = machine.send_connect(now, &connect) {
                            self.fail(Phase::Tunnel, ErrorKind::Http(e));
                            return;
                        }
                        self.connect = Some(machine);
                    }
                    return;
                }
                Layer::Http(_) => return,
            }
        }
    }

    /// Runs every internal transition the last input allows: plaintext up through the TLS
    /// layers to the top, their ciphertext down, handshakes finishing, a stream's end passed up,
    /// the CONNECT machine's request, reply, tunnel or failure. What is left for the driver is
    /// queued, or is the top machine's to say.
    fn settle(&mut self, now: T) {
        loop {
            if self.closed {
                return;
            }
            let mut changed = self.lift(now);
            for level in 0..self.tls.len() {
                changed |= self.drain_tls(now, level);
                if self.closed {
                    return;
                }
            }
            changed |= self.settle_connect(now);
            if !changed {
                return;
            }
        }
    }

    /// Moves plaintext from each TLS layer into the one above it, and the top layer's into
    /// the top machine; `true` when any byte moved.
    fn lift(&mut self, now: T) -> bool {
        let mut moved = false;
        for i in 1..self.tls.len() {
            let (below, above) = self.tls.split_at_mut(i);
            let plain = below[i - 1].tls.plaintext();
            if !plain.is_empty() {
                moved = true;
                above[0].tls.handle_input(plain);
            }
        }
        if let Some(top) = self.tls.last_mut() {
            let plain = top.tls.plaintext();
            if !plain.is_empty() && self.top_in.is_empty() {
                // The top machine reads the layer's own buffer, as HTTP reads the driver's on a
                // plain route: what it leaves (a partial head) waits there for more, and the
                // buffer stays the layer's (taking it would have the layer allocate a new one
                // for every message).
                let before = plain.len();
                feed(&mut self.connect, &mut self.http, &mut self.timings, now, plain);
                moved |= plain.len() != before;
            } else if !plain.is_empty() {
                // Behind bytes that came with a tunnel: in order, after them.
                moved = true;
                self.top_in.unsplit(plain.split());
            }
        }
        if !self.top_in.is_empty() {
            let mut top_in = std::mem::take(&mut self.top_in);
            let before = top_in.len();
            self.feed_top(now, &mut top_in);
            moved |= top_in.len() != before;
            // What the top left (a partial head) waits for more.
            if self.top_in.is_empty() {
                self.top_in = top_in;
            } else {
                top_in.unsplit(std::mem::take(&mut self.top_in));
                self.top_in = top_in;
            }
        }
        moved
    }

    /// Feeds the top machine (CONNECT while the tunnel opens, else HTTP).
    fn feed_top(&mut self, now: T, input: &mut BytesMut) {
        feed(&mut self.connect, &mut self.http, &mut self.timings, now, input);
    }

    /// A TLS handshake finished: recorded, and told to `tracing` (never a credential).
    fn established(&mut self, now: T, level: usize) {
        let Some(layer) = self.tls.get(level) else { return };
        let info = layer.tls.session_info();
        let peer = match layer.peer {
            Peer::Proxy => {
                self.timings.proxy_tls = Some(now);
                "proxy"
            }
            Peer::Origin => {
                self.timings.origin_tls = Some(now);
                "origin"
            }
        };
        if let Some(info) = info {
            tracing::debug!(
                target: "ferry::tls",
                peer,
                version = info.version,
                cipher = %info.cipher,
                alpn = info.alpn.as_deref().unwrap_or("none"),
                subject = info.subject.as_deref().unwrap_or("?"),
                issuer = info.issuer.as_deref().unwrap_or("?"),
                "TLS handshake done"
            );
        }
    }

    fn top_eof(&mut self, now: T, eof: Eof) {
        match &mut self.connect {
            Some(c) => c.handle_eof(now, eof),
            None => self.http.handle_eof(now, eof),
        }
    }

    /// Sends `bytes` into TLS layer `level - 1` (or to the transport when `level` is 0), and
    /// what that produces further down.
    fn send_down(&mut self, level: usize, bytes: Bytes) {
        if level == 0 {
            self.queue.push_back(Output::Transmit(bytes));
            return;
        }
        let i = level - 1;
        if let Err(e) = self.tls[i].tls.send(&bytes) {
            let phase = self.tls_phase(i);
            self.fail(phase, ErrorKind::Tls(e));
            return;
        }
        self.flush_tls(i);
    }

    /// Hands TLS layer `i`'s ciphertext to the layer below.
    fn flush_tls(&mut self, i: usize) {
        while let Some(layer) = self.tls.get_mut(i) {
            match layer.tls.poll_output() {
                ferry_tls::Output::Transmit(bytes) => self.send_down(i, bytes),
                // Events are taken by `drain_tls`, which runs after every input; sending
                // produces none (an error of `send` is returned by it).
                _ => return,
            }
        }
    }

    /// Everything TLS layer `level` has to say; `true` when anything happened.
    fn drain_tls(&mut self, now: T, level: usize) -> bool {
        let mut acted = false;
        while !self.closed {
            let Some(layer) = self.tls.get_mut(level) else { return acted };
            match layer.tls.poll_output() {
                ferry_tls::Output::Transmit(bytes) => {
                    acted = true;
                    self.send_down(level, bytes);
                }
                ferry_tls::Output::Established => {
                    acted = true;
                    if self.deadlines.handshake.is_some_and(|(_, at)| at == level) {
                        self.deadlines.handshake = None;
                    }
                    self.established(now, level);
                }
                ferry_tls::Output::Closed(closed) => {
                    // The stream above this layer ends: what it decoded goes up, then the end.
                    // The first time only: a closed layer keeps answering `Closed`.
                    if self.eof_passed.get(level).copied().unwrap_or(true) {
                        return acted;
                    }
                    self.eof_passed[level] = true;
                    acted = true;
                    self.lift(now);
                    match self.tls.get_mut(level + 1) {
                        Some(above) => above.tls.handle_eof(),
                        None => self.top_eof(
                            now,
                            match closed {
                                ferry_tls::Closed::Clean => Eof::Clean,
                                ferry_tls::Closed::Unclean => Eof::Unclean,
                            },
                        ),
                    }
                    return acted;
                }
                ferry_tls::Output::Error(e) => {
                    let phase = self.tls_phase(level);
                    self.fail(phase, ErrorKind::Tls(e));
                    return true;
                }
                ferry_tls::Output::NeedInput => return acted,
            }
        }
        acted
    }

    /// Everything the CONNECT machine has to say short of waiting; `true` when anything
    /// happened.
    fn settle_connect(&mut self, now: T) -> bool {
        let mut acted = false;
        while let Some(connect) = self.connect.as_mut() {
            match connect.poll_output() {
                HttpOutput::Transmit(t) => {
                    acted = true;
                    let n = self.tls.len();
                    self.send_down(n, t.into_bytes());
                }
                HttpOutput::Event(_) => acted = true,
                HttpOutput::End(End::Tunnel { reply, leftover }) => {
                    self.timings.tunnel = Some(now);
                    trace_head("ferry::tunnel", "tunnel open", &reply);
                    self.tunnel_reply = Some(*reply);
                    self.open_tunnel(now, leftover);
                    return true;
                }
                HttpOutput::Error(e) => {
                    self.fail(Phase::Tunnel, ErrorKind::Http(e));
                    return true;
                }
                HttpOutput::End(_) | HttpOutput::Closed | HttpOutput::HandedOver => {
                    // A CONNECT ends in a tunnel or an error; the core guarantees it.
                    self.fail(
                        Phase::Tunnel,
                        ErrorKind::Http(ferry_proto::Error::new(
                            ferry_proto::ErrorKind::UnexpectedEof {
                                expected: ferry_proto::Expected::ProxyReply,
                            },
                        )),
                    );
                    return true;
                }
                HttpOutput::NeedInput
                | HttpOutput::NeedBody
                | HttpOutput::Idle
                | HttpOutput::Reconnect => return acted,
            }
        }
        acted
    }

    /// The proxy said 2xx: the CONNECT machine goes, the layers above the tunnel are built,
    /// and the bytes that came with the reply are theirs.
    fn open_tunnel(&mut self, now: T, leftover: Bytes) {
        self.connect = None;
        let below = self.tls.len();
        self.build(now, false);
        let mut rest = BytesMut::from(&leftover[..]);
        match self.tls.get_mut(below) {
            // TLS to the origin: the leftover is its first ciphertext.
            Some(origin) => origin.tls.handle_input(&mut rest),
            None => self.top_in.unsplit(rest),
        }
    }

    fn tls_phase(&self, i: usize) -> Phase {
        match self.tls.get(i).map(|l| l.peer) {
            Some(Peer::Proxy) => Phase::ProxyTls,
            _ => Phase::OriginTls,
        }
    }

    fn close_transport(&mut self) {
        self.closed = true;
    }

    /// Terminal: the error goes out after what was queued, the transport is to be closed.
    /// Its retry facts are the HTTP layer's progress: what of the request went out, and
    /// whether a byte of the response had reached it.
    fn fail(&mut self, phase: Phase, kind: ErrorKind) {
        let started = self.timings.first_byte.is_some() && !self.http.is_idle();
        let proxy = match phase {
            Phase::Resolve | Phase::Connect => self.plan.route().proxy().is_some(),
            Phase::ProxyTls | Phase::Tunnel => true,
            _ => false,
        };
        let err = Error::new(phase, kind)
            .with_progress(self.http.request_sent(), started)
            .at_proxy(proxy);
        self.fail_with(err);
    }

    fn fail_with(&mut self, err: Error) {
        if self.closed {
            return;
        }
        self.queue.retain(|o| !matches!(o, Output::Transmit(_)));
        self.queue.push_back(Output::Error(err));
        self.closed = true;
        self.deadlines = Deadlines { connect: None, handshake: None, request: None };
    }
}

/// The core refused a request: [`Phase::Send`]. Out of line: the error is large, and rare.
#[cold]
#[inline(never)]
fn request_error(e: ferry_proto::Error) -> Error {
    Error::new(Phase::Send, ErrorKind::Request(e))
}

/// A transport error [`Stack::read_body`] hands back to its caller: the read would block, timed
/// out or was interrupted (the caller waits, fires its deadline or retries).
fn is_the_callers(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Chunk boundaries one vectored read of [`Stack::read_body`] guesses past.
const GUESSES: usize = 8;

/// The fewest bytes a pull through chunk framing should reach; below it the usual path's
/// read (up to the driver's buffer) costs fewer calls.
const MIN_PULL: usize = 4096;

/// The longest chunk framing guessed: CRLF, 16 hex digits, CRLF.
const FRAME_MAX: usize = 20;

/// The framing before a chunk of `size` in its usual shape, `CRLF 1*HEXDIG CRLF` (lowercase,
/// no leading zeros), into `buf`; its length.
fn framing_line(size: u64, buf: &mut [u8; FRAME_MAX]) -> usize {
    let digits = (64 - size.leading_zeros()).div_ceil(4).max(1) as usize;
    buf[0] = b'\r';
    buf[1] = b'\n';
    for d in 0..digits {
        let nibble = (size >> (4 * (digits - 1 - d))) & 0xf;
        buf[2 + d] = b"0123456789abcdef"[nibble as usize];
    }
    buf[2 + digits] = b'\r';
    buf[3 + digits] = b'\n';
    digits + 4
}

/// The pull path's reader: plaintext of the top TLS layer of `layers`, refilled by
/// `read_tls` from the layers below it, and the bottom one from `transport` (TLS inside TLS:
/// the upper layer's ciphertext is read from the lower layer's plaintext). With no layer, the
/// transport itself.
struct Pull<'a> {
    layers: &'a mut [TlsLayer],
    transport: &'a mut dyn io::Read,
}

/// A layer on the pull path has something to say (an event, bytes to write, its end): the
/// pull stops and the stack's usual path takes it.
#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TLS layer has output")
    }
}

impl std::error::Error for Stop {}

impl io::Read for Pull<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some((top, below)) = self.layers.split_last_mut() else {
            return self.transport.read(buf);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = top.tls.read_plaintext(buf);
            if n > 0 {
                return Ok(n);
            }
            if top.tls.has_output() {
                return Err(io::Error::other(Stop));
            }
            // `Ok(0)`: the layer below ended; the layer took it as its end (`has_output`).
            top.tls.read_tls(&mut Pull { layers: below, transport: &mut *self.transport })?;
        }
    }
}

/// Feeds the top machine (CONNECT while the tunnel opens, else HTTP), noting the response's
/// first byte; a function of the fields it needs, so the input may be a TLS layer's buffer.
fn feed<T: Timestamp>(
    connect: &mut Option<Connection<T>>,
    http: &mut Connection<T>,
    timings: &mut Instants<T>,
    now: T,
    input: &mut BytesMut,
) {
    match connect {
        Some(c) => c.handle_input(now, input),
        None => feed_http(http, timings, now, input),
    }
}

/// Feeds the HTTP layer, noting the response's first byte.
#[inline]
fn feed_http<T: Timestamp>(
    http: &mut Connection<T>,
    timings: &mut Instants<T>,
    now: T,
    input: &mut BytesMut,
) {
    if timings.first_byte.is_none()
        && !input.is_empty()
        && timings.request.is_some()
        && !http.is_idle()
    {
        timings.first_byte = Some(now);
    }
    http.handle_input(now, input);
}

/// A response head to `tracing` at debug level: status and fields, credentials masked.
pub(crate) fn trace_head(target: &'static str, what: &'static str, head: &ResponseHead) {
    let fields = || crate::trace::fields(head.headers().iter());
    if target == "ferry::tunnel" {
        tracing::debug!(target: "ferry::tunnel", status = head.status(), reason = head.reason(), fields = %fields(), "{what}");
    } else {
        tracing::debug!(target: "ferry::response", status = head.status(), reason = head.reason(), fields = %fields(), "{what}");
    }
}

impl<T: Timestamp> ferry_proto::Reusable<T> for Stack<T> {
    fn is_reusable(&self, now: T) -> bool {
        self.is_idle() && ferry_proto::Reusable::is_reusable(&self.http, now)
    }

    fn idle_deadline(&self) -> Option<T> {
        ferry_proto::Reusable::idle_deadline(&self.http)
    }
}
