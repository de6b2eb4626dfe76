//! "Nothing unchecked reaches the wire", through every public constructor.
//!
//! `props.rs` builds hosts through `Url::parse` only. Here hosts, authorities, URLs, proxies
//! and CONNECT targets are built from arbitrary text through each public way to make them
//! ([`Domain::parse`], [`Host::parse`], `From<Ipv4Addr>`/`From<Ipv6Addr>`, [`Authority::new`],
//! [`Authority::parse`], [`Url::from_parts`], [`Url::parse`], [`Url::join`], [`Proxy::parse`],
//! [`Proxy::new`]), and every value that is accepted is encoded, as a request in origin-form
//! and forwarded, and as a CONNECT through a [`Connection`]. Each property asserts refusal or
//! a clean wire: only printable ASCII and spaces, CR only in CRLF, and a head httparse
//! re-parses whole, to the target and `Host` the value says.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use bytes::BytesMut;
use ferry_proto::proxy::Proxy;
use ferry_proto::wire::encode_request;
use ferry_proto::{
    Authority, Config, Connect, Connection, Domain, ErrorKind, Host, Output, Request, Route,
    Scheme, Url, UrlError,
};
use proptest::prelude::*;

/// Text biased towards what breaks lines and authorities, or any text at all.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9.:\\[\\]\r\n\0\t %@/?#_~é-]{0,24}",
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..24)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// A head is clean: CRLF line endings only, no other control byte, no byte above 0x7E, and
/// it re-parses whole. Returns the request-target and the `Host` value.
fn clean_head(head: &[u8]) -> Result<(String, String), TestCaseError> {
    let shown = String::from_utf8_lossy(head).into_owned();
    for (i, &b) in head.iter().enumerate() {
        match b {
            b'\r' => prop_assert_eq!(head.get(i + 1), Some(&b'\n'), "bare CR: {:?}", shown),
            b'\n' => {
                prop_assert_eq!(head.get(i.wrapping_sub(1)), Some(&b'\r'), "bare LF: {:?}", shown)
            }
            0x20..=0x7e => {}
            _ => prop_assert!(false, "byte {:#04x} on the wire: {:?}", b, shown),
        }
    }
    let mut slots = [httparse::EMPTY_HEADER; 8];
    let mut req = httparse::Request::new(&mut slots);
    let status = req.parse(head);
    prop_assert!(
        matches!(status, Ok(httparse::Status::Complete(n)) if n == head.len()),
        "does not re-parse whole: {:?}: {:?}",
        status,
        shown
    );
    let host: Vec<_> = req.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("host")).collect();
    prop_assert_eq!(host.len(), 1, "one Host: {:?}", shown);
    let host = String::from_utf8(host[0].value.to_vec()).unwrap();
    Ok((req.path.unwrap().to_owned(), host))
}

/// Encodes a GET for `url` in origin-form and forwarded (when plain HTTP), and checks both.
fn check_url(url: &Url) -> Result<(), TestCaseError> {
    let mut out = BytesMut::new();
    encode_request(&Request::get(url.clone()), None, &mut out).unwrap();
    let (target, host) = clean_head(&out)?;
    prop_assert_eq!(target, url.path_and_query());
    prop_assert_eq!(&host, url.host_header());

    let plain = Url::parse("http://example.com/").unwrap();
    let route = Route::new(&plain, Some(Proxy::parse("http://proxy:3128").unwrap()));
    let req = Request::get(url.clone()).via(&route);
    let mut out = BytesMut::new();
    match (url.scheme(), encode_request(&req, Some("Basic eA=="), &mut out)) {
        (Scheme::Http, Ok(_)) => {
            let (target, host) = clean_head(&out)?;
            prop_assert_eq!(target, url.to_string());
            prop_assert_eq!(&host, url.host_header());
        }
        (Scheme::Https, Err(e)) => {
            prop_assert_eq!(e.kind(), &ErrorKind::InvalidUrl { what: UrlError::HttpsForwarded });
            prop_assert!(out.is_empty());
        }
        (scheme, got) => prop_assert!(false, "{:?} forwarded: {:?}", scheme, got),
    }
    Ok(())
}

/// Sends `CONNECT target` through a connection and checks the wire.
fn check_connect(target: &Authority) -> Result<(), TestCaseError> {
    let mut conn: Connection<Duration> = Connection::new(Duration::ZERO, Config::default());
    conn.send_connect(Duration::ZERO, &Connect::new(target.clone()).header("User-Agent", "t"))
        .unwrap();
    let Output::Transmit(wire) = conn.poll_output() else {
        return Err(TestCaseError::fail("no CONNECT head"));
    };
    let (path, host) = clean_head(&wire)?;
    prop_assert!(wire.starts_with(b"CONNECT "));
    prop_assert_eq!(&path, &target.to_string());
    prop_assert_eq!(&host, &target.to_string());
    // The authority re-parses to itself (RFC 9112 §3.2.3).
    prop_assert_eq!(&Authority::parse(&path).unwrap(), target);
    Ok(())
}

/// Every byte a domain may hold.
fn is_domain_text(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_' | b'~')
        })
}

fn host_from(s: &str) -> Option<Host> {
    Host::parse(s).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn domains_are_checked(s in text()) {
        match Domain::parse(&s) {
            Ok(d) => {
                prop_assert!(is_domain_text(d.as_str()), "{:?} -> {:?}", s, d);
                prop_assert_eq!(d.as_str(), s.to_ascii_lowercase());
                let host = Host::Domain(d);
                prop_assert_eq!(Host::parse(&s).unwrap(), host.clone());
                check_url(&Url::from_parts(Scheme::Http, host.clone(), None, "/").unwrap())?;
                check_connect(&Authority::new(host, 443))?;
            }
            Err(e) => prop_assert!(matches!(e.kind(), ErrorKind::InvalidUrl { .. }), "{:?}", e),
        }
    }

    #[test]
    fn hosts_and_ports_from_parts(
        host in prop_oneof![
            text().prop_filter_map("a host", |s| host_from(&s)),
            any::<[u8; 4]>().prop_map(|b| Host::from(Ipv4Addr::from(b))),
            any::<[u8; 16]>().prop_map(|b| Host::from(Ipv6Addr::from(b))),
        ],
        port in prop_oneof![Just(None), any::<u16>().prop_map(Some)],
        scheme in prop_oneof![Just(Scheme::Http), Just(Scheme::Https)],
        path in text(),
    ) {
        check_connect(&Authority::new(host.clone(), port.unwrap_or(0)))?;
        match Url::from_parts(scheme, host, port, &path) {
            Ok(url) => {
                check_url(&url)?;
                // What it shows parses back to it.
                let again = Url::parse(&url.to_string()).unwrap();
                prop_assert_eq!(again.host(), url.host());
                prop_assert_eq!(again.host_header(), url.host_header());
            }
            Err(e) => prop_assert_eq!(e.kind(), &ErrorKind::InvalidUrl { what: UrlError::TargetByte }),
        }
    }

    #[test]
    fn authorities_parsed(s in prop_oneof![text(), (text(), any::<u16>()).prop_map(|(h, p)| format!("{h}:{p}"))]) {
        if let Ok(a) = Authority::parse(&s) {
            check_connect(&a)?;
        }
    }

    #[test]
    fn urls_parsed(
        scheme in prop_oneof![Just("http"), Just("https"), Just("HTTP")],
        host in text(),
        port in prop_oneof![Just(String::new()), any::<u16>().prop_map(|p| format!(":{p}")), text()],
        path in text(),
    ) {
        if let Ok(url) = Url::parse(&format!("{scheme}://{host}{port}{path}")) {
            check_url(&url)?;
            check_connect(&url.authority())?;
        }
    }

    #[test]
    fn references_joined(reference in text()) {
        let base = Url::parse("http://u:pw@a/b/c/d;p?q").unwrap();
        if let Ok(url) = base.join(&reference) {
            check_url(&url)?;
        }
    }

    #[test]
    fn proxies_and_their_tunnels(s in text(), mode_tunnel in any::<bool>()) {
        let Ok(proxy) = Proxy::parse(&s) else { return Ok(()) };
        let proxy = if mode_tunnel { proxy.with_mode(ferry_proto::proxy::ProxyMode::Tunnel) } else { proxy };
        // The proxy's own authority is a fine CONNECT target too.
        check_connect(proxy.authority())?;
        let again = Proxy::new(proxy.scheme(), proxy.authority().clone());
        prop_assert_eq!(again.to_string(), proxy.to_string());
        for url in ["https://example.com/", "http://[::1]:8080/x"] {
            let url = Url::parse(url).unwrap();
            let route = Route::new(&url, Some(proxy.clone()));
            if let Some(connect) = route.connect() {
                check_connect(connect.target())?;
            }
            let mut out = BytesMut::new();
            encode_request(&Request::get(url.clone()).via(&route), Some("Basic eA=="), &mut out).unwrap();
            clean_head(&out)?;
        }
    }
}

/// The shapes the issue named, refused by every constructor that takes text.
#[test]
fn injections_are_refused_everywhere() {
    let evil = "h\r\nX-Injected: 1";
    let invalid = |e: ferry_proto::Error| matches!(e.kind(), ErrorKind::InvalidUrl { .. });
    assert!(Domain::parse(evil).is_err_and(invalid));
    assert!(Host::parse(evil).is_err_and(invalid));
    assert!(Authority::parse(&format!("{evil}:443")).is_err_and(invalid));
    assert!(Url::parse(&format!("http://{evil}/")).is_err_and(invalid));
    let base = Url::parse("http://a/").unwrap();
    assert!(base.join(&format!("//{evil}/")).is_err_and(invalid));
    assert!(Proxy::parse(&format!("http://{evil}:3128")).is_err());
    assert!(ferry_proto::proxy::ProxyKey::parse(&format!("http://{evil}")).is_err());
}
