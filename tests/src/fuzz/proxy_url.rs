//! The `proxy_url` target: proxy URLs as users write them in `HTTPS_PROXY` or the API.

use ferry_proto::proxy::{EnvProxies, Proxies, Proxy, ProxyConfig, ProxyKey, ProxyMode};
use ferry_proto::{ErrorKind, Scheme, Url};

/// The `proxy_url` fuzz target: the input, as lossy UTF-8, is a proxy URL (and a proxy map
/// key). Properties:
///
/// - nothing panics;
/// - [`Proxy::parse`] errors are `InvalidProxyUrl` (a typed reason, no text of the input) or
///   `UnsupportedProxyScheme`
///   naming exactly the input's scheme, so no error can repeat the userinfo;
/// - an accepted proxy shows (`Display`) `scheme://host:port` with no CR, LF or NUL, which
///   re-parses to the same proxy less its credentials, and shows the same again;
/// - the credentials change nothing that is shown: `Display` and `Debug` of the proxy, and of
///   the decision and route of a [`ProxyConfig`] using it, are the same with other
///   credentials or none (a sound test, where a substring test would raise false alarms on
///   passwords like `http`);
/// - the environment reads the value as `Proxy::parse` does (trimmed), and an unusable value
///   fails `proxy_for` with `InvalidProxyEnv` carrying the same cause;
/// - [`ProxyKey::parse`] never panics, and a key it accepts re-parses from its `Display`.
pub fn proxy_url(data: &[u8]) {
    let input = String::from_utf8_lossy(data);
    let parsed = Proxy::parse(&input);
    match &parsed {
        Err(e) => check_error(&input, e.kind()),
        Ok(p) => check_proxy(&input, p),
    }
    check_env(&input, &parsed);
    if let Ok(key) = ProxyKey::parse(&input) {
        let again = ProxyKey::parse(&key.to_string())
            .unwrap_or_else(|e| panic!("{input:?}: key {key} does not re-parse: {e}"));
        assert_eq!(again, key, "{input:?}: key {key} re-parses to another");
    }
}

fn check_error(input: &str, kind: &ErrorKind) {
    match kind {
        ErrorKind::InvalidProxyUrl { .. } => {}
        ErrorKind::UnsupportedProxyScheme { scheme } => {
            let written = input.trim_matches(|c: char| c.is_ascii_whitespace());
            let written = written.split_once("://").map_or("", |(s, _)| s);
            assert_eq!(scheme, &written.to_ascii_lowercase(), "{input:?}: scheme in the error");
        }
        k => panic!("{input:?}: unexpected error {k:?}"),
    }
}

/// What a user can see of a configuration with this proxy: its `Display` and `Debug`, and
/// those of the decisions and routes for two URLs.
fn shown(p: &Proxy) -> String {
    let mut out = format!("{p} {p:?}");
    let config = ProxyConfig::new().with_proxies(Proxies::new().all(p.clone()));
    for url in ["http://example.com/", "https://example.com/"] {
        let url = Url::parse(url).unwrap_or_else(|e| panic!("{e}"));
        let decision = config.proxy_for(&url).unwrap_or_else(|e| panic!("{e}"));
        let route = decision.route(&url);
        out.push_str(&format!(" {decision} {decision:?} {route} {route:?}"));
    }
    out
}

fn check_proxy(input: &str, p: &Proxy) {
    let display = p.to_string();
    assert!(!display.contains(['\r', '\n', '\0']), "{input:?}: Display {display:?}");
    assert_eq!(p.mode(), ProxyMode::Forward);
    assert!(p.authority().port() != 0, "{input:?}: port 0 accepted");
    let again = Proxy::parse(&display)
        .unwrap_or_else(|e| panic!("{input:?}: {display:?} does not re-parse: {e}"));
    assert_eq!(again, p.clone().without_auth(), "{input:?}: {display:?} re-parses to another");
    assert_eq!(again.to_string(), display, "{input:?}: Display is not stable");
    if matches!(p.scheme(), Scheme::Http | Scheme::Https) {
        let prefix = format!("{}://", p.scheme());
        assert!(display.starts_with(&prefix), "{input:?}: {display:?}");
    }

    // Credentials leave no trace in what is shown.
    let with_other = shown(&p.clone().basic_auth("someone", "else"));
    match p.auth() {
        Some(_) => assert_eq!(shown(p), with_other, "{input:?}: the credentials show"),
        None => {
            assert_eq!(shown(p), shown(&p.clone().without_auth()));
            let bare = format!("{p} {p:?}");
            assert!(!bare.contains("ProxyAuth"), "{input:?}: credentials from nowhere");
        }
    }
    let without = p.clone().without_auth();
    assert_eq!(without.to_string(), display, "{input:?}: the credentials change Display");
}

fn check_env(input: &str, parsed: &ferry_proto::Result<Proxy>) {
    let env = EnvProxies::from_vars([("https_proxy", input)]);
    let value = input.trim();
    let from_env = env.proxy_for_scheme(Scheme::Https);
    if value.is_empty() {
        assert!(from_env.is_none(), "{input:?}: an empty variable counts as set");
        return;
    }
    let (var, got) = from_env.unwrap_or_else(|| panic!("{input:?}: https_proxy is not read"));
    assert_eq!(var, "https_proxy");
    let want = Proxy::parse(value);
    match (got, &want) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{input:?}: the environment reads another proxy"),
        (Err(a), Err(b)) => assert_eq!(a, b.kind(), "{input:?}: the environment's error"),
        (a, b) => panic!("{input:?}: environment {a:?}, parse {b:?}"),
    }
    // When the value needed no trimming beyond ASCII whitespace, it is the same as parsed.
    if value == input.trim_matches(|c: char| c.is_ascii_whitespace()) {
        assert_eq!(want.is_ok(), parsed.is_ok(), "{input:?}");
    }
    let url = Url::parse("https://example.com/").unwrap_or_else(|e| panic!("{e}"));
    let decision = ProxyConfig::new().with_env(env).proxy_for(&url);
    match (decision, want) {
        (Ok(d), Ok(p)) => assert_eq!(d.proxy(), Some(&p), "{input:?}: decision"),
        (Err(e), Err(cause)) => match e.kind() {
            ErrorKind::InvalidProxyEnv { var, cause: got } => {
                assert_eq!((*var, &**got), ("https_proxy", cause.kind()), "{input:?}");
            }
            k => panic!("{input:?}: proxy_for failed with {k:?}"),
        },
        (d, p) => panic!("{input:?}: decision {d:?} for {p:?}"),
    }
}
