//! A Requests-like client over std sockets. Its settings, its builders and every decision are
//! ferry-client's ([`Session`], [`Call`], [`ClientPool`], [`ContentDecoder`]); this file runs
//! them over the driver and waits where they say to wait (the pool's limit, on a condition
//! variable). `ferry-smol` is this file with async waits.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use ferry_client::{
    Call, Checkout, ClientDriver, ClientPool, ContentDecoder, Error, ErrorKind, Hop, Next, Phase,
    RequestSpec, Session, Timeout, Timings,
};
use ferry_proto::{Headers, ResponseHead, RouteKey, Url};

use crate::driver::Driver;
use crate::exchange::{self, Body, Piece};

/// Builds a [`Client`]: proxies, TLS, timeouts, redirects, default fields, the pool, content
/// decoding, cookies. See [`ferry_client::ClientBuilder`] for every setting.
pub type ClientBuilder = ferry_client::ClientBuilder<Client>;

/// A request of a [`Client`] being built. See [`ferry_client::RequestBuilder`].
pub type RequestBuilder = ferry_client::RequestBuilder<Client>;

struct Inner {
    session: Session,
    /// Drivers boxed: a checkout or checkin moves a pointer, not the machine.
    pool: Mutex<ClientPool<Box<Driver>, Instant>>,
    /// Signalled when a connection is checked in or closed (for requests waiting on a limit).
    freed: Condvar,
    /// Requests waiting on `freed`, counted under the pool's lock: with none, a checkin
    /// signals nobody (no system call).
    waiting: AtomicUsize,
    connects: AtomicU64,
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
            .field("session", &self.inner.session)
            .field("connections_opened", &self.connections_opened())
            .finish_non_exhaustive()
    }
}

impl ClientDriver for Client {
    type Body = Body;
    type Response = Response;

    fn from_session(session: Session) -> Client {
        let pool = ClientPool::new(session.pool_config(), session.max_connections());
        Client {
            inner: Arc::new(Inner {
                session,
                pool: Mutex::new(pool),
                freed: Condvar::new(),
                waiting: AtomicUsize::new(0),
                connects: AtomicU64::new(0),
            }),
        }
    }

    fn parse_url(&self, url: &str) -> Result<Url, ferry_proto::Error> {
        self.inner.session.parse_url(url)
    }

    fn execute(&self, spec: &mut RequestSpec, body: Option<Body>) -> Result<Response, Error> {
        let mut stream = body.unwrap_or(Body::Empty);
        let started = Instant::now();
        let session = &self.inner.session;
        let mut call =
            session.call(started, spec, ferry_client::RequestBody::call_body(&stream))?;
        let span = tracing::debug_span!(
            "request",
            method = %String::from_utf8_lossy(spec.method().as_bytes()),
            host = %call.url().host(),
            status = tracing::field::Empty,
            elapsed_ms = tracing::field::Empty,
        );
        let _entered = span.enter();
        // The first hop starts now: one reading of the clock for the call, its deadline
        // check, the pool and the request; a later hop (a redirect, a retry) reads it again.
        let mut now = started;
        loop {
            call.check_deadline(now, Phase::Connect)?;
            let hop = session.hop(&call, spec)?;
            let key = hop.key().clone();
            let attempt = now;
            let (mut driver, reused) = self.checkout(
                &hop,
                now,
                spec.is_fresh(),
                call.deadline(),
                call.would_retry_stale(),
            )?;
            driver.stack.set_deadline(call.deadline());
            let dials = driver.dials();
            let mut body = this_hop(&call, &mut stream);
            let result = exchange::send_at(&mut driver, now, &hop.request, &mut body)
                .and_then(|()| exchange::head(&mut driver));
            now = Instant::now();
            let opened = driver.dials() - dials;
            self.inner.connects.fetch_add(opened, Ordering::Relaxed);
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
            match session.on_head(&mut call, &head.head) {
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
                    return Ok(Response {
                        proxy_reply: driver.stack.tunnel_reply().cloned(),
                        remote: driver.remote_addr(),
                        url: call.url().clone(),
                        redirects: call.redirects().to_vec(),
                        new_connection: opened > 0,
                        instants: *driver.stack.instants(),
                        attempt,
                        started,
                        partial: Bytes::new(),
                        body: BodyState {
                            decoder: boxed(session.decoder(&head.head, spec)),
                            driver: Some(driver),
                            keep: !spec.is_fresh(),
                            key,
                            client: self.clone(),
                            first: None,
                            ready: VecDeque::new(),
                            trailers: None,
                            read: 0,
                            finished: None,
                        },
                        head: head.head,
                        interim: head.interim,
                        span: span.clone(),
                    });
                }
            }
        }
    }
}

/// The body of the current hop: the caller's bytes again (replayable), nothing (a redirect
/// made it a GET), or the caller's stream, which goes once.
fn this_hop<T: ferry_proto::Timestamp>(call: &Call<T>, stream: &mut Body) -> Body {
    match call.body() {
        ferry_client::CallBody::Empty => Body::Empty,
        ferry_client::CallBody::Bytes(b) => Body::Bytes(b.clone()),
        ferry_client::CallBody::Stream(_) => std::mem::replace(stream, Body::Empty),
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
        RequestBuilder::new(self.clone(), method, url)
    }

    /// Sends an `http` crate request.
    ///
    /// # Errors
    /// As [`RequestBuilder::send`].
    pub fn send_http<B: Into<Body>>(&self, request: http::Request<B>) -> Result<Response, Error> {
        let (parts, body) = request.into_parts();
        self.request(parts.method.as_str(), &parts.uri.to_string())
            .headers(parts.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())))
            .body(body)
            .send()
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

    fn pool(&self) -> MutexGuard<'_, ClientPool<Box<Driver>, Instant>> {
        // A panic while the lock was held leaves plain books behind; they stay usable.
        self.inner.pool.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A connection for `hop`: an idle one (probed first when the stack says so, given
    /// whether a stale one would be `retryable`), a new one, or, at the route's limit, the
    /// first freed within the wait budget. `true` with a reused connection.
    fn checkout(
        &self,
        hop: &Hop,
        mut now: Instant,
        fresh: bool,
        deadline: Option<Instant>,
        retryable: bool,
    ) -> Result<(Box<Driver>, bool), Error> {
        let key = hop.key();
        // The first hop's address names the connection in events; the key holds a hash of
        // the proxy's credentials and is never shown.
        let dial = hop.dial();
        let wait_deadline = self.inner.session.pool_wait().map(|d| now + d);
        let mut pool = self.pool();
        let mut waited = false;
        loop {
            // After a wait the clock is read again.
            if waited {
                now = Instant::now();
            }
            waited = true;
            let mut close = Vec::new();
            let probe = |d: &mut Box<Driver>| {
                if d.stack.needs_probe(now, retryable) {
                    d.probe();
                }
            };
            let checkout = pool.checkout(key, now, fresh, probe, &mut close);
            let mut expired = Vec::new();
            pool.handle_timeout(now, &mut expired);
            if !close.is_empty() || !expired.is_empty() {
                self.wake(true);
            }
            match checkout {
                Checkout::Reuse(driver) => {
                    tracing::debug!(target: "ferry::pool", %dial, "reused connection");
                    return Ok((driver, true));
                }
                Checkout::Open => {
                    tracing::debug!(target: "ferry::pool", %dial, "new connection");
                    return Ok((Box::new(Driver::new(hop.stack(now))), false));
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
                    // Counted while the lock is held: a checkin after the wait began sees it.
                    self.inner.waiting.fetch_add(1, Ordering::Relaxed);
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
                    self.inner.waiting.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Wakes one request waiting for a connection (or all), if any waits.
    fn wake(&self, all: bool) {
        if self.inner.waiting.load(Ordering::Relaxed) > 0 {
            if all {
                self.inner.freed.notify_all();
            } else {
                self.inner.freed.notify_one();
            }
        }
    }

    /// The exchange on `driver` is over: back to the pool if it can carry another request,
    /// else closed (and its slot freed).
    fn checkin(&self, key: RouteKey, driver: Box<Driver>) {
        self.checkin_at(key, driver, Instant::now());
    }

    /// [`Client::checkin`] at `now` (the caller just read the clock).
    fn checkin_at(&self, key: RouteKey, mut driver: Box<Driver>, now: Instant) {
        driver.stack.set_deadline(None);
        let mut close = Vec::new();
        self.pool().checkin(key, driver, now, &mut close);
        drop(close);
        self.wake(false);
    }

    /// `driver` is closed without going back to the pool.
    fn discard(&self, key: &RouteKey, driver: Box<Driver>) {
        drop(driver);
        self.pool().release(key);
        self.wake(false);
    }
}

/// `decoder` boxed when it decodes; `None` when it passes the content through.
fn boxed(decoder: ContentDecoder) -> Option<Box<ContentDecoder>> {
    decoder.is_decoding().then(|| Box::new(decoder))
}

/// The body side of a [`Response`]: the connection it arrives on, until its end.
struct BodyState {
    driver: Option<Box<Driver>>,
    /// Whether the connection may go back to the pool (not for a fresh-connection request).
    keep: bool,
    key: RouteKey,
    client: Client,
    /// The content decoder, boxed (a response that is not decoded carries no room for it);
    /// `None`: the content is passed through.
    decoder: Option<Box<ContentDecoder>>,
    /// Decoded pieces not yet read: the first here (a piece of identity content, say, needs
    /// no queue), the rest after it in `ready`.
    first: Option<Bytes>,
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
            if let Some(piece) = self.first.take().or_else(|| self.ready.pop_front()) {
                self.read += piece.len() as u64;
                return Ok(Some(piece));
            }
            let Some(driver) = &mut self.driver else { return Ok(None) };
            // Both are empty here: the first piece goes to `first`, later ones queue behind.
            let (first, ready) = (&mut self.first, &mut self.ready);
            let mut push = |b| match first {
                None if ready.is_empty() => *first = Some(b),
                _ => ready.push_back(b),
            };
            let step = match exchange::next_piece(driver) {
                Ok(Piece::Data(data)) => match &mut self.decoder {
                    Some(d) => d.decode(data, &mut push),
                    None => {
                        push(data);
                        Ok(())
                    }
                },
                Ok(Piece::Trailers(t)) => {
                    self.trailers = Some(t);
                    Ok(())
                }
                Ok(Piece::End) => {
                    match self.decoder.as_mut().map_or(Ok(()), |d| d.finish(&mut push)) {
                        Ok(()) => {
                            self.end(true);
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            if let Err(e) = step {
                self.end(false);
                return Err(e);
            }
        }
    }

    /// Whether pieces go out as they come: no content coding undone, no decoded piece waiting.
    fn is_plain(&self) -> bool {
        self.first.is_none() && self.ready.is_empty() && self.decoder.is_none()
    }

    /// [`BodyState::next`] when [`BodyState::is_plain`]: the exchange's pieces as they are,
    /// past the decoder and the queue.
    fn next_plain(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            let Some(driver) = &mut self.driver else { return Ok(None) };
            match exchange::next_piece(driver) {
                Ok(Piece::Data(data)) if data.is_empty() => {}
                Ok(Piece::Data(data)) => {
                    self.read += data.len() as u64;
                    return Ok(Some(data));
                }
                Ok(Piece::Trailers(t)) => self.trailers = Some(t),
                Ok(Piece::End) => {
                    self.end(true);
                    return Ok(None);
                }
                Err(e) => {
                    self.end(false);
                    return Err(e);
                }
            }
        }
    }

    /// Body bytes straight into `out` when no content coding is undone and no decoded piece
    /// waits; `None`: take [`BodyState::next`].
    fn read_direct(&mut self, out: &mut [u8]) -> Option<usize> {
        if !self.ready.is_empty() || self.decoder.is_some() {
            return None;
        }
        let n = exchange::read_body(self.driver.as_mut()?, out)?;
        self.read += n as u64;
        Some(n)
    }

    /// The body is over: the connection goes back to the pool (`clean`) or is closed.
    fn end(&mut self, clean: bool) {
        let now = Instant::now();
        self.finished = Some(now);
        if let Some(driver) = self.driver.take() {
            if clean && self.keep {
                self.client.checkin_at(self.key.clone(), driver, now);
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
    /// The stack's instants at the head, for [`Response::timings`], and when the hop that
    /// answered began.
    instants: ferry_client::Instants<Instant>,
    attempt: Instant,
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
    crate::exchange::head_accessors!();

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

    /// Whether the final hop opened a new connection (not one from the pool).
    #[must_use]
    pub fn new_connection(&self) -> bool {
        self.new_connection
    }

    /// How long each step took; `total` runs until the body's end.
    #[must_use]
    pub fn timings(&self) -> Timings {
        let end = self.body.finished.unwrap_or_else(Instant::now);
        Timings::from_instants(&self.instants, self.started, self.attempt, end)
    }

    /// Whether the body is being decoded from a content coding.
    #[must_use]
    pub fn is_decoded(&self) -> bool {
        self.body.decoder.is_some()
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
        self.note_end(&piece);
        piece
    }

    /// The whole body, up to the client's `ClientBuilder::max_body`.
    ///
    /// # Errors
    /// Any [`Error`]; a body past the limit is [`ErrorKind::Content`] with
    /// `DecodedBodyTooLarge { limit }`.
    pub fn bytes(mut self) -> Result<Bytes, Error> {
        let limit = self.body.client.inner.session.max_body();
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

impl Response {
    /// The next piece for [`Read`]: past the decoder when nothing is decoded
    /// The whole time on the span when `piece` says the body ended.
    fn note_end(&self, piece: &Result<Option<Bytes>, Error>) {
        if matches!(piece, Ok(None)) && !self.span.is_disabled() {
            let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.span.record("elapsed_ms", ms);
        }
    }

    /// ([`BodyState::next_plain`]), else [`Response::chunk`].
    fn next_for_read(&mut self) -> Result<Option<Bytes>, Error> {
        if !self.body.is_plain() {
            return self.chunk();
        }
        let _entered = self.span.enter();
        let piece = self.body.next_plain();
        self.note_end(&piece);
        piece
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.partial.is_empty() {
            // Straight into `buf` when nothing is buffered or decoded on the way.
            if let Some(n) = self.body.read_direct(buf) {
                return Ok(n);
            }
            match self.next_for_read() {
                // A piece that fits (a small body's whole) is copied and gone.
                Ok(Some(piece)) if piece.len() <= buf.len() => {
                    buf[..piece.len()].copy_from_slice(&piece);
                    return Ok(piece.len());
                }
                Ok(Some(piece)) => self.partial = piece,
                Ok(None) => return Ok(0),
                Err(e) => return Err(io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.partial.len());
        buf[..n].copy_from_slice(&self.partial[..n]);
        // Not `split_to`: no second handle on the buffer (a count up and down) per read.
        bytes::Buf::advance(&mut self.partial, n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Read;

    use ferry_test_support::origin::{GZIP_TEXT, Origin, pattern};

    use super::Client;

    fn client(decompress: bool) -> Client {
        Client::builder().env_proxies(false).decompress(decompress).build().unwrap()
    }

    /// `Read` past the decoder (nothing decoded) gives what `bytes` gives, whatever the
    /// buffer's size and the framing (chunks, trailers); a decoded body never takes that path.
    #[test]
    fn reads_past_the_decoder_give_the_body_and_decoded_ones_do_not_go_past_it() {
        let origin = Origin::http();
        let plain = client(true);
        for path in ["/bytes/10", "/bytes/70000", "/chunked/5000?chunk=7&trailer"] {
            let whole = plain.get(&origin.url(path)).send().unwrap().bytes().unwrap();
            for size in [1, 3, 4096, 64 * 1024] {
                let mut r = plain.get(&origin.url(path)).send().unwrap();
                assert!(!r.is_decoded());
                let (mut got, mut buf) = (Vec::new(), vec![0; size]);
                loop {
                    match r.read(&mut buf).unwrap() {
                        0 => break,
                        n => got.extend_from_slice(&buf[..n]),
                    }
                }
                assert!(got == whole, "{path} read {size} at a time");
                assert_eq!(r.bytes_read(), got.len() as u64);
                if path.contains("trailer") {
                    assert!(r.trailers().is_some(), "{path}");
                }
            }
        }
        assert!(
            plain.get(&origin.url("/bytes/10")).send().unwrap().bytes().unwrap() == pattern(10)
        );
        // Decoded: the text, not the gzip bytes; not decoded: the gzip bytes as sent.
        for size in [1, 64 * 1024] {
            let mut r = plain.get(&origin.url("/gzip")).send().unwrap();
            assert!(r.is_decoded());
            let (mut got, mut buf) = (Vec::new(), vec![0; size]);
            while let n @ 1.. = r.read(&mut buf).unwrap() {
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(String::from_utf8(got).unwrap(), GZIP_TEXT);
        }
        let coded = client(false);
        let mut r = coded.get(&origin.url("/gzip")).send().unwrap();
        assert!(!r.is_decoded());
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(&got[..2], &[0x1f, 0x8b], "the gzip magic: passed through");
        assert_eq!(plain.connections_opened(), 1, "every body read to its end: one connection");
    }
}
