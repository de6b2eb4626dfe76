//! The `connect_reply` target: a proxy's answers to CONNECT, 407 rounds and reconnects
//! included.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use ferry_proto::{
    Authority, Blame, Challenge, Config, Connect, Connection, Credentials, End, Eof, ErrorKind,
    Event, Output, Profile, ProxyAuth, ProxyAuthenticator, Url,
    testing::{self, Join, Rest},
};

use super::oracle;
use super::response_stream::{BYTEWISE_MAX, tight_limits};
use super::stream::{Framed, bytewise, contains, reads};

const USER: &str = "alice";
/// Non-ASCII and a colon: Basic must carry both (RFC 7617 §2).
const PASSWORD: &str = "p\u{e4}55:w\u{f6}rd-9f3a";
/// The challenge-response authenticator's secret: only a hash of it goes out.
const SECRET: &str = "digest-secret-77c1";
/// A `Proxy-Authorization` of the caller's own, which the core must drop.
const CALLER_AUTH: &str = "Basic Y2FsbGVyOm93bg==";

/// How the CONNECT authenticates: mode bits 0 and 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Auth {
    None,
    /// Basic, sent with the first CONNECT.
    Preemptive,
    /// Basic, sent after a 407 asks for it.
    OnChallenge,
    /// A challenge-response scheme (`Digest`), a new answer for every new nonce.
    Digest,
}

/// A made-up `Digest`: answers a challenge's `nonce` with a hash of the secret and the nonce.
/// The nonce is echoed raw, so a hostile one reaches the core's header check.
struct FakeDigest;

fn digest_response(nonce: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in SECRET.bytes().chain([0]).chain(nonce.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

impl ProxyAuthenticator for FakeDigest {
    fn scheme(&self) -> &str {
        "Digest"
    }

    fn authorization(&self, challenge: Option<&Challenge>, _: &Authority) -> Option<String> {
        let nonce = challenge?.param("nonce")?;
        Some(format!(
            "Digest username=\"{USER}\", nonce=\"{nonce}\", response=\"{}\"",
            digest_response(nonce)
        ))
    }

    fn fingerprint(&self) -> u64 {
        7
    }
}

struct Options {
    auth: Auth,
    config: Config,
    target: Authority,
    /// The caller adds `User-Agent` and a `Proxy-Authorization` of its own.
    caller_fields: bool,
    tick: bool,
    /// See [`secrets`].
    secrets: Vec<String>,
}

impl Options {
    fn new(f: &Framed<'_>) -> Options {
        let secrets = secrets(f.stream);
        let auth = match f.mode & 3 {
            0 => Auth::None,
            1 => Auth::Preemptive,
            2 => Auth::OnChallenge,
            _ => Auth::Digest,
        };
        let mut config = Config::default();
        if f.bit(2) {
            config.profile = Profile::Compatible;
        }
        if f.bit(3) {
            config.limits = tight_limits();
        }
        config.timeouts.tunnel_setup = Some(Duration::from_secs(30));
        let target = match (f.mode >> 5) & 3 {
            0 => "https://example.com/",
            1 => "https://[2001:db8::1]:8443/",
            2 => "http://10.0.0.1/",
            _ => "https://xn--bcher-kva.example:443/",
        };
        let target = Url::parse(target).unwrap_or_else(|e| panic!("{e}")).authority();
        Options { auth, config, target, caller_fields: f.bit(4), tick: f.bit(7), secrets }
    }

    fn connect(&self) -> Connect {
        let auth = match self.auth {
            Auth::None => None,
            Auth::Preemptive => Some(ProxyAuth::basic(Credentials::new(USER, PASSWORD))),
            Auth::OnChallenge => {
                Some(ProxyAuth::basic(Credentials::new(USER, PASSWORD)).preemptive(false))
            }
            Auth::Digest => Some(ProxyAuth::custom(Arc::new(FakeDigest), false)),
        };
        let mut connect = Connect::new(self.target.clone()).auth(auth);
        if self.caller_fields {
            connect = connect
                .header("User-Agent", "ferry/0.1")
                .header("Proxy-Authorization", CALLER_AUTH);
        }
        connect
    }
}

/// The `connect_reply` fuzz target.
///
/// The mode byte (see `stream.rs`) picks the authentication (bits 0-1: none, Basic preemptive,
/// Basic after a challenge, a challenge-response `Digest`), [`Profile::Compatible`] (bit 2),
/// small limits (bit 3), caller fields including a `Proxy-Authorization` of its own (bit 4),
/// the target (bits 5-6) and an hour passing at the end (bit 7). The stream is the proxy's
/// side, read whole, in the input's cuts and byte by byte; on `Reconnect` the buffered bytes
/// are dropped with the old transport and the rest of the stream is the new one's. Properties:
///
/// - nothing panics; EOF ends every handshake in exactly one `End::Tunnel` or `Error`, and
///   nothing comes out after it but `Closed`;
/// - every transmit is one complete `CONNECT target HTTP/1.1` head (httparse) with `Host`, the
///   caller's fields but never the caller's `Proxy-Authorization`, and at most one
///   `Proxy-Authorization`: the route's, exactly as the authenticator wrote it, on the first
///   CONNECT only when preemptive, on every retry, and never twice the same in a row;
///   CONNECTs with credentials stay within `max_auth_rounds`;
/// - a final head comes out only as a 2xx and is followed at once by `End::Tunnel`, whose
///   leftover is exactly the bytes after that head (found by httparse) in the read that
///   completed it; no data, trailers or other ends ever;
/// - a non-2xx ends in a typed error or a reconnect: `ProxyRefused` for a non-2xx status (its
///   body within `max_proxy_error_body`), `ProxyAuthFailed` only with credentials, counting
///   the CONNECTs that carried them; errors blame the peer or a limit, or the caller only for
///   an answer of the authenticator that is not a valid field value;
/// - `Debug` of every output and of the `Connect`, and `Display` of errors, never show the
///   password, the Basic token or the secret (unless the proxy itself sent those bytes).
pub fn connect_reply(data: &[u8]) {
    let Some(framed) = Framed::read(data) else { return };
    let opts = Options::new(&framed);
    let stream = framed.stream;
    run(&opts, stream, &[]);
    run(&opts, stream, &framed.cuts);
    if stream.len() <= BYTEWISE_MAX {
        run(&opts, stream, &bytewise(stream));
    }
}

/// What one run has seen so far.
#[derive(Default)]
struct State {
    connects: usize,
    with_credentials: usize,
    last_auth: Option<String>,
    ends: usize,
    closed: bool,
    reconnect: bool,
    /// An interim head came out and no final one yet.
    head: Option<u16>,
}

fn run(opts: &Options, stream: &[u8], cuts: &[usize]) {
    let connect = opts.connect();
    let debug = format!("{connect:?}");
    assert!(!debug.contains(PASSWORD) && !debug.contains(SECRET), "{debug}");
    let mut conn: Connection<Duration> = Connection::new(Duration::ZERO, opts.config);
    conn.send_connect(Duration::ZERO, &connect).unwrap_or_else(|e| panic!("send_connect: {e}"));
    let mut st = State::default();
    drain(&mut conn, opts, &mut st, &[]);
    let mut input = BytesMut::new();
    let mut fed = 0;
    for piece in reads(stream, cuts) {
        if st.closed {
            break;
        }
        input.extend_from_slice(piece);
        fed += piece.len();
        // The core takes bytes off the front only: the buffer is the stream's last bytes.
        let before = &stream[fed - input.len()..fed];
        conn.handle_input(Duration::ZERO, &mut input);
        drain(&mut conn, opts, &mut st, before);
        if st.reconnect {
            // The old transport goes, with what it had buffered.
            st.reconnect = false;
            input.clear();
            conn.handle_reconnected(Duration::ZERO)
                .unwrap_or_else(|e| panic!("handle_reconnected after Reconnect: {e}"));
            drain(&mut conn, opts, &mut st, &[]);
        }
        let limits = opts.config.limits;
        assert!(
            conn.retained_bytes() <= limits.max_trailer_bytes + limits.max_proxy_error_body,
            "retained_bytes() = {}",
            conn.retained_bytes()
        );
        if !st.closed {
            assert!(input.len() < limits.max_head_bytes, "{} bytes left unread", input.len());
        }
    }
    if opts.tick {
        conn.handle_timeout(Duration::from_secs(3600));
        drain(&mut conn, opts, &mut st, &[]);
    }
    conn.handle_eof(Duration::ZERO, Eof::Clean);
    drain(&mut conn, opts, &mut st, &[]);
    if st.reconnect {
        // A reconnect asked for by the last byte: the new transport closes at once.
        conn.handle_reconnected(Duration::ZERO)
            .unwrap_or_else(|e| panic!("handle_reconnected after Reconnect: {e}"));
        drain(&mut conn, opts, &mut st, &[]);
        conn.handle_eof(Duration::ZERO, Eof::Clean);
        drain(&mut conn, opts, &mut st, &[]);
    }
    assert_eq!(st.ends, 1, "the handshake did not end in exactly one Tunnel or Error");
}

/// Drains outputs, checking each. `before`: the buffer as it was before the last
/// `handle_input`.
fn drain(conn: &mut Connection<Duration>, opts: &Options, st: &mut State, before: &[u8]) {
    if st.closed {
        let out = conn.poll_output();
        assert!(matches!(out, Output::Closed | Output::HandedOver), "after the end: {out:?}");
        return;
    }
    let mut seen = Vec::new();
    let rest =
        testing::drain(conn, &mut seen, Join::No, |_, out| check_output(opts, st, before, out));
    match rest {
        Rest::NeedInput => {}
        Rest::Reconnect => {
            assert_eq!(st.ends, 0);
            st.reconnect = true;
        }
        Rest::Idle => panic!("a CONNECT went idle"),
        Rest::NeedBody => panic!("a CONNECT asked for a body"),
        Rest::Closed | Rest::HandedOver => {
            st.closed = true;
            let out = conn.poll_output();
            assert!(matches!(out, Output::Closed | Output::HandedOver), "after the end: {out:?}");
        }
    }
}

/// Checks one output against the handshake so far.
fn check_output(opts: &Options, st: &mut State, before: &[u8], out: &Output) {
    if !matches!(out, Output::NeedInput) {
        check_secrets(out, &opts.secrets);
    }
    if st.ends > 0 {
        // A tunnel hands the transport over; an error closes it.
        let want = if st.head.is_some() { Output::HandedOver } else { Output::Closed };
        assert_eq!(out, &want, "after the end");
    }
    match out {
        Output::Transmit(t) => check_connect(opts, st, t),
        Output::Event(Event::Informational(h)) => {
            assert!(st.head.is_none(), "interim head after the final one");
            assert!((100..200).contains(&h.status()) && h.status() != 101, "{}", h.status());
        }
        Output::Event(e) => panic!("a CONNECT delivered {e:?}"),
        Output::End(End::Tunnel { reply, leftover }) => {
            let status = reply.status();
            assert!((200..300).contains(&status), "a tunnel after a {status} to CONNECT");
            st.head = Some(status);
            check_leftover(before, leftover);
            st.ends += 1;
        }
        Output::End(e) => panic!("a CONNECT ended in {e:?}"),
        Output::Error(e) => {
            assert!(st.head.is_none(), "error after the 2xx head: {e}");
            check_error(opts, st, e.kind());
            st.ends += 1;
        }
        Output::Reconnect
        | Output::NeedInput
        | Output::NeedBody
        | Output::Idle
        | Output::HandedOver
        | Output::Closed => {}
    }
}

/// The secrets no output may show: the password, the Basic token and the digest secret, less
/// any the proxy itself sent (then showing its bytes is no leak).
fn secrets(stream: &[u8]) -> Vec<String> {
    let basic = oracle::basic(USER, PASSWORD);
    let token = basic.trim_start_matches("Basic ");
    [PASSWORD, token, SECRET]
        .into_iter()
        .filter(|s| !contains(stream, s.as_bytes()))
        .map(str::to_owned)
        .collect()
}

/// No output shows a secret.
fn check_secrets(out: &Output, secrets: &[String]) {
    let mut shown = format!("{out:?}");
    if let Output::Error(e) = out {
        shown.push_str(&e.to_string());
    }
    for secret in secrets {
        assert!(!shown.contains(secret.as_str()), "{secret:?} shown in {shown}");
    }
}

/// One CONNECT head on the wire.
fn check_connect(opts: &Options, st: &mut State, wire: &[u8]) {
    let mut slots = [httparse::EMPTY_HEADER; 16];
    let mut req = httparse::Request::new(&mut slots);
    let len = match req.parse(wire) {
        Ok(httparse::Status::Complete(len)) => len,
        other => panic!("a transmit is not a request head: {other:?}"),
    };
    assert_eq!(len, wire.len(), "a transmit is more than one head");
    let target = opts.target.to_string();
    assert_eq!(req.method, Some("CONNECT"));
    assert_eq!(req.path, Some(target.as_str()));
    assert_eq!(req.version, Some(1));
    let fields: Vec<(&str, &[u8])> = req.headers.iter().map(|h| (h.name, h.value)).collect();
    assert_eq!(fields.first(), Some(&("Host", target.as_bytes())), "Host first");
    let auths: Vec<&str> = fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, v)| std::str::from_utf8(v).unwrap_or_else(|_| panic!("{v:?}")))
        .collect();
    assert!(auths.len() <= 1, "{} Proxy-Authorization fields", auths.len());
    assert!(!auths.contains(&CALLER_AUTH), "the caller's Proxy-Authorization went out");
    if opts.caller_fields {
        assert!(fields.contains(&("User-Agent", &b"ferry/0.1"[..])), "caller's field lost");
    }
    let auth = auths.first().copied();
    let first = st.connects == 0;
    st.connects += 1;
    match (opts.auth, auth) {
        (Auth::None, a) => assert_eq!(a, None, "credentials without any configured"),
        (Auth::Preemptive, a) => {
            assert!(first, "a second CONNECT with the same Basic credentials");
            assert_eq!(a, Some(oracle::basic(USER, PASSWORD).as_str()));
        }
        (Auth::OnChallenge, a) if first => assert_eq!(a, None, "sent before the challenge"),
        (Auth::OnChallenge, a) => assert_eq!(a, Some(oracle::basic(USER, PASSWORD).as_str())),
        (Auth::Digest, a) if first => assert_eq!(a, None, "sent before the challenge"),
        (Auth::Digest, None) => panic!("a retry without credentials"),
        (Auth::Digest, Some(a)) => {
            let rest = a
                .strip_prefix(&format!("Digest username=\"{USER}\", nonce=\""))
                .unwrap_or_else(|| panic!("{a:?}"));
            let (nonce, response) =
                rest.rsplit_once("\", response=\"").unwrap_or_else(|| panic!("{a:?}"));
            assert_eq!(response, format!("{}\"", digest_response(nonce)), "{a:?}");
        }
    }
    if let Some(a) = auth {
        st.with_credentials += 1;
        assert!(
            st.with_credentials <= usize::from(opts.config.limits.max_auth_rounds),
            "{} CONNECTs with credentials",
            st.with_credentials
        );
        assert_ne!(st.last_auth.as_deref(), Some(a), "the same credentials twice in a row");
        st.last_auth = Some(a.to_owned());
    }
}

/// The leftover is exactly what follows the 2xx head in the buffer of the read that completed
/// it: interim heads, then the 2xx head, then the tunnel.
fn check_leftover(before: &[u8], leftover: &[u8]) {
    let mut at = 0;
    loop {
        let head = oracle::head(&before[at..])
            .unwrap_or_else(|| panic!("httparse finds no head at {at} of the read's buffer"));
        at += head.len;
        if !(100..200).contains(&head.status) {
            assert!((200..300).contains(&head.status), "tunnel after a {}", head.status);
            break;
        }
    }
    assert_eq!(leftover, &before[at..], "the tunnel's leftover");
}

fn check_error(opts: &Options, st: &State, kind: &ErrorKind) {
    let limits = opts.config.limits;
    match kind {
        ErrorKind::ProxyRefused { target, head, body } => {
            let status = &head.status();
            assert_eq!(target, &opts.target, "the error names the tunnel's target");
            assert!(!(200..300).contains(status), "refused with {status}");
            assert!(*status != 407 || opts.auth == Auth::None, "407 with credentials: {kind:?}");
            assert!(body.len() <= limits.max_proxy_error_body, "{} body bytes", body.len());
        }
        ErrorKind::ProxyAuthFailed { target, attempts, head, body } => {
            assert_eq!(target, &opts.target, "the error names the tunnel's target");
            assert_eq!(head.status(), 407, "auth failed on a {}", head.status());
            assert!(body.len() <= limits.max_proxy_error_body, "{} body bytes", body.len());
            assert!(opts.auth != Auth::None, "auth failed without credentials");
            assert_eq!(usize::from(*attempts), st.with_credentials, "attempts");
        }
        ErrorKind::Timeout { .. } => assert!(opts.tick, "a deadline fired with no time passing"),
        ErrorKind::InvalidHeaderValue { name } => {
            // Only the authenticator's answer is unchecked before the core sees it.
            assert!(opts.auth == Auth::Digest && name == "Proxy-Authorization", "{kind:?}");
        }
        k => assert!(matches!(k.blame(), Blame::Peer | Blame::Limit), "{k:?}"),
    }
}
