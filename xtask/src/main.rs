//! `cargo xtask`: ferry's project tasks, in plain Rust with no dependencies.
//!
//! ```text
//! cargo xtask ci      fmt, clippy -D warnings, tests (with doctests and the fuzz corpus replay),
//!                     docs with warnings denied, and a no_std build of ferry-proto
//! cargo xtask demo [--serve]
//!                     builds the `ferry` tool and runs its demo: step by step with `-v`, a
//!                     407, the tunnel, a JSON POST, connection reuse, TLS inside TLS and a
//!                     refused certificate, through authenticating proxies (in-process, and
//!                     tinyproxy and squid where installed), all on 127.0.0.1; --serve keeps
//!                     the servers up until Ctrl-C
//! cargo xtask fuzz [TARGET] [--time SECS] [--jobs N] [--sanitizer address|none]
//!                     runs the fuzz targets on the stable toolchain from fuzz/seeds/<target>/
//!                     and fuzz/corpus/<target>/ (with fuzz/dicts/<target>.dict if present),
//!                     then minimizes fuzz/corpus/<target>/ to what the seeds do not cover;
//!                     copies crashes to fuzz/regressions/<target>/
//! cargo xtask mutants [--file PATH]... [--jobs N] [--timeout SECS] [--report]
//!                     runs cargo-mutants on ferry-proto's main files (or the --file ones) and
//!                     prints caught, missed, unviable and timed-out mutants per file; not in ci
//! cargo xtask bench [--quick] [ARGS]...
//!                     builds the bench/ workspace in release and runs its runner: ferry against
//!                     hyper, ureq, reqwest and the floors, one table (BENCHMARKS.md); not in ci
//! ```
//!
//! Every task runs cargo from the workspace root with the toolchain that runs the xtask.
#![allow(clippy::print_stdout, reason = "a command-line tool reports on stdout")]

mod mutants;

use std::collections::BTreeSet;
use std::env;
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The package whose example `cargo xtask demo` runs (and whose `ferry` binary it builds).
const DEMO_PACKAGE: &str = "ferry-cli";
/// The example `cargo xtask demo` runs: the `ferry` tool through authenticating proxies on
/// loopback.
const DEMO_EXAMPLE: &str = "demo";

/// Seconds each target fuzzes when `--time` is not given.
const DEFAULT_FUZZ_SECS: u64 = 60;

/// Artifact name prefixes under which libFuzzer saves an input that failed.
const CRASH_PREFIXES: [&str; 4] = ["crash-", "leak-", "oom-", "timeout-"];

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci      cargo fmt --check, clippy -D warnings, test, doc (warnings denied), no_std build
  demo [--serve]
          builds the `ferry` tool, then cargo run -p ferry-cli --example demo: the tool step by
          step with -v through authenticating proxies on 127.0.0.1 (a 407, the tunnel, a JSON
          POST, connection reuse, TLS inside TLS, a refused certificate); --serve keeps the
          servers up until Ctrl-C, for the printed command lines
  fuzz [TARGET] [--time SECS] [--jobs N] [--sanitizer address|none]
          fuzz TARGET (default: every target of `cargo fuzz list`) for SECS seconds each
          (default 60) on the stable toolchain, then minimize its corpus against its seeds
  mutants [--file PATH]... [--jobs N] [--timeout SECS] [--report]
          cargo-mutants on ferry-proto's conn.rs, chunked.rs, response.rs, request.rs,
          route/no_proxy.rs and pool.rs (or each --file, relative to crates/ferry-proto/src),
          N jobs (default 1), SECS per mutant's tests (default: cargo-mutants' own); prints
          per file: mutants, caught, missed, unviable, timeout, caught %, then the missed ones.
          Exclusions are in .cargo/mutants.toml. Installs cargo-mutants if needed.
          --report only prints the last run's results (also of a run that was stopped)
  bench [--quick] [ARGS]...
          builds bench/ (its own workspace: hyper, ureq, reqwest, tokio) in release and runs
          its runner with ARGS; prints one table with ratios to the best peer and the floors
          (see BENCHMARKS.md; `cargo xtask bench --help` for the runner's options)";

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") if args.len() == 1 => ci(),
        Some("demo") if args.len() == 1 => demo(false),
        Some("demo") if args.len() == 2 && args[1] == "--serve" => demo(true),
        Some("fuzz") => FuzzArgs::parse(&args[1..]).and_then(|a| fuzz(&a)),
        Some("mutants") => {
            mutants::MutantsArgs::parse(&args[1..]).and_then(|a| mutants::mutants(&a))
        }
        Some("bench") => bench(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown task or arguments: {args:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---- ci and demo ---------------------------------------------------------------------------

/// One check of `cargo xtask ci`: cargo's arguments and the environment it adds.
struct Check {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

/// What `cargo xtask ci` runs, in order; the first failure stops it.
const CHECKS: [Check; 6] = [
    Check { name: "fmt", args: &["fmt", "--all", "--check"], env: &[] },
    Check {
        name: "clippy",
        args: &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
        env: &[],
    },
    // Doctests included, and the fuzz corpus replay (ferry-tests' `fuzz_corpus`).
    Check { name: "test", args: &["test", "--workspace"], env: &[] },
    // The optional decoders (br, zstd) and the cookie jar of the sans-I/O client.
    Check { name: "features", args: &["test", "-p", "ferry-client", "--all-features"], env: &[] },
    Check {
        name: "doc",
        args: &["doc", "--workspace", "--no-deps"],
        env: &[("RUSTDOCFLAGS", "-D warnings")],
    },
    // The core must build without std.
    Check {
        name: "no_std",
        args: &["build", "-p", "ferry-proto", "--no-default-features"],
        env: &[],
    },
];

fn ci() -> Result {
    let started = Instant::now();
    let mut timings = Vec::new();
    for check in &CHECKS {
        let mut cmd = cargo();
        cmd.args(check.args).envs(check.env.iter().copied());
        timings.push((check.name, step(check.name, &mut cmd)?));
    }
    println!("\nci passed in {}:", secs(started.elapsed()));
    for (name, took) in timings {
        println!("  {name:<8} {}", secs(took));
    }
    Ok(())
}

fn demo(serve: bool) -> Result {
    // The binary the printed command lines use, at target/debug/ferry.
    step("build ferry", cargo().args(["build", "-p", DEMO_PACKAGE, "--bin", "ferry"]))?;
    let mut cmd = cargo();
    cmd.args(["run", "-p", DEMO_PACKAGE, "--example", DEMO_EXAMPLE]);
    if serve {
        cmd.args(["--", "--serve"]);
    }
    step("demo", &mut cmd).map(drop)
}

/// Runs one named step with inherited output, printing its command and how long it took.
fn step(name: &str, cmd: &mut Command) -> Result<Duration> {
    println!("==> {name}: {}", show(cmd));
    flush();
    let started = Instant::now();
    let status = cmd.status().map_err(|e| format!("{name}: cannot run {}: {e}", show(cmd)))?;
    let took = started.elapsed();
    if !status.success() {
        return Err(format!("step {name} failed ({status}) after {}", secs(took)));
    }
    println!("<== {name}: ok in {}", secs(took));
    Ok(took)
}

// ---- bench ---------------------------------------------------------------------------------

/// `cargo xtask bench [ARGS]...`: builds the bench workspace's binaries (the runner, the
/// loopback origin, the client) in release, with one job (the machine is shared), then runs
/// the runner from the repository root with ARGS passed through.
fn bench(args: &[String]) -> Result {
    let bench = root().join("bench");
    let mut build = cargo();
    build
        .args(["build", "--release", "--jobs", "1", "--bins", "--manifest-path"])
        .arg(bench.join("Cargo.toml"));
    step("bench build", &mut build)?;
    let mut run = Command::new(bench.join("target").join("release").join("bench"));
    run.current_dir(root()).args(args);
    step("bench", &mut run).map(drop)
}

// ---- fuzz ----------------------------------------------------------------------------------

struct FuzzArgs {
    target: Option<String>,
    secs: u64,
    jobs: u32,
    sanitizer: String,
}

impl FuzzArgs {
    fn parse(args: &[String]) -> Result<FuzzArgs> {
        let mut parsed = FuzzArgs {
            target: None,
            secs: DEFAULT_FUZZ_SECS,
            jobs: 1,
            // AddressSanitizer is cargo-fuzz's default and builds on stable with
            // RUSTC_BOOTSTRAP=1; `none` runs about 4x faster and needs no bootstrap.
            sanitizer: "address".to_owned(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |flag: &str| {
                args.next().cloned().ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))
            };
            match arg.as_str() {
                "--time" => parsed.secs = number("--time", &value("--time")?)?,
                "--jobs" => parsed.jobs = number("--jobs", &value("--jobs")?)?,
                "--sanitizer" => parsed.sanitizer = value("--sanitizer")?,
                flag if flag.starts_with('-') => return Err(format!("unknown flag {flag}")),
                target if parsed.target.is_none() => parsed.target = Some(target.to_owned()),
                extra => return Err(format!("one target at most; {extra:?} is extra")),
            }
        }
        if parsed.secs == 0 || parsed.jobs == 0 {
            return Err("--time and --jobs must be at least 1".to_owned());
        }
        Ok(parsed)
    }
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T> {
    value.parse().map_err(|_| format!("{flag} takes a number, not {value:?}"))
}

/// What one target's run measured.
struct Report {
    target: String,
    stats: Stats,
    corpus: [usize; 3],
    crashes: Vec<PathBuf>,
    took: Duration,
}

fn fuzz(args: &FuzzArgs) -> Result {
    ensure_cargo_fuzz()?;
    let targets = match &args.target {
        Some(target) => vec![target.clone()],
        None => list_targets()?,
    };
    let mut reports = Vec::new();
    for target in &targets {
        reports.push(fuzz_target(target, args)?);
    }

    println!(
        "\n{:<12} {:>12} {:>9} {:>6} {:>7}  {:<26} crashes",
        "target", "execs", "exec/s", "cov", "ft", "corpus (before/run/cmin)"
    );
    let num = |n: Option<u64>| n.map_or("?".to_owned(), |n| n.to_string());
    for r in &reports {
        let [before, run, cmin] = r.corpus;
        println!(
            "{:<12} {:>12} {:>9} {:>6} {:>7}  {:<26} {}   ({})",
            r.target,
            num(r.stats.execs),
            num(r.stats.execs_per_sec),
            num(r.stats.cov),
            num(r.stats.ft),
            format!("{before} / {run} / {cmin}"),
            r.crashes.len(),
            secs(r.took),
        );
        for crash in &r.crashes {
            println!("    {}", crash.display());
        }
    }
    let crashes: usize = reports.iter().map(|r| r.crashes.len()).sum();
    if crashes > 0 {
        return Err(format!(
            "{crashes} failing input(s), copied to fuzz/regressions/<target>/: \
             `cargo test -p ferry-tests --test fuzz_corpus` replays them; commit them with the fix"
        ));
    }
    Ok(())
}

fn ensure_cargo_fuzz() -> Result {
    let found = cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        step("install cargo-fuzz", cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}

fn list_targets() -> Result<Vec<String>> {
    let mut cmd = cargo();
    cmd.args(["fuzz", "list"]);
    let out = cmd.output().map_err(|e| format!("cannot run {}: {e}", show(&cmd)))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            show(&cmd),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let targets: Vec<String> =
        String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_owned).collect();
    if targets.is_empty() {
        return Err("`cargo fuzz list` names no target".to_owned());
    }
    Ok(targets)
}

/// `cargo fuzz <sub> --sanitizer S <target>` on the running (stable) toolchain.
///
/// cargo-fuzz passes `-Zsanitizer=address` for AddressSanitizer; `RUSTC_BOOTSTRAP=1` lets the
/// stable compiler take it (the sanitizer runtime ships with stable's rust-std). It is set for
/// every sanitizer so that switching does not also change cargo's fingerprints.
fn cargo_fuzz(sub: &str, target: &str, args: &FuzzArgs) -> Command {
    let mut cmd = cargo();
    cmd.env("RUSTC_BOOTSTRAP", "1").args(["fuzz", sub, "--sanitizer", &args.sanitizer, target]);
    cmd
}

fn fuzz_target(target: &str, args: &FuzzArgs) -> Result<Report> {
    let fuzz_dir = root().join("fuzz");
    let corpus = fuzz_dir.join("corpus").join(target);
    let seeds = fuzz_dir.join("seeds").join(target);
    let dict = fuzz_dir.join("dicts").join(format!("{target}.dict"));
    let artifacts = fuzz_dir.join("artifacts").join(target);
    fs::create_dir_all(&corpus).map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
    let seen = file_names(&artifacts);
    let before = file_names(&corpus).len();
    let started = Instant::now();

    // New inputs go to the first directory, the corpus; the seeds are read, never written.
    let mut run = cargo_fuzz("run", target, args);
    run.arg(&corpus);
    if seeds.is_dir() {
        run.arg(&seeds);
    }
    if args.jobs > 1 {
        run.args(["--jobs", &args.jobs.to_string()]);
    }
    run.args(["--", &format!("-max_total_time={}", args.secs), "-print_final_stats=1"]);
    if dict.is_file() {
        run.arg(format!("-dict={}", dict.display()));
    }
    let (status, stats) = run_parsing_stats(&format!("fuzz {target}"), &mut run)?;

    let regressions = fuzz_dir.join("regressions").join(target);
    let mut crashes = Vec::new();
    for name in file_names(&artifacts).difference(&seen) {
        if CRASH_PREFIXES.iter().any(|p| name.starts_with(p)) {
            fs::create_dir_all(&regressions)
                .map_err(|e| format!("cannot create {}: {e}", regressions.display()))?;
            let copy = regressions.join(name);
            fs::copy(artifacts.join(name), &copy)
                .map_err(|e| format!("cannot copy {name} to {}: {e}", copy.display()))?;
            crashes.push(copy);
        }
    }
    if !status.success() && crashes.is_empty() {
        return Err(format!("cargo fuzz run {target} failed ({status}) and saved no input"));
    }
    let after_run = file_names(&corpus).len();
    minimize(target, args, &corpus, &seeds)?;
    let after_cmin = file_names(&corpus).len();

    Ok(Report {
        target: target.to_owned(),
        stats,
        corpus: [before, after_run, after_cmin],
        crashes,
        took: started.elapsed(),
    })
}

/// Minimizes `corpus` to the inputs that add coverage beyond the seeds, which keep their
/// descriptive names in `seeds` (`cargo fuzz cmin` would rename them to hashes).
///
/// libFuzzer's `-merge=1 OUT IN...` keeps what is in `OUT` and adds each input of `IN` that
/// brings new features: with the seeds copied into a fresh `OUT`, what it adds is exactly the
/// corpus worth keeping.
fn minimize(target: &str, args: &FuzzArgs, corpus: &Path, seeds: &Path) -> Result {
    let work = root().join("fuzz").join(format!(".minimize-{target}"));
    let merged = work.join("merged");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&merged).map_err(|e| format!("cannot create {}: {e}", merged.display()))?;
    let seed_names = file_names(seeds);
    for name in &seed_names {
        fs::copy(seeds.join(name), merged.join(name))
            .map_err(|e| format!("cannot copy seed {name}: {e}"))?;
    }
    let mut merge = cargo_fuzz("run", target, args);
    merge.arg(&merged).arg(corpus).args(["--", "-merge=1"]);
    println!("==> minimize {target}: {}", show(&merge));
    flush();
    let status = merge.status().map_err(|e| format!("minimize: {e}"))?;
    if !status.success() {
        return Err(format!("merging the corpus of {target} failed ({status})"));
    }
    for name in &seed_names {
        fs::remove_file(merged.join(name)).map_err(|e| format!("minimize: {name}: {e}"))?;
    }
    let old = work.join("old");
    fs::rename(corpus, &old).map_err(|e| format!("cannot move {}: {e}", corpus.display()))?;
    fs::rename(&merged, corpus).map_err(|e| format!("cannot move the merged corpus: {e}"))?;
    fs::remove_dir_all(&work).map_err(|e| format!("cannot remove {}: {e}", work.display()))
}

/// Runs `cmd`, echoing its stderr (where cargo and libFuzzer write) while parsing the stats.
fn run_parsing_stats(name: &str, cmd: &mut Command) -> Result<(std::process::ExitStatus, Stats)> {
    println!("==> {name}: {}", show(cmd));
    flush();
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{name}: cannot run {}: {e}", show(cmd)))?;
    let mut stats = Stats::default();
    if let Some(stderr) = child.stderr.take() {
        let mut reader = BufReader::new(stderr);
        let mut line = Vec::new();
        let mut echo = io::stderr().lock();
        while reader.read_until(b'\n', &mut line).map_err(|e| format!("{name}: {e}"))? > 0 {
            let _ = echo.write_all(&line);
            stats.update(String::from_utf8_lossy(&line).trim_end());
            line.clear();
        }
    }
    let status = child.wait().map_err(|e| format!("{name}: {e}"))?;
    Ok((status, stats))
}

/// The numbers libFuzzer prints: its status lines (`#N ... cov: C ft: F ... exec/s: E`, also
/// in `-fork` mode as `#N: cov: ...`) and, in the main process, `-print_final_stats=1`'s
/// `stat::` lines, which come last and win.
#[derive(Default)]
struct Stats {
    execs: Option<u64>,
    execs_per_sec: Option<u64>,
    cov: Option<u64>,
    ft: Option<u64>,
}

impl Stats {
    fn update(&mut self, line: &str) {
        if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
            self.execs = v.trim().parse().ok().or(self.execs);
        } else if let Some(v) = line.strip_prefix("stat::average_exec_per_sec:") {
            self.execs_per_sec = v.trim().parse().ok().or(self.execs_per_sec);
        } else if let Some(rest) = line.strip_prefix('#') {
            let mut words = rest.split_whitespace();
            let Some(Ok(execs)) = words.next().map(|n| n.trim_end_matches(':').parse()) else {
                return;
            };
            self.execs = Some(execs);
            while let Some(word) = words.next() {
                let slot = match word {
                    "cov:" => &mut self.cov,
                    "ft:" => &mut self.ft,
                    "exec/s:" => &mut self.execs_per_sec,
                    _ => continue,
                };
                if let Some(Ok(n)) = words.next().map(str::parse) {
                    *slot = Some(n);
                }
            }
        }
    }
}

// ---- helpers -------------------------------------------------------------------------------

fn root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// The cargo that runs this xtask (so the same toolchain), started in the workspace root.
///
/// `cargo xtask` runs us with xtask's own `CARGO_PKG_*`, `CARGO_MANIFEST_*`, `OUT_DIR`...;
/// build scripts that watch the environment (ring's) rerun when one changes, so without this
/// every build from a shell after one from here (and back) would start over.
fn cargo() -> Command {
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    for (key, _) in env::vars_os() {
        if set_by_cargo_run(&key.to_string_lossy()) {
            cmd.env_remove(&key);
        }
    }
    cmd
}

/// Whether `key` is one of the variables `cargo run` sets for the program it runs (and so
/// not the user's).
fn set_by_cargo_run(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || key.starts_with("CARGO_MANIFEST_")
        || ["CARGO_CRATE_NAME", "CARGO_BIN_NAME", "CARGO_PRIMARY_PACKAGE", "OUT_DIR"].contains(&key)
}

/// A command as a reader would type it: `RUSTDOCFLAGS="-D warnings" cargo doc ...`.
fn show(cmd: &Command) -> String {
    let mut words = Vec::new();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            words.push(format!("{}={}", key.to_string_lossy(), quote(&value.to_string_lossy())));
        }
    }
    let program = Path::new(cmd.get_program());
    words.push(program.file_name().unwrap_or(program.as_os_str()).to_string_lossy().into_owned());
    words.extend(cmd.get_args().map(|a| quote(&a.to_string_lossy())));
    words.join(" ")
}

fn quote(word: &str) -> String {
    if word.contains(' ') { format!("{word:?}") } else { word.to_owned() }
}

/// The names of the files in `dir`; none when it does not exist.
fn file_names(dir: &Path) -> BTreeSet<String> {
    let Ok(entries) = fs::read_dir(dir) else { return BTreeSet::new() };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// Our lines before the child's: stdout is buffered when piped, as in CI logs.
fn flush() {
    let _ = io::stdout().flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(lines: &str) -> Stats {
        let mut stats = Stats::default();
        lines.lines().for_each(|l| stats.update(l));
        stats
    }

    #[test]
    fn child_cargo_does_not_inherit_what_cargo_run_set() {
        for key in ["CARGO_PKG_NAME", "CARGO_MANIFEST_DIR", "CARGO_CRATE_NAME", "OUT_DIR"] {
            assert!(set_by_cargo_run(key), "{key}");
        }
        for key in ["CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_BUILD_JOBS", "RUSTFLAGS", "PATH"] {
            assert!(!set_by_cargo_run(key), "{key}");
        }
        // `cargo test` sets CARGO_PKG_NAME for this process: the child command removes it.
        let cmd = cargo();
        let removed = cmd.get_envs().any(|(k, v)| k == "CARGO_PKG_NAME" && v.is_none());
        assert!(removed);
    }

    #[test]
    fn final_stats_win_over_status_lines() {
        let s = stats(
            "#29\tINITED cov: 417 ft: 840 corp: 28/815b exec/s: 0 rss: 38Mb\n\
             #798297\tDONE   cov: 502 ft: 1418 corp: 264/10534b lim: 4096 exec/s: 72572 rss: 495Mb\n\
             stat::number_of_executed_units: 798297\n\
             stat::average_exec_per_sec:     72573\n\
             stat::new_units_added:          1427",
        );
        assert_eq!(
            (s.execs, s.execs_per_sec, s.cov, s.ft),
            (Some(798_297), Some(72_573), Some(502), Some(1418))
        );
    }

    #[test]
    fn fork_mode_status_lines() {
        let s = stats(
            "INFO: -fork=2: 232 seed inputs, starting to fuzz in /tmp/x\n\
             #91369: cov: 513 ft: 1429 corp: 232 exec/s: 45684 oom/timeout/crash: 0/0/0 time: 2s\n\
             #1143904: cov: 514 ft: 1430 corp: 233 exec/s: 68959 oom/timeout/crash: 0/0/0 time: 12s\n\
             INFO: exiting: 0 time: 12s",
        );
        assert_eq!(
            (s.execs, s.execs_per_sec, s.cov, s.ft),
            (Some(1_143_904), Some(68_959), Some(514), Some(1430))
        );
    }

    #[test]
    fn other_lines_are_ignored() {
        let s = stats("###### Recommended dictionary. ######\n\"\\001t\" # Uses: 2600\nINFO: x");
        assert_eq!((s.execs, s.execs_per_sec, s.cov, s.ft), (None, None, None, None));
    }

    #[test]
    fn fuzz_args() {
        let args =
            |s: &str| FuzzArgs::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>());
        let a = args("url --time 5 --jobs 2 --sanitizer none").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (a.target.as_deref(), a.secs, a.jobs, a.sanitizer.as_str()),
            (Some("url"), 5, 2, "none")
        );
        let a = args("").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((a.target, a.secs, a.jobs), (None, DEFAULT_FUZZ_SECS, 1));
        assert!(args("--time").is_err());
        assert!(args("--time x").is_err());
        assert!(args("a b").is_err());
        assert!(args("--jobs 0").is_err());
        assert!(args("--bogus").is_err());
    }
}
