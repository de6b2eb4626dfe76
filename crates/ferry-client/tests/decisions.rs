//! The client's decisions without sockets: redirects, retries, the whole-request deadline
//! (`Call`), and the pool with its per-route limit (`ClientPool`), on a virtual clock.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferry_client::{
    Call, CallBody, Checkout, ClientPool, Error, ErrorKind, Next, Phase, RedirectError,
    RedirectPolicy, Timeout,
};
use ferry_proto::proxy::Proxy;
use ferry_proto::wire::parse_response_head;
use ferry_proto::{Config, Method, PoolConfig, ResponseHead, Reusable, Route, RouteKey, Url};

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn head(status: u16, location: Option<&str>) -> ResponseHead {
    let mut text = format!("HTTP/1.1 {status} X\r\n");
    if let Some(l) = location {
        text.push_str(&format!("Location: {l}\r\n"));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    let mut buf = BytesMut::from(text.as_bytes());
    parse_response_head(&mut buf, &Config::default()).unwrap().unwrap()
}

fn call(method: &str, u: &str, body: CallBody) -> Call<Duration> {
    let headers = vec![
        ("Authorization".to_owned(), Bytes::from_static(b"Basic dTpw")),
        ("Cookie".to_owned(), Bytes::from_static(b"id=1")),
        ("Content-Type".to_owned(), Bytes::from_static(b"text/plain")),
        ("X-Keep".to_owned(), Bytes::from_static(b"1")),
    ];
    Call::new(
        Duration::ZERO,
        Method::new(method.to_owned()),
        url(u),
        headers,
        body,
        RedirectPolicy::default(),
        Some(Duration::from_secs(10)),
    )
}

fn names(c: &Call<Duration>) -> Vec<String> {
    c.headers().map(|(n, _)| n.to_ascii_lowercase()).collect()
}

/// (status, method before) -> (method after, body kept)
#[test]
fn redirect_statuses_change_method_and_body_as_rfc_9110_says() {
    let table: &[(u16, &str, &str, bool)] = &[
        (301, "POST", "GET", false),
        (302, "POST", "GET", false),
        (303, "POST", "GET", false),
        (303, "PUT", "GET", false),
        (303, "HEAD", "HEAD", true),
        (301, "PUT", "PUT", true),
        (302, "DELETE", "DELETE", true),
        (307, "POST", "POST", true),
        (308, "PUT", "PUT", true),
    ];
    for &(status, before, after, kept) in table {
        let mut c = call(before, "http://a.test/x", CallBody::Bytes(Bytes::from_static(b"body")));
        assert_eq!(c.on_response(&head(status, Some("/y"))).unwrap(), Next::Follow, "{status}");
        assert_eq!(c.method().as_bytes(), after.as_bytes(), "{status} {before}");
        assert_eq!(c.body() != &CallBody::Empty, kept, "{status} {before}");
        assert_eq!(names(&c).contains(&"content-type".to_owned()), kept, "{status} {before}");
        assert_eq!(c.url().to_string(), "http://a.test/y");
        assert_eq!(c.redirects().len(), 1);
    }
}

#[test]
fn a_redirect_without_location_or_other_statuses_is_delivered() {
    let mut c = call("GET", "http://a.test/", CallBody::Empty);
    for status in [200, 304, 300, 404] {
        assert_eq!(c.on_response(&head(status, Some("/y"))).unwrap(), Next::Deliver, "{status}");
    }
    assert_eq!(c.on_response(&head(302, None)).unwrap(), Next::Deliver);
}

#[test]
fn a_307_with_a_stream_body_is_delivered_but_a_303_drops_the_stream() {
    let mut c = call("POST", "http://a.test/", CallBody::Stream(None));
    assert_eq!(c.on_response(&head(307, Some("/y"))).unwrap(), Next::Deliver);
    let mut c = call("POST", "http://a.test/", CallBody::Stream(Some(5)));
    assert_eq!(c.on_response(&head(303, Some("/y"))).unwrap(), Next::Follow);
    assert_eq!(c.body(), &CallBody::Empty);
}

#[test]
fn origin_credentials_are_dropped_only_when_the_origin_changes() {
    for (to, dropped) in [
        ("/same", false),
        ("http://a.test:80/same-port", false),
        ("http://b.test/", true),
        ("http://a.test:8080/", true),
        ("https://a.test/", true),
    ] {
        let mut c = call("GET", "http://a.test/", CallBody::Empty);
        c.on_response(&head(302, Some(to))).unwrap();
        let n = names(&c);
        assert_eq!(!n.contains(&"authorization".to_owned()), dropped, "{to}: {n:?}");
        assert_eq!(!n.contains(&"cookie".to_owned()), dropped, "{to}: {n:?}");
        assert!(n.contains(&"x-keep".to_owned()), "{to}");
    }
}

#[test]
fn userinfo_becomes_basic_auth_and_is_dropped_across_origins() {
    let mut c: Call<Duration> = Call::new(
        Duration::ZERO,
        Method::new("GET"),
        url("http://us%40r:p%3Ass@a.test/"),
        Vec::new(),
        CallBody::Empty,
        RedirectPolicy::default(),
        None,
    );
    let auth: Vec<_> = c.headers().filter(|(n, _)| *n == "Authorization").collect();
    let expected = ferry_proto::Credentials::new("us@r", "p:ss").basic();
    assert_eq!(auth, [("Authorization", expected.as_bytes())]);
    c.on_response(&head(302, Some("http://b.test/"))).unwrap();
    assert_eq!(c.headers().count(), 0);
}

#[test]
fn https_to_http_is_refused_unless_allowed() {
    let mut c = call("GET", "https://a.test/", CallBody::Empty);
    let e = c.on_response(&head(302, Some("http://a.test/"))).unwrap_err();
    assert_eq!(
        e.redirect(),
        Some(&RedirectError::Insecure {
            from: "https://a.test/".into(),
            to: "http://a.test/".into()
        })
    );
    let mut c: Call<Duration> = Call::new(
        Duration::ZERO,
        Method::new("GET"),
        url("https://a.test/"),
        Vec::new(),
        CallBody::Empty,
        RedirectPolicy { limit: 5, allow_https_to_http: true },
        None,
    );
    assert_eq!(c.on_response(&head(302, Some("http://a.test/"))).unwrap(), Next::Follow);
}

#[test]
fn the_limit_counts_followed_redirects_and_names_the_chain() {
    let mut c: Call<Duration> = Call::new(
        Duration::ZERO,
        Method::new("GET"),
        url("http://a.test/0"),
        Vec::new(),
        CallBody::Empty,
        RedirectPolicy { limit: 2, allow_https_to_http: false },
        None,
    );
    assert_eq!(c.on_response(&head(302, Some("/1"))).unwrap(), Next::Follow);
    assert_eq!(c.on_response(&head(302, Some("/2"))).unwrap(), Next::Follow);
    let e = c.on_response(&head(302, Some("/3"))).unwrap_err();
    let chain = ["http://a.test/0", "http://a.test/1", "http://a.test/2", "http://a.test/3"];
    assert_eq!(
        e.redirect(),
        Some(&RedirectError::TooMany { chain: chain.map(String::from).to_vec() })
    );
    assert!(e.to_string().contains("too many redirects (3)"), "{e}");
    // A limit of zero delivers every redirect.
    let mut off: Call<Duration> = Call::new(
        Duration::ZERO,
        Method::new("GET"),
        url("http://a.test/"),
        Vec::new(),
        CallBody::Empty,
        RedirectPolicy { limit: 0, allow_https_to_http: false },
        None,
    );
    assert_eq!(off.on_response(&head(301, Some("/x"))).unwrap(), Next::Deliver);
}

#[test]
fn a_location_that_is_not_http_is_a_typed_error() {
    let mut c = call("GET", "http://a.test/", CallBody::Empty);
    let e = c.on_response(&head(302, Some("ftp://a.test/"))).unwrap_err();
    assert_eq!(e.redirect(), Some(&RedirectError::Location { location: "ftp://a.test/".into() }));
}

/// A reset before any of the request went out (the progress a driver's own error carries).
fn reset() -> Error {
    let io = io::Error::from(io::ErrorKind::ConnectionReset);
    Error::new(Phase::Send, ErrorKind::Io(Arc::new(io)))
}

#[test]
fn a_failure_before_anything_was_sent_is_retried_once_on_a_reused_connection_only() {
    let e = reset();
    let mut c = call("POST", "http://a.test/", CallBody::Bytes(Bytes::from_static(b"x")));
    assert!(!c.on_error(&e, false), "a new connection's failure is the server's answer");
    assert!(c.on_error(&e, true), "a reused one may have been stale");
    assert!(!c.on_error(&e, true), "once per hop");
    let mut c = call("POST", "http://a.test/", CallBody::Stream(None));
    assert!(!c.on_error(&e, true), "a stream cannot be sent twice");
    // After a redirect, the new hop has its own retry.
    let mut c = call("GET", "http://a.test/", CallBody::Empty);
    assert!(c.on_error(&e, true));
    c.on_response(&head(302, Some("/next"))).unwrap();
    assert!(c.on_error(&e, true));
}

#[test]
fn only_a_hop_that_would_be_sent_again_may_skip_the_probe() {
    let bytes = || CallBody::Bytes(Bytes::from_static(b"x"));
    assert!(call("GET", "http://a.test/", CallBody::Empty).would_retry_stale());
    assert!(call("PUT", "http://a.test/", bytes()).would_retry_stale());
    assert!(!call("POST", "http://a.test/", bytes()).would_retry_stale(), "not idempotent");
    assert!(!call("PUT", "http://a.test/", CallBody::Stream(None)).would_retry_stale());
    let mut c = call("GET", "http://a.test/", CallBody::Empty);
    assert!(c.on_error(&reset(), true));
    assert!(!c.would_retry_stale(), "its one retry is spent");
}

#[test]
fn the_core_says_whether_a_sent_request_may_go_again() {
    use ferry_proto::{Eof, Output as HttpOutput};
    // A GET sent in full on a connection that then closes: idempotent, so retryable; a POST
    // the same way is not.
    for (method, retry) in [("GET", true), ("POST", false), ("PUT", true)] {
        let mut conn = ferry_proto::Connection::new(Duration::ZERO, Config::default());
        let req = ferry_proto::Request::new(Method::new(method.to_owned()), url("http://a.test/"));
        conn.send_request(Duration::ZERO, &req).unwrap();
        while let HttpOutput::Transmit(_) = conn.poll_output() {}
        conn.handle_eof(Duration::ZERO, Eof::Clean);
        let HttpOutput::Error(e) = conn.poll_output() else { panic!() };
        let e = Error::new(Phase::Receive, ErrorKind::Http(e));
        let mut c = call(method, "http://a.test/", CallBody::Empty);
        assert_eq!(c.on_error(&e, true), retry, "{method}");
    }
}

#[test]
fn the_deadline_covers_the_whole_call() {
    let mut c = call("GET", "http://a.test/", CallBody::Empty);
    assert_eq!(c.deadline(), Some(Duration::from_secs(10)));
    assert!(c.check_deadline(Duration::from_secs(9), Phase::Connect).is_ok());
    c.on_response(&head(302, Some("/b"))).unwrap();
    assert_eq!(c.deadline(), Some(Duration::from_secs(10)), "a redirect does not renew it");
    let e = c.check_deadline(Duration::from_secs(10), Phase::Connect).unwrap_err();
    assert_eq!(e.timeout(), Some(Timeout::Request));
    assert!(!e.is_retryable(true));
}

// ---- the pool ---------------------------------------------------------------------------

/// A connection that is reusable until told otherwise.
#[derive(Debug, PartialEq, Eq)]
struct Fake {
    id: u32,
    reusable: bool,
    expires: Option<Duration>,
}

impl Reusable<Duration> for Fake {
    fn is_reusable(&self, now: Duration) -> bool {
        self.reusable && self.expires.is_none_or(|at| now < at)
    }

    fn idle_deadline(&self) -> Option<Duration> {
        self.expires
    }
}

fn fake(id: u32) -> Fake {
    Fake { id, reusable: true, expires: Some(Duration::from_secs(90)) }
}

fn key(origin: &str, proxy: Option<&str>) -> RouteKey {
    let u = url(origin);
    let route = Route::new(&u, proxy.map(|p| Proxy::parse(p).unwrap()));
    ferry_client::Plan::new(&route, &ferry_client::TlsSettings::new().unwrap()).key().clone()
}

#[test]
fn the_pool_reuses_the_newest_idle_connection_of_the_same_route_only() {
    let mut pool: ClientPool<Fake, Duration> = ClientPool::new(PoolConfig::default(), None);
    let a = key("http://a.test/", None);
    let b = key("http://a.test/", Some("http://u:p@proxy.test:3128"));
    let b2 = key("http://a.test/", Some("http://u:other@proxy.test:3128"));
    let mut close = Vec::new();
    let t = Duration::from_secs(1);
    assert_eq!(pool.checkout(&a, t, false, |_| {}, &mut close), Checkout::Open);
    assert_eq!(pool.checkout(&a, t, false, |_| {}, &mut close), Checkout::Open);
    assert!(pool.checkin(a.clone(), fake(1), t, &mut close));
    assert!(pool.checkin(a.clone(), fake(2), t, &mut close));
    assert_eq!(pool.checkout(&b, t, false, |_| {}, &mut close), Checkout::Open, "other route");
    assert_eq!(pool.checkout(&b2, t, false, |_| {}, &mut close), Checkout::Open, "other creds");
    assert_eq!(pool.checkout(&a, t, false, |_| {}, &mut close), Checkout::Reuse(fake(2)));
    assert_eq!(pool.hits_and_misses(), (1, 4));
    assert!(close.is_empty());
}

#[test]
fn a_connection_that_heard_from_its_peer_while_idle_is_closed_not_reused() {
    let mut pool: ClientPool<Fake, Duration> = ClientPool::new(PoolConfig::default(), Some(2));
    let a = key("http://a.test/", None);
    let mut close = Vec::new();
    let t = Duration::from_secs(1);
    let _ = pool.checkout(&a, t, false, |_| {}, &mut close);
    assert!(pool.checkin(a.clone(), fake(1), t, &mut close));
    let probe = |c: &mut Fake| c.reusable = false; // the probe saw EOF
    assert_eq!(pool.checkout(&a, t, false, probe, &mut close), Checkout::Open);
    assert_eq!(close, [Fake { id: 1, reusable: false, expires: Some(Duration::from_secs(90)) }]);
    assert_eq!(pool.open(&a), 1, "the stale one's slot went to the new one");
}

#[test]
fn an_unreusable_connection_checked_in_is_closed_and_its_slot_freed() {
    let mut pool: ClientPool<Fake, Duration> = ClientPool::new(PoolConfig::default(), Some(1));
    let a = key("http://a.test/", None);
    let mut close = Vec::new();
    let t = Duration::from_secs(1);
    assert_eq!(pool.checkout(&a, t, false, |_| {}, &mut close), Checkout::Open);
    assert_eq!(pool.checkout(&a, t, false, |_| {}, &mut close), Checkout::Wait);
    let used = Fake { id: 1, reusable: false, expires: None };
    assert!(!pool.checkin(a.clone(), used, t, &mut close));
    assert_eq!(close.len(), 1);
    assert_eq!(pool.checkout(&a, t, false, |_| {}, &mut close), Checkout::Open);
}

#[test]
fn the_limit_per_route_makes_requests_wait_until_a_release() {
    let mut pool: ClientPool<Fake, Duration> = ClientPool::new(PoolConfig::default(), Some(2));
    let a = key("http://a.test/", None);
    let other = key("http://b.test/", None);
    let mut close = Vec::new();
    let t = Duration::from_secs(1);
    assert_eq!(pool.checkout(&a, t, false, |_| {}, &mut close), Checkout::Open);
    assert_eq!(pool.checkout(&a, t, false, |_| {}, &mut close), Checkout::Open);
    assert_eq!(pool.checkout(&a, t, false, |_| {}, &mut close), Checkout::Wait);
    assert_eq!(pool.checkout(&other, t, false, |_| {}, &mut close), Checkout::Open);
    pool.release(&a);
    assert_eq!(pool.checkout(&a, t, false, |_| {}, &mut close), Checkout::Open);
    assert_eq!(pool.open(&a), 2);
}

#[test]
fn a_fresh_checkout_skips_idle_ones_and_closes_one_to_make_room() {
    let mut pool: ClientPool<Fake, Duration> = ClientPool::new(PoolConfig::default(), Some(1));
    let a = key("http://a.test/", None);
    let mut close = Vec::new();
    let t = Duration::from_secs(1);
    let _ = pool.checkout(&a, t, false, |_| {}, &mut close);
    assert!(pool.checkin(a.clone(), fake(1), t, &mut close));
    assert_eq!(pool.checkout(&a, t, true, |_| {}, &mut close), Checkout::Open);
    assert_eq!(close, [fake(1)], "the idle one made room");
    // At the limit with every connection in use, a fresh request waits like any other.
    assert_eq!(pool.checkout(&a, t, true, |_| {}, &mut close), Checkout::Wait);
}

#[test]
fn idle_connections_expire_by_their_own_deadline() {
    let mut pool: ClientPool<Fake, Duration> = ClientPool::new(PoolConfig::default(), Some(1));
    let a = key("http://a.test/", None);
    let mut close = Vec::new();
    let _ = pool.checkout(&a, Duration::ZERO, false, |_| {}, &mut close);
    assert!(pool.checkin(a.clone(), fake(1), Duration::ZERO, &mut close));
    assert_eq!((pool.idle(), pool.open(&a)), (1, 1));
    assert_eq!(pool.poll_timeout(), Some(Duration::from_secs(90)));
    pool.handle_timeout(Duration::from_secs(89), &mut close);
    assert!(close.is_empty());
    pool.handle_timeout(Duration::from_secs(90), &mut close);
    assert_eq!(close, [fake(1)]);
    assert_eq!((pool.idle(), pool.open(&a)), (0, 0));
}

#[test]
fn eviction_by_the_idle_limit_frees_the_evicted_route_slot() {
    let config = PoolConfig::default().with_max_idle(1);
    let mut pool: ClientPool<Fake, Duration> = ClientPool::new(config, Some(1));
    let a = key("http://a.test/", None);
    let b = key("http://b.test/", None);
    let mut close = Vec::new();
    let t = Duration::from_secs(1);
    let _ = pool.checkout(&a, t, false, |_| {}, &mut close);
    let _ = pool.checkout(&b, t, false, |_| {}, &mut close);
    assert!(pool.checkin(a.clone(), fake(1), t, &mut close));
    assert!(pool.checkin(b.clone(), fake(2), t, &mut close));
    assert_eq!(close, [fake(1)]);
    assert_eq!((pool.open(&a), pool.open(&b)), (0, 1));
}

#[test]
fn the_request_of_a_hop_has_the_bodys_framing() {
    use ferry_proto::BodyFraming;
    for (body, framing) in [
        (CallBody::Empty, BodyFraming::Empty),
        (CallBody::Bytes(Bytes::new()), BodyFraming::Empty),
        (CallBody::Bytes(Bytes::from_static(b"abc")), BodyFraming::Length(3)),
        (CallBody::Stream(Some(5)), BodyFraming::Length(5)),
        (CallBody::Stream(None), BodyFraming::Chunked),
    ] {
        let c = call("POST", "http://a.test/", body.clone());
        assert_eq!(c.request(None).framing(), framing, "{body:?}");
    }
}

#[test]
fn the_jars_cookies_join_a_request_unless_the_caller_set_cookie() {
    let cookies = |c: &Call<Duration>, jar| -> Vec<Vec<u8>> {
        c.request(jar)
            .headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case(b"cookie"))
            .map(|(_, v)| v.to_vec())
            .collect()
    };
    let with_own = call("GET", "http://a.test/", CallBody::Empty);
    assert_eq!(cookies(&with_own, Some("jar=1")), [b"id=1".to_vec()]);
    let plain: Call<Duration> = Call::new(
        Duration::ZERO,
        Method::new("GET"),
        url("http://a.test/"),
        Vec::new(),
        CallBody::Empty,
        RedirectPolicy::default(),
        None,
    );
    assert_eq!(cookies(&plain, Some("jar=1")), [b"jar=1".to_vec()]);
    assert!(cookies(&plain, None).is_empty());
}
