//! Routes: which way a request goes, decided as pure logic.
//!
//! A request goes direct, is forwarded in absolute-form through an HTTP proxy, or is tunnelled
//! with CONNECT; the proxy may itself be spoken to over TLS (`https://` proxy). This module
//! decides which, once, for every driver; the drivers only carry it out. It does no I/O, reads
//! no environment (variables come in as a map, [`EnvProxies::from_vars`]) and resolves no name:
//! `NO_PROXY` matching is string and integer work.
//!
//! The rules are documented once, on [`ProxyConfig`] (this module is private).

mod env;
mod key;
mod no_proxy;
mod proxies;
mod proxy;

use alloc::vec::Vec;
use core::fmt;

use crate::auth::ProxyAuth;
use crate::connect::Connect;
use crate::error::{ErrorKind, Result};
use crate::request::Request;
use crate::url::{Authority, Scheme, Url};

pub use env::EnvProxies;
pub use key::RouteKey;
pub use no_proxy::{InvalidNoProxyEntry, NoProxy, NoProxyEntry, NoProxyEntryError, NoProxyRule};
pub use proxies::{Proxies, ProxyKey, ProxyKeyError};
pub use proxy::{Proxy, ProxyMode, ProxyUrlError};

/// Where a chosen proxy (or an explicit "direct") came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProxySource {
    /// The request's own [`Proxies`], under this key.
    PerRequest {
        /// The key that matched.
        key: ProxyKey,
    },
    /// The client's [`Proxies`], under this key.
    Client {
        /// The key that matched.
        key: ProxyKey,
    },
    /// An environment variable.
    Env {
        /// Its name, e.g. `"HTTPS_PROXY"`.
        var: &'static str,
    },
}

impl ProxySource {
    /// Whether the proxy was configured through the API rather than the environment.
    #[must_use]
    pub fn is_explicit(&self) -> bool {
        !matches!(self, ProxySource::Env { .. })
    }
}

impl fmt::Display for ProxySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySource::PerRequest { key } => {
                write!(f, "the request's {:?} entry", DisplayAsStr(key))
            }
            ProxySource::Client { key } => write!(f, "the client's {:?} entry", DisplayAsStr(key)),
            ProxySource::Env { var } => write!(f, "environment variable {var}"),
        }
    }
}

/// Where the `NO_PROXY` list in effect came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NoProxySource {
    /// The request's own [`Proxies`].
    PerRequest,
    /// The client's [`Proxies`].
    Client,
    /// An environment variable (`no_proxy` or `NO_PROXY`).
    Env {
        /// Its name.
        var: &'static str,
    },
}

impl fmt::Display for NoProxySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoProxySource::PerRequest => f.write_str("the request's no_proxy"),
            NoProxySource::Client => f.write_str("the client's no_proxy"),
            NoProxySource::Env { var } => write!(f, "environment variable {var}"),
        }
    }
}

/// The `NO_PROXY` entry that sent a request direct, and where the list came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NoProxyMatch {
    /// The entry.
    pub entry: NoProxyEntry,
    /// The list's source.
    pub source: NoProxySource,
}

/// Something about the proxy configuration worth telling the user; never fatal.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Diagnostic {
    /// A `NO_PROXY` entry that cannot be parsed; it matches nothing.
    InvalidNoProxyEntry {
        /// The list it is in.
        source: NoProxySource,
        /// The entry and why it was refused.
        entry: InvalidNoProxyEntry,
    },
    /// Upper-case `HTTP_PROXY` was set but ignored, because `REQUEST_METHOD` is set: in a CGI
    /// program it may come from a request's `Proxy:` header (httpoxy, CVE-2016-5385).
    CgiHttpProxyIgnored,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diagnostic::InvalidNoProxyEntry { source, entry } => {
                write!(f, "ignored no_proxy entry {entry} (from {source})")
            }
            Diagnostic::CgiHttpProxyIgnored => f.write_str(
                "ignored HTTP_PROXY because REQUEST_METHOD is set (in CGI it can come from a \
                 request header; use lower-case http_proxy)",
            ),
        }
    }
}

/// Why a request goes the way it goes; see [`ProxyConfig::proxy_for`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyDecision {
    candidate: Option<Proxy>,
    source: Option<ProxySource>,
    no_proxy_match: Option<NoProxyMatch>,
    diagnostics: Vec<Diagnostic>,
}

impl ProxyDecision {
    /// A decision to go direct, for no reason but that nothing is configured.
    #[must_use]
    pub fn direct() -> Self {
        ProxyDecision {
            candidate: None,
            source: None,
            no_proxy_match: None,
            diagnostics: Vec::new(),
        }
    }

    /// The proxy to use; `None` to go direct.
    #[must_use]
    pub fn proxy(&self) -> Option<&Proxy> {
        match self.no_proxy_match {
            Some(_) => None,
            None => self.candidate.as_ref(),
        }
    }

    /// The proxy the configuration chose before `NO_PROXY` was applied.
    #[must_use]
    pub fn candidate(&self) -> Option<&Proxy> {
        self.candidate.as_ref()
    }

    /// Where the chosen proxy, or an explicit "direct", came from; `None` when no layer had an
    /// entry for the URL.
    #[must_use]
    pub fn source(&self) -> Option<&ProxySource> {
        self.source.as_ref()
    }

    /// The `NO_PROXY` entry that sent the request direct, if one did.
    #[must_use]
    pub fn no_proxy_match(&self) -> Option<&NoProxyMatch> {
        self.no_proxy_match.as_ref()
    }

    /// Notes about the configuration that was consulted: unparseable `NO_PROXY` entries of the
    /// list in effect, and an ignored `HTTP_PROXY` when the environment was asked about an
    /// `http://` URL.
    #[must_use]
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The route for `url` (the URL this decision was made for).
    #[must_use]
    pub fn route(&self, url: &Url) -> Route {
        Route::new(url, self.proxy().cloned())
    }
}

impl fmt::Display for ProxyDecision {
    /// `through http://proxy:3128 (from environment variable HTTPS_PROXY)`, or `direct (...)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.proxy(), &self.source, &self.no_proxy_match) {
            (Some(proxy), Some(source), _) => write!(f, "through {proxy} (from {source})"),
            (Some(proxy), None, _) => write!(f, "through {proxy}"),
            (None, source, Some(m)) => {
                write!(
                    f,
                    "direct: no_proxy entry {:?} (from {}) matches",
                    m.entry.as_str(),
                    m.source
                )?;
                match (&self.candidate, source) {
                    (Some(p), Some(s)) => write!(f, ", instead of {p} (from {s})"),
                    (None, Some(s)) => write!(f, ", instead of the proxy from {s}"),
                    _ => Ok(()),
                }
            }
            (None, Some(source), None) => write!(f, "direct (set by {source})"),
            (None, None, None) => f.write_str("direct (no proxy configured)"),
        }
    }
}

/// The proxy configuration of a client: its own [`Proxies`] layer and, if it trusts the
/// environment, an [`EnvProxies`] layer. Requests may add a layer of their own
/// ([`ProxyConfig::proxy_for_request`]).
///
/// A request goes direct, is forwarded in absolute-form through an HTTP proxy, or is tunnelled
/// with CONNECT; the proxy may itself be spoken to over TLS (`https://` proxy). This decides
/// which, once, for every driver; the drivers only carry it out. It does no I/O, reads no
/// environment (variables come in as a map, [`EnvProxies::from_vars`]) and resolves no name:
/// `NO_PROXY` matching is string and integer work.
///
/// # Theory of operation
///
/// Three layers of configuration, highest first: one request's [`Proxies`], the client's
/// [`Proxies`], the environment ([`EnvProxies`], when the client trusts it).
///
/// 1. The proxy: the first layer with an entry for the URL decides (an entry may say
///    "direct"). Within a layer the most specific key wins (`scheme://host`, `scheme`,
///    `all://host`, `all`); in the environment `<scheme>_proxy`, `<SCHEME>_PROXY`, `all_proxy`,
///    `ALL_PROXY`.
/// 2. The `NO_PROXY` list: the first layer that sets one decides, even when it is empty (an
///    explicit empty list means no exclusions). It applies to every proxy, whichever layer chose
///    it.
/// 3. A proxy chosen and not excluded is used; its [`ProxyMode`] says whether plain HTTP is
///    forwarded or tunnelled (HTTPS is always tunnelled).
///
/// [`ProxyConfig::proxy_for`] returns the decision with its reasons ([`ProxyDecision`]): the
/// proxy, the layer or variable it came from, the `NO_PROXY` entry that matched, and
/// [`Diagnostic`]s. [`ProxyDecision::route`] turns it into a [`Route`], what the connection
/// state machine consumes, and [`Route::key`] gives the [`RouteKey`] the [`Pool`](crate::Pool)
/// files connections under.
///
/// No `Debug` or `Display` here, nor any error, shows a credential.
///
/// ```
/// use ferry_proto::Url;
/// use ferry_proto::proxy::{EnvProxies, Proxies, ProxyConfig, ProxySource};
/// let env = EnvProxies::from_vars([
///     ("https_proxy", "http://alice:s3cret@proxy.corp:3128"),
///     ("NO_PROXY", "localhost, .corp.example"),
/// ]);
/// let config = ProxyConfig::new().with_env(env);
///
/// let url = Url::parse("https://example.com/").unwrap();
/// let decision = config.proxy_for(&url).unwrap();
/// assert_eq!(decision.source(), Some(&ProxySource::Env { var: "https_proxy" }));
/// let route = decision.route(&url);
/// assert_eq!(route.tunnel().map(|a| a.to_string()), Some("example.com:443".into()));
/// assert_eq!(route.proxy().unwrap().to_string(), "http://proxy.corp:3128");
/// assert!(route.proxy_auth().is_some());
/// assert!(!format!("{route:?} {route} {decision}").contains("s3cret"));
///
/// let url = Url::parse("https://git.corp.example/").unwrap();
/// let decision = config.proxy_for(&url).unwrap();
/// assert!(decision.proxy().is_none());
/// assert_eq!(decision.no_proxy_match().unwrap().entry.as_str(), ".corp.example");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    client: Proxies,
    env: Option<EnvProxies>,
}

impl ProxyConfig {
    /// No proxies, environment not consulted: everything goes direct.
    #[must_use]
    pub fn new() -> Self {
        ProxyConfig::default()
    }

    /// With the client's own layer.
    #[must_use]
    pub fn with_proxies(mut self, client: Proxies) -> Self {
        self.client = client;
        self
    }

    /// With the environment as the lowest layer.
    #[must_use]
    pub fn with_env(mut self, env: EnvProxies) -> Self {
        self.env = Some(env);
        self
    }

    /// The client's layer.
    #[must_use]
    pub fn proxies(&self) -> &Proxies {
        &self.client
    }

    /// The environment layer, if consulted.
    #[must_use]
    pub fn env(&self) -> Option<&EnvProxies> {
        self.env.as_ref()
    }

    /// Decides the proxy for `url` with the client's and the environment's layers.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidProxyEnv`] when the URL would use an environment variable whose
    /// value cannot be used (and `NO_PROXY` does not exclude the URL).
    pub fn proxy_for(&self, url: &Url) -> Result<ProxyDecision> {
        self.proxy_for_request(url, None)
    }

    /// [`ProxyConfig::proxy_for`] with one request's own layer on top.
    ///
    /// # Errors
    /// As [`ProxyConfig::proxy_for`].
    pub fn proxy_for_request(&self, url: &Url, request: Option<&Proxies>) -> Result<ProxyDecision> {
        let mut diagnostics = Vec::new();

        // 1. The proxy: the first layer with an entry for this URL.
        let mut candidate: Option<core::result::Result<&Proxy, ErrorKind>> = None;
        let mut source = None;
        if let Some((key, proxy)) = request.and_then(|r| r.select(url)) {
            candidate = proxy.map(Ok);
            source = Some(ProxySource::PerRequest { key: key.clone() });
        } else if let Some((key, proxy)) = self.client.select(url) {
            candidate = proxy.map(Ok);
            source = Some(ProxySource::Client { key: key.clone() });
        } else if let Some(env) = &self.env {
            if url.scheme() == Scheme::Http && env.cgi_ignored_http_proxy() {
                diagnostics.push(Diagnostic::CgiHttpProxyIgnored);
            }
            if let Some((var, proxy)) = env.proxy_for_scheme(url.scheme()) {
                candidate = Some(proxy.map_err(|kind| ErrorKind::InvalidProxyEnv {
                    var,
                    cause: alloc::boxed::Box::new(kind.clone()),
                }));
                source = Some(ProxySource::Env { var });
            }
        }

        // 2. The NO_PROXY list: the first layer that sets one, even empty.
        let no_proxy = match (request.and_then(Proxies::no_proxy), self.client.no_proxy()) {
            (Some(list), _) => Some((list, NoProxySource::PerRequest)),
            (None, Some(list)) => Some((list, NoProxySource::Client)),
            (None, None) => self
                .env
                .as_ref()
                .and_then(EnvProxies::no_proxy)
                .map(|(var, list)| (list, NoProxySource::Env { var })),
        };
        let mut no_proxy_match = None;
        if let Some((list, np_source)) = no_proxy {
            diagnostics.extend(list.invalid_entries().iter().map(|entry| {
                Diagnostic::InvalidNoProxyEntry { source: np_source.clone(), entry: entry.clone() }
            }));
            if candidate.is_some() {
                no_proxy_match = list
                    .matches_url(url)
                    .map(|entry| NoProxyMatch { entry: entry.clone(), source: np_source });
            }
        }

        // 3. An unusable proxy is an error only when it would be used.
        let candidate = match candidate {
            Some(Err(kind)) if no_proxy_match.is_none() => return Err(kind.into()),
            Some(Ok(proxy)) => Some(proxy.clone()),
            _ => None,
        };
        Ok(ProxyDecision { candidate, source, no_proxy_match, diagnostics })
    }

    /// The route for `url`: [`ProxyConfig::proxy_for_request`] turned into a [`Route`].
    ///
    /// # Errors
    /// As [`ProxyConfig::proxy_for`].
    pub fn route_for(&self, url: &Url, request: Option<&Proxies>) -> Result<Route> {
        Ok(self.proxy_for_request(url, request)?.route(url))
    }
}

/// A decided route: the target, and the proxy hop if any. This is what the connection state
/// machine carries out.
///
/// | target | proxy mode | what happens |
/// |---|---|---|
/// | any | no proxy | direct to [`Route::origin`] |
/// | `http` | [`ProxyMode::Forward`] | absolute-form requests to the proxy ([`Route::is_forwarded`]) |
/// | `http` | [`ProxyMode::Tunnel`] | CONNECT to [`Route::tunnel`], then plain HTTP |
/// | `https` | either | CONNECT to [`Route::tunnel`], then TLS to the origin |
///
/// With an `https` proxy ([`Proxy::scheme`]) the connection to the proxy is TLS too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    scheme: Scheme,
    origin: Authority,
    proxy: Option<Proxy>,
}

impl Route {
    /// The route to `url` through `proxy`, or direct when `None`.
    #[must_use]
    pub fn new(url: &Url, proxy: Option<Proxy>) -> Self {
        Route { scheme: url.scheme(), origin: url.authority(), proxy }
    }

    /// The direct route to `url`.
    #[must_use]
    pub fn direct(url: &Url) -> Self {
        Route::new(url, None)
    }

    /// The target's host and effective port.
    #[must_use]
    pub fn origin(&self) -> &Authority {
        &self.origin
    }

    /// The target's scheme.
    #[must_use]
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The proxy hop, if any.
    #[must_use]
    pub fn proxy(&self) -> Option<&Proxy> {
        self.proxy.as_ref()
    }

    /// Whether requests are sent in absolute-form to the proxy (a plain-HTTP target through a
    /// proxy in [`ProxyMode::Forward`]), with `Proxy-Authorization` on each request.
    #[must_use]
    pub fn is_forwarded(&self) -> bool {
        self.scheme == Scheme::Http
            && self.proxy.as_ref().is_some_and(|p| p.mode() == ProxyMode::Forward)
    }

    /// The CONNECT target when the route is tunnelled through the proxy.
    #[must_use]
    pub fn tunnel(&self) -> Option<&Authority> {
        match self.proxy {
            Some(_) if !self.is_forwarded() => Some(&self.origin),
            _ => None,
        }
    }

    /// The authentication for the proxy, if any.
    #[must_use]
    pub fn proxy_auth(&self) -> Option<&ProxyAuth> {
        self.proxy.as_ref().and_then(Proxy::auth)
    }

    /// The CONNECT that opens this route's tunnel, to [`Route::tunnel`] with the proxy's
    /// credentials; `None` when the route goes direct or is forwarded.
    ///
    /// It is sent with [`Connection::send_connect`](crate::Connection::send_connect) on a fresh
    /// connection to the proxy: over TLS first when the proxy's scheme is `https`. The
    /// connection answers 407 challenges itself and may ask for a new transport
    /// ([`Output::Reconnect`](crate::Output::Reconnect)) when the proxy closes in between. Once
    /// it ends with [`End::Tunnel`](crate::End::Tunnel), the driver starts TLS to the origin
    /// over the tunnel when [`Route::origin_tls`], hands it the leftover bytes, and sends the
    /// requests shaped by [`Request::via`] through it.
    #[must_use]
    pub fn connect(&self) -> Option<Connect> {
        let target = self.tunnel()?.clone();
        Some(Connect::new(target).auth(self.proxy_auth().cloned()))
    }

    /// Whether the driver speaks TLS to the origin (end to end, through any tunnel).
    #[must_use]
    pub fn origin_tls(&self) -> bool {
        self.scheme == Scheme::Https
    }

    /// The pool key of this route. `tls_fingerprint` is the caller's fingerprint of every TLS
    /// setting that applies to the route (the origin's and the proxy's); it is ignored when the
    /// route uses no TLS. See [`RouteKey`].
    #[must_use]
    pub fn key(&self, tls_fingerprint: u64) -> RouteKey {
        let uses_tls = self.scheme == Scheme::Https
            || self.proxy.as_ref().is_some_and(|p| p.scheme() == Scheme::Https);
        let target =
            if self.is_forwarded() { None } else { Some((self.scheme, self.origin.clone())) };
        let proxy = self.proxy.as_ref().map(|p| {
            (p.scheme(), p.authority().clone(), p.auth().map(ProxyAuth::fingerprint), p.mode())
        });
        RouteKey::new(target, proxy, uses_tls.then_some(tls_fingerprint))
    }
}

impl Request {
    /// Shapes the request for `route`, the one way to do so: absolute-form, carrying the
    /// proxy's credentials for the connection to send, when the route forwards it through an
    /// HTTP proxy ([`Route::is_forwarded`]); origin-form without credentials otherwise (direct,
    /// or inside a tunnel, where proxy credentials must never go).
    ///
    /// An `https` request shaped by a forwarding route (one made for another URL) is refused
    /// when encoded ([`UrlError::HttpsForwarded`](crate::UrlError::HttpsForwarded)): it would
    /// cross the proxy in plaintext.
    ///
    /// ```
    /// use ferry_proto::proxy::Proxy;
    /// use ferry_proto::{Request, Route, Url};
    /// let url = Url::parse("http://example.com/").unwrap();
    /// let route = Route::new(&url, Some(Proxy::parse("http://proxy:3128").unwrap()));
    /// assert!(Request::get(url).via(&route).is_forwarded());
    /// ```
    #[must_use]
    pub fn via(mut self, route: &Route) -> Request {
        self.forwarded = route.is_forwarded();
        self.proxy_auth = if self.forwarded { route.proxy_auth().cloned() } else { None };
        self
    }
}

impl fmt::Display for Route {
    /// `https://example.com:443 tunnelled through http://proxy:3128`; never credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.origin)?;
        match &self.proxy {
            None => f.write_str(" direct"),
            Some(p) if self.is_forwarded() => write!(f, " forwarded through {p}"),
            Some(p) => write!(f, " tunnelled through {p}"),
        }
    }
}

/// Shows a `Display` value with `Debug`'s quotes.
struct DisplayAsStr<'a, T>(&'a T);

impl<T: fmt::Display> fmt::Debug for DisplayAsStr<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

#[cfg(test)]
mod tests;
