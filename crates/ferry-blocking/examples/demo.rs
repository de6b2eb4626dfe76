//! `cargo xtask demo`: HTTPS through an authenticating proxy, on this machine alone.
//!
//! It makes a CA and a leaf with rcgen, starts an HTTPS origin and two proxies on 127.0.0.1
//! (one plain, one behind TLS, both asking for Basic credentials), and fetches a page through
//! each with `ferry_blocking::Connection`: a 407 without credentials, then the CONNECT tunnel,
//! then TLS to the origin (inside the proxy's TLS for the second). Where Debian's tinyproxy or
//! squid is installed it goes through them too. Every step is printed; nothing is read from the
//! network beyond loopback.
#![allow(clippy::print_stdout, reason = "a demo reports on stdout")]

use std::error::Error;
use std::io::Read as _;
use std::time::{Duration, Instant};

use ferry_blocking::{Connection, Proxy, Scheme, TlsConfig};
use ferry_test_support::certs::Ca;
use ferry_test_support::origin::Origin;
use ferry_test_support::proxy::{Proxy as TestProxy, ProxyOptions};
use ferry_test_support::real::{RealProxy, RealProxyOptions};

const USER: &str = "demo";
const PASSWORD: &str = "s3cret:p@ss%word";

fn main() -> Result<(), Box<dyn Error>> {
    let ca = Ca::new("ferry demo CA");
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let trust =
        TlsConfig::builder().webpki_roots(false).add_ca_pem(ca.pem().as_bytes())?.build()?;
    let origin = Origin::https(&leaf);
    println!("origin  https://localhost:{} (a leaf signed by a fresh CA)", origin.port());

    let plain = TestProxy::start(ProxyOptions::with_basic_auth(USER, PASSWORD));
    let tls = TestProxy::start(ProxyOptions {
        tls: Some(leaf.clone()),
        ..ProxyOptions::with_basic_auth(USER, PASSWORD)
    });
    println!("proxy   {} (Basic auth)", plain.url());
    println!("proxy   {} (Basic auth, TLS to the proxy: TLS inside TLS)\n", tls.url());

    // Without credentials: the proxy's 407, as a typed error with the phase it failed in.
    let mut conn = connection(origin.port(), &plain.url(), &trust)?;
    match conn.request("GET", "/bytes/5", "", &[]) {
        Err(e) => {
            println!("without credentials: {e}\n  phase {:?}, status {:?}\n", e.phase(), e.status())
        }
        Ok(()) => return Err("the proxy let a request through without credentials".into()),
    }

    for (name, url) in [
        ("plain proxy", plain.url_with_credentials(USER, PASSWORD)),
        ("TLS proxy", tls.url_with_credentials(USER, PASSWORD)),
    ] {
        fetch(name, &mut connection(origin.port(), &url, &trust)?)?;
    }

    let real = RealProxyOptions {
        basic_auth: Some((USER.into(), "s3cret-pw".into())),
        connect_ports: vec![origin.port()],
    };
    type Start =
        fn(&RealProxyOptions) -> Result<RealProxy, ferry_test_support::real::RealProxyError>;
    for (name, start) in
        [("tinyproxy", RealProxy::tinyproxy as Start), ("squid", RealProxy::squid as Start)]
    {
        match start(&real) {
            Ok(proxy) => {
                let url = proxy.url_with_credentials(USER, "s3cret-pw");
                fetch(name, &mut connection(origin.port(), &url, &trust)?)?;
            }
            Err(e) => println!("{name}: skipped ({e})\n"),
        }
    }

    let seen = origin.seen();
    let leaked = seen.iter().any(|r| r.has_header("proxy-authorization"));
    println!(
        "the origin saw {} requests on {} connections; Proxy-Authorization reached it: {leaked}",
        origin.requests(),
        origin.connections()
    );
    println!(
        "the plain proxy opened {} tunnels, refused {} times",
        plain.tunnels(),
        plain.auth_failures()
    );
    if leaked {
        return Err("proxy credentials reached the origin".into());
    }
    Ok(())
}

fn connection(port: u16, proxy: &str, trust: &TlsConfig) -> Result<Connection, Box<dyn Error>> {
    Ok(Connection::builder(Scheme::Https, "localhost", port)?
        .tls(trust.clone())
        .timeout(Duration::from_secs(10))
        .proxy(Proxy::parse(proxy)?)
        .build()?)
}

/// Two requests on one connection: the second reuses the tunnel.
fn fetch(name: &str, conn: &mut Connection) -> Result<(), Box<dyn Error>> {
    for path in ["/echo", "/bytes/26"] {
        let started = Instant::now();
        conn.request("GET", path, "", &[("User-Agent", "ferry-demo")])?;
        let mut response = conn.response()?;
        let mut body = String::new();
        response.read_to_string(&mut body)?;
        let reply = response.proxy_reply().map(|h| format!("{} {}", h.status(), h.reason()));
        println!(
            "{name}: GET {path} -> {} {} in {:?} (CONNECT answered {})",
            response.status(),
            response.reason(),
            started.elapsed(),
            reply.as_deref().unwrap_or("-")
        );
        for line in body.lines().take(8) {
            println!("    | {line}");
        }
    }
    println!();
    Ok(())
}
