//! The runner of `cargo xtask bench`: starts the loopback origin (its own process), runs each
//! client on each workload in its own process (pinned: same core as the origin for the
//! keep-alive rows, the other core for the downloads), interleaved A B C A B C, and prints one
//! table: client CPU per request or per MiB (median and spread of the runs), instructions
//! (callgrind, the client process only, fixed N minus N = 0), heap allocations and bytes (a
//! counting allocator in the client), ratios to the bare client, the raw socket loop and the
//! best peer. Then the core's parse microbenchmark beside httparse
//! (`scripts/bench-callgrind.sh`).
//!
//! `bench [--quick] [--runs R] [--only W,W] [--clients C,C] [--no-ir] [--keep DIR] [--out FILE]`

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use ferry_bench::{CHUNK, Canned, Usage, children_usage};

const MIB: u64 = 1024 * 1024;

/// The peers: "best peer" is the best of these in each workload.
const PEERS: [&str; 3] = ["hyper", "ureq", "reqwest"];

/// Every client in table order; a workload lists the ones that can run it.
const ALL: [&str; 7] = ["raw", "bare", "ferry-conn", "ferry-client", "hyper", "ureq", "reqwest"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Sequential GETs on one kept-alive connection: figures per request.
    KeepAlive,
    /// One large body per run: figures per MiB.
    Download,
}

struct Workload {
    name: &'static str,
    what: &'static str,
    kind: Kind,
    canned: Canned,
    /// The smaller body the instruction count runs download (callgrind is slow).
    ir_canned: Canned,
    https: bool,
    proxy: bool,
    clients: &'static [&'static str],
    /// Whether `--quick` counts its instructions too.
    ir_in_quick: bool,
}

struct Settings {
    quick: bool,
    runs: usize,
    /// GETs per run of a keep-alive row.
    n: u64,
    /// GETs per callgrind run of a keep-alive row.
    ir_n: u64,
    warm: u64,
    download: u64,
    ir_download: u64,
    ir: bool,
    only: Option<Vec<String>>,
    clients: Option<Vec<String>>,
    keep: Option<PathBuf>,
    out: Option<PathBuf>,
    /// Print each run's kernel accounting (user/system split, context switches) to stderr.
    rusage: bool,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

fn parse_args() -> Result<Settings, String> {
    let mut s = Settings {
        quick: false,
        runs: 5,
        n: 20_000,
        ir_n: 2_000,
        warm: 200,
        download: 256 * MIB,
        ir_download: 16 * MIB,
        ir: true,
        only: None,
        clients: None,
        keep: None,
        out: None,
        rusage: false,
    };
    let mut args = std::env::args().skip(1);
    let mut runs = None;
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--quick" => s.quick = true,
            "--runs" => runs = Some(value()?.parse().map_err(|e| format!("--runs: {e}"))?),
            "--only" => s.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--clients" => s.clients = Some(value()?.split(',').map(str::to_owned).collect()),
            "--no-ir" => s.ir = false,
            "--rusage" => s.rusage = true,
            "--keep" => s.keep = Some(value()?.into()),
            "--out" => s.out = Some(value()?.into()),
            "-h" | "--help" => {
                eprintln!(
                    "usage: bench [--quick] [--runs R] [--only W,W] [--clients C,C] [--no-ir] \
                     [--keep DIR] [--out FILE]\n\
                     workloads: small h20 length chunked tls-length tls-small proxy-small\n\
                     clients: {}\n\
                     --quick: 3 runs, 2000 GETs a run, 32 MiB downloads, instructions of the plain keep-alive rows only\n\
                     --keep DIR: keep the callgrind profiles (callgrind_annotate them)\n\
                     --rusage: print each run's whole client process as the kernel accounts it (user and system CPU, context switches, page faults) to stderr\n\
                     --out FILE: also write the table there (markdown)",
                    ALL.join(" ")
                );
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {a} (see --help)")),
        }
    }
    if s.quick {
        (s.n, s.ir_n, s.warm, s.download, s.ir_download) = (2_000, 300, 100, 32 * MIB, 4 * MIB);
    }
    s.runs = runs.unwrap_or(if s.quick { 3 } else { 5 });
    Ok(s)
}

fn workloads(s: &Settings) -> Vec<Workload> {
    let (len, chunked) =
        (Canned::Length(s.download), Canned::Chunked(s.download / CHUNK as u64 * CHUNK as u64));
    let (ir_len, ir_chunked) = (Canned::Length(s.ir_download), Canned::Chunked(s.ir_download));
    let ka = |name, what, canned, https, proxy, clients| Workload {
        name,
        what,
        kind: Kind::KeepAlive,
        canned,
        ir_canned: canned,
        https,
        proxy,
        clients,
        ir_in_quick: !https,
    };
    let dl = |name, what, canned, ir_canned, https, clients| Workload {
        name,
        what,
        kind: Kind::Download,
        canned,
        ir_canned,
        https,
        proxy: false,
        clients,
        ir_in_quick: false,
    };
    vec![
        ka("small", "keep-alive GET, 2-byte body", Canned::Small, false, false, &ALL[..]),
        ka(
            "h20",
            "keep-alive GET, 20-field head, 1 KiB body",
            Canned::Head20,
            false,
            false,
            &ALL[..],
        ),
        dl("length", "download, Content-Length", len, ir_len, false, &ALL[..]),
        dl("chunked", "download, 16 KiB chunks", chunked, ir_chunked, false, &ALL[..]),
        dl("tls-length", "download over TLS, Content-Length", len, ir_len, true, &ALL[..]),
        ka("tls-small", "keep-alive HTTPS GET, 2-byte body", Canned::Small, true, false, &ALL[..]),
        ka(
            "proxy-small",
            "the same through the CONNECT proxy",
            Canned::Small,
            true,
            true,
            &ALL[..],
        ),
    ]
}

/// The origin process: stopped (its standard input closed, then killed) on drop.
struct Origin {
    child: Child,
    http: u16,
    https: u16,
    proxy: u16,
}

impl Drop for Origin {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The cores to pin to: (origin and keep-alive clients, download clients); none on one core
/// or without `taskset`.
fn cores() -> Option<(usize, usize)> {
    let n = std::thread::available_parallelism().map_or(1, usize::from);
    let taskset =
        Command::new("taskset").arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status();
    (n >= 2 && taskset.is_ok_and(|s| s.success())).then_some((n - 1, 0))
}

fn pinned(program: &Path, core: Option<usize>) -> Command {
    match core {
        Some(c) => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(c.to_string()).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

fn start_origin(bin: &Path, ca: &Path, core: Option<usize>) -> Result<Origin, String> {
    let mut child = pinned(&bin.join("origin"), core)
        .arg(ca)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the origin: {e}"))?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    BufReader::new(stdout).read_line(&mut line).map_err(|e| format!("origin: {e}"))?;
    let port = |key: &str| -> Result<u16, String> {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|p| p.parse().ok())
            .ok_or(format!("origin said {line:?}"))
    };
    let (http, https, proxy) = (port("http=")?, port("https=")?, port("proxy=")?);
    Ok(Origin { child, http, https, proxy })
}

/// What one client run printed.
#[derive(Clone, Copy, Default)]
struct Sample {
    cpu_us: u64,
    allocs: u64,
    bytes: u64,
    /// The whole client process, as the kernel accounts it (setup and warm-up included).
    usage: Usage,
}

struct Run<'a> {
    bin: &'a Path,
    origin: &'a Origin,
    ca: &'a Path,
}

impl Run<'_> {
    fn command(
        &self,
        program: Command,
        w: &Workload,
        client: &str,
        canned: Canned,
        warm: u64,
        n: u64,
    ) -> Command {
        let mut cmd = program;
        let port = if w.https { self.origin.https } else { self.origin.http };
        cmd.arg(format!("name={client}"))
            .arg(format!("path={}", canned.path()))
            .arg(format!("warm={warm}"))
            .arg(format!("n={n}"))
            .arg(format!("scheme={}", if w.https { "https" } else { "http" }))
            .arg(format!("port={port}"))
            .arg(format!("ca={}", self.ca.display()));
        if w.kind == Kind::Download {
            cmd.arg("warmpath=/small");
        }
        if w.proxy {
            cmd.arg(format!("proxy={}", self.origin.proxy));
        }
        for var in ["http_proxy", "https_proxy", "all_proxy", "no_proxy"] {
            cmd.env_remove(var).env_remove(var.to_uppercase());
        }
        cmd
    }

    fn sample(
        &self,
        w: &Workload,
        client: &str,
        core: Option<usize>,
        s: &Settings,
    ) -> Result<Sample, String> {
        let n = if w.kind == Kind::Download { 1 } else { s.n };
        let mut cmd =
            self.command(pinned(&self.bin.join("client"), core), w, client, w.canned, s.warm, n);
        let before = children_usage();
        let out = cmd.output().map_err(|e| format!("cannot run the client: {e}"))?;
        let usage = children_usage().since(before);
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let field = |key: &str| -> Result<u64, String> {
            text.split_whitespace()
                .find_map(|f| f.strip_prefix(key))
                .and_then(|v| v.parse().ok())
                .ok_or(format!("client said {text:?}"))
        };
        Ok(Sample {
            cpu_us: field("cpu_us=")?,
            allocs: field("allocs=")?,
            bytes: field("bytes=")?,
            usage,
        })
    }

    /// Instructions per unit: callgrind's total for N units minus its total for none.
    fn instructions(&self, w: &Workload, client: &str, s: &Settings) -> Result<f64, String> {
        let (canned, n, warm) = match w.kind {
            Kind::KeepAlive => (w.canned, s.ir_n, s.warm.min(50)),
            Kind::Download => (w.ir_canned, 1, 5),
        };
        // Both runs at once: instruction counts do not depend on what else runs.
        let spawn = |n: u64| -> Result<Child, String> {
            let out_file = match &s.keep {
                Some(dir) if n > 0 => dir.join(format!("callgrind.{}.{client}", w.name)),
                _ => PathBuf::from("/dev/null"),
            };
            let mut vg = Command::new("valgrind");
            vg.arg("--tool=callgrind")
                .arg(format!("--callgrind-out-file={}", out_file.display()))
                .arg(self.bin.join("client"));
            self.command(vg, w, client, canned, warm, n)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("valgrind: {e}"))
        };
        let collected = |child: Child| -> Result<u64, String> {
            let out = child.wait_with_output().map_err(|e| format!("valgrind: {e}"))?;
            let err = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() {
                return Err(err
                    .lines()
                    .filter(|l| !l.starts_with("=="))
                    .collect::<Vec<_>>()
                    .join(" "));
            }
            err.lines()
                .find_map(|l| l.split_once("Collected : ").and_then(|(_, v)| v.trim().parse().ok()))
                .ok_or_else(|| "no Collected line from callgrind".to_owned())
        };
        let (a, b) = (spawn(n)?, spawn(0)?);
        let (with, without) = (collected(a)?, collected(b)?);
        let units = match w.kind {
            Kind::KeepAlive => n as f64,
            Kind::Download => canned.body_len() as f64 / MIB as f64,
        };
        Ok((with as f64 - without as f64) / units)
    }
}

/// One row's figures, per request or per MiB.
#[derive(Default)]
struct Row {
    cpu: Vec<f64>,
    allocs: Vec<f64>,
    bytes: Vec<f64>,
    ir: Option<f64>,
    error: Option<String>,
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

fn run() -> Result<(), String> {
    let s = parse_args()?;
    let started = Instant::now();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = exe.parent().ok_or("no directory for the binaries")?.to_path_buf();
    let dir = std::env::temp_dir().join(format!("ferry-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    if let Some(keep) = &s.keep {
        std::fs::create_dir_all(keep).map_err(|e| e.to_string())?;
    }
    let ca = dir.join("ca.pem");
    let cores = cores();
    let origin = start_origin(&bin, &ca, cores.map(|c| c.0))?;
    let runner = Run { bin: &bin, origin: &origin, ca: &ca };
    let mut table: Vec<(String, Vec<(String, Row)>)> = Vec::new();
    for w in workloads(&s) {
        if s.only.as_ref().is_some_and(|o| !o.iter().any(|x| x == w.name)) {
            continue;
        }
        let clients: Vec<&str> = w
            .clients
            .iter()
            .copied()
            .filter(|c| s.clients.as_ref().is_none_or(|o| o.iter().any(|x| x == c)))
            .collect();
        let core = cores.map(|(same, other)| if w.kind == Kind::KeepAlive { same } else { other });
        let unit = match w.kind {
            Kind::KeepAlive => s.n as f64,
            Kind::Download => w.canned.body_len() as f64 / MIB as f64,
        };
        let mut rows: BTreeMap<&str, Row> = clients.iter().map(|c| (*c, Row::default())).collect();
        eprint!("bench: {:<12}", w.name);
        // Interleaved: every client once per round.
        for _ in 0..s.runs {
            for c in &clients {
                let row = rows.get_mut(c).ok_or("row")?;
                if row.error.is_some() {
                    continue;
                }
                match runner.sample(&w, c, core, &s) {
                    Ok(sample) => {
                        if s.rusage {
                            let u = sample.usage;
                            eprintln!(
                                "\nbench: {} {c}: cpu {:.1} (process: user {:.1} sys {:.1}) per {}, \
                                 {} voluntary and {} involuntary context switches, {} minor faults",
                                w.name,
                                sample.cpu_us as f64 / unit,
                                u.user_us as f64 / unit,
                                u.sys_us as f64 / unit,
                                if w.kind == Kind::KeepAlive {
                                    "request (µs)"
                                } else {
                                    "MiB (µs)"
                                },
                                u.vcsw,
                                u.ivcsw,
                                u.minflt
                            );
                        }
                        row.cpu.push(sample.cpu_us as f64 / unit);
                        row.allocs.push(sample.allocs as f64 / unit);
                        row.bytes.push(sample.bytes as f64 / unit);
                    }
                    Err(e) => row.error = Some(e),
                }
            }
            eprint!(".");
        }
        if s.ir && (!s.quick || w.ir_in_quick) {
            for c in &clients {
                let row = rows.get_mut(c).ok_or("row")?;
                if row.error.is_none() {
                    match runner.instructions(&w, c, &s) {
                        Ok(ir) => row.ir = Some(ir),
                        Err(e) => row.error = Some(format!("callgrind: {e}")),
                    }
                }
                eprint!("i");
            }
        }
        eprintln!(" {:.0} s", started.elapsed().as_secs_f64());
        let ordered =
            clients.iter().filter_map(|c| rows.remove(c).map(|r| ((*c).to_owned(), r))).collect();
        table.push((w.name.to_owned(), ordered));
    }
    drop(origin);
    let _ = std::fs::remove_dir_all(&dir);
    let parse = if s.only.as_ref().is_none_or(|o| o.iter().any(|x| x == "parse")) {
        parse_bench(s.quick)
    } else {
        Ok(Vec::new())
    };
    let text = render(&s, &workloads(&s), &table, &parse, cores, started.elapsed().as_secs_f64());
    #[allow(clippy::print_stdout)]
    {
        println!("{text}");
    }
    if let Some(out) = &s.out {
        std::fs::write(out, &text).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    Ok(())
}

/// The core's parse microbenchmark beside httparse, in instructions: ferry-proto's
/// `scripts/bench-callgrind.sh`, run from the repository root.
fn parse_bench(quick: bool) -> Result<Vec<(String, u64)>, String> {
    let (n1, n2) = if quick { ("200", "1000") } else { ("1000", "5000") };
    eprintln!("bench: parse (scripts/bench-callgrind.sh)");
    let mut script = Command::new("bash");
    // As `cargo xtask bench` does for this workspace: variables inherited from `cargo xtask`
    // (CARGO_PKG_*, CARGO_MANIFEST_DIR, ...) make build scripts that watch them rerun.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || ["CARGO_CRATE_NAME", "CARGO_BIN_NAME", "CARGO_PRIMARY_PACKAGE", "OUT_DIR"]
                .contains(&key.as_ref())
        {
            script.env_remove(key.as_ref());
        }
    }
    let out = script
        .args(["scripts/bench-callgrind.sh", "httparse64", "httparse-uninit", "ferry", "exchange"])
        .env("N1", n1)
        .env("N2", n2)
        .env("CARGO_BUILD_JOBS", "1")
        .output()
        .map_err(|e| format!("scripts/bench-callgrind.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "scripts/bench-callgrind.sh failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (name, ir) = (w.next()?, w.next()?.parse().ok()?);
            w.next().is_none().then(|| (name.to_owned(), ir))
        })
        .collect())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let n = std::thread::available_parallelism().map_or(1, usize::from);
    format!("{n} cores, {cpu}")
}

fn date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn fmt_num(x: f64) -> String {
    if x >= 100.0 {
        let s = format!("{:.0}", x);
        // Thousands separators.
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        out
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".to_owned(),
    }
}

fn render(
    s: &Settings,
    workloads: &[Workload],
    table: &[(String, Vec<(String, Row)>)],
    parse: &Result<Vec<(String, u64)>, String>,
    cores: Option<(usize, usize)>,
    took: f64,
) -> String {
    let mut t = String::new();
    let mode = if s.quick { "--quick" } else { "full" };
    let _ = writeln!(t, "ferry bench ({mode}), {}, {}; {took:.0} s", date(), machine());
    let pin = match cores {
        Some((same, other)) => format!(
            "origin and keep-alive clients pinned to core {same}, download clients to core {other}"
        ),
        None => "no pinning".to_owned(),
    };
    let _ = writeln!(
        t,
        "{} runs per row, interleaved; keep-alive rows: {} GETs a run (Ir: {} GETs minus 0); \
         downloads: {} MiB a run (Ir: {} MiB minus 0); {pin}.",
        s.runs,
        s.n,
        s.ir_n,
        s.download / MIB,
        s.ir_download / MIB
    );
    let _ = writeln!(
        t,
        "CPU = client user+system time (getrusage), median [min-max] of the runs; Ir = \
         callgrind instructions of the client process; alloc = heap allocations; x = ratio of \
         the cost (CPU or Ir) to the bare client, the raw socket loop, the best peer."
    );
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "| workload | client | CPU | spread | Ir | alloc | bytes | CPU x bare | Ir x bare | CPU x raw | Ir x raw | CPU x best peer | Ir x best peer |"
    );
    let _ = writeln!(t, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (name, rows) in table {
        let Some(w) = workloads.iter().find(|w| w.name == name) else { continue };
        let unit = if w.kind == Kind::KeepAlive { "µs/req" } else { "µs/MiB" };
        let cpu = |c: &str| rows.iter().find(|(n, _)| n == c).and_then(|(_, r)| median(&r.cpu));
        let ir = |c: &str| rows.iter().find(|(n, _)| n == c).and_then(|(_, r)| r.ir);
        let best = |f: &dyn Fn(&str) -> Option<f64>| {
            PEERS.iter().filter_map(|p| f(p)).min_by(f64::total_cmp)
        };
        let (best_cpu, best_ir) = (best(&cpu), best(&ir));
        let per = if w.kind == Kind::KeepAlive { "req" } else { "MiB" };
        let _ = writeln!(
            t,
            "| **{name}**: {} | | {unit} | | Ir/{per} | /{per} | B/{per} | | | | | | |",
            w.what
        );
        for (client, row) in rows {
            if let Some(e) = &row.error {
                let short: String = e.chars().take(100).collect();
                let _ = writeln!(t, "| {name} | {client} | error: {short} | | | | | | | | | | |");
                continue;
            }
            let c = median(&row.cpu);
            let spread = match (
                row.cpu.iter().copied().min_by(f64::total_cmp),
                row.cpu.iter().copied().max_by(f64::total_cmp),
            ) {
                (Some(lo), Some(hi)) => format!("{}-{}", fmt_num(lo), fmt_num(hi)),
                _ => "-".to_owned(),
            };
            let cpu_cell = match (c, w.kind) {
                (Some(c), Kind::Download) => format!("{} ({:.0} MiB/s)", fmt_num(c), 1e6 / c),
                (Some(c), Kind::KeepAlive) => fmt_num(c),
                (None, _) => "-".to_owned(),
            };
            let _ = writeln!(
                t,
                "| {name} | {client} | {cpu_cell} | {spread} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row.ir.map_or("-".to_owned(), fmt_num),
                median(&row.allocs).map_or("-".to_owned(), fmt_num),
                median(&row.bytes).map_or("-".to_owned(), fmt_num),
                ratio(c, cpu("bare")),
                ratio(row.ir, ir("bare")),
                ratio(c, cpu("raw")),
                ratio(row.ir, ir("raw")),
                ratio(c, best_cpu),
                ratio(row.ir, best_ir),
            );
        }
    }
    match parse {
        Ok(p) if !p.is_empty() => {
            let get = |n: &str| p.iter().find(|(k, _)| k == n).map(|(_, v)| *v as f64);
            let _ = writeln!(
                t,
                "| **parse**: the core's 20-field head parse (`ferry`) and a whole in-memory exchange \
                 (`exchange`), `scripts/bench-callgrind.sh`; here bare = httparse with 64 slots, \
                 raw = httparse with uninit slots | | | | Ir/iter | | | | | | | | |"
            );
            for (name, ir) in p {
                let _ = writeln!(
                    t,
                    "| parse | {name} | | | {} | | | | {} | | {} | | |",
                    fmt_num(*ir as f64),
                    ratio(Some(*ir as f64), get("httparse64")),
                    ratio(Some(*ir as f64), get("httparse-uninit")),
                );
            }
        }
        Ok(_) => {}
        Err(e) => {
            let _ = writeln!(t, "| parse | error: {e} | | | | | | | | | | | |");
        }
    }
    t
}
