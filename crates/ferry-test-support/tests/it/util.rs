//! A deliberately small HTTP/1.1 client for these tests: std sockets, rustls streams, and a
//! response reader that knows the framing rules (RFC 9112 §6.3).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use ferry_test_support::certs::Ca;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// Every socket read or write in these tests gives up after this long.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// A response as the test client read it.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) code: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) trailers: Vec<(String, String)>,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A TCP connection with timeouts set.
pub(crate) fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect to a test server");
    stream.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
    stream.set_write_timeout(Some(TIMEOUT)).expect("write timeout");
    stream
}

/// A client configuration trusting only this CA.
pub(crate) fn client_config(ca: &Ca) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone()).expect("the test CA is a valid root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("default versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// TLS as a client over any byte stream (a socket, or another TLS stream: TLS inside TLS).
pub(crate) fn tls<S: Read + Write>(
    config: &Arc<ClientConfig>,
    name: &str,
    io: S,
) -> StreamOwned<ClientConnection, S> {
    let name = ServerName::try_from(name.to_owned()).expect("a valid server name");
    let conn = ClientConnection::new(Arc::clone(config), name).expect("a client session");
    StreamOwned::new(conn, io)
}

/// Writes a request's bytes.
pub(crate) fn send<S: Write>(io: &mut S, bytes: &[u8]) {
    io.write_all(bytes).expect("write the request");
    io.flush().expect("flush the request");
}

/// Reads one response to a request with this method.
pub(crate) fn read_reply<R: BufRead>(r: &mut R, method: &str) -> Reply {
    let mut head = Vec::new();
    loop {
        let n = r.read_until(b'\n', &mut head).expect("read the response head");
        assert!(
            n > 0,
            "the connection closed before a complete head: {:?}",
            String::from_utf8_lossy(&head)
        );
        if head.ends_with(b"\r\n\r\n") {
            break;
        }
    }
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut slots);
    let status = parsed.parse(&head).expect("a valid response head");
    assert!(status.is_complete());
    let code = parsed.code.expect("a status code");
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
        .collect();
    let mut reply = Reply { code, headers, body: Vec::new(), trailers: Vec::new() };
    let no_body = method == "HEAD"
        || code < 200
        || code == 204
        || code == 304
        || (method == "CONNECT" && (200..300).contains(&code));
    if no_body {
        return reply;
    }
    if reply
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().ends_with("chunked"))
    {
        loop {
            let line = line(r);
            let size = usize::from_str_radix(line.split(';').next().unwrap_or_default().trim(), 16)
                .expect("a chunk size");
            if size == 0 {
                loop {
                    let trailer = line_of(r);
                    if trailer.is_empty() {
                        return reply;
                    }
                    let (name, value) = trailer.split_once(':').expect("a trailer field");
                    reply.trailers.push((name.to_owned(), value.trim().to_owned()));
                }
            }
            let start = reply.body.len();
            reply.body.resize(start + size, 0);
            r.read_exact(&mut reply.body[start..]).expect("chunk data");
            assert_eq!(line_of(r), "", "CRLF after chunk data");
        }
    }
    if let Some(length) = reply.header("content-length") {
        let length: usize = length.parse().expect("a numeric Content-Length");
        reply.body.resize(length, 0);
        r.read_exact(&mut reply.body).expect("the whole body");
    } else {
        r.read_to_end(&mut reply.body).expect("the body until close");
    }
    reply
}

fn line<R: BufRead>(r: &mut R) -> String {
    let mut line = String::new();
    r.read_line(&mut line).expect("a line");
    assert!(line.ends_with("\r\n"), "a CRLF line, got {line:?}");
    line.trim_end().to_owned()
}

fn line_of<R: BufRead>(r: &mut R) -> String {
    line(r)
}

/// Sends a request and reads its response on this (buffered) connection.
pub(crate) fn exchange<S: Read + Write>(io: &mut BufReader<S>, request: &str) -> Reply {
    let method = request.split(' ').next().unwrap_or_default().to_owned();
    send(io.get_mut(), request.as_bytes());
    read_reply(io, &method)
}

/// Whether the peer closed the connection (a read gives 0 bytes).
pub(crate) fn closed<S: Read>(io: &mut BufReader<S>) -> bool {
    let mut byte = [0];
    matches!(io.read(&mut byte), Ok(0))
}

/// The value of `Authorization: Basic` for these credentials.
pub(crate) fn basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
}
