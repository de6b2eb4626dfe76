use std::io::BufReader;

use ferry_test_support::certs::Ca;
use ferry_test_support::origin::Origin;
use ferry_test_support::real::{RealProxy, RealProxyError, RealProxyOptions};

use crate::util::{basic, client_config, connect, exchange, tls};

/// Starts a real proxy, or says why the test skips (only when it is not installed).
fn start(
    which: fn(&RealProxyOptions) -> Result<RealProxy, RealProxyError>,
    options: &RealProxyOptions,
) -> Option<RealProxy> {
    match which(options) {
        Ok(proxy) => Some(proxy),
        Err(e) if e.is_not_installed() => {
            eprintln!("skipped: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// Through a real proxy with Basic auth: a forward and a CONNECT without credentials get 407,
/// with them they pass; CONNECT reaches only the ports allowed; the origin never sees
/// Proxy-Authorization.
fn basic_auth_forward_and_connect(
    which: fn(&RealProxyOptions) -> Result<RealProxy, RealProxyError>,
) {
    let ca = Ca::new("ferry test CA");
    let origin = Origin::http();
    let secure = Origin::https(&ca.leaf(&["localhost", "127.0.0.1"]));
    let other = Origin::https(&ca.leaf(&["localhost", "127.0.0.1"]));
    let options = RealProxyOptions {
        basic_auth: Some(("ferry".to_owned(), "s3cret-pw".to_owned())),
        connect_ports: vec![secure.port()],
    };
    let Some(proxy) = start(which, &options) else { return };
    let name = proxy.name();
    let auth = basic("ferry", "s3cret-pw");
    let url = origin.url("/echo");

    let mut c = BufReader::new(connect(proxy.addr()));
    let refused = exchange(
        &mut c,
        &format!(
            "GET {url} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            origin.port()
        ),
    );
    assert_eq!(refused.code, 407, "{name}: no credentials\n{}", proxy.log());
    let challenge = refused.header("proxy-authenticate").unwrap_or_default().to_ascii_lowercase();
    assert!(challenge.starts_with("basic"), "{name}: {challenge}");

    let mut c = BufReader::new(connect(proxy.addr()));
    let wrong = exchange(
        &mut c,
        &format!(
            "GET {url} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nProxy-Authorization: {}\r\nConnection: close\r\n\r\n",
            origin.port(),
            basic("ferry", "wrong")
        ),
    );
    // tinyproxy 1.11 answers wrong credentials with 401 (missing ones with 407); squid 407.
    let expected = if name == "tinyproxy" { 401 } else { 407 };
    assert_eq!(wrong.code, expected, "{name}: wrong credentials");

    let mut c = BufReader::new(connect(proxy.addr()));
    let forwarded = exchange(
        &mut c,
        &format!(
            "GET {url} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nProxy-Authorization: {auth}\r\nConnection: close\r\n\r\n",
            origin.port()
        ),
    );
    assert_eq!(forwarded.code, 200, "{name}: forward\n{}", proxy.log());
    assert!(forwarded.text().starts_with("GET /echo HTTP/1.1\r\n"), "{name}: {}", forwarded.text());
    assert!(
        origin.seen().iter().all(|r| !r.has_header("proxy-authorization")),
        "{name}: {:?}",
        origin.seen()
    );

    let authority = format!("127.0.0.1:{}", secure.port());
    let mut c = BufReader::new(connect(proxy.addr()));
    let refused =
        exchange(&mut c, &format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n"));
    assert_eq!(refused.code, 407, "{name}: CONNECT without credentials");

    let mut c = BufReader::new(connect(proxy.addr()));
    let open = exchange(
        &mut c,
        &format!(
            "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: {auth}\r\n\r\n"
        ),
    );
    assert_eq!(open.code, 200, "{name}: CONNECT\n{}", proxy.log());
    assert!(c.buffer().is_empty());
    let mut inner = BufReader::new(tls(&client_config(&ca), "localhost", c.into_inner()));
    let reply = exchange(
        &mut inner,
        &format!("GET /bytes/5 HTTP/1.1\r\nHost: localhost:{}\r\n\r\n", secure.port()),
    );
    assert_eq!(
        (reply.code, reply.body.as_slice()),
        (200, &b"abcde"[..]),
        "{name}: through the tunnel"
    );
    assert_eq!(secure.requests(), 1);

    let denied = format!("127.0.0.1:{}", other.port());
    let mut c = BufReader::new(connect(proxy.addr()));
    let refused = exchange(
        &mut c,
        &format!(
            "CONNECT {denied} HTTP/1.1\r\nHost: {denied}\r\nProxy-Authorization: {auth}\r\n\r\n"
        ),
    );
    assert_eq!(refused.code, 403, "{name}: CONNECT to a port not allowed");
    assert_eq!(other.connections(), 0);
}

#[test]
fn tinyproxy_with_basic_auth() {
    basic_auth_forward_and_connect(RealProxy::tinyproxy);
}

#[test]
fn squid_with_basic_auth() {
    basic_auth_forward_and_connect(RealProxy::squid);
}

#[test]
fn without_auth_both_forward() {
    let origin = Origin::http();
    for which in [RealProxy::tinyproxy as fn(&RealProxyOptions) -> _, RealProxy::squid] {
        let Some(proxy) = start(which, &RealProxyOptions::default()) else { continue };
        let mut c = BufReader::new(connect(proxy.addr()));
        let reply = exchange(
            &mut c,
            &format!(
                "GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                origin.url("/bytes/4"),
                origin.port()
            ),
        );
        assert_eq!((reply.code, reply.body.as_slice()), (200, &b"abcd"[..]), "{}", proxy.name());
    }
}

#[test]
fn credentials_a_config_cannot_hold_are_refused() {
    let options = RealProxyOptions {
        basic_auth: Some(("a b".to_owned(), "p".to_owned())),
        connect_ports: vec![],
    };
    for which in [RealProxy::tinyproxy as fn(&RealProxyOptions) -> _, RealProxy::squid] {
        match which(&options) {
            Err(RealProxyError::BadOptions { .. }) => {}
            Err(e) if e.is_not_installed() => eprintln!("skipped: {e}"),
            other => panic!("{other:?}"),
        }
    }
}
