//! Runs N whole cycles of one scenario of `benches/cycle.rs` (the workload is in
//! `benches/common/cycle.rs`), for instruction counts under callgrind, and counts the heap
//! allocations those N cycles make. `scripts/bench-cycle.sh` runs it.
//!
//! `cargo run --profile bench -p ferry-proto --example cycle_cost -- <scenario> [cycles]`,
//! scenario one of `small-get`, `head20-1k`, `length-1mib`, `chunked-1mib` (cycles: 1000).
//!
//! Two cycles warm the connection and its buffer first; then it prints one line,
//! `<scenario> response=L cycles=N allocations=A reallocations=R bytes=B`, counted over the N cycles
//! only: `A` calls to `alloc`, `R` to `realloc`, and `B` bytes they asked for (a `realloc`
//! counts what it grew by). The counting allocator is `stats_alloc`'s, over the system one:
//! two relaxed atomic adds per call, a handful of instructions in callgrind's counts.
#![allow(clippy::print_stdout, reason = "the script reads the counts on stdout")]

use std::alloc::System;
use std::hint::black_box;
use std::process::ExitCode;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[path = "../benches/common/mod.rs"]
#[allow(dead_code, reason = "the head-parse workload is used by examples/parse_cost.rs")]
mod common;
#[path = "../benches/common/cycle.rs"]
mod cycle;

use cycle::{Driver, Scenario};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Cycles before counting: the first grows the buffer and the queues, the second shows that
/// they stay grown.
const WARM_UP: usize = 2;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_default();
    let Some(scenario) = Scenario::from_name(&name) else {
        let names: Vec<_> = Scenario::ALL.iter().map(|s| s.name()).collect();
        eprintln!("usage: cycle_cost <{}> [cycles]", names.join("|"));
        return ExitCode::FAILURE;
    };
    let Some(n) = args.next().map_or(Some(1000), |s| s.parse::<usize>().ok()) else {
        eprintln!("cycles must be a number");
        return ExitCode::FAILURE;
    };
    let mut driver = Driver::new(scenario);
    for _ in 0..WARM_UP {
        black_box(driver.cycle());
    }
    let region = Region::new(GLOBAL);
    for _ in 0..n {
        black_box(driver.cycle());
    }
    let stats = region.change();
    let grown = usize::try_from(stats.bytes_reallocated).unwrap_or(0);
    println!(
        "{} response={} cycles={n} allocations={} reallocations={} bytes={}",
        scenario.name(),
        driver.response_len(),
        stats.allocations,
        stats.reallocations,
        stats.bytes_allocated + grown,
    );
    ExitCode::SUCCESS
}
