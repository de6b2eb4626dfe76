//! One run of one client on one workload, measuring itself: the runner starts it (pinned,
//! or under callgrind) and reads one line of figures from its standard output.
//!
//! `client name=C path=P warm=W n=N scheme=http|https port=P [proxy=P] ca=FILE [warmpath=P]`:
//! makes client C, does W GETs of `warmpath` (default P) on one kept-alive connection, then N
//! GETs of P, each body read to its end through `std::io::Read`-like calls into one reused
//! 64 KiB buffer, and prints
//! `cpu_us=.. wall_us=.. allocs=.. bytes=.. body=..` for the N GETs alone. Every body's length is
//! checked; a wrong one is an error (exit 1), so a broken client cannot post a good figure.
//!
//! Clients are a table ([`CLIENTS`]) of constructors behind one trait ([`Get`]): a new row is
//! one struct with `new` and `get`.

use std::error::Error;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use ferry_bench::{Canned, Counting, alloc_counts, cpu_micros, raw_request};

#[global_allocator]
static ALLOC: Counting = Counting;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// The size of the buffer every client reads its bodies into.
const SINK: usize = 64 * 1024;

/// Where to send the requests.
struct Target {
    https: bool,
    port: u16,
    proxy: Option<u16>,
    ca_pem: Vec<u8>,
}

impl Target {
    fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    fn proxy_url(&self) -> Option<String> {
        self.proxy.map(|p| format!("http://bench:secret@127.0.0.1:{p}"))
    }

    fn ca_der(&self) -> Result<rustls_pki_types::CertificateDer<'static>> {
        use rustls_pki_types::pem::PemObject;
        Ok(rustls_pki_types::CertificateDer::from_pem_slice(&self.ca_pem)?)
    }
}

/// One client, one kept-alive connection (or pool) to the target.
trait Get {
    /// One GET of `path`, its body read to the end through `sink`; the body's length.
    fn get(&mut self, path: &str, sink: &mut [u8]) -> Result<u64>;
}

type Make = fn(&Target) -> Result<Box<dyn Get>>;

/// Every client, by the name the runner uses.
const CLIENTS: &[(&str, Make)] = &[
    ("raw", |t| Ok(Box::new(Raw::new(t)?))),
    ("bare", |t| Ok(Box::new(Bare::new(t)?))),
    ("ferry-conn", |t| Ok(Box::new(FerryConn::new(t)?))),
    ("ferry-client", |t| Ok(Box::new(FerryClient::new(t)?))),
    ("hyper", hyper),
    ("ureq", |t| Ok(Box::new(Ureq::new(t)?))),
    ("reqwest", |t| Ok(Box::new(Reqwest::new(t)?))),
];

fn main() {
    if let Err(e) = run() {
        eprintln!("client: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = std::collections::HashMap::new();
    for a in std::env::args().skip(1) {
        let (k, v) = a.split_once('=').ok_or_else(|| format!("not key=value: {a}"))?;
        args.insert(k.to_owned(), v.to_owned());
    }
    let arg = |k: &str| args.get(k).cloned().ok_or_else(|| format!("missing {k}="));
    let name = arg("name")?;
    let path = arg("path")?;
    let warm_path = args.get("warmpath").cloned().unwrap_or_else(|| path.clone());
    let warm: u64 = arg("warm")?.parse()?;
    let n: u64 = arg("n")?.parse()?;
    let target = Target {
        https: arg("scheme")? == "https",
        port: arg("port")?.parse()?,
        proxy: args.get("proxy").map(|p| p.parse()).transpose()?,
        ca_pem: std::fs::read(arg("ca")?)?,
    };
    let expect =
        |p: &str| Canned::from_path(p).map(Canned::body_len).ok_or(format!("no such path {p}"));
    let (warm_len, len) = (expect(&warm_path)?, expect(&path)?);
    let make = CLIENTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, m)| *m)
        .ok_or_else(|| format!("no client {name}"))?;
    let mut client = make(&target)?;
    let mut sink = vec![0u8; SINK];
    for _ in 0..warm {
        let got = client.get(&warm_path, &mut sink)?;
        if got != warm_len {
            return Err(format!("{name}: {warm_path} gave {got} bytes, not {warm_len}").into());
        }
    }
    let (cpu0, (allocs0, bytes0), wall0) = (cpu_micros(), alloc_counts(), Instant::now());
    let mut body = 0;
    for _ in 0..n {
        let got = client.get(&path, &mut sink)?;
        if got != len {
            return Err(format!("{name}: {path} gave {got} bytes, not {len}").into());
        }
        body += got;
    }
    let (cpu1, (allocs1, bytes1), wall) = (cpu_micros(), alloc_counts(), wall0.elapsed());
    println!(
        "cpu_us={} wall_us={} allocs={} bytes={} body={body}",
        cpu1 - cpu0,
        wall.as_micros(),
        allocs1 - allocs0,
        bytes1 - bytes0
    );
    drop(client);
    Ok(())
}

/// A rustls client configuration trusting the bench CA alone.
fn rustls_config(t: &Target) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(t.ca_der()?)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A socket to the target, plain or rustls, through the proxy's CONNECT when there is one:
/// what the floors (raw, bare) talk over.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn open(t: &Target) -> Result<Stream> {
        let mut tcp = TcpStream::connect(("127.0.0.1", t.proxy.unwrap_or(t.port)))?;
        tcp.set_nodelay(true)?;
        if t.proxy.is_some() {
            // "bench:secret" in base64.
            let connect = format!(
                "CONNECT 127.0.0.1:{0} HTTP/1.1\r\nHost: 127.0.0.1:{0}\r\n\
                 Proxy-Authorization: Basic YmVuY2g6c2VjcmV0\r\n\r\n",
                t.port
            );
            tcp.write_all(connect.as_bytes())?;
            // Byte by byte to the end of the reply, so no tunnel byte is read here.
            let mut reply = Vec::new();
            let mut byte = [0u8];
            while !reply.ends_with(b"\r\n\r\n") {
                if tcp.read(&mut byte)? == 0 {
                    return Err("the proxy closed during CONNECT".into());
                }
                reply.push(byte[0]);
            }
            if !reply.starts_with(b"HTTP/1.1 200") {
                return Err(format!("CONNECT: {}", String::from_utf8_lossy(&reply)).into());
            }
        }
        if !t.https {
            return Ok(Stream::Plain(tcp));
        }
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1")?;
        let conn = rustls::ClientConnection::new(rustls_config(t)?, name)?;
        Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// The floor: writes the canned request, reads exactly as many bytes as the canned response
/// is long, parses nothing. Over TLS it is a raw rustls stream over the same socket.
struct Raw {
    stream: Stream,
    /// The last path, its request bytes and its response's length on the wire.
    request: (String, Vec<u8>, u64),
}

impl Raw {
    fn new(t: &Target) -> Result<Raw> {
        Ok(Raw { stream: Stream::open(t)?, request: (String::new(), Vec::new(), 0) })
    }
}

impl Get for Raw {
    fn get(&mut self, path: &str, sink: &mut [u8]) -> Result<u64> {
        let canned = Canned::from_path(path).ok_or("unknown path")?;
        if self.request.0 != path {
            self.request = (path.to_owned(), raw_request(path), canned.wire_len());
        }
        self.stream.write_all(&self.request.1)?;
        self.stream.flush()?;
        let mut left = self.request.2;
        while left > 0 {
            let want = left.min(sink.len() as u64) as usize;
            let n = self.stream.read(&mut sink[..want])?;
            if n == 0 {
                return Err("eof in the response".into());
            }
            left -= n as u64;
        }
        Ok(canned.body_len())
    }
}

/// The bare client: httparse on a reused 64 KiB buffer over the same socket, `Content-Length`
/// and chunked framing, body bytes copied into the caller's buffer as a `Read` would, a large
/// `Content-Length` body read straight into it (as `BufReader` does) when the buffer is empty.
struct Bare {
    stream: Stream,
    request: (String, Vec<u8>),
    buf: Vec<u8>,
    pos: usize,
    end: usize,
}

impl Bare {
    fn new(t: &Target) -> Result<Bare> {
        Ok(Bare {
            stream: Stream::open(t)?,
            request: (String::new(), Vec::new()),
            buf: vec![0; SINK],
            pos: 0,
            end: 0,
        })
    }

    /// Reads more into the buffer, compacting it first when it is full.
    fn fill(&mut self) -> Result<()> {
        if self.pos == self.end {
            (self.pos, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.pos..self.end, 0);
            (self.pos, self.end) = (0, self.end - self.pos);
        }
        let n = self.stream.read(&mut self.buf[self.end..])?;
        if n == 0 {
            return Err("eof in the response".into());
        }
        self.end += n;
        Ok(())
    }

    /// Copies up to `left` buffered body bytes into `sink`, reading first when none is
    /// buffered; how many.
    fn body(&mut self, left: u64, sink: &mut [u8], bypass: bool) -> Result<u64> {
        if self.pos == self.end && bypass && left >= sink.len() as u64 {
            let n = self.stream.read(sink)?;
            if n == 0 {
                return Err("eof in the body".into());
            }
            return Ok(n as u64);
        }
        if self.pos == self.end {
            self.fill()?;
        }
        let take = left.min((self.end - self.pos) as u64).min(sink.len() as u64) as usize;
        sink[..take].copy_from_slice(&self.buf[self.pos..self.pos + take]);
        self.pos += take;
        Ok(take as u64)
    }
}

impl Get for Bare {
    fn get(&mut self, path: &str, sink: &mut [u8]) -> Result<u64> {
        if self.request.0 != path {
            self.request = (path.to_owned(), raw_request(path));
        }
        self.stream.write_all(&self.request.1)?;
        self.stream.flush()?;
        let (length, chunked) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf[self.pos..self.end])? {
                httparse::Status::Complete(len) => {
                    let mut length = None;
                    let mut chunked = false;
                    for h in response.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            length = Some(std::str::from_utf8(h.value)?.parse::<u64>()?);
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            chunked = h.value.eq_ignore_ascii_case(b"chunked");
                        }
                    }
                    self.pos += len;
                    break (length, chunked);
                }
                httparse::Status::Partial => self.fill()?,
            }
        };
        let mut total = 0;
        if chunked {
            loop {
                let size = loop {
                    match httparse::parse_chunk_size(&self.buf[self.pos..self.end]) {
                        Ok(httparse::Status::Complete((used, size))) => {
                            self.pos += used;
                            break size;
                        }
                        Ok(httparse::Status::Partial) => self.fill()?,
                        Err(_) => return Err("bad chunk size".into()),
                    }
                };
                let mut left = size;
                while left > 0 {
                    let n = self.body(left, sink, false)?;
                    left -= n;
                }
                total += size;
                while self.end - self.pos < 2 {
                    self.fill()?;
                }
                if &self.buf[self.pos..self.pos + 2] != b"\r\n" {
                    return Err("no CRLF after a chunk".into());
                }
                self.pos += 2;
                if size == 0 {
                    return Ok(total);
                }
            }
        }
        let mut left = length.ok_or("no framing")?;
        while left > 0 {
            let n = self.body(left, sink, true)?;
            left -= n;
            total += n;
        }
        Ok(total)
    }
}

/// ferry-blocking's http.client-like `Connection`.
struct FerryConn {
    conn: ferry_blocking::Connection,
}

impl FerryConn {
    fn new(t: &Target) -> Result<FerryConn> {
        let scheme =
            if t.https { ferry_blocking::Scheme::Https } else { ferry_blocking::Scheme::Http };
        let tls = ferry_blocking::TlsConfig::builder()
            .webpki_roots(false)
            .add_ca_pem(&t.ca_pem)?
            .build()?;
        let mut builder =
            ferry_blocking::Connection::builder(scheme, "127.0.0.1", t.port)?.tls(tls);
        if let Some(url) = t.proxy_url() {
            builder = builder.proxy(ferry_blocking::Proxy::parse(&url)?);
        }
        Ok(FerryConn { conn: builder.build()? })
    }
}

impl Get for FerryConn {
    fn get(&mut self, path: &str, sink: &mut [u8]) -> Result<u64> {
        self.conn.request("GET", path, "", &[])?;
        let mut response = self.conn.response()?;
        let mut total = 0;
        loop {
            match response.read(sink)? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    }
}

/// ferry-blocking's Requests-like `Client`: a pool, the proxy decision, the redirect policy,
/// default fields (`User-Agent`, `Accept`, `Accept-Encoding`) over the same stack.
struct FerryClient {
    client: ferry_blocking::Client,
    urls: Urls,
}

/// The URL text of a path, built once per path: a caller keeps its URLs, so no client's
/// request pays for a `format!` of the bench's own (every URL-taking client gets the same).
struct Urls {
    base: String,
    path: String,
    url: String,
}

impl Urls {
    fn new(base: String) -> Urls {
        Urls { base, path: String::new(), url: String::new() }
    }

    fn of(&mut self, path: &str) -> &str {
        if self.url.is_empty() || self.path != path {
            self.path = path.to_owned();
            self.url = format!("{}{path}", self.base);
        }
        &self.url
    }
}

impl FerryClient {
    fn new(t: &Target) -> Result<FerryClient> {
        let tls = ferry_blocking::TlsConfig::builder()
            .webpki_roots(false)
            .add_ca_pem(&t.ca_pem)?
            .build()?;
        let mut builder = ferry_blocking::Client::builder().env_proxies(false).tls(tls);
        if let Some(url) = t.proxy_url() {
            builder = builder.proxy(ferry_blocking::Proxy::parse(&url)?);
        }
        Ok(FerryClient { client: builder.build()?, urls: Urls::new(t.url("")) })
    }
}

impl Get for FerryClient {
    fn get(&mut self, path: &str, sink: &mut [u8]) -> Result<u64> {
        let mut response = self.client.get(self.urls.of(path)).send()?;
        let mut total = 0;
        loop {
            match response.read(sink)? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    }
}

/// hyper 1.x through hyper-util's pooled client, on a current-thread tokio runtime; over TLS
/// with hyper-rustls (ring, the bench CA alone), through the proxy with hyper-util's CONNECT
/// `Tunnel` (Basic auth). One struct over the three connectors.
struct Hyper<C> {
    rt: tokio::runtime::Runtime,
    client: hyper_util::client::legacy::Client<C, http_body_util::Empty<bytes::Bytes>>,
    urls: Urls,
}

/// The hyper row for the target: plain, HTTPS, or HTTPS through the CONNECT proxy.
fn hyper(t: &Target) -> Result<Box<dyn Get>> {
    use hyper_util::client::legacy::connect::{HttpConnector, proxy::Tunnel};
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let mut tcp = HttpConnector::new();
    tcp.set_nodelay(true);
    tcp.enforce_http(false);
    let builder = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new());
    let urls = Urls::new(t.url(""));
    if !t.https {
        let client = builder.build(tcp);
        return Ok(Box::new(Hyper { rt, client, urls }));
    }
    let tls = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(Arc::unwrap_or_clone(rustls_config(t)?))
        .https_only()
        .enable_http1();
    match t.proxy {
        None => {
            let client = builder.build(tls.wrap_connector(tcp));
            Ok(Box::new(Hyper { rt, client, urls }))
        }
        Some(port) => {
            let proxy: hyper::Uri = format!("http://127.0.0.1:{port}").parse()?;
            let auth = hyper::header::HeaderValue::from_static("Basic YmVuY2g6c2VjcmV0"); // bench:secret
            let tunnel = Tunnel::new(proxy, tcp).with_auth(auth);
            let client = builder.build(tls.wrap_connector(tunnel));
            Ok(Box::new(Hyper { rt, client, urls }))
        }
    }
}

impl<C> Get for Hyper<C>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    fn get(&mut self, path: &str, sink: &mut [u8]) -> Result<u64> {
        use http_body_util::BodyExt;
        let uri: hyper::Uri = self.urls.of(path).parse()?;
        let client = &self.client;
        self.rt.block_on(async {
            let response = client.get(uri).await?;
            let mut body = response.into_body();
            let mut total = 0;
            while let Some(frame) = body.frame().await {
                if let Some(data) = frame?.data_ref() {
                    // Delivered through the same buffer as every other client's body.
                    for piece in data.chunks(sink.len()) {
                        sink[..piece.len()].copy_from_slice(piece);
                    }
                    total += data.len() as u64;
                }
            }
            Ok(total)
        })
    }
}

/// ureq 3.x's `Agent` (rustls with ring).
struct Ureq {
    agent: ureq::Agent,
    urls: Urls,
}

impl Ureq {
    fn new(t: &Target) -> Result<Ureq> {
        let der = t.ca_der()?;
        let roots = ureq::tls::RootCerts::new_with_certs(&[
            ureq::tls::Certificate::from_der(&der).to_owned()
        ]);
        let tls = ureq::tls::TlsConfig::builder().root_certs(roots).build();
        let proxy = t.proxy_url().map(|u| ureq::Proxy::new(&u)).transpose()?;
        let config = ureq::Agent::config_builder().tls_config(tls).proxy(proxy).build();
        Ok(Ureq { agent: ureq::Agent::new_with_config(config), urls: Urls::new(t.url("")) })
    }
}

impl Get for Ureq {
    fn get(&mut self, path: &str, sink: &mut [u8]) -> Result<u64> {
        let mut response = self.agent.get(self.urls.of(path)).call()?;
        let mut reader = response.body_mut().as_reader();
        let mut total = 0;
        loop {
            match reader.read(sink)? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    }
}

/// reqwest's blocking client (rustls with ring); it runs a tokio runtime on a thread of its
/// own, whose CPU and allocations count too (`RUSAGE_SELF`, a global allocator).
struct Reqwest {
    client: reqwest::blocking::Client,
    urls: Urls,
}

impl Reqwest {
    fn new(t: &Target) -> Result<Reqwest> {
        let mut builder = reqwest::blocking::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&t.ca_pem)?);
        builder = match t.proxy_url() {
            Some(url) => builder.proxy(reqwest::Proxy::all(url)?),
            None => builder.no_proxy(),
        };
        Ok(Reqwest { client: builder.build()?, urls: Urls::new(t.url("")) })
    }
}

impl Get for Reqwest {
    fn get(&mut self, path: &str, sink: &mut [u8]) -> Result<u64> {
        let mut response = self.client.get(self.urls.of(path)).send()?;
        let mut total = 0;
        loop {
            match response.read(sink)? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    }
}
