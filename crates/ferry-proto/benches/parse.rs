//! Parsing a realistic 20-field response head: ferry's `parse_response_head` + `semantics`
//! beside bare `httparse::Response::parse` on the same bytes (the goal: at most 1.25x), and a
//! whole exchange through the connection machine for context.
//!
//! `cargo bench -p ferry-proto --bench parse`. Every input is copied into its buffer outside
//! the timed region and every output is dropped outside it. For instruction counts, which do
//! not depend on the machine's load, see `scripts/bench-callgrind.sh`.

use bytes::BytesMut;
use divan::{Bencher, black_box};
use ferry_proto::Config;

mod common;

fn main() {
    divan::main();
}

/// Bare httparse with a fresh `[EMPTY_HEADER; N]`, as its README shows (N = 64). The bytes
/// come in a fresh buffer each time, as ferry's do, so both read them from the same place.
#[divan::bench(consts = [32, 64, 100])]
fn httparse_parse<const N: usize>(bencher: Bencher<'_, '_>) {
    let response = common::response();
    bencher
        .with_inputs(|| BytesMut::from(&response[..]))
        .bench_local_refs(|input| common::run_httparse::<N>(black_box(input)));
}

/// httparse with uninitialized slots: no setup at all, the floor for any parser built on it.
#[divan::bench]
fn httparse_uninit(bencher: Bencher<'_, '_>) {
    let response = common::response();
    bencher
        .with_inputs(|| BytesMut::from(&response[..]))
        .bench_local_refs(|input| common::run_httparse_uninit(black_box(input)));
}

/// ferry: `parse_response_head` + `semantics(false)`, strict profile (the default), from a
/// fresh buffer, so it also pays the buffer's one-time promotion to shared storage (a driver
/// pays that once per connection). The steady-state variant, with the buffer already shared,
/// is measured by `scripts/bench-callgrind.sh` (`ferry`): its set-up distorts wall time here.
#[divan::bench]
fn ferry_head(bencher: Bencher<'_, '_>) {
    let config = Config::default();
    let response = common::response();
    bencher
        .with_inputs(|| BytesMut::from(&response[..]))
        .bench_local_refs(|input| common::run_ferry(black_box(input), black_box(&config)));
}

/// The same bytes through a whole exchange: `send_request` of a GET, `handle_input` of the
/// head and its 1 KiB body, `poll_output` drained after each. Context, not compared.
#[divan::bench(args = ["content-length", "chunked"])]
fn exchange(bencher: Bencher<'_, '_>, framing: &str) {
    let response = match framing {
        "chunked" => common::response_chunked(),
        _ => common::response(),
    };
    bencher
        .with_inputs(|| common::Exchange::new(&response))
        .bench_local_refs(|ex| black_box(common::run_exchange(black_box(ex))));
}
