//! The `Client` over loopback: pool, proxies, redirects, retries, decoding, timeouts,
//! credentials, against ferry-test-support's origin and proxy.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferry_blocking::{Body, Client, ClientBuilder, EnvProxies, Proxy, RedirectError, Timeout};
use ferry_test_support::origin::{GZIP_TEXT, Origin, pattern};
use ferry_test_support::proxy::{Proxy as TestProxy, ProxyOptions};

use crate::{leaf, trusting};

/// A client that ignores the process's proxy variables and trusts the test CA.
fn builder() -> ClientBuilder {
    Client::builder()
        .env(EnvProxies::from_vars(Vec::<(String, String)>::new()))
        .tls(trusting())
        .timeout(Duration::from_secs(20))
}

fn client() -> Client {
    builder().build().unwrap()
}

fn header<'a>(seen: &'a [(String, String)], name: &str) -> Option<&'a str> {
    seen.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

// ---- the pool ---------------------------------------------------------------------------

#[test]
fn a_hundred_sequential_requests_use_one_connection() {
    let origin = Origin::http();
    let client = client();
    for i in 0..100 {
        let r = client.get(&origin.url(&format!("/bytes/{}", i + 1))).send().unwrap();
        assert_eq!(r.new_connection(), i == 0, "request {i}");
        assert_eq!(r.bytes().unwrap(), pattern(i + 1));
    }
    assert_eq!((origin.connections(), origin.requests()), (1, 100));
    assert_eq!(client.connections_opened(), 1);
    assert_eq!(client.idle_connections(), 1);
}

#[test]
fn https_requests_reuse_the_tls_connection() {
    let origin = Origin::https(leaf());
    let client = client();
    for _ in 0..5 {
        let r = client.get(&origin.url("/bytes/10")).send().unwrap();
        assert_eq!(r.text().unwrap(), "abcdefghij");
    }
    assert_eq!(origin.connections(), 1);
}

#[test]
fn an_unread_body_dropped_is_drained_and_the_connection_reused() {
    let origin = Origin::http();
    let client = client();
    drop(client.get(&origin.url("/bytes/5000")).send().unwrap());
    let r = client.get(&origin.url("/bytes/3")).send().unwrap();
    assert!(!r.new_connection());
    assert_eq!(r.text().unwrap(), "abc");
    assert_eq!(origin.connections(), 1);
}

#[test]
fn a_connection_the_server_closes_is_not_reused() {
    let origin = Origin::http();
    let client = client();
    assert_eq!(client.get(&origin.url("/close")).send().unwrap().status(), 200);
    assert_eq!(client.get(&origin.url("/close")).send().unwrap().status(), 200);
    assert_eq!(origin.connections(), 2);
    assert_eq!(client.idle_connections(), 0);
}

#[test]
fn a_fresh_connection_is_opened_and_not_kept() {
    let origin = Origin::http();
    let client = client();
    client.get(&origin.url("/bytes/1")).send().unwrap().bytes().unwrap();
    let r = client.get(&origin.url("/bytes/1")).fresh_connection(true).send().unwrap();
    assert!(r.new_connection());
    r.bytes().unwrap();
    assert_eq!(origin.connections(), 2);
    assert_eq!(client.idle_connections(), 1, "the fresh one was closed, the first kept");
}

#[test]
fn eight_threads_share_a_client_within_the_connection_limit() {
    let origin = Origin::http();
    let client = builder().max_connections_per_host(3).build().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let client = client.clone();
            let url = origin.url(&format!("/bytes/{}", t + 1));
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                for _ in 0..125 {
                    let body = client.get(&url).send().unwrap().bytes().unwrap();
                    assert_eq!(body, pattern(t + 1));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(done.load(Ordering::Relaxed), 1000);
    assert_eq!(origin.requests(), 1000);
    assert!(origin.connections() <= 3, "{} connections", origin.connections());
}

#[test]
fn a_request_past_the_limit_waits_and_times_out_by_name() {
    let origin = Origin::http();
    let client = builder()
        .max_connections_per_host(1)
        .pool_wait_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let held = client.get(&origin.url("/bytes/100000")).send().unwrap();
    let e = client.get(&origin.url("/bytes/1")).send().unwrap_err();
    assert_eq!(e.timeout(), Some(Timeout::PoolWait), "{e}");
    drop(held);
    assert_eq!(client.get(&origin.url("/bytes/1")).send().unwrap().status(), 200);
}

/// A server that answers the first request of each connection, then reads the next one and
/// closes without answering: what a client sees when a keep-alive connection is closed by
/// the server just as the client reuses it.
fn closes_on_second_request() -> Origin {
    Origin::raw(|stream| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        for n in 0.. {
            let mut line = String::new();
            let mut length = 0usize;
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() || n == 1 {
                return;
            }
            let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    })
}

#[test]
fn a_get_on_a_stale_pooled_connection_is_retried_once_on_a_new_one() {
    let origin = closes_on_second_request();
    let client = client();
    assert_eq!(client.get(&origin.url("/")).send().unwrap().text().unwrap(), "ok");
    let r = client.get(&origin.url("/")).send().unwrap();
    assert!(r.new_connection());
    assert_eq!(r.text().unwrap(), "ok");
    assert_eq!(origin.connections(), 2);
}

#[test]
fn a_post_on_a_stale_pooled_connection_is_not_retried() {
    let origin = closes_on_second_request();
    let client = client();
    client.post(&origin.url("/")).body("one").send().unwrap().bytes().unwrap();
    let e = client.post(&origin.url("/")).body("two").send().unwrap_err();
    // The POST went out in full and the connection died before any response byte: the
    // server may have acted on it, so it is not sent again.
    assert!(!e.response_started() && !e.is_retryable(false), "{e:?}");
    assert_eq!(e.phase(), ferry_blocking::Phase::Receive, "{e}");
    assert_eq!(origin.connections(), 1, "no second connection for a POST");
}

// ---- proxies ----------------------------------------------------------------------------

#[test]
fn https_through_an_authenticating_proxy_keeps_each_credential_on_its_side() {
    let origin = Origin::https(leaf());
    let proxy = TestProxy::start(ProxyOptions::with_basic_auth("pu", "ps"));
    let client = builder()
        .proxy(Proxy::parse(&proxy.url_with_credentials("pu", "ps")).unwrap())
        .build()
        .unwrap();
    let r =
        client.get(&origin.url("/basic-auth/ou/os")).basic_auth("ou", Some("os")).send().unwrap();
    assert_eq!(r.proxy_reply().map(|h| h.status()), Some(200));
    assert!(r.timings().tunnel.is_some() && r.timings().origin_tls.is_some());
    assert_eq!(r.text().unwrap(), "authenticated ou\n");
    let at_proxy = proxy.seen();
    assert_eq!(at_proxy.len(), 1);
    assert_eq!(at_proxy[0].method, "CONNECT");
    assert!(header(&at_proxy[0].headers, "authorization").is_none(), "{at_proxy:?}");
    assert!(header(&at_proxy[0].headers, "proxy-authorization").is_some());
    let at_origin = origin.seen();
    assert!(header(&at_origin[0].headers, "proxy-authorization").is_none(), "{at_origin:?}");
}

#[test]
fn a_change_of_proxy_credentials_opens_a_new_connection() {
    let origin = Origin::https(leaf());
    let proxy = TestProxy::start(ProxyOptions::default());
    let client = client();
    for (user, count) in [("a", 1), ("a", 1), ("b", 2)] {
        let p = Proxy::parse(&proxy.url_with_credentials(user, "x")).unwrap();
        let r = client.get(&origin.url("/bytes/2")).proxy(p).send().unwrap();
        r.bytes().unwrap();
        assert_eq!(proxy.tunnels(), count, "after user {user}");
    }
}

#[test]
fn no_proxy_sends_listed_hosts_direct() {
    let origin = Origin::http();
    let proxy = TestProxy::start(ProxyOptions::default());
    let env =
        EnvProxies::from_vars([("HTTP_PROXY", proxy.url()), ("NO_PROXY", "127.0.0.1".into())]);
    let client = builder().env(env).build().unwrap();
    assert_eq!(client.get(&origin.url("/bytes/1")).send().unwrap().status(), 200);
    assert_eq!((proxy.connections(), origin.connections()), (0, 1));
    // Without the exemption the same variable forwards through the proxy.
    let env = EnvProxies::from_vars([("HTTP_PROXY", proxy.url())]);
    let client = builder().env(env).build().unwrap();
    assert_eq!(client.get(&origin.url("/bytes/1")).send().unwrap().status(), 200);
    assert_eq!(proxy.forwarded(), 1);
}

#[test]
fn a_per_request_proxy_overrides_the_client() {
    let origin = Origin::http();
    let proxy = TestProxy::start(ProxyOptions::default());
    let client = client();
    let r = client.get(&origin.url("/echo")).proxy(Proxy::parse(&proxy.url()).unwrap()).send();
    assert!(r.unwrap().text().unwrap().starts_with("GET /echo HTTP/1.1"));
    assert_eq!(proxy.forwarded(), 1);
}

// ---- redirects --------------------------------------------------------------------------

fn redirect_to(origin: &Origin, target: &str, status: u16) -> String {
    origin.url(&format!("/redirect-to?url={}&status={status}", percent(target)))
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'/' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn a_303_turns_a_post_into_a_get_without_its_body() {
    let origin = Origin::http();
    let client = client();
    for status in [301, 302, 303] {
        let r = client
            .post(&redirect_to(&origin, "/echo", status))
            .header("Content-Type", "text/plain")
            .body("payload")
            .send()
            .unwrap();
        assert_eq!(r.redirects().len(), 1);
        let echo = r.text().unwrap();
        assert!(echo.starts_with("GET /echo HTTP/1.1"), "{status}: {echo}");
        assert!(
            !echo.contains("payload") && !echo.to_lowercase().contains("content-type"),
            "{echo}"
        );
    }
}

#[test]
fn a_307_and_a_308_keep_the_method_and_the_body() {
    let origin = Origin::http();
    let client = client();
    for status in [307, 308] {
        let r = client.put(&redirect_to(&origin, "/echo", status)).body("payload").send().unwrap();
        let echo = r.text().unwrap();
        assert!(echo.starts_with("PUT /echo HTTP/1.1") && echo.ends_with("payload"), "{echo}");
    }
}

#[test]
fn a_307_with_a_streamed_body_is_returned_as_it_is() {
    let origin = Origin::http();
    let client = client();
    let body = Body::reader(std::io::Cursor::new(b"stream".to_vec()), None);
    let r = client.post(&redirect_to(&origin, "/echo", 307)).body(body).send().unwrap();
    assert_eq!(r.status(), 307);
    assert!(r.redirects().is_empty());
}

#[test]
fn credentials_are_dropped_when_a_redirect_leaves_the_origin() {
    let first = Origin::http();
    let other = Origin::http();
    let client = client();
    let r = client
        .get(&redirect_to(&first, &other.url("/echo"), 302))
        .basic_auth("u", Some("p"))
        .header("Cookie", "id=1")
        .send()
        .unwrap();
    let echo = r.text().unwrap().to_lowercase();
    assert!(!echo.contains("authorization") && !echo.contains("cookie"), "{echo}");
    // Same origin: they stay.
    let r = client.get(&redirect_to(&first, "/echo", 302)).basic_auth("u", Some("p")).send();
    assert!(r.unwrap().text().unwrap().to_lowercase().contains("authorization: basic"));
}

#[test]
fn an_https_to_http_redirect_is_refused_unless_allowed() {
    let secure = Origin::https(leaf());
    let plain = Origin::http();
    let e = client().get(&redirect_to(&secure, &plain.url("/echo"), 302)).send().unwrap_err();
    assert!(matches!(e.redirect(), Some(RedirectError::Insecure { .. })), "{e}");
    assert_eq!(plain.requests(), 0);
    let allowed = builder().allow_https_to_http(true).build().unwrap();
    let r = allowed.get(&redirect_to(&secure, &plain.url("/echo"), 302)).send().unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn the_redirect_limit_is_a_typed_error_with_the_chain() {
    let origin = Origin::http();
    let client = builder().redirects(3).build().unwrap();
    let e = client.get(&origin.url("/redirect/5")).send().unwrap_err();
    let Some(RedirectError::TooMany { chain }) = e.redirect() else { panic!("{e:?}") };
    assert_eq!(chain.len(), 5, "{chain:?}");
    assert!(chain[0].ends_with("/redirect/5") && chain[4].ends_with("/redirect/1"), "{chain:?}");
    let r = client.get(&origin.url("/redirect/3")).send().unwrap();
    assert_eq!((r.status(), r.redirects().len()), (200, 3));
    assert!(r.url().to_string().ends_with("/echo"));
    let off = builder().redirects(0).build().unwrap();
    assert_eq!(off.get(&origin.url("/redirect/1")).send().unwrap().status(), 302);
}

// ---- bodies -----------------------------------------------------------------------------

#[test]
fn gzip_is_asked_for_and_decoded() {
    let origin = Origin::http();
    let client = client();
    let r = client.get(&origin.url("/gzip")).send().unwrap();
    assert!(r.is_decoded());
    assert_eq!(r.text().unwrap(), GZIP_TEXT);
    let seen = origin.seen();
    assert_eq!(header(&seen[0].headers, "accept-encoding"), Some("gzip, deflate"));
    let mut raw = Vec::new();
    client
        .get(&origin.url("/gzip"))
        .decompress(false)
        .send()
        .unwrap()
        .read_to_end(&mut raw)
        .unwrap();
    assert_eq!(&raw[..2], b"\x1f\x8b", "left coded when not asked for");
}

#[test]
fn a_decompression_bomb_stops_at_the_limit() {
    let origin = Origin::http();
    let limits = ferry_proto::Limits::default().with_max_decoded_body(16);
    let client =
        builder().config(ferry_proto::Config::default().with_limits(limits)).build().unwrap();
    let e = client.get(&origin.url("/gzip")).send().unwrap().bytes().unwrap_err();
    assert!(matches!(e.kind(), ferry_blocking::ErrorKind::Content(_)), "{e:?}");
}

#[test]
fn query_form_and_json_bodies() {
    let origin = Origin::http();
    let client = client();
    let echo = client.get(&origin.url("/echo?a=1")).query(&[("b", "x y")]).send().unwrap();
    assert!(echo.text().unwrap().starts_with("GET /echo?a=1&b=x+y HTTP/1.1"));
    let echo = client.post(&origin.url("/echo")).form(&[("k", "v&w")]).send().unwrap().text();
    let echo = echo.unwrap();
    assert!(
        echo.contains("Content-Type: application/x-www-form-urlencoded")
            && echo.ends_with("k=v%26w")
    );
    let echo = client.post(&origin.url("/echo")).json(&serde_json::json!({"n": 1})).send();
    let echo = echo.unwrap().text().unwrap();
    assert!(
        echo.contains("Content-Type: application/json") && echo.ends_with("{\"n\":1}"),
        "{echo}"
    );
}

#[test]
fn cookies_set_by_a_response_go_back_to_their_host() {
    let origin = Origin::http();
    let client = builder().cookie_store(true).build().unwrap();
    client.get(&origin.url("/set-cookie?a=1&b=2")).send().unwrap().bytes().unwrap();
    let cookies = client.get(&origin.url("/cookies")).send().unwrap().text().unwrap();
    let mut got: Vec<&str> = cookies.trim().split("; ").collect();
    got.sort_unstable();
    assert_eq!(got, ["a=1", "b=2"]);
    let other = Origin::https(leaf());
    let cookies = client.get(&other.url("/cookies")).send().unwrap().text().unwrap();
    assert_eq!(cookies.trim(), "", "localhost is another host than 127.0.0.1");
}

#[test]
fn http_crate_interop() {
    let origin = Origin::http();
    let client = client();
    let request = http::Request::post(origin.url("/echo")).header("X-A", "1").body("b").unwrap();
    let response = client.send_http(request).unwrap().into_http().unwrap();
    assert_eq!(response.status(), 200);
    let mut echo = String::new();
    response.into_body().read_to_string(&mut echo).unwrap();
    assert!(echo.contains("X-A: 1") || echo.contains("x-a: 1"), "{echo}");
}

// ---- timeouts ---------------------------------------------------------------------------

#[test]
fn the_whole_request_budget_is_named() {
    let origin = Origin::http();
    let e = client().get(&origin.url("/slow/3000")).timeout(Duration::from_millis(200)).send();
    assert_eq!(e.unwrap_err().timeout(), Some(Timeout::Request));
}

#[test]
fn the_whole_request_budget_spans_redirects() {
    let origin = Origin::http();
    let e = client()
        .get(&redirect_to(&origin, "/slow/3000", 302))
        .timeout(Duration::from_millis(300))
        .send()
        .unwrap_err();
    assert_eq!(e.timeout(), Some(Timeout::Request), "{e}");
}

#[test]
fn the_read_budget_is_named() {
    let origin = Origin::http();
    let client = builder().read_timeout(Duration::from_millis(200)).build().unwrap();
    let e = client.get(&origin.url("/slow/3000")).send().unwrap_err();
    assert_eq!(e.timeout(), Some(Timeout::ResponseHead), "{e}");
}

/// A server that accepts and never says a byte.
fn silent() -> Origin {
    Origin::raw(|stream| {
        let mut buf = [0; 1024];
        let mut s = stream;
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    })
}

#[test]
fn the_tls_handshake_budget_is_named() {
    let origin = silent();
    let client = builder().connect_timeout(Duration::from_millis(200)).build().unwrap();
    let url = format!("https://localhost:{}/", origin.port());
    let e = client.get(&url).send().unwrap_err();
    assert_eq!(e.timeout(), Some(Timeout::TlsHandshake), "{e}");
}

#[test]
fn the_tunnel_budget_is_named() {
    let proxy = silent();
    let client = builder()
        .proxy(Proxy::parse(&format!("http://127.0.0.1:{}", proxy.port())).unwrap())
        .tunnel_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let e = client.get("https://localhost:1/").send().unwrap_err();
    assert_eq!(e.timeout(), Some(Timeout::Tunnel), "{e}");
    assert!(e.is_proxy());
}

#[test]
fn the_write_budget_is_named() {
    // Accepts and never reads: the upload fills the socket buffers and stalls.
    let origin = Origin::raw(|stream| {
        std::thread::sleep(Duration::from_secs(5));
        drop(stream);
    });
    let client = builder().write_timeout(Duration::from_millis(300)).build().unwrap();
    let body = Body::reader(std::io::repeat(b'x').take(256 << 20), Some(256 << 20));
    let e = client.post(&origin.url("/")).body(body).send().unwrap_err();
    assert_eq!(e.timeout(), Some(Timeout::Write), "{e}");
}

#[test]
fn errors_say_where_they_happened() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let e = client().get(&format!("http://127.0.0.1:{port}/")).send().unwrap_err();
    assert!(e.is_connect() && !e.is_proxy(), "{e}");
    let e = client().get("http://nowhere.invalid/").send().unwrap_err();
    assert_eq!(e.phase(), ferry_blocking::Phase::Resolve, "{e}");
    let proxy = Proxy::parse("http://proxy.invalid:3128").unwrap();
    let e = client().get("http://example.com/").proxy(proxy).send().unwrap_err();
    assert!(e.phase() == ferry_blocking::Phase::Resolve && e.is_proxy(), "{e}");
}

#[test]
fn an_untrusted_certificate_fails_verification() {
    let origin = Origin::https(leaf());
    let client = Client::builder()
        .env(EnvProxies::from_vars(Vec::<(String, String)>::new()))
        .build()
        .unwrap();
    let e = client.get(&origin.url("/")).send().unwrap_err();
    assert!(e.is_tls() && e.phase() == ferry_blocking::Phase::OriginTls, "{e}");
}

#[test]
fn a_client_is_cheap_to_clone_and_shared_across_threads() {
    fn shared<T: Send + Sync + Clone + 'static>() {}
    shared::<Client>();
}

#[test]
fn the_connect_budget_is_named() {
    // A listener whose accept queue is full: further SYNs are dropped, the connect hangs.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    while let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
        fillers.push(s);
        assert!(fillers.len() < 64, "the backlog never filled");
    }
    let client = builder().connect_timeout(Duration::from_millis(200)).build().unwrap();
    let e = client.get(&format!("http://{addr}/")).send().unwrap_err();
    assert_eq!(e.timeout(), Some(Timeout::Connect), "{e}");
    assert!(e.is_connect() && !e.is_proxy());
    let client = builder()
        .proxy(Proxy::parse(&format!("http://{addr}")).unwrap())
        .proxy_connect_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let e = client.get("http://example.test/").send().unwrap_err();
    assert!(e.timeout() == Some(Timeout::Connect) && e.is_proxy(), "{e}");
}

#[test]
fn per_proxy_tls_settings_apply_to_that_proxy_alone() {
    let origin = Origin::http();
    let proxy =
        TestProxy::start(ProxyOptions { tls: Some(leaf().clone()), ..ProxyOptions::default() });
    let url = format!("https://localhost:{}", proxy.port());
    let untrusting = ferry_blocking::TlsConfig::builder().build().unwrap();
    // Proxies in general trust nothing of ours; this one has its own settings.
    let client = builder()
        .proxy_tls(untrusting)
        .proxy_tls_for(&format!("localhost:{}", proxy.port()), trusting())
        .proxy(Proxy::parse(&url).unwrap())
        .build()
        .unwrap();
    assert_eq!(client.get(&origin.url("/bytes/2")).send().unwrap().text().unwrap(), "ab");
    let without = builder()
        .proxy_tls(ferry_blocking::TlsConfig::builder().build().unwrap())
        .proxy(Proxy::parse(&url).unwrap())
        .build()
        .unwrap();
    let e = without.get(&origin.url("/bytes/2")).send().unwrap_err();
    assert!(e.is_tls() && e.phase() == ferry_blocking::Phase::ProxyTls, "{e}");
}

#[test]
fn a_cross_origin_redirect_through_a_tunnel_carries_no_credential_across() {
    let first = Origin::https(leaf());
    let second = Origin::https(leaf());
    let proxy = TestProxy::start(ProxyOptions::with_basic_auth("pu", "ps"));
    let client = builder()
        .proxy(Proxy::parse(&proxy.url_with_credentials("pu", "ps")).unwrap())
        .build()
        .unwrap();
    let target = second.url("/echo");
    let r = client.get(&redirect_to(&first, &target, 302)).basic_auth("ou", Some("os")).send();
    let echo = r.unwrap().text().unwrap().to_lowercase();
    assert!(!echo.contains("authorization"), "{echo}");
    assert_eq!(proxy.tunnels(), 2, "one tunnel per origin");
    for seen in proxy.seen() {
        assert!(header(&seen.headers, "authorization").is_none(), "{seen:?}");
    }
    assert!(header(&first.seen()[0].headers, "authorization").is_some());
    assert!(header(&first.seen()[0].headers, "proxy-authorization").is_none());
}

/// Everything ferry tells `tracing`, as text.
fn traced(run: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, run);
    let bytes = sink.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn tracing_tells_the_story_and_never_a_credential() {
    let origin = Origin::https(leaf());
    let proxy = TestProxy::start(ProxyOptions::with_basic_auth("puser", "psecret"));
    let log = traced(|| {
        let client = builder()
            .proxy(Proxy::parse(&proxy.url_with_credentials("puser", "psecret")).unwrap())
            .build()
            .unwrap();
        let url = origin.url("/echo").replace("https://", "https://ouser:osecret@");
        let r = client.get(&url).header("Cookie", "session=cookiesecret").send().unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().unwrap();
        client.get(&origin.url("/bytes/1")).send().unwrap().bytes().unwrap();
    });
    for needle in [
        "proxy decision",
        "connected",
        "TLS handshake done",
        "tunnel open",
        "request",
        "response",
        "new connection",
        "reused connection",
        "Basic ***",
        "Cookie: ***",
    ] {
        assert!(log.contains(needle), "{needle:?} missing from:\n{log}");
    }
    let secrets = ["psecret", "osecret", "cookiesecret"];
    let encoded = [
        ferry_proto::Credentials::new("puser", "psecret").basic(),
        ferry_proto::Credentials::new("ouser", "osecret").basic(),
    ];
    for s in secrets
        .iter()
        .map(|s| s.to_string())
        .chain(encoded.iter().map(|b| b.trim_start_matches("Basic ").to_owned()))
    {
        assert!(!log.contains(&s), "{s:?} leaked into:\n{log}");
    }
    assert!(!log.contains("RouteKey"), "the pool key (a credential hash) is not shown:\n{log}");
}

#[test]
fn a_head_response_has_no_body_even_when_coded_and_the_connection_stays() {
    let origin = Origin::http();
    let client = client();
    let r = client.head(&origin.url("/gzip")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().unwrap().len(), 0);
    let r = client.get(&origin.url("/status/204")).send().unwrap();
    assert_eq!((r.status(), r.bytes().unwrap().len()), (204, 0));
    assert_eq!(client.get(&origin.url("/gzip")).send().unwrap().text().unwrap(), GZIP_TEXT);
    assert_eq!(origin.connections(), 1);
}

#[test]
fn timings_of_a_new_and_of_a_reused_connection() {
    let origin = Origin::https(leaf());
    let client = client();
    let mut first = client.get(&origin.url("/bytes/1")).send().unwrap();
    std::io::copy(&mut first, &mut std::io::sink()).unwrap();
    let t = first.timings();
    let (connect, tls, byte, total) =
        (t.connect.unwrap(), t.origin_tls.unwrap(), t.first_byte.unwrap(), t.total.unwrap());
    assert!(
        t.resolve.unwrap() <= connect && connect <= tls && tls <= byte && byte <= total,
        "{t:?}"
    );
    assert_eq!((t.proxy_tls, t.tunnel), (None, None));
    let second = client.get(&origin.url("/bytes/1")).send().unwrap();
    let t = second.timings();
    assert_eq!((t.connect, t.origin_tls), (None, None), "no setup on a reused connection");
    assert!(t.first_byte.is_some());
}

#[test]
fn a_shorter_budget_on_a_reused_connection_fires_on_time() {
    // The socket timeout set for the first request's 60 s budget is kept on the pooled
    // connection; the second request's 200 ms would end before it, so it is set anew. A
    // timeout that came too late would find the slow response (after 3 s) instead.
    let origin = Origin::http();
    let client = builder().timeout(Duration::from_secs(60)).build().unwrap();
    assert_eq!(client.get(&origin.url("/bytes/2")).send().unwrap().bytes().unwrap(), pattern(2));
    let e = client
        .get(&origin.url("/slow/3000"))
        .timeout(Duration::from_millis(200))
        .send()
        .unwrap_err();
    assert_eq!(e.timeout(), Some(Timeout::Request), "{e}");
    assert_eq!(origin.connections(), 1, "the second request went on the pooled connection");
}
