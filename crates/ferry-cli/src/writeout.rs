//! `-w/--write-out`: curl's format, with its variables and `%{json}`.
//!
//! `%{name}` is replaced by the variable's value, `%%` is a `%`, `\n`, `\r`, `\t` and `\\` are
//! escapes (curl reads them itself, so `-w '%{http_code}\n'` works in any shell). `%{stdout}`
//! and `%{stderr}` switch where the rest goes. An unknown variable is written as nothing, with
//! a warning on stderr, as curl does.

use std::io::{self, Write};

use serde_json::{Map, Value};

/// What one transfer measured, for `-w`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Transfer {
    /// The final response's status, 0 when none came.
    pub(crate) http_code: u16,
    /// The proxy's answer to CONNECT, 0 when there was none.
    pub(crate) http_connect: u16,
    /// TCP connections dialled for this transfer (0 when a connection was reused).
    pub(crate) num_connects: u64,
    /// Redirects followed.
    pub(crate) num_redirects: usize,
    /// The address connected to (the proxy's, through a proxy), empty when unknown.
    pub(crate) remote_ip: String,
    /// Its port.
    pub(crate) remote_port: Option<u16>,
    /// Seconds from the start until the name was resolved.
    pub(crate) time_namelookup: f64,
    /// ... until the TCP connection was open.
    pub(crate) time_connect: f64,
    /// ... until the TLS handshake with the origin was done (0 without one).
    pub(crate) time_appconnect: f64,
    /// ... until the first response byte.
    pub(crate) time_starttransfer: f64,
    /// ... until the end.
    pub(crate) time_total: f64,
    /// Body bytes received (as written: decoded with --compressed).
    pub(crate) size_download: u64,
    /// Bytes of the response head (status line and fields).
    pub(crate) size_header: u64,
    /// Body bytes sent.
    pub(crate) size_upload: u64,
    /// The URL last fetched (after redirects).
    pub(crate) url_effective: String,
    /// The URL as given.
    pub(crate) url: String,
    /// Its index among the URLs, from 0.
    pub(crate) urlnum: usize,
    /// The method sent.
    pub(crate) method: String,
    /// The final URL's scheme, upper case as curl writes it (`HTTP`, `HTTPS`).
    pub(crate) scheme: String,
    /// `1.1` or `1.0`, empty when no response came.
    pub(crate) http_version: String,
    /// The response's `Content-Type`, if any.
    pub(crate) content_type: Option<String>,
    /// The `Location` of a redirect that was not followed.
    pub(crate) redirect_url: Option<String>,
    /// The file the body was written to, if any.
    pub(crate) filename_effective: Option<String>,
    /// Response header fields.
    pub(crate) num_headers: usize,
    /// The exit code of this transfer.
    pub(crate) exitcode: u8,
    /// The error message of this transfer, if it failed.
    pub(crate) errormsg: Option<String>,
}

impl Transfer {
    /// Bytes per second over the whole transfer.
    fn speed_download(&self) -> u64 {
        if self.time_total > 0.0 {
            // Rounded down, as curl does; a rate is never negative.
            (self.size_download as f64 / self.time_total) as u64
        } else {
            0
        }
    }

    /// The variable's value as JSON, `None` for an unknown name.
    fn value(&self, name: &str) -> Option<Value> {
        let text = |s: &str| Value::String(s.to_owned());
        let maybe = |s: &Option<String>| s.as_deref().map_or(Value::Null, text);
        let secs = |f: f64| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number);
        Some(match name {
            "http_code" | "response_code" => self.http_code.into(),
            "http_connect" => self.http_connect.into(),
            "num_connects" => self.num_connects.into(),
            "num_redirects" => self.num_redirects.into(),
            "num_headers" => self.num_headers.into(),
            "remote_ip" => text(&self.remote_ip),
            "remote_port" => self.remote_port.map_or(Value::Null, Value::from),
            "time_namelookup" => secs(self.time_namelookup),
            "time_connect" => secs(self.time_connect),
            "time_appconnect" => secs(self.time_appconnect),
            "time_pretransfer" => secs(self.time_appconnect.max(self.time_connect)),
            "time_starttransfer" => secs(self.time_starttransfer),
            "time_total" => secs(self.time_total),
            "size_download" => self.size_download.into(),
            "size_header" => self.size_header.into(),
            "size_upload" => self.size_upload.into(),
            "speed_download" => self.speed_download().into(),
            "url_effective" => text(&self.url_effective),
            "url" => text(&self.url),
            "urlnum" => self.urlnum.into(),
            "method" => text(&self.method),
            "scheme" => text(&self.scheme),
            "http_version" => text(&self.http_version),
            "content_type" => maybe(&self.content_type),
            "redirect_url" => maybe(&self.redirect_url),
            "filename_effective" => maybe(&self.filename_effective),
            "exitcode" => self.exitcode.into(),
            "errormsg" => maybe(&self.errormsg),
            _ => return None,
        })
    }

    /// Every variable as one JSON object, as `%{json}` writes it.
    pub(crate) fn json(&self) -> Value {
        let mut map = Map::new();
        for name in NAMES {
            if let Some(v) = self.value(name) {
                map.insert(name.to_owned(), v);
            }
        }
        map.insert("ferry_version".to_owned(), Value::String(env!("CARGO_PKG_VERSION").into()));
        Value::Object(map)
    }

    /// The variable as `-w` writes it, `None` for an unknown name.
    fn text(&self, name: &str) -> Option<String> {
        Some(match name {
            // curl writes the codes with three digits: 000 when there was no response.
            "http_code" | "response_code" => format!("{:03}", self.http_code),
            "http_connect" => format!("{:03}", self.http_connect),
            "json" => self.json().to_string(),
            n if n.starts_with("time_") => match self.value(n)? {
                Value::Number(v) => format!("{:.6}", v.as_f64().unwrap_or_default()),
                _ => "0.000000".to_owned(),
            },
            _ => match self.value(name)? {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            },
        })
    }
}

/// The variable names, in `%{json}`'s order (curl's is alphabetical).
const NAMES: [&str; 29] = [
    "content_type",
    "errormsg",
    "exitcode",
    "filename_effective",
    "http_code",
    "http_connect",
    "http_version",
    "method",
    "num_connects",
    "num_headers",
    "num_redirects",
    "redirect_url",
    "remote_ip",
    "remote_port",
    "response_code",
    "scheme",
    "size_download",
    "size_header",
    "size_upload",
    "speed_download",
    "time_appconnect",
    "time_connect",
    "time_namelookup",
    "time_pretransfer",
    "time_starttransfer",
    "time_total",
    "url",
    "url_effective",
    "urlnum",
];

/// Where the text of a format goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// Standard output (the default).
    Stdout,
    /// Standard error, after `%{stderr}`.
    Stderr,
}

/// Expands `format` for `transfer`: the pieces in order with their stream, and the unknown
/// variable names met.
pub(crate) fn expand(format: &str, transfer: &Transfer) -> (Vec<(Stream, String)>, Vec<String>) {
    let mut pieces: Vec<(Stream, String)> = Vec::new();
    let mut unknown = Vec::new();
    let mut stream = Stream::Stdout;
    let mut text = String::new();
    let mut rest = format;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("%{") {
            if let Some(end) = after.find('}') {
                let name = &after[..end];
                rest = &after[end + 1..];
                match name {
                    "stdout" | "stderr" => {
                        if !text.is_empty() {
                            pieces.push((stream, std::mem::take(&mut text)));
                        }
                        stream = if name == "stdout" { Stream::Stdout } else { Stream::Stderr };
                    }
                    _ => match transfer.text(name) {
                        Some(value) => text.push_str(&value),
                        None => unknown.push(name.to_owned()),
                    },
                }
                continue;
            }
        }
        let (escaped, len) = match (c, rest.as_bytes().get(1)) {
            ('%', Some(b'%')) => ('%', 2),
            ('\\', Some(b'n')) => ('\n', 2),
            ('\\', Some(b'r')) => ('\r', 2),
            ('\\', Some(b't')) => ('\t', 2),
            ('\\', Some(b'\\')) => ('\\', 2),
            _ => (c, c.len_utf8()),
        };
        text.push(escaped);
        rest = &rest[len..];
    }
    if !text.is_empty() {
        pieces.push((stream, text));
    }
    (pieces, unknown)
}

/// Writes `format` expanded for `transfer`, warning on `err` about unknown variables.
///
/// # Errors
/// The writers' errors.
pub(crate) fn write(
    format: &str,
    transfer: &Transfer,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<()> {
    let (pieces, unknown) = expand(format, transfer);
    for name in unknown {
        writeln!(err, "ferry: warning: unknown --write-out variable: '{name}'")?;
    }
    for (stream, text) in pieces {
        match stream {
            Stream::Stdout => out.write_all(text.as_bytes())?,
            Stream::Stderr => err.write_all(text.as_bytes())?,
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer() -> Transfer {
        Transfer {
            http_code: 200,
            http_connect: 200,
            num_connects: 1,
            remote_ip: "127.0.0.1".into(),
            remote_port: Some(8080),
            time_namelookup: 0.001,
            time_connect: 0.002,
            time_total: 0.25,
            size_download: 26,
            url_effective: "https://localhost:8080/bytes/26".into(),
            method: "GET".into(),
            ..Transfer::default()
        }
    }

    fn stdout_of(format: &str, t: &Transfer) -> String {
        let (pieces, _) = expand(format, t);
        pieces.into_iter().filter(|(s, _)| *s == Stream::Stdout).map(|(_, t)| t).collect()
    }

    #[test]
    fn variables_and_escapes() {
        let t = transfer();
        assert_eq!(
            stdout_of(r"%{http_code} %{response_code}|%{remote_ip}:%{remote_port}\n", &t),
            "200 200|127.0.0.1:8080\n"
        );
        assert_eq!(stdout_of(r"%{time_connect} %{time_total}\t%%\\", &t), "0.002000 0.250000\t%\\");
        assert_eq!(stdout_of("%{size_download} %{num_connects} %{exitcode}", &t), "26 1 0");
        assert_eq!(stdout_of("%{url_effective}", &t), "https://localhost:8080/bytes/26");
        assert_eq!(stdout_of("%{errormsg}|%{content_type}", &t), "|", "absent ones are empty");
        let none = Transfer::default();
        assert_eq!(stdout_of("%{http_code} %{http_connect}", &none), "000 000");
    }

    #[test]
    fn unknown_and_unclosed_variables() {
        let (pieces, unknown) = expand("a%{bogus}b%{http_code", &transfer());
        assert_eq!(unknown, ["bogus"]);
        assert_eq!(pieces, [(Stream::Stdout, "ab%{http_code".to_owned())]);
    }

    #[test]
    fn stderr_switch() {
        let (pieces, _) = expand(r"%{http_code}%{stderr}err\n%{stdout}out", &transfer());
        assert_eq!(
            pieces,
            [
                (Stream::Stdout, "200".to_owned()),
                (Stream::Stderr, "err\n".to_owned()),
                (Stream::Stdout, "out".to_owned())
            ]
        );
    }

    #[test]
    fn json_has_every_variable_typed() -> Result<(), serde_json::Error> {
        let t = Transfer { errormsg: Some("no".into()), exitcode: 7, ..transfer() };
        let v: Value = serde_json::from_str(&stdout_of("%{json}", &t))?;
        assert_eq!(v["http_code"], 200);
        assert_eq!(v["response_code"], 200);
        assert_eq!(v["remote_port"], 8080);
        assert_eq!(v["time_total"], 0.25);
        assert_eq!(v["errormsg"], "no");
        assert_eq!(v["exitcode"], 7);
        assert_eq!(v["content_type"], Value::Null);
        assert_eq!(v["speed_download"], 104);
        for name in NAMES {
            assert!(v.get(name).is_some(), "{name} missing");
        }
        Ok(())
    }
}
