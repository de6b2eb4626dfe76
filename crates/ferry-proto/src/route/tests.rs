//! Tests of the decision (precedence, `NO_PROXY` over every source), of routes and of their keys.

use super::*;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use proptest::prelude::*;

use crate::auth::Credentials;

type Pairs<'a> = &'a [(&'a str, &'a str)];

/// A decision in one line: `<proxy or direct> <source> [no_proxy entry]`.
fn summary(d: &ProxyDecision) -> String {
    let proxy = d.proxy().map_or("direct".to_string(), ToString::to_string);
    let source = match d.source() {
        Some(ProxySource::PerRequest { key }) => format!("request:{key}"),
        Some(ProxySource::Client { key }) => format!("client:{key}"),
        Some(ProxySource::Env { var }) => format!("env:{var}"),
        None => "-".to_string(),
    };
    match d.no_proxy_match() {
        Some(m) => {
            let from = match &m.source {
                NoProxySource::PerRequest => "request".to_string(),
                NoProxySource::Client => "client".to_string(),
                NoProxySource::Env { var } => var.to_string(),
            };
            format!("{proxy} {source} {from}={}", m.entry.as_str())
        }
        None => format!("{proxy} {source}"),
    }
}

/// The decision for `url` with these layers (`None`: layer absent), as [`summary`] or an error.
#[track_caller]
fn check(
    request: Option<Pairs<'_>>,
    client: Pairs<'_>,
    env: Option<Pairs<'_>>,
    url: &str,
    expected: core::result::Result<&str, ErrorKind>,
) {
    let mut config =
        ProxyConfig::new().with_proxies(Proxies::from_pairs(client.iter().copied()).unwrap());
    if let Some(env) = env {
        config = config.with_env(EnvProxies::from_vars(env.iter().copied()));
    }
    let request = request.map(|r| Proxies::from_pairs(r.iter().copied()).unwrap());
    let url = Url::parse(url).unwrap();
    let got = config.proxy_for_request(&url, request.as_ref());
    let got = got.as_ref().map(summary).map_err(|e| e.kind().clone());
    assert_eq!(
        got,
        expected.map(String::from),
        "request={request:?} client={client:?} env={env:?} {url}"
    );
}

#[test]
fn precedence() {
    let env: Pairs<'_> = &[("https_proxy", "e:1"), ("http_proxy", "e:2")];
    let client: Pairs<'_> = &[("https", "c:1")];
    let request: Pairs<'_> = &[("https", "r:1")];
    // Per-request over client over environment.
    check(Some(request), client, Some(env), "https://x/", Ok("http://r:1 request:https"));
    check(None, client, Some(env), "https://x/", Ok("http://c:1 client:https"));
    check(None, &[], Some(env), "https://x/", Ok("http://e:1 env:https_proxy"));
    // A layer without an entry for the URL defers to the next one.
    check(Some(request), client, Some(env), "http://x/", Ok("http://e:2 env:http_proxy"));
    check(
        Some(&[("all://y", "r:9")]),
        client,
        Some(env),
        "https://x/",
        Ok("http://c:1 client:https"),
    );
    // Any entry of a higher layer beats a more specific key of a lower one.
    check(
        Some(&[("all://x", "r:9")]),
        client,
        Some(env),
        "https://x/",
        Ok("http://r:9 request:all://x"),
    );
    // An explicit "direct" entry stops the lookup (Requests' None).
    check(Some(&[("https", "")]), client, Some(env), "https://x/", Ok("direct request:https"));
    check(None, &[("all", "")], Some(env), "https://x/", Ok("direct client:all"));
    // Nothing configured, or the environment not trusted.
    check(None, &[], None, "https://x/", Ok("direct -"));
    check(None, &[], Some(&[]), "https://x/", Ok("direct -"));
    check(None, client, None, "http://x/", Ok("direct -"));
    check(None, &[], None, "http://x/", Ok("direct -"));
}

#[test]
fn no_proxy_applies_to_every_source() {
    let env_np: Pairs<'_> = &[("https_proxy", "e:1"), ("NO_PROXY", "internal.test")];
    // The environment's NO_PROXY excludes explicit proxies too (Requests with trust_env).
    check(
        None,
        &[("https", "c:1")],
        Some(env_np),
        "https://a.internal.test/",
        Ok("direct client:https NO_PROXY=internal.test"),
    );
    check(
        Some(&[("all", "r:1")]),
        &[],
        Some(env_np),
        "https://internal.test/",
        Ok("direct request:all NO_PROXY=internal.test"),
    );
    check(
        None,
        &[],
        Some(env_np),
        "https://internal.test/",
        Ok("direct env:https_proxy NO_PROXY=internal.test"),
    );
    check(
        None,
        &[],
        Some(env_np),
        "https://internal.test.example/",
        Ok("http://e:1 env:https_proxy"),
    );
    // The first layer that sets a no_proxy list decides; lower layers' lists are ignored.
    check(
        None,
        &[("no_proxy", "other.test")],
        Some(env_np),
        "https://internal.test/",
        Ok("http://e:1 env:https_proxy"),
    );
    check(
        None,
        &[("no_proxy", "other.test")],
        Some(env_np),
        "https://other.test/",
        Ok("direct env:https_proxy client=other.test"),
    );
    check(
        Some(&[("no_proxy", "x.test")]),
        &[("no_proxy", "y.test")],
        Some(env_np),
        "https://y.test/",
        Ok("http://e:1 env:https_proxy"),
    );
    check(
        Some(&[("no_proxy", "x.test")]),
        &[("no_proxy", "y.test")],
        Some(env_np),
        "https://x.test/",
        Ok("direct env:https_proxy request=x.test"),
    );
    // An explicit empty no_proxy means no exclusions, even over NO_PROXY=*.
    check(
        None,
        &[("no_proxy", "")],
        Some(&[("https_proxy", "e:1"), ("no_proxy", "*")]),
        "https://x/",
        Ok("http://e:1 env:https_proxy"),
    );
    check(
        None,
        &[],
        Some(&[("https_proxy", "e:1"), ("no_proxy", "*")]),
        "https://x/",
        Ok("direct env:https_proxy no_proxy=*"),
    );
    // An empty NO_PROXY variable is unset: NO_PROXY (upper) then counts.
    check(
        None,
        &[],
        Some(&[("https_proxy", "e:1"), ("no_proxy", ""), ("NO_PROXY", "x")]),
        "https://x/",
        Ok("direct env:https_proxy NO_PROXY=x"),
    );
    // host:port entries restrict to the effective port.
    check(
        None,
        &[("all", "c:1"), ("no_proxy", "x:8443")],
        None,
        "https://x:8443/",
        Ok("direct client:all client=x:8443"),
    );
    check(
        None,
        &[("all", "c:1"), ("no_proxy", "x:8443")],
        None,
        "https://x/",
        Ok("http://c:1 client:all"),
    );
    // IP literal hosts against IP and CIDR entries; never against names.
    check(
        None,
        &[("all", "c:1"), ("no_proxy", "10.0.0.0/8, ::1")],
        None,
        "http://10.9.8.7/",
        Ok("direct client:all client=10.0.0.0/8"),
    );
    check(
        None,
        &[("all", "c:1"), ("no_proxy", "10.0.0.0/8, ::1")],
        None,
        "http://[::1]:81/",
        Ok("direct client:all client=::1"),
    );
    check(
        None,
        &[("all", "c:1"), ("no_proxy", "localhost")],
        None,
        "http://127.0.0.1/",
        Ok("http://c:1 client:all"),
    );
}

#[test]
fn unusable_environment_values_are_errors() {
    let socks: Pairs<'_> = &[("ALL_PROXY", "socks5://localhost:1080")];
    let cause =
        |k| ErrorKind::InvalidProxyEnv { var: "ALL_PROXY", cause: alloc::boxed::Box::new(k) };
    check(
        None,
        &[],
        Some(socks),
        "https://x/",
        Err(cause(ErrorKind::UnsupportedProxyScheme { scheme: "socks5".into() })),
    );
    // ... unless NO_PROXY excludes the URL, or a higher layer decides.
    check(
        None,
        &[],
        Some(&[("ALL_PROXY", "socks5://l"), ("no_proxy", "x")]),
        "https://x/",
        Ok("direct env:ALL_PROXY no_proxy=x"),
    );
    check(None, &[("https", "c:1")], Some(socks), "https://x/", Ok("http://c:1 client:https"));
    let e = ProxyConfig::new().with_env(EnvProxies::from_vars(socks.iter().copied()));
    let e = e.proxy_for(&Url::parse("http://x/").unwrap()).unwrap_err();
    assert_eq!(e.blame(), crate::Blame::Caller);
    assert_eq!(
        e.to_string(),
        "environment variable ALL_PROXY: unsupported proxy scheme \"socks5\" (expected http or https)"
    );
}

#[track_caller]
fn check_diagnostics(client: Pairs<'_>, env: Pairs<'_>, url: &str, expected: &[&str]) {
    let config = ProxyConfig::new()
        .with_proxies(Proxies::from_pairs(client.iter().copied()).unwrap())
        .with_env(EnvProxies::from_vars(env.iter().copied()));
    let d = config.proxy_for(&Url::parse(url).unwrap()).unwrap();
    let got: Vec<String> = d.diagnostics().iter().map(ToString::to_string).collect();
    assert_eq!(got, expected, "client={client:?} env={env:?} {url}");
}

#[test]
fn diagnostics() {
    let cgi: Pairs<'_> = &[("REQUEST_METHOD", "POST"), ("HTTP_PROXY", "evil:1")];
    let cgi_note = "ignored HTTP_PROXY because REQUEST_METHOD is set (in CGI it can come from a request header; use lower-case http_proxy)";
    // CGI: HTTP_PROXY ignored (httpoxy), said when the environment is asked about http://.
    check_diagnostics(&[], cgi, "http://x/", &[cgi_note]);
    check(None, &[], Some(cgi), "http://x/", Ok("direct -"));
    check_diagnostics(&[], cgi, "https://x/", &[]);
    check_diagnostics(&[("http", "c:1")], cgi, "http://x/", &[]);
    // Unparseable NO_PROXY entries of the list in effect, with their source.
    check_diagnostics(
        &[],
        &[("no_proxy", "a, 1.2.3.4/99")],
        "https://x/",
        &[
            "ignored no_proxy entry \"1.2.3.4/99\": CIDR prefix length longer than the address (from environment variable no_proxy)",
        ],
    );
    check_diagnostics(
        &[("no_proxy", "[::1")],
        &[("no_proxy", "1.2.3.4/99")],
        "https://x/",
        &["ignored no_proxy entry \"[::1\": unclosed '[' (from the client's no_proxy)"],
    );
}

/// `url` through `proxy` (`None`: direct): `(is_forwarded, tunnel, Display)`.
#[track_caller]
fn check_route(url: &str, proxy: Option<(&str, ProxyMode)>, expected: (bool, Option<&str>, &str)) {
    let proxy = proxy.map(|(p, mode)| Proxy::parse(p).unwrap().with_mode(mode));
    let route = Route::new(&Url::parse(url).unwrap(), proxy.clone());
    let got = (route.is_forwarded(), route.tunnel().map(ToString::to_string), route.to_string());
    let want = (expected.0, expected.1.map(String::from), expected.2.to_string());
    assert_eq!(got, want, "{url} {proxy:?}");
    assert_eq!(route.proxy(), proxy.as_ref());
}

#[test]
fn routes() {
    use ProxyMode::{Forward, Tunnel};
    check_route("http://a/x", None, (false, None, "http://a:80 direct"));
    check_route("https://[::1]/", None, (false, None, "https://[::1]:443 direct"));
    // Forward mode: plain HTTP in absolute-form (RFC 9112 §3.2.2), HTTPS through CONNECT.
    check_route(
        "http://a/",
        Some(("p:3128", Forward)),
        (true, None, "http://a:80 forwarded through http://p:3128"),
    );
    check_route(
        "https://a/",
        Some(("p:3128", Forward)),
        (false, Some("a:443"), "https://a:443 tunnelled through http://p:3128"),
    );
    // An https proxy: TLS to the proxy, same decisions.
    check_route(
        "http://a:8080/",
        Some(("https://p", Forward)),
        (true, None, "http://a:8080 forwarded through https://p:443"),
    );
    // Tunnel mode: CONNECT for plain HTTP too (curl's --proxytunnel).
    check_route(
        "http://a/",
        Some(("p:3128", Tunnel)),
        (false, Some("a:80"), "http://a:80 tunnelled through http://p:3128"),
    );
    check_route(
        "https://[2001:db8::1]:8443/",
        Some(("http://[::1]:3128", Tunnel)),
        (
            false,
            Some("[2001:db8::1]:8443"),
            "https://[2001:db8::1]:8443 tunnelled through http://[::1]:3128",
        ),
    );

    let url = Url::parse("https://h:444/").unwrap();
    let route = Route::new(&url, Some(Proxy::parse("https://u:pw@p").unwrap()));
    assert_eq!((route.scheme(), route.origin().to_string()), (Scheme::Https, "h:444".to_string()));
    assert_eq!(route.proxy().map(Proxy::scheme), Some(Scheme::Https));
    assert_eq!(route.proxy_auth(), Some(&ProxyAuth::basic(Credentials::new("u", "pw"))));
    assert!(route.origin_tls());
    assert_eq!(Route::direct(&url), Route::from_parts(Scheme::Https, url.authority(), None));
}

/// Whether two routes (url, proxy, mode, TLS fingerprint) share a pool key.
#[track_caller]
fn check_key(
    a: (&str, Option<&str>, ProxyMode, u64),
    b: (&str, Option<&str>, ProxyMode, u64),
    same: bool,
) {
    let key = |(url, proxy, mode, tls): (&str, Option<&str>, ProxyMode, u64)| {
        let proxy = proxy.map(|p| Proxy::parse(p).unwrap().with_mode(mode));
        Route::new(&Url::parse(url).unwrap(), proxy).key(tls)
    };
    let (ka, kb) = (key(a), key(b));
    assert_eq!(ka == kb, same, "{a:?} vs {b:?}: {ka:?} vs {kb:?}");
    assert_eq!(ka.cmp(&kb) == core::cmp::Ordering::Equal, same);
}

#[test]
fn route_keys() {
    use ProxyMode::{Forward as F, Tunnel as T};
    let d = |u| (u, None, F, 0);
    let via = |u, p| (u, Some(p), F, 0);
    // Scheme, host and effective port; the path never counts.
    check_key(d("http://a/x"), d("http://A:80/y"), true);
    check_key(d("http://a/"), d("http://a:81/"), false);
    check_key(d("http://a/"), d("https://a/"), false);
    check_key(d("http://a/"), d("http://b/"), false);
    check_key(d("http://a/"), via("http://a/", "p:1"), false);
    // A change of proxy or credentials never reuses another's connection.
    check_key(via("https://a/", "p:1"), via("https://a/", "p:2"), false);
    check_key(via("https://a/", "p:1"), via("https://a/", "https://p:1"), false);
    check_key(via("https://a/", "u:x@p:1"), via("https://a/", "u:y@p:1"), false);
    check_key(via("https://a/", "u:x@p:1"), via("https://a/", "p:1"), false);
    check_key(via("https://a/", "u:x@p:1"), via("https://a/", "u:%78@p:1"), true);
    // The mode counts.
    check_key(via("https://a/", "p:1"), ("https://a/", Some("p:1"), T, 0), false);
    // Forwarded plain HTTP is shared across origins through the same proxy...
    check_key(via("http://a/", "p:1"), via("http://b:8080/", "p:1"), true);
    check_key(via("http://a/", "u:x@p:1"), via("http://b/", "u:y@p:1"), false);
    // ...tunnels are not.
    check_key(("http://a/", Some("p:1"), T, 0), ("http://b/", Some("p:1"), T, 0), false);
    check_key(via("https://a/", "p:1"), via("https://b/", "p:1"), false);
    // The TLS fingerprint counts only where TLS is spoken.
    check_key(("https://a/", None, F, 1), ("https://a/", None, F, 2), false);
    check_key(("http://a/", None, F, 1), ("http://a/", None, F, 2), true);
    check_key(("http://a/", Some("p:1"), F, 1), ("http://a/", Some("p:1"), F, 2), true);
    check_key(
        ("http://a/", Some("https://p"), F, 1),
        ("http://a/", Some("https://p"), F, 2),
        false,
    );

    let k =
        Route::new(&Url::parse("http://a/").unwrap(), Some(Proxy::parse("p:1").unwrap())).key(0);
    assert!(k.is_shared() && k.target().is_none());
    assert_eq!(k.proxy().map(ToString::to_string), Some("p:1".into()));
    assert_eq!(k.to_string(), "any http origin via http://p:1");
    let k = Route::direct(&Url::parse("https://a/").unwrap()).key(7);
    assert_eq!(
        (k.target().map(|(s, a)| (s, a.to_string())), k.proxy()),
        (Some((Scheme::Https, "a:443".into())), None)
    );
}

#[test]
fn decision_display() {
    let config = ProxyConfig::new().with_proxies(
        Proxies::from_pairs([("https", "c:1"), ("http", ""), ("no_proxy", "n")]).unwrap(),
    );
    let show = |u: &str| config.proxy_for(&Url::parse(u).unwrap()).unwrap().to_string();
    assert_eq!(show("https://x/"), "through http://c:1 (from the client's \"https\" entry)");
    assert_eq!(show("http://x/"), "direct (set by the client's \"http\" entry)");
    assert_eq!(
        show("https://n/"),
        "direct: no_proxy entry \"n\" (from the client's no_proxy) matches, instead of http://c:1 (from the client's \"https\" entry)"
    );
    assert_eq!(ProxyDecision::direct().to_string(), "direct (no proxy configured)");
    let config = ProxyConfig::new()
        .with_env(EnvProxies::from_vars([("ALL_PROXY", "ftp://x"), ("no_proxy", "n")]));
    let d = config.proxy_for(&Url::parse("http://n/").unwrap()).unwrap();
    assert_eq!(
        d.to_string(),
        "direct: no_proxy entry \"n\" (from environment variable no_proxy) matches, instead of the proxy from environment variable ALL_PROXY"
    );
    assert!(d.candidate().is_none() && d.source().is_some_and(|s| !s.is_explicit()));
}

fn percent_encode_all(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

proptest! {
    /// Nothing printable about a route (proxy, route, key, decision, configuration, pool,
    /// errors) contains the password, decoded or encoded, however it was given.
    #[test]
    fn debug_never_shows_the_password(
        user in "[a-zA-Z0-9._~-]{1,12}",
        password in "[ -~]{10,24}",
        host in prop_oneof![Just("proxy.test"), Just("[::1]"), Just("10.0.0.1")],
        proxy_scheme in prop_oneof![Just("http"), Just("https")],
        target in prop_oneof![Just("http://a.test/"), Just("https://[::2]:8443/x")],
        tunnel in any::<bool>(),
        via_url in any::<bool>(),
        tls in any::<u64>(),
    ) {
        let encoded = percent_encode_all(&password);
        let mode = if tunnel { ProxyMode::Tunnel } else { ProxyMode::Forward };
        let proxy = if via_url {
            Proxy::parse(&format!("{proxy_scheme}://{user}:{encoded}@{host}")).unwrap()
        } else {
            Proxy::parse(&format!("{proxy_scheme}://{host}")).unwrap().basic_auth(user.clone(), password.clone())
        }
        .with_mode(mode);
        let url = Url::parse(target).unwrap();
        let route = Route::new(&url, Some(proxy.clone()));
        let key = route.key(tls);
        let client = Proxies::new().all(proxy.clone());
        let env = EnvProxies::from_vars([("all_proxy", format!("{proxy_scheme}://{user}:{encoded}@{host}"))]);
        let by_client = ProxyConfig::new().with_proxies(client.clone());
        let by_env = ProxyConfig::new().with_env(env.clone());
        let d1 = by_client.proxy_for(&url).unwrap();
        let d2 = by_env.proxy_for(&url).unwrap();
        prop_assert_eq!(d1.proxy().map(Proxy::auth), Some(proxy.auth()));
        prop_assert_eq!(d2.proxy().map(Proxy::auth), Some(proxy.auth()));
        let mut pool: crate::Pool<AlwaysReusable, core::time::Duration> = crate::Pool::new(crate::PoolConfig::default());
        let _ = pool.put(key.clone(), AlwaysReusable, core::time::Duration::ZERO);
        let bad = Proxy::parse(&format!("{proxy_scheme}://{user}:{encoded}@{host}/path")).unwrap_err();
        let bad_env = ProxyConfig::new()
            .with_env(EnvProxies::from_vars([("all_proxy", format!("socks5://{user}:{encoded}@{host}"))]))
            .proxy_for(&url)
            .unwrap_err();
        let shown = vec![
            format!("{proxy:?} {proxy}"),
            format!("{route:?} {route}"),
            format!("{key:?} {key}"),
            format!("{d1:?} {d1} {d2:?} {d2}"),
            format!("{client:?} {env:?} {by_client:?} {by_env:?}"),
            format!("{pool:?}"),
            format!("{bad:?} {bad} {bad_env:?} {bad_env}"),
        ];
        for s in shown {
            prop_assert!(!s.contains(&password), "password in {}", s);
            prop_assert!(!s.contains(&encoded), "encoded password in {}", s);
        }
    }

    /// Proxy URL parsing, key parsing and the whole decision never panic on any input.
    #[test]
    fn parsing_never_panics(
        value in prop_oneof![any::<String>(), "[a-z:/@%.\\[\\]0-9]{0,40}"],
        list in any::<String>(),
        target in "[a-z]{1,8}",
    ) {
        let _ = Proxy::parse(&value);
        let _ = ProxyKey::parse(&value);
        let env = EnvProxies::from_vars([("http_proxy", value.as_str()), ("NO_PROXY", list.as_str())]);
        let url = Url::parse(&format!("http://{target}/")).unwrap();
        let _ = ProxyConfig::new().with_env(env).proxy_for(&url);
    }
}
/// A pooled stand-in that is always reusable and never expires.
struct AlwaysReusable;

impl crate::pool::Reusable<core::time::Duration> for AlwaysReusable {
    fn is_reusable(&self, _: core::time::Duration) -> bool {
        true
    }
    fn idle_deadline(&self) -> Option<core::time::Duration> {
        None
    }
}
