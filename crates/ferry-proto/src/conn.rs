//! The client connection: the one place that owns every state transition. The theory of
//! operation and the state diagram are on [`Connection`].

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::auth::{Challenge, ProxyAuth};
use crate::chunked::{self, Chunk};
use crate::config::Config;
use crate::error::{Error, ErrorKind, RequestSent, Result};
use crate::headers::Headers;
use crate::request::{Body, Connect, Request, chunk_size_line, encode_connect, encode_request};
use crate::response::{Framing, ResponseHead, Semantics, Version, parse_response_head};
use crate::time::{TimerKind, Timers, Timestamp};

/// Bytes to write to the transport, in order. `Debug` shows only the length: the bytes may
/// carry credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Transmit(Bytes);

impl Transmit {
    /// The bytes.
    #[must_use]
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl core::ops::Deref for Transmit {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Transmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Transmit({} bytes)", self.0.len())
    }
}

/// Something that happened on the response side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// An interim (1xx) response: 100, 103 with its hints, or another.
    Informational(ResponseHead),
    /// The final response head (for CONNECT: the proxy's 2xx).
    ResponseHead(ResponseHead),
    /// A piece of the response body, shared with the input buffer, never copied.
    Data(Bytes),
    /// The trailer fields of a chunked body.
    Trailers(Headers),
}

/// Why a connection must be closed after an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The body was delimited by the server closing the connection.
    ReadToEof,
    /// The server sent bytes beyond the end of the response.
    ExtraBytes,
    /// The response ended before the request body was fully sent.
    RequestIncomplete,
    /// The caller did not want the body, and it was longer than
    /// [`Limits::max_drain_bytes`](crate::Limits).
    BodyNotDrained,
    /// The framing was readable but faulty (Transfer-Encoding in HTTP/1.0, or length fields on
    /// a bodiless status; RFC 9112 §6.1, §6.3).
    FaultyFraming,
}

/// How an exchange ended. Exactly one `End` is output per exchange that does not fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// The response was complete and its boundaries intact. `reusable`: the connection may
    /// carry another request (keep-alive, RFC 9112 §9.3); if not, close it.
    Done {
        /// Whether the connection can go back to the pool.
        reusable: bool,
    },
    /// The response is over but the byte stream is not in a known state: close it.
    MustClose {
        /// Why.
        reason: CloseReason,
    },
    /// A CONNECT succeeded: the transport is now a tunnel to the target. `leftover` holds
    /// every byte that came after the proxy's reply (the start of the TLS handshake, say).
    Tunnel {
        /// Bytes of the tunnel that arrived with the reply.
        leftover: Bytes,
    },
    /// `101 Switching Protocols` to a request that asked for an upgrade.
    Upgraded {
        /// Bytes of the new protocol that arrived with the 101.
        leftover: Bytes,
    },
}

/// What the driver should do next. See [`Connection`] for the loop.
#[derive(Debug)]
#[must_use]
pub enum Output {
    /// Write these bytes. Consecutive `Transmit`s may be gathered into one vectored write.
    Transmit(Transmit),
    /// A response event.
    Event(Event),
    /// The exchange is over.
    End(End),
    /// The exchange failed; the connection is closed for good.
    Error(Error),
    /// Ready for request body: call [`Connection::send_body`] or [`Connection::finish_body`].
    /// Response bytes are accepted meanwhile.
    NeedBody,
    /// Waiting for bytes from the peer (or [`Connection::poll_timeout`]).
    NeedInput,
    /// No exchange: the connection is idle and may take [`Connection::send_request`].
    Idle,
    /// Close this transport, open a new one to the same peer, then call
    /// [`Connection::handle_reconnected`].
    Reconnect,
    /// This HTTP connection is finished for good. Close the transport, unless the last
    /// [`End`] was [`End::Tunnel`] or [`End::Upgraded`]: those hand the transport on (to TLS,
    /// or to the upgraded protocol) with their `leftover` bytes.
    Closed,
}

#[derive(Debug)]
enum Kind {
    Request {
        is_head: bool,
        upgrade: bool,
        close: bool,
    },
    Connect {
        connect: Connect,
        /// CONNECT requests sent with credentials so far.
        rounds: u8,
        /// The last `Proxy-Authorization` value sent.
        last_auth: Option<String>,
        /// The value to send next, after the 407's body.
        retry_with: Option<String>,
    },
}

#[derive(Debug)]
enum Send {
    /// Body still to come; `remaining` is `None` for chunked.
    Body {
        remaining: Option<u64>,
        declared: u64,
        held: bool,
    },
    Done,
    /// Given up: a final response came first.
    Abandoned,
}

#[derive(Debug)]
enum Sink {
    /// Hand data to the caller.
    Deliver,
    /// Drop it, up to this many more bytes.
    Discard { budget: u64 },
    /// Keep it for an error (in `Exchange::collected`), up to the limit.
    Collect,
}

#[derive(Debug)]
enum BodyReader {
    Length(u64),
    Chunked(chunked::Decoder),
    UntilClose,
}

#[derive(Debug)]
enum Recv {
    Head,
    Body { reader: BodyReader, sink: Sink },
    Done,
}

#[derive(Debug)]
struct Exchange {
    kind: Kind,
    send: Send,
    recv: Recv,
    /// Body pieces held back for `100 Continue`.
    held: Vec<Bytes>,
    informational: usize,
    /// What the final head said.
    semantics: Option<Semantics>,
    final_head: Option<ResponseHead>,
    /// The caller does not want the body.
    discard: bool,
    /// The discard budget or the collection limit ran out.
    overflowed: bool,
    /// The start of a refused CONNECT's body.
    collected: BytesMut,
}

#[derive(Debug)]
enum State {
    Idle,
    Exchange(Exchange),
    /// A 407 needs a new transport; the handshake goes on after `handle_reconnected`.
    Reconnect(Exchange),
    Closed,
}

/// Progress of the current exchange, for retry decisions.
#[derive(Debug, Default, Clone, Copy)]
struct Progress {
    handed_any: bool,
    queued_transmits: usize,
    request_complete: bool,
    response_started: bool,
}

/// One HTTP/1.1 client connection as a pure state machine: no socket, no clock, no thread.
///
/// The contract, once: after any `handle_*` or `send_*` call, drain [`Connection::poll_output`]
/// until it answers `NeedInput`, `NeedBody`, `Idle`, `Reconnect` or `Closed`; then wait for the
/// transport, the caller's body, or [`Connection::poll_timeout`], and call the matching
/// `handle_*`. `T` is the driver's clock type ([`Timestamp`]): `std::time::Instant`, or a
/// `Duration` since any origin.
///
/// # Theory of operation
///
/// A [`Connection`] carries one exchange at a time over one transport. The driver feeds it
/// through `handle_*` calls and drains it with [`Connection::poll_output`] until that answers
/// [`Output::NeedInput`], [`Output::NeedBody`], [`Output::Idle`], [`Output::Reconnect`] or
/// [`Output::Closed`]; then it waits for socket bytes, for user body, or for
/// [`Connection::poll_timeout`], whichever comes first.
///
/// ```text
///            send_request / send_connect
///   Idle ─────────────────────────────────▶ Exchange ──┬─ End::Done{reusable: true} ─▶ Idle
///    │ ▲                                  (SendHead,   ├─ End::Done{reusable: false} ┐
///    │ └── handle_timeout(Idle), eof,      SendBody,   ├─ End::MustClose{reason}     ├▶ Closed
///    │     unsolicited bytes ──▶ Closed    RecvHead,   ├─ End::Tunnel / Upgraded     ┘
///    │                                     RecvBody)   ├─ Output::Error ───────────────▶ Closed
///    │                                        ▲        └─ 407 on an unreusable
///    │                                        │           connection ──▶ Reconnect
///    │                                        └──────── handle_reconnected ◀─┘
/// ```
///
/// The write side and the read side of an exchange move independently: the response may start
/// (or even end) while the request body is still going out. The exchange ends when the
/// response is complete; a request body not fully sent by then is abandoned and the
/// connection must close.
///
/// * **Send**: the head is encoded at `send_request` and queued as a [`Transmit`]. A body is
///   then `SendBody` until `finish_body`; with `Expect: 100-continue` the body is held until a
///   `100`, or until the [`TimerKind::ExpectContinue`] deadline passes, and dropped when a final
///   response comes first.
/// * **Receive**: `RecvHead` parses heads; interim (1xx) heads are events and the machine stays
///   in `RecvHead`; a final head picks the body framing (RFC 9112 §6.3) and moves to
///   `RecvBody`, or straight to the end.
/// * **CONNECT** is its own exchange kind ([`Connection::send_connect`]): a 2xx ends in
///   [`End::Tunnel`]; a 407 answered by the route's [`ProxyAuth`] is retried on this connection
///   when its body was framed, or after [`Output::Reconnect`] on a new one; anything else
///   becomes [`ErrorKind::ProxyRefused`].
///
/// Errors of the peer, of limits and of deadlines come out of `poll_output` as
/// [`Output::Error`], after every event that preceded them; errors of the caller are returned
/// by the call that made them. After an error the machine is [`Output::Closed`] for good.
pub struct Connection<T> {
    config: Config,
    state: State,
    timers: Timers<T>,
    out: VecDeque<Output>,
    scratch: BytesMut,
    peer_version: Option<Version>,
    progress: Progress,
}

impl<T: Timestamp> fmt::Debug for Connection<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("state", &self.state_name())
            .field("queued", &self.out.len())
            .field("next_timeout", &self.poll_timeout())
            .finish_non_exhaustive()
    }
}

impl<T: Timestamp> Connection<T> {
    /// A fresh, idle connection.
    #[must_use]
    pub fn new(config: Config) -> Self {
        Connection {
            config,
            state: State::Idle,
            timers: Timers::new(),
            out: VecDeque::new(),
            scratch: BytesMut::new(),
            peer_version: None,
            progress: Progress::default(),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The phase, for logs: `Idle`, `SendBody`, `RecvHead`, `RecvBody`, `ProxyConnect`,
    /// `Reconnect`, `Done` or `Closed`.
    #[must_use]
    pub fn state_name(&self) -> &'static str {
        match &self.state {
            State::Idle => "Idle",
            State::Closed => "Closed",
            State::Reconnect(_) => "Reconnect",
            State::Exchange(ex) => match (&ex.kind, &ex.send, &ex.recv) {
                (Kind::Connect { .. }, _, Recv::Head) => "ProxyConnect",
                (_, Send::Body { .. }, Recv::Head) => "SendBody",
                (_, _, Recv::Head) => "RecvHead",
                (_, _, Recv::Body { .. }) => "RecvBody",
                (_, _, Recv::Done) => "Done",
            },
        }
    }

    /// Whether the connection is idle and may take a request.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    /// Whether the connection is finished.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// The version of the last response, once one arrived.
    #[must_use]
    pub fn peer_version(&self) -> Option<Version> {
        self.peer_version
    }

    // ---- inputs ------------------------------------------------------------------------

    /// Starts an exchange: encodes the head and queues it for sending.
    ///
    /// # Errors
    /// Caller errors only, and then nothing is queued and the connection stays idle:
    /// [`ErrorKind::Misuse`] when not idle, [`ErrorKind::ChunkedToHttp10`], or any check of
    /// [`encode_request`].
    pub fn send_request(&mut self, now: T, request: &Request) -> Result<()> {
        if !self.is_idle() {
            return Err(self.misuse("send_request"));
        }
        if request.body == Body::Chunked && self.peer_version == Some(Version::Http10) {
            return Err(ErrorKind::ChunkedToHttp10.into());
        }
        let info = encode_request(request, &mut self.scratch)?;
        let head = self.scratch.split().freeze();
        let held = info.expect_continue;
        let send = match info.body {
            Body::Empty | Body::Length(0) => Send::Done,
            Body::Length(n) => Send::Body { remaining: Some(n), declared: n, held },
            Body::Chunked => Send::Body { remaining: None, declared: 0, held },
        };
        let kind =
            Kind::Request { is_head: info.is_head, upgrade: info.upgrade, close: info.close };
        self.start(now, kind, send, head);
        if held {
            self.timers.set(TimerKind::ExpectContinue, now, self.config.timeouts.expect_continue);
        }
        Ok(())
    }

    /// Starts a CONNECT handshake (RFC 9110 §9.3.6) on a fresh connection to a proxy. Its
    /// credentials are sent at once when [`ProxyAuth::is_preemptive`], else after a 407.
    ///
    /// # Errors
    /// [`ErrorKind::Misuse`] when not idle, or a header check failure; nothing is queued then.
    pub fn send_connect(&mut self, now: T, connect: Connect) -> Result<()> {
        if !self.is_idle() {
            return Err(self.misuse("send_connect"));
        }
        let auth = connect
            .auth
            .as_ref()
            .filter(|a| a.is_preemptive())
            .and_then(|a| a.authorization(None, &connect.target));
        encode_connect(&connect, auth.as_deref(), &mut self.scratch)?;
        let head = self.scratch.split().freeze();
        let rounds = u8::from(auth.is_some());
        let kind = Kind::Connect { connect, rounds, last_auth: auth, retry_with: None };
        self.start(now, kind, Send::Done, head);
        self.timers.set(TimerKind::TunnelSetup, now, self.config.timeouts.tunnel_setup);
        Ok(())
    }

    /// Queues a piece of request body. The bytes are handed out as they are, never copied;
    /// for a chunked body a small chunk-size line goes before them and CRLF after.
    ///
    /// # Errors
    /// [`ErrorKind::Misuse`] when no body is expected, [`ErrorKind::BodyLength`] when the
    /// piece goes past the declared `Content-Length`; the connection is closed then.
    pub fn send_body(&mut self, data: Bytes) -> Result<()> {
        let State::Exchange(ex) = &mut self.state else { return Err(self.misuse("send_body")) };
        let Send::Body { remaining, declared, held } = &mut ex.send else {
            return Err(self.misuse("send_body"));
        };
        if data.is_empty() {
            return Ok(());
        }
        let len = data.len() as u64;
        let pieces: [Option<Bytes>; 3] = match remaining {
            Some(r) if len > *r => {
                let err = Error::new(ErrorKind::BodyLength {
                    expected: *declared,
                    actual: *declared - *r + len,
                });
                return Err(self.fail_caller(err));
            }
            Some(r) => {
                *r -= len;
                [Some(data), None, None]
            }
            None => {
                let line = chunk_size_line(data.len(), &mut self.scratch);
                [Some(line), Some(data), Some(Bytes::from_static(b"\r\n"))]
            }
        };
        let held = *held;
        for piece in pieces.into_iter().flatten() {
            if held {
                ex.held.push(piece);
            } else {
                self.progress.queued_transmits += 1;
                self.out.push_back(Output::Transmit(Transmit(piece)));
            }
        }
        Ok(())
    }

    /// Ends the request body; `trailers` only with a chunked body (RFC 9112 §7.1.2).
    ///
    /// # Errors
    /// [`ErrorKind::Misuse`] when no body is being sent or trailers come with a
    /// `Content-Length` body; [`ErrorKind::BodyLength`] when fewer bytes than declared were
    /// sent (the connection is closed then).
    pub fn finish_body(&mut self, trailers: Option<&Headers>) -> Result<()> {
        let State::Exchange(ex) = &mut self.state else { return Err(self.misuse("finish_body")) };
        let Send::Body { remaining, declared, held } = &ex.send else {
            return Err(self.misuse("finish_body"));
        };
        let held = *held;
        let last = match (remaining, trailers) {
            (Some(0), None) => None,
            (Some(_), Some(_)) => {
                return Err(Error::new(ErrorKind::Misuse {
                    call: "finish_body with trailers",
                    state: "SendBody (Content-Length)",
                }));
            }
            (Some(r), None) => {
                let err =
                    Error::new(ErrorKind::BodyLength { expected: *declared, actual: declared - r });
                return Err(self.fail_caller(err));
            }
            (None, trailers) => {
                self.scratch.put_slice(b"0\r\n");
                for (n, v) in trailers.iter().flat_map(|t| t.iter()) {
                    self.scratch.put_slice(n.as_bytes());
                    self.scratch.put_slice(b": ");
                    self.scratch.put_slice(v);
                    self.scratch.put_slice(b"\r\n");
                }
                self.scratch.put_slice(b"\r\n");
                Some(self.scratch.split().freeze())
            }
        };
        ex.send = Send::Done;
        if let Some(last) = last {
            if held {
                ex.held.push(last);
            } else {
                self.progress.queued_transmits += 1;
                self.out.push_back(Output::Transmit(Transmit(last)));
            }
        }
        self.progress.request_complete = true;
        Ok(())
    }

    /// Feeds bytes read from the transport. The connection takes what it consumes off the
    /// front of `input` (`split_to`); body data is handed on as shared `Bytes`, uncopied.
    /// Whatever it leaves is not part of this exchange.
    pub fn handle_input(&mut self, now: T, input: &mut BytesMut) {
        match &mut self.state {
            State::Exchange(_) => {}
            State::Idle if !input.is_empty() => {
                // Unsolicited bytes (a 408 before closing, say): this connection is done.
                self.close();
                return;
            }
            _ => return,
        }
        if !input.is_empty() {
            self.progress.response_started = true;
        }
        loop {
            match self.step(now, input) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
    }

    /// The peer closed its side of the transport (a read returned 0).
    pub fn handle_eof(&mut self, now: T) {
        let ex = match &mut self.state {
            State::Idle => return self.close(),
            State::Exchange(ex) => ex,
            State::Reconnect(_) | State::Closed => return,
        };
        match &mut ex.recv {
            Recv::Head => {
                let expected = if matches!(ex.kind, Kind::Connect { .. }) {
                    "proxy reply"
                } else {
                    "response head"
                };
                self.fail(ErrorKind::UnexpectedEof { expected }.into());
            }
            Recv::Body { reader: BodyReader::UntilClose, .. } => {
                ex.recv = Recv::Done;
                self.finish(now, None);
            }
            Recv::Body { sink: Sink::Collect, .. } => {
                // A refused CONNECT: report what arrived.
                ex.recv = Recv::Done;
                self.finish(now, None);
            }
            Recv::Body { .. } => {
                self.fail(ErrorKind::UnexpectedEof { expected: "response body" }.into())
            }
            Recv::Done => {}
        }
    }

    /// Fires every deadline due at `now`. Safe to call early or twice: what is not due does
    /// nothing.
    pub fn handle_timeout(&mut self, now: T) {
        while let Some(timer) = self.timers.take_expired(now) {
            match (timer, &mut self.state) {
                (TimerKind::ExpectContinue, State::Exchange(_)) => self.release_body(),
                (TimerKind::Idle, State::Idle) => self.close(),
                (
                    TimerKind::ResponseHead | TimerKind::BodyRead | TimerKind::TunnelSetup,
                    State::Exchange(_) | State::Reconnect(_),
                ) => self.fail(ErrorKind::Timeout { timer }.into()),
                _ => {}
            }
        }
    }

    /// The driver opened a new transport after [`Output::Reconnect`]: the CONNECT goes out again,
    /// with the credentials the proxy asked for.
    ///
    /// # Errors
    /// [`ErrorKind::Misuse`] when no reconnect was asked for.
    pub fn handle_reconnected(&mut self, now: T) -> Result<()> {
        if !matches!(self.state, State::Reconnect(_)) {
            return Err(self.misuse("handle_reconnected"));
        }
        if let State::Reconnect(ex) = core::mem::replace(&mut self.state, State::Closed) {
            self.state = State::Exchange(ex);
        }
        self.progress = Progress::default();
        self.resend_connect(now)
    }

    /// The caller does not want the rest of the response body. Up to
    /// [`Limits::max_drain_bytes`](crate::Limits) of it are read and dropped so the connection
    /// can be reused; a longer body ends in [`CloseReason::BodyNotDrained`]. Data and trailer
    /// events not yet polled are dropped too, even when the response already ended.
    pub fn discard_body(&mut self) {
        let mut budget = self.config.limits.max_drain_bytes;
        let mut overflow = false;
        // Before the state check: the whole response may have come in one read, its end
        // already decided and queued behind the data.
        self.out.retain(|o| match o {
            Output::Event(Event::Data(d)) => {
                overflow |= d.len() as u64 > budget;
                budget = budget.saturating_sub(d.len() as u64);
                false
            }
            Output::Event(Event::Trailers(_)) => false,
            _ => true,
        });
        let State::Exchange(ex) = &mut self.state else { return };
        ex.discard = true;
        ex.overflowed |= overflow;
        if let Recv::Body { sink: sink @ Sink::Deliver, .. } = &mut ex.recv {
            *sink = Sink::Discard { budget };
        }
        // Already past the budget with the body still coming: end now rather than at the next
        // read, which a stalled peer might never send. Closing needs no clock.
        if overflow
            && matches!(ex.recv, Recv::Body { .. })
            && matches!(ex.kind, Kind::Request { .. })
        {
            // The same precedence as `finish`: an unsent request body is named first.
            let reason = if matches!(ex.send, Send::Abandoned | Send::Body { .. }) {
                CloseReason::RequestIncomplete
            } else {
                CloseReason::BodyNotDrained
            };
            self.out.push_back(Output::End(End::MustClose { reason }));
            self.close();
        }
    }

    // ---- outputs -----------------------------------------------------------------------

    /// The next thing for the driver to do. Never blocks, never fails: errors come out as
    /// [`Output::Error`].
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            if let Output::Transmit(_) = o {
                self.progress.handed_any = true;
                self.progress.queued_transmits = self.progress.queued_transmits.saturating_sub(1);
            }
            return o;
        }
        match &self.state {
            State::Idle => Output::Idle,
            State::Closed => Output::Closed,
            State::Reconnect(_) => Output::Reconnect,
            State::Exchange(ex) => match ex.send {
                Send::Body { held: false, .. } => Output::NeedBody,
                _ => Output::NeedInput,
            },
        }
    }

    /// The earliest armed deadline: call [`Connection::handle_timeout`] when it passes.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<T> {
        self.timers.next()
    }

    /// How much of the current request was handed out, for retry decisions.
    #[must_use]
    pub fn request_sent(&self) -> RequestSent {
        let p = &self.progress;
        if !p.handed_any {
            RequestSent::No
        } else if p.request_complete && p.queued_transmits == 0 {
            RequestSent::Fully
        } else {
            RequestSent::Partly
        }
    }

    /// Bytes of peer input the connection holds beyond the driver's buffer: a partial trailer
    /// section, the start of a refused CONNECT's body. Bounded by
    /// [`Limits::max_trailer_bytes`](crate::Limits) + [`Limits::max_proxy_error_body`](crate::Limits).
    #[must_use]
    pub fn retained_bytes(&self) -> usize {
        match &self.state {
            State::Exchange(ex) | State::Reconnect(ex) => {
                let trailers = match &ex.recv {
                    Recv::Body { reader: BodyReader::Chunked(d), .. } => d.buffered(),
                    _ => 0,
                };
                trailers + ex.collected.len()
            }
            State::Idle | State::Closed => 0,
        }
    }

    // ---- transitions -------------------------------------------------------------------

    fn start(&mut self, now: T, kind: Kind, send: Send, head: Bytes) {
        self.progress =
            Progress { request_complete: matches!(send, Send::Done), ..Progress::default() };
        self.progress.queued_transmits = 1;
        self.out.push_back(Output::Transmit(Transmit(head)));
        self.state = State::Exchange(Exchange {
            kind,
            send,
            recv: Recv::Head,
            held: Vec::new(),
            informational: 0,
            semantics: None,
            final_head: None,
            discard: false,
            overflowed: false,
            collected: BytesMut::new(),
        });
        self.timers.stop(TimerKind::Idle);
        self.timers.set(TimerKind::ResponseHead, now, self.config.timeouts.response_head);
    }

    /// One step of the read side; `Ok(true)` when it made progress and may make more.
    fn step(&mut self, now: T, input: &mut BytesMut) -> Result<bool> {
        let State::Exchange(ex) = &mut self.state else { return Ok(false) };
        match &mut ex.recv {
            Recv::Head => {
                let Some(head) = parse_response_head(input, &self.config)? else {
                    return Ok(false);
                };
                self.on_head(now, head, input)?;
                Ok(true)
            }
            Recv::Body { reader, sink } => {
                let (data, done) = match reader {
                    BodyReader::Length(remaining) => {
                        if input.is_empty() {
                            return Ok(false);
                        }
                        let take =
                            usize::try_from(*remaining).map_or(input.len(), |r| r.min(input.len()));
                        *remaining -= take as u64;
                        (Some(input.split_to(take).freeze()), *remaining == 0)
                    }
                    BodyReader::Chunked(decoder) => {
                        match decoder.decode(input, &self.config.limits)? {
                            None => return Ok(false),
                            Some(Chunk::Data(data)) => (Some(data), false),
                            Some(Chunk::End(trailers)) => {
                                if !trailers.is_empty() && matches!(sink, Sink::Deliver) {
                                    self.out.push_back(Output::Event(Event::Trailers(trailers)));
                                }
                                (None, true)
                            }
                        }
                    }
                    BodyReader::UntilClose => {
                        if input.is_empty() {
                            return Ok(false);
                        }
                        (Some(input.split().freeze()), false)
                    }
                };
                let keep_reading = match data {
                    Some(data) => {
                        self.timers.set(TimerKind::BodyRead, now, self.config.timeouts.body_read);
                        self.sink(data)
                    }
                    None => true,
                };
                if done || !keep_reading {
                    if let State::Exchange(ex) = &mut self.state {
                        ex.recv = Recv::Done;
                    }
                    self.finish(now, Some(input));
                    return Ok(false);
                }
                Ok(true)
            }
            Recv::Done => Ok(false),
        }
    }

    /// Routes body data; `false` when the body should not be read further (a drain or
    /// collection bound was reached).
    fn sink(&mut self, data: Bytes) -> bool {
        let State::Exchange(ex) = &mut self.state else { return false };
        let Recv::Body { sink, .. } = &mut ex.recv else { return false };
        match sink {
            Sink::Deliver => {
                self.out.push_back(Output::Event(Event::Data(data)));
                true
            }
            Sink::Discard { budget } => {
                if data.len() as u64 > *budget {
                    ex.overflowed = true;
                    return false;
                }
                *budget -= data.len() as u64;
                true
            }
            Sink::Collect => {
                let buf = &mut ex.collected;
                let room = self.config.limits.max_proxy_error_body.saturating_sub(buf.len());
                buf.extend_from_slice(&data[..data.len().min(room)]);
                if buf.len() >= self.config.limits.max_proxy_error_body {
                    ex.overflowed = true;
                    return false;
                }
                true
            }
        }
    }

    fn on_head(&mut self, now: T, head: ResponseHead, input: &mut BytesMut) -> Result<()> {
        let State::Exchange(ex) = &mut self.state else { return Ok(()) };
        let status = head.status();
        if head.is_informational() {
            if status == 101 {
                // RFC 9110 §15.2.2: only when an upgrade was asked for.
                let Kind::Request { upgrade: true, .. } = ex.kind else {
                    return Err(ErrorKind::UnexpectedSwitchingProtocols.into());
                };
                self.hand_over(head, input, |leftover| End::Upgraded { leftover });
                return Ok(());
            }
            ex.informational += 1;
            if ex.informational > self.config.limits.max_informational {
                return Err(ErrorKind::TooManyInformational {
                    limit: self.config.limits.max_informational,
                }
                .into());
            }
            self.out.push_back(Output::Event(Event::Informational(head)));
            // Only a 100 releases a held body: a 103 (or any other 1xx) never does.
            if status == 100 {
                self.release_body();
            }
            return Ok(());
        }
        self.timers.stop(TimerKind::ResponseHead);
        self.peer_version = Some(head.version());
        // A final response before the held body went out: the body is never sent
        // (RFC 9110 §10.1.1), so the connection cannot be reused. The body may be held whole,
        // `finish_body` already called (`Send::Done` with pieces still in `held`).
        if matches!(ex.send, Send::Body { held: true, .. }) || !ex.held.is_empty() {
            ex.send = Send::Abandoned;
            ex.held.clear();
            self.timers.stop(TimerKind::ExpectContinue);
        }
        let (is_head, delivers) = match &mut ex.kind {
            Kind::Request { is_head, .. } => (*is_head, true),
            Kind::Connect { .. } if (200..300).contains(&status) => {
                // RFC 9110 §9.3.6: a 2xx to CONNECT has no body; its length fields are ignored and
                // every byte after the head belongs to the tunnel.
                self.hand_over(head, input, |leftover| End::Tunnel { leftover });
                return Ok(());
            }
            Kind::Connect { connect, rounds, last_auth, retry_with } => {
                if status == 407 {
                    *retry_with = next_authorization(
                        &head,
                        connect,
                        *rounds,
                        last_auth.as_deref(),
                        &self.config,
                    );
                }
                (false, false)
            }
        };
        let sem = head.semantics(is_head)?;
        ex.semantics = Some(sem);
        let retrying = matches!(ex.kind, Kind::Connect { retry_with: Some(_), .. });
        let sink = if delivers && !ex.discard {
            Sink::Deliver
        } else if delivers || retrying {
            Sink::Discard { budget: self.config.limits.max_drain_bytes }
        } else {
            Sink::Collect
        };
        if delivers {
            self.out.push_back(Output::Event(Event::ResponseHead(head)));
        } else {
            ex.final_head = Some(head);
        }
        ex.recv = match sem.framing {
            Framing::None | Framing::Length(0) => Recv::Done,
            Framing::Length(n) => Recv::Body { reader: BodyReader::Length(n), sink },
            Framing::Chunked => {
                Recv::Body { reader: BodyReader::Chunked(chunked::Decoder::new()), sink }
            }
            Framing::UntilClose => Recv::Body { reader: BodyReader::UntilClose, sink },
        };
        if let Recv::Done = ex.recv {
            self.finish(now, Some(input));
        } else {
            self.timers.set(TimerKind::BodyRead, now, self.config.timeouts.body_read);
        }
        Ok(())
    }

    /// The transport stops speaking HTTP (a tunnel or an upgrade): the head is the last event,
    /// and every byte after it is handed on, however the reads were split.
    fn hand_over(&mut self, head: ResponseHead, input: &mut BytesMut, end: fn(Bytes) -> End) {
        let leftover = input.split().freeze();
        self.out.push_back(Output::Event(Event::ResponseHead(head)));
        self.out.push_back(Output::End(end(leftover)));
        self.timers.stop_all();
        self.state = State::Closed;
    }

    /// The response is complete (or read to its end): decide how the exchange ends.
    fn finish(&mut self, now: T, input: Option<&mut BytesMut>) {
        enum Next {
            RetryHere,
            Reconnect,
            Fail(ErrorKind),
            End(End),
        }
        let State::Exchange(ex) = &mut self.state else { return };
        let extra = input.as_ref().is_some_and(|i| !i.is_empty());
        if let Send::Body { .. } = ex.send {
            ex.send = Send::Abandoned;
            ex.held.clear();
        }
        let sem = ex.semantics.unwrap_or(Semantics {
            framing: Framing::UntilClose,
            codings: crate::Codings::new(),
            keep_alive: false,
            faulty: false,
        });
        let clean = !extra
            && !ex.overflowed
            && sem.keep_alive
            && !sem.faulty
            && !matches!(sem.framing, Framing::UntilClose);
        let next = match &ex.kind {
            Kind::Connect { retry_with: Some(_), .. } if clean => Next::RetryHere,
            Kind::Connect { retry_with: Some(_), .. } => Next::Reconnect,
            Kind::Connect { connect, rounds, .. } => {
                let body = core::mem::take(&mut ex.collected).freeze();
                Next::Fail(match ex.final_head.take() {
                    Some(h) if h.status() == 407 && connect.auth.is_some() => {
                        ErrorKind::ProxyAuthFailed { attempts: *rounds, schemes: proxy_schemes(&h) }
                    }
                    Some(h) => ErrorKind::ProxyRefused {
                        status: h.status(),
                        reason: h.reason().into(),
                        headers: h.headers().clone(),
                        body,
                    },
                    None => ErrorKind::UnexpectedEof { expected: "proxy reply" },
                })
            }
            Kind::Request { close, .. } => Next::End(if matches!(ex.send, Send::Abandoned) {
                End::MustClose { reason: CloseReason::RequestIncomplete }
            } else if ex.overflowed {
                End::MustClose { reason: CloseReason::BodyNotDrained }
            } else if matches!(sem.framing, Framing::UntilClose) {
                End::MustClose { reason: CloseReason::ReadToEof }
            } else if sem.faulty {
                // Reasons the head decides come before `ExtraBytes`, which depends on how the
                // reads were split.
                End::MustClose { reason: CloseReason::FaultyFraming }
            } else if extra && sem.keep_alive && !close {
                // Only where they spoil a reusable connection: a closing one ends the same
                // however the reads were split.
                End::MustClose { reason: CloseReason::ExtraBytes }
            } else {
                End::Done { reusable: sem.keep_alive && !close }
            }),
        };
        match next {
            Next::RetryHere => {
                // Only a header check of the caller's can fail here; it is reported as an error.
                let _ = self.resend_connect(now);
            }
            Next::Reconnect => {
                if let State::Exchange(ex) = core::mem::replace(&mut self.state, State::Closed) {
                    self.state = State::Reconnect(ex);
                }
                self.timers.stop(TimerKind::ResponseHead);
                self.timers.stop(TimerKind::BodyRead);
            }
            Next::Fail(kind) => self.fail(kind.into()),
            Next::End(end) => {
                self.timers.stop_all();
                if end == (End::Done { reusable: true }) {
                    self.state = State::Idle;
                    self.timers.set(TimerKind::Idle, now, self.config.timeouts.idle);
                } else {
                    self.state = State::Closed;
                }
                self.out.push_back(Output::End(end));
            }
        }
    }

    /// Sends the CONNECT again with the value a 407 asked for.
    fn resend_connect(&mut self, now: T) -> Result<()> {
        let State::Exchange(ex) = &mut self.state else {
            return Err(self.misuse("resend_connect"));
        };
        let Kind::Connect { connect, rounds, last_auth, retry_with } = &mut ex.kind else {
            return Err(self.misuse("resend_connect"));
        };
        let auth = retry_with.take();
        if let Err(e) = encode_connect(connect, auth.as_deref(), &mut self.scratch) {
            self.fail(e.clone());
            return Err(e);
        }
        *rounds += 1;
        *last_auth = auth;
        let head = self.scratch.split().freeze();
        ex.recv = Recv::Head;
        ex.send = Send::Done;
        ex.informational = 0;
        ex.semantics = None;
        ex.final_head = None;
        self.progress =
            Progress { request_complete: true, queued_transmits: 1, ..Progress::default() };
        self.out.push_back(Output::Transmit(Transmit(head)));
        self.timers.stop(TimerKind::BodyRead);
        self.timers.set(TimerKind::ResponseHead, now, self.config.timeouts.response_head);
        Ok(())
    }

    fn release_body(&mut self) {
        let State::Exchange(ex) = &mut self.state else { return };
        if let Send::Body { held, .. } = &mut ex.send {
            *held = false;
        }
        self.timers.stop(TimerKind::ExpectContinue);
        for piece in ex.held.drain(..) {
            self.progress.queued_transmits += 1;
            self.out.push_back(Output::Transmit(Transmit(piece)));
        }
    }

    fn close(&mut self) {
        self.timers.stop_all();
        self.state = State::Closed;
    }

    /// A peer, limit or deadline error: queued after the events before it; terminal.
    fn fail(&mut self, err: Error) {
        let err = err.with_progress(self.request_sent(), self.progress.response_started);
        self.out.retain(|o| !matches!(o, Output::Transmit(_)));
        self.progress.queued_transmits = 0;
        self.out.push_back(Output::Error(err));
        self.close();
    }

    /// A caller error in the middle of an exchange: terminal, returned to the caller.
    fn fail_caller(&mut self, err: Error) -> Error {
        let err = err.with_progress(self.request_sent(), self.progress.response_started);
        self.out.retain(|o| !matches!(o, Output::Transmit(_)));
        self.progress.queued_transmits = 0;
        self.close();
        err
    }

    fn misuse(&self, call: &'static str) -> Error {
        Error::new(ErrorKind::Misuse { call, state: self.state_name() })
    }
}

/// The `Proxy-Authorization` value for a 407, when the route's authenticator can answer one of
/// its challenges with a value not already refused, within the round limit.
fn next_authorization(
    head: &ResponseHead,
    connect: &Connect,
    rounds: u8,
    last: Option<&str>,
    config: &Config,
) -> Option<String> {
    let auth: &ProxyAuth = connect.auth.as_ref()?;
    if rounds >= config.limits.max_auth_rounds {
        return None;
    }
    let challenges: Vec<Challenge> =
        head.headers().get_all("proxy-authenticate").flat_map(Challenge::parse_all).collect();
    let challenge = challenges.iter().find(|c| c.is(auth.scheme()))?;
    let value = auth.authorization(Some(challenge), &connect.target)?;
    // The same answer again would be refused again.
    (last != Some(value.as_str())).then_some(value)
}

fn proxy_schemes(head: &ResponseHead) -> Vec<String> {
    head.headers()
        .get_all("proxy-authenticate")
        .flat_map(Challenge::parse_all)
        .map(|c| c.scheme)
        .collect()
}
