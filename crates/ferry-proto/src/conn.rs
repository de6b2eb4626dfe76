//! The client connection: the one place that owns every state transition. The theory of
//! operation and the state diagram are on [`Connection`].

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::mem;
use core::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use crate::auth::{Challenge, ProxyAuth};
use crate::chunked::{self, Chunk};
use crate::coding::Decoder as CodingDecoder;
use crate::config::Config;
use crate::connect::{Connect, encode_connect};
use crate::error::{Call, Error, ErrorKind, Expected, RequestSent, Result, TransportError};
use crate::headers::Headers;
use crate::request::{BodyFraming, Request, chunk_size_line, encode_request};
use crate::response::{Framing, HeadParser, ResponseHead, Semantics, Version};
use crate::time::{TimerKind, Timers, Timestamp};
use crate::url::Authority;

mod direct;

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
    /// The final response head. (A proxy's 2xx to CONNECT comes with [`End::Tunnel`] instead.)
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
    /// The response ended before the request body was fully sent (or after the write side
    /// failed, [`Connection::handle_send_failed`]).
    RequestIncomplete,
    /// The caller did not want the body, and it was longer than
    /// [`Limits::max_drain_bytes`](crate::Limits).
    BodyNotDrained,
    /// The caller did not want the body, and its transfer coding failed before the body's
    /// end ([`ErrorKind::InvalidCodedBody`](crate::ErrorKind::InvalidCodedBody),
    /// [`ErrorKind::DecodedBodyTooLarge`](crate::ErrorKind::DecodedBodyTooLarge)): the rest of
    /// it is not read.
    UndecodableBody,
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
    /// A CONNECT succeeded: the transport is now a tunnel to the target
    /// ([`Output::HandedOver`] follows).
    Tunnel {
        /// The proxy's 2xx reply, its status and header fields. Boxed: once per tunnel, and
        /// inline it would make every [`Output`] (and every move of one) as large.
        reply: Box<ResponseHead>,
        /// Every byte that came after the reply (the start of the TLS handshake, say).
        leftover: Bytes,
    },
    /// `101 Switching Protocols` to a request that asked for an upgrade (the 101 came as
    /// [`Event::ResponseHead`]; [`Output::HandedOver`] follows).
    Upgraded {
        /// Bytes of the new protocol that arrived with the 101.
        leftover: Bytes,
    },
}

/// What the driver should do next. See [`Connection`] for the loop.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Output {
    /// Write these bytes. Every `Transmit` queued behind it can be taken at once with
    /// [`Connection::poll_transmit`] for one vectored write.
    Transmit(Transmit),
    /// A response event.
    Event(Event),
    /// The exchange is over.
    End(End),
    /// The exchange failed; the connection is closed for good ([`Output::Closed`] follows).
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
    /// The transport no longer speaks HTTP: after [`End::Tunnel`] or [`End::Upgraded`] it
    /// belongs to the tunnel (TLS) or the upgraded protocol, with that `End`'s `leftover`. Do
    /// not close it.
    HandedOver,
    /// This connection is finished for good: close the transport.
    Closed,
}

/// How the transport's read side ended ([`Connection::handle_eof`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Eof {
    /// An end the peer meant: a TCP FIN on plain TCP, TLS `close_notify` over TLS.
    Clean,
    /// An end that may have been forged: TLS ended without `close_notify`. A close-delimited
    /// body is then not complete but [`Expected::CleanClose`].
    Unclean,
}

/// A setup phase a driver or a layer above runs before HTTP speaks, timed by the connection
/// ([`Connection::start_setup`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetupPhase {
    /// Opening the transport ([`Timeouts::connect`](crate::Timeouts)).
    Connect,
    /// The TLS handshake ([`Timeouts::tls_handshake`](crate::Timeouts)).
    TlsHandshake,
}

impl SetupPhase {
    fn timer(self) -> TimerKind {
        match self {
            SetupPhase::Connect => TimerKind::Connect,
            SetupPhase::TlsHandshake => TimerKind::TlsHandshake,
        }
    }
}

/// Where a connection is ([`Connection::phase`]); the states of the diagram on [`Connection`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// No exchange; a request may be sent.
    Idle,
    /// The request body is held back until `100 Continue` (or its deadline); it is not asked
    /// for meanwhile.
    AwaitContinue,
    /// The request body is asked for ([`Output::NeedBody`]); no final response head yet.
    SendBody,
    /// The request is out (or given up); waiting for the final response head.
    RecvHead,
    /// Reading the response body (the request body may still be going out).
    RecvBody,
    /// A CONNECT handshake, its 407 rounds included.
    ProxyConnect,
    /// A 407 is answered on a new transport: waiting for [`Connection::handle_reconnected`].
    Reconnect,
    /// The transport went to a tunnel or an upgraded protocol.
    HandedOver,
    /// Finished for good.
    Closed,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Idle => "idle",
            Phase::AwaitContinue => "waiting for 100 (continue)",
            Phase::SendBody => "sending the request body",
            Phase::RecvHead => "waiting for the response head",
            Phase::RecvBody => "reading the response body",
            Phase::ProxyConnect => "opening a tunnel through a proxy",
            Phase::Reconnect => "waiting for a new transport",
            Phase::HandedOver => "handed over to a tunnel or an upgraded protocol",
            Phase::Closed => "closed",
        })
    }
}

// ---- the state -------------------------------------------------------------------------

/// What a proxy may challenge, and the credentials sent for it so far.
#[derive(Debug)]
struct Rounds<R> {
    /// What to encode again for the next round.
    request: R,
    auth: Option<ProxyAuth>,
    /// What the credentials are for (the CONNECT target, a forwarded request's origin).
    target: Authority,
    /// Requests sent with credentials so far.
    with_credentials: u8,
    /// The last `Proxy-Authorization` value sent.
    last_auth: Option<String>,
}

/// A request the connection can encode again, with other credentials.
trait Replay {
    fn encode(&self, authorization: Option<&str>, out: &mut BytesMut) -> Result<()>;
}

impl Replay for Request {
    fn encode(&self, authorization: Option<&str>, out: &mut BytesMut) -> Result<()> {
        encode_request(self, authorization, out).map(|_| ())
    }
}

impl Replay for Connect {
    fn encode(&self, authorization: Option<&str>, out: &mut BytesMut) -> Result<()> {
        encode_connect(self, authorization, out)
    }
}

impl<R: Replay> Rounds<R> {
    fn new(request: R, auth: Option<ProxyAuth>, target: Authority, first: Option<String>) -> Self {
        Rounds {
            request,
            auth,
            target,
            with_credentials: u8::from(first.is_some()),
            last_auth: first,
        }
    }

    /// The next request head for a 407, when the route's authenticator can answer one of its
    /// challenges with a value not already refused, within the round limit.
    fn answer(
        &mut self,
        head: &ResponseHead,
        config: &Config,
        scratch: &mut BytesMut,
    ) -> Result<Option<Bytes>> {
        let Some(auth) = &self.auth else { return Ok(None) };
        if self.with_credentials >= config.limits.max_auth_rounds {
            return Ok(None);
        }
        let challenges: Vec<Challenge> =
            head.headers().get_all("proxy-authenticate").flat_map(Challenge::parse_all).collect();
        let Some(challenge) = challenges.iter().find(|c| c.is(auth.scheme())) else {
            return Ok(None);
        };
        let Some(value) = auth.authorization(Some(challenge), &self.target) else {
            return Ok(None);
        };
        // The same answer again would be refused again.
        if self.last_auth.as_deref() == Some(value.as_str()) {
            return Ok(None);
        }
        self.request.encode(Some(&value), scratch)?;
        self.with_credentials += 1;
        self.last_auth = Some(value);
        Ok(Some(scratch.split().freeze()))
    }
}

#[derive(Debug)]
enum Kind {
    Request {
        is_head: bool,
        upgrade: bool,
        close: bool,
        /// A forwarded request without a body, with the proxy's credentials: a 407 replays it.
        /// Boxed, as CONNECT's: rare, and large (a whole request), it would make every state
        /// (and every move of it) as large.
        proxy: Option<Box<Rounds<Request>>>,
    },
    Connect(Box<Rounds<Connect>>),
}

/// How much body the caller still owes.
#[derive(Debug)]
enum Left {
    Length { remaining: u64, declared: u64 },
    Chunked,
}

/// The send side.
#[derive(Debug)]
enum Upload {
    /// The caller gives body pieces. `held`: those kept back for `100 Continue` (the caller is
    /// not asked for more meanwhile); `None` once released, or without `Expect`.
    Streaming { left: Left, held: Option<Vec<Bytes>> },
    /// The body is complete, and held back whole for `100 Continue`.
    Held(Vec<Bytes>),
    /// The whole request is queued (or handed out).
    Sent,
    /// Given up before all of it went: a final response came before a held body, or the write
    /// side failed.
    Abandoned,
}

/// Where body data goes.
#[derive(Debug)]
enum Sink {
    /// To the caller.
    Deliver,
    /// Dropped, up to this many more bytes: the caller wants none of it.
    Discard { budget: u64 },
    /// Dropped, up to this many more bytes, before the request goes again with `head`.
    Retry { budget: u64, head: Bytes },
    /// Kept for the error, up to the limit: a proxy refused the CONNECT (boxed: rare, and
    /// large).
    Refused(Box<Refusal>),
}

/// A refused CONNECT's reply, kept for its error.
#[derive(Debug)]
struct Refusal {
    head: ResponseHead,
    body: BytesMut,
    target: Authority,
    /// `Some(n)`: a 407 after `n` requests with credentials.
    attempts: Option<u8>,
}

#[derive(Debug)]
enum BodyReader {
    Length(u64),
    Chunked(chunked::Decoder),
    UntilClose,
}

/// The receive side.
#[derive(Debug)]
enum Recv {
    /// Heads (interim ones included). `discard`: the caller already said it wants no body.
    /// The parser remembers how far it looked, so a head in many small reads costs time
    /// linear in its size.
    Head { discard: bool, parser: HeadParser },
    /// The final head's body, framed by what the head said; `coding` undoes the transfer
    /// codings below `chunked` (RFC 9112 §7) before data reaches the caller.
    Body { reader: BodyReader, sink: Sink, sem: Semantics, coding: Option<Box<CodingDecoder>> },
}

#[derive(Debug)]
struct Exchange {
    kind: Kind,
    upload: Upload,
    recv: Recv,
    informational: usize,
}

impl Exchange {
    fn phase(&self) -> Phase {
        match (&self.kind, &self.recv, &self.upload) {
            (Kind::Connect(_), _, _) => Phase::ProxyConnect,
            (_, Recv::Body { .. }, _) => Phase::RecvBody,
            (_, Recv::Head { .. }, Upload::Streaming { held: None, .. }) => Phase::SendBody,
            (_, Recv::Head { .. }, Upload::Streaming { held: Some(_), .. } | Upload::Held(_)) => {
                Phase::AwaitContinue
            }
            (_, Recv::Head { .. }, Upload::Sent | Upload::Abandoned) => Phase::RecvHead,
        }
    }
}

#[derive(Debug)]
enum State {
    Idle,
    Exchange(Exchange),
    /// A 407 is answered on a new transport with `head` after `handle_reconnected`.
    Reconnect {
        ex: Exchange,
        head: Bytes,
    },
    HandedOver,
    Closed,
}

/// How an exchange goes on once its response is over (decided by [`conclude`]) or failed.
enum Next {
    End(End),
    RetryHere(Bytes),
    Reconnect(Bytes),
    Fail(Error),
}

/// What one step of the read side did.
enum Flow {
    /// Made progress; may make more.
    More,
    /// Needs more input.
    Wait,
    /// The response is over.
    End(Next),
}

/// Everything but the state: what every transition writes to.
struct Ctx<T> {
    config: Config,
    timers: Timers<T>,
    out: VecDeque<Output>,
    scratch: BytesMut,
    peer_version: Option<Version>,
    /// A `Transmit` of the current request was polled.
    handed_any: bool,
    /// A byte of a response to the current request arrived.
    response_started: bool,
    /// The end the queued coding error becomes if the caller discards the body before
    /// polling it (`coding_failed`).
    unwanted_end: Option<CloseReason>,
}

/// Room the scratch buffer keeps for a request head; when less is left, it takes
/// [`SCRATCH_BLOCK`] at once, so that most heads are encoded without a reserve (and the space
/// of heads already written and dropped is reclaimed once per block, not once per head).
const SCRATCH_ROOM: usize = 512;
/// See [`SCRATCH_ROOM`].
const SCRATCH_BLOCK: usize = 2048;

impl<T: Timestamp> Ctx<T> {
    /// Makes [`SCRATCH_ROOM`] in the scratch buffer before a head is encoded into it.
    #[inline]
    fn make_room(&mut self) {
        if self.scratch.capacity() - self.scratch.len() < SCRATCH_ROOM {
            self.scratch.reserve(SCRATCH_BLOCK);
        }
    }

    fn transmit(&mut self, bytes: Bytes) {
        self.out.push_back(Output::Transmit(Transmit(bytes)));
    }

    fn event(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    fn arm(&mut self, kind: TimerKind, now: T) {
        let t = &self.config.timeouts;
        let after: Option<Duration> = match kind {
            TimerKind::Connect => t.connect,
            TimerKind::TlsHandshake => t.tls_handshake,
            TimerKind::ExpectContinue => t.expect_continue,
            TimerKind::SendBody => t.send_body,
            TimerKind::ResponseHead => t.response_head,
            TimerKind::BodyRead => t.body_read,
            TimerKind::TunnelSetup => t.tunnel_setup,
            TimerKind::Idle => t.idle,
        };
        self.timers.set(kind, now, after);
    }

    fn request_sent(&self, ex: &Exchange) -> RequestSent {
        if !self.handed_any {
            RequestSent::No
        } else if matches!(ex.upload, Upload::Sent)
            && !self.out.iter().any(|o| matches!(o, Output::Transmit(_)))
        {
            RequestSent::Fully
        } else {
            RequestSent::Partly
        }
    }

    /// A peer, limit or deadline error: queued after the events before it, instead of any
    /// bytes not yet written; terminal.
    fn fail(&mut self, sent: RequestSent, err: Error) -> State {
        let err = err.with_progress(sent, self.response_started);
        self.out.retain(|o| !matches!(o, Output::Transmit(_)));
        self.out.push_back(Output::Error(err));
        self.timers.stop_all();
        State::Closed
    }

    /// An exchange ended: its deadlines stop (an idle one starts on a reusable connection)
    /// and the end is queued.
    fn end(&mut self, now: T, end: End) {
        self.timers.stop_all();
        if let End::Done { reusable: true } = end {
            self.arm(TimerKind::Idle, now);
        }
        self.out.push_back(Output::End(end));
    }

    /// Queues a piece of request body, or holds it for `100 Continue`.
    fn body_piece(&mut self, held: &mut Option<Vec<Bytes>>, piece: Bytes) {
        match held {
            Some(held) => held.push(piece),
            None => self.transmit(piece),
        }
    }
}

/// One HTTP/1.1 client connection as a pure state machine: no socket, no clock, no thread.
///
/// # The contract
///
/// Every call that changes the connection takes `now` (`T`, the driver's clock type,
/// [`Timestamp`]: `std::time::Instant`, or a `Duration` since any origin), and `now` only moves
/// forward. After any such call, drain [`Connection::poll_output`] until it answers
/// [`Output::NeedInput`], [`Output::NeedBody`], [`Output::Idle`], [`Output::Reconnect`],
/// [`Output::HandedOver`] or [`Output::Closed`]; then wait for the transport, the caller's
/// body, or [`Connection::poll_timeout`], whichever comes first, and make the matching call.
///
/// Errors come two ways. A call the connection can refuse without harm (a request while busy,
/// trailers for a `Content-Length` body, a bad header) is refused by its `Result`, and nothing
/// changes. Everything else (the peer's, a limit's, a deadline's, and a caller's mistake found
/// while the exchange runs, such as an authenticator's value that is no valid field value)
/// comes out of `poll_output` as [`Output::Error`], after every event before it. A call that
/// returns an error and also ends the connection says so in its `# Errors`. After an error the
/// connection is [`Output::Closed`] for good and never panics.
///
/// # Its methods, by kind
///
/// - getters: [`config`](Connection::config), [`phase`](Connection::phase),
///   [`is_idle`](Connection::is_idle), [`is_closed`](Connection::is_closed),
///   [`peer_version`](Connection::peer_version), [`request_sent`](Connection::request_sent),
///   [`retained_bytes`](Connection::retained_bytes);
/// - inputs from the transport and the clock: [`handle_input`](Connection::handle_input),
///   [`handle_eof`](Connection::handle_eof),
///   [`handle_send_failed`](Connection::handle_send_failed),
///   [`handle_transport_error`](Connection::handle_transport_error),
///   [`handle_reconnected`](Connection::handle_reconnected),
///   [`handle_timeout`](Connection::handle_timeout);
/// - commands from the caller: [`send_request`](Connection::send_request),
///   [`send_connect`](Connection::send_connect), [`send_body`](Connection::send_body),
///   [`finish_body`](Connection::finish_body), [`discard_body`](Connection::discard_body),
///   [`start_setup`](Connection::start_setup), [`end_setup`](Connection::end_setup);
/// - outputs: [`poll_output`](Connection::poll_output),
///   [`poll_transmit`](Connection::poll_transmit), [`poll_timeout`](Connection::poll_timeout).
///
/// # Theory of operation
///
/// A `Connection` carries one exchange at a time over one transport. The states, as
/// [`Connection::phase`] names them:
///
/// ```text
///              send_request, send_connect
///      Idle ────────────────────────────────▶ exchange ◀──┐ a 407 answered on this transport:
///       ▲  │                                   │ │ │ │ └───┘ the request again
///       │  │      End::Done{reusable: true}    │ │ │ │
///       └──┼───────────────────────────────────┘ │ │ └─ a 407 answered, its reply unframed
///          │                                     │ │    ──▶ Reconnect ── handle_reconnected
///          │                                     │ │        ──▶ exchange
///          │                                     │ └─ End::Tunnel, End::Upgraded ──▶ HandedOver
///          │ idle deadline, EOF, unsolicited     │
///          │ bytes, a setup phase's deadline     └─ End::Done{reusable: false}, MustClose ─┐
///          └──────────────────────────────────▶ Closed ◀────────────────────────────────────┘
///                                                 ▲── Output::Error, from any phase
///
///   an exchange:  request  AwaitContinue ─▶ SendBody ─▶ RecvHead ─▶ RecvBody
///                          (each may be skipped: no Expect, no body, no response body)
///                 CONNECT  ProxyConnect (its 407 rounds included)
/// ```
///
/// The write side and the read side of an exchange move independently: the response may start
/// (or even end) while the request body is still going out. The exchange ends when the
/// response is complete; a request body not fully sent by then is abandoned and the
/// connection must close ([`CloseReason::RequestIncomplete`]).
///
/// * **Send**: the head is encoded at `send_request` and queued as a [`Transmit`]. A body is
///   then asked for ([`Output::NeedBody`], phase `SendBody`) until `finish_body`, or until a
///   `Content-Length` body has been given in full. With `Expect: 100-continue` the body is
///   held (`AwaitContinue`) until a `100`, or until the [`TimerKind::ExpectContinue`] deadline
///   passes, and dropped when a final response comes first. An upload is timed by
///   [`TimerKind::SendBody`], re-armed on each piece, until the final response head: from
///   then on the response's timers bound the exchange.
/// * **Receive**: `RecvHead` parses heads; interim (1xx) heads are events and the machine stays
///   in `RecvHead`; a final head picks the body framing (RFC 9112 §6.3) and moves to
///   `RecvBody`, or straight to the end. [`TimerKind::ResponseHead`] runs while the connection
///   waits on the peer's head alone: from when the request was handed out in full (or its body
///   held back for `100 Continue`).
/// * **CONNECT** is its own exchange kind ([`Connection::send_connect`]), timed by
///   [`TimerKind::TunnelSetup`] alone: a 2xx ends in [`End::Tunnel`] with the reply; a 407
///   answered by the route's [`ProxyAuth`] is retried on this connection when its body was
///   framed, or after [`Output::Reconnect`] on a new one; anything else becomes
///   [`ErrorKind::ProxyRefused`] or [`ErrorKind::ProxyAuthFailed`].
/// * **A forwarded request** (absolute-form, through an HTTP proxy) carries
///   `Proxy-Authorization` at once only when its [`ProxyAuth`] is preemptive. A 407 to it is
///   answered the way CONNECT's is (same rounds, same bound) when the request has no body, so
///   it can be sent again as it was; with a body, the 407 is the response.
/// * **Setup phases** a driver runs before HTTP speaks (TCP connect, TLS handshake) are timed
///   here too ([`Connection::start_setup`]), so no driver hard-codes a deadline.
pub struct Connection<T> {
    state: State,
    ctx: Ctx<T>,
}

impl<T: Timestamp> fmt::Debug for Connection<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("phase", &self.phase())
            .field("queued", &self.ctx.out.len())
            .field("next_timeout", &self.poll_timeout())
            .finish_non_exhaustive()
    }
}

impl<T: Timestamp> Connection<T> {
    /// A fresh, idle connection, made at `now`: its [`TimerKind::Idle`] deadline runs from
    /// then, as after an exchange.
    #[must_use]
    pub fn new(now: T, config: Config) -> Self {
        let mut ctx = Ctx {
            config,
            timers: Timers::new(),
            out: VecDeque::new(),
            scratch: BytesMut::new(),
            peer_version: None,
            handed_any: false,
            response_started: false,
            unwanted_end: None,
        };
        ctx.arm(TimerKind::Idle, now);
        Connection { state: State::Idle, ctx }
    }

    // ---- getters -----------------------------------------------------------------------

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.ctx.config
    }

    /// Where the connection is, for logs and for checks (the states of the diagram).
    #[must_use]
    pub fn phase(&self) -> Phase {
        match &self.state {
            State::Idle => Phase::Idle,
            State::Exchange(ex) => ex.phase(),
            State::Reconnect { .. } => Phase::Reconnect,
            State::HandedOver => Phase::HandedOver,
            State::Closed => Phase::Closed,
        }
    }

    /// Whether the connection is idle and may take a request.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle)
    }

    /// Whether the connection is finished (closed, or handed over).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed | State::HandedOver)
    }

    /// How far the head parser looked into the current head, while one is being read.
    #[cfg(test)]
    pub(crate) fn head_scanned(&self) -> Option<usize> {
        match &self.state {
            State::Exchange(Exchange { recv: Recv::Head { parser, .. }, .. }) => {
                Some(parser.scanned())
            }
            _ => None,
        }
    }

    /// The version of the last response, once one arrived.
    #[must_use]
    pub fn peer_version(&self) -> Option<Version> {
        self.ctx.peer_version
    }

    /// How much of the current request was handed out, for retry decisions: `Fully` only once
    /// the whole request (a held body included) was polled out. `No` when no exchange runs.
    #[must_use]
    pub fn request_sent(&self) -> RequestSent {
        match &self.state {
            State::Exchange(ex) | State::Reconnect { ex, .. } => self.ctx.request_sent(ex),
            State::Idle | State::HandedOver | State::Closed => RequestSent::No,
        }
    }

    /// Bytes of peer input the connection holds beyond the driver's buffer: a partial trailer
    /// section, the start of a refused CONNECT's body. Bounded by
    /// [`Limits::max_trailer_bytes`](crate::Limits) + [`Limits::max_proxy_error_body`](crate::Limits).
    #[must_use]
    pub fn retained_bytes(&self) -> usize {
        match &self.state {
            State::Exchange(Exchange { recv: Recv::Body { reader, sink, .. }, .. }) => {
                let trailers = match reader {
                    BodyReader::Chunked(d) => d.buffered(),
                    BodyReader::Length(_) | BodyReader::UntilClose => 0,
                };
                let refused = match sink {
                    Sink::Refused(r) => r.body.len(),
                    Sink::Deliver | Sink::Discard { .. } | Sink::Retry { .. } => 0,
                };
                trailers + refused
            }
            _ => 0,
        }
    }

    // ---- commands ----------------------------------------------------------------------

    /// Starts an exchange: encodes the head and queues it for sending. A forwarded request
    /// (absolute-form) carries `Proxy-Authorization` only when its [`ProxyAuth`] is
    /// preemptive; without a body it is kept (a clone), so that a 407 can be answered by
    /// sending it again. Other requests cost no allocation beyond the head's buffer.
    ///
    /// # Errors
    /// Caller errors, and then nothing is queued and the connection stays idle:
    /// [`ErrorKind::Misuse`] when not idle, [`ErrorKind::ChunkedToHttp10`], or any check of
    /// [`encode_request`]. [`ErrorKind::Timeout`] with [`TimerKind::Idle`] when the idle
    /// deadline passed before `now` (the connection is closed then: take another).
    pub fn send_request(&mut self, now: T, request: &Request) -> Result<()> {
        self.check_idle(now, Call::SendRequest)?;
        if request.framing() == BodyFraming::Chunked
            && self.ctx.peer_version == Some(Version::Http10)
        {
            return Err(ErrorKind::ChunkedToHttp10.into());
        }
        let proxy_auth = if request.is_forwarded() { request.proxy_auth() } else { None };
        let target = proxy_auth.map(|_| request.url().authority());
        let first = match (proxy_auth, &target) {
            (Some(auth), Some(target)) if auth.is_preemptive() => auth.authorization(None, target),
            _ => None,
        };
        self.ctx.make_room();
        let info = encode_request(request, first.as_deref(), &mut self.ctx.scratch)?;
        let head = self.ctx.scratch.split().freeze();
        let held = info.expect_continue.then(Vec::new);
        let upload = match info.body {
            BodyFraming::Empty | BodyFraming::Length(0) => Upload::Sent,
            BodyFraming::Length(n) => {
                Upload::Streaming { left: Left::Length { remaining: n, declared: n }, held }
            }
            BodyFraming::Chunked => Upload::Streaming { left: Left::Chunked, held },
        };
        let proxy = match (proxy_auth, target, &upload) {
            (Some(auth), Some(target), Upload::Sent) => {
                Some(Box::new(Rounds::new(request.clone(), Some(auth.clone()), target, first)))
            }
            _ => None,
        };
        let kind = Kind::Request {
            is_head: info.is_head,
            upgrade: info.upgrade,
            close: info.close,
            proxy,
        };
        self.start(now, kind, upload, head);
        Ok(())
    }

    /// Starts a CONNECT handshake (RFC 9110 §9.3.6) on a fresh connection to a proxy. Its
    /// credentials are sent at once when [`ProxyAuth::is_preemptive`], else after a 407. The
    /// connection keeps a copy of `connect` for the 407 rounds.
    ///
    /// # Errors
    /// [`ErrorKind::Misuse`] when not idle, or a header check failure; nothing is queued then.
    /// [`ErrorKind::Timeout`] as for [`Connection::send_request`].
    pub fn send_connect(&mut self, now: T, connect: &Connect) -> Result<()> {
        self.check_idle(now, Call::SendConnect)?;
        let auth = connect.auth.clone();
        let first = auth
            .as_ref()
            .filter(|a| a.is_preemptive())
            .and_then(|a| a.authorization(None, &connect.target));
        encode_connect(connect, first.as_deref(), &mut self.ctx.scratch)?;
        let head = self.ctx.scratch.split().freeze();
        let rounds = Box::new(Rounds::new(connect.clone(), auth, connect.target.clone(), first));
        self.start(now, Kind::Connect(rounds), Upload::Sent, head);
        Ok(())
    }

    /// Queues a piece of request body. The bytes are handed out as they are, never copied;
    /// for a chunked body a small chunk-size line goes before them and CRLF after. The piece
    /// that completes a `Content-Length` body ends the upload: no `finish_body` follows.
    ///
    /// # Errors
    /// [`ErrorKind::Misuse`] when no body is asked for (nothing changes then);
    /// [`ErrorKind::BodyLength`] when the piece goes past the declared `Content-Length` (the
    /// connection is closed then).
    pub fn send_body(&mut self, now: T, data: Bytes) -> Result<()> {
        let State::Exchange(ex) = &mut self.state else { return Err(self.misuse(Call::SendBody)) };
        let Upload::Streaming { left, held } = &mut ex.upload else {
            return Err(self.misuse(Call::SendBody));
        };
        if data.is_empty() {
            return Ok(());
        }
        let len = data.len() as u64;
        let complete = match left {
            Left::Length { remaining, declared } => {
                if len > *remaining {
                    let err = ErrorKind::BodyLength {
                        expected: *declared,
                        actual: *declared - *remaining + len,
                    };
                    return Err(self.fail_caller(err.into()));
                }
                *remaining -= len;
                self.ctx.body_piece(held, data);
                *remaining == 0
            }
            Left::Chunked => {
                let line = chunk_size_line(data.len(), &mut self.ctx.scratch);
                self.ctx.body_piece(held, line);
                self.ctx.body_piece(held, data);
                self.ctx.body_piece(held, Bytes::from_static(b"\r\n"));
                false
            }
        };
        if complete {
            complete_upload(&mut self.ctx, ex, now);
        } else if held.is_none() && matches!(ex.recv, Recv::Head { .. }) {
            self.ctx.arm(TimerKind::SendBody, now);
        }
        Ok(())
    }

    /// Ends a chunked request body, with `trailers` when given (RFC 9112 §7.1.2). A
    /// `Content-Length` body ends by itself with its last byte.
    ///
    /// # Errors
    /// Nothing changes on [`ErrorKind::Misuse`] (no body is asked for, or trailers for a
    /// `Content-Length` body) or [`ErrorKind::FramingHeader`] (a trailer field is
    /// `Content-Length` or `Transfer-Encoding`, which RFC 9110 §6.5.1 forbids);
    /// [`ErrorKind::BodyLength`] when fewer bytes than declared were sent closes the
    /// connection.
    pub fn finish_body(&mut self, now: T, trailers: Option<&Headers>) -> Result<()> {
        let State::Exchange(ex) = &mut self.state else {
            return Err(self.misuse(Call::FinishBody));
        };
        let Upload::Streaming { left, held } = &mut ex.upload else {
            return Err(self.misuse(Call::FinishBody));
        };
        match (left, trailers) {
            (Left::Length { .. }, Some(_)) => {
                return Err(self.misuse(Call::FinishBodyWithTrailers));
            }
            (Left::Length { remaining, declared }, None) => {
                let err =
                    ErrorKind::BodyLength { expected: *declared, actual: *declared - *remaining };
                return Err(self.fail_caller(err.into()));
            }
            (Left::Chunked, trailers) => {
                let framing = trailers.iter().flat_map(|t| t.iter()).find(|(n, _)| {
                    n.eq_ignore_ascii_case("content-length")
                        || n.eq_ignore_ascii_case("transfer-encoding")
                });
                if let Some((name, _)) = framing {
                    return Err(ErrorKind::FramingHeader { name: name.to_string() }.into());
                }
                let out = &mut self.ctx.scratch;
                out.put_slice(b"0\r\n");
                for (n, v) in trailers.iter().flat_map(|t| t.iter()) {
                    out.put_slice(n.as_bytes());
                    out.put_slice(b": ");
                    out.put_slice(v);
                    out.put_slice(b"\r\n");
                }
                out.put_slice(b"\r\n");
                let last = out.split().freeze();
                self.ctx.body_piece(held, last);
            }
        }
        complete_upload(&mut self.ctx, ex, now);
        Ok(())
    }

    /// The caller does not want the rest of the response body. Up to
    /// [`Limits::max_drain_bytes`](crate::Limits) of it are read and dropped so the connection
    /// can be reused; a longer body ends in [`CloseReason::BodyNotDrained`], at once when that
    /// much was already read. Data and trailer events not yet polled are dropped too, even
    /// when the response already ended. A transfer-coded body is budgeted in its coded bytes,
    /// and a coding error in its unwanted content (one already queued too) ends it in
    /// [`CloseReason::UndecodableBody`] instead of an error.
    pub fn discard_body(&mut self, now: T) {
        let mut budget = self.ctx.config.limits.max_drain_bytes;
        let mut overflow = false;
        // Before the state check: the whole response may have come in one read, its end
        // already decided and queued behind the data.
        self.ctx.out.retain(|o| match o {
            Output::Event(Event::Data(d)) => {
                overflow |= d.len() as u64 > budget;
                budget = budget.saturating_sub(d.len() as u64);
                false
            }
            Output::Event(Event::Trailers(_)) => false,
            _ => true,
        });
        // So is a coding error in content not yet polled: the end is the one a discarded body
        // gets (`coding_failed`).
        if let Some(reason) = self.ctx.unwanted_end.take() {
            for o in &mut self.ctx.out {
                if let Output::Error(_) = o {
                    *o = Output::End(End::MustClose { reason });
                }
            }
        }
        let mut ex = match mem::replace(&mut self.state, State::Closed) {
            State::Exchange(ex) => ex,
            other => {
                self.state = other;
                return;
            }
        };
        let next = match &mut ex.recv {
            Recv::Head { discard, .. } => {
                *discard = true;
                None
            }
            Recv::Body { sink: sink @ Sink::Deliver, sem, coding, .. } => {
                // Queued data of a coded body is decoded content: the budget counts the coded
                // bytes read, as it does after this call.
                if let Some(decoder) = coding {
                    let max = self.ctx.config.limits.max_drain_bytes;
                    overflow = decoder.coded_len() > max;
                    budget = max.saturating_sub(decoder.coded_len());
                }
                *sink = Sink::Discard { budget };
                // Already past the budget with the body still coming: end now rather than at
                // the next read, which a stalled peer might never send.
                overflow.then(|| {
                    let sink = mem::replace(sink, Sink::Deliver);
                    conclude(&ex.kind, &ex.upload, *sem, sink, false, true)
                })
            }
            Recv::Body { .. } => None,
        };
        self.state = match next {
            Some(next) => self.enter(now, ex, next),
            None => State::Exchange(ex),
        };
    }

    /// Starts the deadline of a setup phase the driver (TCP connect) or the layer above (TLS
    /// handshake) runs, from [`Timeouts`](crate::Timeouts). When it passes before
    /// [`Connection::end_setup`], the connection fails with [`ErrorKind::Timeout`] naming the
    /// phase's [`TimerKind`]. Does nothing once the connection is closed.
    pub fn start_setup(&mut self, now: T, phase: SetupPhase) {
        if !self.is_closed() {
            self.ctx.arm(phase.timer(), now);
        }
    }

    /// The setup phase finished: its deadline is dropped.
    pub fn end_setup(&mut self, _now: T, phase: SetupPhase) {
        self.ctx.timers.stop(phase.timer());
    }

    // ---- inputs ------------------------------------------------------------------------

    /// Feeds bytes read from the transport. The connection takes what it consumes off the
    /// front of `input` (`split_to`); body data is handed on as shared `Bytes`, uncopied.
    /// Whatever it leaves is not part of this exchange.
    pub fn handle_input(&mut self, now: T, input: &mut BytesMut) {
        // The exchange is worked on in place: moved out only when its state changes, not on
        // every read (it is a few hundred bytes).
        let ex = match &mut self.state {
            State::Exchange(ex) => ex,
            State::Idle if !input.is_empty() => {
                // Unsolicited bytes (a 408 before closing, say): this connection is done.
                self.ctx.timers.stop_all();
                self.state = State::Closed;
                return;
            }
            _ => return,
        };
        if !input.is_empty() {
            self.ctx.response_started = true;
        }
        let mut arm_body_read = false;
        let next = 'next: {
            // The usual chunked download, taken whole and without transfer codings: every
            // piece this read holds straight to the queue, out of line and outside the loop
            // below (which the other readers and sinks, and the head, need).
            if let Recv::Body { reader, sink: Sink::Deliver, coding: None, sem } = &mut ex.recv
                && let BodyReader::Chunked(decoder) = reader
            {
                let limits = &self.ctx.config.limits;
                match deliver_chunked(&mut self.ctx.out, decoder, input, limits) {
                    Ok((pieces, false)) => {
                        if pieces {
                            self.ctx.arm(TimerKind::BodyRead, now);
                        }
                        return;
                    }
                    Ok((_, true)) => {
                        let extra = !input.is_empty();
                        break 'next Next::End(delivered(&ex.kind, &ex.upload, sem, extra, false));
                    }
                    Err(e) => break 'next Next::Fail(e),
                }
            }
            loop {
                match read(&mut self.ctx, ex, now, input, &mut arm_body_read) {
                    Ok(Flow::More) => {}
                    Ok(Flow::Wait) => {
                        // Once for the head and every piece of this read: they all came at
                        // `now`. (An exchange that ends stops its timers, so only one that
                        // waits needs it.)
                        if arm_body_read {
                            self.ctx.arm(TimerKind::BodyRead, now);
                        }
                        return;
                    }
                    Ok(Flow::End(next)) => break next,
                    Err(e) => break Next::Fail(e),
                }
            }
        };
        self.enter_in_place(now, next);
    }

    /// The peer closed its side of the transport (a read returned 0), cleanly or not: over
    /// TLS, an end without `close_notify` is [`Eof::Unclean`], and a close-delimited body cut
    /// by it is an error, not a complete body.
    pub fn handle_eof(&mut self, now: T, eof: Eof) {
        let mut ex = match mem::replace(&mut self.state, State::Closed) {
            State::Exchange(ex) => ex,
            State::Idle => {
                self.ctx.timers.stop_all();
                return;
            }
            other => {
                self.state = other;
                return;
            }
        };
        let eof_error = |expected| Next::Fail(ErrorKind::UnexpectedEof { expected }.into());
        // A close-delimited body that ends cleanly: its transfer coding must end here too.
        if let Recv::Body {
            reader: BodyReader::UntilClose,
            sink: sink @ (Sink::Deliver | Sink::Discard { .. }),
            coding: Some(decoder),
            ..
        } = &mut ex.recv
        {
            if eof == Eof::Clean {
                let ctx = &mut self.ctx;
                let deliver = matches!(sink, Sink::Deliver);
                let ended = decoder.finish(&mut |piece| {
                    if deliver {
                        ctx.event(Event::Data(piece));
                    }
                });
                if let Err(e) = ended {
                    let next = coding_failed(ctx, &ex.upload, sink, e);
                    self.state = self.enter(now, ex, next);
                    return;
                }
            }
        }
        let next = match &mut ex.recv {
            Recv::Head { .. } if matches!(ex.kind, Kind::Connect(_)) => {
                eof_error(Expected::ProxyReply)
            }
            Recv::Head { .. } => eof_error(Expected::ResponseHead),
            // A refused CONNECT: report what arrived.
            Recv::Body { sink: sink @ Sink::Refused(_), sem, .. } => conclude(
                &ex.kind,
                &ex.upload,
                *sem,
                mem::replace(sink, Sink::Deliver),
                false,
                false,
            ),
            Recv::Body { reader: BodyReader::UntilClose, sink, sem, .. } => match eof {
                Eof::Clean => conclude(
                    &ex.kind,
                    &ex.upload,
                    *sem,
                    mem::replace(sink, Sink::Deliver),
                    false,
                    false,
                ),
                Eof::Unclean => eof_error(Expected::CleanClose),
            },
            Recv::Body { .. } => eof_error(Expected::ResponseBody),
        };
        self.state = self.enter(now, ex, next);
    }

    /// A write to the transport failed. The connection stops asking for body and drops the
    /// bytes not yet written, then reads whatever response still arrives (a server's early
    /// `413`, say), bounded by [`TimerKind::ResponseHead`]; the exchange then ends in
    /// [`CloseReason::RequestIncomplete`]. For a failure that ends the reading too, use
    /// [`Connection::handle_transport_error`].
    pub fn handle_send_failed(&mut self, now: T) {
        let State::Exchange(ex) = &mut self.state else { return };
        self.ctx.out.retain(|o| !matches!(o, Output::Transmit(_)));
        ex.upload = Upload::Abandoned;
        self.ctx.timers.stop(TimerKind::SendBody);
        self.ctx.timers.stop(TimerKind::ExpectContinue);
        if matches!(ex.recv, Recv::Head { .. }) && matches!(ex.kind, Kind::Request { .. }) {
            self.ctx.arm(TimerKind::ResponseHead, now);
        }
    }

    /// The transport failed (a reset, a broken pipe, another I/O error): the connection fails
    /// with [`ErrorKind::Transport`], whose [`Error::request_sent`] and
    /// [`Error::response_started`] say whether the request may be sent again
    /// ([`Error::is_retryable`]).
    pub fn handle_transport_error(&mut self, _now: T, error: TransportError) {
        let err = ErrorKind::Transport { error }.into();
        self.state = match mem::replace(&mut self.state, State::Closed) {
            State::Exchange(ex) | State::Reconnect { ex, .. } => {
                let sent = self.ctx.request_sent(&ex);
                self.ctx.fail(sent, err)
            }
            State::Idle => self.ctx.fail(RequestSent::No, err),
            other @ (State::HandedOver | State::Closed) => other,
        };
    }

    /// The driver opened a new transport after [`Output::Reconnect`]: the request goes out
    /// again, with the credentials the proxy asked for.
    ///
    /// # Errors
    /// [`ErrorKind::Misuse`] when no reconnect was asked for; nothing changes then.
    pub fn handle_reconnected(&mut self, now: T) -> Result<()> {
        match mem::replace(&mut self.state, State::Closed) {
            State::Reconnect { mut ex, head } => {
                resend(&mut self.ctx, &mut ex, now, head);
                self.state = State::Exchange(ex);
                Ok(())
            }
            other => {
                self.state = other;
                Err(self.misuse(Call::HandleReconnected))
            }
        }
    }

    /// Fires every deadline due at `now`. Safe to call early or twice: what is not due does
    /// nothing.
    pub fn handle_timeout(&mut self, now: T) {
        while let Some(timer) = self.ctx.timers.take_expired(now) {
            let err = || Error::from(ErrorKind::Timeout { timer });
            self.state = match (timer, mem::replace(&mut self.state, State::Closed)) {
                (TimerKind::ExpectContinue, State::Exchange(mut ex)) => {
                    release(&mut self.ctx, &mut ex, now);
                    State::Exchange(ex)
                }
                (TimerKind::Idle, State::Idle) => {
                    self.ctx.timers.stop_all();
                    State::Closed
                }
                (TimerKind::Connect | TimerKind::TlsHandshake, State::Idle) => {
                    self.ctx.fail(RequestSent::No, err())
                }
                (
                    TimerKind::Connect
                    | TimerKind::TlsHandshake
                    | TimerKind::SendBody
                    | TimerKind::ResponseHead
                    | TimerKind::BodyRead
                    | TimerKind::TunnelSetup,
                    State::Exchange(ex) | State::Reconnect { ex, .. },
                ) => {
                    let sent = self.ctx.request_sent(&ex);
                    self.ctx.fail(sent, err())
                }
                (_, other) => other,
            };
        }
    }

    // ---- outputs -----------------------------------------------------------------------

    /// The next thing for the driver to do. Never blocks, never fails: errors come out as
    /// [`Output::Error`].
    #[inline]
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.ctx.out.pop_front() {
            if let Output::Transmit(_) = o {
                self.ctx.handed_any = true;
            }
            return o;
        }
        match &self.state {
            State::Idle => Output::Idle,
            State::Closed => Output::Closed,
            State::HandedOver => Output::HandedOver,
            State::Reconnect { .. } => Output::Reconnect,
            State::Exchange(Exchange { upload: Upload::Streaming { held: None, .. }, .. }) => {
                Output::NeedBody
            }
            State::Exchange(_) => Output::NeedInput,
        }
    }

    /// Takes every [`Transmit`] queued at the front of the outputs at once, in order, into
    /// `into` (a driver's reused `Vec<Bytes>` or `SmallVec`, say), for one vectored write
    /// without copying: a chunked piece is three of them. Returns how many it took; other
    /// outputs stay for [`Connection::poll_output`]. Costs no allocation of its own.
    pub fn poll_transmit(&mut self, into: &mut impl Extend<Bytes>) -> usize {
        let mut taken = 0;
        while let Some(Output::Transmit(_)) = self.ctx.out.front() {
            if let Some(Output::Transmit(t)) = self.ctx.out.pop_front() {
                into.extend(core::iter::once(t.0));
                taken += 1;
            }
        }
        if taken > 0 {
            self.ctx.handed_any = true;
        }
        taken
    }

    /// The earliest armed deadline: call [`Connection::handle_timeout`] when it passes.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<T> {
        self.ctx.timers.next()
    }

    // ---- transitions -------------------------------------------------------------------

    /// Refuses a new exchange unless idle, and past the idle deadline.
    fn check_idle(&mut self, now: T, call: Call) -> Result<()> {
        if !self.is_idle() {
            return Err(self.misuse(call));
        }
        if self.ctx.timers.get(TimerKind::Idle).is_some_and(|at| at <= now) {
            self.ctx.timers.stop_all();
            self.state = State::Closed;
            return Err(ErrorKind::Timeout { timer: TimerKind::Idle }.into());
        }
        Ok(())
    }

    fn start(&mut self, now: T, kind: Kind, upload: Upload, head: Bytes) {
        self.ctx.handed_any = false;
        self.ctx.response_started = false;
        self.ctx.transmit(head);
        self.ctx.timers.stop(TimerKind::Idle);
        match (&kind, &upload) {
            (Kind::Connect(_), _) => self.ctx.arm(TimerKind::TunnelSetup, now),
            (_, Upload::Streaming { held: Some(_), .. }) => {
                self.ctx.arm(TimerKind::ExpectContinue, now);
                self.ctx.arm(TimerKind::ResponseHead, now);
            }
            (_, Upload::Streaming { held: None, .. }) => self.ctx.arm(TimerKind::SendBody, now),
            (_, Upload::Held(_) | Upload::Sent | Upload::Abandoned) => {
                self.ctx.arm(TimerKind::ResponseHead, now);
            }
        }
        self.state = State::Exchange(Exchange {
            kind,
            upload,
            recv: Recv::Head { discard: false, parser: HeadParser::new() },
            informational: 0,
        });
    }

    /// [`Connection::enter`] for the exchange in `self.state`, without moving it out and back
    /// (it is a few hundred bytes): an ending or a failure replaces the state where it is, a
    /// retry works on it in place; only a reconnect moves it.
    fn enter_in_place(&mut self, now: T, next: Next) {
        let State::Exchange(ex) = &mut self.state else { return };
        match next {
            Next::End(end) => {
                let ends_in = end_state(&end);
                self.ctx.end(now, end);
                // Each arm writes its dataless variant in place.
                match ends_in {
                    Phase::Idle => self.state = State::Idle,
                    Phase::HandedOver => self.state = State::HandedOver,
                    _ => self.state = State::Closed,
                }
            }
            Next::RetryHere(head) => resend(&mut self.ctx, ex, now, head),
            Next::Fail(err) => {
                let sent = self.ctx.request_sent(ex);
                self.state = self.ctx.fail(sent, err);
            }
            next @ Next::Reconnect(_) => {
                if let State::Exchange(ex) = mem::replace(&mut self.state, State::Closed) {
                    self.state = self.enter(now, ex, next);
                }
            }
        }
    }

    /// The state after an exchange's response is over (or failed).
    fn enter(&mut self, now: T, mut ex: Exchange, next: Next) -> State {
        let ctx = &mut self.ctx;
        match next {
            Next::End(end) => {
                let state = match end_state(&end) {
                    Phase::Idle => State::Idle,
                    Phase::HandedOver => State::HandedOver,
                    _ => State::Closed,
                };
                ctx.end(now, end);
                state
            }
            Next::RetryHere(head) => {
                resend(ctx, &mut ex, now, head);
                State::Exchange(ex)
            }
            Next::Reconnect(head) => {
                ctx.timers.stop(TimerKind::ResponseHead);
                ctx.timers.stop(TimerKind::BodyRead);
                State::Reconnect { ex, head }
            }
            Next::Fail(err) => {
                let sent = ctx.request_sent(&ex);
                ctx.fail(sent, err)
            }
        }
    }

    /// A caller error in the middle of an exchange: terminal, returned to the caller.
    fn fail_caller(&mut self, err: Error) -> Error {
        let err = err.with_progress(self.request_sent(), self.ctx.response_started);
        self.ctx.out.retain(|o| !matches!(o, Output::Transmit(_)));
        self.ctx.timers.stop_all();
        self.state = State::Closed;
        err
    }

    fn misuse(&self, call: Call) -> Error {
        Error::new(ErrorKind::Misuse { call, phase: Some(self.phase()) })
    }
}

// ---- the exchange's transitions ------------------------------------------------------------

/// One step of the read side: a head, or all the body `input` holds. `arm_body_read` is set
/// when a final head or a piece of body data was read: the caller (re-)arms
/// [`TimerKind::BodyRead`] once for all of them, and only if the exchange then waits.
#[inline(always)]
fn read<T: Timestamp>(
    ctx: &mut Ctx<T>,
    ex: &mut Exchange,
    now: T,
    input: &mut BytesMut,
    arm_body_read: &mut bool,
) -> Result<Flow> {
    let (reader, sink, sem, coding) = match &mut ex.recv {
        Recv::Head { discard, parser } => {
            let discard = *discard;
            let Some(head) = parser.parse(input, &ctx.config)? else {
                return Ok(Flow::Wait);
            };
            return on_head(ctx, ex, now, head, discard, input, arm_body_read);
        }
        Recv::Body { reader, sink, sem, coding } => (reader, sink, sem, coding),
    };
    // Consecutive pieces in one pass (a read that holds the end of one chunk and the start of
    // the next is two pieces), without going back through the exchange's state in between.
    loop {
        // Every reader needs input to make progress (the chunked decoder too: it has nothing
        // to say without a byte).
        if input.is_empty() {
            return Ok(Flow::Wait);
        }
        let mut overflowed = false;
        // A piece of data to the sink, where it was split off (no `Option` in between).
        macro_rules! piece {
            ($data:expr) => {{
                *arm_body_read = true;
                match body_piece(ctx, sink, coding, $data) {
                    Ok(over) => overflowed = over,
                    Err(e) => return Ok(Flow::End(coding_failed(ctx, &ex.upload, sink, e))),
                }
            }};
        }
        let done = match reader {
            BodyReader::Length(remaining) => {
                let take = usize::try_from(*remaining).map_or(input.len(), |r| r.min(input.len()));
                *remaining -= take as u64;
                piece!(input.split_to(take).freeze());
                *remaining == 0
            }
            BodyReader::Chunked(decoder) => match decoder.decode(input, &ctx.config.limits)? {
                None => return Ok(Flow::Wait),
                Some(Chunk::Data(data)) => {
                    piece!(data);
                    false
                }
                // The end of a chunk, then the start of the next. Past a bound the next piece
                // is not read: an overflow ends the exchange, and closes the connection,
                // whatever follows.
                Some(Chunk::Pieces(data, next)) => {
                    piece!(data);
                    if !overflowed {
                        piece!(next);
                    }
                    false
                }
                Some(Chunk::End(trailers)) => {
                    if !trailers.is_empty() && matches!(sink, Sink::Deliver) {
                        ctx.event(Event::Trailers(trailers));
                    }
                    true
                }
            },
            BodyReader::UntilClose => {
                piece!(input.split().freeze());
                false
            }
        };
        if done && matches!(sink, Sink::Deliver | Sink::Discard { .. }) {
            if let Some(decoder) = coding {
                let deliver = matches!(sink, Sink::Deliver);
                let ended = decoder.finish(&mut |piece| {
                    if deliver {
                        ctx.event(Event::Data(piece));
                    }
                });
                if let Err(e) = ended {
                    return Ok(Flow::End(coding_failed(ctx, &ex.upload, sink, e)));
                }
            }
        }
        // The usual end: the whole body delivered (or discarded), nothing to take from the sink.
        if done && !overflowed && matches!(sink, Sink::Deliver | Sink::Discard { .. }) {
            let end = delivered(&ex.kind, &ex.upload, sem, !input.is_empty(), false);
            return Ok(Flow::End(Next::End(end)));
        }
        if done || overflowed {
            let sink = mem::replace(sink, Sink::Deliver);
            return Ok(Flow::End(conclude(
                &ex.kind,
                &ex.upload,
                *sem,
                sink,
                !input.is_empty(),
                overflowed,
            )));
        }
    }
}

/// A chunked body the caller takes whole, without transfer codings: every piece `input`
/// holds (a read that holds the end of one chunk and the start of the next is two) as
/// [`Event::Data`], the trailers (when there are any) as [`Event::Trailers`]. Returns whether
/// a piece of data came, and whether the body ended. What [`read`]'s loop does for this reader
/// and sink, in a function of its own: the decoder inlined here, not into every path of
/// `handle_input`.
#[inline(never)]
fn deliver_chunked(
    out: &mut VecDeque<Output>,
    decoder: &mut chunked::Decoder,
    input: &mut BytesMut,
    limits: &crate::config::Limits,
) -> Result<(bool, bool)> {
    let mut pieces = false;
    let ended = decoder.decode_each(input, limits, |data| {
        pieces = true;
        out.push_back(Output::Event(Event::Data(data)));
    })?;
    let Some(trailers) = ended else { return Ok((pieces, false)) };
    if !trailers.is_empty() {
        out.push_back(Output::Event(Event::Trailers(trailers)));
    }
    Ok((pieces, true))
}

/// One piece of body data to its sink, through the transfer codings' decoder: whether the
/// body overflowed its bound, or the coding's error.
#[inline(always)]
fn body_piece<T: Timestamp>(
    ctx: &mut Ctx<T>,
    sink: &mut Sink,
    coding: &mut Option<Box<CodingDecoder>>,
    data: Bytes,
) -> Result<bool> {
    match (coding.as_mut(), &*sink) {
        (None, Sink::Deliver) => {
            ctx.event(Event::Data(data));
            Ok(false)
        }
        (Some(decoder), Sink::Deliver) => {
            decoder.decode(data, &mut |p| ctx.event(Event::Data(p)))?;
            Ok(false)
        }
        // Discarded content is decoded all the same, and dropped: a coding error ends the
        // exchange at the same byte whether it came before `discard_body` or after.
        (Some(decoder), Sink::Discard { .. }) => {
            decoder.decode(data.clone(), &mut drop)?;
            Ok(!sink_data(ctx, sink, data))
        }
        _ => Ok(!sink_data(ctx, sink, data)),
    }
}

/// A transfer coding failed ([`ErrorKind::InvalidCodedBody`],
/// [`ErrorKind::DecodedBodyTooLarge`]). In content the caller wants, that is the exchange's
/// error. In content it discarded, the exchange ends as an unwanted body cut short does, never
/// reusable: [`CloseReason::UndecodableBody`] (or `RequestIncomplete`, first as in
/// [`conclude`]). When the body came in the read that brought the head, it was decoded before
/// the caller could discard it: `discard_body` turns the queued error into that same end, so
/// the end does not depend on how the reads were split.
fn coding_failed<T: Timestamp>(ctx: &mut Ctx<T>, upload: &Upload, sink: &Sink, err: Error) -> Next {
    let reason = if matches!(upload, Upload::Sent) {
        CloseReason::UndecodableBody
    } else {
        CloseReason::RequestIncomplete
    };
    if let Sink::Deliver = sink {
        ctx.unwanted_end = Some(reason);
        return Next::Fail(err);
    }
    Next::End(End::MustClose { reason })
}

/// Routes body data; `false` when the body should not be read further (a drain or
/// collection bound was reached).
fn sink_data<T: Timestamp>(ctx: &mut Ctx<T>, sink: &mut Sink, data: Bytes) -> bool {
    match sink {
        Sink::Deliver => {
            ctx.event(Event::Data(data));
            true
        }
        Sink::Discard { budget } | Sink::Retry { budget, .. } => {
            if data.len() as u64 > *budget {
                return false;
            }
            *budget -= data.len() as u64;
            true
        }
        Sink::Refused(r) => {
            let limit = ctx.config.limits.max_proxy_error_body;
            let room = limit.saturating_sub(r.body.len());
            r.body.extend_from_slice(&data[..data.len().min(room)]);
            r.body.len() < limit
        }
    }
}

fn on_head<T: Timestamp>(
    ctx: &mut Ctx<T>,
    ex: &mut Exchange,
    now: T,
    head: ResponseHead,
    discard: bool,
    input: &mut BytesMut,
    arm_body_read: &mut bool,
) -> Result<Flow> {
    let status = head.status();
    if head.is_informational() {
        if status == 101 {
            // RFC 9110 §15.2.2: only when an upgrade was asked for.
            let Kind::Request { upgrade: true, .. } = ex.kind else {
                return Err(ErrorKind::UnexpectedSwitchingProtocols.into());
            };
            // The transport stops speaking HTTP: every byte after the head is handed on,
            // however the reads were split.
            ctx.event(Event::ResponseHead(head));
            return Ok(Flow::End(Next::End(End::Upgraded { leftover: input.split().freeze() })));
        }
        ex.informational += 1;
        let limit = ctx.config.limits.max_informational;
        if ex.informational > limit {
            return Err(ErrorKind::TooManyInformational { limit }.into());
        }
        ctx.event(Event::Informational(head));
        // Only a 100 releases a held body: a 103 (or any other 1xx) never does.
        if status == 100 {
            release(ctx, ex, now);
        }
        return Ok(Flow::More);
    }
    // From here the response's own timers bound the exchange: an upload still going is not
    // timed (it ends with the response, abandoned if unfinished).
    ctx.timers.stop(TimerKind::ResponseHead);
    ctx.timers.stop(TimerKind::SendBody);
    ctx.peer_version = Some(head.version());
    // A final response before the held body went out: the body is never sent
    // (RFC 9110 §10.1.1), so the connection cannot be reused.
    if let Upload::Streaming { held: Some(_), .. } | Upload::Held(_) = ex.upload {
        ex.upload = Upload::Abandoned;
        ctx.timers.stop(TimerKind::ExpectContinue);
    }
    let drain = ctx.config.limits.max_drain_bytes;
    let (sem, sink) = match &mut ex.kind {
        Kind::Connect(_) if (200..300).contains(&status) => {
            // RFC 9110 §9.3.6: a 2xx to CONNECT has no body; its length fields are ignored and
            // every byte after the head belongs to the tunnel.
            let leftover = input.split().freeze();
            return Ok(Flow::End(Next::End(End::Tunnel { reply: Box::new(head), leftover })));
        }
        Kind::Connect(rounds) => {
            let sem = head.semantics(false)?;
            let retry = if status == 407 {
                rounds.answer(&head, &ctx.config, &mut ctx.scratch)?
            } else {
                None
            };
            let sink = match retry {
                Some(next) => Sink::Retry { budget: drain, head: next },
                None => Sink::Refused(Box::new(Refusal {
                    attempts: (status == 407 && rounds.auth.is_some())
                        .then_some(rounds.with_credentials),
                    target: rounds.target.clone(),
                    head,
                    body: BytesMut::new(),
                })),
            };
            (sem, sink)
        }
        Kind::Request { is_head, proxy, .. } => {
            let sem = head.semantics(*is_head)?;
            let retry = match proxy {
                Some(rounds) if status == 407 => {
                    rounds.answer(&head, &ctx.config, &mut ctx.scratch)?
                }
                _ => None,
            };
            let sink = match retry {
                Some(next) => Sink::Retry { budget: drain, head: next },
                None => {
                    ctx.event(Event::ResponseHead(head));
                    if discard { Sink::Discard { budget: drain } } else { Sink::Deliver }
                }
            };
            (sem, sink)
        }
    };
    let reader = match sem.framing {
        Framing::None | Framing::Length(0) => {
            return Ok(Flow::End(conclude(
                &ex.kind,
                &ex.upload,
                sem,
                sink,
                !input.is_empty(),
                false,
            )));
        }
        Framing::Length(n) => BodyReader::Length(n),
        Framing::Chunked => BodyReader::Chunked(chunked::Decoder::new()),
        Framing::UntilClose => BodyReader::UntilClose,
    };
    let coding = (!sem.codings.is_empty())
        .then(|| Box::new(CodingDecoder::new(sem.codings, ctx.config.limits.max_decoded_body)));
    ex.recv = Recv::Body { reader, sink, sem, coding };
    // The body's deadline starts now; the caller arms it once, if the exchange waits.
    *arm_body_read = true;
    Ok(Flow::More)
}

/// How an exchange ends, decided in this one place once its response is over: read to its
/// end (`extra`: bytes followed it in the same read), or cut short when `overflowed` its
/// drain or collection bound.
fn conclude(
    kind: &Kind,
    upload: &Upload,
    sem: Semantics,
    sink: Sink,
    extra: bool,
    overflowed: bool,
) -> Next {
    let until_close = matches!(sem.framing, Framing::UntilClose);
    let reusable_bytes = !extra && !overflowed && sem.keep_alive && !sem.faulty && !until_close;
    let end = match sink {
        Sink::Retry { head, .. } if reusable_bytes => return Next::RetryHere(head),
        Sink::Retry { head, .. } => return Next::Reconnect(head),
        Sink::Refused(r) => {
            let Refusal { head, body, target, attempts } = *r;
            let (head, body) = (Box::new(head), body.freeze());
            let kind = match attempts {
                Some(attempts) => ErrorKind::ProxyAuthFailed { target, attempts, head, body },
                None => ErrorKind::ProxyRefused { target, head, body },
            };
            return Next::Fail(kind.into());
        }
        Sink::Deliver | Sink::Discard { .. } => delivered(kind, upload, &sem, extra, overflowed),
    };
    Next::End(end)
}

/// [`conclude`] for a body the caller got (or discarded): how the exchange ends. Called
/// directly where the sink is known to be one of those, without moving it.
#[inline(always)]
fn delivered(kind: &Kind, upload: &Upload, sem: &Semantics, extra: bool, overflowed: bool) -> End {
    let until_close = matches!(sem.framing, Framing::UntilClose);
    let close = matches!(kind, Kind::Request { close: true, .. });
    if !matches!(upload, Upload::Sent) {
        End::MustClose { reason: CloseReason::RequestIncomplete }
    } else if overflowed {
        End::MustClose { reason: CloseReason::BodyNotDrained }
    } else if until_close {
        End::MustClose { reason: CloseReason::ReadToEof }
    } else if sem.faulty {
        // Reasons the head decides come before `ExtraBytes`, which depends on how the reads
        // were split.
        End::MustClose { reason: CloseReason::FaultyFraming }
    } else if extra && sem.keep_alive && !close {
        // Only where they spoil a reusable connection: a closing one ends the same however
        // the reads were split.
        End::MustClose { reason: CloseReason::ExtraBytes }
    } else {
        End::Done { reusable: sem.keep_alive && !close }
    }
}

/// Where an exchange's end leaves the connection: [`Phase::Idle`], [`Phase::HandedOver`] or
/// [`Phase::Closed`].
fn end_state(end: &End) -> Phase {
    match end {
        End::Done { reusable: true } => Phase::Idle,
        End::Tunnel { .. } | End::Upgraded { .. } => Phase::HandedOver,
        End::Done { reusable: false } | End::MustClose { .. } => Phase::Closed,
    }
}

/// The caller gave the whole body: the request is out, or held whole for `100 Continue`.
fn complete_upload<T: Timestamp>(ctx: &mut Ctx<T>, ex: &mut Exchange, now: T) {
    ex.upload = match mem::replace(&mut ex.upload, Upload::Sent) {
        Upload::Streaming { held: Some(held), .. } => Upload::Held(held),
        _ => Upload::Sent,
    };
    ctx.timers.stop(TimerKind::SendBody);
    if matches!(ex.recv, Recv::Head { .. }) {
        ctx.arm(TimerKind::ResponseHead, now);
    }
}

/// `100 Continue`, or its deadline: the held body goes out, and the caller is asked for the
/// rest.
fn release<T: Timestamp>(ctx: &mut Ctx<T>, ex: &mut Exchange, now: T) {
    ctx.timers.stop(TimerKind::ExpectContinue);
    ex.upload = match mem::replace(&mut ex.upload, Upload::Sent) {
        Upload::Streaming { left, held: Some(held) } => {
            held.into_iter().for_each(|piece| ctx.transmit(piece));
            // The caller is asked again: the wait is on them, not on the peer.
            ctx.timers.stop(TimerKind::ResponseHead);
            ctx.arm(TimerKind::SendBody, now);
            Upload::Streaming { left, held: None }
        }
        Upload::Held(held) => {
            held.into_iter().for_each(|piece| ctx.transmit(piece));
            ctx.arm(TimerKind::ResponseHead, now);
            Upload::Sent
        }
        other => other,
    };
}

/// Sends the request again with the head a 407 asked for.
fn resend<T: Timestamp>(ctx: &mut Ctx<T>, ex: &mut Exchange, now: T, head: Bytes) {
    ex.recv = Recv::Head { discard: false, parser: HeadParser::new() };
    ex.upload = Upload::Sent;
    ex.informational = 0;
    ctx.handed_any = false;
    ctx.response_started = false;
    ctx.transmit(head);
    ctx.timers.stop(TimerKind::BodyRead);
    if let Kind::Request { .. } = ex.kind {
        ctx.arm(TimerKind::ResponseHead, now);
    }
}
