//! A Requests-like client: a session with a pool, proxies, redirects, retries and timeouts.
//! Every decision is a pure value of ferry-client ([`Call`], [`ClientPool`],
//! [`ContentDecoder`], the core's [`ProxyConfig`]); this file runs them over the driver and
//! waits where they say to wait.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_client::{
    ACCEPT_ENCODING, Call, Checkout, ClientPool, ContentDecoder, Error, ErrorKind, Next, Phase,
    Plan, RedirectPolicy, Stack, Timeout, TlsSettings,
};
use ferry_proto::proxy::{EnvProxies, NoProxy, Proxies, Proxy, ProxyConfig};
use ferry_proto::{
    Config, Headers, Method, PoolConfig, ResponseHead, RouteKey, Timeouts, Url, Version,
};
use ferry_tls::TlsConfig;

use crate::driver::Driver;
use crate::exchange::{self, Body, Piece};

/// The `User-Agent` a client sends unless told otherwise.
pub const USER_AGENT: &str = concat!("ferry/", env!("CARGO_PKG_VERSION"));

/// Builds a [`Client`]. Every setting has a default that a Requests or reqwest user would
/// expect: proxies from the environment, Mozilla's roots, ten redirects, gzip and deflate
/// decoded, a pool of ten idle connections per route.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    proxies: Proxies,
    no_proxy: Option<String>,
    env: Option<EnvProxies>,
    use_env: bool,
    tunnel_headers: Vec<(String, String)>,
    origin_tls: Option<TlsConfig>,
    proxy_tls: Option<TlsConfig>,
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
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            proxies: Proxies::new(),
            no_proxy: None,
            env: None,
            use_env: true,
            tunnel_headers: Vec::new(),
            origin_tls: None,
            proxy_tls: None,
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
        }
    }
}

impl ClientBuilder {
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

    /// The most [`Response::bytes`] and [`Response::text`] read (default 64 MiB).
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
    /// The default TLS settings cannot be made (no roots compiled in), or a `NO_PROXY` list or
    /// header field is invalid.
    pub fn build(self) -> Result<Client, Error> {
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
                "User-Agent".to_owned(),
                Bytes::from(self.user_agent.unwrap_or_else(|| USER_AGENT.to_owned())),
            ),
            ("Accept".to_owned(), Bytes::from_static(b"*/*")),
        ];
        if self.decompress {
            headers.push((
                "Accept-Encoding".to_owned(),
                Bytes::from_static(ACCEPT_ENCODING.as_bytes()),
            ));
        }
        for (name, value) in self.headers {
            set_field(&mut headers, name, value);
        }
        for (name, value) in &headers {
            ferry_proto::wire::check_field(name.as_bytes(), value)
                .map_err(|e| Error::new(Phase::Send, ErrorKind::Request(e)))?;
        }
        Ok(Client {
            inner: Arc::new(Inner {
                proxy,
                tunnel_headers: self.tunnel_headers,
                tls: TlsSettings { proxy: proxy_tls, origin },
                config: self.config,
                proxy_connect: self.proxy_connect,
                total: self.total,
                pool_wait: self.pool_wait,
                redirects: self.redirects,
                headers,
                decompress: self.decompress,
                max_body: self.max_body,
                pool: Mutex::new(ClientPool::new(self.pool, self.max_connections)),
                freed: Condvar::new(),
                connects: AtomicU64::new(0),
                #[cfg(feature = "cookies")]
                jar: self.cookies.then(|| Mutex::new(ferry_client::Jar::new())),
            }),
        })
    }
}

/// Sets `name` in `fields`, replacing every field of that name (case-insensitively).
fn set_field(fields: &mut Vec<(String, Bytes)>, name: String, value: Bytes) {
    fields.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
    fields.push((name, value));
}

struct Inner {
    proxy: ProxyConfig,
    tunnel_headers: Vec<(String, String)>,
    tls: TlsSettings,
    config: Config,
    proxy_connect: Option<Duration>,
    total: Option<Duration>,
    pool_wait: Option<Duration>,
    redirects: RedirectPolicy,
    /// Sent with every request: User-Agent, Accept, Accept-Encoding, the user's defaults.
    headers: Vec<(String, Bytes)>,
    decompress: bool,
    max_body: u64,
    pool: Mutex<ClientPool<Driver, Instant>>,
    /// Signalled when a connection is checked in or closed (for requests waiting on a limit).
    freed: Condvar,
    connects: AtomicU64,
    #[cfg(feature = "cookies")]
    jar: Option<Mutex<ferry_client::Jar>>,
}

/// A Requests-style session: a pool of kept-alive connections by route, proxies (explicit,
/// per host, from the environment) with CONNECT tunnels for HTTPS, redirects, one retry of
/// a request that met a stale connection, content decoding, and timeouts. Cheap to clone
/// (`Arc`); `Send + Sync`: one client serves many threads.
///
/// ```no_run
/// let client = ferry_blocking::Client::new()?;
/// let text = client.get("https://example.com/").header("Accept", "text/html").send()?.text()?;
/// println!("{} bytes", text.len());
/// # Ok::<(), ferry_blocking::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("redirects", &self.inner.redirects)
            .field("connections_opened", &self.connections_opened())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client with the defaults of [`ClientBuilder`].
    ///
    /// # Errors
    /// As [`ClientBuilder::build`].
    pub fn new() -> Result<Client, Error> {
        ClientBuilder::default().build()
    }

    /// A builder.
    #[must_use]
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A GET request to `url`.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request("GET", url)
    }

    /// A POST request.
    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request("POST", url)
    }

    /// A PUT request.
    pub fn put(&self, url: &str) -> RequestBuilder {
        self.request("PUT", url)
    }

    /// A PATCH request.
    pub fn patch(&self, url: &str) -> RequestBuilder {
        self.request("PATCH", url)
    }

    /// A DELETE request.
    pub fn delete(&self, url: &str) -> RequestBuilder {
        self.request("DELETE", url)
    }

    /// A HEAD request.
    pub fn head(&self, url: &str) -> RequestBuilder {
        self.request("HEAD", url)
    }

    /// A request with any method; errors in `method` or `url` come out of
    /// [`RequestBuilder::send`].
    pub fn request(&self, method: &str, url: &str) -> RequestBuilder {
        RequestBuilder {
            client: self.clone(),
            method: Method::new(method.to_owned()),
            url: Url::parse(url).map_err(|e| Error::new(Phase::Send, ErrorKind::Request(e))),
            headers: Vec::new(),
            query: Vec::new(),
            body: Body::Empty,
            timeout: None,
            proxy: None,
            fresh: false,
            decompress: None,
            error: None,
        }
    }

    /// Sends an `http` crate request.
    ///
    /// # Errors
    /// As [`RequestBuilder::send`].
    pub fn send_http<B: Into<Body>>(&self, request: http::Request<B>) -> Result<Response, Error> {
        let (parts, body) = request.into_parts();
        let mut builder = self.request(parts.method.as_str(), &parts.uri.to_string());
        for (name, value) in &parts.headers {
            builder
                .headers
                .push((name.as_str().to_owned(), Bytes::copy_from_slice(value.as_bytes())));
        }
        builder.body(body).send()
    }

    /// TCP connections this client opened so far (every route, redials after a 407
    /// included): curl's `num_connects` summed.
    #[must_use]
    pub fn connections_opened(&self) -> u64 {
        self.inner.connects.load(Ordering::Relaxed)
    }

    /// Idle connections in the pool now.
    #[must_use]
    pub fn idle_connections(&self) -> usize {
        self.pool().idle()
    }

    fn pool(&self) -> MutexGuard<'_, ClientPool<Driver, Instant>> {
        // A panic while the lock was held leaves plain books behind; they stay usable.
        self.inner.pool.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A connection for `plan`: an idle one (probed first), a new one, or, at the route's
    /// limit, the first freed within the wait budget. `true` with a reused connection.
    fn checkout(
        &self,
        plan: Plan,
        fresh: bool,
        deadline: Option<Instant>,
    ) -> Result<(Driver, bool), Error> {
        let key = plan.key().clone();
        let wait_deadline = self.inner.pool_wait.map(|d| Instant::now() + d);
        let mut pool = self.pool();
        loop {
            let now = Instant::now();
            let mut close = Vec::new();
            let checkout = pool.checkout(&key, now, fresh, Driver::probe, &mut close);
            let mut expired = Vec::new();
            pool.handle_timeout(now, &mut expired);
            if !close.is_empty() || !expired.is_empty() {
                self.inner.freed.notify_all();
            }
            match checkout {
                Checkout::Reuse(driver) => {
                    tracing::debug!(target: "ferry::pool", key = ?key, "reused connection");
                    return Ok((driver, true));
                }
                Checkout::Open => {
                    tracing::debug!(target: "ferry::pool", key = ?key, "new connection");
                    let mut config = self.inner.config;
                    if let (Some(t), true) =
                        (self.inner.proxy_connect, plan.route().proxy().is_some())
                    {
                        config = config.with_timeouts(config.timeouts.with_connect(Some(t)));
                    }
                    let stack = Stack::new(now, plan, self.inner.tls.clone(), config);
                    return Ok((Driver::new(stack), false));
                }
                Checkout::Wait => {
                    let until = match (deadline, wait_deadline) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    let timeout = match until {
                        None => None,
                        Some(at) => match at.checked_duration_since(now) {
                            Some(left) if !left.is_zero() => Some(left),
                            _ => {
                                let which = if wait_deadline == until {
                                    Timeout::PoolWait
                                } else {
                                    Timeout::Request
                                };
                                return Err(Error::new(Phase::Connect, ErrorKind::Timeout(which)));
                            }
                        },
                    };
                    pool = match timeout {
                        None => self
                            .inner
                            .freed
                            .wait(pool)
                            .unwrap_or_else(std::sync::PoisonError::into_inner),
                        Some(t) => {
                            self.inner
                                .freed
                                .wait_timeout(pool, t)
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .0
                        }
                    };
                }
            }
        }
    }

    /// The exchange on `driver` is over: back to the pool if it can carry another request,
    /// else closed (and its slot freed).
    fn checkin(&self, key: RouteKey, mut driver: Driver) {
        driver.stack.set_deadline(None);
        let mut close = Vec::new();
        self.pool().checkin(key, driver, Instant::now(), &mut close);
        drop(close);
        self.inner.freed.notify_one();
    }

    /// `driver` is closed without going back to the pool.
    fn discard(&self, key: &RouteKey, driver: Driver) {
        drop(driver);
        self.pool().release(key);
        self.inner.freed.notify_one();
    }

    fn execute(&self, mut request: RequestBuilder) -> Result<Response, Error> {
        if let Some(e) = request.error.take() {
            return Err(e);
        }
        let mut url = request.url.clone()?;
        if !request.query.is_empty() {
            url = with_query(&url, &request.query)?;
        }
        let started = Instant::now();
        let span = tracing::debug_span!(
            "request",
            method = %String::from_utf8_lossy(request.method.as_bytes()),
            host = %url.host(),
            status = tracing::field::Empty,
            elapsed_ms = tracing::field::Empty,
        );
        let _entered = span.enter();
        let inner = &self.inner;
        let mut headers = inner.headers.clone();
        let decompress = request.decompress.unwrap_or(inner.decompress);
        if !decompress {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case("accept-encoding"));
        }
        for (name, value) in std::mem::take(&mut request.headers) {
            set_field(&mut headers, name, value);
        }
        let mut call = Call::new(
            started,
            request.method.clone(),
            url,
            headers,
            request.body.call_body(),
            inner.redirects,
            request.timeout.or(inner.total),
        );
        let per_request = request.proxy.take().map(|p| Proxies::new().all(p));
        let mut stream = match std::mem::replace(&mut request.body, Body::Empty) {
            reader @ Body::Reader { .. } => Some(reader),
            _ => None,
        };
        loop {
            call.check_deadline(Instant::now(), Phase::Connect)?;
            let decision = inner
                .proxy
                .proxy_for_request(call.url(), per_request.as_ref())
                .map_err(|e| Error::new(Phase::Resolve, ErrorKind::Request(e)))?;
            tracing::debug!(target: "ferry::proxy", url = %call.url(), decision = %decision, "proxy decision");
            let mut plan = Plan::new(&decision.route(call.url()), &inner.tls);
            for (name, value) in &inner.tunnel_headers {
                plan = plan.with_tunnel_header(name, value);
            }
            let key = plan.key().clone();
            let attempt_start = Instant::now();
            let (mut driver, reused) = self.checkout(plan, request.fresh, call.deadline())?;
            driver.stack.set_deadline(call.deadline());
            let dials = driver.dials();
            let mut body = match call.body() {
                ferry_client::CallBody::Empty => Body::Empty,
                ferry_client::CallBody::Bytes(b) => Body::Bytes(b.clone()),
                ferry_client::CallBody::Stream(_) => stream.take().unwrap_or(Body::Empty),
            };
            let cookie = self.cookie_for(call.url());
            let core_request = call.request(cookie.as_deref());
            tracing::debug!(
                target: "ferry::request",
                method = %String::from_utf8_lossy(call.method().as_bytes()),
                url = %call.url(),
                fields = %ferry_client::masked_fields(core_request.headers().map(|(n, v)| (std::str::from_utf8(n).unwrap_or("?"), v))),
                "request"
            );
            let result = exchange::send(&mut driver, core_request, &mut body)
                .and_then(|()| exchange::head(&mut driver));
            let opened = driver.dials() - dials;
            inner.connects.fetch_add(opened, Ordering::Relaxed);
            let head = match result {
                Ok(head) => head,
                Err(e) => {
                    self.discard(&key, driver);
                    if call.on_error(&e, reused) {
                        tracing::debug!(target: "ferry::pool", error = %e, "retrying on a new connection");
                        continue;
                    }
                    return Err(e);
                }
            };
            self.store_cookies(call.url(), head.head.headers());
            ferry_client::trace_response(&head.head);
            match call.on_response(&head.head) {
                Err(e) => {
                    self.discard(&key, driver);
                    return Err(e);
                }
                Ok(Next::Follow) => {
                    if exchange::discard(&mut driver) {
                        self.checkin(key, driver);
                    } else {
                        self.discard(&key, driver);
                    }
                }
                Ok(Next::Deliver) => {
                    span.record("status", head.head.status());
                    let timings = Timings::of(&driver.stack, started, attempt_start);
                    let decoder = if decompress {
                        ContentDecoder::for_response(
                            head.head.headers(),
                            inner.config.limits.max_decoded_body,
                        )
                    } else {
                        ContentDecoder::identity()
                    };
                    return Ok(Response {
                        proxy_reply: driver.stack.tunnel_reply().cloned(),
                        remote: driver.remote_addr(),
                        url: call.url().clone(),
                        redirects: call.redirects().to_vec(),
                        new_connection: opened > 0,
                        head: head.head,
                        interim: head.interim,
                        timings,
                        started,
                        partial: Bytes::new(),
                        body: BodyState {
                            driver: Some(driver),
                            keep: !request.fresh,
                            key,
                            client: self.clone(),
                            decoder,
                            ready: VecDeque::new(),
                            trailers: None,
                            read: 0,
                            finished: None,
                        },
                        span: span.clone(),
                    });
                }
            }
        }
    }

    #[cfg(feature = "cookies")]
    fn cookie_for(&self, url: &Url) -> Option<String> {
        let jar = self.inner.jar.as_ref()?;
        jar.lock().unwrap_or_else(std::sync::PoisonError::into_inner).header_for(url)
    }

    #[cfg(not(feature = "cookies"))]
    #[allow(clippy::unused_self)]
    fn cookie_for(&self, _url: &Url) -> Option<String> {
        None
    }

    #[cfg(feature = "cookies")]
    fn store_cookies(&self, url: &Url, headers: &Headers) {
        if let Some(jar) = &self.inner.jar {
            jar.lock().unwrap_or_else(std::sync::PoisonError::into_inner).store(url, headers);
        }
    }

    #[cfg(not(feature = "cookies"))]
    #[allow(clippy::unused_self)]
    fn store_cookies(&self, _url: &Url, _headers: &Headers) {}
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

/// A request being built; [`RequestBuilder::send`] sends it.
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    client: Client,
    method: Method,
    url: Result<Url, Error>,
    headers: Vec<(String, Bytes)>,
    query: Vec<(String, String)>,
    body: Body,
    timeout: Option<Duration>,
    proxy: Option<Proxy>,
    fresh: bool,
    decompress: Option<bool>,
    /// The first error a setter met (a JSON body that does not serialize).
    error: Option<Error>,
}

impl std::fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &String::from_utf8_lossy(self.method.as_bytes()))
            .field("url", &self.url.as_ref().map(ToString::to_string).ok())
            .field(
                "headers",
                &ferry_client::masked_fields(self.headers.iter().map(|(n, v)| (n.as_str(), v))),
            )
            .finish_non_exhaustive()
    }
}

impl RequestBuilder {
    /// A header field (replacing a client default of that name).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), Bytes::copy_from_slice(value.as_bytes())));
        self
    }

    /// Query parameters, form-urlencoded and appended to the URL's query.
    pub fn query(mut self, pairs: &[(&str, &str)]) -> Self {
        self.query.extend(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self
    }

    /// The body: bytes (`Vec<u8>`, `String`, `Bytes`, `&'static str`), or
    /// [`Body::reader`] / [`Body::file`].
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// A form body (`application/x-www-form-urlencoded`).
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        self.body = Body::from(encoded);
        self.header("Content-Type", "application/x-www-form-urlencoded")
    }

    /// A JSON body (`application/json`), serialized with serde_json.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                self.body = Body::from(bytes);
                self.header("Content-Type", "application/json")
            }
            Err(e) => {
                self.error = Some(Error::body(io::Error::other(e)));
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
        self.timeout = Some(timeout);
        self
    }

    /// Sends this request (and its redirects) through `proxy`, whatever the client's proxies
    /// say.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// A new connection for this request, not kept afterwards (a rotating proxy gives a new
    /// exit per connection).
    pub fn fresh_connection(mut self, yes: bool) -> Self {
        self.fresh = yes;
        self
    }

    /// Whether to ask for and decode gzip and deflate content (default: the client's).
    pub fn decompress(mut self, yes: bool) -> Self {
        self.decompress = Some(yes);
        self
    }

    /// Sends the request, follows redirects, retries once on a stale connection when that is
    /// safe, and returns the final response with its body still to read.
    ///
    /// # Errors
    /// Any [`Error`]: its [`Phase`], [`Error::timeout`] naming the budget that ran out,
    /// [`Error::redirect`] for a refused redirect.
    pub fn send(self) -> Result<Response, Error> {
        let client = self.client.clone();
        client.execute(self)
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
    fn of(stack: &Stack<Instant>, started: Instant, attempt: Instant) -> Timings {
        let t = stack.timings();
        let since = |at: Option<Instant>| at.filter(|a| *a >= attempt).map(|a| a - started);
        Timings {
            resolve: since(t.resolved),
            connect: since(t.connected),
            proxy_tls: since(t.proxy_tls),
            tunnel: since(t.tunnel),
            origin_tls: since(t.origin_tls),
            first_byte: since(t.first_byte),
            total: Some(started.elapsed()),
        }
    }
}

/// The body side of a [`Response`]: the connection it arrives on, until its end.
struct BodyState {
    driver: Option<Driver>,
    /// Whether the connection may go back to the pool (not for a fresh-connection request).
    keep: bool,
    key: RouteKey,
    client: Client,
    decoder: ContentDecoder,
    /// Decoded pieces not yet read.
    ready: VecDeque<Bytes>,
    trailers: Option<Headers>,
    /// Decoded bytes handed out.
    read: u64,
    /// When the body ended.
    finished: Option<Instant>,
}

impl BodyState {
    /// The next decoded piece; `None` at the end (the connection is back in the pool then).
    fn next(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            if let Some(piece) = self.ready.pop_front() {
                self.read += piece.len() as u64;
                return Ok(Some(piece));
            }
            let Some(driver) = &mut self.driver else { return Ok(None) };
            let ready = &mut self.ready;
            let step = match exchange::next_piece(driver) {
                Ok(Piece::Data(data)) => self.decoder.decode(data, &mut |b| ready.push_back(b)),
                Ok(Piece::Trailers(t)) => {
                    self.trailers = Some(t);
                    Ok(())
                }
                Ok(Piece::End) => match self.decoder.finish(&mut |b| ready.push_back(b)) {
                    Ok(()) => {
                        self.end(true);
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            if let Err(e) = step {
                self.end(false);
                return Err(e);
            }
        }
    }

    /// The body is over: the connection goes back to the pool (`clean`) or is closed.
    fn end(&mut self, clean: bool) {
        self.finished = Some(Instant::now());
        if let Some(driver) = self.driver.take() {
            if clean && self.keep {
                self.client.checkin(self.key.clone(), driver);
            } else {
                self.client.discard(&self.key, driver);
            }
        }
    }
}

impl Drop for BodyState {
    fn drop(&mut self) {
        if let Some(mut driver) = self.driver.take() {
            if exchange::discard(&mut driver) && self.keep {
                self.client.checkin(self.key.clone(), driver);
            } else {
                self.client.discard(&self.key, driver);
            }
        }
    }
}

/// A response: status, headers, the final URL, where it came from and how long each step
/// took; its body streams ([`Read`], [`Response::chunk`]) or is read whole
/// ([`Response::bytes`], [`Response::text`], `json`), decoded from gzip or deflate when the
/// client asked for them. Reading the body to its end returns the connection to the pool;
/// dropping the response early discards the rest (within the core's drain budget).
pub struct Response {
    head: ResponseHead,
    interim: Vec<ResponseHead>,
    proxy_reply: Option<ResponseHead>,
    remote: Option<SocketAddr>,
    url: Url,
    redirects: Vec<Url>,
    new_connection: bool,
    timings: Timings,
    started: Instant,
    /// The rest of a piece that `read` cut.
    partial: Bytes,
    body: BodyState,
    span: tracing::Span,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.head.status())
            .field("url", &format_args!("{}", self.url))
            .field("headers", self.head.headers())
            .finish_non_exhaustive()
    }
}

impl Response {
    /// The status code.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.head.status()
    }

    /// The reason phrase.
    #[must_use]
    pub fn reason(&self) -> &str {
        self.head.reason()
    }

    /// The HTTP version the server answered with.
    #[must_use]
    pub fn version(&self) -> Version {
        self.head.version()
    }

    /// The header fields, as received (`Content-Encoding` stays when the body is decoded).
    #[must_use]
    pub fn headers(&self) -> &Headers {
        self.head.headers()
    }

    /// The whole head.
    pub fn head(&self) -> &ResponseHead {
        &self.head
    }

    /// The URL that answered, after redirects.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URLs that redirected here, in order.
    #[must_use]
    pub fn redirects(&self) -> &[Url] {
        &self.redirects
    }

    /// The interim (1xx) responses before this one.
    #[must_use]
    pub fn interim(&self) -> &[ResponseHead] {
        &self.interim
    }

    /// Through a tunnel, the proxy's reply to CONNECT (status and headers).
    #[must_use]
    pub fn proxy_reply(&self) -> Option<&ResponseHead> {
        self.proxy_reply.as_ref()
    }

    /// The address the connection is open to (the proxy's, through a proxy).
    #[must_use]
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// Whether the final hop opened a new connection (not one from the pool).
    #[must_use]
    pub fn new_connection(&self) -> bool {
        self.new_connection
    }

    /// How long each step took; `total` runs until the body's end.
    #[must_use]
    pub fn timings(&self) -> Timings {
        let mut t = self.timings;
        t.total = Some(self.body.finished.unwrap_or_else(Instant::now) - self.started);
        t
    }

    /// Whether the body is being decoded from a content coding.
    #[must_use]
    pub fn is_decoded(&self) -> bool {
        self.body.decoder.is_decoding()
    }

    /// Body bytes read so far (decoded).
    #[must_use]
    pub fn bytes_read(&self) -> u64 {
        self.body.read
    }

    /// The trailer fields, once the body was read to its end.
    #[must_use]
    pub fn trailers(&self) -> Option<&Headers> {
        self.body.trailers.as_ref()
    }

    /// The next piece of body, uncopied; `None` at its end.
    ///
    /// # Errors
    /// Any [`Error`] while receiving or decoding; the connection is closed then.
    pub fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        if !self.partial.is_empty() {
            return Ok(Some(std::mem::take(&mut self.partial)));
        }
        let _entered = self.span.enter();
        let piece = self.body.next();
        if matches!(piece, Ok(None)) {
            let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.span.record("elapsed_ms", ms);
        }
        piece
    }

    /// The whole body, up to the client's [`ClientBuilder::max_body`].
    ///
    /// # Errors
    /// Any [`Error`]; a body past the limit is [`ferry_proto::ErrorKind::BodyTooLarge`]-like
    /// ([`ErrorKind::Content`] with the limit).
    pub fn bytes(mut self) -> Result<Bytes, Error> {
        let limit = self.body.client.inner.max_body;
        let mut all = bytes::BytesMut::new();
        while let Some(piece) = self.chunk()? {
            if (all.len() + piece.len()) as u64 > limit {
                return Err(Error::new(
                    Phase::Receive,
                    ErrorKind::Content(ferry_proto::Error::new(
                        ferry_proto::ErrorKind::DecodedBodyTooLarge { limit },
                    )),
                ));
            }
            if all.is_empty() {
                all = piece.into();
            } else {
                all.extend_from_slice(&piece);
            }
        }
        Ok(all.freeze())
    }

    /// The whole body as text, decoded from the `Content-Type`'s charset (UTF-8 when none is
    /// given or it is unknown), malformed sequences replaced.
    ///
    /// # Errors
    /// As [`Response::bytes`].
    pub fn text(self) -> Result<String, Error> {
        let charset = self.headers().get_str("content-type").and_then(|ct| {
            ct.split(';').skip(1).find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("charset")
                    .then(|| v.trim().trim_matches('"').to_owned())
            })
        });
        let encoding = charset
            .and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes()))
            .unwrap_or(encoding_rs::UTF_8);
        let bytes = self.bytes()?;
        let (text, _, _) = encoding.decode(&bytes);
        Ok(text.into_owned())
    }

    /// The whole body parsed as JSON.
    ///
    /// # Errors
    /// As [`Response::bytes`], and [`ErrorKind::Body`] when it is not valid JSON for `T`.
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, Error> {
        let bytes = self.bytes()?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::new(Phase::Receive, ErrorKind::Body(Arc::new(io::Error::other(e)))))
    }

    /// The head as an `http::Response` whose body is this response (still to be read).
    ///
    /// # Errors
    /// A field the `http` crate does not accept.
    pub fn into_http(self) -> Result<http::Response<Response>, Error> {
        let head =
            self.head.to_http().map_err(|e| Error::new(Phase::Receive, ErrorKind::Http(e)))?;
        let (parts, ()) = head.into_parts();
        Ok(http::Response::from_parts(parts, self))
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.partial.is_empty() {
            match self.chunk() {
                Ok(Some(piece)) => self.partial = piece,
                Ok(None) => return Ok(0),
                Err(e) => return Err(io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.partial.len());
        buf[..n].copy_from_slice(&self.partial.split_to(n));
        Ok(n)
    }
}
