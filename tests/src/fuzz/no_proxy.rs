//! The `no_proxy` target: `NO_PROXY` lists and the hosts they are asked about.

use std::net::IpAddr;

use ferry_proto::proxy::{EnvProxies, NoProxy, NoProxyEntry, NoProxyRule, ProxyConfig};
use ferry_proto::{Domain, Host, Url};

const PROXY: &str = "http://proxy.invalid:3128";

/// The `no_proxy` fuzz target: the input, as lossy UTF-8, is a `NO_PROXY` list on its first
/// line and one host or URL on each further line (`Url::parse`, else `Host::parse` on port 80;
/// a line that is neither is skipped, since no public constructor builds such a host).
/// Properties:
///
/// - nothing panics; a line `Host::parse` refuses is refused by `Domain::parse` too; every non-empty piece of the list (split on commas and whitespace) is an
///   entry or an invalid entry; a domain rule is lower-case, non-empty, with no empty label and
///   only `ALPHA DIGIT - . _ ~`;
/// - matching agrees with a naive oracle over the parsed rules: the first entry whose port (if
///   any) is the effective port and whose rule covers the host: `*` every host; a domain the
///   host itself or a host ending in `.` + domain (case-insensitive, one trailing dot of the
///   host ignored); an IP the same address; a CIDR range by its leading bits; never across
///   families or between names and addresses;
/// - a `*` entry makes every host match, on every port;
/// - a domain entry never matches a host that merely ends with it: the byte before is a dot;
/// - [`ProxyConfig`] with the list in `NO_PROXY` and a proxy in `http_proxy`/`https_proxy`
///   goes direct for a URL exactly when the list matches it, reports the same entry, and
///   reports each invalid entry as a diagnostic.
pub fn no_proxy(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let list = lines.next().unwrap_or_default();
    let parsed = NoProxy::parse(list);
    check_parse(list, &parsed);

    let env =
        EnvProxies::from_vars([("http_proxy", PROXY), ("https_proxy", PROXY), ("NO_PROXY", list)]);
    let config = ProxyConfig::new().with_env(env);
    let env_list =
        if list.trim().is_empty() { NoProxy::empty() } else { NoProxy::parse(list.trim()) };

    for line in lines.take(16) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (host, port, url) = match Url::parse(line) {
            Ok(url) => (url.host().clone(), url.port_or_default(), Some(url)),
            Err(_) => match Host::parse(line) {
                Ok(host) => (host, 80, None),
                Err(_) => {
                    assert!(Domain::parse(line).is_err(), "{line:?}: a domain but no host");
                    continue;
                }
            },
        };
        for port in [port, 443, 8080] {
            check_match(&parsed, &host, port);
        }
        if let Some(url) = url {
            assert_eq!(
                parsed.matches_url(&url),
                parsed.matches(url.host(), url.port_or_default()),
                "{list:?} {line:?}"
            );
            let decision = config
                .proxy_for(&url)
                .unwrap_or_else(|e| panic!("{list:?} {line:?}: proxy_for: {e}"));
            let expected = env_list.matches_url(&url);
            assert_eq!(
                decision.no_proxy_match().map(|m| &m.entry),
                expected,
                "{list:?} {line:?}: the decision's NO_PROXY entry"
            );
            assert_eq!(decision.proxy().is_none(), expected.is_some(), "{list:?} {line:?}");
            let invalid = decision.diagnostics().len();
            assert_eq!(invalid, env_list.invalid_entries().len(), "{list:?}: diagnostics");
        }
    }
}

fn check_parse(list: &str, parsed: &NoProxy) {
    let pieces: Vec<&str> = list
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    assert_eq!(
        parsed.entries().len() + parsed.invalid_entries().len(),
        pieces.len(),
        "{list:?}: pieces lost or invented"
    );
    for e in parsed.entries() {
        assert!(pieces.contains(&e.as_str()), "{list:?}: entry {:?} is no piece", e.as_str());
        match e.rule() {
            NoProxyRule::All => assert_eq!(e.as_str(), "*"),
            NoProxyRule::Domain(name) => {
                assert!(!name.is_empty(), "{list:?}: empty domain");
                assert!(
                    name.bytes().all(|b| {
                        b.is_ascii_lowercase()
                            || b.is_ascii_digit()
                            || matches!(b, b'-' | b'.' | b'_' | b'~')
                    }),
                    "{list:?}: domain {name:?}"
                );
                assert!(!name.split('.').any(str::is_empty), "{list:?}: empty label in {name:?}");
                assert!(
                    e.as_str().to_ascii_lowercase().contains(name.as_str()),
                    "{list:?}: {name:?} is not from {:?}",
                    e.as_str()
                );
            }
            NoProxyRule::Ip(_) => {}
            NoProxyRule::Cidr { network, prefix } => {
                let bits = if network.is_ipv4() { 32 } else { 128 };
                assert!(*prefix <= bits, "{list:?}: /{prefix}");
                assert_eq!(&mask(*network, *prefix), network, "{list:?}: host bits set");
            }
        }
    }
    for bad in parsed.invalid_entries() {
        assert!(pieces.contains(&bad.entry.as_str()), "{list:?}: invalid {bad}");
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let keep = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            IpAddr::V4((u32::from(a) & keep).into())
        }
        IpAddr::V6(a) => {
            let keep = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            IpAddr::V6((u128::from(a) & keep).into())
        }
    }
}

/// The oracle: does `entry` cover `host` on `port`?
fn covers(entry: &NoProxyEntry, host: &Host, port: u16) -> bool {
    if entry.port().is_some_and(|p| p != port) {
        return false;
    }
    let addr = match host {
        Host::Ipv4(a) => Some(IpAddr::V4(*a)),
        Host::Ipv6(a) => Some(IpAddr::V6(*a)),
        Host::Domain(_) => None,
    };
    match (entry.rule(), host, addr) {
        (NoProxyRule::All, _, _) => true,
        (NoProxyRule::Domain(name), Host::Domain(h), _) => {
            let h = h.as_str();
            let h = h.strip_suffix('.').unwrap_or(h).to_ascii_lowercase();
            h == *name || h.ends_with(&format!(".{name}"))
        }
        (NoProxyRule::Ip(ip), _, Some(a)) => *ip == a,
        (NoProxyRule::Cidr { network, prefix }, _, Some(a)) => {
            a.is_ipv4() == network.is_ipv4() && mask(a, *prefix) == *network
        }
        _ => false,
    }
}

fn check_match(list: &NoProxy, host: &Host, port: u16) {
    let got = list.matches(host, port);
    let want = list.entries().iter().find(|e| covers(e, host, port));
    assert_eq!(got, want, "{list:?} on {host:?} port {port}");
    if list.entries().iter().any(|e| e.rule() == &NoProxyRule::All) {
        assert!(got.is_some(), "'*' did not bypass {host:?}");
    }
    if let (Some(e), Host::Domain(h)) = (got, host) {
        if let NoProxyRule::Domain(name) = e.rule() {
            let h = h.as_str();
            let h = h.strip_suffix('.').unwrap_or(h).as_bytes();
            if h.len() > name.len() {
                assert_eq!(
                    h[h.len() - name.len() - 1],
                    b'.',
                    "{name:?} matched {host:?} inside a label"
                );
            }
        }
    }
}
