//! Benchmarks (filled in with the parser).
fn main() {}
