//! Heap allocations of keep-alive requests, counted by `stats_alloc` over the system
//! allocator. Its own test binary, with one test: the count is the process's, so nothing else
//! may run beside it, and the server below allocates nothing once a connection is open.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::alloc::System;
use std::io::{Read as _, Write as _};

use ferry_blocking::Connection;
use ferry_test_support::origin::Origin;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn a_keep_alive_get_on_a_reused_connection_allocates_nothing() {
    // Answers every request head with the same 2-byte body, from buffers on its stack.
    let origin = Origin::raw(|mut s| {
        let mut buf = [0u8; 4096];
        let mut have = 0;
        loop {
            match s.read(&mut buf[have..]) {
                Ok(0) | Err(_) => return,
                Ok(n) => have += n,
            }
            while let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
                if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").is_err() {
                    return;
                }
                buf.copy_within(end + 4..have, 0);
                have -= end + 4;
            }
        }
    });
    let mut conn = Connection::http("127.0.0.1", origin.port()).unwrap();
    let mut body = [0u8; 64];
    let mut get = |target: &str| {
        conn.request("GET", target, "", &[]).unwrap();
        let mut r = conn.response().unwrap();
        let mut len = 0;
        loop {
            match r.read(&mut body[len..]).unwrap() {
                0 => return (r.status(), len),
                n => len += n,
            }
        }
    };
    // The first requests open the connection and size its buffers (the longest target's too).
    assert_eq!(get("/a/longer/target?q=1"), (200, 2));
    assert_eq!(get("/"), (200, 2));
    let region = Region::new(GLOBAL);
    for target in ["/", "/a", "/a/longer/target?q=1", "/b?c"] {
        assert_eq!(get(target), (200, 2), "{target}");
    }
    let change = region.change();
    assert_eq!(
        (change.allocations, change.reallocations),
        (0, 0),
        "allocations in four keep-alive GETs"
    );
    assert_eq!(origin.connections(), 1);
}
