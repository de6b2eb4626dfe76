//! The loopback origin of the benchmarks, in its own process so that what the runner measures
//! in the client process is the client's cost alone. It reads a request head, writes the
//! canned response its path names (see [`ferry_bench::Canned`]) and keeps the connection
//! alive; a thread per connection, blocking std sockets. The same over TLS (a leaf of a fresh
//! ferry-test-support CA for `localhost` and `127.0.0.1`), and the test-support CONNECT proxy
//! with Basic auth (`bench:secret`) beside them.
//!
//! `origin <ca.pem>`: writes the CA there, prints `http=P https=P proxy=P` on one line and
//! serves until its standard input closes (so it never outlives the runner).

use std::io::BufRead;
use std::net::TcpListener;
use std::sync::Arc;

use ferry_bench::serve;
use ferry_test_support::certs::Ca;
use ferry_test_support::proxy::{Proxy, ProxyOptions};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

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
