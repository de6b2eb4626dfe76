//! Proxy settings from environment variables, taken as an input map (the core never reads the
//! process environment: the driver passes `std::env::vars()` or anything else).

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::error::ErrorKind;
use crate::url::Scheme;

use super::no_proxy::NoProxy;
use super::proxy::Proxy;
use super::{Diagnostic, NoProxySource};

/// The variables read, in no particular order.
const NAMES: [&str; 9] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "REQUEST_METHOD",
];

/// A proxy variable that was set, parsed or not.
#[derive(Clone, Debug, PartialEq, Eq)]
struct EnvProxy {
    var: &'static str,
    proxy: Result<Proxy, ErrorKind>,
}

/// The proxy layer read from environment variables.
///
/// For a URL of scheme `s`: `s_proxy` (lower case) first, then `S_PROXY`, then `all_proxy`,
/// then `ALL_PROXY`. `no_proxy` is read before `NO_PROXY`. Values are trimmed; an empty value
/// counts as unset. A value without a scheme means `http://`.
///
/// A value that does not parse (an unknown scheme such as `socks5://`, a bad port) is not
/// skipped: [`ProxyConfig::proxy_for`](crate::proxy::ProxyConfig::proxy_for) fails with
/// [`ErrorKind::InvalidProxyEnv`] for every URL that would use it.
///
/// When `REQUEST_METHOD` is set (with any value) the program runs as a CGI script, where
/// `HTTP_PROXY` may come from a request's `Proxy:` header ("httpoxy", CVE-2016-5385): upper-case
/// `HTTP_PROXY` is then ignored and [`Diagnostic::CgiHttpProxyIgnored`] reported. Lower-case
/// `http_proxy` still counts.
///
/// ```
/// use ferry_proto::Scheme;
/// use ferry_proto::proxy::EnvProxies;
/// let env = EnvProxies::from_vars([("HTTPS_PROXY", "proxy.corp:3128"), ("no_proxy", ".corp")]);
/// let (var, proxy) = env.proxy_for_scheme(Scheme::Https).unwrap();
/// assert_eq!((var, proxy.unwrap().to_string()), ("HTTPS_PROXY", "http://proxy.corp:3128".into()));
/// assert!(env.proxy_for_scheme(Scheme::Http).is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvProxies {
    http: Option<EnvProxy>,
    https: Option<EnvProxy>,
    all: Option<EnvProxy>,
    no_proxy: Option<(&'static str, NoProxy)>,
    cgi_ignored_http_proxy: bool,
}

impl EnvProxies {
    /// Reads the proxy variables out of `vars` (names are case-sensitive; other variables are
    /// ignored; when a name repeats, the last value wins).
    #[must_use]
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut seen: BTreeMap<&'static str, String> = BTreeMap::new();
        for (k, v) in vars {
            if let Some(name) = NAMES.iter().find(|n| **n == k.as_ref()) {
                seen.insert(name, v.as_ref().trim().to_string());
            }
        }
        let set = |name: &str| seen.get(name).is_some_and(|v| !v.is_empty());
        let cgi = seen.contains_key("REQUEST_METHOD");
        let first = |names: &[&'static str]| -> Option<EnvProxy> {
            let var = names.iter().copied().find(|n| set(n))?;
            let value = seen.get(var).map_or("", String::as_str);
            Some(EnvProxy { var, proxy: Proxy::parse(value).map_err(|e| e.kind().clone()) })
        };
        let http = if cgi { first(&["http_proxy"]) } else { first(&["http_proxy", "HTTP_PROXY"]) };
        let no_proxy = ["no_proxy", "NO_PROXY"]
            .into_iter()
            .find(|n| set(n))
            .map(|var| (var, NoProxy::parse(seen.get(var).map_or("", String::as_str))));
        EnvProxies {
            http,
            https: first(&["https_proxy", "HTTPS_PROXY"]),
            all: first(&["all_proxy", "ALL_PROXY"]),
            no_proxy,
            cgi_ignored_http_proxy: cgi && !set("http_proxy") && set("HTTP_PROXY"),
        }
    }

    /// The variable that applies to URLs of `scheme` and its parsed value (`Err`: why the value
    /// cannot be used), or `None` when none is set.
    #[must_use]
    pub fn proxy_for_scheme(
        &self,
        scheme: Scheme,
    ) -> Option<(&'static str, Result<&Proxy, &ErrorKind>)> {
        let specific = match scheme {
            Scheme::Http => &self.http,
            Scheme::Https => &self.https,
        };
        specific.as_ref().or(self.all.as_ref()).map(|e| (e.var, e.proxy.as_ref()))
    }

    /// The `no_proxy` (or `NO_PROXY`) list and the variable it came from, if set and not empty.
    #[must_use]
    pub fn no_proxy(&self) -> Option<(&'static str, &NoProxy)> {
        self.no_proxy.as_ref().map(|(var, list)| (*var, list))
    }

    /// Whether upper-case `HTTP_PROXY` was set but ignored because `REQUEST_METHOD` is set.
    #[must_use]
    pub fn cgi_ignored_http_proxy(&self) -> bool {
        self.cgi_ignored_http_proxy
    }

    /// Whether no proxy variable is set (`no_proxy` aside).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none() && self.all.is_none()
    }

    /// Everything worth telling the user about these variables: unparseable `NO_PROXY` entries
    /// and an ignored `HTTP_PROXY`. (Unusable proxy values are errors, raised when used.)
    #[must_use]
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        if self.cgi_ignored_http_proxy {
            out.push(Diagnostic::CgiHttpProxyIgnored);
        }
        if let Some((var, list)) = &self.no_proxy {
            out.extend(list.invalid_entries().iter().map(|entry| {
                Diagnostic::InvalidNoProxyEntry {
                    source: NoProxySource::Env { var },
                    entry: entry.clone(),
                }
            }));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    /// With `vars`, a URL of `scheme` uses variable `var` with proxy `display` (or gets `error`).
    #[track_caller]
    fn check(
        vars: &[(&str, &str)],
        scheme: Scheme,
        expected: Option<(&str, core::result::Result<&str, ErrorKind>)>,
    ) {
        let env = EnvProxies::from_vars(vars.iter().copied());
        let got = env
            .proxy_for_scheme(scheme)
            .map(|(var, p)| (var, p.map(ToString::to_string).map_err(Clone::clone)));
        let want = expected.map(|(var, p)| (var, p.map(ToString::to_string)));
        assert_eq!(got, want, "{vars:?} {scheme}");
    }

    #[test]
    fn variables() {
        use Scheme::{Http, Https};
        let p = |s| Ok(s);
        // <scheme>_proxy lower case first, then upper case (curl, Requests).
        check(
            &[("http_proxy", "a:1"), ("HTTP_PROXY", "b:1")],
            Http,
            Some(("http_proxy", p("http://a:1"))),
        );
        check(&[("HTTP_PROXY", "b:1")], Http, Some(("HTTP_PROXY", p("http://b:1"))));
        check(
            &[("https_proxy", "a:1"), ("HTTPS_PROXY", "b:1")],
            Https,
            Some(("https_proxy", p("http://a:1"))),
        );
        check(&[("HTTPS_PROXY", "https://b:1")], Https, Some(("HTTPS_PROXY", p("https://b:1"))));
        // The scheme's variable never serves the other scheme.
        check(&[("http_proxy", "a:1")], Https, None);
        check(&[("https_proxy", "a:1")], Http, None);
        // Then all_proxy, then ALL_PROXY.
        check(
            &[("all_proxy", "c:1"), ("ALL_PROXY", "d:1")],
            Https,
            Some(("all_proxy", p("http://c:1"))),
        );
        check(&[("ALL_PROXY", "d:1")], Http, Some(("ALL_PROXY", p("http://d:1"))));
        check(
            &[("ALL_PROXY", "d:1"), ("https_proxy", "a:1")],
            Https,
            Some(("https_proxy", p("http://a:1"))),
        );
        // An empty (or blank) value is unset: the next variable counts.
        check(
            &[("http_proxy", ""), ("HTTP_PROXY", "b:1")],
            Http,
            Some(("HTTP_PROXY", p("http://b:1"))),
        );
        check(
            &[("https_proxy", "  "), ("all_proxy", "c:1")],
            Https,
            Some(("all_proxy", p("http://c:1"))),
        );
        check(&[("http_proxy", ""), ("HTTP_PROXY", "")], Http, None);
        // A value without a scheme means http://.
        check(
            &[("https_proxy", "proxy.corp:3128")],
            Https,
            Some(("https_proxy", p("http://proxy.corp:3128"))),
        );
        // Names are case-sensitive: only all-lower and all-upper count.
        check(&[("Http_Proxy", "a:1")], Http, None);
        // An unknown scheme is an error the user sees, not a silent skip to the next variable.
        check(
            &[("ALL_PROXY", "socks5h://localhost:1080"), ("all_proxy", "")],
            Https,
            Some((
                "ALL_PROXY",
                Err(ErrorKind::UnsupportedProxyScheme { scheme: "socks5h".into() }),
            )),
        );
        check(
            &[("https_proxy", "http://p:x"), ("all_proxy", "c:1")],
            Https,
            Some((
                "https_proxy",
                Err(ErrorKind::InvalidProxyUrl {
                    what: crate::route::ProxyUrlError::Url(crate::url::UrlError::InvalidPort),
                }),
            )),
        );
        // CGI (REQUEST_METHOD set): upper-case HTTP_PROXY is ignored (httpoxy, CVE-2016-5385),
        // like Python's urllib; lower case and the other variables still count.
        check(&[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "evil:1")], Http, None);
        check(
            &[("REQUEST_METHOD", ""), ("HTTP_PROXY", "evil:1"), ("all_proxy", "c:1")],
            Http,
            Some(("all_proxy", p("http://c:1"))),
        );
        check(
            &[("REQUEST_METHOD", "GET"), ("http_proxy", "a:1")],
            Http,
            Some(("http_proxy", p("http://a:1"))),
        );
        check(
            &[("REQUEST_METHOD", "GET"), ("HTTPS_PROXY", "b:1")],
            Https,
            Some(("HTTPS_PROXY", p("http://b:1"))),
        );
        // The last duplicate wins.
        check(
            &[("http_proxy", "a:1"), ("http_proxy", "a:2")],
            Http,
            Some(("http_proxy", p("http://a:2"))),
        );
    }

    #[track_caller]
    fn check_diagnostics(vars: &[(&str, &str)], expected: &[Diagnostic]) {
        let env = EnvProxies::from_vars(vars.iter().copied());
        assert_eq!(env.diagnostics(), expected, "{vars:?}");
    }

    #[test]
    fn diagnostics() {
        check_diagnostics(
            &[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "evil:1")],
            &[Diagnostic::CgiHttpProxyIgnored],
        );
        // Nothing was ignored when lower case is set, or when HTTP_PROXY is empty.
        check_diagnostics(
            &[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "x:1"), ("http_proxy", "a:1")],
            &[],
        );
        check_diagnostics(&[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "")], &[]);
        check_diagnostics(&[("HTTP_PROXY", "x:1")], &[]);
        // Unparseable NO_PROXY entries are reported with their variable; no_proxy first.
        check_diagnostics(
            &[("NO_PROXY", "a/99"), ("no_proxy", "ok.test, 1.2.3.4/40")],
            &[Diagnostic::InvalidNoProxyEntry {
                source: NoProxySource::Env { var: "no_proxy" },
                entry: crate::route::InvalidNoProxyEntry {
                    entry: "1.2.3.4/40".into(),
                    reason: crate::route::NoProxyEntryError::CidrPrefixTooLong,
                },
            }],
        );
        let env = EnvProxies::from_vars([("no_proxy", ""), ("NO_PROXY", "x.test")]);
        assert_eq!(env.no_proxy().map(|(v, l)| (v, l.entries().len())), Some(("NO_PROXY", 1)));
        assert!(env.is_empty());
    }
}
