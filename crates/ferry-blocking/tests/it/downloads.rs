//! Big bodies over loopback, read through `Read` (straight into the caller's buffer where the
//! stack has a body window, piece by piece elsewhere): every framing, over TLS and through a
//! CONNECT tunnel, with buffers smaller and larger than the pieces, truncated bodies, a read
//! deadline mid-body, a decoded body, and the connection reused afterwards.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use ferry_blocking::{Client, Connection, EnvProxies, Scheme, Timeout};
use ferry_test_support::origin::{GZIP_TEXT, Origin, pattern};
use ferry_test_support::proxy::{Proxy as TestProxy, ProxyOptions};

use crate::{connect, leaf, trusting};

/// GET `path` and its body read with `Read` into a buffer of `buf` bytes.
fn download(conn: &mut Connection, path: &str, buf: usize) -> std::io::Result<Vec<u8>> {
    conn.request("GET", path, "", &[]).map_err(std::io::Error::other)?;
    let mut response = conn.response().map_err(std::io::Error::other)?;
    assert_eq!(response.status(), 200);
    let mut sink = vec![0u8; buf];
    let mut body = Vec::new();
    loop {
        match response.read(&mut sink)? {
            0 => return Ok(body),
            n => body.extend_from_slice(&sink[..n]),
        }
    }
}

/// Reads a request head off `s`.
fn read_head(s: &mut std::net::TcpStream) -> bool {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(0) | Err(_) => return false,
            Ok(_) => got.push(byte[0]),
        }
    }
    true
}

#[test]
fn content_length_bodies_of_any_size_into_buffers_of_any_size() {
    for scheme in [Scheme::Http, Scheme::Https] {
        let origin = if scheme == Scheme::Https { Origin::https(leaf()) } else { Origin::http() };
        let mut conn = connect(scheme, origin.port(), None);
        for (len, buf) in [(3_000_000, 64 * 1024), (200_000, 1000), (20_000, 1), (70_000, 1 << 20)]
        {
            let body = download(&mut conn, &format!("/bytes/{len}"), buf).unwrap();
            assert!(body == pattern(len), "{scheme:?} {len} bytes into {buf}");
        }
        // The connection carried them all, and carries the next one.
        assert_eq!(download(&mut conn, "/bytes/5", 64).unwrap(), b"abcde");
        assert_eq!((origin.connections(), origin.requests()), (1, 5), "{scheme:?}");
    }
}

#[test]
fn chunked_bodies_with_chunks_smaller_and_larger_than_the_buffer() {
    for scheme in [Scheme::Http, Scheme::Https] {
        let origin = if scheme == Scheme::Https { Origin::https(leaf()) } else { Origin::http() };
        let mut conn = connect(scheme, origin.port(), None);
        for (len, chunk, buf) in [
            (1_000_000, 16 * 1024, 64 * 1024),
            (1_000_000, 100_000, 4096),
            (300_000, 7, 64 * 1024),
            (50_000, 3000, 1),
        ] {
            let body = download(&mut conn, &format!("/chunked/{len}?chunk={chunk}"), buf).unwrap();
            assert!(body == pattern(len), "{scheme:?} {len} in chunks of {chunk} into {buf}");
        }
        assert_eq!((origin.connections(), origin.requests()), (1, 4), "{scheme:?}");
    }
}

#[test]
fn trailers_after_a_body_read_straight() {
    let origin = Origin::http();
    let mut conn = connect(Scheme::Http, origin.port(), None);
    conn.request("GET", "/chunked/100000?chunk=50000&trailer", "", &[]).unwrap();
    let mut response = conn.response().unwrap();
    let mut body = Vec::new();
    response.read_to_end(&mut body).unwrap();
    assert!(body == pattern(100_000));
    let trailers = response.trailers().expect("the trailer section");
    assert_eq!(trailers.get_str("x-trailer"), Some("done"));
}

/// An origin that answers every request with `head` and then `len` bytes of the pattern, and
/// then closes (`close`) or waits `stall`.
fn scripted(head: &'static str, len: usize, stall: Option<Duration>) -> Origin {
    Origin::raw(move |mut s| {
        if !read_head(&mut s) {
            return;
        }
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(&pattern(len));
        if let Some(stall) = stall {
            std::thread::sleep(stall);
        }
        let _ = s.shutdown(Shutdown::Both);
    })
}

#[test]
fn a_close_delimited_body_ends_at_the_close() {
    let origin = scripted("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 2_000_000, None);
    let mut conn = connect(Scheme::Http, origin.port(), None);
    let body = download(&mut conn, "/", 64 * 1024).unwrap();
    assert!(body == pattern(2_000_000));
}

#[test]
fn a_truncated_body_is_an_error() {
    let origin = scripted("HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n", 1_500_000, None);
    let mut conn = connect(Scheme::Http, origin.port(), None);
    let err = download(&mut conn, "/", 64 * 1024).unwrap_err();
    let err = err.get_ref().and_then(|e| e.downcast_ref::<ferry_blocking::Error>()).unwrap();
    let http = err.http().map(|e| e.kind().clone());
    let expected =
        ferry_proto::ErrorKind::UnexpectedEof { expected: ferry_proto::Expected::ResponseBody };
    assert_eq!(http, Some(expected), "{err}");
}

#[test]
fn a_stall_mid_body_is_a_read_timeout() {
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n";
    let origin = scripted(head, 500_000, Some(Duration::from_secs(5)));
    let mut conn = Connection::builder(Scheme::Http, "127.0.0.1", origin.port())
        .unwrap()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = download(&mut conn, "/", 64 * 1024).unwrap_err();
    let err = err.get_ref().and_then(|e| e.downcast_ref::<ferry_blocking::Error>()).unwrap();
    assert_eq!(err.timeout(), Some(Timeout::Read), "{err}");
}

#[test]
fn https_through_a_connect_tunnel_and_tls_inside_tls() {
    let origin = Origin::https(leaf());
    for tls_proxy in [false, true] {
        let options =
            ProxyOptions { tls: tls_proxy.then(|| leaf().clone()), ..ProxyOptions::default() };
        let proxy = TestProxy::start(options);
        let mut conn = connect(Scheme::Https, origin.port(), Some(&proxy.url()));
        let body = download(&mut conn, "/bytes/2000000", 64 * 1024).unwrap();
        assert!(body == pattern(2_000_000), "tls proxy: {tls_proxy}");
        let body = download(&mut conn, "/chunked/500000?chunk=20000", 3000).unwrap();
        assert!(body == pattern(500_000), "tls proxy: {tls_proxy}");
        assert_eq!(download(&mut conn, "/bytes/3", 64).unwrap(), b"abc");
        assert_eq!(proxy.tunnels(), 1, "tls proxy: {tls_proxy}");
    }
}

fn client() -> Client {
    Client::builder()
        .env(EnvProxies::from_vars(Vec::<(String, String)>::new()))
        .tls(trusting())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[test]
fn the_client_reads_big_bodies_and_reuses_the_connection() {
    for origin in [Origin::http(), Origin::https(leaf())] {
        let client = client();
        for path in ["/bytes/3000000", "/chunked/1000000?chunk=16384"] {
            let mut response = client.get(&origin.url(path)).send().unwrap();
            let mut body = Vec::new();
            response.read_to_end(&mut body).unwrap();
            let len = if path.starts_with("/bytes") { 3_000_000 } else { 1_000_000 };
            assert!(body == pattern(len), "{path}");
        }
        let again = client.get(&origin.url("/bytes/4")).send().unwrap();
        assert!(!again.new_connection());
        assert_eq!(again.bytes().unwrap(), "abcd");
        assert_eq!(origin.connections(), 1);
    }
}

#[test]
fn the_client_decodes_gzip_through_read() {
    let origin = Origin::http();
    let client = client();
    let mut response = client.get(&origin.url("/gzip")).send().unwrap();
    assert!(response.is_decoded());
    let mut text = String::new();
    response.read_to_string(&mut text).unwrap();
    assert_eq!(text, GZIP_TEXT);
}
