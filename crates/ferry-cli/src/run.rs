//! The transfers: the options made into one `Client`, each URL sent through it, the response
//! written, and each error given curl's exit code. Every call into `ferry_blocking`'s `Client`
//! is in this module.

use std::fs::File;
use std::io::{self, BufWriter, Read as _, Write};
use std::time::{Duration, Instant};

use ferry_blocking::{Client, Error, Phase, Proxy, ProxyMode, Response, TlsConfig};
use ferry_proto::proxy::{EnvProxies, Proxies, ProxyKey};
use ferry_proto::{ErrorKind as HttpKind, Expected, Scheme, Url, UrlError, Version};

use crate::args::{self, Args, Cli, Data, Output};
use crate::exit::{self, Failure};
use crate::writeout::{self, Transfer};
use crate::{Io, lock, report};

/// The `User-Agent` sent unless `-A` or `-H` says otherwise.
const USER_AGENT: &str = concat!("ferry/", env!("CARGO_PKG_VERSION"));

/// curl's default limit of redirects followed with `-L`.
const DEFAULT_MAX_REDIRS: u32 = 50;

/// Runs every transfer; the exit code is the last failure's, or 0.
pub(crate) fn all(args: &Args, io: &mut Io) -> u8 {
    let prepared = client(&args.cli).and_then(|c| Ok((c, args.cli.data()?)));
    let (client, data) = match prepared {
        Ok(prepared) => prepared,
        Err(failure) => {
            report(&failure, args, &io.err);
            return failure.code;
        }
    };
    let mut code = 0;
    for (urlnum, (url, output)) in args.cli.urls.iter().zip(&args.outputs).enumerate() {
        let (transfer, failure) = one(&client, args, urlnum, url, output, data.as_ref(), io);
        if let Some(format) = &args.cli.write_out {
            let format = match read_format(format) {
                Ok(format) => format,
                Err(failure) => {
                    report(&failure, args, &io.err);
                    return failure.code;
                }
            };
            let mut err = lock(&io.err);
            if let Err(e) = writeout::write(&format, &transfer, &mut io.out, &mut *err) {
                drop(err);
                let failure = Failure::new(exit::WRITE_ERROR, format!("writing --write-out: {e}"));
                report(&failure, args, &io.err);
                return failure.code;
            }
        }
        if let Some(failure) = failure {
            report(&failure, args, &io.err);
            code = failure.code;
        }
    }
    code
}

/// `-w @file` reads the format from a file (`@-`: standard input), as curl does.
fn read_format(format: &str) -> Result<String, Failure> {
    match format.strip_prefix('@') {
        Some("-") => {
            let mut s = String::new();
            io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Failure::new(exit::READ_ERROR, format!("reading -w @-: {e}")))?;
            Ok(s)
        }
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Failure::new(exit::READ_ERROR, format!("reading -w @{path}: {e}"))),
        None => Ok(format.to_owned()),
    }
}

/// The client the options describe.
fn client(cli: &Cli) -> Result<Client, Failure> {
    let redirects = match (cli.location, cli.max_redirs) {
        (false, _) => 0,
        (true, None) => DEFAULT_MAX_REDIRS,
        (true, Some(n)) if n < 0 => u32::MAX,
        (true, Some(n)) => u32::try_from(n).unwrap_or(u32::MAX),
    };
    let mut b = Client::builder().redirects(redirects).decompress(cli.compressed);
    let header_sets_agent = cli.headers.iter().any(|h| {
        h.split([':', ';']).next().is_some_and(|n| n.trim().eq_ignore_ascii_case("user-agent"))
    });
    if !header_sets_agent {
        b = b.user_agent(cli.user_agent.as_deref().unwrap_or(USER_AGENT));
    }
    if let Some(tls) =
        tls(cli.cacert.as_deref(), cli.insecure, cli.cert.as_deref(), cli.key.as_deref())?
    {
        b = b.tls(tls);
    }
    if let Some(tls) = tls(cli.proxy_cacert.as_deref(), cli.proxy_insecure, None, None)? {
        b = b.proxy_tls(tls);
    }
    match &cli.proxy {
        // An empty -x "" means no proxy at all, the environment's included (curl).
        Some(p) if p.trim().is_empty() => b = b.env_proxies(false),
        Some(p) => {
            let mut proxy = Proxy::parse(p).map_err(|e| {
                Failure::from_error(5, &e).prefixed("the proxy URL given to -x is not valid")
            })?;
            if let Some(user) = &cli.proxy_user {
                let (user, pass) = args::credentials(user);
                proxy = proxy.basic_auth(user, pass);
            }
            if cli.proxytunnel {
                proxy = proxy.with_mode(ProxyMode::Tunnel);
            }
            b = b.proxy(proxy);
        }
        None => match env_with_options(&curl_env(), cli) {
            Some(proxies) => b = b.env_proxies(false).proxies(proxies),
            None => b = b.env(curl_env()),
        },
    }
    if let Some(list) = &cli.noproxy {
        b = b.no_proxy(list);
    }
    for line in &cli.proxy_headers {
        if let (name, Some(value)) = args::header_line(line)? {
            b = b.proxy_header(&name, &value);
        }
    }
    if let Some(t) = cli.connect_timeout {
        b = b.connect_timeout(t);
    }
    if let Some(t) = cli.max_time {
        b = b.timeout(t);
    }
    b.build().map_err(|e| Failure::from_error(code_of(&e), &e))
}

/// The proxy variables as curl reads them: upper-case `HTTP_PROXY` is never used (only
/// `http_proxy`), the others in either case.
fn curl_env() -> EnvProxies {
    EnvProxies::from_vars(std::env::vars().filter(|(name, _)| name != "HTTP_PROXY"))
}

/// The environment's proxies with `-U`'s credentials and `-p`'s tunnel mode on them, as curl
/// applies both to a proxy from the environment; `None` when neither option is given or a
/// variable does not parse (the client then reports it).
fn env_with_options(env: &EnvProxies, cli: &Cli) -> Option<Proxies> {
    if cli.proxy_user.is_none() && !cli.proxytunnel {
        return None;
    }
    let mut proxies = Proxies::new();
    for scheme in [Scheme::Http, Scheme::Https] {
        let Some((_, proxy)) = env.proxy_for_scheme(scheme) else { continue };
        let mut proxy = proxy.ok()?.clone();
        if let Some(user) = &cli.proxy_user {
            let (user, pass) = args::credentials(user);
            proxy = proxy.basic_auth(user, pass);
        }
        if cli.proxytunnel {
            proxy = proxy.with_mode(ProxyMode::Tunnel);
        }
        proxies = proxies.with(ProxyKey::for_scheme(scheme), Some(proxy));
    }
    if let Some((_, list)) = env.no_proxy() {
        proxies = proxies.with_no_proxy(list.clone());
    }
    Some(proxies)
}

/// A TLS configuration when any option asks for one; `None` keeps the client's default.
fn tls(
    cacert: Option<&std::path::Path>,
    insecure: bool,
    cert: Option<&std::path::Path>,
    key: Option<&std::path::Path>,
) -> Result<Option<TlsConfig>, Failure> {
    if cacert.is_none() && !insecure && cert.is_none() {
        return Ok(None);
    }
    let bad = |what: &str, e: &ferry_tls::Error| {
        Failure::from_error(exit::READ_ERROR, e).prefixed(&format!("cannot use {what}"))
    };
    let mut b = TlsConfig::builder();
    if let Some(ca) = cacert {
        // --cacert replaces the built-in roots, as curl's does.
        b = b
            .webpki_roots(false)
            .native_roots(false)
            .add_ca_pem_file(ca)
            .map_err(|e| bad(&format!("the CA file {}", ca.display()), &e))?;
    }
    if let Some(cert) = cert {
        b = b
            .client_cert_pem_files(cert, key.unwrap_or(cert))
            .map_err(|e| bad(&format!("the client certificate {}", cert.display()), &e))?;
    }
    if insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build().map(Some).map_err(|e| Failure::from_error(35, &e))
}

/// One URL: the request sent, the response written; what `-w` reports and the failure.
fn one(
    client: &Client,
    args: &Args,
    urlnum: usize,
    url: &str,
    output: &Output,
    data: Option<&Data>,
    io: &mut Io,
) -> (Transfer, Option<Failure>) {
    let cli = &args.cli;
    let started = Instant::now();
    let connections_before = client.connections_opened();
    let method = cli.method(data.is_some());
    let mut t = Transfer {
        url: url.to_owned(),
        url_effective: url.to_owned(),
        urlnum,
        method: method.clone(),
        ..Transfer::default()
    };
    let result = exchange(client, cli, url, &method, output, data, io, &mut t);
    t.num_connects = client.connections_opened().saturating_sub(connections_before);
    t.time_total = started.elapsed().as_secs_f64();
    let failure = result.err();
    if let Some(f) = &failure {
        t.exitcode = f.code;
        t.errormsg = Some(f.message.clone());
    }
    (t, failure)
}

/// Sends the request and writes the response, filling `t` as it goes.
#[allow(clippy::too_many_arguments, reason = "one transfer's whole context, used once")]
fn exchange(
    client: &Client,
    cli: &Cli,
    url: &str,
    method: &str,
    output: &Output,
    data: Option<&Data>,
    io: &mut Io,
    t: &mut Transfer,
) -> Result<(), Failure> {
    let mut target = url.to_owned();
    if cli.get {
        if let Some(data) = data {
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str(&String::from_utf8_lossy(&data.bytes));
        }
    }
    let parsed = Url::parse(&target).map_err(|e| {
        let code = match e.kind() {
            HttpKind::InvalidUrl { what: UrlError::UnsupportedScheme, .. } => 1,
            _ => exit::BAD_URL,
        };
        Failure::from_error(code, &e).prefixed(&format!("bad URL {target:?}"))
    })?;
    t.scheme = parsed.scheme().as_str().to_ascii_uppercase();

    let mut request = client.request(method, &target);
    let has = |name: &str| {
        cli.headers.iter().any(|h| {
            h.split([':', ';']).next().is_some_and(|n| n.trim().eq_ignore_ascii_case(name))
        })
    };
    if let Some(user) = &cli.user {
        let (user, pass) = args::credentials(user);
        request = request.basic_auth(&user, Some(&pass));
    }
    if let Some(data) = data.filter(|_| !cli.get) {
        if data.json {
            if !has("content-type") {
                request = request.header("Content-Type", "application/json");
            }
            if !has("accept") {
                request = request.header("Accept", "application/json");
            }
        } else if !has("content-type") {
            request = request.header("Content-Type", "application/x-www-form-urlencoded");
        }
        t.size_upload = data.bytes.len() as u64;
        request = request.body(data.bytes.clone());
    }
    for line in &cli.headers {
        // `Name:` (no value) removes a field in curl; the Client has no removal, so the field
        // is simply not added.
        if let (name, Some(value)) = args::header_line(line)? {
            request = request.header(&name, &value);
        }
    }

    let mut response = request.send().map_err(|e| {
        t.http_connect = e.status().unwrap_or(0);
        if cli.verbose {
            refusal_lines(&e, &io.err);
        }
        let failure = Failure::from_error(code_of(&e), &e);
        // curl names the host it could not reach; ferry's message names the phase.
        match e.phase() {
            Phase::Resolve | Phase::Connect if e.is_proxy() => failure.suffixed("(the proxy)"),
            Phase::Resolve | Phase::Connect => {
                failure.suffixed(&format!("({}:{})", parsed.host(), parsed.port_or_default()))
            }
            _ => failure,
        }
    })?;
    describe(&response, t);

    if cli.fail && response.status() >= 400 {
        return Err(Failure::new(
            exit::HTTP_ERROR,
            format!("the requested URL returned error: {}", response.status()),
        ));
    }

    let (mut sink, path): (Box<dyn Write + '_>, Option<String>) = match output {
        Output::Stdout => (Box::new(&mut io.out), None),
        Output::File(path) => {
            (open(&path.display().to_string())?, Some(path.display().to_string()))
        }
        Output::RemoteName => {
            let name = args::remote_name(url)?;
            (open(&name)?, Some(name))
        }
    };
    t.filename_effective = path.clone();
    let write_error =
        |e: io::Error| Failure::new(exit::WRITE_ERROR, format!("writing the output: {e}"));
    if cli.include || cli.head {
        if cli.include {
            if let Some(reply) = response.proxy_reply() {
                sink.write_all(&head_bytes(
                    reply.version(),
                    reply.status(),
                    reply.reason(),
                    reply.headers().iter(),
                ))
                .map_err(write_error)?;
            }
        }
        sink.write_all(&head_bytes(
            response.version(),
            response.status(),
            response.reason(),
            response.headers().iter(),
        ))
        .map_err(write_error)?;
    }
    if !cli.head {
        let total = if cli.compressed && response.headers().get("content-encoding").is_some() {
            None
        } else {
            response.headers().get_str("content-length").and_then(|n| n.trim().parse().ok())
        };
        let shown = path.is_some() && io.err_is_terminal && !cli.silent;
        let mut progress = crate::progress::Progress::new(&mut sink, shown, total);
        t.size_download = copy(&mut response, &mut progress)?;
        progress.finish();
    }
    sink.flush().map_err(write_error)?;
    t.time_starttransfer = secs(response.timings().first_byte);
    Ok(())
}

/// Under `-v`, a proxy's refusal of CONNECT as `<` lines: the library traces the replies of
/// tunnels it opens, and this one comes back inside the error.
fn refusal_lines(e: &Error, err: &crate::Sink) {
    let head = match e.http().map(ferry_proto::Error::kind) {
        Some(HttpKind::ProxyRefused { head, .. } | HttpKind::ProxyAuthFailed { head, .. }) => head,
        _ => return,
    };
    let fields = head
        .headers()
        .iter()
        .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value)))
        .collect::<Vec<_>>()
        .join("\n");
    let event = [
        ("status".to_owned(), head.status().to_string()),
        ("reason".to_owned(), head.reason().to_owned()),
        ("fields".to_owned(), fields),
    ];
    let mut err = lock(err);
    for line in crate::verbose::render("ferry::tunnel", &event.into_iter().collect()) {
        let _ = writeln!(err, "{line}");
    }
}

/// Fills in what the response head tells.
fn describe(response: &Response, t: &mut Transfer) {
    t.http_code = response.status();
    t.http_connect = response.proxy_reply().map_or(0, |r| r.status());
    t.url_effective = response.url().to_string();
    t.scheme = response.url().scheme().as_str().to_ascii_uppercase();
    t.num_redirects = response.redirects().len();
    t.http_version = match response.version() {
        Version::Http10 => "1.0".to_owned(),
        _ => "1.1".to_owned(),
    };
    if let Some(addr) = response.remote_addr() {
        t.remote_ip = addr.ip().to_string();
        t.remote_port = Some(addr.port());
    }
    let headers = response.headers();
    t.num_headers = headers.len();
    t.content_type = headers.get_str("content-type").map(str::to_owned);
    t.size_header =
        head_bytes(response.version(), response.status(), response.reason(), headers.iter()).len()
            as u64;
    if (300..400).contains(&response.status()) {
        t.redirect_url = headers
            .get_str("location")
            .map(|l| response.url().join(l).map_or_else(|_| l.to_owned(), |u| u.to_string()));
    }
    let timings = response.timings();
    t.time_namelookup = secs(timings.resolve);
    t.time_connect = secs(timings.connect);
    t.time_appconnect = secs(timings.origin_tls);
    t.time_starttransfer = secs(timings.first_byte);
}

fn secs(d: Option<Duration>) -> f64 {
    d.map_or(0.0, |d| d.as_secs_f64())
}

/// A response head as it came: status line, fields, empty line.
fn head_bytes<'a>(
    version: Version,
    status: u16,
    reason: &str,
    fields: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Vec<u8> {
    let version = match version {
        Version::Http10 => "1.0",
        _ => "1.1",
    };
    let mut out = format!("HTTP/{version} {status} {reason}\r\n").into_bytes();
    for (name, value) in fields {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn open(path: &str) -> Result<Box<dyn Write + 'static>, Failure> {
    let file = File::create(path).map_err(|e| {
        Failure::new(exit::WRITE_ERROR, format!("cannot open {path} for writing: {e}"))
    })?;
    Ok(Box::new(BufWriter::new(file)))
}

/// Copies the body; a read error is the transfer's failure, a write error is 23.
fn copy(response: &mut Response, out: &mut dyn Write) -> Result<u64, Failure> {
    let mut total = 0u64;
    loop {
        match response.chunk() {
            Ok(None) => return Ok(total),
            Ok(Some(piece)) => {
                out.write_all(&piece).map_err(|e| {
                    Failure::new(exit::WRITE_ERROR, format!("writing the output: {e}"))
                })?;
                total += piece.len() as u64;
            }
            Err(e) => return Err(Failure::from_error(code_of(&e), &e)),
        }
    }
}

/// curl's exit code for a ferry error.
pub(crate) fn code_of(e: &Error) -> u8 {
    if e.redirect().is_some() {
        return 47;
    }
    if e.is_timeout() {
        return 28;
    }
    match e.phase() {
        Phase::Resolve if e.is_proxy() => 5,
        Phase::Resolve => 6,
        Phase::Connect => 7,
        Phase::ProxyTls | Phase::OriginTls => match e.tls().map(ferry_tls::Error::kind) {
            Some(ferry_tls::ErrorKind::Certificate(_)) => 60,
            _ => 35,
        },
        Phase::Tunnel => 56,
        Phase::Send => 55,
        Phase::Receive => match e.http().map(ferry_proto::Error::kind) {
            Some(HttpKind::UnexpectedEof { expected: Expected::ResponseHead })
                if !e.response_started() =>
            {
                52
            }
            _ => 56,
        },
        _ => 56,
    }
}

impl Failure {
    /// The same failure, its line followed by `what`.
    fn suffixed(mut self, what: &str) -> Failure {
        self.message = format!("{} {what}", self.message);
        self
    }

    /// The same failure, its line prefixed with what was being done.
    fn prefixed(mut self, what: &str) -> Failure {
        self.message = format!("{what}: {}", self.message);
        self
    }
}
