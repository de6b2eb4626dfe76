//! `cargo xtask`: placeholder, filled in by the infrastructure work.
fn main() {}
