//! `cargo xtask mutants`: cargo-mutants over ferry-proto's main files, summed up per file.
//!
//! cargo-mutants changes one thing at a time in the code (a return value, an operator, a match
//! arm) and runs the package's tests; a mutant no test notices ("missed") is behaviour that no
//! test pins. Exclusions of equivalent or harmless mutants are listed by name, each with its
//! reason, in `.cargo/mutants.toml`, which cargo-mutants reads itself.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Stdio;

use crate::{Result, USAGE, cargo, flush, number, root, secs, show, step};

/// The package whose code is mutated; its own tests are the ones that must catch the mutants.
const PACKAGE: &str = "ferry-proto";

/// Where the package's modules are, relative to the workspace root.
const SRC: &str = "crates/ferry-proto/src";

/// The files mutated when no `--file` is given (relative to [`SRC`]): where the decisions are.
pub(crate) const DEFAULT_FILES: [&str; 6] =
    ["conn.rs", "chunked.rs", "response.rs", "request.rs", "route/no_proxy.rs", "pool.rs"];

/// `--output` of cargo-mutants, relative to the workspace root: under `target/`, so ignored
/// by git; the results are in `mutants.out/` inside it.
const OUTPUT: &str = "target/mutants";

pub(crate) struct MutantsArgs {
    /// Paths relative to [`SRC`] or to the workspace root.
    files: Vec<String>,
    jobs: u32,
    /// Seconds a mutant's tests may run; cargo-mutants derives one from the baseline if unset.
    timeout: Option<u64>,
    /// Only print the last run's results (also those of a run that was stopped).
    report: bool,
}

impl MutantsArgs {
    pub(crate) fn parse(args: &[String]) -> Result<MutantsArgs> {
        let mut parsed = MutantsArgs { files: Vec::new(), jobs: 1, timeout: None, report: false };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |flag: &str| {
                args.next().cloned().ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))
            };
            match arg.as_str() {
                "--file" => parsed.files.push(value("--file")?),
                "--jobs" => parsed.jobs = number("--jobs", &value("--jobs")?)?,
                "--timeout" => parsed.timeout = Some(number("--timeout", &value("--timeout")?)?),
                "--report" => parsed.report = true,
                other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
            }
        }
        if parsed.jobs == 0 || parsed.timeout == Some(0) {
            return Err("--jobs and --timeout must be at least 1".to_owned());
        }
        if parsed.files.is_empty() {
            parsed.files = DEFAULT_FILES.iter().map(|f| (*f).to_owned()).collect();
        }
        Ok(parsed)
    }

    /// The files as cargo-mutants names them: relative to the workspace root.
    fn paths(&self) -> Vec<String> {
        self.files
            .iter()
            .map(|f| if f.starts_with("crates/") { f.clone() } else { format!("{SRC}/{f}") })
            .collect()
    }
}

pub(crate) fn mutants(args: &MutantsArgs) -> Result {
    let out = root().join(OUTPUT).join("mutants.out");
    if args.report {
        return report(&out);
    }
    ensure_cargo_mutants()?;
    let paths = args.paths();
    for path in &paths {
        if !root().join(path).is_file() {
            return Err(format!("no such file: {path}"));
        }
    }
    let mut cmd = cargo();
    cmd.args(["mutants", "--package", PACKAGE, "--jobs", &args.jobs.to_string()]);
    cmd.args(["--output", OUTPUT]);
    for path in &paths {
        cmd.args(["--file", path]);
    }
    if let Some(timeout) = args.timeout {
        cmd.args(["--timeout", &timeout.to_string()]);
    }
    println!("==> mutants: {}", show(&cmd));
    flush();
    let started = std::time::Instant::now();
    let status = cmd.status().map_err(|e| format!("cannot run {}: {e}", show(&cmd)))?;
    // cargo-mutants exits 2 when some mutants were missed and 3 when some timed out: those are
    // results to show, not failures of the run.
    if !matches!(status.code(), Some(0 | 2 | 3)) {
        return Err(format!("cargo mutants failed ({status}); see {OUTPUT}/mutants.out/"));
    }
    println!("\ncargo mutants took {}", secs(started.elapsed()));
    report(&out)
}

/// Prints the table of `out/outcomes.json`, then the missed and the timed-out mutants.
/// cargo-mutants rewrites these files after each mutant, so a stopped run shows what it did.
fn report(out: &Path) -> Result {
    let text = read(&out.join("outcomes.json"))?;
    let tallies = tally(&Json::parse(&text)?)?;
    println!("\nmutants of {PACKAGE} ({}):\n", out.display());
    print!("{}", table(&tallies));
    for (list, title) in [("missed.txt", "missed"), ("timeout.txt", "timed out")] {
        let names = read(&out.join(list)).unwrap_or_default();
        let names: Vec<&str> = names.lines().filter(|l| !l.trim().is_empty()).collect();
        if !names.is_empty() {
            println!("\n{title} ({}):", names.len());
            for name in names {
                println!("  {name}");
            }
        }
    }
    Ok(())
}

fn ensure_cargo_mutants() -> Result {
    let found = cargo()
        .args(["mutants", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        step("install cargo-mutants", cargo().args(["install", "--locked", "cargo-mutants"]))?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The outcomes of one file's mutants.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    caught: usize,
    missed: usize,
    unviable: usize,
    timeout: usize,
}

impl Tally {
    fn total(&self) -> usize {
        self.caught + self.missed + self.unviable + self.timeout
    }

    /// Of the mutants that built, the share a test caught; a timeout is not a caught mutant,
    /// `None` when no mutant built.
    fn caught_percent(&self) -> Option<f64> {
        let viable = self.caught + self.missed + self.timeout;
        (viable > 0).then(|| 100.0 * self.caught as f64 / viable as f64)
    }

    fn add(&mut self, other: &Tally) {
        self.caught += other.caught;
        self.missed += other.missed;
        self.unviable += other.unviable;
        self.timeout += other.timeout;
    }
}

/// Per mutated file, from cargo-mutants' `outcomes.json`: `{"outcomes": [{"scenario":
/// "Baseline" | {"Mutant": {"file": ..}}, "summary": "CaughtMutant" | ..}, ..]}`.
fn tally(outcomes: &Json) -> Result<BTreeMap<String, Tally>> {
    let list = outcomes
        .get("outcomes")
        .and_then(Json::as_array)
        .ok_or("outcomes.json has no \"outcomes\" list")?;
    let mut files: BTreeMap<String, Tally> = BTreeMap::new();
    for outcome in list {
        let Some(mutant) = outcome.get("scenario").and_then(|s| s.get("Mutant")) else {
            continue; // the baseline
        };
        let file = mutant.get("file").and_then(Json::as_str).ok_or("a mutant without a file")?;
        let summary = outcome.get("summary").and_then(Json::as_str).unwrap_or("");
        let tally = files.entry(file.to_owned()).or_default();
        match summary {
            "CaughtMutant" => tally.caught += 1,
            "MissedMutant" => tally.missed += 1,
            "Unviable" => tally.unviable += 1,
            "Timeout" => tally.timeout += 1,
            other => return Err(format!("{file}: a mutant's outcome is {other:?}")),
        }
    }
    Ok(files)
}

fn table(files: &BTreeMap<String, Tally>) -> String {
    let width = files.keys().map(String::len).max().unwrap_or(0).max("total".len());
    let mut out = format!(
        "{:<width$} {:>8} {:>7} {:>7} {:>9} {:>8} {:>9}\n",
        "file", "mutants", "caught", "missed", "unviable", "timeout", "caught %"
    );
    let mut total = Tally::default();
    let mut row = |name: &str, t: &Tally| {
        let percent = t.caught_percent().map_or("-".to_owned(), |p| format!("{p:.1}%"));
        out.push_str(&format!(
            "{name:<width$} {:>8} {:>7} {:>7} {:>9} {:>8} {percent:>9}\n",
            t.total(),
            t.caught,
            t.missed,
            t.unviable,
            t.timeout,
        ));
    };
    for (file, tally) in files {
        row(file, tally);
        total.add(tally);
    }
    if files.len() > 1 {
        row("total", &total);
    }
    out
}

// ---- a small JSON reader (the xtask has no dependencies) -----------------------------------

/// A JSON value; numbers are kept as `f64`, objects as their pairs in order.
#[derive(Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn parse(text: &str) -> Result<Json> {
        let mut p = JsonParser { bytes: text.as_bytes(), pos: 0 };
        let value = p.value()?;
        p.skip_ws();
        if p.pos != p.bytes.len() {
            return Err(p.error("trailing bytes"));
        }
        Ok(value)
    }

    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }
}

struct JsonParser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl JsonParser<'_> {
    fn error(&self, what: &str) -> String {
        format!("outcomes.json: {what} at byte {}", self.pos)
    }

    fn skip_ws(&mut self) {
        while self.bytes.get(self.pos).is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_ws();
        let found = self.bytes.get(self.pos) == Some(&byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect(&mut self, byte: u8) -> Result {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {:?}", byte as char)))
        }
    }

    fn value(&mut self) -> Result<Json> {
        self.skip_ws();
        match self.bytes.get(self.pos) {
            Some(b'{') => {
                self.pos += 1;
                let mut pairs = Vec::new();
                if !self.eat(b'}') {
                    loop {
                        self.skip_ws();
                        let key = self.string()?;
                        self.expect(b':')?;
                        pairs.push((key, self.value()?));
                        if self.eat(b'}') {
                            break;
                        }
                        self.expect(b',')?;
                    }
                }
                Ok(Json::Object(pairs))
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value()?);
                        if self.eat(b']') {
                            break;
                        }
                        self.expect(b',')?;
                    }
                }
                Ok(Json::Array(items))
            }
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                while self
                    .bytes
                    .get(self.pos)
                    .is_some_and(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                {
                    self.pos += 1;
                }
                let text = String::from_utf8_lossy(&self.bytes[start..self.pos]);
                text.parse().map(Json::Number).map_err(|_| self.error("a bad number"))
            }
            _ => Err(self.error("expected a value")),
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn string(&mut self) -> Result<String> {
        if self.bytes.get(self.pos) != Some(&b'"') {
            return Err(self.error("expected a string"));
        }
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(self.error("an unterminated string"));
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.bytes.get(self.pos) else {
                        return Err(self.error("an unterminated string"));
                    };
                    self.pos += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(self.error("a bad escape")),
                    };
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                _ => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| self.error("a string that is not UTF-8"))
    }

    /// After `\u`: four hex digits, and a second `\uXXXX` for a surrogate pair.
    fn unicode_escape(&mut self) -> Result<char> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if !self.bytes[self.pos..].starts_with(b"\\u") {
                return Err(self.error("a lone surrogate"));
            }
            self.pos += 2;
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(self.error("a lone surrogate"));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.error("a bad \\u escape"))
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits =
            self.bytes.get(self.pos..self.pos + 4).ok_or_else(|| self.error("a short \\u"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.error("a bad \\u escape"))?;
        let value = u32::from_str_radix(text, 16).map_err(|_| self.error("a bad \\u escape"))?;
        self.pos += 4;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<MutantsArgs> {
        MutantsArgs::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn mutants_args() {
        let a = args("").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (a.files.len(), a.jobs, a.timeout, a.report),
            (DEFAULT_FILES.len(), 1, None, false)
        );
        assert!(args("--report").is_ok_and(|a| a.report));
        assert_eq!(a.paths()[0], "crates/ferry-proto/src/conn.rs");
        let a = args(
            "--file pool.rs --file crates/ferry-proto/src/route/no_proxy.rs --jobs 2 --timeout 90",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (a.paths(), a.jobs, a.timeout),
            (
                vec![
                    "crates/ferry-proto/src/pool.rs".to_owned(),
                    "crates/ferry-proto/src/route/no_proxy.rs".to_owned()
                ],
                2,
                Some(90)
            )
        );
        for bad in ["--file", "--jobs 0", "--timeout 0", "--timeout x", "pool.rs", "--bogus"] {
            assert!(args(bad).is_err(), "{bad:?} is refused");
        }
    }

    #[test]
    fn json_values() {
        let j = Json::parse(r#" {"a": [1, -2.5e1, true, false, null], "b": "x\"\\\/\n\u00e9\ud83d\ude00", "c": {}} "#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            j.get("a"),
            Some(&Json::Array(vec![
                Json::Number(1.0),
                Json::Number(-25.0),
                Json::Bool(true),
                Json::Bool(false),
                Json::Null
            ]))
        );
        assert_eq!(j.get("b").and_then(Json::as_str), Some("x\"\\/\né😀"));
        assert_eq!(j.get("c"), Some(&Json::Object(Vec::new())));
        assert_eq!(j.get("d"), None);
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "\"abc", "tru", "1 2", "\"\\ud800\"", "\"\\q\""] {
            assert!(Json::parse(bad).is_err(), "{bad:?} is refused");
        }
    }

    /// The shape cargo-mutants writes, cut down to the fields read.
    const OUTCOMES: &str = r#"{
      "outcomes": [
        {"scenario": "Baseline", "summary": "Success"},
        {"scenario": {"Mutant": {"file": "crates/ferry-proto/src/pool.rs"}}, "summary": "CaughtMutant"},
        {"scenario": {"Mutant": {"file": "crates/ferry-proto/src/pool.rs"}}, "summary": "CaughtMutant"},
        {"scenario": {"Mutant": {"file": "crates/ferry-proto/src/pool.rs"}}, "summary": "MissedMutant"},
        {"scenario": {"Mutant": {"file": "crates/ferry-proto/src/pool.rs"}}, "summary": "Unviable"},
        {"scenario": {"Mutant": {"file": "crates/ferry-proto/src/route/no_proxy.rs"}}, "summary": "Timeout"},
        {"scenario": {"Mutant": {"file": "crates/ferry-proto/src/route/no_proxy.rs"}}, "summary": "Unviable"}
      ],
      "total_mutants": 6
    }"#;

    #[test]
    fn tally_per_file() {
        let json = Json::parse(OUTCOMES).unwrap_or_else(|e| panic!("{e}"));
        let t = tally(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.get("crates/ferry-proto/src/pool.rs"),
            Some(&Tally { caught: 2, missed: 1, unviable: 1, timeout: 0 })
        );
        assert_eq!(
            t.get("crates/ferry-proto/src/route/no_proxy.rs"),
            Some(&Tally { caught: 0, missed: 0, unviable: 1, timeout: 1 })
        );
        assert_eq!(
            table(&t),
            "\
file                                      mutants  caught  missed  unviable  timeout  caught %
crates/ferry-proto/src/pool.rs                  4       2       1         1        0     66.7%
crates/ferry-proto/src/route/no_proxy.rs        2       0       0         1        1      0.0%
total                                           6       2       1         2        1     50.0%
"
        );
        let none = Tally { unviable: 3, ..Tally::default() };
        assert_eq!(none.caught_percent(), None);
    }

    #[test]
    fn unknown_outcomes_are_errors() {
        let json = Json::parse(
            r#"{"outcomes": [{"scenario": {"Mutant": {"file": "a.rs"}}, "summary": "Failure"}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(tally(&json).is_err());
        assert!(tally(&Json::parse("{}").unwrap_or_else(|e| panic!("{e}"))).is_err());
    }
}
