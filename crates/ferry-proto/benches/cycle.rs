//! Whole request/response cycles through the connection machine on a kept-alive connection:
//! a small GET, the 20-field head of `benches/parse.rs` with 1 KiB, 1 MiB by `Content-Length`,
//! and 1 MiB in 64 chunks of 16 KiB (the workload is in `benches/common/cycle.rs`).
//!
//! `cargo bench -p ferry-proto --bench cycle`. The connection and its read buffer are warmed by
//! one cycle before timing, so each sample is the steady state of a pooled connection. Wall
//! time includes the simulated socket reads (a copy of the response into the buffer); for
//! instruction and allocation counts without them, which do not depend on the machine's load,
//! see `scripts/bench-cycle.sh`.

use divan::Bencher;
use divan::counter::BytesCount;

#[allow(dead_code, reason = "the head-parse workload is used by benches/parse.rs")]
mod common;
#[path = "common/cycle.rs"]
mod cycle;

use cycle::{Driver, Scenario};

fn main() {
    divan::main();
}

/// One cycle: `send_request`, drain, reads fed to `handle_input` and drained to `End::Done`.
#[divan::bench(args = ["small-get", "head20-1k", "length-1mib", "chunked-1mib"])]
fn keep_alive(bencher: Bencher<'_, '_>, scenario: &str) {
    let scenario = Scenario::from_name(scenario).expect("a scenario of common/cycle.rs");
    let mut driver = Driver::new(scenario);
    // The buffer and the output queue at their steady size.
    driver.cycle();
    bencher.counter(BytesCount::new(driver.response_len())).bench_local(|| driver.cycle());
}
