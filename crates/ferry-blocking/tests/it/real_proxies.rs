//! HTTPS through real proxies nobody here wrote: tinyproxy and squid from Debian's packages,
//! configured by ferry-test-support with Basic auth and CONNECT allowed to the origin's port.

use ferry_blocking::{Phase, Scheme};
use ferry_test_support::origin::Origin;
use ferry_test_support::real::{RealProxy, RealProxyError, RealProxyOptions};

use crate::{connect, get, leaf};

type Start = fn(&RealProxyOptions) -> Result<RealProxy, RealProxyError>;

const PROXIES: [(&str, Start); 2] =
    [("tinyproxy", RealProxy::tinyproxy), ("squid", RealProxy::squid)];

/// Starts `start`, or prints why not and returns `None` when the binary is missing.
fn start(name: &str, start: Start, options: &RealProxyOptions) -> Option<RealProxy> {
    match start(options) {
        Ok(p) => Some(p),
        Err(e) if e.is_not_installed() => {
            eprintln!("skipping the {name} test: {e}");
            None
        }
        Err(e) => panic!("{name}: {e}"),
    }
}

#[test]
fn https_through_a_real_proxy_with_basic_auth() {
    let origin = Origin::https(leaf());
    // tinyproxy's configuration takes no `@` or `:` in a password; the in-process proxy's test
    // covers those.
    let (user, pass) = ("ferry", "s3cret-pw_9");
    let options = RealProxyOptions {
        basic_auth: Some((user.into(), pass.into())),
        connect_ports: vec![origin.port()],
    };
    for (name, f) in PROXIES {
        let Some(proxy) = start(name, f, &options) else { continue };
        let mut conn =
            connect(Scheme::Https, origin.port(), Some(&proxy.url_with_credentials(user, pass)));
        assert_eq!(get(&mut conn, "/bytes/6"), (200, "abcdef".into()), "{name}");
        assert_eq!(get(&mut conn, "/bytes/2"), (200, "ab".into()), "{name}: reused");
        // Without credentials: the proxy's 407 with its challenge.
        let mut conn = connect(Scheme::Https, origin.port(), Some(&proxy.url()));
        let err = conn.request("GET", "/", "", &[]).unwrap_err();
        assert_eq!((err.phase(), err.status()), (Phase::Tunnel, Some(407)), "{name}: {err}");
    }
}

#[test]
fn plain_http_forwarded_by_a_real_proxy_with_basic_auth() {
    let origin = Origin::http();
    let (user, pass) = ("ferry", "pw");
    let options =
        RealProxyOptions { basic_auth: Some((user.into(), pass.into())), connect_ports: vec![] };
    for (name, f) in PROXIES {
        let Some(proxy) = start(name, f, &options) else { continue };
        let mut conn =
            connect(Scheme::Http, origin.port(), Some(&proxy.url_with_credentials(user, pass)));
        assert_eq!(get(&mut conn, "/bytes/3"), (200, "abc".into()), "{name}");
        let seen = origin.seen();
        let last = seen.last().unwrap();
        assert!(
            last.headers.iter().all(|(n, _)| !n.eq_ignore_ascii_case("proxy-authorization")),
            "{name} passed the proxy's credentials on"
        );
    }
}

#[test]
fn an_https_proxy_url_pointing_at_a_real_plain_proxy_says_so() {
    let origin = Origin::https(leaf());
    let options = RealProxyOptions { basic_auth: None, connect_ports: vec![origin.port()] };
    // squid answers the ClientHello with a 400 at once; tinyproxy waits for a line that never
    // ends, so the handshake's deadline names the phase instead.
    for (name, f) in PROXIES {
        let Some(proxy) = start(name, f, &options) else { continue };
        let url = proxy.url().replace("http://", "https://");
        let mut conn =
            ferry_blocking::Connection::builder(Scheme::Https, "localhost", origin.port())
                .unwrap()
                .tls(crate::trusting())
                .timeout(std::time::Duration::from_secs(2))
                .proxy(ferry_blocking::Proxy::parse(&url).unwrap())
                .build()
                .unwrap();
        let err = conn.request("GET", "/", "", &[]).unwrap_err();
        assert_eq!(err.phase(), Phase::ProxyTls, "{name}: {err}");
        let plain_http =
            err.tls().map(|e| e.kind().clone()) == Some(ferry_tls::ErrorKind::PlainHttp);
        match name {
            "squid" => assert!(plain_http, "{name}: {err}"),
            _ => assert!(err.is_timeout(), "{name}: {err}"),
        }
    }
}
