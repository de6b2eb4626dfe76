//! The stack without sockets: a client `Stack` against a remote end made of real rustls servers
//! (for an `https://` proxy and for the origin), a scripted proxy and a scripted origin, every
//! byte moved by hand.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::VecDeque;
use std::io::{Read as _, Write as _};
use std::sync::OnceLock;
use std::time::Duration;

use bytes::BytesMut;
use ferry_client::{ErrorKind, Layer, Output, Phase, Plan, Stack, TlsSettings};
use ferry_proto::proxy::Proxy;
use ferry_proto::{Config, End, Event, Request, Route, Url};
use ferry_test_support::certs::{Ca, Leaf};
use ferry_tls::{CertificateProblem, TlsConfig};
use rustls::ServerConnection;

fn ca() -> &'static Ca {
    static CA: OnceLock<Ca> = OnceLock::new();
    CA.get_or_init(|| Ca::new("ferry-client test CA"))
}

fn leaf() -> &'static Leaf {
    static LEAF: OnceLock<Leaf> = OnceLock::new();
    LEAF.get_or_init(|| ca().leaf(&["origin.test", "proxy.test", "127.0.0.1"]))
}

fn settings() -> TlsSettings {
    TlsSettings::both(
        TlsConfig::builder()
            .webpki_roots(false)
            .add_ca_pem(ca().pem().as_bytes())
            .unwrap()
            .build()
            .unwrap(),
    )
}

/// What the scripted proxy answers to each request head it reads, in turn.
#[derive(Clone, Debug)]
enum Reply {
    /// These bytes; the connection stays.
    Send(&'static [u8]),
    /// These bytes, then the connection closes.
    SendAndClose(&'static [u8]),
    /// `200`, then a tunnel; `extra` rides in the same write as the 200.
    Tunnel { extra: &'static [u8] },
}

#[derive(Default)]
struct ScriptedProxy {
    replies: VecDeque<Reply>,
    buf: Vec<u8>,
    heads: Vec<String>,
    open: bool,
}

/// One connection's remote end: [proxy TLS] → [proxy] → [origin TLS] → origin.
struct Remote {
    proxy_tls: Option<ServerConnection>,
    proxy: Option<ScriptedProxy>,
    origin_tls: Option<ServerConnection>,
    origin_buf: Vec<u8>,
    origin_heads: Vec<String>,
    response: &'static [u8],
    closed: bool,
}

fn server(alpn: &[&[u8]]) -> ServerConnection {
    ServerConnection::new(leaf().server_config(alpn)).unwrap()
}

/// Reads every head (up to the blank line) off the front of `buf`.
fn heads(buf: &mut Vec<u8>) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
        out.push(String::from_utf8_lossy(&buf[..end + 4]).into_owned());
        buf.drain(..end + 4);
    }
    out
}

fn tls_in(tls: &mut ServerConnection, data: &[u8]) -> Vec<u8> {
    let mut slice = data;
    while !slice.is_empty() {
        tls.read_tls(&mut slice).unwrap();
        if tls.process_new_packets().is_err() {
            return Vec::new();
        }
    }
    let mut plain = Vec::new();
    let _ = tls.reader().read_to_end(&mut plain);
    plain
}

fn tls_out(tls: &mut ServerConnection, plain: &[u8]) -> Vec<u8> {
    tls.writer().write_all(plain).unwrap();
    let mut wire = Vec::new();
    while tls.wants_write() {
        tls.write_tls(&mut wire).unwrap();
    }
    wire
}

impl Remote {
    /// The client's bytes in; the bytes the remote sends back out.
    fn receive(&mut self, data: &[u8]) -> Vec<u8> {
        let plain = match &mut self.proxy_tls {
            Some(tls) => tls_in(tls, data),
            None => data.to_vec(),
        };
        let mut to_client = Vec::new();
        let mut tunnel = Vec::new();
        match &mut self.proxy {
            Some(p) if !p.open => {
                p.buf.extend_from_slice(&plain);
                for head in heads(&mut p.buf) {
                    p.heads.push(head);
                    match p.replies.pop_front().expect("a reply for every head") {
                        Reply::Send(b) => to_client.extend_from_slice(b),
                        Reply::SendAndClose(b) => {
                            to_client.extend_from_slice(b);
                            self.closed = true;
                        }
                        Reply::Tunnel { extra } => {
                            to_client
                                .extend_from_slice(b"HTTP/1.1 200 Connection established\r\n\r\n");
                            to_client.extend_from_slice(extra);
                            p.open = true;
                            tunnel = std::mem::take(&mut p.buf);
                            break;
                        }
                    }
                }
            }
            _ => tunnel = plain,
        }
        let through_proxy = self.proxy.is_some();
        let open = self.proxy.as_ref().is_none_or(|p| p.open);
        if open && (!tunnel.is_empty() || self.origin_tls.as_ref().is_some_and(|t| t.wants_write()))
        {
            let origin_plain = match &mut self.origin_tls {
                Some(tls) => tls_in(tls, &tunnel),
                None => tunnel,
            };
            self.origin_buf.extend_from_slice(&origin_plain);
            let mut reply = Vec::new();
            for head in heads(&mut self.origin_buf) {
                self.origin_heads.push(head);
                reply.extend_from_slice(self.response);
            }
            let wire = match &mut self.origin_tls {
                Some(tls) => tls_out(tls, &reply),
                None => reply,
            };
            to_client.extend_from_slice(&wire);
        }
        let _ = through_proxy;
        match &mut self.proxy_tls {
            Some(tls) => tls_out(tls, &to_client),
            None => to_client,
        }
    }
}

/// A route, its remote end (fresh for each connection), and the stack.
struct Case {
    stack: Stack<Duration>,
    remote: Remote,
    /// Makes the remote end of the n-th connection (0 first).
    make_remote: Box<dyn Fn(usize) -> Remote>,
    now: Duration,
    seen: Vec<Output>,
    connections: usize,
    /// Ask `poll_ready` before every `poll_output`, as a driver does after a piece of body.
    ready_first: bool,
}

impl Case {
    fn new(
        url: &str,
        proxy: Option<&str>,
        make_remote: impl Fn(usize) -> Remote + 'static,
    ) -> Case {
        Case::with(url, proxy.map(|p| Proxy::parse(p).unwrap()), settings(), make_remote)
    }

    fn with(
        url: &str,
        proxy: Option<Proxy>,
        tls: TlsSettings,
        make_remote: impl Fn(usize) -> Remote + 'static,
    ) -> Case {
        let url = Url::parse(url).unwrap();
        let route = Route::new(&url, proxy);
        let plan = Plan::new(&route, &tls);
        let mut stack = Stack::new(Duration::ZERO, plan, tls, Config::default());
        let now = Duration::ZERO;
        stack.handle_dialing(now);
        stack.handle_connected(now);
        Case {
            stack,
            remote: make_remote(0),
            make_remote: Box::new(make_remote),
            now,
            seen: Vec::new(),
            connections: 1,
            ready_first: false,
        }
    }

    /// Runs until the stack rests (`Idle`, `NeedBody`, an end, an error or `Closed`).
    fn run(&mut self) {
        for _ in 0..200 {
            if self.ready_first {
                if let Some(o) = self.stack.poll_ready() {
                    let rests = matches!(o, Output::Idle | Output::Closed | Output::Error(_));
                    assert!(
                        matches!(o, Output::Event(_) | Output::End(_)) || rests,
                        "poll_ready gave {o:?}"
                    );
                    self.seen.push(o);
                    if rests {
                        return;
                    }
                    continue;
                }
            }
            match self.stack.poll_output() {
                Output::Transmit(bytes) => {
                    let back = self.remote.receive(&bytes);
                    if !back.is_empty() {
                        self.stack.handle_input(self.now, &mut BytesMut::from(&back[..]));
                    }
                    if self.remote.closed {
                        self.stack.handle_eof(self.now);
                    }
                }
                Output::NeedInput => {
                    // Nothing more is coming unless the remote has something queued.
                    let back = self.remote.receive(&[]);
                    if back.is_empty() {
                        return;
                    }
                    self.stack.handle_input(self.now, &mut BytesMut::from(&back[..]));
                }
                Output::Reconnect => {
                    self.remote = (self.make_remote)(self.connections);
                    self.connections += 1;
                    self.stack.handle_dialing(self.now);
                    self.stack.handle_connected(self.now);
                }
                o @ (Output::Idle | Output::NeedBody | Output::Closed) => {
                    self.seen.push(o);
                    return;
                }
                o @ Output::Error(_) => {
                    self.seen.push(o);
                    return;
                }
                o => self.seen.push(o),
            }
        }
        panic!("the stack did not rest: {:?}", self.seen);
    }

    fn get(&mut self, path: &str) {
        let url = Url::parse(&format!("{}{}", self.origin_prefix(), path)).unwrap();
        self.stack.send_request(self.now, &Request::get(url)).unwrap();
        self.run();
    }

    fn origin_prefix(&self) -> String {
        let route = self.stack.plan().route();
        format!("{}://{}", route.scheme(), route.origin())
    }

    fn body(&self) -> Vec<u8> {
        self.seen
            .iter()
            .filter_map(|o| match o {
                Output::Event(Event::Data(d)) => Some(d.to_vec()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn status(&self) -> Option<u16> {
        self.seen.iter().find_map(|o| match o {
            Output::Event(Event::ResponseHead(h)) => Some(h.status()),
            _ => None,
        })
    }

    fn error(&self) -> Option<&ferry_client::Error> {
        self.seen.iter().find_map(|o| match o {
            Output::Error(e) => Some(e),
            _ => None,
        })
    }
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
const AUTH_407: &[u8] =
    b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"ferry\"\r\nContent-Length: 4\r\n\r\ndeny";

fn origin(tls: bool) -> Remote {
    Remote {
        proxy_tls: None,
        proxy: None,
        origin_tls: tls.then(|| server(&[b"http/1.1"])),
        origin_buf: Vec::new(),
        origin_heads: Vec::new(),
        response: OK,
        closed: false,
    }
}

fn via_proxy(proxy_tls: bool, origin_tls: bool, replies: &[Reply]) -> Remote {
    Remote {
        proxy_tls: proxy_tls.then(|| server(&[])),
        proxy: Some(ScriptedProxy {
            replies: replies.iter().cloned().collect(),
            ..ScriptedProxy::default()
        }),
        ..origin(origin_tls)
    }
}

#[test]
fn plans_list_the_layers_of_each_route() {
    let names = |url: &str, proxy: Option<&str>| -> Vec<String> {
        let url = Url::parse(url).unwrap();
        let route = Route::new(&url, proxy.map(|p| Proxy::parse(p).unwrap()));
        let plan = Plan::new(&route, &settings());
        let mut v = vec![format!("dial {}", plan.dial())];
        v.extend(plan.layers().iter().map(|l| match l {
            Layer::Tls { server, peer } => format!("tls {peer:?} {server}"),
            Layer::Connect(c) => format!("connect {}", c.target()),
            Layer::Http(form) => format!("http {form:?}"),
        }));
        v
    };
    let cases: [(&str, Option<&str>, &[&str]); 6] = [
        ("http://origin.test/", None, &["dial origin.test:80", "http Origin"]),
        (
            "https://origin.test/",
            None,
            &["dial origin.test:443", "tls Origin origin.test", "http Origin"],
        ),
        (
            "http://origin.test/",
            Some("http://proxy.test:3128"),
            &["dial proxy.test:3128", "http Forwarded"],
        ),
        (
            "http://origin.test/",
            Some("https://proxy.test:3129"),
            &["dial proxy.test:3129", "tls Proxy proxy.test", "http Forwarded"],
        ),
        (
            "https://origin.test:8443/",
            Some("http://proxy.test:3128"),
            &[
                "dial proxy.test:3128",
                "connect origin.test:8443",
                "tls Origin origin.test",
                "http Origin",
            ],
        ),
        (
            "https://[::1]:8443/",
            Some("https://127.0.0.1:3129"),
            &[
                "dial 127.0.0.1:3129",
                "tls Proxy 127.0.0.1",
                "connect [::1]:8443",
                "tls Origin ::1",
                "http Origin",
            ],
        ),
    ];
    for (url, proxy, expected) in cases {
        assert_eq!(names(url, proxy), expected, "{url} via {proxy:?}");
    }
}

#[test]
fn plain_http_direct() {
    let mut c = Case::new("http://origin.test/", None, |_| origin(false));
    c.get("/a");
    assert_eq!((c.status(), c.body()), (Some(200), b"hello".to_vec()));
    assert!(matches!(c.seen.last(), Some(Output::Idle)), "{:?}", c.seen);
    assert!(c.remote.origin_heads[0].starts_with("GET /a HTTP/1.1\r\nHost: origin.test\r\n"));
}

#[test]
fn poll_ready_gives_what_poll_output_would_on_every_route() {
    type MakeRemote = fn(usize) -> Remote;
    let routes: [(&str, Option<&str>, MakeRemote); 4] = [
        ("http://origin.test/", None, |_| origin(false)),
        ("https://origin.test/", None, |_| origin(true)),
        ("https://origin.test:8443/", Some("http://proxy.test:3128"), |_| {
            via_proxy(false, true, &[Reply::Tunnel { extra: b"" }])
        }),
        ("https://origin.test:8443/", Some("https://proxy.test:3129"), |_| {
            via_proxy(true, true, &[Reply::Tunnel { extra: b"" }])
        }),
    ];
    for (url, proxy, remote) in routes {
        let mut seen = Vec::new();
        for ready_first in [false, true] {
            let mut c = Case::new(url, proxy, remote);
            c.ready_first = ready_first;
            c.get("/1");
            c.get("/2");
            assert_eq!(c.body(), b"hellohello", "{url} via {proxy:?}");
            assert_eq!(c.remote.origin_heads.len(), 2);
            seen.push(format!("{:?}", c.seen));
        }
        assert_eq!(seen[0], seen[1], "{url} via {proxy:?}");
    }
}

#[test]
fn poll_ready_leaves_a_transmit_and_a_wait_to_poll_output() {
    let mut c = Case::new("http://origin.test/", None, |_| origin(false));
    let url = Url::parse("http://origin.test/a").unwrap();
    c.stack.send_request(c.now, &Request::get(url)).unwrap();
    // The request's bytes come first: not for the user, and not lost.
    assert!(c.stack.poll_ready().is_none());
    let Output::Transmit(head) = c.stack.poll_output() else { panic!("the request first") };
    assert!(head.starts_with(b"GET /a HTTP/1.1\r\n"));
    // Waiting for the response: nothing ready, and `poll_output` still says so.
    assert!(c.stack.poll_ready().is_none());
    assert!(matches!(c.stack.poll_output(), Output::NeedInput));
    let mut input = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..]);
    c.stack.handle_input(c.now, &mut input);
    let ready: Vec<String> =
        std::iter::from_fn(|| c.stack.poll_ready()).take(4).map(|o| format!("{o:?}")).collect();
    assert_eq!(ready.len(), 4, "{ready:?}");
    assert!(ready[0].contains("ResponseHead") && ready[1].contains("Data"), "{ready:?}");
    assert!(ready[2].starts_with("End(") && ready[3] == "Idle", "{ready:?}");
    // Over TLS the layers must settle first: nothing is taken past them.
    let mut c = Case::new("https://origin.test/", None, |_| origin(true));
    assert!(c.stack.poll_ready().is_none(), "the handshake is the stack's to drive");
    c.get("/1");
    assert_eq!(c.body(), b"hello");
}

#[test]
fn https_direct_then_reuse() {
    let mut c = Case::new("https://origin.test/", None, |_| origin(true));
    c.get("/1");
    c.get("/2");
    assert_eq!(c.body(), b"hellohello");
    assert_eq!(c.remote.origin_heads.len(), 2);
    assert_eq!(c.connections, 1);
    assert_eq!(c.stack.phase(), Phase::Send, "idle again");
}

#[test]
fn https_through_a_connect_tunnel() {
    let mut c = Case::new("https://origin.test:8443/", Some("http://proxy.test:3128"), |_| {
        via_proxy(false, true, &[Reply::Tunnel { extra: b"" }])
    });
    c.get("/t");
    assert_eq!((c.status(), c.body()), (Some(200), b"hello".to_vec()));
    let proxy = c.remote.proxy.as_ref().unwrap();
    assert!(
        proxy.heads[0]
            .starts_with("CONNECT origin.test:8443 HTTP/1.1\r\nHost: origin.test:8443\r\n")
    );
    assert_eq!(c.stack.tunnel_reply().map(|h| h.status()), Some(200));
    assert!(c.remote.origin_heads[0].starts_with("GET /t HTTP/1.1\r\n"));
}

#[test]
fn tls_inside_tls_through_an_https_proxy() {
    let mut c = Case::new("https://origin.test:8443/", Some("https://proxy.test:3129"), |_| {
        via_proxy(true, true, &[Reply::Tunnel { extra: b"" }])
    });
    c.get("/in");
    assert_eq!((c.status(), c.body()), (Some(200), b"hello".to_vec()));
    assert_eq!(c.remote.proxy_tls.as_ref().unwrap().server_name(), Some("proxy.test"));
    assert_eq!(c.remote.origin_tls.as_ref().unwrap().server_name(), Some("origin.test"));
}

#[test]
fn plain_http_forwarded_through_an_https_proxy_carries_the_credentials_to_the_proxy_only() {
    let mut c =
        Case::new("http://origin.test/f", Some("https://user:pa%40ss@proxy.test:3129"), |_| {
            Remote { response: OK, ..via_proxy(true, false, &[Reply::Send(OK)]) }
        });
    c.get("/f");
    assert_eq!(c.body(), b"hello");
    let head = &c.remote.proxy.as_ref().unwrap().heads[0];
    assert!(head.starts_with("GET http://origin.test/f HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("Proxy-Authorization: Basic dXNlcjpwYUBzcw==\r\n"), "{head}");
}

fn lazy_proxy() -> Proxy {
    let auth = ferry_proto::ProxyAuth::basic(ferry_proto::Credentials::new("user", "p@ss:w%rd"))
        .preemptive(false);
    Proxy::parse("http://proxy.test:3128").unwrap().with_auth(auth)
}

#[test]
fn a_407_then_200_on_the_same_connection() {
    let mut c = Case::with("https://origin.test:8443/", Some(lazy_proxy()), settings(), |_| {
        via_proxy(false, true, &[Reply::Send(AUTH_407), Reply::Tunnel { extra: b"" }])
    });
    c.get("/");
    let heads = &c.remote.proxy.as_ref().unwrap().heads;
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(!heads[0].contains("Proxy-Authorization"), "not preemptive: {}", heads[0]);
    // user:p@ss:w%rd, as Basic sends it (RFC 7617).
    assert!(
        heads[1].contains("Proxy-Authorization: Basic dXNlcjpwQHNzOnclcmQ=\r\n"),
        "{}",
        heads[1]
    );
    assert_eq!(c.body(), b"hello");
    assert_eq!(c.connections, 1);
    assert!(c.remote.origin_heads.iter().all(|h| !h.contains("Proxy-Authorization")));
}

#[test]
fn preemptive_credentials_refused_by_a_407_fail_without_repeating_them() {
    let mut c =
        Case::new("https://origin.test:8443/", Some("http://user:pw@proxy.test:3128"), |_| {
            via_proxy(false, true, &[Reply::Send(AUTH_407)])
        });
    c.get("/");
    assert_eq!(c.remote.proxy.as_ref().unwrap().heads.len(), 1);
    let err = c.error().expect("refused");
    assert_eq!((err.phase(), err.status()), (Phase::Tunnel, Some(407)), "{err}");
}

#[test]
fn a_proxy_that_closes_after_its_407_is_dialled_again() {
    let closing_407: &[u8] =
        b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n\r\n";
    let mut c = Case::with("https://origin.test:8443/", Some(lazy_proxy()), settings(), move |n| {
        let reply =
            if n == 0 { Reply::SendAndClose(closing_407) } else { Reply::Tunnel { extra: b"" } };
        via_proxy(false, true, &[reply])
    });
    c.get("/");
    // The 407's body has no framing: the core asks for a new connection, the stack rebuilds
    // the layers below the CONNECT, and the handshake goes on with credentials.
    assert_eq!(c.connections, 2);
    assert!(c.remote.proxy.as_ref().unwrap().heads[0].contains("Proxy-Authorization: Basic "));
    assert_eq!(c.body(), b"hello");
}

#[test]
fn a_refused_connect_carries_the_status_and_phase() {
    let mut c = Case::new("https://origin.test:8443/", Some("http://proxy.test:3128"), |_| {
        via_proxy(
            false,
            true,
            &[Reply::Send(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno")],
        )
    });
    c.get("/");
    let err = c.error().expect("refused");
    assert_eq!((err.phase(), err.status()), (Phase::Tunnel, Some(403)));
    assert!(c.remote.origin_heads.is_empty());
}

#[test]
fn bytes_with_the_proxys_200_belong_to_the_origins_tls() {
    // A proxy that writes plain HTTP right behind its 200: the bytes reach the origin's TLS
    // layer (which names plain HTTP), not the HTTP machine.
    let mut c = Case::new("https://origin.test:8443/", Some("http://proxy.test:3128"), |_| {
        via_proxy(false, true, &[Reply::Tunnel { extra: b"HTTP/1.1 200 OK\r\n\r\n" }])
    });
    c.get("/");
    let err = c.error().expect("TLS refuses");
    assert_eq!(err.phase(), Phase::OriginTls);
    assert_eq!(err.tls().map(|e| e.kind().clone()), Some(ferry_tls::ErrorKind::PlainHttp));
}

#[test]
fn bytes_with_the_proxys_200_reach_http_in_a_plain_tunnel() {
    let mut url = Url::parse("http://origin.test:8080/").unwrap();
    url = url.clone();
    let proxy = Proxy::parse("http://proxy.test:3128")
        .unwrap()
        .with_mode(ferry_proto::proxy::ProxyMode::Tunnel);
    let route = Route::new(&url, Some(proxy));
    let plan = Plan::new(&route, &settings());
    let mut stack: Stack<Duration> =
        Stack::new(Duration::ZERO, plan, settings(), Config::default());
    stack.handle_dialing(Duration::ZERO);
    stack.handle_connected(Duration::ZERO);
    stack.send_request(Duration::ZERO, &Request::get(url)).unwrap();
    let Output::Transmit(connect) = stack.poll_output() else { panic!() };
    assert!(connect.starts_with(b"CONNECT origin.test:8080 HTTP/1.1\r\n"));
    // The reply and the origin's whole response in one read.
    let mut input = BytesMut::from(&b"HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..]);
    stack.handle_input(Duration::ZERO, &mut input);
    let mut seen = Vec::new();
    loop {
        match stack.poll_output() {
            Output::Transmit(t) => {
                seen.push(format!("transmit {}", String::from_utf8_lossy(&t[..14])))
            }
            Output::Event(Event::ResponseHead(h)) => seen.push(format!("head {}", h.status())),
            Output::Event(Event::Data(d)) => {
                seen.push(format!("data {}", String::from_utf8_lossy(&d)))
            }
            Output::End(End::Done { reusable }) => seen.push(format!("done {reusable}")),
            Output::Idle => break,
            other => panic!("{other:?} after {seen:?}"),
        }
    }
    assert_eq!(seen, ["transmit GET / HTTP/1.1", "head 200", "data hi", "done true"]);
}

#[test]
fn certificate_failures_name_the_layer() {
    // The proxy's certificate is fine; the origin's is not trusted (Mozilla's roots only for
    // origins).
    let tls =
        TlsSettings { proxy: settings().proxy, origin: TlsConfig::builder().build().unwrap() };
    let mut c = Case::with(
        "https://origin.test:8443/",
        Some(Proxy::parse("https://proxy.test:3129").unwrap()),
        tls,
        |_| via_proxy(true, true, &[Reply::Tunnel { extra: b"" }]),
    );
    c.get("/");
    let err = c.error().expect("refused");
    assert_eq!(err.phase(), Phase::OriginTls, "{err}");
    assert!(err.is_tls());
    assert_eq!(
        err.tls().and_then(ferry_tls::Error::certificate_problem),
        Some(CertificateProblem::UnknownIssuer)
    );
    // And the other way round: the proxy's.
    let tls =
        TlsSettings { proxy: TlsConfig::builder().build().unwrap(), origin: settings().origin };
    let mut c = Case::with(
        "https://origin.test:8443/",
        Some(Proxy::parse("https://proxy.test:3129").unwrap()),
        tls,
        |_| via_proxy(true, true, &[Reply::Tunnel { extra: b"" }]),
    );
    c.get("/");
    assert_eq!(c.error().map(ferry_client::Error::phase), Some(Phase::ProxyTls));
}

#[test]
fn deadlines_are_the_stacks_minimum_and_name_their_phase() {
    let url = Url::parse("https://origin.test/").unwrap();
    let plan = Plan::new(&Route::new(&url, None), &settings());
    let mut stack: Stack<Duration> =
        Stack::new(Duration::ZERO, plan, settings(), Config::default());
    stack.handle_dialing(Duration::from_secs(1));
    assert_eq!(stack.poll_timeout(), Some(Duration::from_secs(31)), "connect: 30 s by default");
    stack.handle_timeout(Duration::from_secs(30));
    assert!(matches!(stack.poll_output(), Output::NeedInput), "early: nothing");
    stack.handle_timeout(Duration::from_secs(31));
    let Output::Error(e) = stack.poll_output() else { panic!() };
    assert_eq!((e.phase(), e.is_timeout(), e.is_connect()), (Phase::Connect, true, true));
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Timeout(
                ferry_client::Timeout::Connect | ferry_client::Timeout::TlsHandshake
            )
        ),
        "{e:?}"
    );
    // The handshake's deadline runs from the connect.
    let plan = Plan::new(&Route::new(&url, None), &settings());
    let mut stack: Stack<Duration> =
        Stack::new(Duration::ZERO, plan, settings(), Config::default());
    stack.handle_dialing(Duration::ZERO);
    stack.handle_connected(Duration::from_secs(2));
    assert_eq!(stack.poll_timeout(), Some(Duration::from_secs(32)));
    stack.handle_timeout(Duration::from_secs(32));
    let Output::Error(e) = stack.poll_output() else { panic!() };
    assert_eq!((e.phase(), e.is_timeout()), (Phase::OriginTls, true));
}

#[test]
fn a_tls_failure_in_the_middle_of_a_body_is_not_retryable() {
    const PARTIAL: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello";
    let mut case =
        Case::new("https://origin.test/", None, |_| Remote { response: PARTIAL, ..origin(true) });
    case.get("/");
    assert_eq!((case.status(), case.body()), (Some(200), b"hello".to_vec()));
    // A record that does not decrypt: the TLS layer fails, after response bytes arrived.
    let mut garbage = BytesMut::from(&b"\x17\x03\x03\x00\x10abcdefghijklmnop"[..]);
    case.stack.handle_input(case.now, &mut garbage);
    case.run();
    let e = case.error().expect("a TLS error");
    assert!(e.is_tls(), "{e:?}");
    assert!(e.response_started(), "{e:?}");
    assert!(!e.is_retryable(true), "a GET that got part of its response is not sent again");
    // Before any response byte the same failure is retryable for an idempotent request.
    let mut case = Case::new("https://origin.test/", None, |_| origin(true));
    case.run();
    let url = Url::parse("https://origin.test/").unwrap();
    case.stack.send_request(case.now, &Request::get(url)).unwrap();
    let mut garbage = BytesMut::from(&b"\x17\x03\x03\x00\x10abcdefghijklmnop"[..]);
    case.stack.handle_input(case.now, &mut garbage);
    case.run();
    let e = case.error().expect("a TLS error");
    assert!(!e.response_started() && e.is_retryable(true), "{e:?}");
}

// ---- the pull path: body bytes straight into the caller's buffer ---------------------------

const BIG_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";

fn big_body() -> Vec<u8> {
    (0..100_000u32).map(|i| (i % 251) as u8).collect()
}

/// The remote's head went through the usual path; the body, as the remote's layers wrap it,
/// is read by `Stack::read_body` from a reader over its bytes, into a 7000-byte buffer.
fn pulled(mut c: Case, wire: Vec<u8>) -> (Case, Vec<u8>) {
    let mut transport = std::io::Cursor::new(wire);
    let mut out = vec![0u8; 7000];
    let mut body = Vec::new();
    while let Some(n) =
        c.stack.read_body(c.now, &mut out, &BytesMut::new(), &mut transport).unwrap()
    {
        body.extend_from_slice(&out[..n]);
    }
    (c, body)
}

/// `plain` as the remote's layers send it, in pieces rustls takes whole.
fn wrap(remote: &mut Remote, plain: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    for piece in plain.chunks(16 * 1024) {
        let inner = match &mut remote.origin_tls {
            Some(tls) => tls_out(tls, piece),
            None => piece.to_vec(),
        };
        for piece in inner.chunks(16 * 1024) {
            match &mut remote.proxy_tls {
                Some(tls) => wire.extend_from_slice(&tls_out(tls, piece)),
                None => wire.extend_from_slice(piece),
            }
        }
    }
    wire
}

#[test]
fn a_body_is_pulled_straight_through_every_route() {
    type Route = (&'static str, Option<&'static str>, fn(usize) -> Remote);
    let routes: [Route; 4] = [
        ("http://origin.test/", None, |_| Remote { response: BIG_HEAD, ..origin(false) }),
        ("https://origin.test/", None, |_| Remote { response: BIG_HEAD, ..origin(true) }),
        ("https://origin.test/", Some("http://proxy.test:3128"), |_| Remote {
            response: BIG_HEAD,
            ..via_proxy(false, true, &[Reply::Tunnel { extra: b"" }])
        }),
        ("https://origin.test/", Some("https://proxy.test:3129"), |_| Remote {
            response: BIG_HEAD,
            ..via_proxy(true, true, &[Reply::Tunnel { extra: b"" }])
        }),
    ];
    for (url, proxy, remote) in routes {
        let mut c = Case::new(url, proxy, remote);
        c.get("/big");
        assert_eq!(c.status(), Some(200), "{url} {proxy:?}");
        let wire = wrap(&mut c.remote, &big_body());
        let (mut c, body) = pulled(c, wire);
        assert!(body == big_body(), "{url} {proxy:?}: {} bytes", body.len());
        // Every byte came straight; the end and the keep-alive decision follow as ever.
        assert!(c.body().is_empty());
        assert!(matches!(c.stack.poll_output(), Output::End(End::Done { reusable: true })));
        assert!(matches!(c.stack.poll_output(), Output::Idle));
        // And the connection carries the next exchange.
        c.remote.response = OK;
        c.seen.clear();
        c.get("/next");
        assert_eq!(c.body(), b"hello", "{url} {proxy:?}");
    }
}

#[test]
fn a_pull_cut_short_reports_the_truncation() {
    for tls in [false, true] {
        let mut c = Case::new(
            if tls { "https://origin.test/" } else { "http://origin.test/" },
            None,
            move |_| Remote { response: BIG_HEAD, ..origin(tls) },
        );
        c.get("/big");
        let mut wire = wrap(&mut c.remote, &big_body()[..50_000]);
        // Over TLS the end comes without close_notify, and inside a record.
        wire.truncate(wire.len() - usize::from(tls) * 10);
        let (mut c, body) = pulled(c, wire);
        assert!(body.len() < 50_000 + 1, "tls {tls}");
        c.run();
        let err = c.error().expect("an error");
        let http = err.http().map(|e| e.kind().clone());
        let eof =
            ferry_proto::ErrorKind::UnexpectedEof { expected: ferry_proto::Expected::ResponseBody };
        assert_eq!(http, Some(eof), "tls {tls}: {err}");
    }
}

/// A transport with nothing to give yet.
struct Stalled;

impl std::io::Read for Stalled {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::WouldBlock.into())
    }
}

#[test]
fn a_transport_that_would_block_is_the_callers() {
    for tls in [false, true] {
        let url = if tls { "https://origin.test/" } else { "http://origin.test/" };
        let mut c = Case::new(url, None, move |_| Remote { response: BIG_HEAD, ..origin(tls) });
        c.get("/big");
        let mut out = [0u8; 8192];
        let err = c.stack.read_body(c.now, &mut out, &BytesMut::new(), &mut Stalled).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
        assert!(!c.stack.is_closed());
        // A small buffer with much body to come takes the usual path on a plain route (one
        // big read, copies out of it); over TLS it is served from rustls's plaintext.
        let small = c.stack.read_body(c.now, &mut [0u8; 100], &BytesMut::new(), &mut Stalled);
        assert_eq!(small.is_err(), tls, "tls {tls}");
        // Nothing is pulled while the driver's buffer holds bytes, or before a body.
        let held = BytesMut::from(&b"x"[..]);
        assert!(c.stack.read_body(c.now, &mut out, &held, &mut Stalled).unwrap().is_none());
    }
    let mut c = Case::new("http://origin.test/", None, |_| origin(false));
    c.get("/small");
    let mut out = [0u8; 100];
    let none = c.stack.read_body(c.now, &mut out, &BytesMut::new(), &mut Stalled).unwrap();
    assert!(none.is_none());
}

/// A chunked body on a plain route, read as a driver does: `read_body` into a buffer of
/// `buf` bytes while it can, else the usual path with reads of at most 5000 bytes. The body,
/// and how much of it came as `Event::Data` (not straight).
fn chunked_download(wire: &[u8], buf: usize) -> (Vec<u8>, usize, End) {
    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut c =
        Case::new("http://origin.test/", None, |_| Remote { response: HEAD, ..origin(false) });
    c.get("/chunked");
    let mut transport = std::io::Cursor::new(wire.to_vec());
    let mut out = vec![0u8; buf];
    let (mut body, mut pieces) = (Vec::new(), 0);
    loop {
        if let Some(n) =
            c.stack.read_body(c.now, &mut out, &BytesMut::new(), &mut transport).unwrap()
        {
            body.extend_from_slice(&out[..n]);
            continue;
        }
        match c.stack.poll_output() {
            Output::Event(Event::Data(d)) => {
                pieces += d.len();
                body.extend_from_slice(&d);
            }
            Output::NeedInput => {
                let mut piece = vec![0u8; 5000];
                let n = transport.read(&mut piece).unwrap();
                assert!(n > 0, "the body ended early: {} bytes", body.len());
                c.stack.handle_input(c.now, &mut BytesMut::from(&piece[..n]));
            }
            Output::End(end) => return (body, pieces, end),
            other => panic!("{other:?}"),
        }
    }
}

fn chunks(body: &[u8], sizes: &[usize], line: impl Fn(usize) -> String) -> Vec<u8> {
    let mut wire = Vec::new();
    let mut rest = body;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let n = size.min(rest.len());
        wire.extend_from_slice(line(n).as_bytes());
        wire.extend_from_slice(&rest[..n]);
        wire.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    wire
}

#[test]
fn chunks_are_read_straight_past_their_framing() {
    let body: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let lower = |n: usize| format!("{n:x}\r\n");
    for (sizes, buf) in [(&[1000][..], 7000), (&[16384][..], 65536), (&[3000][..], 5000)] {
        let (got, pieces, end) = chunked_download(&chunks(&body, sizes, lower), buf);
        assert!(got == body, "chunks of {sizes:?} into {buf}");
        assert_eq!(end, End::Done { reusable: true });
        // Uniform chunks: past the first ones, the data came straight.
        assert!(pieces < body.len() / 4, "chunks of {sizes:?} into {buf}: {pieces} as pieces");
    }
    // Chunks too small to be worth a read of their own go the usual way, many per read.
    let (got, pieces, _) = chunked_download(&chunks(&body[..20_000], &[7], lower), 65536);
    assert!(got == body[..20_000]);
    assert_eq!(pieces, 20_000);
    // Shapes the guess misses (sizes that change, upper case, extensions) read the same.
    type Shape = (&'static [usize], fn(usize) -> String);
    let shapes: [Shape; 3] = [
        (&[1000, 37, 5000, 1, 2048], |n| format!("{n:x}\r\n")),
        (&[2730], |n| format!("{n:X}\r\n")),
        (&[1500], |n| format!("{n:x};ext=1\r\n")),
    ];
    for (sizes, line) in shapes {
        for buf in [1, 100, 7000, 65536] {
            let body = &body[..100_000];
            let (got, _, end) = chunked_download(&chunks(body, sizes, line), buf);
            assert!(got == body, "chunks of {sizes:?} into {buf}");
            assert_eq!(end, End::Done { reusable: true });
        }
    }
}

#[test]
fn an_idle_connection_is_probed_unless_the_peer_just_spoke_and_a_stale_one_would_be_retried() {
    let url = Url::parse("http://origin.test/").unwrap();
    let plan = Plan::new(&Route::direct(&url), &settings());
    let mut stack: Stack<Duration> =
        Stack::new(Duration::ZERO, plan, settings(), Config::default());
    stack.handle_dialing(Duration::ZERO);
    stack.handle_connected(Duration::ZERO);
    let ms = Duration::from_millis;
    assert!(stack.needs_probe(ms(0), true), "the peer never spoke");
    stack.send_request(ms(0), &Request::get(url)).unwrap();
    let mut response = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..]);
    stack.handle_input(ms(10), &mut response);
    while !matches!(stack.poll_output(), Output::Idle) {}
    // (instant, retryable) → probe?
    let cases = [
        (ms(10), true, false),
        (ms(10) + Duration::from_micros(999), true, false),
        (ms(11), true, true),
        (ms(500), true, true),
        (ms(10), false, true),
        (ms(500), false, true),
    ];
    for (now, retryable, probe) in cases {
        assert_eq!(stack.needs_probe(now, retryable), probe, "{now:?} retryable: {retryable}");
    }
}
