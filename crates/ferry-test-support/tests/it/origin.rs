use std::io::{BufReader, Read, Write};
use std::time::{Duration, Instant};

use ferry_test_support::certs::Ca;
use ferry_test_support::origin::{GZIP_TEXT, Origin, pattern};

use crate::util::{basic, client_config, closed, connect, exchange, read_reply, send, tls};

#[test]
fn two_requests_on_one_connection_are_one_connection() {
    let origin = Origin::http();
    let mut c = BufReader::new(connect(origin.addr()));
    let first = exchange(&mut c, "GET /bytes/5 HTTP/1.1\r\nHost: a\r\n\r\n");
    let second = exchange(&mut c, "GET /echo?x=1 HTTP/1.1\r\nHost: b\r\nX-Two: 2\r\n\r\n");
    assert_eq!((first.code, first.body.as_slice()), (200, &b"abcde"[..]));
    assert_eq!(second.code, 200);
    assert_eq!(second.header("connection"), None, "keep-alive is the default");
    assert_eq!((origin.connections(), origin.requests()), (1, 2));
    let seen = origin.seen();
    assert_eq!(seen[1].target, "/echo?x=1");
    let want: Vec<(String, String)> =
        vec![("Host".into(), "b".into()), ("X-Two".into(), "2".into())];
    assert_eq!(seen[1].headers, want, "headers in order, with their case");
}

#[test]
fn echo_mirrors_the_head_and_the_body() {
    let origin = Origin::http();
    let mut c = BufReader::new(connect(origin.addr()));
    let reply = exchange(
        &mut c,
        "POST /echo HTTP/1.1\r\nHost: h\r\nX-Case: Kept\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(reply.code, 200);
    assert_eq!(
        reply.text(),
        "POST /echo HTTP/1.1\r\nHost: h\r\nX-Case: Kept\r\nContent-Length: 5\r\n\r\nhello"
    );
    assert_eq!(origin.seen()[0].body, b"hello");
}

/// RFC 9112 §7.1: a chunked request body, with extensions and a trailer.
#[test]
fn chunked_request_bodies_are_decoded_with_their_trailers() {
    let origin = Origin::http();
    let mut c = BufReader::new(connect(origin.addr()));
    let reply = exchange(
        &mut c,
        "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
         3;x=y\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Sum: 7\r\n\r\n",
    );
    assert_eq!(reply.code, 200);
    assert!(reply.text().ends_with("\r\n\r\nabcdefg"), "{}", reply.text());
    let seen = &origin.seen()[0];
    assert_eq!(seen.body, b"abcdefg");
    assert_eq!(seen.trailers, vec![("X-Sum".to_owned(), "7".to_owned())]);
    let after = exchange(&mut c, "GET /bytes/1 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(after.body, b"a", "the connection is still in step");
}

#[test]
fn statuses() {
    let origin = Origin::http();
    let mut c = BufReader::new(connect(origin.addr()));
    for (code, body) in
        [(201, "status 201\n"), (204, ""), (304, ""), (404, "status 404\n"), (503, "status 503\n")]
    {
        let reply = exchange(&mut c, &format!("GET /status/{code} HTTP/1.1\r\nHost: h\r\n\r\n"));
        assert_eq!((reply.code, reply.text().as_str()), (code, body));
    }
    assert_eq!(exchange(&mut c, "GET /status/100 HTTP/1.1\r\nHost: h\r\n\r\n").code, 400);
    assert_eq!(exchange(&mut c, "GET /nowhere HTTP/1.1\r\nHost: h\r\n\r\n").code, 404);
    assert_eq!(origin.connections(), 1);
}

#[test]
fn sized_and_chunked_bodies() {
    let origin = Origin::http();
    let mut c = BufReader::new(connect(origin.addr()));
    let sized = exchange(&mut c, "GET /bytes/3000 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(sized.header("content-length"), Some("3000"));
    assert_eq!(sized.body, pattern(3000));

    let chunked =
        exchange(&mut c, "GET /chunked/2500?chunk=1000&trailer HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(chunked.header("transfer-encoding"), Some("chunked"));
    assert_eq!(chunked.header("trailer"), Some("x-trailer"));
    assert_eq!(chunked.body, pattern(2500));
    assert_eq!(chunked.trailers, vec![("x-trailer".to_owned(), "done".to_owned())]);

    let plain = exchange(&mut c, "GET /chunked/0 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((plain.body.len(), plain.trailers.len()), (0, 0));
}

#[test]
fn the_chunked_route_sends_the_chunk_sizes_asked_for() {
    let origin = Origin::http();
    let mut c = connect(origin.addr());
    send(&mut c, b"GET /chunked/5?chunk=2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    let mut raw = String::new();
    c.read_to_string(&mut raw).expect("the whole response");
    assert!(raw.ends_with("\r\n\r\n2\r\nab\r\n2\r\ncd\r\n1\r\ne\r\n0\r\n\r\n"), "{raw}");
}

#[test]
fn head_requests_get_the_framing_without_the_body() {
    let origin = Origin::http();
    let mut c = BufReader::new(connect(origin.addr()));
    let head = exchange(&mut c, "HEAD /bytes/10 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((head.code, head.header("content-length")), (200, Some("10")));
    let next = exchange(&mut c, "GET /bytes/2 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(next.body, b"ab", "no body bytes were sent after the HEAD response");
}

#[test]
fn close_responds_then_closes() {
    let origin = Origin::http();
    let mut c = BufReader::new(connect(origin.addr()));
    let reply = exchange(&mut c, "GET /close HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!((reply.code, reply.header("connection")), (200, Some("close")));
    assert!(closed(&mut c));
}

/// RFC 9112 §9.3: HTTP/1.0 without keep-alive, and `Connection: close`, end the connection.
#[test]
fn clients_asking_to_close_are_closed() {
    let origin = Origin::http();
    for request in
        ["GET /echo HTTP/1.0\r\n\r\n", "GET /echo HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"]
    {
        let mut c = BufReader::new(connect(origin.addr()));
        let reply = exchange(&mut c, request);
        assert_eq!((reply.code, reply.header("connection")), (200, Some("close")));
        assert!(closed(&mut c), "{request:?}");
    }
}

#[test]
fn redirects() {
    let origin = Origin::http();
    let mut c = BufReader::new(connect(origin.addr()));
    for (target, code, location) in [
        ("/redirect/3", 302, "/redirect/2"),
        ("/redirect/1", 302, "/echo"),
        (
            "/redirect-to?url=http%3A%2F%2Fexample.invalid%2Fa%3Fb%3D1&status=307",
            307,
            "http://example.invalid/a?b=1",
        ),
        ("/redirect-to?url=/echo", 302, "/echo"),
    ] {
        let reply = exchange(&mut c, &format!("GET {target} HTTP/1.1\r\nHost: h\r\n\r\n"));
        assert_eq!((reply.code, reply.header("location")), (code, Some(location)), "{target}");
    }
    let bad = exchange(&mut c, "GET /redirect-to?url=/x&status=200 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(bad.code, 400, "redirect-to takes a 3xx status only");
}

#[test]
fn slow_waits_before_the_head() {
    let origin = Origin::http();
    let mut c = BufReader::new(connect(origin.addr()));
    let started = Instant::now();
    let reply = exchange(&mut c, "GET /slow/150 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(reply.code, 200);
    assert!(started.elapsed() >= Duration::from_millis(150), "{:?}", started.elapsed());
}

#[test]
fn gzip_is_gzip() {
    let origin = Origin::http();
    let mut c = BufReader::new(connect(origin.addr()));
    let reply = exchange(&mut c, "GET /gzip HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(reply.header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(reply.body.as_slice())
        .read_to_string(&mut text)
        .expect("valid gzip");
    assert_eq!(text, GZIP_TEXT);
}

#[test]
fn cookies_are_set_and_echoed() {
    let origin = Origin::http();
    let mut c = BufReader::new(connect(origin.addr()));
    let set = exchange(&mut c, "GET /set-cookie?a=1&b=two HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(set.header_all("set-cookie"), ["a=1; Path=/", "b=two; Path=/"]);
    let echoed = exchange(
        &mut c,
        "GET /cookies HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\nCookie: b=two\r\n\r\n",
    );
    assert_eq!(echoed.text(), "a=1; b=two");
    let none = exchange(&mut c, "GET /cookies HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(none.text(), "");
}

/// RFC 7617: Basic authentication against an origin.
#[test]
fn basic_auth_route() {
    let origin = Origin::http();
    let mut c = BufReader::new(connect(origin.addr()));
    let missing = exchange(&mut c, "GET /basic-auth/u/p HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(
        (missing.code, missing.header("www-authenticate")),
        (401, Some("Basic realm=\"ferry\""))
    );
    let wrong = exchange(
        &mut c,
        &format!(
            "GET /basic-auth/u/p HTTP/1.1\r\nHost: h\r\nAuthorization: {}\r\n\r\n",
            basic("u", "q")
        ),
    );
    assert_eq!(wrong.code, 401);
    let right = exchange(
        &mut c,
        &format!(
            "GET /basic-auth/u/p HTTP/1.1\r\nHost: h\r\nAuthorization: {}\r\n\r\n",
            basic("u", "p")
        ),
    );
    assert_eq!((right.code, right.text().as_str()), (200, "authenticated u\n"));
}

/// RFC 9110 §10.1.1: a client that expects 100-continue gets it before sending its body.
#[test]
fn expect_continue_gets_100_first() {
    let origin = Origin::http();
    let mut c = BufReader::new(connect(origin.addr()));
    send(
        c.get_mut(),
        b"PUT /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    );
    assert_eq!(read_reply(&mut c, "PUT").code, 100);
    send(c.get_mut(), b"ok");
    let reply = read_reply(&mut c, "PUT");
    assert_eq!(reply.code, 200);
    assert!(reply.text().ends_with("\r\n\r\nok"));
}

/// RFC 9112 §6.3: both Transfer-Encoding and Content-Length in a request is refused, then the
/// connection closes; so is a head that is not HTTP.
#[test]
fn bad_requests_get_400_and_a_close() {
    let origin = Origin::http();
    for request in [
        "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n",
        "NOT HTTP AT ALL\r\n\r\n",
    ] {
        let mut c = BufReader::new(connect(origin.addr()));
        let reply = exchange(&mut c, request);
        assert_eq!((reply.code, reply.header("connection")), (400, Some("close")), "{request:?}");
        assert!(closed(&mut c));
    }
}

#[test]
fn https_origin_with_keep_alive() {
    let ca = Ca::new("ferry test CA");
    let origin = Origin::https(&ca.leaf(&["localhost", "127.0.0.1"]));
    assert!(origin.url("/echo").starts_with("https://localhost:"));
    let config = client_config(&ca);
    for name in ["localhost", "127.0.0.1"] {
        let mut c = BufReader::new(tls(&config, name, connect(origin.addr())));
        let first = exchange(&mut c, "GET /bytes/4 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        let second = exchange(&mut c, "GET /close HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert_eq!((first.code, first.body.as_slice(), second.code), (200, &b"abcd"[..], 200));
        assert!(closed(&mut c), "a close_notify, then the end");
    }
    assert_eq!((origin.connections(), origin.requests()), (2, 4));
}

#[test]
fn raw_hands_over_the_socket() {
    let origin = Origin::raw(|mut stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nraw");
    });
    let mut c = BufReader::new(connect(origin.addr()));
    let reply = read_reply(&mut c, "GET");
    assert_eq!((reply.code, reply.text().as_str()), (200, "raw"));
    assert_eq!((origin.connections(), origin.requests()), (1, 0));
}

#[test]
fn dropping_a_server_unblocks_its_connections() {
    let origin = Origin::raw(|mut stream| {
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
    });
    let mut idle = connect(origin.addr());
    let keep_alive = Origin::http();
    let mut held = BufReader::new(connect(keep_alive.addr()));
    assert_eq!(exchange(&mut held, "GET /bytes/1 HTTP/1.1\r\nHost: h\r\n\r\n").code, 200);
    let started = Instant::now();
    drop(origin);
    drop(keep_alive);
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    let mut byte = [0];
    assert_eq!(idle.read(&mut byte).expect("a clean end"), 0);
    assert!(closed(&mut held));
}
