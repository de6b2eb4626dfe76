//! The per-scheme proxy map, after Python Requests' `proxies` dict.

use alloc::collections::BTreeMap;
use core::fmt;
use core::net::Ipv4Addr;

use crate::error::{ErrorKind, Result};
use crate::url::{Host, Scheme, Url};

/// What is wrong with a [`ProxyKey`] ([`ErrorKind::InvalidProxyKey`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyKeyError {
    /// The scheme is not `http`, `https` or `all`.
    Scheme,
    /// A port, path or userinfo besides the host.
    NotJustHost,
    /// The host does not parse, or would not read back as the same host.
    InvalidHost,
}

impl fmt::Display for ProxyKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProxyKeyError::Scheme => "scheme is not http, https or all",
            ProxyKeyError::NotJustHost => "key has a port, path or userinfo besides the host",
            ProxyKeyError::InvalidHost => "key has an invalid host",
        })
    }
}

use super::no_proxy::NoProxy;
use super::proxy::Proxy;

/// A key of a [`Proxies`] map: a target scheme or `all`, optionally for one host.
///
/// Written like Requests' keys: `http`, `https`, `all`, `https://example.com`,
/// `all://[::1]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProxyKey {
    scheme: Option<Scheme>,
    host: Option<Host>,
}

impl ProxyKey {
    /// `http` or `https`: every request to a URL of this scheme.
    #[must_use]
    pub fn for_scheme(scheme: Scheme) -> Self {
        ProxyKey { scheme: Some(scheme), host: None }
    }

    /// `all`: every request.
    #[must_use]
    pub fn all() -> Self {
        ProxyKey { scheme: None, host: None }
    }

    /// `<scheme>://<host>` (`scheme` `None` for `all://<host>`): requests to this host only. A
    /// domain's one trailing dot is ignored.
    #[must_use]
    pub fn for_host(scheme: Option<Scheme>, host: Host) -> Self {
        ProxyKey { scheme, host: Some(normalize(host)) }
    }

    /// Parses `http`, `https`, `all` or `<one of those>://<host>`, case-insensitively.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidProxyKey`] for anything else (a port or path included). The error
    /// does not repeat the key.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |what| ErrorKind::InvalidProxyKey { what };
        let (scheme, host) = match s.split_once("://") {
            Some((scheme, host)) => (scheme, Some(host)),
            None => (s, None),
        };
        let scheme = if scheme.eq_ignore_ascii_case("all") {
            None
        } else {
            Some(Scheme::parse(scheme).ok_or(bad(ProxyKeyError::Scheme))?)
        };
        let host = match host {
            None => None,
            Some(h) => {
                let h = h.strip_suffix('/').unwrap_or(h);
                if h.starts_with('[') {
                    if !h.ends_with(']') {
                        return Err(bad(ProxyKeyError::NotJustHost).into());
                    }
                } else if h.contains(['/', '?', '#', '@']) || h.matches(':').count() == 1 {
                    return Err(bad(ProxyKeyError::NotJustHost).into());
                }
                // A domain's one trailing dot is dropped; what is left must read back as the
                // same host (not `a.`, empty or an IPv4 address), or the key would show as one
                // that parses to another.
                if let Some(rest) = h.strip_suffix('.') {
                    if rest.is_empty() || rest.ends_with('.') || rest.parse::<Ipv4Addr>().is_ok() {
                        return Err(bad(ProxyKeyError::InvalidHost).into());
                    }
                }
                Some(Host::parse(h).map_err(|_| bad(ProxyKeyError::InvalidHost))?)
            }
        };
        Ok(match host {
            Some(host) => ProxyKey::for_host(scheme, host),
            None => ProxyKey { scheme, host: None },
        })
    }

    /// The target scheme, `None` for `all`.
    #[must_use]
    pub fn target_scheme(&self) -> Option<Scheme> {
        self.scheme
    }

    /// The host, for a per-host key.
    #[must_use]
    pub fn host(&self) -> Option<&Host> {
        self.host.as_ref()
    }
}

impl fmt::Display for ProxyKey {
    /// As Requests writes it: `https`, `all://example.com`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme.map_or("all", Scheme::as_str))?;
        match &self.host {
            Some(h) => write!(f, "://{h}"),
            None => Ok(()),
        }
    }
}

/// A domain's one trailing dot dropped (a [`Domain`](crate::Domain) is lower-case already).
fn normalize(host: Host) -> Host {
    match host {
        Host::Domain(d) => Host::Domain(d.without_trailing_dot()),
        ip => ip,
    }
}

/// One layer of proxy configuration (the client's, or one request's), like Requests'
/// `proxies` dict: proxies by [`ProxyKey`], plus an optional `no_proxy` list.
///
/// For a URL the most specific key wins, in Requests' order: `scheme://host`, `scheme`,
/// `all://host`, `all`. A key may map to "direct" ([`Proxies::direct`], Requests' `None`
/// value), which stops the lookup: no lower layer is asked.
///
/// ```
/// use ferry_proto::Url;
/// use ferry_proto::proxy::{Proxies, Proxy};
/// let proxies = Proxies::from_pairs([
///     ("https", "http://proxy.corp:3128"),
///     ("https://intranet.corp", ""),
///     ("no_proxy", "localhost"),
/// ])
/// .unwrap();
/// let (key, proxy) = proxies.select(&Url::parse("https://example.com/").unwrap()).unwrap();
/// assert_eq!((key.to_string(), proxy.unwrap().to_string()), ("https".into(), "http://proxy.corp:3128".into()));
/// let (_, proxy) = proxies.select(&Url::parse("https://intranet.corp/").unwrap()).unwrap();
/// assert!(proxy.is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proxies {
    map: BTreeMap<ProxyKey, Option<Proxy>>,
    no_proxy: Option<NoProxy>,
}

impl Proxies {
    /// No entries, no `no_proxy`: this layer decides nothing.
    #[must_use]
    pub fn new() -> Self {
        Proxies::default()
    }

    /// Builds a layer from Requests-style string pairs; see [`Proxies::insert_str`].
    ///
    /// # Errors
    /// As [`Proxies::insert_str`], for the first bad pair.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut out = Proxies::new();
        for (k, v) in pairs {
            out.insert_str(k.as_ref(), v.as_ref())?;
        }
        Ok(out)
    }

    /// Sets one Requests-style entry: `no_proxy` takes a `NO_PROXY` list; any other key (see
    /// [`ProxyKey::parse`]) takes a proxy URL (see [`Proxy::parse`]), or an empty string for
    /// "direct".
    ///
    /// # Errors
    /// [`ErrorKind::InvalidProxyKey`], or the errors of [`Proxy::parse`].
    pub fn insert_str(&mut self, key: &str, value: &str) -> Result<()> {
        if key.eq_ignore_ascii_case("no_proxy") {
            self.no_proxy = Some(NoProxy::parse(value));
            return Ok(());
        }
        let key = ProxyKey::parse(key)?;
        let proxy = match value.trim() {
            "" => None,
            v => Some(Proxy::parse(v)?),
        };
        self.map.insert(key, proxy);
        Ok(())
    }

    /// Sets `key` to `proxy` (`None`: direct), returning what it replaced.
    pub fn insert(&mut self, key: ProxyKey, proxy: Option<Proxy>) -> Option<Option<Proxy>> {
        self.map.insert(key, proxy)
    }

    /// With `proxy` for `http://` URLs.
    #[must_use]
    pub fn http(self, proxy: Proxy) -> Self {
        self.with(ProxyKey::for_scheme(Scheme::Http), Some(proxy))
    }

    /// With `proxy` for `https://` URLs.
    #[must_use]
    pub fn https(self, proxy: Proxy) -> Self {
        self.with(ProxyKey::for_scheme(Scheme::Https), Some(proxy))
    }

    /// With `proxy` for every URL not matched by a more specific key.
    #[must_use]
    pub fn all(self, proxy: Proxy) -> Self {
        self.with(ProxyKey::all(), Some(proxy))
    }

    /// With `key` going straight to the origin, whatever lower layers say.
    #[must_use]
    pub fn direct(self, key: ProxyKey) -> Self {
        self.with(key, None)
    }

    /// With `key` set to `proxy` (`None`: direct).
    #[must_use]
    pub fn with(mut self, key: ProxyKey, proxy: Option<Proxy>) -> Self {
        self.map.insert(key, proxy);
        self
    }

    /// With this `no_proxy` list, which replaces the lower layers' (an empty list means no
    /// exclusions at all, even when the environment has `NO_PROXY`).
    #[must_use]
    pub fn with_no_proxy(mut self, list: NoProxy) -> Self {
        self.no_proxy = Some(list);
        self
    }

    /// Sets or clears (`None`: defer to lower layers) this layer's `no_proxy` list.
    pub fn set_no_proxy(&mut self, list: Option<NoProxy>) {
        self.no_proxy = list;
    }

    /// This layer's `no_proxy` list, if set.
    #[must_use]
    pub fn no_proxy(&self) -> Option<&NoProxy> {
        self.no_proxy.as_ref()
    }

    /// The entry for `key`: `None` when absent, `Some(None)` when set to direct.
    #[must_use]
    pub fn get(&self, key: &ProxyKey) -> Option<Option<&Proxy>> {
        self.map.get(key).map(Option::as_ref)
    }

    /// Whether this layer has no proxy entries (its `no_proxy` list aside).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The most specific entry for `url` (see the type's docs) and its key; `Some((key, None))`
    /// when that entry says "direct", `None` when this layer has nothing to say.
    #[must_use]
    pub fn select(&self, url: &Url) -> Option<(&ProxyKey, Option<&Proxy>)> {
        if self.map.is_empty() {
            return None;
        }
        let host = normalize(url.host().clone());
        let scheme = Some(url.scheme());
        let keys = [
            ProxyKey { scheme, host: Some(host.clone()) },
            ProxyKey { scheme, host: None },
            ProxyKey { scheme: None, host: Some(host) },
            ProxyKey::all(),
        ];
        keys.iter().find_map(|k| self.map.get_key_value(k)).map(|(k, p)| (k, p.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::{String, ToString};

    #[track_caller]
    fn check_key(input: &str, expected: core::result::Result<&str, ProxyKeyError>) {
        match (ProxyKey::parse(input), expected) {
            (Ok(k), Ok(display)) => assert_eq!(k.to_string(), display, "{input}"),
            (Err(e), Err(what)) => {
                assert_eq!(e.kind(), &ErrorKind::InvalidProxyKey { what }, "{input}");
            }
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn keys() {
        // Requests' keys: scheme, `all`, `scheme://host`, `all://host`.
        check_key("http", Ok("http"));
        check_key("HTTPS", Ok("https"));
        check_key("all", Ok("all"));
        check_key("https://Example.COM", Ok("https://example.com"));
        check_key("all://example.com.", Ok("all://example.com"));
        check_key("http://[::1]", Ok("http://[::1]"));
        check_key("http://10.0.0.1/", Ok("http://10.0.0.1"));
        check_key("ftp", Err(ProxyKeyError::Scheme));
        check_key("", Err(ProxyKeyError::Scheme));
        check_key("socks5://h", Err(ProxyKeyError::Scheme));
        check_key("http://h:80", Err(ProxyKeyError::NotJustHost));
        check_key("http://[::1]:80", Err(ProxyKeyError::NotJustHost));
        check_key("http://h/x", Err(ProxyKeyError::NotJustHost));
        check_key("http://u:pw@h", Err(ProxyKeyError::NotJustHost));
        check_key("http://", Err(ProxyKeyError::InvalidHost));
        check_key("http://h h", Err(ProxyKeyError::InvalidHost));
        // A key's Display parses back to it, so a dot is left after the one dropped at most.
        // Found by the proxy_url fuzz target (fuzz/regressions/proxy_url/key-*).
        check_key("http://a..", Err(ProxyKeyError::InvalidHost));
        check_key("all://..", Err(ProxyKeyError::InvalidHost));
        check_key("https://.", Err(ProxyKeyError::InvalidHost));
        check_key("http://127.0.0.1.", Err(ProxyKeyError::InvalidHost));
        check_key("http://a..b", Ok("http://a..b"));
        check_key("http://1.2.3.4.5.", Ok("http://1.2.3.4.5"));
    }

    /// For `url`, the key chosen and the proxy it maps to (`""` for direct).
    #[track_caller]
    fn check_select(pairs: &[(&str, &str)], url: &str, expected: Option<(&str, &str)>) {
        let proxies = Proxies::from_pairs(pairs.iter().copied()).unwrap();
        let url = Url::parse(url).unwrap();
        let got = proxies
            .select(&url)
            .map(|(k, p)| (k.to_string(), p.map_or(String::new(), ToString::to_string)));
        let want = expected.map(|(k, p)| (k.to_string(), p.to_string()));
        assert_eq!(got, want, "{pairs:?} {url}");
    }

    #[test]
    fn selection_order() {
        let all = [
            ("http://h.test", "http://a:1"),
            ("http", "http://b:1"),
            ("all://h.test", "http://c:1"),
            ("all", "http://d:1"),
        ];
        // Requests' select_proxy: scheme://host, scheme, all://host, all.
        check_select(&all, "http://h.test/", Some(("http://h.test", "http://a:1")));
        check_select(&all[1..], "http://h.test/", Some(("http", "http://b:1")));
        check_select(&all[2..], "http://h.test/", Some(("all://h.test", "http://c:1")));
        check_select(&all[3..], "http://h.test/", Some(("all", "http://d:1")));
        check_select(&all, "https://h.test/", Some(("all://h.test", "http://c:1")));
        check_select(&all, "https://other.test/", Some(("all", "http://d:1")));
        check_select(&all[..2], "https://other.test/", None);
        check_select(&[], "https://other.test/", None);
        // Per-host keys compare hosts case-insensitively, one trailing dot ignored, no subdomains.
        check_select(&all[..1], "http://H.TEST./", Some(("http://h.test", "http://a:1")));
        check_select(&all[..1], "http://x.h.test/", None);
        // IPv6 host keys.
        check_select(
            &[("https://[::1]", "p:1")],
            "https://[::1]:8443/",
            Some(("https://[::1]", "http://p:1")),
        );
        // An empty value means direct (Requests' None) and stops the lookup.
        check_select(&[("https", ""), ("all", "http://d:1")], "https://x/", Some(("https", "")));
    }

    #[test]
    fn no_proxy_entry() {
        let p = Proxies::from_pairs([("no_proxy", ""), ("http", "p:1")]).unwrap();
        assert_eq!(p.no_proxy(), Some(&NoProxy::empty()));
        let p = Proxies::from_pairs([("NO_PROXY", "a.test")]).unwrap();
        assert_eq!(p.no_proxy().map(|n| n.entries().len()), Some(1));
        assert!(p.is_empty());
        let e = Proxies::from_pairs([("http", "socks5://x")]).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::UnsupportedProxyScheme { scheme: "socks5".into() });
    }
}
