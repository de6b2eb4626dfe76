//! `cargo xtask demo`: the `ferry` tool through an authenticating proxy, on this machine alone.
//!
//! It makes a CA and a leaf with rcgen, starts on 127.0.0.1 an HTTPS origin presenting the leaf
//! and two CONNECT proxies that want Basic credentials (one plain, one behind TLS), then runs
//! `ferry` (its library entry point, in this process) step by step with `-v`:
//!
//! 1. a 407 without credentials (exit 56, `%{http_connect}` 407),
//! 2. the same request through the tunnel with them,
//! 3. a POST with a JSON body,
//! 4. three URLs on one command line: one TCP connection, one tunnel (the servers' counters),
//! 5. the TLS proxy: TLS inside TLS,
//! 6. a refused certificate when the CA is not trusted (exit 60),
//! 7. tinyproxy and squid, where installed.
//!
//! Each step checks what it shows (exit code, counters, bodies, no password in the `-v`
//! output); the demo exits non-zero if one does not behave so, or if proxy credentials reach
//! the origin. It ends with the `ferry` command lines to paste; with `--serve` the servers stay
//! up until Ctrl-C. Nothing is read from the network beyond loopback.
#![allow(clippy::print_stdout, reason = "a demo reports on stdout")]

use std::error::Error;
use std::io::Write;
use std::sync::{Arc, Mutex};

use ferry_cli::{Io, Sink};
use ferry_test_support::certs::Ca;
use ferry_test_support::origin::Origin;
use ferry_test_support::proxy::{Proxy, ProxyOptions};
use ferry_test_support::real::{RealProxy, RealProxyError, RealProxyOptions};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

const USER: &str = "demo";
const PASSWORD: &str = "s3cret:p@ss%word";
/// tinyproxy's and squid's password files take no `:`.
const REAL_PASSWORD: &str = "s3cret-pw";

fn main() -> Result {
    let serve = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--serve") => true,
        Some(other) => return Err(format!("unknown argument {other:?} (only --serve)").into()),
    };
    let dir = tempfile::tempdir()?;
    let ca = Ca::new("ferry demo CA");
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let ca_file = dir.path().join("demo-ca.pem");
    std::fs::write(&ca_file, ca.pem())?;
    let ca_file = ca_file.display().to_string();

    let origin = Origin::https(&leaf);
    let proxy = Proxy::start(ProxyOptions::with_basic_auth(USER, PASSWORD));
    let tls_proxy = Proxy::start(ProxyOptions {
        tls: Some(leaf.clone()),
        ..ProxyOptions::with_basic_auth(USER, PASSWORD)
    });
    println!("origin     {} (a leaf signed by a fresh CA: {ca_file})", origin.url("/"));
    println!("proxy      {} (CONNECT, Basic auth: {USER} / {PASSWORD})", proxy.url());
    println!("TLS proxy  {} (the same behind TLS: TLS inside TLS)", tls_proxy.url());

    let with_creds = proxy.url_with_credentials(USER, PASSWORD);
    let mut pasted = Vec::new();

    // 1. Without credentials the proxy answers 407: curl's exit 56, the reply in -v.
    let args = ["-v", "-x", &proxy.url(), "--cacert", &ca_file, "-w", r"%{http_connect}\n"];
    let url = origin.url("/echo");
    let run = step("1. without credentials: the proxy's 407", &args, &[&url], &mut pasted)?;
    run.expect_code(56)?;
    run.expect(run.out.ends_with("407\n"), "%{http_connect} is 407")?;
    run.expect(
        run.err.contains("< HTTP/1.1 407 Proxy Authentication Required"),
        "-v shows the 407",
    )?;
    run.expect(run.err.contains("< Proxy-Authenticate: Basic"), "and what it asks for")?;
    run.expect(
        proxy.auth_failures() >= 1 && origin.connections() == 0,
        "nothing reached the origin",
    )?;

    // 2. With them, in the proxy URL: the tunnel opens, then TLS to the origin inside it.
    let args = ["-v", "-x", &with_creds, "--cacert", &ca_file];
    let url = origin.url("/bytes/26");
    let run = step("2. with credentials: through the tunnel", &args, &[&url], &mut pasted)?;
    run.expect_code(0)?;
    run.expect(run.out == "abcdefghijklmnopqrstuvwxyz", "the body came through")?;
    run.expect(run.err.contains("< HTTP/1.1 200"), "-v shows the tunnel's 200")?;
    run.expect(run.err.contains("* TLS with the origin"), "-v shows the origin's TLS")?;
    run.expect(proxy.tunnels() == 1, "the proxy opened one tunnel")?;

    // 3. A POST with a JSON body (the origin's /echo writes back what it got).
    let args = ["-x", &with_creds, "--cacert", &ca_file, "--json", r#"{"hello":"ferry"}"#];
    let url = origin.url("/echo");
    let run = step("3. a POST with a JSON body", &args, &[&url], &mut pasted)?;
    run.expect_code(0)?;
    run.expect(run.out.starts_with("POST /echo HTTP/1.1"), "the origin got a POST")?;
    run.expect(run.out.contains("Content-Type: application/json"), "as JSON")?;
    run.expect(run.out.ends_with(r#"{"hello":"ferry"}"#), "with the body")?;

    // 4. Three URLs on one command line: one TCP connection to the proxy, one tunnel.
    let (proxy_before, tunnels_before, origin_before) =
        (proxy.connections(), proxy.tunnels(), origin.connections());
    let args = [
        "-x",
        &with_creds,
        "--cacert",
        &ca_file,
        "-w",
        r"%{url_effective}: %{http_code}, new connections %{num_connects}\n",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
    ];
    let urls = [origin.url("/bytes/10"), origin.url("/chunked/3000"), origin.url("/gzip")];
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    let run = step("4. three URLs, one connection", &args, &urls, &mut pasted)?;
    run.expect_code(0)?;
    let (dialled, tunnels, at_origin) = (
        proxy.connections() - proxy_before,
        proxy.tunnels() - tunnels_before,
        origin.connections() - origin_before,
    );
    println!(
        "   counters: {dialled} TCP connection(s) to the proxy, {tunnels} tunnel(s), \
         {at_origin} connection(s) at the origin"
    );
    run.expect((dialled, tunnels, at_origin) == (1, 1, 1), "one connection for three URLs")?;

    // 5. The TLS proxy: TLS to the proxy, CONNECT inside it, TLS to the origin inside that.
    let tls_with_creds = tls_proxy.url_with_credentials(USER, PASSWORD);
    let args = ["-v", "-x", &tls_with_creds, "--proxy-cacert", &ca_file, "--cacert", &ca_file];
    let url = origin.url("/bytes/5");
    let run = step("5. an https:// proxy: TLS inside TLS", &args, &[&url], &mut pasted)?;
    run.expect_code(0)?;
    run.expect(run.out == "abcde", "the body came through")?;
    run.expect(run.err.contains("* TLS with the proxy"), "-v shows the proxy's TLS")?;
    run.expect(tls_proxy.tunnels() == 1, "the TLS proxy opened one tunnel")?;

    // 6. Without the CA the origin's certificate is refused: curl's exit 60.
    let args = ["-x", &with_creds];
    let url = origin.url("/");
    let run = step("6. the CA not trusted: the certificate refused", &args, &[&url], &mut pasted)?;
    run.expect_code(60)?;

    // 7. Debian's tinyproxy and squid, where installed.
    let real = RealProxyOptions {
        basic_auth: Some((USER.into(), REAL_PASSWORD.into())),
        connect_ports: vec![origin.port()],
    };
    type Start = fn(&RealProxyOptions) -> std::result::Result<RealProxy, RealProxyError>;
    for (name, start) in
        [("tinyproxy", RealProxy::tinyproxy as Start), ("squid", RealProxy::squid as Start)]
    {
        match start(&real) {
            Ok(real) => {
                let url_creds = real.url_with_credentials(USER, REAL_PASSWORD);
                let args =
                    ["-x", &url_creds, "--cacert", &ca_file, "-w", r" (CONNECT %{http_connect})\n"];
                let url = origin.url("/bytes/8");
                let run = step(&format!("7. through {name}"), &args, &[&url], &mut Vec::new())?;
                run.expect_code(0)?;
                run.expect(run.out.starts_with("abcdefgh (CONNECT 200)"), "the body came through")?;
            }
            Err(e) => println!("\n== 7. {name}: skipped ({e})"),
        }
    }

    let leaked = origin.seen().iter().any(|r| r.has_header("proxy-authorization"));
    println!(
        "\nthe origin saw {} requests on {} connections; Proxy-Authorization reached it: {leaked}",
        origin.requests(),
        origin.connections()
    );
    if leaked {
        return Err("proxy credentials reached the origin".into());
    }

    println!("\nBy hand, while the servers run (`cargo xtask demo --serve`), with the tool that");
    println!(
        "`cargo build -p ferry-cli` makes (`alias ferry=$PWD/target/debug/ferry` at the root):"
    );
    for line in &pasted {
        println!("  {line}");
    }
    if serve {
        println!("\nserving until Ctrl-C");
        loop {
            std::thread::park();
        }
    }
    Ok(())
}

/// What one in-process run of `ferry` wrote.
struct Run {
    code: i32,
    out: String,
    err: String,
}

impl Run {
    fn expect(&self, ok: bool, what: &str) -> Result {
        if ok {
            println!("   ok: {what}");
            Ok(())
        } else {
            Err(format!("the demo expected: {what}; ferry wrote\n{}\n{}", self.out, self.err)
                .into())
        }
    }

    fn expect_code(&self, code: i32) -> Result {
        self.expect(self.code == code, &format!("exit code {code}"))?;
        for secret in [PASSWORD, "s3cret"] {
            if self.err.contains(secret) || self.out.contains(secret) {
                return Err(format!("ferry showed the proxy password:\n{}", self.err).into());
            }
        }
        Ok(())
    }
}

/// A `Write` into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Prints the step and its command line, runs it, prints what it wrote (stderr's `-v` lines,
/// then stdout indented), and keeps the command line to paste at the end.
fn step(title: &str, args: &[&str], urls: &[&str], pasted: &mut Vec<String>) -> Result<Run> {
    let words: Vec<&str> =
        std::iter::once("ferry").chain(args.iter().copied()).chain(urls.iter().copied()).collect();
    let line = shell_line(&words);
    println!("\n== {title}\n$ {line}");
    pasted.push(line);
    let (out, err) = (Buffer::default(), Buffer::default());
    let sink: Sink = Arc::new(Mutex::new(err.clone()));
    let code = ferry_cli::run(
        words.iter().copied(),
        Io { out: Box::new(out.clone()), err: sink, err_is_terminal: false },
    );
    let run = Run { code, out: out.text(), err: err.text() };
    for line in run.err.lines() {
        println!("   {line}");
    }
    if !run.out.is_empty() {
        println!("   stdout:");
        for line in run.out.lines().take(12) {
            println!("   | {line}");
        }
    }
    println!("   exit code {code}");
    Ok(run)
}

/// Words quoted for a POSIX shell where needed.
fn shell_line(words: &[&str]) -> String {
    let plain = |w: &str| {
        !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b))
    };
    words
        .iter()
        .map(|w| if plain(w) { (*w).to_owned() } else { format!("'{}'", w.replace('\'', r"'\''")) })
        .collect::<Vec<_>>()
        .join(" ")
}
