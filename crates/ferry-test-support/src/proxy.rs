//! An in-process HTTP proxy on `127.0.0.1:0`: forwards absolute-form `http://` requests and
//! tunnels CONNECT, with optional Basic auth, an optional TLS listener (an `https://` proxy),
//! counters, and a log of every request head it saw.
//!
//! ```
//! use std::io::{Read, Write};
//! use ferry_test_support::origin::Origin;
//! use ferry_test_support::proxy::{Proxy, ProxyOptions};
//!
//! let origin = Origin::http();
//! let proxy = Proxy::start(ProxyOptions::default());
//! let mut s = std::net::TcpStream::connect(proxy.addr()).unwrap();
//! let target = origin.url("/bytes/2");
//! write!(s, "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
//! let mut reply = String::new();
//! s.read_to_string(&mut reply).unwrap();
//! assert!(reply.starts_with("HTTP/1.1 200 OK\r\n") && reply.ends_with("\r\n\r\nab"));
//! assert_eq!(proxy.forwarded(), 1);
//! assert_eq!(origin.seen()[0].target, "/bytes/2", "the origin got the origin-form");
//! ```
//!
//! # Behaviour
//! - **Forwarding**: an absolute-form `http://host:port/path` request goes to the upstream in
//!   origin-form, without the hop-by-hop fields (`Connection` and the fields it names,
//!   `Keep-Alive`, `Proxy-Connection`, `Proxy-Authorization`, `TE`, `Upgrade`), with
//!   `Via: 1.1 ferry-test-proxy` added. Bodies are relayed with their framing as sent (chunked
//!   stays chunked). Both sides stay open where the framing allows; one upstream connection is
//!   kept per client connection. `https://` targets get 501, origin-form targets 400.
//! - **CONNECT** `host:port`: `200 Connection Established`, then bytes are copied both ways
//!   until each side has closed (a half-close is passed on).
//! - **Reach**: the proxy only dials loopback addresses; any other destination gets 403 (tests
//!   never leave the machine). An upstream that refuses gets 502.
//! - **Basic auth**: with [`ProxyOptions::basic_auth`], a missing or wrong
//!   `Proxy-Authorization` gets `407` with `Proxy-Authenticate: Basic realm="ferry"` and a
//!   short framed body; the connection stays open, or closes with
//!   [`ProxyOptions::close_after_407`].

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::certs::Leaf;
use crate::server::{Conn, Handler, IDLE, Registry, Server, Tracked, lock};
use crate::wire::{self, Framing, Response, SeenRequest, WireError, client_wants_close, has_token};

/// Characters kept as they are in a URL's userinfo: RFC 3986's unreserved set.
pub(crate) const USERINFO: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// How long the proxy waits for an upstream to accept.
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the proxy waits for an upstream's `100 Continue` before sending the body anyway
/// (RFC 9110 §10.1.1: the upstream may never send one).
const EXPECT_WAIT: Duration = Duration::from_secs(1);

/// How a [`Proxy`] behaves.
#[derive(Clone, Debug, Default)]
pub struct ProxyOptions {
    /// Require `Proxy-Authorization: Basic` with this user and password.
    pub basic_auth: Option<(String, String)>,
    /// Speak TLS on the listener with this leaf (an `https://` proxy; make the leaf for
    /// `localhost`).
    pub tls: Option<Leaf>,
    /// Close the connection after each 407 instead of keeping it open.
    pub close_after_407: bool,
}

impl ProxyOptions {
    /// Options requiring Basic auth with this user and password, the rest default.
    #[must_use]
    pub fn with_basic_auth(user: &str, pass: &str) -> ProxyOptions {
        ProxyOptions {
            basic_auth: Some((user.to_owned(), pass.to_owned())),
            ..ProxyOptions::default()
        }
    }
}

/// An HTTP proxy on `127.0.0.1`, stopped when dropped.
pub struct Proxy {
    server: Server,
    state: Arc<State>,
    tls: bool,
}

struct State {
    /// The Basic token a client must send, base64 of `user:pass`.
    token: Option<String>,
    close_after_407: bool,
    connects: AtomicUsize,
    tunnels: AtomicUsize,
    forwarded: AtomicUsize,
    auth_failures: AtomicUsize,
    seen: Mutex<Vec<SeenRequest>>,
}

impl Proxy {
    /// Starts a proxy on `127.0.0.1:0` with these options.
    ///
    /// # Panics
    /// If it cannot bind a loopback port or start a thread (a broken test environment).
    #[must_use]
    pub fn start(options: ProxyOptions) -> Proxy {
        let state = Arc::new(State {
            token: options.basic_auth.as_ref().map(|(u, p)| BASE64.encode(format!("{u}:{p}"))),
            close_after_407: options.close_after_407,
            connects: AtomicUsize::new(0),
            tunnels: AtomicUsize::new(0),
            forwarded: AtomicUsize::new(0),
            auth_failures: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
        });
        let tls: Option<Arc<ServerConfig>> =
            options.tls.as_ref().map(|leaf| leaf.server_config(&[b"http/1.1"]));
        let is_tls = tls.is_some();
        let shared = Arc::clone(&state);
        let handler: Handler = Arc::new(move |stream: TcpStream, registry: &Registry| match &tls {
            None => serve(stream, &shared, registry),
            Some(config) => {
                let Ok(conn) = ServerConnection::new(Arc::clone(config)) else { return };
                serve(StreamOwned::new(conn, stream), &shared, registry);
            }
        });
        let name = if is_tls { "proxy-tls" } else { "proxy" };
        let server = Server::start(name, handler).expect("bind a loopback port");
        Proxy { server, state, tls: is_tls }
    }

    /// The listening address (`127.0.0.1:port`).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The listening port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// Whether the listener speaks TLS.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The proxy's URL: `http://127.0.0.1:port`, or `https://localhost:port` with TLS.
    #[must_use]
    pub fn url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.port())
        } else {
            format!("http://127.0.0.1:{}", self.port())
        }
    }

    /// The proxy's URL with credentials in its userinfo, each percent-encoded (everything but
    /// RFC 3986's unreserved characters): `http://us%40er:p%3Ass@127.0.0.1:port`.
    #[must_use]
    pub fn url_with_credentials(&self, user: &str, pass: &str) -> String {
        with_credentials(&self.url(), user, pass)
    }

    /// Connections accepted so far.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.server.registry().accepted()
    }

    /// CONNECT requests received so far (refused ones included).
    #[must_use]
    pub fn connects(&self) -> usize {
        self.state.connects.load(Ordering::SeqCst)
    }

    /// Tunnels opened so far (CONNECTs answered 200).
    #[must_use]
    pub fn tunnels(&self) -> usize {
        self.state.tunnels.load(Ordering::SeqCst)
    }

    /// Requests forwarded to an upstream so far.
    #[must_use]
    pub fn forwarded(&self) -> usize {
        self.state.forwarded.load(Ordering::SeqCst)
    }

    /// 407 responses sent so far.
    #[must_use]
    pub fn auth_failures(&self) -> usize {
        self.state.auth_failures.load(Ordering::SeqCst)
    }

    /// Every request head the proxy saw, in order of arrival, headers in order as sent
    /// (forwarded requests with their decoded body).
    #[must_use]
    pub fn seen(&self) -> Vec<SeenRequest> {
        lock(&self.state.seen).clone()
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").field("addr", &self.addr()).field("tls", &self.tls).finish()
    }
}

/// `scheme://host:port` with `user:pass@` put in front of the host, percent-encoded.
pub(crate) fn with_credentials(url: &str, user: &str, pass: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let user = utf8_percent_encode(user, USERINFO);
    let pass = utf8_percent_encode(pass, USERINFO);
    format!("{scheme}://{user}:{pass}@{rest}")
}

/// A client connection that can become a tunnel.
trait ClientConn: Conn + Sized {
    /// Copies bytes both ways between this client and `upstream` until both have closed;
    /// `leftover` is what the client sent after the CONNECT head, already read.
    fn tunnel(self, leftover: &[u8], upstream: TcpStream);
}

impl ClientConn for TcpStream {
    fn tunnel(self, leftover: &[u8], mut upstream: TcpStream) {
        if upstream.write_all(leftover).is_err() {
            return;
        }
        let (Ok(mut client_in), Ok(mut upstream_out)) = (self.try_clone(), upstream.try_clone())
        else {
            return;
        };
        let up = thread::spawn(move || {
            let _ = io::copy(&mut client_in, &mut upstream_out);
            let _ = upstream_out.shutdown(Shutdown::Write);
        });
        let mut client_out = self;
        let _ = io::copy(&mut upstream, &mut client_out);
        let _ = client_out.shutdown(Shutdown::Write);
        let _ = up.join();
    }
}

impl ClientConn for StreamOwned<ServerConnection, TcpStream> {
    fn tunnel(self, leftover: &[u8], mut upstream: TcpStream) {
        let StreamOwned { conn, sock } = self;
        let (Ok(sock_in), Ok(mut upstream_out)) = (sock.try_clone(), upstream.try_clone()) else {
            return;
        };
        let side = Arc::new(TlsSide { conn: Mutex::new(conn), out: Mutex::new(sock) });
        // What the client sent past the CONNECT head: read already, or decrypted and unread.
        let mut first = leftover.to_vec();
        let open = drain_plaintext(&mut lock(&side.conn), &mut first);
        if upstream_out.write_all(&first).is_err() {
            return;
        }
        let up = {
            let side = Arc::clone(&side);
            thread::spawn(move || {
                if open {
                    tls_to_plain(&side, sock_in, &mut upstream_out);
                }
                let _ = upstream_out.shutdown(Shutdown::Write);
            })
        };
        let mut buf = vec![0; 16 * 1024];
        loop {
            let n = match upstream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut conn = lock(&side.conn);
            if conn.writer().write_all(&buf[..n]).is_err() || side.send_records(conn).is_err() {
                break;
            }
        }
        let mut conn = lock(&side.conn);
        conn.send_close_notify();
        let _ = side.send_records(conn);
        let _ = lock(&side.out).shutdown(Shutdown::Write);
        let _ = up.join();
    }
}

/// The client half of a tunnel behind the proxy's TLS listener, shared by its two directions.
///
/// Records are written in the order the session made them: `send_records` takes the `out`
/// lock before it lets go of the `conn` lock. Neither direction holds `conn` while blocked on
/// a socket, so a client that stops reading stalls only the direction towards it.
struct TlsSide {
    conn: Mutex<ServerConnection>,
    out: Mutex<TcpStream>,
}

impl TlsSide {
    /// Writes every TLS record the session has queued, releasing the session first.
    fn send_records(&self, mut conn: MutexGuard<'_, ServerConnection>) -> io::Result<()> {
        let mut records = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut records)?;
        }
        if records.is_empty() {
            return Ok(());
        }
        let mut out = lock(&self.out);
        drop(conn);
        out.write_all(&records)
    }
}

/// Client to upstream through the TLS session: reads records from the socket, decrypts them
/// (holding the session only for that), writes the plaintext on.
fn tls_to_plain(side: &TlsSide, mut sock_in: TcpStream, upstream_out: &mut TcpStream) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match sock_in.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut plain = Vec::new();
        let mut records = &buf[..n];
        let mut conn = lock(&side.conn);
        let mut open = true;
        while open && !records.is_empty() {
            if conn.read_tls(&mut records).is_err() {
                return;
            }
            if conn.process_new_packets().is_err() {
                // rustls queued an alert: send it, then give up.
                let _ = side.send_records(conn);
                return;
            }
            open = drain_plaintext(&mut conn, &mut plain);
        }
        if side.send_records(conn).is_err() || upstream_out.write_all(&plain).is_err() || !open {
            return;
        }
    }
}

/// Moves the plaintext the session holds into `out`; false once the peer sent `close_notify`
/// (or the session cannot be read).
fn drain_plaintext(conn: &mut ServerConnection, out: &mut Vec<u8>) -> bool {
    let mut buf = [0; 16 * 1024];
    loop {
        match conn.reader().read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return e.kind() == io::ErrorKind::WouldBlock,
        }
    }
}

/// The upstream connection a client connection keeps between forwarded requests.
struct Upstream<'r> {
    authority: String,
    reader: BufReader<TcpStream>,
    _tracked: Tracked<'r>,
}

impl Upstream<'_> {
    /// Whether the idle upstream connection is still open with nothing unasked-for to read.
    fn is_usable(&self) -> bool {
        let sock = self.reader.get_ref();
        if !self.reader.buffer().is_empty() || sock.set_nonblocking(true).is_err() {
            return false;
        }
        let usable = matches!(sock.peek(&mut [0]), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        usable && sock.set_nonblocking(false).is_ok()
    }
}

/// Serves one client connection: requests until it closes, or a tunnel.
fn serve<S: ClientConn>(stream: S, state: &State, registry: &Registry) {
    let mut r = BufReader::new(stream);
    let mut upstream: Option<Upstream<'_>> = None;
    loop {
        let mut req = match wire::read_request_head(&mut r) {
            Ok(Some(req)) => req,
            Ok(None) | Err(WireError::Io) => return,
            Err(WireError::TooLarge) => return refuse(r.get_mut(), 431, "head too large\n"),
            Err(WireError::Malformed(why)) => return refuse(r.get_mut(), 400, why),
        };
        let connect = req.method.eq_ignore_ascii_case("CONNECT");
        if connect {
            state.connects.fetch_add(1, Ordering::SeqCst);
        }
        let framing = if connect {
            Framing::None
        } else {
            match wire::request_framing(&req.headers) {
                Ok(framing) => framing,
                Err(_) => {
                    lock(&state.seen).push(req);
                    return refuse(r.get_mut(), 400, "bad request framing\n");
                }
            }
        };
        if !authorized(state, &req) {
            state.auth_failures.fetch_add(1, Ordering::SeqCst);
            // A client waiting for 100 Continue may or may not send its body: close after.
            let expecting =
                framing != Framing::None && has_token(&req.headers, "expect", "100-continue");
            if !expecting {
                match wire::read_body(&mut r, framing, &mut io::sink(), true) {
                    Ok(body) => (req.body, req.trailers) = (body.data, body.trailers),
                    Err(_) => return,
                }
            }
            lock(&state.seen).push(req);
            let close = state.close_after_407 || expecting;
            let mut response = Response::text(407, "proxy authentication required\n")
                .with("Proxy-Authenticate", "Basic realm=\"ferry\"");
            if close {
                response = response.with("Connection", "close");
            }
            let conn = r.get_mut();
            if conn.write_all(&response.encode(false)).is_err() || conn.flush().is_err() {
                return;
            }
            if close {
                conn.finish();
                return;
            }
            continue;
        }
        if connect {
            lock(&state.seen).push(req.clone());
            let dialed = split_authority(&req.target, None).map_err(|_| 400).and_then(dial);
            match dialed {
                Ok(up) => {
                    let conn = r.get_mut();
                    if conn.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").is_err()
                        || conn.flush().is_err()
                    {
                        return;
                    }
                    state.tunnels.fetch_add(1, Ordering::SeqCst);
                    let _up_tracked = registry.track(&up);
                    let leftover = r.buffer().to_vec();
                    r.into_inner().tunnel(&leftover, up);
                    return;
                }
                Err(code) => {
                    let response = Response::text(code, "cannot open that tunnel\n");
                    if r.get_mut().write_all(&response.encode(false)).is_err() {
                        return;
                    }
                    continue;
                }
            }
        }
        // `forward` records the request before it answers (a client that asks `seen()` once
        // it has its response finds it there); here only when no answer went out.
        let mut recorded = false;
        let outcome =
            forward(&mut r, &mut req, framing, (state, registry), &mut upstream, &mut recorded);
        if !recorded {
            lock(&state.seen).push(req);
        }
        match outcome {
            Forwarded::KeepOpen => {}
            Forwarded::Close => {
                r.get_mut().finish();
                return;
            }
            Forwarded::Abort => return,
        }
    }
}

/// What happens to the client connection after a forwarded exchange.
enum Forwarded {
    /// Read the next request.
    KeepOpen,
    /// Close politely.
    Close,
    /// Drop the connection (a broken exchange).
    Abort,
}

/// Forwards one absolute-form request and relays its response.
fn forward<'r, S: Conn>(
    r: &mut BufReader<S>,
    req: &mut SeenRequest,
    framing: Framing,
    (state, registry): (&State, &'r Registry),
    upstream: &mut Option<Upstream<'r>>,
    recorded: &mut bool,
) -> Forwarded {
    // Once, before the first byte of an answer goes to the client.
    let record = |req: &SeenRequest, recorded: &mut bool| {
        if !*recorded {
            lock(&state.seen).push(req.clone());
            *recorded = true;
        }
    };
    let reply =
        |r: &mut BufReader<S>, req: &mut SeenRequest, code: u16, why: &str, recorded: &mut bool| {
            match wire::read_body(r, framing, &mut io::sink(), true) {
                Ok(body) => (req.body, req.trailers) = (body.data, body.trailers),
                Err(_) => return Forwarded::Abort,
            }
            record(req, recorded);
            let close = client_wants_close(req);
            let mut response = Response::text(code, why);
            if close {
                response = response.with("Connection", "close");
            }
            if r.get_mut().write_all(&response.encode(false)).is_err() {
                return Forwarded::Abort;
            }
            if close { Forwarded::Close } else { Forwarded::KeepOpen }
        };
    let scheme =
        |name: &str| req.target.get(..name.len()).is_some_and(|s| s.eq_ignore_ascii_case(name));
    let Some(rest) = req.target.get(7..).filter(|_| scheme("http://")) else {
        if scheme("https://") {
            return reply(r, req, 501, "this proxy forwards http:// only; use CONNECT\n", recorded);
        }
        return reply(r, req, 400, "a proxy needs an absolute-form target\n", recorded);
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path =
        if path.starts_with('?') || path.is_empty() { format!("/{path}") } else { path.to_owned() };
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host).to_owned();
    if upstream.as_ref().is_none_or(|up| up.authority != authority || !up.is_usable()) {
        *upstream = None;
        let dialed = split_authority(&authority, Some(80)).map_err(|_| 400).and_then(dial);
        match dialed {
            Ok(stream) => {
                let tracked = registry.track(&stream);
                *upstream = Some(Upstream {
                    authority: authority.clone(),
                    reader: BufReader::new(stream),
                    _tracked: tracked,
                });
            }
            Err(code) => {
                *upstream = None;
                return reply(r, req, code, "cannot reach that upstream\n", recorded);
            }
        }
    }
    let Some(up) = upstream.as_mut() else { return Forwarded::Abort };
    state.forwarded.fetch_add(1, Ordering::SeqCst);

    let head = upstream_head(req, &path, &authority);
    if up.reader.get_mut().write_all(&head).is_err() {
        *upstream = None;
        return Forwarded::Abort;
    }
    let expecting = framing != Framing::None && has_token(&req.headers, "expect", "100-continue");
    let mut early = None;
    if expecting && upstream_answers_soon(&mut up.reader) {
        match wire::read_response_head(&mut up.reader) {
            Ok(head) if head.code == 100 => {
                if r.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                    return Forwarded::Abort;
                }
                let _ = r.get_mut().flush();
            }
            Ok(head) => early = Some(head),
            Err(_) => {
                *upstream = None;
                return Forwarded::Abort;
            }
        }
    }
    if early.is_none() {
        match wire::read_body(r, framing, up.reader.get_mut(), true) {
            Ok(body) => (req.body, req.trailers) = (body.data, body.trailers),
            Err(_) => {
                *upstream = None;
                return Forwarded::Abort;
            }
        }
    }
    let response = loop {
        let head = match early.take() {
            Some(head) => head,
            None => match wire::read_response_head(&mut up.reader) {
                Ok(head) => head,
                Err(_) => {
                    *upstream = None;
                    record(req, recorded);
                    let _ = r.get_mut().write_all(
                        &Response::text(502, "upstream failed\n")
                            .with("Connection", "close")
                            .encode(false),
                    );
                    return Forwarded::Close;
                }
            },
        };
        if (100..200).contains(&head.code) && head.code != 101 {
            record(req, recorded);
            let interim = encode_response_head(&head, false);
            if r.get_mut().write_all(&interim).is_err() {
                return Forwarded::Abort;
            }
            continue;
        }
        break head;
    };
    let Ok(body_framing) = wire::response_framing(&req.method, response.code, &response.headers)
    else {
        *upstream = None;
        record(req, recorded);
        let _ = r.get_mut().write_all(
            &Response::text(502, "upstream framing\n").with("Connection", "close").encode(false),
        );
        return Forwarded::Close;
    };
    let close = client_wants_close(req)
        || body_framing == Framing::UntilClose
        || response.code == 101
        || (expecting && early_final(&response));
    let upstream_reusable =
        body_framing != Framing::UntilClose && !has_token(&response.headers, "connection", "close");
    record(req, recorded);
    let conn = r.get_mut();
    if conn.write_all(&encode_response_head(&response, close)).is_err() {
        return Forwarded::Abort;
    }
    if wire::read_body(&mut up.reader, body_framing, conn, false).is_err() {
        *upstream = None;
        return Forwarded::Abort;
    }
    if conn.flush().is_err() {
        return Forwarded::Abort;
    }
    if !upstream_reusable {
        *upstream = None;
    }
    if close { Forwarded::Close } else { Forwarded::KeepOpen }
}

/// Whether the upstream starts a response within [`EXPECT_WAIT`] (nothing is consumed: a
/// timeout leaves the reader as it was). An upstream that closed counts as answering, so
/// that reading its response fails at once.
fn upstream_answers_soon(reader: &mut BufReader<TcpStream>) -> bool {
    let _ = reader.get_ref().set_read_timeout(Some(EXPECT_WAIT));
    let answered = match reader.fill_buf() {
        Ok(_) => true,
        Err(e) => !matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut),
    };
    let _ = reader.get_ref().set_read_timeout(Some(IDLE));
    answered
}

/// Whether a final response came before the body of a request that expected 100 Continue
/// (the body was never read: the client connection cannot be reused).
fn early_final(response: &wire::ResponseHead) -> bool {
    response.code >= 200
}

/// The request head sent upstream: origin-form, hop-by-hop fields removed, `Via` added.
fn upstream_head(req: &SeenRequest, path: &str, authority: &str) -> Vec<u8> {
    let mut out = format!("{} {path} HTTP/1.1\r\n", req.method).into_bytes();
    let mut has_host = false;
    for (name, value) in &req.headers {
        if is_hop_by_hop(&req.headers, name) {
            continue;
        }
        has_host |= name.eq_ignore_ascii_case("host");
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if !has_host {
        out.extend_from_slice(format!("Host: {authority}\r\n").as_bytes());
    }
    out.extend_from_slice(b"Via: 1.1 ferry-test-proxy\r\n\r\n");
    out
}

/// A response head as relayed to the client: hop-by-hop fields removed, `Connection: close`
/// added when the proxy closes after it.
fn encode_response_head(head: &wire::ResponseHead, close: bool) -> Vec<u8> {
    let reason =
        if head.reason.is_empty() { wire::reason(head.code) } else { head.reason.as_str() };
    let mut out = format!("HTTP/1.1 {} {reason}\r\n", head.code).into_bytes();
    for (name, value) in &head.headers {
        if !is_hop_by_hop(&head.headers, name) {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
    }
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// RFC 9110 §7.6.1: the fields a proxy does not pass on.
fn is_hop_by_hop(headers: &[(String, String)], name: &str) -> bool {
    const FIXED: [&str; 6] =
        ["connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "upgrade"];
    FIXED.iter().any(|f| f.eq_ignore_ascii_case(name)) || has_token(headers, "connection", name)
}

/// Whether the request carries the credentials the proxy wants (always, without auth).
fn authorized(state: &State, req: &SeenRequest) -> bool {
    let Some(token) = &state.token else { return true };
    req.header("proxy-authorization").and_then(|v| v.trim().split_once(' ')).is_some_and(
        |(scheme, given)| scheme.eq_ignore_ascii_case("basic") && given.trim() == token,
    )
}

/// `host:port`, `[v6]:port`, or `host` (with a default port) split.
fn split_authority(authority: &str, default_port: Option<u16>) -> Result<(String, u16), ()> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(())?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| ())?,
        None => default_port.ok_or(())?,
    };
    if host.is_empty() || port == 0 {
        return Err(());
    }
    Ok((host.to_owned(), port))
}

/// Connects to a loopback address of `host:port`: 403 if it has none, 502 if none accepts.
fn dial((host, port): (String, u16)) -> Result<TcpStream, u16> {
    let addrs: Vec<SocketAddr> =
        (host.as_str(), port).to_socket_addrs().map_err(|_| 502_u16)?.collect();
    let mut loopback: Vec<SocketAddr> =
        addrs.into_iter().filter(|a| a.ip().is_loopback()).collect();
    if loopback.is_empty() {
        return Err(403);
    }
    loopback.sort_by_key(SocketAddr::is_ipv6);
    for addr in loopback {
        if let Ok(stream) = TcpStream::connect_timeout(&addr, DIAL_TIMEOUT) {
            let _ = stream.set_nodelay(true);
            let _ = stream.set_read_timeout(Some(IDLE));
            let _ = stream.set_write_timeout(Some(IDLE));
            return Ok(stream);
        }
    }
    Err(502)
}

/// Answers a request that cannot be read on, and closes.
fn refuse<S: Conn>(conn: &mut S, code: u16, why: &str) {
    let response = Response::text(code, why).with("Connection", "close");
    let _ = conn.write_all(&response.encode(false));
    conn.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_split() {
        type Case = (&'static str, Option<u16>, Result<(&'static str, u16), ()>);
        let cases: &[Case] = &[
            ("localhost:8080", None, Ok(("localhost", 8080))),
            ("[::1]:443", None, Ok(("::1", 443))),
            ("example", Some(80), Ok(("example", 80))),
            ("example", None, Err(())),
            ("h:0", None, Err(())),
            (":80", None, Err(())),
            ("h:x", None, Err(())),
        ];
        for (authority, default, want) in cases {
            let got = split_authority(authority, *default);
            assert_eq!(got, want.map(|(h, p)| (h.to_owned(), p)), "{authority}");
        }
    }

    #[test]
    fn only_loopback_is_dialed() {
        assert_eq!(dial(("192.0.2.1".to_owned(), 80)).err(), Some(403));
    }

    #[test]
    fn credentials_are_percent_encoded() {
        let url = with_credentials("http://127.0.0.1:9", "us@er", "p:ss/w rd%");
        assert_eq!(url, "http://us%40er:p%3Ass%2Fw%20rd%25@127.0.0.1:9");
    }

    /// RFC 9110 §7.6.1: Connection and the fields it names are hop-by-hop.
    #[test]
    fn hop_by_hop_fields() {
        let headers = vec![("Connection".to_owned(), "x-private, close".to_owned())];
        for (name, hop) in [
            ("X-Private", true),
            ("Keep-Alive", true),
            ("Proxy-Authorization", true),
            ("Authorization", false),
            ("Host", false),
        ] {
            assert_eq!(is_hop_by_hop(&headers, name), hop, "{name}");
        }
    }
}
