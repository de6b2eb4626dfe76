//! One logical request, across redirects and retries: the decisions a client makes between
//! exchanges, with no I/O. A driver asks the [`Call`] for the next hop's request, runs it on
//! a connection for that hop's route, and tells the call what happened; the call says whether
//! to retry, follow a redirect, or hand the response to the user.

use std::time::Duration;

use bytes::Bytes;
use ferry_proto::{
    BodyFraming, CheckedFields, Method, Request, ResponseHead, Scheme, Timestamp, Url,
};

use crate::error::{Error, ErrorKind, Phase, RedirectError, Timeout};

/// How redirects are followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedirectPolicy {
    /// Redirects followed at most; `0` returns every redirect response as it is.
    pub limit: u32,
    /// Whether an `https://` URL may redirect to `http://` (refused by default: it would send
    /// the request, and what the server set, in clear text).
    pub allow_https_to_http: bool,
}

impl Default for RedirectPolicy {
    /// Ten redirects (Requests' and curl's `-L` default is 30 and 50; ten is reqwest's), no
    /// downgrade.
    fn default() -> Self {
        RedirectPolicy { limit: 10, allow_https_to_http: false }
    }
}

/// The body of a call, as far as the decisions care: its framing and whether it can be sent
/// again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallBody {
    /// No body.
    Empty,
    /// Bytes held in memory: sent with `Content-Length`, replayable on a retry or a 307/308.
    Bytes(Bytes),
    /// A stream read once (a reader): `Content-Length` when its length is known, else chunked;
    /// never sent twice.
    Stream(Option<u64>),
}

impl CallBody {
    /// Whether it can be sent again.
    #[must_use]
    pub fn is_replayable(&self) -> bool {
        !matches!(self, CallBody::Stream(_))
    }

    fn framing(&self) -> BodyFraming {
        match self {
            CallBody::Empty => BodyFraming::Empty,
            CallBody::Bytes(b) if b.is_empty() => BodyFraming::Empty,
            CallBody::Bytes(b) => BodyFraming::Length(b.len() as u64),
            CallBody::Stream(Some(n)) => BodyFraming::Length(*n),
            CallBody::Stream(None) => BodyFraming::Chunked,
        }
    }
}

/// What to do with a response head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// It is the answer: hand it to the user.
    Deliver,
    /// Follow the redirect: discard this response's body, then send [`Call::request`] for
    /// the new [`Call::url`] (choosing the route again: the proxy may differ).
    Follow,
}

/// Header fields that describe a body: dropped with the body when a redirect turns the
/// request into a GET.
const BODY_FIELDS: [&str; 5] =
    ["content-type", "content-length", "content-encoding", "content-language", "transfer-encoding"];

/// Header fields that carry the user's credentials for one origin: dropped when a redirect
/// leaves it.
const ORIGIN_CREDENTIALS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// One logical request: method, URL, header fields and body, the redirects it followed, the
/// retries it made, and the whole-request deadline.
///
/// Its fields are the client's defaults (shared with the client, never copied: those this
/// call does not send are marked in a mask) followed by the caller's own; names are UTF-8
/// (they come from `&str`), held as `Bytes` so that a hop's request shares them.
#[derive(Clone, Debug)]
pub struct Call<T> {
    method: Method,
    url: Url,
    /// The client's default fields, checked when the client was built and shared by every
    /// call of the client (and every request it sends: they are not checked again).
    defaults: Option<CheckedFields>,
    /// Bit `i` set: `defaults[i]` is not sent (replaced, removed, or dropped by a redirect).
    skip: u64,
    /// The caller's fields, after the defaults, names as given.
    headers: Vec<(Bytes, Bytes)>,
    body: CallBody,
    policy: RedirectPolicy,
    /// The URLs requested before the current one, in order.
    chain: Vec<Url>,
    /// Retries made on the current hop.
    retries: u32,
    deadline: Option<T>,
}

impl<T: Timestamp> Call<T> {
    /// A call started at `now`, bounded by `total` (every redirect and retry included).
    /// Credentials in the URL's userinfo become `Authorization: Basic` unless the caller set
    /// that field.
    #[must_use]
    pub fn new(
        now: T,
        method: Method,
        url: Url,
        headers: Vec<(String, Bytes)>,
        body: CallBody,
        policy: RedirectPolicy,
        total: Option<Duration>,
    ) -> Call<T> {
        let headers = headers.into_iter().map(|(n, v)| (Bytes::from(n), v)).collect();
        Call::with_defaults(now, method, url, (None, 0), headers, body, policy, total)
    }

    /// [`Call::new`] with the client's `defaults` first (those whose bit is set in `skip`
    /// left out), then `headers`, whose names must be UTF-8.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn with_defaults(
        now: T,
        method: Method,
        url: Url,
        (defaults, skip): (Option<CheckedFields>, u64),
        headers: Vec<(Bytes, Bytes)>,
        body: CallBody,
        policy: RedirectPolicy,
        total: Option<Duration>,
    ) -> Call<T> {
        let deadline = total.and_then(|d| now.checked_add(d));
        let mut call = Call {
            method,
            url,
            defaults,
            skip,
            headers,
            body,
            policy,
            chain: Vec::new(),
            retries: 0,
            deadline,
        };
        if let Some(userinfo) = call.url.userinfo() {
            if !call.fields().any(|(n, _)| n.eq_ignore_ascii_case(b"authorization")) {
                let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let decode = |s: &str| percent_decode(s);
                let creds = ferry_proto::Credentials::new(decode(user), decode(pass));
                call.headers
                    .push((Bytes::from_static(b"Authorization"), Bytes::from(creds.basic())));
            }
        }
        call
    }

    /// The fields of the current hop: the defaults not skipped, then the caller's.
    fn fields(&self) -> impl Iterator<Item = &(Bytes, Bytes)> {
        let skip = self.skip;
        self.defaults
            .iter()
            .flat_map(CheckedFields::iter)
            .enumerate()
            .filter(move |(i, _)| *i >= 64 || skip & (1 << i) == 0)
            .map(|(_, f)| f)
            .chain(&self.headers)
    }

    /// Keeps only the fields whose name `keep` accepts (defaults are marked skipped).
    fn retain_fields(&mut self, keep: impl Fn(&[u8]) -> bool) {
        for (i, (name, _)) in self.defaults.iter().flat_map(CheckedFields::iter).enumerate() {
            if !keep(name) && i < 64 {
                self.skip |= 1 << i;
            }
        }
        self.headers.retain(|(n, _)| keep(n));
    }

    /// The URL of the current hop.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The method of the current hop (a 303 makes it GET).
    #[must_use]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The body of the current hop.
    #[must_use]
    pub fn body(&self) -> &CallBody {
        &self.body
    }

    /// The URLs requested before the current one, in order.
    #[must_use]
    pub fn redirects(&self) -> &[Url] {
        &self.chain
    }

    /// When the whole call must be over.
    #[must_use]
    pub fn deadline(&self) -> Option<T> {
        self.deadline
    }

    /// The header fields of the current hop, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        // Names come from `&str` and `String`: never the empty fallback.
        self.fields().map(|(n, v)| (std::str::from_utf8(n).unwrap_or_default(), &v[..]))
    }

    /// Fails once the whole-request deadline has passed.
    ///
    /// # Errors
    /// [`Timeout::Request`].
    pub fn check_deadline(&self, now: T, phase: Phase) -> Result<(), Error> {
        match self.deadline {
            Some(at) if at <= now => Err(Error::new(phase, ErrorKind::Timeout(Timeout::Request))),
            _ => Ok(()),
        }
    }

    /// The core's request for the current hop, with `cookie` (the jar's `Cookie` value for
    /// this URL, if any) added.
    #[must_use]
    pub fn request(&self, cookie: Option<&str>) -> Request {
        let mut request =
            Request::new(self.method.clone(), self.url.clone()).body(self.body.framing());
        // The defaults go as they are, shared and not checked again; the caller's own fields
        // are checked when the request is encoded.
        request.set_checked_fields(self.defaults.clone(), self.skip);
        for (name, value) in &self.headers {
            request.push_header(name.clone(), value.clone());
        }
        if let Some(cookie) = cookie {
            if !self.fields().any(|(n, _)| n.eq_ignore_ascii_case(b"cookie")) {
                request = request.header("Cookie", cookie.to_owned());
            }
        }
        request
    }

    /// Whether this hop, sent on a pooled connection that turns out stale, would be sent again
    /// on a new one whatever failure that gives: no retry spent yet, a replayable body, an
    /// idempotent method. What [`Stack::needs_probe`](crate::Stack::needs_probe) asks before
    /// a reused connection is probed.
    #[must_use]
    pub fn would_retry_stale(&self) -> bool {
        self.retries == 0 && self.body.is_replayable() && self.method.is_idempotent()
    }

    /// The hop failed with `error` on a connection that was `reused` from the pool (or not):
    /// `true` when the same request is to be sent once more on a new connection. Only once
    /// per hop, only on a reused connection, only with a replayable body, and only when the
    /// error says it cannot have been acted on twice ([`crate::may_retry`]).
    pub fn on_error(&mut self, error: &Error, reused: bool) -> bool {
        let retry =
            crate::may_retry(error, self.retries, reused, self.body.is_replayable(), &self.method);
        if retry {
            self.retries += 1;
        }
        retry
    }

    /// The final head of the current hop arrived: deliver it, or follow its redirect (the call
    /// then describes the next hop).
    ///
    /// The rules: 301 and 302 turn a POST into a GET without its body; 303 turns anything
    /// but HEAD into a GET without its body; 307 and 308 keep the method and send the body
    /// again, if it is replayable (else the redirect is delivered); `Authorization`, `Cookie`
    /// and `Proxy-Authorization` are dropped when the origin (scheme, host, port) changes; an
    /// `https://` URL does not redirect to `http://` unless the policy allows it.
    ///
    /// # Errors
    /// [`RedirectError`]: past the limit (with the chain of URLs), a downgrade, a `Location`
    /// that does not resolve to an `http(s)` URL.
    pub fn on_response(&mut self, head: &ResponseHead) -> Result<Next, Error> {
        let status = head.status();
        if !matches!(status, 301 | 302 | 303 | 307 | 308) || self.policy.limit == 0 {
            return Ok(Next::Deliver);
        }
        let Some(location) = head.headers().get("location") else { return Ok(Next::Deliver) };
        let redirect_error = |e| Error::new(Phase::Receive, ErrorKind::Redirect(e));
        let text = String::from_utf8_lossy(location);
        let next = self.url.join(text.trim()).map_err(|_| {
            redirect_error(RedirectError::Location { location: text.clone().into_owned() })
        })?;
        let keeps_body = matches!(status, 307 | 308);
        if keeps_body && !self.body.is_replayable() {
            return Ok(Next::Deliver);
        }
        let followed = u32::try_from(self.chain.len()).unwrap_or(u32::MAX);
        if followed >= self.policy.limit {
            let mut chain: Vec<String> = self.chain.iter().map(ToString::to_string).collect();
            chain.push(self.url.to_string());
            chain.push(next.to_string());
            return Err(redirect_error(RedirectError::TooMany { chain }));
        }
        if self.url.scheme() == Scheme::Https
            && next.scheme() == Scheme::Http
            && !self.policy.allow_https_to_http
        {
            return Err(redirect_error(RedirectError::Insecure {
                from: self.url.to_string(),
                to: next.to_string(),
            }));
        }
        let to_get = match status {
            301 | 302 => self.method.as_bytes() == b"POST",
            303 => self.method.as_bytes() != b"HEAD",
            _ => false,
        };
        if to_get {
            self.method = Method::new("GET");
            self.body = CallBody::Empty;
            self.retain_fields(|n| {
                !BODY_FIELDS.iter().any(|b| n.eq_ignore_ascii_case(b.as_bytes()))
            });
        }
        if !same_origin(&self.url, &next) {
            self.retain_fields(|n| {
                !ORIGIN_CREDENTIALS.iter().any(|c| n.eq_ignore_ascii_case(c.as_bytes()))
            });
        }
        let previous = std::mem::replace(&mut self.url, next);
        self.chain.push(previous);
        self.retries = 0;
        Ok(Next::Follow)
    }
}

/// Same scheme, host and port (RFC 6454's origin).
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host() == b.host() && a.port_or_default() == b.port_or_default()
}

/// `%XX` escapes of a URL's userinfo decoded (lossily, as text).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}
