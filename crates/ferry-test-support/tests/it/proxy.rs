use std::io::{BufRead, BufReader, Read, Write};

use ferry_test_support::certs::Ca;
use ferry_test_support::origin::{Origin, pattern};
use ferry_test_support::proxy::{Proxy, ProxyOptions};

use crate::util::{basic, client_config, closed, connect, exchange, read_reply, send, tls};

#[test]
fn forwards_with_keep_alive_on_both_sides() {
    let origin = Origin::http();
    let proxy = Proxy::start(ProxyOptions::default());
    let mut c = BufReader::new(connect(proxy.addr()));
    let host = format!("127.0.0.1:{}", origin.port());
    let first = exchange(
        &mut c,
        &format!(
            "GET {} HTTP/1.1\r\nHost: {host}\r\nProxy-Connection: keep-alive\r\n\r\n",
            origin.url("/bytes/3")
        ),
    );
    let second = exchange(
        &mut c,
        &format!("GET {} HTTP/1.1\r\nHost: {host}\r\nX-Mine: 1\r\n\r\n", origin.url("/echo?q")),
    );
    assert_eq!((first.code, first.body.as_slice()), (200, &b"abc"[..]));
    assert_eq!(second.code, 200);
    assert_eq!(
        second.text(),
        format!(
            "GET /echo?q HTTP/1.1\r\nHost: {host}\r\nX-Mine: 1\r\nVia: 1.1 ferry-test-proxy\r\n\r\n"
        ),
        "origin-form, hop-by-hop fields dropped, Via added",
    );
    assert_eq!((proxy.connections(), proxy.forwarded(), proxy.connects()), (1, 2, 0));
    assert_eq!((origin.connections(), origin.requests()), (1, 2), "one upstream connection reused");
    let seen = proxy.seen();
    assert_eq!(seen[0].target, origin.url("/bytes/3"), "the proxy saw the absolute form");
    assert_eq!(seen[0].header("proxy-connection"), Some("keep-alive"));
}

#[test]
fn forwards_bodies_with_their_framing() {
    let origin = Origin::http();
    let proxy = Proxy::start(ProxyOptions::default());
    let mut c = BufReader::new(connect(proxy.addr()));
    let url = origin.url("/echo");
    let chunked = exchange(
        &mut c,
        &format!(
            "POST {url} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
        ),
    );
    let sized = exchange(
        &mut c,
        &format!("POST {url} HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"),
    );
    assert_eq!((chunked.code, sized.code), (200, 200));
    let seen = origin.seen();
    assert_eq!(
        (seen[0].header("transfer-encoding"), seen[0].body.as_slice()),
        (Some("chunked"), &b"ab"[..])
    );
    assert_eq!(
        (seen[1].header("content-length"), seen[1].body.as_slice()),
        (Some("3"), &b"xyz"[..])
    );
    assert_eq!(proxy.seen()[0].body, b"ab");

    let big = exchange(
        &mut c,
        &format!("GET {} HTTP/1.1\r\nHost: h\r\n\r\n", origin.url("/chunked/5000?trailer")),
    );
    assert_eq!((big.header("transfer-encoding"), big.body.len()), (Some("chunked"), 5000));
    assert_eq!(big.body, pattern(5000));
    assert_eq!(big.trailers, vec![("x-trailer".to_owned(), "done".to_owned())]);
    let head = exchange(
        &mut c,
        &format!(
            "HEAD {} HTTP/1.1\r\nHost: h\r\n\r\n",
            origin.url("/bytes/9").replace("http:", "HTTP:")
        ),
    );
    assert_eq!(head.header("content-length"), Some("9"));
    assert_eq!(
        exchange(&mut c, &format!("GET {} HTTP/1.1\r\nHost: h\r\n\r\n", origin.url("/bytes/1")))
            .body,
        b"a"
    );
}

#[test]
fn an_upstream_close_is_passed_on_only_to_the_upstream_side() {
    let origin = Origin::http();
    let proxy = Proxy::start(ProxyOptions::default());
    let mut c = BufReader::new(connect(proxy.addr()));
    let closing =
        exchange(&mut c, &format!("GET {} HTTP/1.1\r\nHost: h\r\n\r\n", origin.url("/close")));
    assert_eq!(
        (closing.code, closing.header("connection")),
        (200, None),
        "the client side stays open"
    );
    let after =
        exchange(&mut c, &format!("GET {} HTTP/1.1\r\nHost: h\r\n\r\n", origin.url("/bytes/2")));
    assert_eq!(after.body, b"ab");
    assert_eq!(
        (proxy.connections(), origin.connections()),
        (1, 2),
        "a new upstream after the close"
    );
}

/// RFC 9110 §11.7.1 and §7.6.1: 407 with a Basic challenge; Proxy-Authorization is the proxy's
/// alone, Authorization the origin's.
#[test]
fn forwarding_with_basic_auth_407_then_success() {
    let origin = Origin::http();
    let proxy = Proxy::start(ProxyOptions::with_basic_auth("pu", "pp"));
    let mut c = BufReader::new(connect(proxy.addr()));
    let url = origin.url("/basic-auth/ou/op");
    let refused = exchange(&mut c, &format!("GET {url} HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert_eq!(refused.code, 407);
    assert_eq!(refused.header("proxy-authenticate"), Some("Basic realm=\"ferry\""));
    assert_eq!(refused.text(), "proxy authentication required\n", "a framed body");
    let wrong = exchange(
        &mut c,
        &format!(
            "GET {url} HTTP/1.1\r\nHost: h\r\nProxy-Authorization: {}\r\n\r\n",
            basic("pu", "nope")
        ),
    );
    assert_eq!(wrong.code, 407);
    let right = exchange(
        &mut c,
        &format!(
            "GET {url} HTTP/1.1\r\nHost: h\r\nProxy-Authorization: {}\r\nAuthorization: {}\r\n\r\n",
            basic("pu", "pp"),
            basic("ou", "op"),
        ),
    );
    assert_eq!((right.code, right.text().as_str()), (200, "authenticated ou\n"));
    assert_eq!((proxy.connections(), proxy.auth_failures(), proxy.forwarded()), (1, 2, 1));
    let at_origin = &origin.seen()[0];
    assert!(!at_origin.has_header("proxy-authorization"), "{at_origin:?}");
    assert_eq!(at_origin.header("authorization"), Some(basic("ou", "op").as_str()));
}

#[test]
fn a_407_with_a_body_to_discard_keeps_the_connection_in_step() {
    let origin = Origin::http();
    let proxy = Proxy::start(ProxyOptions::with_basic_auth("u", "p"));
    let mut c = BufReader::new(connect(proxy.addr()));
    let url = origin.url("/echo");
    let refused = exchange(
        &mut c,
        &format!("POST {url} HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"),
    );
    assert_eq!(refused.code, 407);
    let right = exchange(
        &mut c,
        &format!(
            "POST {url} HTTP/1.1\r\nHost: h\r\nProxy-Authorization: {}\r\nContent-Length: 2\r\n\r\nok",
            basic("u", "p")
        ),
    );
    assert!(right.text().ends_with("\r\n\r\nok"), "{}", right.text());
    assert_eq!(origin.requests(), 1);
}

#[test]
fn close_after_407_closes() {
    let proxy = Proxy::start(ProxyOptions {
        close_after_407: true,
        ..ProxyOptions::with_basic_auth("u", "p")
    });
    let mut c = BufReader::new(connect(proxy.addr()));
    let refused = exchange(&mut c, "CONNECT localhost:9 HTTP/1.1\r\nHost: localhost:9\r\n\r\n");
    assert_eq!((refused.code, refused.header("connection")), (407, Some("close")));
    assert_eq!(refused.header("proxy-authenticate"), Some("Basic realm=\"ferry\""));
    assert!(closed(&mut c));
    assert_eq!((proxy.connects(), proxy.tunnels(), proxy.auth_failures()), (1, 0, 1));
}

#[test]
fn connect_tunnels_plain_bytes() {
    let origin = Origin::http();
    let proxy = Proxy::start(ProxyOptions::default());
    let mut c = BufReader::new(connect(proxy.addr()));
    let authority = format!("127.0.0.1:{}", origin.port());
    // The tunnel's first request goes in the same write as the CONNECT: the proxy must pass on
    // what it read past the CONNECT head.
    send(c.get_mut(), format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\nGET /bytes/2 HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes());
    let open = read_reply(&mut c, "CONNECT");
    assert_eq!(open.code, 200);
    assert_eq!(read_reply(&mut c, "GET").body, b"ab");
    let reply = exchange(&mut c, &format!("GET /close HTTP/1.1\r\nHost: {authority}\r\n\r\n"));
    assert_eq!(reply.code, 200);
    assert!(closed(&mut c), "the origin's close ends the tunnel");
    assert_eq!((proxy.connects(), proxy.tunnels(), proxy.forwarded()), (1, 1, 0));
    assert_eq!(origin.seen()[0].target, "/bytes/2");
}

/// TLS to the origin through a tunnel, after a 407 on the same connection; the proxy never
/// sees the origin's Authorization and the origin never sees Proxy-Authorization.
#[test]
fn connect_with_auth_then_tls_to_the_origin() {
    let ca = Ca::new("ferry test CA");
    let origin = Origin::https(&ca.leaf(&["localhost", "127.0.0.1"]));
    let proxy = Proxy::start(ProxyOptions::with_basic_auth("pu", "pp"));
    let mut c = BufReader::new(connect(proxy.addr()));
    let authority = format!("localhost:{}", origin.port());
    let refused =
        exchange(&mut c, &format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n"));
    assert_eq!(refused.code, 407);
    let open = exchange(
        &mut c,
        &format!(
            "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: {}\r\n\r\n",
            basic("pu", "pp")
        ),
    );
    assert_eq!(open.code, 200);
    assert!(c.buffer().is_empty());
    let config = client_config(&ca);
    let mut inner = BufReader::new(tls(&config, "localhost", c.into_inner()));
    let request = format!(
        "GET /basic-auth/ou/op HTTP/1.1\r\nHost: {authority}\r\nAuthorization: {}\r\n\r\n",
        basic("ou", "op")
    );
    for _ in 0..2 {
        let reply = exchange(&mut inner, &request);
        assert_eq!((reply.code, reply.text().as_str()), (200, "authenticated ou\n"));
    }
    assert_eq!(
        (proxy.connections(), proxy.connects(), proxy.tunnels(), proxy.auth_failures()),
        (1, 2, 1, 1)
    );
    assert!(proxy.seen().iter().all(|r| !r.has_header("authorization")));
    assert!(origin.seen().iter().all(|r| !r.has_header("proxy-authorization")));
    assert_eq!((origin.connections(), origin.requests()), (1, 2));
}

#[test]
fn tls_proxy_forwards_and_tunnels_tls_inside_tls() {
    let ca = Ca::new("ferry test CA");
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let origin = Origin::https(&leaf);
    let plain_origin = Origin::http();
    let proxy = Proxy::start(ProxyOptions {
        tls: Some(leaf.clone()),
        ..ProxyOptions::with_basic_auth("u", "p")
    });
    assert!(proxy.url().starts_with("https://localhost:"));
    let config = client_config(&ca);

    // Forwarding over the TLS listener.
    let mut outer = BufReader::new(tls(&config, "localhost", connect(proxy.addr())));
    let url = plain_origin.url("/bytes/3");
    let refused = exchange(&mut outer, &format!("GET {url} HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert_eq!(refused.code, 407);
    let forwarded = exchange(
        &mut outer,
        &format!(
            "GET {url} HTTP/1.1\r\nHost: h\r\nProxy-Authorization: {}\r\n\r\n",
            basic("u", "p")
        ),
    );
    assert_eq!(forwarded.body, b"abc");

    // CONNECT on the same TLS connection, then TLS to the origin inside it.
    let authority = format!("localhost:{}", origin.port());
    let open = exchange(
        &mut outer,
        &format!(
            "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: {}\r\n\r\n",
            basic("u", "p")
        ),
    );
    assert_eq!(open.code, 200);
    let mut inner = BufReader::new(tls(&config, "localhost", outer.into_inner()));
    let big =
        exchange(&mut inner, &format!("GET /bytes/100000 HTTP/1.1\r\nHost: {authority}\r\n\r\n"));
    assert_eq!(big.body, pattern(100_000));
    let echoed = exchange(
        &mut inner,
        &format!("POST /echo HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 5\r\n\r\nhello"),
    );
    assert!(echoed.text().ends_with("\r\n\r\nhello"));
    let upload = pattern(300_000);
    let mut request = format!(
        "PUT /echo HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\n\r\n",
        upload.len()
    )
    .into_bytes();
    request.extend_from_slice(&upload);
    send(inner.get_mut(), &request);
    let echoed = read_reply(&mut inner, "PUT");
    assert!(echoed.body.ends_with(&upload), "a large upload crossed both TLS layers whole");
    let last = exchange(&mut inner, &format!("GET /close HTTP/1.1\r\nHost: {authority}\r\n\r\n"));
    assert_eq!(last.code, 200);
    assert!(closed(&mut inner), "the origin's close_notify came through the tunnel");
    assert_eq!((proxy.connections(), proxy.tunnels(), proxy.forwarded()), (1, 1, 1));
    assert_eq!(origin.requests(), 4);
}

#[test]
fn unreachable_and_unsupported_targets() {
    let proxy = Proxy::start(ProxyOptions::default());
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.local_addr().expect("its address").port()
    };
    let mut c = BufReader::new(connect(proxy.addr()));
    let cases = [
        (format!("CONNECT 127.0.0.1:{closed_port} HTTP/1.1\r\nHost: x\r\n\r\n"), 502),
        ("CONNECT 192.0.2.1:443 HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), 403),
        ("CONNECT no-port HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), 400),
        (format!("GET http://127.0.0.1:{closed_port}/ HTTP/1.1\r\nHost: x\r\n\r\n"), 502),
        ("GET http://192.0.2.1/ HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), 403),
        ("GET https://localhost/ HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), 501),
        ("GET /origin-form HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), 400),
    ];
    for (request, code) in &cases {
        let reply = exchange(&mut c, request);
        assert_eq!(reply.code, *code, "{request:?}");
    }
    assert_eq!(
        (proxy.connections(), proxy.tunnels(), proxy.forwarded()),
        (1, 0, 0),
        "one connection for all"
    );
}

#[test]
fn credentials_in_the_url_are_percent_encoded() {
    let proxy = Proxy::start(ProxyOptions::default());
    let url = proxy.url_with_credentials("a@b", "p:w d");
    assert_eq!(url, format!("http://a%40b:p%3Aw%20d@127.0.0.1:{}", proxy.port()));
}

/// RFC 9110 §10.1.1: an upstream that never sends 100 Continue still gets the body, after a
/// short wait, and the client its response.
#[test]
fn expect_continue_through_the_proxy() {
    let origin = Origin::http();
    let silent = Origin::raw(|stream| {
        let mut r = BufReader::new(stream);
        let mut line = String::new();
        while r.read_line(&mut line).is_ok_and(|n| n > 0) && !line.ends_with("\r\n\r\n") {}
        let mut body = [0; 2];
        if r.read_exact(&mut body).is_ok() {
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
                String::from_utf8_lossy(&body)
            );
            let _ = r.get_mut().write_all(reply.as_bytes());
        }
    });
    let proxy = Proxy::start(ProxyOptions::default());
    let mut c = BufReader::new(connect(proxy.addr()));
    let head = |url: String| {
        format!(
            "PUT {url} HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
        )
    };
    send(c.get_mut(), head(origin.url("/echo")).as_bytes());
    assert_eq!(read_reply(&mut c, "PUT").code, 100, "the origin's 100 is relayed");
    send(c.get_mut(), b"ok");
    assert!(read_reply(&mut c, "PUT").text().ends_with("\r\n\r\nok"));

    // A client may send its body without waiting; the silent upstream answers after it.
    let mut c = BufReader::new(connect(proxy.addr()));
    let mut request = head(format!("http://127.0.0.1:{}/", silent.port())).into_bytes();
    request.extend_from_slice(b"hi");
    send(c.get_mut(), &request);
    let reply = read_reply(&mut c, "PUT");
    assert_eq!((reply.code, reply.text().as_str()), (200, "hi"));
}
