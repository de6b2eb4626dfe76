//! The client's configuration and the per-hop preparation every driver's `Client` shares: the
//! builder, the built [`Session`] (proxies, TLS, timeouts, default fields, the cookie jar),
//! the request builder, and what a session decides for each hop of a [`Call`] (the proxy and
//! its explanation, the plan, the TLS settings, the request with its cookies). A driver
//! implements [`ClientDriver`]: how to make its client from a session, and how to run a
//! request (pool waits, the exchange); nothing else.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_proto::proxy::{EnvProxies, NoProxy, Proxies, Proxy, ProxyConfig, ProxyDecision};
use ferry_proto::{
    Authority, CheckedFields, Config, Host, Method, PoolConfig, Request, ResponseHead, Route,
    RouteKey, Scheme, Timeouts, Timestamp, Url,
};
use ferry_tls::TlsConfig;

use crate::call::{Call, CallBody, Next, RedirectPolicy};
use crate::content::{ACCEPT_ENCODING, ContentDecoder};
use crate::error::{Error, ErrorKind, Phase};
use crate::plan::Plan;
use crate::settings::TlsSettings;
use crate::stack::Stack;

/// The `User-Agent` a client sends unless told otherwise.
pub const USER_AGENT: &str = concat!("ferry/", env!("CARGO_PKG_VERSION"));

/// What a driver's client supplies to the shared builders.
pub trait ClientDriver: Clone + Sized {
    /// Its request body type (a reader for a blocking driver, an async one for another).
    type Body: RequestBody + From<Vec<u8>> + From<String>;
    /// Its response type.
    type Response;
    /// The client for a built session.
    fn from_session(session: Session) -> Self;
    /// Parses a request's URL: [`Url::parse`], or [`Session::parse_url`] (which remembers
    /// the last URLs parsed) for a driver that holds its session.
    ///
    /// # Errors
    /// As [`Url::parse`].
    fn parse_url(&self, url: &str) -> Result<Url, ferry_proto::Error> {
        Url::parse(url)
    }
    /// Runs a request: [`Session::call`], then per hop [`Session::hop`], a connection, the
    /// exchange, [`Call::on_error`] or [`Session::on_head`].
    ///
    /// # Errors
    /// Any [`Error`].
    /// The request's settings are read in place (`spec`, left as the call leaves it), its
    /// body handed over.
    fn execute(
        &self,
        spec: &mut RequestSpec,
        body: Option<Self::Body>,
    ) -> Result<Self::Response, Error>;
}

/// What the decisions need to know of a request body.
pub trait RequestBody {
    /// Its framing and whether it can be sent again.
    fn call_body(&self) -> CallBody;
}

/// Builds a client of a driver (`ferry_blocking::Client`, ...). Every setting has a default that a Requests or reqwest user would
/// expect: proxies from the environment, Mozilla's roots, ten redirects, gzip and deflate
/// decoded, a pool of ten idle connections per route.
pub struct ClientBuilder<C> {
    proxies: Proxies,
    no_proxy: Option<String>,
    env: Option<EnvProxies>,
    use_env: bool,
    tunnel_headers: Vec<(String, String)>,
    origin_tls: Option<TlsConfig>,
    proxy_tls: Option<TlsConfig>,
    proxy_tls_for: Vec<(String, TlsConfig)>,
    config: Config,
    proxy_connect: Option<Duration>,
    total: Option<Duration>,
    pool_wait: Option<Duration>,
    redirects: RedirectPolicy,
    headers: Vec<(String, Bytes)>,
    user_agent: Option<String>,
    decompress: bool,
    max_connections: Option<usize>,
    pool: PoolConfig,
    max_body: u64,
    #[cfg(feature = "cookies")]
    cookies: bool,
    driver: PhantomData<fn() -> C>,
}

impl<C> Clone for ClientBuilder<C> {
    fn clone(&self) -> Self {
        ClientBuilder {
            proxies: self.proxies.clone(),
            no_proxy: self.no_proxy.clone(),
            env: self.env.clone(),
            use_env: self.use_env,
            tunnel_headers: self.tunnel_headers.clone(),
            origin_tls: self.origin_tls.clone(),
            proxy_tls: self.proxy_tls.clone(),
            proxy_tls_for: self.proxy_tls_for.clone(),
            config: self.config,
            proxy_connect: self.proxy_connect,
            total: self.total,
            pool_wait: self.pool_wait,
            redirects: self.redirects,
            headers: self.headers.clone(),
            user_agent: self.user_agent.clone(),
            decompress: self.decompress,
            max_connections: self.max_connections,
            pool: self.pool,
            max_body: self.max_body,
            #[cfg(feature = "cookies")]
            cookies: self.cookies,
            driver: PhantomData,
        }
    }
}

impl<C> fmt::Debug for ClientBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("proxies", &self.proxies)
            .field("use_env", &self.use_env)
            .field("config", &self.config)
            .field("redirects", &self.redirects)
            .field("decompress", &self.decompress)
            .finish_non_exhaustive()
    }
}

impl<C> Default for ClientBuilder<C> {
    fn default() -> Self {
        ClientBuilder {
            proxies: Proxies::new(),
            no_proxy: None,
            env: None,
            use_env: true,
            tunnel_headers: Vec::new(),
            origin_tls: None,
            proxy_tls: None,
            proxy_tls_for: Vec::new(),
            config: Config::default(),
            proxy_connect: None,
            total: None,
            pool_wait: None,
            redirects: RedirectPolicy::default(),
            headers: Vec::new(),
            user_agent: None,
            decompress: true,
            max_connections: None,
            pool: PoolConfig::default(),
            max_body: 64 << 20,
            #[cfg(feature = "cookies")]
            cookies: false,
            driver: PhantomData,
        }
    }
}

impl<C: ClientDriver> ClientBuilder<C> {
    /// Sends every request (any scheme) through `proxy` (curl's `-x`), unless `NO_PROXY` or
    /// [`ClientBuilder::no_proxy`] exempts its host.
    #[must_use]
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxies = self.proxies.all(proxy);
        self
    }

    /// Proxies per scheme and per host ([`Proxies`]); they take precedence over the
    /// environment's.
    #[must_use]
    pub fn proxies(mut self, proxies: Proxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Hosts that go direct, in `NO_PROXY`'s syntax (`localhost,.internal,10.0.0.0/8`, `*`
    /// for all); replaces the environment's list (curl's `--noproxy`).
    #[must_use]
    pub fn no_proxy(mut self, list: &str) -> Self {
        self.no_proxy = Some(list.to_owned());
        self
    }

    /// Whether `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case) are read
    /// from the process's environment (default `true`).
    #[must_use]
    pub fn env_proxies(mut self, yes: bool) -> Self {
        self.use_env = yes;
        self
    }

    /// Reads the proxy variables from `env` instead of the process's environment.
    #[must_use]
    pub fn env(mut self, env: EnvProxies) -> Self {
        self.env = Some(env);
        self.use_env = true;
        self
    }

    /// A header field on every CONNECT request (curl's `--proxy-header`); never sent to an
    /// origin.
    #[must_use]
    pub fn proxy_header(mut self, name: &str, value: &str) -> Self {
        self.tunnel_headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// TLS settings for origins (default: Mozilla's roots, verified).
    #[must_use]
    pub fn tls(mut self, config: TlsConfig) -> Self {
        self.origin_tls = Some(config);
        self
    }

    /// TLS settings for `https://` proxies alone (default: the origins').
    #[must_use]
    pub fn proxy_tls(mut self, config: TlsConfig) -> Self {
        self.proxy_tls = Some(config);
        self
    }

    /// TLS settings for the `https://` proxy at `authority` (`host:port`, as in its URL) alone,
    /// ahead of [`ClientBuilder::proxy_tls`]: a corporate proxy's own CA, say.
    #[must_use]
    pub fn proxy_tls_for(mut self, authority: &str, config: TlsConfig) -> Self {
        self.proxy_tls_for.push((authority.to_ascii_lowercase(), config));
        self
    }

    /// Bounds each whole request, every redirect and retry included (curl's `-m`).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.total = Some(timeout);
        self
    }

    /// Bounds reaching the server: the TCP connect, then each TLS handshake (curl's
    /// `--connect-timeout`).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        let t = self.config.timeouts.with_connect(Some(timeout)).with_tls_handshake(Some(timeout));
        self.config = self.config.with_timeouts(t);
        self
    }

    /// Bounds reaching a proxy (the TCP connect when the first hop is a proxy; default: the
    /// connect timeout).
    #[must_use]
    pub fn proxy_connect_timeout(mut self, timeout: Duration) -> Self {
        self.proxy_connect = Some(timeout);
        self
    }

    /// Bounds the CONNECT handshake with the proxy, 407 rounds included.
    #[must_use]
    pub fn tunnel_timeout(mut self, timeout: Duration) -> Self {
        self.config =
            self.config.with_timeouts(self.config.timeouts.with_tunnel_setup(Some(timeout)));
        self
    }

    /// Bounds the wait for the response head and each wait for the body.
    #[must_use]
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        let t = Some(timeout);
        self.config =
            self.config.with_timeouts(self.config.timeouts.with_response_head(t).with_body_read(t));
        self
    }

    /// Bounds each wait while sending the request body.
    #[must_use]
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.config = self.config.with_timeouts(self.config.timeouts.with_send_body(Some(timeout)));
        self
    }

    /// Bounds the wait for a connection when a route has [`ClientBuilder::max_connections_per_host`]
    /// open (default: the whole-request timeout, else none).
    #[must_use]
    pub fn pool_wait_timeout(mut self, timeout: Duration) -> Self {
        self.pool_wait = Some(timeout);
        self
    }

    /// Every core timeout at once.
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.config = self.config.with_timeouts(timeouts);
        self
    }

    /// The core's limits and timeouts in full.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Redirects followed at most (default 10); `0` returns redirect responses as they are.
    #[must_use]
    pub fn redirects(mut self, limit: u32) -> Self {
        self.redirects.limit = limit;
        self
    }

    /// Whether an `https://` URL may redirect to `http://` (default `false`).
    #[must_use]
    pub fn allow_https_to_http(mut self, yes: bool) -> Self {
        self.redirects.allow_https_to_http = yes;
        self
    }

    /// A header field sent with every request (a request's own field of that name replaces it).
    #[must_use]
    pub fn default_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), Bytes::copy_from_slice(value.as_bytes())));
        self
    }

    /// The `User-Agent` (default [`USER_AGENT`]).
    #[must_use]
    pub fn user_agent(mut self, value: &str) -> Self {
        self.user_agent = Some(value.to_owned());
        self
    }

    /// Whether `Accept-Encoding: gzip, deflate` is sent and such content decoded (default
    /// `true`); decoding is bounded by [`Limits::max_decoded_body`](ferry_proto::Limits).
    #[must_use]
    pub fn decompress(mut self, yes: bool) -> Self {
        self.decompress = yes;
        self
    }

    /// Idle connections kept per route (default 10; 0 disables reuse).
    #[must_use]
    pub fn pool_max_idle_per_host(mut self, n: usize) -> Self {
        self.pool = self.pool.with_max_idle_per_key(n);
        self
    }

    /// How long a connection may sit idle in the pool (default 90 s, the core's
    /// [`Timeouts::idle`]); `None` keeps it until the server closes it.
    #[must_use]
    pub fn pool_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config = self.config.with_timeouts(self.config.timeouts.with_idle(timeout));
        self
    }

    /// Open connections per route at most (in use or idle); a request past it waits for one
    /// (default: no limit).
    #[must_use]
    pub fn max_connections_per_host(mut self, n: usize) -> Self {
        self.max_connections = Some(n);
        self
    }

    /// The most a response's `bytes()` and `text()` read (default 64 MiB).
    #[must_use]
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.max_body = bytes;
        self
    }

    /// Keeps cookies as a browser session does (RFC 6265), sent only where they belong.
    #[cfg(feature = "cookies")]
    #[must_use]
    pub fn cookie_store(mut self, yes: bool) -> Self {
        self.cookies = yes;
        self
    }

    /// The client.
    ///
    /// # Errors
    /// The default TLS settings cannot be made (no roots compiled in), or a default header
    /// field is invalid.
    pub fn build(self) -> Result<C, Error> {
        let tls_error = |e| Error::new(Phase::Connect, ErrorKind::Tls(e));
        let origin = match self.origin_tls {
            Some(c) => c,
            None => TlsConfig::builder().build().map_err(tls_error)?,
        };
        let proxy_tls = self.proxy_tls.unwrap_or_else(|| origin.clone());
        let mut proxies = self.proxies;
        if let Some(list) = &self.no_proxy {
            proxies.set_no_proxy(Some(NoProxy::parse(list)));
        }
        let mut proxy = ProxyConfig::new().with_proxies(proxies);
        if self.use_env {
            // The client's `no_proxy` list, when set, replaces the environment's.
            let env = self.env.unwrap_or_else(|| EnvProxies::from_vars(std::env::vars()));
            proxy = proxy.with_env(env);
        }
        let mut headers = vec![
            (
                Bytes::from_static(b"User-Agent"),
                self.user_agent.map_or(Bytes::from_static(USER_AGENT.as_bytes()), Bytes::from),
            ),
            (Bytes::from_static(b"Accept"), Bytes::from_static(b"*/*")),
        ];
        if self.decompress {
            headers.push((
                Bytes::from_static(b"Accept-Encoding"),
                Bytes::from_static(ACCEPT_ENCODING.as_bytes()),
            ));
        }
        for (name, value) in self.headers {
            set_field(&mut headers, Bytes::from(name), value);
        }
        // Checked once here: no request checks them again.
        let headers = CheckedFields::new(headers)
            .map_err(|e| Error::new(Phase::Send, ErrorKind::Request(e)))?;
        Ok(C::from_session(Session {
            proxy,
            tunnel_headers: self.tunnel_headers.into(),
            proxy_tls_for: self
                .proxy_tls_for
                .into_iter()
                .map(|(a, c)| (a, TlsSettings { proxy: c, origin: origin.clone() }))
                .collect(),
            tls: TlsSettings { proxy: proxy_tls, origin },
            config: self.config,
            proxy_connect: self.proxy_connect,
            total: self.total,
            pool_wait: self.pool_wait,
            redirects: self.redirects,
            headers,
            decompress: self.decompress,
            max_body: self.max_body,
            pool: self.pool,
            max_connections: self.max_connections,
            #[cfg(feature = "cookies")]
            jar: self.cookies.then(|| std::sync::Mutex::new(crate::cookies::Jar::new())),
            urls: Mutex::default(),
            ways: Mutex::default(),
        }))
    }
}

/// Sets `name` in `fields`, replacing every field of that name (case-insensitively).
fn set_field(fields: &mut Vec<(Bytes, Bytes)>, name: Bytes, value: Bytes) {
    fields.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
    fields.push((name, value));
}

/// Default fields a call can leave out one by one (a bit each in [`Call`]'s mask); past it,
/// a call copies the defaults it sends.
const MASKED_DEFAULTS: usize = 64;

/// A built client's settings and its cookie jar: what every request of it starts from.
pub struct Session {
    proxy: ProxyConfig,
    /// Shared with every hop (a hop builds its plan only when it opens a connection).
    tunnel_headers: Arc<[(String, String)]>,
    tls: TlsSettings,
    /// Per-proxy settings, by the proxy's `host:port`.
    proxy_tls_for: Vec<(String, TlsSettings)>,
    config: Config,
    proxy_connect: Option<Duration>,
    total: Option<Duration>,
    pool_wait: Option<Duration>,
    redirects: RedirectPolicy,
    /// Sent with every request: User-Agent, Accept, Accept-Encoding, the user's defaults;
    /// names unique (case-insensitively), UTF-8, checked. Shared with every call.
    headers: CheckedFields,
    decompress: bool,
    max_body: u64,
    pool: PoolConfig,
    max_connections: Option<usize>,
    #[cfg(feature = "cookies")]
    jar: Option<std::sync::Mutex<crate::cookies::Jar>>,
    /// The last URLs parsed, by their text: a caller sends request after request to the URLs
    /// it keeps. A URL is a pure function of its text, so an entry never goes stale.
    urls: Mutex<Recent<Box<str>, Url>>,
    /// The last ways decided, by origin, for requests without a proxy of their own: the
    /// decision is a pure function of the origin and the session's settings, which never
    /// change once built.
    ways: Mutex<Recent<(Scheme, Host, u16), Arc<Way>>>,
}

/// How many URLs and ways a session remembers.
const RECENT: usize = 4;

/// The last few values looked up, by key; the oldest is replaced.
struct Recent<K, V> {
    entries: [Option<(K, V)>; RECENT],
    next: usize,
}

impl<K, V> Default for Recent<K, V> {
    fn default() -> Self {
        Recent { entries: Default::default(), next: 0 }
    }
}

impl<K, V: Clone> Recent<K, V> {
    fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: PartialEq + ?Sized,
    {
        self.entries.iter().flatten().find(|(k, _)| k.borrow() == key).map(|(_, v)| v.clone())
    }

    fn find(&self, matches: impl Fn(&K) -> bool) -> Option<V> {
        self.entries.iter().flatten().find(|(k, _)| matches(k)).map(|(_, v)| v.clone())
    }

    fn put(&mut self, key: K, value: V) {
        self.entries[self.next] = Some((key, value));
        self.next = (self.next + 1) % RECENT;
    }
}

/// Locks `m`, whatever a panic left behind (the caches hold plain values).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a session decided for an origin: the proxy decision (with its reasons, told to
/// `tracing` on every hop), the route, its TLS settings, pool key and core configuration.
#[derive(Debug)]
struct Way {
    decision: ProxyDecision,
    route: Route,
    key: RouteKey,
    tls: TlsSettings,
    config: Config,
    tunnel_headers: Arc<[(String, String)]>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("redirects", &self.redirects)
            .field("decompress", &self.decompress)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

/// What one hop needs: its route and the key a pool files it under, the TLS settings and
/// core configuration for a new connection (its `Way`, shared with the session's other
/// requests to that origin), and the request. The route's [`Plan`] is made only for a new
/// connection ([`Hop::plan`], [`Hop::stack`]): a hop on a pooled connection needs its key
/// alone.
#[derive(Debug)]
pub struct Hop {
    way: Arc<Way>,
    /// The request, shaped by the stack for the route when sent.
    pub request: Request,
}

impl Hop {
    /// The route the proxy decision gave.
    #[must_use]
    pub fn route(&self) -> &Route {
        &self.way.route
    }

    /// The pool key: [`Route::key`] with the fingerprint of the TLS settings, as
    /// [`Plan::key`] says.
    #[must_use]
    pub fn key(&self) -> &RouteKey {
        &self.way.key
    }

    /// The TLS settings of this route (a proxy's own, when it has some).
    #[must_use]
    pub fn tls(&self) -> &TlsSettings {
        &self.way.tls
    }

    /// The core's configuration for a new connection (the proxy-connect budget applied).
    #[must_use]
    pub fn config(&self) -> Config {
        self.way.config
    }

    /// The plan of this hop's route: its layers, the address to dial, [`Hop::key`].
    #[must_use]
    pub fn plan(&self) -> Plan {
        let mut plan = Plan::new(&self.way.route, &self.way.tls);
        for (name, value) in self.way.tunnel_headers.iter() {
            plan = plan.with_tunnel_header(name, value);
        }
        plan
    }

    /// The host and port a new connection dials: the proxy, or the origin ([`Plan::dial`]).
    #[must_use]
    pub fn dial(&self) -> &Authority {
        let route = &self.way.route;
        route.proxy().map_or(route.origin(), Proxy::authority)
    }

    /// A stack for a new connection of this hop.
    #[must_use]
    pub fn stack<T: Timestamp>(&self, now: T) -> Stack<T> {
        Stack::new(now, self.plan(), self.way.tls.clone(), self.way.config)
    }
}

impl Session {
    /// The pool's idle limits.
    #[must_use]
    pub fn pool_config(&self) -> PoolConfig {
        self.pool
    }

    /// Open connections per route at most.
    #[must_use]
    pub fn max_connections(&self) -> Option<usize> {
        self.max_connections
    }

    /// How long a request waits for a connection at the route's limit.
    #[must_use]
    pub fn pool_wait(&self) -> Option<Duration> {
        self.pool_wait
    }

    /// The most a response's `bytes()` reads.
    #[must_use]
    pub fn max_body(&self) -> u64 {
        self.max_body
    }

    /// The redirect policy.
    #[must_use]
    pub fn redirects(&self) -> RedirectPolicy {
        self.redirects
    }

    /// The call for `request` started at `now`: the client's fields under the request's, the
    /// query appended, `Accept-Encoding` dropped when decoding is off for it.
    ///
    /// # Errors
    /// An invalid method, URL or query, or an error a request setter met.
    pub fn call<T: Timestamp>(
        &self,
        now: T,
        request: &mut RequestSpec,
        body: CallBody,
    ) -> Result<Call<T>, Error> {
        if let Some(e) = request.error.take() {
            return Err(e);
        }
        let mut url = request.url.clone()?;
        if !request.query.is_empty() {
            url = with_query(&url, &request.query)?;
        }
        // The request's own fields, a later one of a name replacing an earlier one.
        let mut own = Vec::new();
        for (name, value) in std::mem::take(&mut request.headers) {
            set_field(&mut own, Bytes::from(name), value);
        }
        // The defaults it does not send: replaced by its own, removed, or Accept-Encoding
        // when it does not decode.
        let decompress = request.decompress.unwrap_or(self.decompress);
        let dropped = |name: &[u8]| {
            (!decompress && name.eq_ignore_ascii_case(b"accept-encoding"))
                || request.removed.iter().any(|r| r.as_bytes().eq_ignore_ascii_case(name))
                || own.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        let masked = self.headers.len() <= MASKED_DEFAULTS;
        let defaults = if masked && own.is_empty() && request.removed.is_empty() && decompress {
            // Nothing replaced, removed or dropped: every default goes (the usual request).
            (Some(self.headers.clone()), 0)
        } else if masked {
            let mut skip = 0;
            for (i, (name, _)) in self.headers.iter().enumerate() {
                if dropped(name) {
                    skip |= 1 << i;
                }
            }
            (Some(self.headers.clone()), skip)
        } else {
            let mut sent: Vec<_> =
                self.headers.iter().filter(|(n, _)| !dropped(n)).cloned().collect();
            sent.append(&mut own);
            own = sent;
            (None, 0)
        };
        Ok(Call::with_defaults(
            now,
            request.method.clone(),
            url,
            defaults,
            own,
            body,
            self.redirects,
            request.timeout.or(self.total),
        ))
    }

    /// The current hop of `call`: the proxy decision (told to `tracing` with its reason),
    /// the plan, the TLS settings, the core's configuration, and the request with the jar's
    /// cookies for its URL.
    ///
    /// # Errors
    /// An unusable proxy from the environment.
    pub fn hop<T: Timestamp>(&self, call: &Call<T>, request: &RequestSpec) -> Result<Hop, Error> {
        let url = call.url();
        let way = match &request.proxy {
            // A request's own proxies are its own: decided for it alone.
            Some(own) => Arc::new(self.way(url, Some(own))?),
            None => {
                let (scheme, port) = (url.scheme(), url.port_or_default());
                let same =
                    |(s, h, p): &(Scheme, Host, u16)| *s == scheme && *p == port && h == url.host();
                let known = lock(&self.ways).find(same);
                match known {
                    Some(way) => way,
                    None => {
                        let way = Arc::new(self.way(url, None)?);
                        let origin = (scheme, url.host().clone(), port);
                        lock(&self.ways).put(origin, Arc::clone(&way));
                        way
                    }
                }
            }
        };
        tracing::debug!(target: "ferry::proxy", url = %url, decision = %way.decision, "proxy decision");
        for note in way.decision.diagnostics() {
            tracing::warn!(target: "ferry::proxy", %note, "proxy configuration");
        }
        let cookie = self.cookie_for(url);
        let request = call.request(cookie.as_deref());
        tracing::debug!(
            target: "ferry::request",
            method = %String::from_utf8_lossy(call.method().as_bytes()),
            url = %url,
            fields = %crate::trace::fields(
                request.headers().map(|(n, v)| (std::str::from_utf8(n).unwrap_or("?"), v))
            ),
            "request"
        );
        Ok(Hop { way, request })
    }

    /// The way to `url`'s origin: the proxy decision (with `own`, a request's proxies, on
    /// top), the route, its TLS settings, key and configuration.
    fn way(&self, url: &Url, own: Option<&Proxies>) -> Result<Way, Error> {
        let decision = self
            .proxy
            .proxy_for_request(url, own)
            .map_err(|e| Error::new(Phase::Resolve, ErrorKind::Request(e)))?;
        let route = decision.route(url);
        let tls = route
            .proxy()
            .filter(|_| !self.proxy_tls_for.is_empty())
            .and_then(|p| {
                // `Authority`'s text is lower-case already (a `Domain` is, IPv6 is written so).
                let at = p.authority().to_string();
                self.proxy_tls_for.iter().find(|(a, _)| *a == at).map(|(_, t)| t)
            })
            .unwrap_or(&self.tls)
            .clone();
        let key = route.key(tls.fingerprint());
        let mut config = self.config;
        if let (Some(t), Some(_)) = (self.proxy_connect, route.proxy()) {
            config = config.with_timeouts(config.timeouts.with_connect(Some(t)));
        }
        Ok(Way {
            decision,
            route,
            key,
            tls,
            config,
            tunnel_headers: Arc::clone(&self.tunnel_headers),
        })
    }

    /// Parses `text` as a URL, or hands out the URL parsed from the same text lately (shared:
    /// a clone, no allocation).
    ///
    /// # Errors
    /// As [`Url::parse`].
    pub fn parse_url(&self, text: &str) -> Result<Url, ferry_proto::Error> {
        if let Some(url) = lock(&self.urls).get(text) {
            return Ok(url);
        }
        let url = Url::parse(text)?;
        lock(&self.urls).put(text.into(), url.clone());
        Ok(url)
    }

    /// The final head of a hop arrived: its cookies kept, it is told to `tracing`, and the
    /// call decides ([`Call::on_response`]).
    ///
    /// # Errors
    /// As [`Call::on_response`].
    pub fn on_head<T: Timestamp>(
        &self,
        call: &mut Call<T>,
        head: &ResponseHead,
    ) -> Result<Next, Error> {
        self.store_cookies(call.url(), head);
        crate::trace_response(head);
        call.on_response(head)
    }

    /// The content decoder for a delivered response.
    #[must_use]
    pub fn decoder(&self, head: &ResponseHead, request: &RequestSpec) -> ContentDecoder {
        // The head noted whether it has the field: most responses need no walk of theirs.
        if request.decompress.unwrap_or(self.decompress) && head.has_content_encoding() {
            ContentDecoder::for_response(head.headers(), self.config.limits.max_decoded_body)
        } else {
            ContentDecoder::identity()
        }
    }

    #[cfg(feature = "cookies")]
    fn cookie_for(&self, url: &Url) -> Option<String> {
        let jar = self.jar.as_ref()?;
        jar.lock().unwrap_or_else(std::sync::PoisonError::into_inner).header_for(url)
    }

    #[cfg(not(feature = "cookies"))]
    #[allow(clippy::unused_self)]
    fn cookie_for(&self, _url: &Url) -> Option<String> {
        None
    }

    #[cfg(feature = "cookies")]
    fn store_cookies(&self, url: &Url, head: &ResponseHead) {
        if let Some(jar) = &self.jar {
            jar.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .store(url, head.headers());
        }
    }

    #[cfg(not(feature = "cookies"))]
    #[allow(clippy::unused_self)]
    fn store_cookies(&self, _url: &Url, _head: &ResponseHead) {}
}

/// `url` with `pairs` appended to its query, form-urlencoded.
fn with_query(url: &Url, pairs: &[(String, String)]) -> Result<Url, Error> {
    let mut target = url.path_and_query().to_owned();
    let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    target.push(if target.contains('?') { '&' } else { '?' });
    target.push_str(&encoded);
    Url::from_parts(url.scheme(), url.host().clone(), url.port(), &target)
        .map_err(|e| Error::new(Phase::Send, ErrorKind::Request(e)))
}

/// A request's own settings, before its body: what [`RequestBuilder`] gathers and
/// [`Session::call`] reads.
#[derive(Debug)]
pub struct RequestSpec {
    method: Method,
    url: Result<Url, Error>,
    headers: Vec<(String, Bytes)>,
    /// Client default fields this request does not send.
    removed: Vec<String>,
    query: Vec<(String, String)>,
    timeout: Option<Duration>,
    proxy: Option<Proxies>,
    fresh: bool,
    decompress: Option<bool>,
    /// The first error a setter met (a JSON body that does not serialize).
    error: Option<Error>,
}

impl RequestSpec {
    /// Whether the request wants a new connection, not kept afterwards.
    #[must_use]
    pub fn is_fresh(&self) -> bool {
        self.fresh
    }

    /// The method.
    #[must_use]
    pub fn method(&self) -> &Method {
        &self.method
    }
}

/// A request being built; [`RequestBuilder::send`] sends it.
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder<C: ClientDriver> {
    client: C,
    spec: RequestSpec,
    body: Option<C::Body>,
}

impl<C: ClientDriver> fmt::Debug for RequestBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &String::from_utf8_lossy(self.spec.method.as_bytes()))
            .field("url", &self.spec.url.as_ref().map(ToString::to_string).ok())
            .field(
                "headers",
                &crate::trace::fields(self.spec.headers.iter().map(|(n, v)| (n.as_str(), v)))
                    .to_string(),
            )
            .finish_non_exhaustive()
    }
}

impl<C: ClientDriver> RequestBuilder<C> {
    /// A request with any method to `url`, for `client`; errors in either come out of
    /// [`RequestBuilder::send`].
    pub fn new(client: C, method: &str, url: &str) -> Self {
        let url = client.parse_url(url);
        RequestBuilder {
            client,
            spec: RequestSpec {
                method: Method::from_name(method),
                url: url.map_err(|e| Error::new(Phase::Send, ErrorKind::Request(e))),
                headers: Vec::new(),
                removed: Vec::new(),
                query: Vec::new(),
                timeout: None,
                proxy: None,
                fresh: false,
                decompress: None,
                error: None,
            },
            body: None,
        }
    }

    /// A header field (replacing a client default of that name).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.spec.headers.push((name.to_owned(), Bytes::copy_from_slice(value.as_bytes())));
        self
    }

    /// Does not send the client's default field `name` (`User-Agent`, `Accept`, ... ; curl's
    /// `-H "Name:"`). Fields the core writes (`Host`, the framing) are not defaults.
    pub fn without_header(mut self, name: &str) -> Self {
        self.spec.removed.push(name.to_owned());
        self
    }

    /// Query parameters, form-urlencoded and appended to the URL's query.
    pub fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        self.spec.query.extend(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self
    }

    /// The body.
    pub fn body(mut self, body: impl Into<C::Body>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// A form body (`application/x-www-form-urlencoded`).
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        self.body = Some(C::Body::from(encoded));
        self.header("Content-Type", "application/x-www-form-urlencoded")
    }

    /// A JSON body (`application/json`), serialized with serde_json.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                self.body = Some(C::Body::from(bytes));
                self.header("Content-Type", "application/json")
            }
            Err(e) => {
                self.spec.error = Some(Error::body(std::io::Error::other(e)));
                self
            }
        }
    }

    /// `Authorization: Basic` with these credentials.
    pub fn basic_auth(self, username: &str, password: Option<&str>) -> Self {
        let creds = ferry_proto::Credentials::new(username, password.unwrap_or(""));
        let value = creds.basic();
        self.header("Authorization", &value)
    }

    /// `Authorization: Bearer token`.
    pub fn bearer_auth(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    /// Bounds this request, every redirect and retry included (replaces the client's).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.spec.timeout = Some(timeout);
        self
    }

    /// Sends this request (and its redirects) through `proxy`, whatever the client's proxies
    /// say (a `NO_PROXY` list still applies).
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.spec.proxy = Some(Proxies::new().all(proxy));
        self
    }

    /// A new connection for this request, not kept afterwards (a rotating proxy gives a new
    /// exit per connection).
    pub fn fresh_connection(mut self, yes: bool) -> Self {
        self.spec.fresh = yes;
        self
    }

    /// Whether to ask for and decode compressed content (default: the client's).
    pub fn decompress(mut self, yes: bool) -> Self {
        self.spec.decompress = Some(yes);
        self
    }

    /// Sends the request, follows redirects, retries once on a stale connection when that is
    /// safe, and returns the final response with its body still to read.
    ///
    /// # Errors
    /// Any [`Error`]: its [`Phase`], [`Error::timeout`] naming the budget that ran out,
    /// [`Error::redirect`] for a refused redirect.
    pub fn send(mut self) -> Result<C::Response, Error> {
        // The settings stay where they are: no copy of them per request.
        let body = self.body.take();
        self.client.execute(&mut self.spec, body)
    }

    /// The settings and the body, for the driver's [`ClientDriver::execute`].
    #[must_use]
    pub fn into_parts(self) -> (RequestSpec, Option<C::Body>) {
        (self.spec, self.body)
    }

    /// Adds header fields (for conversions such as the `http` crate's).
    pub fn headers<'a>(mut self, fields: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        for (n, v) in fields {
            self.spec.headers.push((n.to_owned(), Bytes::copy_from_slice(v)));
        }
        self
    }
}

/// How long each step took, from the start of the request (curl's `time_*`): `None` for a
/// step that did not happen on this request (no proxy, no TLS, a reused connection).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timings {
    /// The name of the first hop resolved.
    pub resolve: Option<Duration>,
    /// The TCP connection was open.
    pub connect: Option<Duration>,
    /// The TLS handshake with an `https://` proxy finished.
    pub proxy_tls: Option<Duration>,
    /// The proxy answered CONNECT with 2xx.
    pub tunnel: Option<Duration>,
    /// The TLS handshake with the origin finished.
    pub origin_tls: Option<Duration>,
    /// The first byte of the final response arrived.
    pub first_byte: Option<Duration>,
    /// The whole request, once its body was read to the end (else up to the head).
    pub total: Option<Duration>,
}

impl Timings {
    /// The steps of `stack` that happened since `attempt`, measured from `started` (the
    /// call's start); `total` up to now.
    #[must_use]
    pub fn of(stack: &Stack<Instant>, started: Instant, attempt: Instant) -> Timings {
        Timings::from_instants(stack.instants(), started, attempt, Instant::now())
    }

    /// [`Timings::of`] from a copy of the stack's instants, `total` up to `now`: a response
    /// keeps the instants and works its timings out when asked.
    #[must_use]
    pub fn from_instants(
        t: &crate::Instants<Instant>,
        started: Instant,
        attempt: Instant,
        now: Instant,
    ) -> Timings {
        let since = |at: Option<Instant>| at.filter(|a| *a >= attempt).map(|a| a - started);
        Timings {
            resolve: since(t.resolved),
            connect: since(t.connected),
            proxy_tls: since(t.proxy_tls),
            tunnel: since(t.tunnel),
            origin_tls: since(t.origin_tls),
            first_byte: since(t.first_byte),
            total: Some(now.saturating_duration_since(started)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::sync::Mutex;

    /// A driver that only keeps its session, to ask it for calls.
    #[derive(Clone)]
    struct Keep(Arc<Mutex<Option<Session>>>);

    struct NoBody;

    impl RequestBody for NoBody {
        fn call_body(&self) -> CallBody {
            CallBody::Empty
        }
    }

    impl From<Vec<u8>> for NoBody {
        fn from(_: Vec<u8>) -> NoBody {
            NoBody
        }
    }

    impl From<String> for NoBody {
        fn from(_: String) -> NoBody {
            NoBody
        }
    }

    impl ClientDriver for Keep {
        type Body = NoBody;
        type Response = Vec<(String, String)>;
        fn from_session(session: Session) -> Keep {
            Keep(Arc::new(Mutex::new(Some(session))))
        }
        /// The fields the first hop sends.
        fn execute(
            &self,
            spec: &mut RequestSpec,
            _: Option<NoBody>,
        ) -> Result<Self::Response, Error> {
            let guard = self.0.lock().unwrap();
            let session = guard.as_ref().unwrap();
            let call = session.call(Instant::now(), spec, CallBody::Empty)?;
            let request = call.request(None);
            Ok(request
                .headers()
                .map(|(n, v)| {
                    (String::from_utf8(n.to_vec()).unwrap(), String::from_utf8(v.to_vec()).unwrap())
                })
                .collect())
        }
    }

    fn tls() -> TlsConfig {
        TlsConfig::builder().build().unwrap()
    }

    fn names(fields: &[(String, String)]) -> Vec<&str> {
        fields.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn the_defaults_a_call_sends_are_the_clients_under_its_own() {
        let client: Keep = ClientBuilder::default()
            .tls(tls())
            .env_proxies(false)
            .default_header("X-Team", "a")
            .default_header("x-team", "b")
            .build()
            .unwrap();
        let get = || RequestBuilder::new(client.clone(), "GET", "http://a.test/");
        let sent = get().send().unwrap();
        assert_eq!(names(&sent), ["User-Agent", "Accept", "Accept-Encoding", "x-team"]);
        assert_eq!(sent[3].1, "b", "a later default replaces an earlier one");
        assert_eq!(sent[0].1, USER_AGENT);

        // Its own field replaces the default of that name, case-insensitively, at the end;
        // a later one of its own replaces an earlier one.
        let sent = get().header("accept", "text/html").header("ACCEPT", "text/plain").send();
        let sent = sent.unwrap();
        assert_eq!(names(&sent), ["User-Agent", "Accept-Encoding", "x-team", "ACCEPT"]);
        assert_eq!(sent[3].1, "text/plain");

        // Removed defaults and Accept-Encoding without decoding are left out.
        let sent = get().without_header("user-agent").decompress(false).send().unwrap();
        assert_eq!(names(&sent), ["Accept", "x-team"]);

        // A removed default can still be set by the request itself.
        let sent = get().without_header("X-Team").header("X-Team", "c").send().unwrap();
        assert_eq!(names(&sent), ["User-Agent", "Accept", "Accept-Encoding", "X-Team"]);
        assert_eq!(sent[3].1, "c");
    }

    #[test]
    fn a_redirect_drops_default_credentials_and_body_fields_too() {
        let client: Keep = ClientBuilder::default()
            .tls(tls())
            .env_proxies(false)
            .default_header("Authorization", "Bearer t")
            .default_header("Content-Type", "text/plain")
            .build()
            .unwrap();
        let guard = client.0.lock().unwrap();
        let session = guard.as_ref().unwrap();
        let mut spec = RequestBuilder::new(client.clone(), "POST", "http://a.test/").into_parts().0;
        let mut call = session.call(Duration::ZERO, &mut spec, CallBody::Empty).unwrap();
        let head = |text: &str| {
            let mut buf = bytes::BytesMut::from(text.as_bytes());
            ferry_proto::wire::parse_response_head(&mut buf, &Config::default()).unwrap().unwrap()
        };
        let lower = |c: &Call<Duration>| -> Vec<String> {
            c.headers().map(|(n, _)| n.to_ascii_lowercase()).collect()
        };
        assert!(lower(&call).contains(&"authorization".to_owned()));
        // Same origin, 303: the body's fields go, the credentials stay.
        let see_other = "HTTP/1.1 303 X\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(call.on_response(&head(see_other)).unwrap(), Next::Follow);
        assert_eq!(lower(&call), ["user-agent", "accept", "accept-encoding", "authorization"]);
        // Another origin: the credentials go.
        let found = "HTTP/1.1 302 X\r\nLocation: http://b.test/\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(call.on_response(&head(found)).unwrap(), Next::Follow);
        assert_eq!(lower(&call), ["user-agent", "accept", "accept-encoding"]);
        assert_eq!(call.request(None).headers().count(), 3);
        let chain: Vec<String> = call.redirects().iter().map(ToString::to_string).collect();
        assert_eq!(chain, ["http://a.test/", "http://a.test/b"]);
    }

    /// The session remembers URLs by text and ways by origin; no entry answers for another
    /// text, another origin (scheme, host or port), or a request with a proxy of its own, and
    /// a per-request proxy leaves nothing behind for the requests after it.
    #[test]
    fn remembered_urls_and_ways_answer_only_for_their_own() {
        let proxy = Proxy::parse("http://user:pw@p.test:3128").unwrap();
        let client: Keep = ClientBuilder::default()
            .tls(tls())
            .env_proxies(false)
            .proxy(proxy)
            .no_proxy("direct.test")
            .build()
            .unwrap();
        let guard = client.0.lock().unwrap();
        let session = guard.as_ref().unwrap();
        // URLs: the same text gives the same URL, another text another one.
        for _ in 0..2 {
            for text in
                ["http://a.test/x", "http://a.test/y", "https://a.test/x", "http://b.test/x"]
            {
                assert_eq!(session.parse_url(text).unwrap().to_string(), text);
            }
        }
        assert!(session.parse_url("http://a.test/x y").is_err());
        assert!(session.parse_url("http://a.test/x y").is_err(), "errors are not remembered");
        for i in 0..(2 * RECENT) {
            let text = format!("http://h{i}.test/");
            assert_eq!(session.parse_url(&text).unwrap().to_string(), text);
        }
        // Ways: through the proxy, forwarded for http, tunnelled for https; direct where
        // NO_PROXY says, whichever was asked first.
        let hop = |url: &str, own: Option<Proxy>| {
            let client = client.clone();
            let mut builder = RequestBuilder::new(client, "GET", url);
            if let Some(p) = own {
                builder = builder.proxy(p);
            }
            let mut spec = builder.into_parts().0;
            let call = session.call(Instant::now(), &mut spec, CallBody::Empty).unwrap();
            session.hop(&call, &spec).unwrap()
        };
        let via = |h: &Hop| h.route().proxy().map(|p| p.authority().to_string());
        let own = Proxy::parse("http://own.test:8080").unwrap();
        for _ in 0..2 {
            let h = hop("http://a.test/", None);
            assert_eq!((via(&h), h.route().is_forwarded()), (Some("p.test:3128".into()), true));
            let h = hop("https://a.test/", None);
            assert_eq!(via(&h), Some("p.test:3128".into()));
            assert_eq!(h.route().tunnel().map(ToString::to_string), Some("a.test:443".into()));
            let h = hop("http://a.test:81/", None);
            assert_eq!(h.route().origin().to_string(), "a.test:81");
            assert_eq!(hop("http://direct.test/", None).route().proxy(), None);
            // A request's own proxy is its own, before and after the remembered way.
            let h = hop("http://a.test/", Some(own.clone()));
            assert_eq!(via(&h), Some("own.test:8080".into()));
            assert_eq!(via(&hop("http://a.test/", None)), Some("p.test:3128".into()));
            assert_eq!(hop("http://direct.test/", Some(own.clone())).route().proxy(), None);
        }
        // The keys differ as the routes do.
        assert_ne!(hop("http://a.test/", None).key(), hop("https://a.test/", None).key());
        assert_ne!(
            hop("https://a.test/", None).key(),
            hop("https://a.test/", Some(own.clone())).key()
        );
        // More origins than remembered: each still gets its own way.
        for i in 0..(2 * RECENT) {
            let h = hop(&format!("https://h{i}.test/"), None);
            assert_eq!(h.route().origin().to_string(), format!("h{i}.test:443"));
        }
    }

    /// A plain request (nothing replaced, removed or dropped) shares every default; past the
    /// mask's reach they are copied instead, so a redirect to another origin still drops a
    /// default credential however many defaults come before it.
    #[test]
    fn a_plain_request_with_more_defaults_than_the_mask_still_drops_credentials() {
        for count in [3, 80] {
            let mut builder = ClientBuilder::default().tls(tls()).env_proxies(false);
            for i in 0..count {
                builder = builder.default_header(&format!("X-D{i}"), "1");
            }
            let client: Keep = builder.default_header("Authorization", "Bearer t").build().unwrap();
            let guard = client.0.lock().unwrap();
            let session = guard.as_ref().unwrap();
            let mut spec =
                RequestBuilder::new(client.clone(), "GET", "http://a.test/").into_parts().0;
            let mut call = session.call(Duration::ZERO, &mut spec, CallBody::Empty).unwrap();
            let has_auth = |c: &Call<Duration>| {
                c.request(None).headers().any(|(n, _)| n.eq_ignore_ascii_case(b"authorization"))
            };
            assert!(has_auth(&call));
            assert_eq!(call.request(None).headers().count(), count + 4);
            let mut buf = bytes::BytesMut::from(
                &b"HTTP/1.1 302 X\r\nLocation: http://b.test/\r\nContent-Length: 0\r\n\r\n"[..],
            );
            let found = ferry_proto::wire::parse_response_head(&mut buf, &Config::default());
            assert_eq!(call.on_response(&found.unwrap().unwrap()).unwrap(), Next::Follow);
            assert!(!has_auth(&call), "{count} defaults");
            assert_eq!(call.request(None).headers().count(), count + 3);
        }
    }

    #[test]
    fn more_defaults_than_the_mask_holds_are_sent_the_same_way() {
        let mut builder = ClientBuilder::default().tls(tls()).env_proxies(false);
        for i in 0..80 {
            builder = builder.default_header(&format!("X-D{i}"), &i.to_string());
        }
        let client: Keep = builder.build().unwrap();
        let sent = RequestBuilder::new(client, "GET", "http://a.test/")
            .without_header("x-d70")
            .header("X-D3", "own")
            .decompress(false)
            .send()
            .unwrap();
        let mut want: Vec<String> = ["User-Agent", "Accept"].map(String::from).to_vec();
        want.extend((0..80).filter(|i| ![3, 70].contains(i)).map(|i| format!("X-D{i}")));
        want.push("X-D3".to_owned());
        assert_eq!(names(&sent), want);
        assert_eq!(sent.last().unwrap().1, "own");
    }
}
