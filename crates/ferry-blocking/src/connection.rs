//! An `http.client`-like connection to one origin, over a route the stack carries out.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_client::{Error, Phase, Plan, Stack, TlsSettings};
use ferry_proto::proxy::Proxy;
use ferry_proto::{
    Config, Headers, Host, Method, Request, ResponseHead, Route, Scheme, Timeouts, Url,
};
use ferry_tls::TlsConfig;

use crate::driver::Driver;
use crate::exchange::{self, Body, Piece};

/// Builds a [`Connection`].
#[derive(Clone, Debug)]
pub struct ConnectionBuilder {
    scheme: Scheme,
    host: Host,
    port: u16,
    proxy: Option<Proxy>,
    tunnel_headers: Vec<(String, String)>,
    origin_tls: Option<TlsConfig>,
    proxy_tls: Option<TlsConfig>,
    config: Config,
}

impl ConnectionBuilder {
    /// Bounds every wait (connect, each TLS handshake, the response head, each read of the
    /// body) by `timeout`, as `http.client`'s `timeout` does.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        let t = Some(timeout);
        self.config = self.config.with_timeouts(
            self.config
                .timeouts
                .with_connect(t)
                .with_tls_handshake(t)
                .with_response_head(t)
                .with_body_read(t)
                .with_tunnel_setup(t),
        );
        self
    }

    /// Every deadline and limit of the core, in full.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The timeouts alone.
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.config = self.config.with_timeouts(timeouts);
        self
    }

    /// TLS settings for the origin (default: Mozilla's roots, verified).
    #[must_use]
    pub fn tls(mut self, config: TlsConfig) -> Self {
        self.origin_tls = Some(config);
        self
    }

    /// TLS settings for an `https://` proxy alone (default: the origin's).
    #[must_use]
    pub fn proxy_tls(mut self, config: TlsConfig) -> Self {
        self.proxy_tls = Some(config);
        self
    }

    /// Goes through `proxy` (see [`Connection::set_tunnel`]).
    #[must_use]
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// The connection. Nothing is dialled until the first request.
    ///
    /// # Errors
    /// When the default TLS settings cannot be made (no root certificates compiled in).
    pub fn build(self) -> Result<Connection, Error> {
        let tls_error = |e| Error::new(Phase::Connect, ferry_client::ErrorKind::Tls(e));
        let origin = match self.origin_tls {
            Some(c) => c,
            None => TlsConfig::builder().build().map_err(tls_error)?,
        };
        let proxy = self.proxy_tls.unwrap_or_else(|| origin.clone());
        let origin_url = Url::from_parts(self.scheme, self.host, Some(self.port), "/")
            .map_err(|e| Error::new(Phase::Connect, ferry_client::ErrorKind::Request(e)))?;
        Ok(Connection {
            request: Request::get(origin_url),
            proxy: self.proxy,
            tunnel_headers: self.tunnel_headers,
            tls: TlsSettings { proxy, origin },
            config: self.config,
            driver: None,
        })
    }
}

/// One HTTP/1.1 connection to one origin, after Python's `http.client.HTTPConnection`:
/// [`Connection::request`], then [`Connection::response`], whose body is read to its end before
/// the next request; the connection is kept alive and reopened transparently when the server
/// closed it while idle.
///
/// ```no_run
/// use std::io::Read;
/// let mut conn = ferry_blocking::Connection::https("example.com", 443)?;
/// conn.request("GET", "/", "", &[("Accept", "text/html")])?;
/// let mut response = conn.response()?;
/// let mut body = String::new();
/// response.read_to_string(&mut body)?;
/// println!("{} {}: {} bytes", response.status(), response.reason(), body.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Connection {
    /// The request being sent, kept for its retry and reused by the next one (its URL is the
    /// origin's, its buffers stay): a request allocates nothing once the longest target fitted.
    request: Request,
    proxy: Option<Proxy>,
    tunnel_headers: Vec<(String, String)>,
    tls: TlsSettings,
    config: Config,
    driver: Option<Driver>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("scheme", &self.request.url().scheme())
            .field("host", &format_args!("{}", self.request.url().host()))
            .field("port", &self.request.url().port_or_default())
            .field("proxy", &self.proxy.as_ref().map(|p| p.to_string()))
            .field("open", &self.driver.is_some())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A plain-HTTP connection to `host:port`.
    ///
    /// # Errors
    /// [`Phase::Connect`] with the core's error when `host` is not a valid host.
    pub fn http(host: &str, port: u16) -> Result<Connection, Error> {
        Connection::builder(Scheme::Http, host, port)?.build()
    }

    /// An HTTPS connection to `host:port`, verified against Mozilla's roots.
    ///
    /// # Errors
    /// As [`Connection::http`].
    pub fn https(host: &str, port: u16) -> Result<Connection, Error> {
        Connection::builder(Scheme::Https, host, port)?.build()
    }

    /// A builder for a connection to `host:port` over `scheme`.
    ///
    /// # Errors
    /// As [`Connection::http`].
    pub fn builder(scheme: Scheme, host: &str, port: u16) -> Result<ConnectionBuilder, Error> {
        let host = Host::parse(host)
            .map_err(|e| Error::new(Phase::Connect, ferry_client::ErrorKind::Request(e)))?;
        Ok(ConnectionBuilder {
            scheme,
            host,
            port,
            proxy: None,
            tunnel_headers: Vec::new(),
            origin_tls: None,
            proxy_tls: None,
            config: Config::default(),
        })
    }

    /// Sends every later request through `proxy` (`http://` or `https://`, credentials in its
    /// URL or set with [`Proxy::basic_auth`]): HTTPS (and any target in
    /// [`ProxyMode::Tunnel`](ferry_proto::proxy::ProxyMode)) through a CONNECT tunnel to this
    /// connection's host and port, with `headers` on the CONNECT request and the 407 retry
    /// CPython cannot do; plain HTTP forwarded in absolute-form. Closes the current connection.
    pub fn set_tunnel(&mut self, proxy: Proxy, headers: &[(&str, &str)]) {
        self.proxy = Some(proxy);
        self.tunnel_headers =
            headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        self.close();
    }

    /// Sends a request: `target` is the path and query (`/search?q=x`). Returns once the whole
    /// request went out and the response began (or the server answered early). A request
    /// whose connection turns out stale (closed by the server while idle) is sent again on a
    /// new one when that is safe ([`ferry_client::may_retry`]).
    ///
    /// # Errors
    /// Any [`Error`]; the connection is closed then and reopens on the next request.
    #[inline]
    pub fn request(
        &mut self,
        method: &str,
        target: &str,
        body: impl Into<Body>,
        headers: &[(&str, &str)],
    ) -> Result<(), Error> {
        let mut body = body.into();
        self.request
            .reuse(Method::from_name(method), target, body.framing())
            .map_err(|e| Error::new(Phase::Send, ferry_client::ErrorKind::Request(e)))?;
        for (name, value) in headers {
            self.request.push_header((*name).to_owned(), (*value).to_owned());
        }
        let replayable = !matches!(body, Body::Reader { .. });
        let retryable = replayable && self.request.method().is_idempotent();
        let mut attempt = 0;
        loop {
            let now = Instant::now();
            let reused = self.open(now, retryable);
            let result = self.send(now, &mut body);
            match result {
                Err(e)
                    if ferry_client::may_retry(
                        &e,
                        attempt,
                        reused,
                        replayable,
                        self.request.method(),
                    ) =>
                {
                    attempt += 1;
                    self.close();
                }
                Err(e) => {
                    self.close();
                    return Err(e);
                }
                Ok(()) => return Ok(()),
            }
        }
    }

    /// The response to the last request: its head now, its body as [`Read`].
    ///
    /// # Errors
    /// Any [`Error`] before the final head; the connection is closed then.
    #[inline]
    pub fn response(&mut self) -> Result<Response<'_>, Error> {
        let Some(driver) = &mut self.driver else {
            return Err(Error::misuse(Phase::Receive, "no response is coming"));
        };
        match exchange::head(driver) {
            Ok(exchange::Head { head, interim }) => {
                let proxy_reply = driver.stack.tunnel_reply().cloned();
                let remote = driver.remote_addr();
                Ok(Response {
                    head,
                    interim,
                    proxy_reply,
                    remote,
                    trailers: None,
                    chunk: Bytes::new(),
                    done: false,
                    conn: self,
                })
            }
            Err(e) => {
                self.close();
                Err(e)
            }
        }
    }

    /// Closes the connection; the next request opens a new one.
    pub fn close(&mut self) {
        self.driver = None;
    }

    /// Makes sure a connection is open; `true` when an idle one is reused. It is probed
    /// first unless the stack says a failure would be retried anyway (`retryable`).
    #[inline]
    fn open(&mut self, now: Instant, retryable: bool) -> bool {
        if let Some(driver) = &mut self.driver {
            if driver.stack.needs_probe(now, retryable) {
                driver.probe();
            }
            if driver.stack.is_idle() {
                return true;
            }
        }
        self.open_new(now);
        false
    }

    /// A new connection (dialled by the first request's driver loop).
    #[inline(never)]
    fn open_new(&mut self, now: Instant) {
        let route = Route::new(self.request.url(), self.proxy.clone());
        let mut plan = Plan::new(&route, &self.tls);
        for (name, value) in &self.tunnel_headers {
            plan = plan.with_tunnel_header(name, value);
        }
        self.driver = Some(Driver::new(Stack::new(now, plan, self.tls.clone(), self.config)));
    }

    fn send(&mut self, now: Instant, body: &mut Body) -> Result<(), Error> {
        match &mut self.driver {
            Some(driver) => exchange::send_at(driver, now, &self.request, body),
            None => Err(Error::misuse(Phase::Send, "the connection is closed")),
        }
    }
}

/// A response: status, reason, version, headers, the interim responses before it, for a
/// tunnelled connection the proxy's CONNECT reply, and the body as [`Read`]. Dropping it
/// before the end discards the rest of the body (up to
/// [`Limits::max_drain_bytes`](ferry_proto::Limits); past it the connection closes).
pub struct Response<'c> {
    head: ResponseHead,
    interim: Vec<ResponseHead>,
    proxy_reply: Option<ResponseHead>,
    remote: Option<SocketAddr>,
    trailers: Option<Headers>,
    chunk: Bytes,
    done: bool,
    conn: &'c mut Connection,
}

impl std::fmt::Debug for Response<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.head.status())
            .field("version", &self.head.version())
            .field("headers", self.head.headers())
            .finish_non_exhaustive()
    }
}

impl Response<'_> {
    crate::exchange::head_accessors!();

    /// The trailer fields, once the body was read to its end.
    #[must_use]
    pub fn trailers(&self) -> Option<&Headers> {
        self.trailers.as_ref()
    }

    /// The next piece of body, uncopied; `None` at the end.
    ///
    /// # Errors
    /// Any [`Error`] of the stack; the connection is closed then.
    #[inline]
    pub fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        if !self.chunk.is_empty() {
            return Ok(Some(std::mem::take(&mut self.chunk)));
        }
        while !self.done {
            let Some(driver) = &mut self.conn.driver else { break };
            match exchange::next_piece(driver) {
                Ok(Piece::Data(data)) => return Ok(Some(data)),
                Ok(Piece::Trailers(t)) => self.trailers = Some(t),
                Ok(Piece::End) => self.done = true,
                Err(e) => {
                    self.done = true;
                    self.conn.close();
                    return Err(e);
                }
            }
        }
        Ok(None)
    }
}

impl Read for Response<'_> {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.chunk.is_empty() {
            // Straight into `buf` when nothing is buffered on the way (no copy of ours).
            if let (false, Some(driver)) = (self.done, &mut self.conn.driver) {
                if let Some(n) = exchange::read_body(driver, buf) {
                    return Ok(n);
                }
            }
            match self.next_chunk() {
                // A piece that fits (a small body's whole) is copied and gone; the body's end,
                // when it came with it, is taken now (the next read is then only a look at
                // `done`).
                Ok(Some(c)) if c.len() <= buf.len() => {
                    buf[..c.len()].copy_from_slice(&c);
                    if let Some(driver) = &mut self.conn.driver {
                        self.done = exchange::end_ready(driver);
                    }
                    return Ok(c.len());
                }
                Ok(Some(c)) => self.chunk = c,
                Ok(None) => return Ok(0),
                Err(e) => return Err(io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        // Not `split_to`: no second handle on the buffer (a count up and down) per read.
        bytes::Buf::advance(&mut self.chunk, n);
        Ok(n)
    }
}

impl Drop for Response<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(driver) = &mut self.conn.driver {
            if !exchange::discard(driver) {
                self.conn.close();
            }
        }
    }
}
