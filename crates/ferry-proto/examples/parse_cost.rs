//! Runs one variant of `benches/parse.rs` N times, for instruction counts under callgrind:
//! `scripts/bench-callgrind.sh` runs it and divides the cost collected inside the variant's
//! `run_*` function by N.
//!
//! `cargo run --release -p ferry-proto --example parse_cost -- <variant> [iterations]`,
//! variant one of `httparse32`, `httparse64`, `httparse100`, `httparse-uninit`, `ferry`, `ferry-fresh`,
//! `exchange`, `exchange-chunked`, `exchange-chunks2`, `exchange-chunks32`.

use std::hint::black_box;
use std::process::ExitCode;

use bytes::BytesMut;
use ferry_proto::Config;

#[path = "../benches/common/mod.rs"]
mod common;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_default();
    let Some(n) = args.next().map_or(Some(10_000), |s| s.parse::<usize>().ok()) else {
        eprintln!("iterations must be a number");
        return ExitCode::FAILURE;
    };
    let response = common::response();
    let config = Config::default();
    match variant.as_str() {
        "httparse32" => repeat(n, || &response[..], |i| common::run_httparse::<32>(i)),
        "httparse64" => repeat(n, || &response[..], |i| common::run_httparse::<64>(i)),
        "httparse100" => repeat(n, || &response[..], |i| common::run_httparse::<100>(i)),
        "httparse-uninit" => repeat(n, || &response[..], |i| common::run_httparse_uninit(i)),
        "ferry" => repeat(n, || common::shared_input(&response), |i| common::run_ferry(i, &config)),
        "ferry-fresh" => {
            repeat(n, || BytesMut::from(&response[..]), |i| common::run_ferry(i, &config));
        }
        "exchange" => repeat(n, || common::Exchange::new(&response), common::run_exchange),
        "exchange-chunked" => {
            let chunked = common::response_chunked();
            repeat(n, || common::Exchange::new(&chunked), common::run_exchange);
        }
        // The same body in 2 and in 32 chunks: (Ir(32) - Ir(2)) / 30 is what one more chunk
        // costs through the connection, framing and its data event.
        "exchange-chunks2" | "exchange-chunks32" => {
            let chunks = if variant.ends_with("32") { 32 } else { 2 };
            let chunked = common::response_chunks(chunks);
            repeat(n, || common::Exchange::new(&chunked), common::run_exchange);
        }
        _ => {
            eprintln!(
                "usage: parse_cost <httparse32|httparse64|httparse100|httparse-uninit|ferry|ferry-fresh|\
                 exchange|exchange-chunked|exchange-chunks2|exchange-chunks32> [iterations]"
            );
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Runs `f` on a fresh input `n` times; making the input and dropping the output happen
/// outside `f`, so outside what callgrind collects.
fn repeat<I, O>(n: usize, mut input: impl FnMut() -> I, mut f: impl FnMut(&mut I) -> O) {
    for _ in 0..n {
        let mut i = input();
        let out = f(black_box(&mut i));
        drop(black_box(out));
        drop(i);
    }
}
