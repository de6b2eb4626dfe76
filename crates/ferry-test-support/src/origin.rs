//! An in-process origin server, HTTP or HTTPS, on `127.0.0.1:0`, with routes enough for a
//! client's tests (echo, statuses, sized and chunked bodies, redirects, delays, gzip, cookies,
//! Basic auth), counters, and a log of every request it saw.
//!
//! ```
//! use std::io::{Read, Write};
//! use ferry_test_support::origin::Origin;
//!
//! let origin = Origin::http();
//! let mut s = std::net::TcpStream::connect(origin.addr()).unwrap();
//! s.write_all(b"GET /bytes/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
//! let mut reply = String::new();
//! s.read_to_string(&mut reply).unwrap();
//! assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(reply.ends_with("\r\n\r\nabc"));
//! assert_eq!((origin.connections(), origin.requests()), (1, 1));
//! assert_eq!(origin.seen()[0].target, "/bytes/3");
//! ```
//!
//! # Routes
//! Every route answers `GET` and `HEAD` (and any other method: the method is not checked).
//! A request with `Expect: 100-continue` gets `100 Continue` before its body is read.
//!
//! | target | response |
//! | --- | --- |
//! | `/echo` (any query) | 200, `text/plain`: the request head as received (request line, then each field as `name: value` in order and case, CRLF after each, an empty line), then the decoded body |
//! | `/status/{code}` | that status (200 to 999), body `status {code}\n` (none for 204 and 304) |
//! | `/bytes/{n}` | 200 with `Content-Length: n`, the body `abc...zabc...` ([`pattern`]) |
//! | `/chunked/{n}` | 200 chunked, the same bytes in chunks of `?chunk=` bytes (default 1000); with `?trailer` a `Trailer: x-trailer` field and the trailer `x-trailer: done` |
//! | `/close` | 200 with `Connection: close`, then the connection closes |
//! | `/redirect/{n}` | 302 to `/redirect/{n-1}`, and `/redirect/1` to `/echo` |
//! | `/redirect-to?url=U&status=S` | status `S` (default 302) with `Location: U` (percent-decoded) |
//! | `/slow/{ms}` | waits `ms` milliseconds (at most 60 000), then 200 `slow\n` |
//! | `/gzip` | 200 with `Content-Encoding: gzip`, the gzip of [`GZIP_TEXT`] |
//! | `/set-cookie?a=1&b=2` | 200 with one `Set-Cookie: a=1; Path=/` per pair |
//! | `/cookies` | 200, the request's `Cookie` fields joined with `; ` |
//! | `/basic-auth/{user}/{pass}` | 200 `authenticated {user}\n` with the right Basic `Authorization`, else 401 with `WWW-Authenticate: Basic realm="ferry"` |
//! | anything else | 404 |

use std::io::{self, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::certs::Leaf;
use crate::server::{Conn, Handler, Registry, Server, lock};
use crate::wire::{
    self, Framing, OutBody, Response, SeenRequest, WireError, client_wants_close, has_token,
};

/// The text that `/gzip` sends compressed.
pub const GZIP_TEXT: &str = "ferry says hello through gzip; ferry says hello through gzip.\n";

/// The longest `/slow/{ms}` wait, in milliseconds.
const MAX_SLOW_MS: u64 = 60_000;
/// The largest `/bytes/{n}` or `/chunked/{n}` body.
const MAX_BYTES: usize = 64 * 1024 * 1024;

/// The first `n` bytes of the body that `/bytes/{n}` and `/chunked/{n}` send: `a` to `z`,
/// repeated.
#[must_use]
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

/// An origin server on `127.0.0.1`, stopped when dropped.
pub struct Origin {
    server: Server,
    state: Arc<State>,
    tls: bool,
}

#[derive(Default)]
struct State {
    requests: AtomicUsize,
    seen: Mutex<Vec<SeenRequest>>,
}

impl Origin {
    /// An HTTP origin on `127.0.0.1:0`.
    ///
    /// # Panics
    /// If it cannot bind a loopback port or start a thread (a broken test environment).
    #[must_use]
    pub fn http() -> Origin {
        Origin::start(None)
    }

    /// An HTTPS origin on `127.0.0.1:0` presenting this leaf (make it for `localhost` and
    /// `127.0.0.1`), offering ALPN `http/1.1`.
    ///
    /// # Panics
    /// If it cannot bind a loopback port or start a thread (a broken test environment).
    #[must_use]
    pub fn https(leaf: &Leaf) -> Origin {
        Origin::start(Some(leaf.server_config(&[b"http/1.1"])))
    }

    /// A server that hands each accepted connection to `behave`, on its own thread, for
    /// hostile or odd servers. [`Origin::connections`] counts them; requests and `seen` stay
    /// empty. On drop the sockets are shut down, so a `behave` blocked reading returns.
    ///
    /// # Panics
    /// If it cannot bind a loopback port or start a thread (a broken test environment).
    #[must_use]
    pub fn raw<F>(behave: F) -> Origin
    where
        F: Fn(TcpStream) + Send + Sync + 'static,
    {
        let handler: Handler = Arc::new(move |stream, _: &Registry| behave(stream));
        let server = Server::start("origin-raw", handler).expect("bind a loopback port");
        Origin { server, state: Arc::default(), tls: false }
    }

    fn start(tls: Option<Arc<ServerConfig>>) -> Origin {
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        let is_tls = tls.is_some();
        let handler: Handler = Arc::new(move |stream: TcpStream, _: &Registry| match &tls {
            None => serve(stream, &shared),
            Some(config) => {
                let Ok(conn) = ServerConnection::new(Arc::clone(config)) else { return };
                serve(StreamOwned::new(conn, stream), &shared);
            }
        });
        let name = if is_tls { "origin-https" } else { "origin-http" };
        let server = Server::start(name, handler).expect("bind a loopback port");
        Origin { server, state, tls: is_tls }
    }

    /// The listening address (`127.0.0.1:port`).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The listening port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// Whether this origin speaks TLS.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The URL of `path` here: `http://127.0.0.1:port/path`, or `https://localhost:port/path`
    /// for HTTPS (the name its leaf is for). A missing leading `/` is added.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        if self.tls {
            format!("https://localhost:{}{slash}{path}", self.port())
        } else {
            format!("http://127.0.0.1:{}{slash}{path}", self.port())
        }
    }

    /// Connections accepted so far.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.server.registry().accepted()
    }

    /// Requests whose head was read so far.
    #[must_use]
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Every request seen so far, in order of arrival (a request is logged once its body was
    /// read, before its response is written).
    #[must_use]
    pub fn seen(&self) -> Vec<SeenRequest> {
        lock(&self.state.seen).clone()
    }
}

impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Origin").field("addr", &self.addr()).field("tls", &self.tls).finish()
    }
}

/// Serves requests on one connection until either side closes.
fn serve<S: Conn>(stream: S, state: &State) {
    let mut r = BufReader::new(stream);
    loop {
        let mut req = match wire::read_request_head(&mut r) {
            Ok(Some(req)) => req,
            Ok(None) | Err(WireError::Io) => return,
            Err(WireError::TooLarge) => return refuse(r.get_mut(), 431, "head too large\n"),
            Err(WireError::Malformed(why)) => return refuse(r.get_mut(), 400, why),
        };
        state.requests.fetch_add(1, Ordering::SeqCst);
        let framing = match wire::request_framing(&req.headers) {
            Ok(framing) => framing,
            Err(WireError::Malformed(why)) => return refuse(r.get_mut(), 400, why),
            Err(_) => return refuse(r.get_mut(), 400, "bad framing"),
        };
        if framing != Framing::None && has_token(&req.headers, "expect", "100-continue") {
            if r.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                return;
            }
            let _ = r.get_mut().flush();
        }
        match wire::read_body(&mut r, framing, &mut io::sink(), true) {
            Ok(body) => (req.body, req.trailers) = (body.data, body.trailers),
            Err(WireError::Io) => return,
            Err(WireError::TooLarge) => return refuse(r.get_mut(), 413, "body too large\n"),
            Err(WireError::Malformed(why)) => return refuse(r.get_mut(), 400, why),
        }
        lock(&state.seen).push(req.clone());
        let (mut response, route_closes) = route(&req);
        let close = route_closes || client_wants_close(&req);
        if close {
            response.headers.push(("Connection".to_owned(), "close".to_owned()));
        }
        let head_only = req.method.eq_ignore_ascii_case("HEAD");
        let conn = r.get_mut();
        if conn.write_all(&response.encode(head_only)).is_err() || conn.flush().is_err() {
            return;
        }
        if close {
            conn.finish();
            return;
        }
    }
}

/// Answers a request that cannot be read on, and closes.
fn refuse<S: Conn>(conn: &mut S, code: u16, why: &str) {
    let response = Response::text(code, why).with("Connection", "close");
    let _ = conn.write_all(&response.encode(false));
    conn.finish();
}

/// The response to a request, and whether the connection closes after it.
fn route(req: &SeenRequest) -> (Response, bool) {
    let path = req.path();
    let query = parse_query(req.query().unwrap_or_default());
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let number = |s: &str| s.parse::<u64>().ok();
    let response = match segments.as_slice() {
        ["echo"] => Response::full(200, "text/plain; charset=utf-8", echo(req)),
        ["status", code] => match number(code) {
            Some(code @ (204 | 304)) => {
                Response { code: code as u16, headers: vec![], body: OutBody::Empty }
            }
            Some(code @ 200..=999) => Response::text(code as u16, &format!("status {code}\n")),
            _ => Response::text(400, "a status from 200 to 999\n"),
        },
        ["bytes", n] => match number(n).and_then(|n| usize::try_from(n).ok()) {
            Some(n) if n <= MAX_BYTES => {
                Response::full(200, "application/octet-stream", pattern(n))
            }
            _ => Response::text(400, "a size up to 64 MiB\n"),
        },
        ["chunked", n] => chunked(number(n), &query),
        ["close"] => return (Response::text(200, "closing\n"), true),
        ["redirect", n] => match number(n) {
            Some(n @ 2..) => redirect(302, &format!("/redirect/{}", n - 1)),
            Some(_) => redirect(302, "/echo"),
            None => Response::text(400, "a redirect count\n"),
        },
        ["redirect-to"] => {
            let status = lookup(&query, "status").map_or(Some(302), |s| s.parse::<u16>().ok());
            match (lookup(&query, "url"), status) {
                (Some(url), Some(status @ 300..=399)) => redirect(status, url),
                _ => Response::text(400, "redirect-to?url=...&status=3xx\n"),
            }
        }
        ["slow", ms] => match number(ms) {
            Some(ms) if ms <= MAX_SLOW_MS => {
                thread::sleep(Duration::from_millis(ms));
                Response::text(200, "slow\n")
            }
            _ => Response::text(400, "a delay up to 60000 ms\n"),
        },
        ["gzip"] => Response::full(200, "text/plain; charset=utf-8", gzip(GZIP_TEXT.as_bytes()))
            .with("Content-Encoding", "gzip"),
        ["set-cookie"] => {
            let mut response = Response::text(200, "cookies set\n");
            for (name, value) in &query {
                response = response.with("Set-Cookie", &format!("{name}={value}; Path=/"));
            }
            response
        }
        ["cookies"] => Response::text(200, &req.header_all("cookie").join("; ")),
        ["basic-auth", user, pass] => basic_auth(req, user, pass),
        _ => Response::text(404, &format!("no route for {path}\n")),
    };
    (response, false)
}

fn echo(req: &SeenRequest) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.{}\r\n", req.method, req.target, req.version).into_bytes();
    for (name, value) in &req.headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&req.body);
    out
}

fn chunked(n: Option<u64>, query: &[(String, String)]) -> Response {
    let Some(n) = n.and_then(|n| usize::try_from(n).ok()).filter(|n| *n <= MAX_BYTES) else {
        return Response::text(400, "a size up to 64 MiB\n");
    };
    let size = lookup(query, "chunk").and_then(|c| c.parse::<usize>().ok()).unwrap_or(1000).max(1);
    let chunks = pattern(n).chunks(size).map(<[u8]>::to_vec).collect();
    let with_trailer = query.iter().any(|(name, _)| name == "trailer");
    let trailers =
        if with_trailer { vec![("x-trailer".to_owned(), "done".to_owned())] } else { vec![] };
    let mut headers = vec![("Content-Type".to_owned(), "application/octet-stream".to_owned())];
    if with_trailer {
        headers.push(("Trailer".to_owned(), "x-trailer".to_owned()));
    }
    Response { code: 200, headers, body: OutBody::Chunked { chunks, trailers } }
}

fn redirect(code: u16, location: &str) -> Response {
    Response::text(code, &format!("redirecting to {location}\n")).with("Location", location)
}

fn basic_auth(req: &SeenRequest, user: &str, pass: &str) -> Response {
    let expected = format!("{user}:{pass}");
    let given = req
        .header("authorization")
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, token)| BASE64.decode(token.trim()).ok());
    if given.as_deref() == Some(expected.as_bytes()) {
        Response::text(200, &format!("authenticated {user}\n"))
    } else {
        Response::text(401, "unauthorized\n").with("WWW-Authenticate", "Basic realm=\"ferry\"")
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// `a=1&b=%20` as decoded pairs (no `+` to space: these are URLs, not forms).
fn parse_query(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            (decode(name), decode(value))
        })
        .collect()
}

fn lookup<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_decoded() {
        let got = parse_query("url=http%3A%2F%2Fx%2Fy%3Fa%3Db&status=307&flag");
        let want = [("url", "http://x/y?a=b"), ("status", "307"), ("flag", "")];
        let want: Vec<(String, String)> =
            want.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn the_pattern_wraps_after_z() {
        assert_eq!(&pattern(28)[24..], b"yzab");
    }
}
