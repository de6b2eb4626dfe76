//! The `ferry` binary against ferry-test-support's origin and proxy on 127.0.0.1: each option
//! group, each exit code that can be provoked locally, `-w '%{json}'`, the progress bar's
//! absence when stderr is not a terminal, and credentials masked under `-v`.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;

use assert_cmd::Command;
use ferry_test_support::certs::{Ca, Leaf};
use ferry_test_support::origin::{GZIP_TEXT, Origin, pattern};
use ferry_test_support::proxy::{Proxy, ProxyOptions};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const USER: &str = "demo";
const PASSWORD: &str = "s3cret:p@ss%word";

/// The proxy variables a test's environment might carry: removed, so only what a test sets
/// counts.
const PROXY_VARS: [&str; 9] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "REQUEST_METHOD",
];

fn ferry() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.timeout(std::time::Duration::from_secs(60));
    // Where a stray -O would write: never the source tree.
    cmd.current_dir(env!("CARGO_TARGET_TMPDIR"));
    cmd
}

/// What a run gave: exit code, stdout, stderr.
struct Run {
    code: i32,
    out: Vec<u8>,
    err: String,
}

impl Run {
    fn out(&self) -> String {
        String::from_utf8_lossy(&self.out).into_owned()
    }
}

fn run(cmd: &mut Command) -> Run {
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run ferry: {e}"));
    Run {
        code: output.status.code().unwrap_or(-1),
        out: output.stdout,
        err: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn ferry_run(args: &[&str]) -> Run {
    run(ferry().args(args))
}

/// Asserts the exit code, showing stderr when it differs.
#[track_caller]
fn expect_code(r: &Run, code: i32) {
    assert_eq!(r.code, code, "stderr: {}\nstdout: {}", r.err, r.out());
}

/// An HTTPS origin with a leaf from a fresh CA, and the CA's PEM in a file.
struct Tls {
    _dir: tempfile::TempDir,
    ca_file: String,
    leaf: Leaf,
    ca: Ca,
}

fn tls() -> Tls {
    let ca = Ca::new("ferry-cli test CA");
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap_or_else(|e| panic!("{e}"));
    Tls { ca_file: ca_file.display().to_string(), _dir: dir, leaf, ca }
}

fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    listener.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("{e}"))
}

// ---- requests and responses ------------------------------------------------------------

#[test]
fn get_writes_the_body_to_stdout() {
    let origin = Origin::http();
    let r = ferry_run(&[&origin.url("/bytes/26")]);
    expect_code(&r, 0);
    assert_eq!(r.out, pattern(26));
    assert_eq!(r.err, "", "nothing on stderr without -v");
    let seen = origin.seen();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].header("user-agent"), Some(concat!("ferry/", env!("CARGO_PKG_VERSION"))));
}

#[test]
fn include_and_head() {
    let origin = Origin::http();
    let r = ferry_run(&["-i", &origin.url("/bytes/3")]);
    expect_code(&r, 0);
    let out = r.out();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.to_ascii_lowercase().contains("\r\ncontent-length: 3\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nabc"), "{out}");

    let r = ferry_run(&["-I", &origin.url("/bytes/3")]);
    expect_code(&r, 0);
    let out = r.out();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("\r\n\r\n"), "{out}");
    assert_eq!(origin.seen()[1].method, "HEAD");
}

#[test]
fn method_and_headers() {
    let origin = Origin::http();
    let r = ferry_run(&[
        "-X",
        "PUT",
        "-H",
        "X-One: 1",
        "-H",
        "X-Empty;",
        "-A",
        "agent/7",
        &origin.url("/echo"),
    ]);
    expect_code(&r, 0);
    let seen = &origin.seen()[0];
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.header("x-one"), Some("1"));
    assert_eq!(seen.header("x-empty"), Some(""));
    assert_eq!(seen.header("user-agent"), Some("agent/7"));
    assert!(r.out().starts_with("PUT /echo HTTP/1.1\r\n"), "{}", r.out());
}

#[test]
fn a_user_agent_header_replaces_the_default() {
    let origin = Origin::http();
    expect_code(&ferry_run(&["-H", "User-Agent: by-header", &origin.url("/echo")]), 0);
    assert_eq!(origin.seen()[0].header_all("user-agent"), ["by-header"]);
}

#[test]
fn data_posts_a_form() -> Result {
    let origin = Origin::http();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("form");
    std::fs::write(&file, "c=3\n")?;
    let at = format!("@{}", file.display());
    let r = ferry_run(&["-d", "a=1", "-d", "b=2", "-d", &at, &origin.url("/echo")]);
    expect_code(&r, 0);
    let seen = &origin.seen()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(seen.body, b"a=1&b=2&c=3");

    let r = ferry_run(&["--data-binary", &at, &origin.url("/echo")]);
    expect_code(&r, 0);
    assert_eq!(origin.seen()[1].body, b"c=3\n", "--data-binary keeps the newline");

    let r = ferry_run(&["-d", "@/nonexistent/ferry-cli-data", &origin.url("/echo")]);
    expect_code(&r, 26);
    assert!(r.err.starts_with("ferry: (26) "), "{}", r.err);
    Ok(())
}

#[test]
fn get_sends_data_as_the_query() {
    let origin = Origin::http();
    expect_code(&ferry_run(&["-G", "-d", "a=1", "-d", "b=2", &origin.url("/echo")]), 0);
    let seen = &origin.seen()[0];
    assert_eq!((seen.method.as_str(), seen.target.as_str()), ("GET", "/echo?a=1&b=2"));
    assert!(seen.body.is_empty());
}

#[test]
fn json_sets_content_type_and_accept() {
    let origin = Origin::http();
    let r = ferry_run(&["--json", r#"{"name":"#, "--json", r#""ferry"}"#, &origin.url("/echo")]);
    expect_code(&r, 0);
    let seen = &origin.seen()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(seen.body, br#"{"name":"ferry"}"#);
}

#[test]
fn user_sends_basic_credentials() {
    let origin = Origin::http();
    let r = ferry_run(&["-u", "alice:wonder", &origin.url("/basic-auth/alice/wonder")]);
    expect_code(&r, 0);
    assert_eq!(r.out(), "authenticated alice\n");
    let r = ferry_run(&["-f", "-u", "alice:wrong", &origin.url("/basic-auth/alice/wonder")]);
    expect_code(&r, 22);
}

#[test]
fn compressed_decodes_and_without_it_bytes_come_as_sent() {
    let origin = Origin::http();
    let r = ferry_run(&["--compressed", &origin.url("/gzip")]);
    expect_code(&r, 0);
    assert_eq!(r.out(), GZIP_TEXT);
    let r = ferry_run(&[&origin.url("/gzip")]);
    expect_code(&r, 0);
    assert_eq!(&r.out[..2], [0x1f, 0x8b], "the gzip bytes, undecoded, as curl writes them");
}

// ---- redirects and --fail ----------------------------------------------------------------

#[test]
fn location_follows_redirects_and_max_redirs_limits_them() {
    let origin = Origin::http();
    let r = ferry_run(&[&origin.url("/redirect/2")]);
    expect_code(&r, 0);
    assert_eq!(r.out(), "redirecting to /redirect/1\n", "not followed without -L");

    let r =
        ferry_run(&["-L", "-w", "%{num_redirects} %{url_effective}", &origin.url("/redirect/2")]);
    expect_code(&r, 0);
    let out = r.out();
    assert!(out.starts_with("GET /echo HTTP/1.1\r\n"), "{out}");
    assert!(out.ends_with(&format!("2 {}", origin.url("/echo"))), "{out}");

    let r = ferry_run(&["-L", "--max-redirs", "1", &origin.url("/redirect/3")]);
    expect_code(&r, 47);
    assert!(r.err.starts_with("ferry: (47) "), "{}", r.err);
}

#[test]
fn fail_exits_22_without_the_body() {
    let origin = Origin::http();
    let r = ferry_run(&["-f", &origin.url("/status/404")]);
    expect_code(&r, 22);
    assert!(r.out.is_empty(), "no body with -f: {}", r.out());
    assert_eq!(r.err.trim_end(), "ferry: (22) the requested URL returned error: 404");
    let r = ferry_run(&["-fs", &origin.url("/status/500")]);
    expect_code(&r, 22);
    assert_eq!(r.err, "", "-s hides the message");
    let r = ferry_run(&["-fsS", &origin.url("/status/500")]);
    assert!(r.err.starts_with("ferry: (22) "), "-S shows it again: {}", r.err);
    let r = ferry_run(&[&origin.url("/status/404")]);
    expect_code(&r, 0);
    assert_eq!(r.out(), "status 404\n", "without -f a 404 is a transfer like another");
}

// ---- outputs ------------------------------------------------------------------------------

#[test]
fn outputs_pair_with_urls_and_remote_name_uses_the_last_segment() -> Result {
    let origin = Origin::http();
    let dir = tempfile::tempdir()?;
    let a = dir.path().join("a");
    let r = run(ferry().current_dir(dir.path()).args([
        "-o",
        &a.display().to_string(),
        &origin.url("/bytes/5"),
        "-O",
        &origin.url("/bytes/7"),
        &origin.url("/bytes/2"),
    ]));
    expect_code(&r, 0);
    assert_eq!(std::fs::read(&a)?, pattern(5));
    assert_eq!(std::fs::read(dir.path().join("7"))?, pattern(7));
    assert_eq!(r.out, pattern(2), "the third URL has no output: stdout");
    assert_eq!(r.err, "", "no progress bar when stderr is not a terminal");
    assert_eq!(origin.connections(), 1, "three URLs, one connection");
    Ok(())
}

#[test]
fn remote_name_without_a_file_name_fails() {
    let origin = Origin::http();
    let r = ferry_run(&["-O", &origin.url("/")]);
    expect_code(&r, 23);
}

#[test]
fn several_urls_reuse_one_connection_and_write_out_once_each() {
    let origin = Origin::http();
    let r = ferry_run(&[
        "-w",
        r"%{http_code} %{num_connects}\n",
        "-o",
        "/dev/null",
        &origin.url("/bytes/3"),
        "-o",
        "/dev/null",
        &origin.url("/status/201"),
    ]);
    expect_code(&r, 0);
    assert_eq!(r.out(), "200 1\n201 0\n");
    assert_eq!(origin.connections(), 1);
}

// ---- -w -----------------------------------------------------------------------------------

#[test]
fn write_out_json_parses_with_every_variable() -> Result {
    let origin = Origin::http();
    let url = origin.url("/bytes/26");
    let r = ferry_run(&["-s", "-o", "/dev/null", "-w", "%{json}", &url]);
    expect_code(&r, 0);
    let v: serde_json::Value = serde_json::from_slice(&r.out)?;
    assert_eq!(v["http_code"], 200);
    assert_eq!(v["response_code"], 200);
    assert_eq!(v["http_connect"], 0);
    assert_eq!(v["num_connects"], 1);
    assert_eq!(v["remote_ip"], "127.0.0.1");
    assert_eq!(v["remote_port"], origin.port());
    assert_eq!(v["size_download"], 26);
    assert_eq!(v["url_effective"], url.as_str());
    assert_eq!(v["exitcode"], 0);
    assert_eq!(v["errormsg"], serde_json::Value::Null);
    assert_eq!(v["method"], "GET");
    let secs = |name: &str| v[name].as_f64().unwrap_or(-1.0);
    for name in
        ["time_namelookup", "time_connect", "time_appconnect", "time_starttransfer", "time_total"]
    {
        assert!(secs(name) >= 0.0, "{name}: {}", v[name]);
    }
    assert!(secs("time_connect") <= secs("time_total"));
    Ok(())
}

#[test]
fn write_out_reports_a_failure() -> Result {
    let port = closed_port();
    let r = ferry_run(&["-s", "-w", "%{json}", &format!("http://127.0.0.1:{port}/")]);
    expect_code(&r, 7);
    let v: serde_json::Value = serde_json::from_slice(&r.out)?;
    assert_eq!(v["exitcode"], 7);
    assert_eq!(v["http_code"], 0);
    assert!(v["errormsg"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    let r = ferry_run(&[
        "-s",
        "-w",
        r"%{http_code}:%{exitcode}\n",
        &format!("http://127.0.0.1:{port}/"),
    ]);
    assert_eq!(r.out(), "000:7\n");
    Ok(())
}

// ---- TLS ----------------------------------------------------------------------------------

#[test]
fn cacert_trusts_insecure_skips_and_an_unknown_ca_is_60() {
    let t = tls();
    let origin = Origin::https(&t.leaf);
    let url = origin.url("/bytes/4");
    let r = ferry_run(&["--cacert", &t.ca_file, "-w", "%{time_appconnect}", &url]);
    expect_code(&r, 0);
    assert!(r.out().starts_with("abcd"), "{}", r.out());
    assert_ne!(&r.out()[4..], "0.000000", "a TLS handshake was timed");

    let r = ferry_run(&[&url]);
    expect_code(&r, 60);
    assert!(r.err.starts_with("ferry: (60) "), "{}", r.err);
    let r = ferry_run(&["-k", &url]);
    expect_code(&r, 0);
    assert_eq!(r.out(), "abcd");
}

#[test]
fn a_client_certificate_is_read_and_a_missing_one_is_an_error() -> Result {
    let t = tls();
    let origin = Origin::https(&t.leaf);
    let client = t.ca.client_leaf("ferry-cli client");
    let dir = tempfile::tempdir()?;
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert, client.cert_pem())?;
    std::fs::write(&key, client.key_pem())?;
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let r = ferry_run(&[
        "--cacert",
        &t.ca_file,
        "--cert",
        &cert,
        "--key",
        &key,
        &origin.url("/bytes/1"),
    ]);
    expect_code(&r, 0);
    let r = ferry_run(&["--cacert", &t.ca_file, "--cert", "/nonexistent/c.pem", &origin.url("/")]);
    expect_code(&r, 26);
    Ok(())
}

#[test]
fn a_plain_http_answer_to_the_client_hello_is_a_handshake_failure_35() {
    let origin = Origin::raw(|mut s| {
        let mut buf = [0; 4096];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let url = format!("https://127.0.0.1:{}/", origin.port());
    let r = ferry_run(&["-k", &url]);
    expect_code(&r, 35);
}

// ---- proxies ------------------------------------------------------------------------------

#[test]
fn a_tunnel_with_credentials_in_the_proxy_url() {
    let t = tls();
    let origin = Origin::https(&t.leaf);
    let proxy = Proxy::start(ProxyOptions::with_basic_auth(USER, PASSWORD));
    let r = ferry_run(&[
        "-x",
        &proxy.url_with_credentials(USER, PASSWORD),
        "--cacert",
        &t.ca_file,
        "-w",
        "|%{http_code} %{http_connect}",
        &origin.url("/bytes/3"),
    ]);
    expect_code(&r, 0);
    assert_eq!(r.out(), "abc|200 200");
    assert_eq!(proxy.tunnels(), 1);
    assert!(!origin.seen().iter().any(|s| s.has_header("proxy-authorization")));
}

#[test]
fn without_credentials_the_proxy_refuses_with_56_and_http_connect_407() {
    let t = tls();
    let origin = Origin::https(&t.leaf);
    let proxy = Proxy::start(ProxyOptions::with_basic_auth(USER, PASSWORD));
    let r = ferry_run(&[
        "-x",
        &proxy.url(),
        "--cacert",
        &t.ca_file,
        "-w",
        "%{http_connect}",
        &origin.url("/"),
    ]);
    expect_code(&r, 56);
    assert_eq!(r.out(), "407");
    assert_eq!(origin.connections(), 0);
    let r = ferry_run(&["-v", "-x", &proxy.url(), "--cacert", &t.ca_file, &origin.url("/")]);
    expect_code(&r, 56);
    assert!(r.err.contains("< HTTP/1.1 407 Proxy Authentication Required\n"), "{}", r.err);
    assert!(r.err.contains("< Proxy-Authenticate: Basic"), "{}", r.err);
}

#[test]
fn proxy_user_and_proxy_header() {
    let t = tls();
    let origin = Origin::https(&t.leaf);
    let proxy = Proxy::start(ProxyOptions::with_basic_auth(USER, PASSWORD));
    let r = ferry_run(&[
        "-x",
        &proxy.url(),
        "-U",
        &format!("{USER}:{PASSWORD}"),
        "--proxy-header",
        "X-Proxy-Note: hello",
        "--cacert",
        &t.ca_file,
        &origin.url("/bytes/2"),
    ]);
    expect_code(&r, 0);
    assert_eq!(r.out(), "ab");
    let connects: Vec<_> = proxy.seen().into_iter().filter(|s| s.method == "CONNECT").collect();
    assert!(connects.iter().any(|c| c.header("x-proxy-note") == Some("hello")), "{connects:?}");
    assert!(!origin.seen().iter().any(|s| s.has_header("x-proxy-note")), "CONNECT only");
}

#[test]
fn plain_http_is_forwarded_and_proxytunnel_makes_it_connect() {
    let origin = Origin::http();
    let proxy = Proxy::start(ProxyOptions::default());
    let url = origin.url("/bytes/3");
    expect_code(&ferry_run(&["-x", &proxy.url(), &url]), 0);
    assert_eq!((proxy.forwarded(), proxy.connects()), (1, 0));
    expect_code(&ferry_run(&["-p", "-x", &proxy.url(), &url]), 0);
    assert_eq!((proxy.forwarded(), proxy.connects()), (1, 1));
}

#[test]
fn noproxy_goes_direct() {
    let origin = Origin::http();
    let proxy = Proxy::start(ProxyOptions::default());
    let r = ferry_run(&["-x", &proxy.url(), "--noproxy", "127.0.0.1", &origin.url("/bytes/1")]);
    expect_code(&r, 0);
    assert_eq!(proxy.connections(), 0);
    assert_eq!(origin.connections(), 1);
}

#[test]
fn an_https_proxy_with_its_own_ca_or_insecure() {
    let t = tls();
    let origin = Origin::https(&t.leaf);
    let other = Ca::new("proxy CA");
    let proxy = Proxy::start(ProxyOptions {
        tls: Some(other.leaf(&["localhost", "127.0.0.1"])),
        ..ProxyOptions::default()
    });
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let proxy_ca = dir.path().join("proxy-ca.pem");
    std::fs::write(&proxy_ca, other.pem()).unwrap_or_else(|e| panic!("{e}"));
    let base = ["-x", &proxy.url(), "--cacert", &t.ca_file];
    let url = origin.url("/bytes/2");
    let with = |extra: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        args.push(&url);
        ferry_run(&args)
    };
    expect_code(&with(&[]), 60);
    let r = with(&["--proxy-cacert", &proxy_ca.display().to_string()]);
    expect_code(&r, 0);
    assert_eq!(r.out(), "ab");
    expect_code(&with(&["--proxy-insecure"]), 0);
    assert_eq!(proxy.tunnels(), 2);
}

#[test]
fn environment_proxies_as_curl_reads_them() {
    let origin = Origin::http();
    let proxy = Proxy::start(ProxyOptions::default());
    let url = origin.url("/bytes/1");
    let r = run(ferry().env("http_proxy", proxy.url()).args(["-v", &url]));
    expect_code(&r, 0);
    assert_eq!(proxy.forwarded(), 1);
    assert!(r.err.contains("http_proxy"), "-v names the variable: {}", r.err);

    // curl never reads upper-case HTTP_PROXY (httpoxy).
    expect_code(&run(ferry().env("HTTP_PROXY", proxy.url()).arg(&url)), 0);
    assert_eq!(proxy.forwarded(), 1);
    // NO_PROXY, and an empty -x, turn the environment's proxy off.
    expect_code(
        &run(ferry().env("http_proxy", proxy.url()).env("NO_PROXY", "127.0.0.1").arg(&url)),
        0,
    );
    expect_code(&run(ferry().env("http_proxy", proxy.url()).args(["-x", "", &url])), 0);
    assert_eq!(proxy.forwarded(), 1);
    assert_eq!(origin.connections(), 4);
}

// ---- -v -----------------------------------------------------------------------------------

#[test]
fn verbose_shows_the_exchange_with_credentials_masked() {
    let t = tls();
    let origin = Origin::https(&t.leaf);
    let proxy = Proxy::start(ProxyOptions::with_basic_auth(USER, PASSWORD));
    let r = ferry_run(&[
        "-v",
        "-x",
        &proxy.url_with_credentials(USER, PASSWORD),
        "-u",
        "alice:origin-secret",
        "--cacert",
        &t.ca_file,
        &origin.url("/echo"),
    ]);
    expect_code(&r, 0);
    let err = &r.err;
    for expected in ["* Proxy", "* Connected to", "< HTTP/1.1 200", "> GET /echo HTTP/1.1", "* TLS"]
    {
        assert!(err.contains(expected), "{expected:?} missing from:\n{err}");
    }
    for secret in [PASSWORD, "s3cret", "origin-secret", "YWxpY2U6b3JpZ2luLXNlY3JldA=="] {
        assert!(!err.contains(secret), "{secret:?} shown by -v:\n{err}");
    }
    assert!(!r.out().contains("Proxy-Authorization"), "the origin never saw it");
}

#[test]
fn verbose_shows_the_cause_chain_of_an_error() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}/");
    let quiet = ferry_run(&[&url]);
    expect_code(&quiet, 7);
    assert_eq!(quiet.err.lines().count(), 1, "one line: {}", quiet.err);
    let loud = ferry_run(&["-v", &url]);
    expect_code(&loud, 7);
    assert!(loud.err.contains("ferry: (7) "), "{}", loud.err);
    assert!(loud.err.contains("caused by"), "the chain under -v: {}", loud.err);
}

// ---- exit codes ---------------------------------------------------------------------------

#[test]
fn exit_6_for_an_unresolvable_host_and_5_for_an_unresolvable_proxy() {
    let r = ferry_run(&["http://no-such-host.invalid/"]);
    expect_code(&r, 6);
    let origin = Origin::http();
    let r = ferry_run(&["-x", "http://no-such-proxy.invalid:3128", &origin.url("/")]);
    expect_code(&r, 5);
}

#[test]
fn exit_7_for_a_closed_port() {
    let r = ferry_run(&[&format!("http://127.0.0.1:{}/", closed_port())]);
    expect_code(&r, 7);
    assert!(r.err.starts_with("ferry: (7) "), "{}", r.err);
}

#[test]
fn exit_28_when_max_time_passes() {
    let origin = Origin::http();
    let r = ferry_run(&["-m", "0.5", &origin.url("/slow/5000")]);
    expect_code(&r, 28);
}

#[test]
fn exit_52_for_an_empty_reply() {
    let origin = Origin::raw(|mut s| {
        let mut buf = [0; 4096];
        let _ = s.read(&mut buf);
    });
    let r = ferry_run(&[&origin.url("/")]);
    expect_code(&r, 52);
}

#[test]
fn exit_56_for_a_body_cut_short() {
    let origin = Origin::raw(|mut s| {
        let mut buf = [0; 4096];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
    });
    let r = ferry_run(&[&origin.url("/")]);
    expect_code(&r, 56);
}

#[test]
fn usage_errors_are_2_and_bad_urls_3() {
    expect_code(&ferry_run(&["--no-such-option", "http://x/"]), 2);
    expect_code(&ferry_run(&[]), 2);
    expect_code(&ferry_run(&["http://bad host/"]), 3);
    expect_code(&ferry_run(&["ftp://127.0.0.1/"]), 1);
    let help = ferry_run(&["--help"]);
    expect_code(&help, 0);
    assert!(help.out().contains("--proxytunnel"));
}

#[test]
fn the_last_failure_is_the_exit_code_and_later_urls_still_run() {
    let origin = Origin::http();
    let r = ferry_run(&[
        "-s",
        &format!("http://127.0.0.1:{}/", closed_port()),
        &origin.url("/bytes/2"),
    ]);
    expect_code(&r, 7);
    assert_eq!(r.out(), "ab");
}

// ---- the progress bar, more -i and -w ---------------------------------------------------

/// Runs ferry under `script`, which gives it a terminal for stdin, stdout and stderr, and
/// returns what the terminal showed; `None` (with a printed reason) without `script`.
fn on_a_terminal(args: &[&str]) -> Option<String> {
    let script = ["/usr/bin/script", "/bin/script"].into_iter().find(|p| Path::new(p).exists());
    let Some(script) = script else {
        eprintln!("skipped: no `script` (util-linux) to give ferry a terminal");
        return None;
    };
    let quote = |w: &str| format!("'{}'", w.replace('\'', r"'\''"));
    let line = std::iter::once(env!("CARGO_BIN_EXE_ferry"))
        .chain(args.iter().copied())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = std::process::Command::new(script);
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.env("TERM", "xterm").args(["-qefc", &line, "/dev/null"]);
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run script: {e}"));
    if !output.status.success() {
        // No pseudo-terminal here (or ferry failed: the callers check the file it wrote).
        eprintln!("skipped: script failed: {output:?}");
        return None;
    }
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn the_progress_bar_shows_on_a_terminal_only_for_files_and_not_with_silent() -> Result {
    let origin = Origin::http();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("big");
    let file = file.display().to_string();
    let url = origin.url("/bytes/2000000");
    let Some(shown) = on_a_terminal(&["-o", &file, &url]) else {
        assert!(!Path::new(&file).exists() || std::fs::read(&file)?.len() == 2_000_000);
        return Ok(());
    };
    assert!(shown.contains("ETA") && shown.contains("MiB"), "a bar with size and ETA: {shown:?}");
    assert_eq!(std::fs::read(&file)?.len(), 2_000_000);
    let silent = on_a_terminal(&["-s", "-o", &file, &url]).unwrap_or_default();
    assert!(!silent.contains("ETA"), "-s: no bar: {silent:?}");
    let to_stdout = on_a_terminal(&[&origin.url("/bytes/100")]).unwrap_or_default();
    assert!(!to_stdout.contains("ETA"), "no file, no bar: {to_stdout:?}");
    Ok(())
}

#[test]
fn include_through_a_tunnel_shows_the_connect_reply_first() {
    let t = tls();
    let origin = Origin::https(&t.leaf);
    let proxy = Proxy::start(ProxyOptions::default());
    let r = ferry_run(&["-i", "-x", &proxy.url(), "--cacert", &t.ca_file, &origin.url("/bytes/2")]);
    expect_code(&r, 0);
    let out = r.out();
    assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    let second = out.find("\r\n\r\nHTTP/1.1 200 OK\r\n");
    assert!(second.is_some(), "the CONNECT reply, then the origin's head: {out}");
    assert!(out.ends_with("\r\n\r\nab"), "{out}");
}

#[test]
fn write_out_from_a_file_and_to_stderr() -> Result {
    let origin = Origin::http();
    let dir = tempfile::tempdir()?;
    let format = dir.path().join("format");
    std::fs::write(&format, r"code %{http_code}%{stderr}size %{size_download}\n")?;
    let at = format!("@{}", format.display());
    let r = ferry_run(&["-o", "/dev/null", "-w", &at, &origin.url("/bytes/9")]);
    expect_code(&r, 0);
    assert_eq!((r.out().as_str(), r.err.as_str()), ("code 200", "size 9\n"));
    let r = ferry_run(&["-o", "/dev/null", "-w", "%{nonsense}", &origin.url("/bytes/9")]);
    expect_code(&r, 0);
    assert!(r.err.contains("unknown --write-out variable: 'nonsense'"), "{}", r.err);
    Ok(())
}

#[test]
fn connect_timeout_is_taken_and_a_bad_one_is_a_usage_error() {
    let origin = Origin::http();
    let r = ferry_run(&["--connect-timeout", "2.5", "-m", "30", &origin.url("/bytes/1")]);
    expect_code(&r, 0);
    expect_code(&ferry_run(&["--connect-timeout", "soon", &origin.url("/")]), 2);
}

#[test]
fn a_header_replaces_the_clients_default_of_that_name() {
    let origin = Origin::http();
    expect_code(&ferry_run(&["-H", "Accept: text/html", &origin.url("/echo")]), 0);
    assert_eq!(origin.seen()[0].header_all("accept"), ["text/html"]);
}

#[test]
fn proxy_user_and_proxytunnel_apply_to_a_proxy_from_the_environment() {
    let t = tls();
    let origin = Origin::https(&t.leaf);
    let proxy = Proxy::start(ProxyOptions::with_basic_auth(USER, PASSWORD));
    let url = origin.url("/bytes/2");
    let creds = format!("{USER}:{PASSWORD}");
    let r = run(ferry()
        .env("https_proxy", proxy.url())
        .args(["-U", &creds, "--cacert", &t.ca_file, &url]));
    expect_code(&r, 0);
    assert_eq!((r.out().as_str(), proxy.tunnels()), ("ab", 1));

    let plain = Origin::http();
    let open = Proxy::start(ProxyOptions::default());
    let env = |cmd: &mut Command| {
        cmd.env("http_proxy", open.url()).env("no_proxy", "example.invalid");
    };
    let mut cmd = ferry();
    env(&mut cmd);
    expect_code(&run(cmd.args(["-p", &plain.url("/bytes/1")])), 0);
    assert_eq!((open.connects(), open.forwarded()), (1, 0), "-p: CONNECT for http:// too");
    let mut cmd = ferry();
    env(&mut cmd);
    cmd.env("no_proxy", "127.0.0.1");
    expect_code(&run(cmd.args(["-p", &plain.url("/bytes/1")])), 0);
    assert_eq!(open.connections(), 1, "NO_PROXY still applies");
}

#[test]
fn data_from_standard_input() {
    let origin = Origin::http();
    let r =
        run(ferry().args(["--data-binary", "@-", &origin.url("/echo")]).write_stdin("from\nstdin"));
    expect_code(&r, 0);
    assert_eq!(origin.seen()[0].body, b"from\nstdin");
}

#[test]
fn exit_28_when_the_connect_timeout_passes_in_a_silent_tls_handshake() {
    // --connect-timeout covers the TLS handshakes: a server that accepts and never answers
    // the ClientHello runs it out.
    let origin = Origin::raw(|mut s| {
        let mut buf = [0; 4096];
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    });
    let url = format!("https://127.0.0.1:{}/", origin.port());
    let r = ferry_run(&["-k", "--connect-timeout", "0.5", &url]);
    expect_code(&r, 28);
}
