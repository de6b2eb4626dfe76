//! Drives ferry-proto through three exchanges over in-memory bytes, printing what a driver
//! would write and what it would see: a keep-alive GET, a chunked upload behind
//! `Expect: 100-continue`, and a CONNECT through a proxy that asks for credentials.
//!
//! The "server" here is a script of byte strings, fed in awkward splits on purpose: the core
//! must not care how reads are cut. Run it with `cargo xtask demo`.
#![allow(clippy::print_stdout, clippy::unwrap_used)] // an example prints and may panic

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferry_proto::{
    BodyFraming, Config, Connect, Connection, Credentials, Event, Method, Output, ProxyAuth,
    Request, Url,
};

/// Drains the connection, printing each output; returns the state it settled in.
fn drain(conn: &mut Connection<Duration>) -> &'static str {
    loop {
        match conn.poll_output() {
            Output::Transmit(t) => println!("  -> {}", show(&t)),
            Output::Event(Event::Informational(h)) => {
                println!("  <- interim {} {}", h.status(), h.reason())
            }
            Output::Event(Event::ResponseHead(h)) => {
                println!("  <- head {} {} ({} fields)", h.status(), h.reason(), h.headers().len());
            }
            Output::Event(Event::Data(d)) => println!("  <- data {}", show(&d)),
            Output::Event(Event::Trailers(t)) => println!("  <- trailers {t:?}"),
            Output::End(end) => println!("  == end {end:?}"),
            Output::Error(e) => println!("  !! error: {e} (blame: {:?})", e.blame()),
            Output::NeedBody => return "NeedBody",
            Output::NeedInput => return "NeedInput",
            Output::Idle => return "Idle",
            Output::Reconnect => return "Reconnect",
            Output::HandedOver => return "HandedOver",
            Output::Closed => return "Closed",
        }
    }
}

/// Feeds `text` in pieces of `step` bytes, draining after each read like a driver would.
fn serve(conn: &mut Connection<Duration>, now: Duration, text: &str, step: usize) -> &'static str {
    let mut input = BytesMut::new();
    let mut state = "NeedInput";
    for piece in text.as_bytes().chunks(step) {
        input.extend_from_slice(piece);
        conn.handle_input(now, &mut input);
        state = drain(conn);
    }
    state
}

fn show(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

fn main() {
    let now = Duration::ZERO;
    let mut conn = Connection::new(now, Config::default());

    println!("1. GET, response fed 7 bytes at a time");
    let url = Url::parse("http://example.com/greeting").unwrap();
    conn.send_request(now, &Request::get(url).header("Accept", "text/plain")).unwrap();
    drain(&mut conn);
    let state = serve(
        &mut conn,
        now,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n\
         6\r\nhello \r\n5;ext=1\r\nworld\r\n0\r\nServer-Timing: total;dur=3\r\n\r\n",
        7,
    );
    println!("  state: {state}; idle deadline: {:?}\n", conn.poll_timeout());

    println!("2. chunked upload with Expect: 100-continue, on the same connection");
    let url = Url::parse("http://example.com/upload").unwrap();
    let req =
        Request::new(Method::POST, url).header("Expect", "100-continue").body(BodyFraming::Chunked);
    conn.send_request(now, &req).unwrap();
    println!("  state: {} (body held until 100 or {:?})", drain(&mut conn), conn.poll_timeout());
    println!("  state: {}", serve(&mut conn, now, "HTTP/1.1 100 Continue\r\n\r\n", 100));
    conn.send_body(now, Bytes::from_static(b"first piece")).unwrap();
    conn.send_body(now, Bytes::from_static(b"second")).unwrap();
    conn.finish_body(now, None).unwrap();
    drain(&mut conn);
    let state = serve(&mut conn, now, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 5);
    println!("  state: {state}\n");

    println!("3. CONNECT through a proxy that wants Basic credentials (sent after the 407)");
    let mut tunnel = Connection::new(now, Config::default());
    let auth = ProxyAuth::basic(Credentials::new("alice", "s3cret")).preemptive(false);
    let target = Url::parse("https://origin.example/").unwrap().authority();
    tunnel.send_connect(now, &Connect::new(target).auth(Some(auth.clone()))).unwrap();
    drain(&mut tunnel);
    serve(
        &mut tunnel,
        now,
        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"demo\"\r\n\
         Content-Length: 6\r\n\r\ndenied",
        11,
    );
    let state =
        serve(&mut tunnel, now, "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01", 9);
    println!("  state: {state}: the leftover bytes go to TLS");
    println!("  (route credentials in Debug: {auth:?})");
}
