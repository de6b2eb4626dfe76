//! The loopback origin of the benchmarks, in its own process so that what the runner measures
//! in the client process is the client's cost alone. It reads a request head, writes the
//! canned response its path names (see [`ferry_bench::Canned`]) and keeps the connection
//! alive; a thread per connection, blocking std sockets. The same over TLS (a leaf of a fresh
//! ferry-test-support CA for `localhost` and `127.0.0.1`), and the test-support CONNECT proxy
//! with Basic auth (`bench:secret`) beside them.
//!
//! `origin <ca.pem>`: writes the CA there, prints `http=P https=P proxy=P` on one line and
//! serves until its standard input closes (so it never outlives the runner).

use std::io::{BufRead, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use ferry_bench::{CHUNK, Canned};
use ferry_test_support::certs::Ca;
use ferry_test_support::proxy::{Proxy, ProxyOptions};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// How many body bytes one write of a large body carries.
const BLOCK: usize = 1024 * 1024;

fn main() {
    let Some(ca_out) = std::env::args().nth(1) else {
        eprintln!("usage: origin <ca.pem>");
        std::process::exit(2);
    };
    let ca = Ca::new("ferry bench CA");
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    if let Err(e) = std::fs::write(&ca_out, ca.pem()) {
        eprintln!("origin: cannot write {ca_out}: {e}");
        std::process::exit(1);
    }
    let tls = leaf.server_config(&[]);
    let plain = bind();
    let secure = bind();
    let proxy = Proxy::start(ProxyOptions::with_basic_auth("bench", "secret"));
    println!("http={} https={} proxy={}", port(&plain), port(&secure), proxy.port());
    std::thread::spawn(move || accept(&plain, None));
    std::thread::spawn(move || accept(&secure, Some(tls)));
    // Serve until the runner closes our standard input (or dies).
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
    drop(proxy);
}

fn bind() -> TcpListener {
    match TcpListener::bind("127.0.0.1:0") {
        Ok(l) => l,
        Err(e) => {
            eprintln!("origin: cannot bind a loopback port: {e}");
            std::process::exit(1);
        }
    }
}

fn port(listener: &TcpListener) -> u16 {
    listener.local_addr().map(|a| a.port()).unwrap_or(0)
}

fn accept(listener: &TcpListener, tls: Option<Arc<ServerConfig>>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        let tls = tls.clone();
        std::thread::spawn(move || match tls {
            None => serve(stream),
            Some(config) => {
                let Ok(conn) = ServerConnection::new(config) else { return };
                serve(StreamOwned::new(conn, stream));
            }
        });
    }
}

/// Answers request after request on one connection until the peer closes it or breaks HTTP.
fn serve<S: Read + Write>(mut s: S) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut filled = 0;
    let body_block = vec![b'x'; BLOCK];
    let chunk_block = chunk_block();
    // The last small response, whole: a keep-alive loop asks for the same one each time.
    let mut cached: Option<(Canned, Vec<u8>)> = None;
    loop {
        let end = loop {
            if let Some(p) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if filled == buf.len() {
                return;
            }
            match s.read(&mut buf[filled..]) {
                Ok(0) | Err(_) => return,
                Ok(n) => filled += n,
            }
        };
        let Some(canned) = target(&buf[..end]).and_then(Canned::from_path) else {
            let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            let _ = s.flush();
            return;
        };
        buf.copy_within(end..filled, 0);
        filled -= end;
        let written = match canned {
            Canned::Small | Canned::Head20 => {
                if cached.as_ref().is_none_or(|(c, _)| *c != canned) {
                    let mut whole = canned.head().into_bytes();
                    whole.resize(whole.len() + canned.body_len() as usize, b'x');
                    if canned == Canned::Small {
                        whole.truncate(whole.len() - 2);
                        whole.extend_from_slice(b"hi");
                    }
                    cached = Some((canned, whole));
                }
                let whole = cached.as_ref().map_or(&[][..], |(_, w)| w.as_slice());
                s.write_all(whole)
            }
            Canned::Length(n) => write_length(&mut s, canned, n, &body_block),
            Canned::Chunked(n) => write_chunked(&mut s, canned, n, &chunk_block),
        };
        if written.and_then(|()| s.flush()).is_err() {
            return;
        }
    }
}

/// The request target of a request head.
fn target(head: &[u8]) -> Option<&str> {
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let _method = parts.next()?;
    parts.next()
}

fn write_length<S: Write>(s: &mut S, canned: Canned, n: u64, block: &[u8]) -> std::io::Result<()> {
    s.write_all(canned.head().as_bytes())?;
    let mut left = n;
    while left > 0 {
        let piece = left.min(block.len() as u64) as usize;
        s.write_all(&block[..piece])?;
        left -= piece as u64;
    }
    Ok(())
}

/// 64 framed chunks of [`CHUNK`] bytes, written as one piece.
fn chunk_block() -> Vec<u8> {
    let mut one = format!("{CHUNK:x}\r\n").into_bytes();
    one.resize(one.len() + CHUNK, b'x');
    one.extend_from_slice(b"\r\n");
    one.repeat(BLOCK / CHUNK)
}

fn write_chunked<S: Write>(s: &mut S, canned: Canned, n: u64, block: &[u8]) -> std::io::Result<()> {
    s.write_all(canned.head().as_bytes())?;
    let chunks = n / CHUNK as u64;
    let per_block = (BLOCK / CHUNK) as u64;
    let framed = block.len() / per_block as usize;
    for _ in 0..chunks / per_block {
        s.write_all(block)?;
    }
    let rest = (chunks % per_block) as usize;
    s.write_all(&block[..rest * framed])?;
    s.write_all(b"0\r\n\r\n")
}
