//! The command line: curl's options, parsed by clap, and what they mean once combined.

use std::ffi::OsString;
use std::fs;
use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, CommandFactory as _, FromArgMatches as _, Parser};

use crate::exit::Failure;

/// The options, as curl spells them.
#[derive(Parser, Debug, Default)]
#[command(
    name = "ferry",
    version,
    about = "Transfers URLs over HTTP/1.1 with curl's options, through ferry.",
    after_help = "Exit codes are curl's: 5 proxy not resolved, 6 host not resolved, 7 connect \
                  failed, 22 --fail on >= 400, 28 timeout, 35 TLS handshake, 47 too many \
                  redirects, 52 empty reply, 56 receive error, 60 certificate not trusted."
)]
pub(crate) struct Cli {
    /// The URLs, fetched in order through one client (connections are reused).
    #[arg(value_name = "URL", required = true)]
    pub(crate) urls: Vec<String>,

    /// The request method (default GET, POST with a body, HEAD with -I).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub(crate) request: Option<String>,
    /// An extra request field, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "LINE", action = ArgAction::Append)]
    pub(crate) headers: Vec<String>,
    /// Form data sent with POST: text, `@file` (newlines dropped) or `@-` (repeatable, joined
    /// with `&`).
    #[arg(short = 'd', long = "data", visible_alias = "data-ascii", value_name = "DATA",
          action = ArgAction::Append)]
    pub(crate) data: Vec<String>,
    /// Data sent as is: text, `@file` or `@-`, bytes unchanged (repeatable).
    #[arg(long = "data-binary", value_name = "DATA", action = ArgAction::Append)]
    pub(crate) data_binary: Vec<String>,
    /// Data sent as is, `@` not special (repeatable).
    #[arg(long = "data-raw", value_name = "DATA", action = ArgAction::Append)]
    pub(crate) data_raw: Vec<String>,
    /// JSON sent with POST, with `Content-Type` and `Accept: application/json` (repeatable,
    /// concatenated; `@file` and `@-` read).
    #[arg(long = "json", value_name = "DATA", action = ArgAction::Append)]
    pub(crate) json: Vec<String>,
    /// Send the data as the URL's query, with GET.
    #[arg(short = 'G', long = "get")]
    pub(crate) get: bool,
    /// Write the response head before the body.
    #[arg(short = 'i', long = "include")]
    pub(crate) include: bool,
    /// Send HEAD and write the response head.
    #[arg(short = 'I', long = "head")]
    pub(crate) head: bool,
    /// Follow redirects.
    #[arg(short = 'L', long = "location")]
    pub(crate) location: bool,
    /// The most redirects followed with -L (default 50; -1 for no limit).
    #[arg(long = "max-redirs", value_name = "NUM", allow_negative_numbers = true)]
    pub(crate) max_redirs: Option<i64>,
    /// Fail (exit 22) on a status of 400 or more, without writing the body.
    #[arg(short = 'f', long = "fail")]
    pub(crate) fail: bool,
    /// No progress bar, no error message.
    #[arg(short = 's', long = "silent")]
    pub(crate) silent: bool,
    /// With -s, still write the error message.
    #[arg(short = 'S', long = "show-error")]
    pub(crate) show_error: bool,
    /// Show the proxy decision, connections, the CONNECT exchange, TLS and both heads on
    /// stderr; the cause chain of an error.
    #[arg(short = 'v', long = "verbose")]
    pub(crate) verbose: bool,
    /// Write the body to this file (repeatable: one per URL, in order).
    #[arg(short = 'o', long = "output", value_name = "FILE", action = ArgAction::Append)]
    pub(crate) output: Vec<PathBuf>,
    /// Write the body to a file named after the URL's last path segment (repeatable).
    #[arg(short = 'O', long = "remote-name", action = ArgAction::Count)]
    pub(crate) remote_name: u8,
    /// The `User-Agent` to send.
    #[arg(short = 'A', long = "user-agent", value_name = "NAME")]
    pub(crate) user_agent: Option<String>,
    /// Basic credentials for the server, `user:password`.
    #[arg(short = 'u', long = "user", value_name = "USER:PASSWORD")]
    pub(crate) user: Option<String>,
    /// Ask for a compressed response (gzip, deflate) and decode it.
    #[arg(long = "compressed")]
    pub(crate) compressed: bool,
    /// Accept the server's certificate without checking it.
    #[arg(short = 'k', long = "insecure")]
    pub(crate) insecure: bool,
    /// Trust the CA certificates in this PEM file (instead of the built-in roots).
    #[arg(long = "cacert", value_name = "FILE")]
    pub(crate) cacert: Option<PathBuf>,
    /// A client certificate, PEM (with its key when --key is not given).
    #[arg(short = 'E', long = "cert", value_name = "FILE")]
    pub(crate) cert: Option<PathBuf>,
    /// The client certificate's private key, PEM.
    #[arg(long = "key", value_name = "FILE")]
    pub(crate) key: Option<PathBuf>,

    /// Use this proxy for every URL: `[http://|https://][user:password@]host[:port]`.
    #[arg(short = 'x', long = "proxy", value_name = "URL")]
    pub(crate) proxy: Option<String>,
    /// Basic credentials for the proxy, `user:password`.
    #[arg(short = 'U', long = "proxy-user", value_name = "USER:PASSWORD")]
    pub(crate) proxy_user: Option<String>,
    /// A field sent to the proxy on CONNECT, `Name: value` (repeatable).
    #[arg(long = "proxy-header", value_name = "LINE", action = ArgAction::Append)]
    pub(crate) proxy_headers: Vec<String>,
    /// Hosts reached without a proxy, comma-separated (`*` for all); replaces NO_PROXY.
    #[arg(long = "noproxy", value_name = "LIST")]
    pub(crate) noproxy: Option<String>,
    /// Tunnel through the proxy with CONNECT, for http:// URLs too.
    #[arg(short = 'p', long = "proxytunnel")]
    pub(crate) proxytunnel: bool,
    /// Trust the CA certificates in this PEM file for an https:// proxy.
    #[arg(long = "proxy-cacert", value_name = "FILE")]
    pub(crate) proxy_cacert: Option<PathBuf>,
    /// Accept an https:// proxy's certificate without checking it.
    #[arg(long = "proxy-insecure")]
    pub(crate) proxy_insecure: bool,

    /// The most seconds to resolve, connect and finish the TLS handshakes.
    #[arg(long = "connect-timeout", value_name = "SECONDS", value_parser = seconds)]
    pub(crate) connect_timeout: Option<Duration>,
    /// The most seconds the whole transfer takes.
    #[arg(short = 'm', long = "max-time", value_name = "SECONDS", value_parser = seconds)]
    pub(crate) max_time: Option<Duration>,

    /// Write this after each transfer, `%{variable}`s replaced (`%{json}`: all of them).
    #[arg(short = 'w', long = "write-out", value_name = "FORMAT")]
    pub(crate) write_out: Option<String>,
}

/// `1.5` as a duration; curl takes fractional seconds.
fn seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{s:?} is not a number of seconds"))
}

/// Where one URL's body goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Output {
    /// Standard output.
    Stdout,
    /// This file (`-o`).
    File(PathBuf),
    /// A file named after the URL's last segment (`-O`).
    RemoteName,
}

/// The request body, and what it implies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Data {
    /// The bytes.
    pub(crate) bytes: Vec<u8>,
    /// `--json` was given.
    pub(crate) json: bool,
}

/// The parsed command line, with the order of `-o` and `-O` kept.
#[derive(Debug)]
pub(crate) struct Args {
    /// The options.
    pub(crate) cli: Cli,
    /// Each URL's output, in order.
    pub(crate) outputs: Vec<Output>,
}

impl Args {
    /// Parses a command line (the program name first).
    ///
    /// # Errors
    /// clap's error for bad options (help and version are "errors" too, clap prints them).
    pub(crate) fn parse<I, T>(args: I) -> Result<Args, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let cli = Cli::from_arg_matches(&matches)?;
        // curl pairs each -o / -O with the next URL in the order they were given.
        let mut named: Vec<(usize, Output)> = Vec::new();
        if let Some(indices) = matches.indices_of("output") {
            named.extend(indices.zip(cli.output.iter()).map(|(i, p)| (i, Output::File(p.clone()))));
        }
        // A count has a default (0) with an index of its own: only -O's given count.
        if matches.value_source("remote_name") == Some(clap::parser::ValueSource::CommandLine) {
            if let Some(indices) = matches.indices_of("remote_name") {
                let given = usize::from(cli.remote_name);
                named.extend(indices.take(given).map(|i| (i, Output::RemoteName)));
            }
        }
        named.sort_by_key(|(i, _)| *i);
        let mut outputs: Vec<Output> = named.into_iter().map(|(_, o)| o).collect();
        outputs.resize(cli.urls.len().max(outputs.len()), Output::Stdout);
        outputs.truncate(cli.urls.len());
        Ok(Args { cli, outputs })
    }
}

impl Cli {
    /// The request body from -d, --data-binary, --data-raw and --json, if any.
    ///
    /// # Errors
    /// Exit 26 when an `@file` cannot be read.
    pub(crate) fn data(&self) -> Result<Option<Data>, Failure> {
        if !self.json.is_empty() {
            let mut bytes = Vec::new();
            for part in &self.json {
                bytes.extend(read_at(part)?);
            }
            return Ok(Some(Data { bytes, json: true }));
        }
        if self.data.is_empty() && self.data_binary.is_empty() && self.data_raw.is_empty() {
            return Ok(None);
        }
        // clap does not tell the order across the three options; curl joins them in order
        // given. -d first, then --data-binary, then --data-raw.
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for part in &self.data {
            let mut bytes = read_at(part)?;
            if part.starts_with('@') {
                // curl -d @file drops carriage returns and newlines.
                bytes.retain(|b| *b != b'\r' && *b != b'\n');
            }
            parts.push(bytes);
        }
        for part in &self.data_binary {
            parts.push(read_at(part)?);
        }
        for part in &self.data_raw {
            parts.push(part.as_bytes().to_vec());
        }
        Ok(Some(Data { bytes: parts.join(&b'&'), json: false }))
    }

    /// The method to send, before redirects.
    pub(crate) fn method(&self, has_data: bool) -> String {
        match &self.request {
            Some(m) => m.clone(),
            None if self.head => "HEAD".to_owned(),
            None if has_data && !self.get => "POST".to_owned(),
            None => "GET".to_owned(),
        }
    }
}

/// `@file` or `@-` read, anything else as its bytes.
fn read_at(part: &str) -> Result<Vec<u8>, Failure> {
    match part.strip_prefix('@') {
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| Failure::new(26, format!("cannot read standard input: {e}")))?;
            Ok(bytes)
        }
        Some(path) => fs::read(path)
            .map_err(|e| Failure::new(26, format!("cannot read data file {path}: {e}"))),
        None => Ok(part.as_bytes().to_vec()),
    }
}

/// A `Name: value` line split (`Name;` is a field with an empty value, as in curl).
///
/// # Errors
/// Exit 2 for a line with neither `:` nor a trailing `;`.
pub(crate) fn header_line(line: &str) -> Result<(String, Option<String>), Failure> {
    if let Some((name, value)) = line.split_once(':') {
        let value = value.trim();
        // curl: `Name:` with nothing after it removes the field instead of sending it.
        let value = if value.is_empty() { None } else { Some(value.to_owned()) };
        return Ok((name.trim().to_owned(), value));
    }
    if let Some(name) = line.strip_suffix(';') {
        return Ok((name.trim().to_owned(), Some(String::new())));
    }
    Err(Failure::new(2, format!("a header is `Name: value`, not {line:?}")))
}

/// `user:password` split; no colon means an empty password.
pub(crate) fn credentials(s: &str) -> (String, String) {
    match s.split_once(':') {
        Some((user, pass)) => (user.to_owned(), pass.to_owned()),
        None => (s.to_owned(), String::new()),
    }
}

/// The file name `-O` uses for `url`: its last path segment, without query or fragment.
///
/// # Errors
/// Exit 23 (curl's "write error") when the URL's path ends in `/` or is empty.
pub(crate) fn remote_name(url: &str) -> Result<String, Failure> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let name = path.rsplit('/').next().unwrap_or_default();
    if name.is_empty() || name == "." || name == ".." {
        return Err(Failure::new(23, format!("no file name in the URL {url} for -O")));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Args {
        let words = std::iter::once("ferry").chain(line.split_whitespace());
        Args::parse(words).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn outputs_pair_with_urls_in_the_order_given() {
        let a = args("-O http://h/a -o x http://h/b http://h/c");
        assert_eq!(
            a.outputs,
            [Output::RemoteName, Output::File("x".into()), Output::Stdout],
            "-O then -o, a third URL to stdout"
        );
        let a = args("http://h/a http://h/b -o one -O -o two");
        assert_eq!(a.outputs, [Output::File("one".into()), Output::RemoteName]);
        let a = args("http://h/a http://h/b");
        assert_eq!(a.outputs, [Output::Stdout, Output::Stdout], "no -o, no -O: stdout");
    }

    #[test]
    fn combined_short_flags_and_values() {
        let a = args("-sSfL -XPUT -H X-A:1 -w %{http_code} -m 1.5 http://h/");
        let c = &a.cli;
        assert!(c.silent && c.show_error && c.fail && c.location);
        assert_eq!(c.request.as_deref(), Some("PUT"));
        assert_eq!(c.headers, ["X-A:1"]);
        assert_eq!(c.max_time, Some(Duration::from_millis(1500)));
        assert_eq!(c.write_out.as_deref(), Some("%{http_code}"));
    }

    #[test]
    fn bad_options_are_errors() {
        assert!(Args::parse(["ferry"]).is_err(), "a URL is required");
        assert!(Args::parse(["ferry", "--bogus", "http://h/"]).is_err());
        assert!(Args::parse(["ferry", "-m", "soon", "http://h/"]).is_err());
        assert!(Args::parse(["ferry", "-m", "-1", "http://h/"]).is_err());
    }

    #[test]
    fn methods_follow_curl() {
        let m = |line: &str| {
            let a = args(line);
            let data = a.cli.data().unwrap_or_else(|e| panic!("{e:?}"));
            a.cli.method(data.is_some())
        };
        assert_eq!(m("http://h/"), "GET");
        assert_eq!(m("-d a=1 http://h/"), "POST");
        assert_eq!(m("--json {} http://h/"), "POST");
        assert_eq!(m("-G -d a=1 http://h/"), "GET");
        assert_eq!(m("-I http://h/"), "HEAD");
        assert_eq!(m("-X PATCH -d a http://h/"), "PATCH");
    }

    #[test]
    fn data_is_joined_and_json_concatenated() {
        let a = args("-d a=1 -d b=2 --data-raw @c http://h/");
        let d = a.cli.data().ok().flatten().unwrap_or_default();
        assert_eq!((d.bytes.as_slice(), d.json), (&b"a=1&b=2&@c"[..], false));
        let a = args("--json {\"a\": --json 1} http://h/");
        let d = a.cli.data().ok().flatten().unwrap_or_default();
        assert_eq!((d.bytes.as_slice(), d.json), (&b"{\"a\":1}"[..], true));
    }

    #[test]
    fn data_files_are_read_and_newlines_dropped_for_d() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("body");
        fs::write(&path, "a=1\r\nb=2\n")?;
        let at = format!("@{}", path.display());
        let d = args(&format!("-d {at} http://h/")).cli.data().ok().flatten().unwrap_or_default();
        assert_eq!(d.bytes, b"a=1b=2");
        let d = args(&format!("--data-binary {at} http://h/"))
            .cli
            .data()
            .ok()
            .flatten()
            .unwrap_or_default();
        assert_eq!(d.bytes, b"a=1\r\nb=2\n");
        let missing = args("-d @/nonexistent/ferry-data http://h/").cli.data();
        assert_eq!(missing.err().map(|f| f.code), Some(26));
        Ok(())
    }

    #[test]
    fn header_lines() {
        let h = |s| header_line(s).map_err(|f| f.code);
        assert_eq!(h("Accept: text/html"), Ok(("Accept".into(), Some("text/html".into()))));
        assert_eq!(h("X-Empty;"), Ok(("X-Empty".into(), Some(String::new()))));
        assert_eq!(h("User-Agent:"), Ok(("User-Agent".into(), None)));
        assert_eq!(h("nonsense"), Err(2));
    }

    #[test]
    fn remote_names() {
        let r = |s| remote_name(s).map_err(|f| f.code);
        assert_eq!(r("http://h/a/b.txt?x=1#f"), Ok("b.txt".to_owned()));
        assert_eq!(r("http://h:8080/bytes/26"), Ok("26".to_owned()));
        assert_eq!(r("http://h/"), Err(23));
        assert_eq!(r("http://h"), Err(23));
    }

    #[test]
    fn credentials_split_at_the_first_colon() {
        assert_eq!(credentials("u:p:q"), ("u".into(), "p:q".into()));
        assert_eq!(credentials("u"), ("u".into(), String::new()));
    }
}
