//! Loopback integration tests of ferry-blocking: real TCP on 127.0.0.1, real TLS with an rcgen
//! CA and its leaves, the in-process origin and proxy of ferry-test-support, and tinyproxy and
//! squid where they are installed.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod client;
mod connection;
mod downloads;
mod real_proxies;

use std::sync::OnceLock;

use ferry_blocking::{Connection, Proxy, Scheme, TlsConfig};
use ferry_test_support::certs::{Ca, Leaf};

pub(crate) fn ca() -> &'static Ca {
    static CA: OnceLock<Ca> = OnceLock::new();
    CA.get_or_init(|| Ca::new("ferry-blocking test CA"))
}

pub(crate) fn leaf() -> &'static Leaf {
    static LEAF: OnceLock<Leaf> = OnceLock::new();
    LEAF.get_or_init(|| ca().leaf(&["localhost", "127.0.0.1"]))
}

pub(crate) fn trusting() -> TlsConfig {
    TlsConfig::builder()
        .webpki_roots(false)
        .add_ca_pem(ca().pem().as_bytes())
        .unwrap()
        .build()
        .unwrap()
}

/// A connection to `127.0.0.1:port` (plain) or `localhost:port` (TLS, trusting the test CA).
pub(crate) fn connect(scheme: Scheme, port: u16, proxy: Option<&str>) -> Connection {
    let host = if scheme == Scheme::Https { "localhost" } else { "127.0.0.1" };
    let mut b = Connection::builder(scheme, host, port)
        .unwrap()
        .tls(trusting())
        .timeout(std::time::Duration::from_secs(10));
    if let Some(p) = proxy {
        b = b.proxy(Proxy::parse(p).unwrap());
    }
    b.build().unwrap()
}

/// GET `path` and the whole body as text.
pub(crate) fn get(conn: &mut Connection, path: &str) -> (u16, String) {
    use std::io::Read as _;
    conn.request("GET", path, "", &[]).unwrap();
    let mut r = conn.response().unwrap();
    let mut body = String::new();
    r.read_to_string(&mut body).unwrap();
    (r.status(), body)
}
