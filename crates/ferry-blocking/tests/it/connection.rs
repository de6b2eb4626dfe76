//! `Connection` against the in-process origin and proxy.

use std::io::{Read as _, Write as _};
use std::time::Duration;

use ferry_blocking::{Body, Connection, Phase, Proxy, Scheme, TlsConfig};
use ferry_test_support::origin::{Origin, pattern};
use ferry_test_support::proxy::{Proxy as TestProxy, ProxyOptions};
use ferry_tls::CertificateProblem;

use crate::{ca, connect, get, leaf, trusting};

fn header<'a>(seen: &'a ferry_test_support::SeenRequest, name: &str) -> Option<&'a str> {
    seen.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

#[test]
fn https_direct() {
    let origin = Origin::https(leaf());
    let mut conn = connect(Scheme::Https, origin.port(), None);
    assert_eq!(get(&mut conn, "/bytes/5"), (200, "abcde".into()));
    assert_eq!(origin.seen()[0].target, "/bytes/5");
    assert_eq!(
        header(&origin.seen()[0], "host"),
        Some(format!("localhost:{}", origin.port()).as_str())
    );
}

#[test]
fn a_hundred_requests_on_one_connection_open_one_tcp_connection() {
    let origin = Origin::https(leaf());
    let mut conn = connect(Scheme::Https, origin.port(), None);
    for i in 0..100 {
        let (status, body) = get(&mut conn, &format!("/bytes/{}", i % 7));
        assert_eq!((status, body.len()), (200, i % 7), "request {i}");
    }
    assert_eq!((origin.connections(), origin.requests()), (1, 100));
}

#[test]
fn plain_http_through_a_proxy_in_absolute_form() {
    let origin = Origin::http();
    let proxy = TestProxy::start(ProxyOptions::default());
    let mut conn = connect(Scheme::Http, origin.port(), Some(&proxy.url()));
    assert_eq!(get(&mut conn, "/bytes/3"), (200, "abc".into()));
    assert_eq!(proxy.seen()[0].target, format!("http://127.0.0.1:{}/bytes/3", origin.port()));
    assert_eq!((proxy.forwarded(), proxy.connects()), (1, 0));
}

#[test]
fn https_through_connect_with_credentials_that_need_encoding() {
    let origin = Origin::https(leaf());
    let (user, pass) = ("us@r", "p:ss%w@rd");
    let proxy = TestProxy::start(ProxyOptions::with_basic_auth(user, pass));
    let mut conn =
        connect(Scheme::Https, origin.port(), Some(&proxy.url_with_credentials(user, pass)));
    conn.request("GET", "/echo", "", &[("Authorization", "Bearer origin-secret")]).unwrap();
    let mut response = conn.response().unwrap();
    let mut body = String::new();
    response.read_to_string(&mut body).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.proxy_reply().map(ferry_proto::ResponseHead::status), Some(200));
    drop(response);
    assert_eq!((proxy.connects(), proxy.tunnels(), proxy.auth_failures()), (1, 1, 0));
    // Each side saw only its own credentials.
    let connect = &proxy.seen()[0];
    assert_eq!(connect.method, "CONNECT");
    assert!(header(connect, "proxy-authorization").is_some());
    assert_eq!(header(connect, "authorization"), None);
    let seen = &origin.seen()[0];
    assert_eq!(header(seen, "authorization"), Some("Bearer origin-secret"));
    assert_eq!(header(seen, "proxy-authorization"), None);
}

#[test]
fn tls_inside_tls_through_an_https_proxy() {
    let origin = Origin::https(leaf());
    let proxy =
        TestProxy::start(ProxyOptions { tls: Some(leaf().clone()), ..ProxyOptions::default() });
    assert!(proxy.url().starts_with("https://localhost:"));
    let mut conn = connect(Scheme::Https, origin.port(), Some(&proxy.url()));
    assert_eq!(get(&mut conn, "/bytes/4"), (200, "abcd".into()));
    assert_eq!(get(&mut conn, "/bytes/2"), (200, "ab".into()));
    assert_eq!((proxy.connections(), proxy.tunnels(), origin.connections()), (1, 1, 1));
}

#[test]
fn a_407_without_credentials_is_an_error_with_the_status_and_challenge() {
    let origin = Origin::https(leaf());
    let proxy = TestProxy::start(ProxyOptions::with_basic_auth("u", "p"));
    let mut conn = connect(Scheme::Https, origin.port(), Some(&proxy.url()));
    let err = conn.request("GET", "/", "", &[]).unwrap_err();
    assert_eq!((err.phase(), err.status()), (Phase::Tunnel, Some(407)), "{err}");
    let Some(ferry_proto::ErrorKind::ProxyRefused { head, .. }) =
        err.http().map(ferry_proto::Error::kind)
    else {
        panic!("{err:?}")
    };
    assert_eq!(head.headers().get_str("proxy-authenticate"), Some("Basic realm=\"ferry\""));
    assert_eq!(origin.connections(), 0);
}

#[test]
fn a_proxy_that_closes_after_407_gets_the_credentials_on_a_new_connection() {
    let origin = Origin::https(leaf());
    let proxy = TestProxy::start(ProxyOptions {
        close_after_407: true,
        ..ProxyOptions::with_basic_auth("u", "p")
    });
    let auth =
        ferry_proto::ProxyAuth::basic(ferry_proto::Credentials::new("u", "p")).preemptive(false);
    let mut conn = Connection::builder(Scheme::Https, "localhost", origin.port())
        .unwrap()
        .tls(trusting())
        .proxy(Proxy::parse(&proxy.url()).unwrap().with_auth(auth))
        .build()
        .unwrap();
    assert_eq!(get(&mut conn, "/bytes/1"), (200, "a".into()));
    assert_eq!((proxy.connections(), proxy.auth_failures(), proxy.tunnels()), (2, 1, 1));
}

#[test]
fn certificate_failures_have_the_right_kind() {
    let cases = [
        (
            "unknown issuer",
            ferry_test_support::certs::Ca::new("stranger").leaf(&["localhost"]),
            CertificateProblem::UnknownIssuer,
        ),
        ("expired", ca().expired_leaf(&["localhost"]), CertificateProblem::Expired),
        ("wrong name", ca().leaf(&["elsewhere.test"]), CertificateProblem::NameMismatch),
    ];
    for (what, leaf, problem) in cases {
        let origin = Origin::https(&leaf);
        let mut conn = connect(Scheme::Https, origin.port(), None);
        let err = conn.request("GET", "/", "", &[]).unwrap_err();
        assert!(err.is_tls(), "{what}: {err}");
        assert_eq!(err.phase(), Phase::OriginTls, "{what}");
        assert_eq!(
            err.tls().and_then(ferry_tls::Error::certificate_problem),
            Some(problem),
            "{what}"
        );
    }
}

#[test]
fn mozillas_roots_do_not_trust_the_test_ca_but_the_dangerous_switch_does() {
    let origin = Origin::https(leaf());
    let mut conn = Connection::https("localhost", origin.port()).unwrap();
    let err = conn.request("GET", "/", "", &[]).unwrap_err();
    assert_eq!(
        err.tls().and_then(ferry_tls::Error::certificate_problem),
        Some(CertificateProblem::UnknownIssuer)
    );
    let dangerous = TlsConfig::builder().danger_accept_invalid_certs(true).build().unwrap();
    let mut conn = Connection::builder(Scheme::Https, "localhost", origin.port())
        .unwrap()
        .tls(dangerous)
        .build()
        .unwrap();
    assert_eq!(get(&mut conn, "/bytes/2").0, 200);
}

#[test]
fn a_connection_the_server_closed_is_reopened() {
    let origin = Origin::http();
    let mut conn = connect(Scheme::Http, origin.port(), None);
    assert_eq!(get(&mut conn, "/close").0, 200);
    assert_eq!(get(&mut conn, "/bytes/1"), (200, "a".into()));
    assert_eq!(origin.connections(), 2);
}

#[test]
fn an_idle_connection_closed_by_the_server_is_reopened_transparently() {
    // A server that answers one request per connection, keep-alive in words, then closes.
    let origin = Origin::raw(|mut s| {
        let mut buf = [0u8; 4096];
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        let _ = s.shutdown(std::net::Shutdown::Both);
    });
    let mut conn = connect(Scheme::Http, origin.port(), None);
    for _ in 0..3 {
        assert_eq!(get(&mut conn, "/"), (200, "ok".into()));
        // Let the close arrive, so the next request finds the connection stale.
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(origin.connections(), 3);
}

#[test]
fn bodies_of_every_kind_go_out_whole() {
    let origin = Origin::https(leaf());
    let mut conn = connect(Scheme::Https, origin.port(), None);
    let big = pattern(200_000);
    let bodies: Vec<(&str, Body, Vec<u8>)> = vec![
        ("bytes", Body::from(big.clone()), big.clone()),
        (
            "known-length reader",
            Body::reader(std::io::Cursor::new(big.clone()), Some(big.len() as u64)),
            big.clone(),
        ),
        ("chunked reader", Body::reader(std::io::Cursor::new(big.clone()), None), big.clone()),
        ("empty", Body::Empty, Vec::new()),
    ];
    for (what, body, expected) in bodies {
        conn.request("POST", "/echo", body, &[("Expect", "100-continue")])
            .unwrap_or_else(|e| panic!("{what}: {e:?}"));
        let mut r = conn.response().unwrap();
        assert_eq!(r.status(), 200, "{what}");
        let mut echoed = Vec::new();
        r.read_to_end(&mut echoed).unwrap();
        assert!(echoed.ends_with(&expected), "{what}");
    }
    let seen = origin.seen();
    assert_eq!(header(&seen[2], "transfer-encoding"), Some("chunked"));
    assert_eq!(header(&seen[0], "content-length"), Some("200000"));
    assert_eq!(origin.connections(), 1);
}

#[test]
fn interim_responses_are_kept() {
    let origin = Origin::http();
    let mut conn = connect(Scheme::Http, origin.port(), None);
    conn.request("POST", "/echo", "hi", &[("Expect", "100-continue")]).unwrap();
    let r = conn.response().unwrap();
    assert_eq!(
        r.interim().iter().map(ferry_proto::ResponseHead::status).collect::<Vec<_>>(),
        [100]
    );
}

#[test]
fn a_read_timeout_fires() {
    let origin = Origin::http();
    let mut conn = Connection::builder(Scheme::Http, "127.0.0.1", origin.port())
        .unwrap()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = conn.request("GET", "/slow/5000", "", &[]).unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(err.phase(), Phase::Receive, "{err}");
}

#[test]
fn a_tls_handshake_timeout_fires() {
    // Accepts and says nothing.
    let origin = Origin::raw(|s| {
        let mut buf = [0u8; 1024];
        let _ = (&s).read(&mut buf);
        std::thread::sleep(Duration::from_secs(3));
    });
    let mut conn = Connection::builder(Scheme::Https, "localhost", origin.port())
        .unwrap()
        .tls(trusting())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = conn.request("GET", "/", "", &[]).unwrap_err();
    assert_eq!((err.phase(), err.is_timeout()), (Phase::OriginTls, true), "{err}");
}

#[test]
fn a_refused_connection_is_a_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut conn = connect(Scheme::Http, port, None);
    let err = conn.request("GET", "/", "", &[]).unwrap_err();
    assert!(err.is_connect(), "{err}");
    assert_eq!(err.phase(), Phase::Connect);
}

#[test]
fn an_empty_body_on_a_get_says_no_content_length() {
    let origin = Origin::http();
    let mut conn = connect(Scheme::Http, origin.port(), None);
    assert_eq!(get(&mut conn, "/bytes/1").0, 200);
    conn.request("POST", "/echo", "", &[]).unwrap();
    drop(conn.response().unwrap());
    let seen = origin.seen();
    assert_eq!(header(&seen[0], "content-length"), None, "GET");
    assert_eq!(header(&seen[1], "content-length"), Some("0"), "POST");
}

#[test]
fn bytes_in_the_same_read_as_the_proxys_200_go_to_the_origins_tls() {
    // A client that waits for the 2xx (as it must, a 407 may come instead) cannot receive the
    // origin's ServerHello with the 200: the bytes that do come with it are whatever the proxy
    // wrote behind its reply. They are the tunnel's, so they reach the origin's TLS layer, which
    // names them (plain HTTP here) instead of HTTP reading them as a response.
    let proxy = Origin::raw(|mut s| {
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let _ = s.read(&mut buf);
    });
    let mut conn = connect(Scheme::Https, 443, Some(&format!("http://127.0.0.1:{}", proxy.port())));
    let err = conn.request("GET", "/", "", &[]).unwrap_err();
    assert_eq!(err.phase(), Phase::OriginTls, "{err}");
    assert_eq!(err.tls().map(|e| e.kind().clone()), Some(ferry_tls::ErrorKind::PlainHttp), "{err}");
}

#[test]
fn a_spent_connect_budget_is_a_connect_timeout() {
    // Loopback connects never hang, so the budget is spent before the first address: the
    // driver tries none and the error names the phase. (A deadline passing while a connect
    // waits is the stack's test `deadlines_are_the_stacks_minimum_and_name_their_phase`.)
    let origin = Origin::http();
    let timeouts = ferry_proto::Timeouts::default().with_connect(Some(Duration::ZERO));
    let mut conn = Connection::builder(Scheme::Http, "127.0.0.1", origin.port())
        .unwrap()
        .timeouts(timeouts)
        .build()
        .unwrap();
    let err = conn.request("GET", "/", "", &[]).unwrap_err();
    assert_eq!(
        (err.phase(), err.is_timeout(), err.is_connect()),
        (Phase::Connect, true, true),
        "{err}"
    );
    assert_eq!(origin.connections(), 0);
}

/// Reads one request head from `s` (the server side); `false` when the client went away.
fn read_head(s: &mut std::net::TcpStream) -> bool {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    true
}

#[test]
fn a_body_budget_shorter_than_the_head_budget_of_the_last_request_still_fires() {
    // The socket timeout set for the long head budget is kept from one request to the next;
    // a body budget that would end before it is set anew. The server stalls the second body
    // for 30 s, then closes: a timeout that came too late would be an early end instead.
    let origin = Origin::raw(|mut s| {
        if !read_head(&mut s) {
            return;
        }
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        if !read_head(&mut s) {
            return;
        }
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab");
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        let _ = s.read(&mut [0u8; 16]);
    });
    let timeouts = ferry_proto::Timeouts::default()
        .with_response_head(Some(Duration::from_secs(60)))
        .with_body_read(Some(Duration::from_millis(200)));
    let mut conn = Connection::builder(Scheme::Http, "127.0.0.1", origin.port())
        .unwrap()
        .timeouts(timeouts)
        .build()
        .unwrap();
    assert_eq!(get(&mut conn, "/"), (200, "ok".into()));
    conn.request("GET", "/", "", &[]).unwrap();
    let mut r = conn.response().unwrap();
    assert_eq!(r.next_chunk().unwrap().as_deref(), Some(&b"ab"[..]));
    let err = r.next_chunk().unwrap_err();
    assert_eq!(err.timeout(), Some(ferry_blocking::Timeout::Read), "{err}");
    assert_eq!(origin.connections(), 1);
}

#[test]
fn an_idle_connection_the_server_closed_is_found_before_a_body_that_cannot_be_replayed() {
    // One request per connection, then the server closes. A reader body cannot be sent
    // twice, so only the probe before the request can save it: it finds the close and the
    // request goes out on a new connection.
    let origin = Origin::raw(|mut s| {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(b"\r\n\r\nbody") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if got.starts_with(b"GET") && got.ends_with(b"\r\n\r\n") {
                break;
            }
        }
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        let _ = s.shutdown(std::net::Shutdown::Both);
    });
    let mut conn = connect(Scheme::Http, origin.port(), None);
    assert_eq!(get(&mut conn, "/"), (200, "ok".into()));
    // Let the close arrive.
    std::thread::sleep(Duration::from_millis(50));
    let body = Body::reader(std::io::Cursor::new(b"body".to_vec()), Some(4));
    conn.request("POST", "/", body, &[]).unwrap();
    let mut r = conn.response().unwrap();
    let mut text = String::new();
    r.read_to_string(&mut text).unwrap();
    assert_eq!((r.status(), text.as_str()), (200, "ok"));
    assert_eq!(origin.connections(), 2);
}

#[test]
fn bytes_a_server_sent_while_idle_are_found_before_the_next_request() {
    // The server says 408 on an idle connection, once the response before it was read, and
    // keeps the connection open: only reading what came tells the connection is done with.
    let idle = std::sync::Arc::new(std::sync::Barrier::new(2));
    let server_idle = std::sync::Arc::clone(&idle);
    let first = std::sync::atomic::AtomicBool::new(true);
    let origin = Origin::raw(move |mut s| {
        if !read_head(&mut s) {
            return;
        }
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        if !first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        server_idle.wait();
        let _ = s.write_all(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n");
        server_idle.wait();
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        let _ = s.read(&mut [0u8; 16]);
    });
    let mut conn = connect(Scheme::Http, origin.port(), None);
    assert_eq!(get(&mut conn, "/"), (200, "ok".into()));
    idle.wait();
    idle.wait();
    // Let the bytes arrive.
    std::thread::sleep(Duration::from_millis(50));
    let body = Body::reader(std::io::Cursor::new(b"body".to_vec()), Some(4));
    conn.request("POST", "/", body, &[]).unwrap();
    assert_eq!(conn.response().unwrap().status(), 200);
    assert_eq!(origin.connections(), 2);
}

#[test]
fn back_to_back_gets_on_a_server_that_closes_after_each_response_all_succeed() {
    // No pause between requests: the close may not have arrived when the next GET goes out,
    // and the probe is skipped right after a response (a GET is retried on a new connection
    // when the one it went out on turns out closed).
    let origin = Origin::raw(|mut s| {
        if read_head(&mut s) {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
        let _ = s.shutdown(std::net::Shutdown::Both);
    });
    let mut conn = connect(Scheme::Http, origin.port(), None);
    for i in 0..5 {
        assert_eq!(get(&mut conn, "/"), (200, "ok".into()), "request {i}");
    }
    assert_eq!(origin.connections(), 5);
}

#[test]
fn a_body_end_taken_with_its_last_piece_reads_as_the_usual_path_does() {
    // `Response::read` takes the body's end when it came with the last piece that fits the
    // caller's buffer (`exchange::end_ready`); a piece, the trailers or a later end that came
    // with it must still come out in order, and a body whose rest is still on its way must be
    // waited for.
    let origin = Origin::raw(|mut s| {
        let mut head = [0u8; 1024];
        loop {
            let mut got = 0;
            while !head[..got].windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut head[got..]) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got += n,
                }
            }
            let target =
                String::from_utf8_lossy(&head[..got]).split(' ').nth(1).unwrap_or("").to_owned();
            let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
            let written = match target.as_str() {
                "/trailers" => {
                    s.write_all(format!("{chunked}2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n").as_bytes())
                }
                "/two" => {
                    s.write_all(format!("{chunked}2\r\nhi\r\n2\r\nyo\r\n0\r\n\r\n").as_bytes())
                }
                _ => {
                    s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nhi").and_then(|()| {
                        std::thread::sleep(Duration::from_millis(50));
                        s.write_all(b"yo")
                    })
                }
            };
            if written.is_err() {
                return;
            }
        }
    });
    let mut conn = connect(Scheme::Http, origin.port(), None);
    for _ in 0..2 {
        for (path, body, trailer) in
            [("/trailers", "hi", true), ("/two", "hiyo", false), ("/late", "hiyo", false)]
        {
            conn.request("GET", path, "", &[]).unwrap();
            let mut r = conn.response().unwrap();
            let (mut got, mut buf) = (Vec::new(), [0u8; 2]);
            loop {
                match r.read(&mut buf).unwrap() {
                    0 => break,
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
            assert_eq!(String::from_utf8(got).unwrap(), body, "{path}");
            assert_eq!(r.read(&mut buf).unwrap(), 0, "{path}: read after the end");
            let t = r.trailers().and_then(|t| t.get_str("x-t").map(str::to_owned));
            assert_eq!(t.as_deref(), trailer.then_some("1"), "{path}");
        }
    }
    assert_eq!(origin.connections(), 1, "every response ended cleanly, the connection kept");
}
