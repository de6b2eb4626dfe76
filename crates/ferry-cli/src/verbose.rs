//! `-v`: ferry's `tracing` events, written the way curl's `-v` reads.
//!
//! `* ` lines tell what happened (the proxy chosen and why, the address connected to, TLS),
//! `> ` lines are a request head (the CONNECT request included), `< ` lines a response head
//! (the proxy's CONNECT reply included). Everything comes from the events the library emits
//! at DEBUG under the `ferry::*` targets, which mask credentials; the fields that carry them
//! are masked here once more, so a library that forgot would still not print a password.

use std::collections::BTreeMap;
use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::Sink;

/// Field names whose values are credentials.
const SECRET: [&str; 4] = ["authorization", "proxy-authorization", "cookie", "set-cookie"];

/// The layer: renders each ferry event to the sink.
pub(crate) struct Verbose {
    sink: Sink,
}

impl Verbose {
    /// A layer writing to `sink`.
    pub(crate) fn new(sink: Sink) -> Verbose {
        Verbose { sink }
    }
}

impl<S: Subscriber> Layer<S> for Verbose {
    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        is_ferry(metadata.target()) && *metadata.level() <= Level::DEBUG
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let lines = render(event.metadata().target(), &fields.0);
        let mut sink = match self.sink.lock() {
            Ok(sink) => sink,
            Err(poisoned) => poisoned.into_inner(),
        };
        for line in lines {
            // A verbose line that cannot be written is not worth failing the transfer.
            let _ = writeln!(sink, "{line}");
        }
        let _ = sink.flush();
    }
}

fn is_ferry(target: &str) -> bool {
    target == "ferry" || target.starts_with("ferry::") || target.starts_with("ferry_")
}

/// An event's fields by name, `message` included, each as text.
#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

/// The lines an event becomes.
pub(crate) fn render(target: &str, fields: &BTreeMap<String, String>) -> Vec<String> {
    let get = |name: &str| fields.get(name).map(String::as_str);
    let field = |name: &str| get(name).unwrap_or("?");
    let event = target.rsplit("::").next().unwrap_or(target);
    let mut lines = Vec::new();
    match event {
        "proxy" => {
            let url = get("url").map(|u| format!(" for {u}")).unwrap_or_default();
            lines.push(format!("* Proxy{url}: {}", field("decision")));
        }
        "connect" => match (get("dial"), get("addr")) {
            (Some(dial), Some(addr)) if dial == addr => {
                lines.push(format!("* Connected to {addr}"))
            }
            (Some(dial), Some(addr)) => lines.push(format!("* Connected to {dial} ({addr})")),
            (Some(dial), None) => lines.push(format!("*   Trying {dial}...")),
            _ => lines.push(other(event, fields)),
        },
        "tls" => {
            let peer = get("peer").unwrap_or("server");
            lines.push(format!(
                "* TLS with the {peer}: {} / {}",
                field("version"),
                field("cipher")
            ));
            if let Some(alpn) = get("alpn") {
                lines.push(format!("* ALPN: {alpn}"));
            }
            if let Some(subject) = get("subject") {
                lines.push(format!("*  subject: {subject}"));
            }
            if let Some(issuer) = get("issuer") {
                lines.push(format!("*  issuer: {issuer}"));
            }
        }
        "request" => {
            let target = get("target").map_or_else(|| request_target(field("url")), str::to_owned);
            lines.push(format!("> {} {target} HTTP/1.1", field("method")));
            head_lines(&mut lines, "> ", get("fields"));
        }
        "tunnel" if get("method").is_some() => {
            lines.push(format!("> {} {} HTTP/1.1", field("method"), field("authority")));
            head_lines(&mut lines, "> ", get("fields"));
        }
        "tunnel" | "response" => {
            let version = get("version").unwrap_or("HTTP/1.1");
            let version = if version.starts_with("HTTP/") {
                version.to_owned()
            } else {
                format!("HTTP/{version}")
            };
            lines.push(format!("< {version} {} {}", field("status"), get("reason").unwrap_or("")));
            head_lines(&mut lines, "< ", get("fields"));
        }
        "pool" => {
            // The key is the route's Debug form: too long for a line; the proxy and connect
            // lines already say where the connection goes.
            let error = get("error").map(|e| format!(" ({e})")).unwrap_or_default();
            lines.push(format!("* {}{error}", capitalized(get("message").unwrap_or("pool"))));
        }
        _ => lines.push(other(event, fields)),
    }
    lines
}

/// `* message name=value ...` for an event this module does not know.
fn other(event: &str, fields: &BTreeMap<String, String>) -> String {
    let mut line = format!("* {event}:");
    if let Some(message) = fields.get("message") {
        line.push(' ');
        line.push_str(message);
    }
    for (name, value) in fields {
        if name != "message" {
            line.push_str(&format!(" {name}={}", mask(name, value)));
        }
    }
    line
}

/// `Name: value` lines (joined by `\n`) as head lines with `prefix`, then the empty one.
fn head_lines(lines: &mut Vec<String>, prefix: &str, fields: Option<&str>) {
    for field in fields.unwrap_or_default().lines().filter(|l| !l.is_empty()) {
        let line = match field.split_once(':') {
            Some((name, value)) => format!("{name}: {}", mask(name, value.trim_start())),
            None => field.to_owned(),
        };
        lines.push(format!("{prefix}{line}"));
    }
    lines.push(prefix.trim_end().to_owned());
}

/// The value of a field, `***` after its scheme if it carries a credential.
fn mask(name: &str, value: &str) -> String {
    let name = name.trim().to_ascii_lowercase();
    if !SECRET.contains(&name.as_str()) {
        return value.to_owned();
    }
    match value.split_once(' ') {
        Some((scheme, _)) if name.ends_with("authorization") => format!("{scheme} ***"),
        _ => "***".to_owned(),
    }
}

/// The origin-form target of an absolute URL: `/path?query`.
fn request_target(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let target = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    target.split('#').next().unwrap_or("/").to_owned()
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(target: &str, fields: &[(&str, &str)]) -> Vec<String> {
        let map = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        render(target, &map)
    }

    #[test]
    fn request_and_response_heads() {
        assert_eq!(
            lines(
                "ferry::request",
                &[
                    ("method", "GET"),
                    ("url", "https://localhost:1/echo?a=1"),
                    ("fields", "Host: localhost:1\nUser-Agent: ferry/0.1.0")
                ]
            ),
            ["> GET /echo?a=1 HTTP/1.1", "> Host: localhost:1", "> User-Agent: ferry/0.1.0", ">"]
        );
        assert_eq!(
            lines(
                "ferry::response",
                &[("status", "200"), ("reason", "OK"), ("fields", "Content-Length: 3")]
            ),
            ["< HTTP/1.1 200 OK", "< Content-Length: 3", "<"]
        );
    }

    #[test]
    fn connect_tls_proxy_and_pool_lines() {
        assert_eq!(
            lines("ferry::connect", &[("dial", "localhost:8443"), ("addr", "127.0.0.1:8443")]),
            ["* Connected to localhost:8443 (127.0.0.1:8443)"]
        );
        assert_eq!(
            lines("ferry::connect", &[("dial", "127.0.0.1:80"), ("addr", "127.0.0.1:80")]),
            ["* Connected to 127.0.0.1:80"]
        );
        assert_eq!(
            lines(
                "ferry::tls",
                &[
                    ("peer", "origin"),
                    ("version", "TLSv1.3"),
                    ("cipher", "TLS13_AES_256_GCM_SHA384"),
                    ("alpn", "http/1.1"),
                    ("subject", "CN=localhost"),
                    ("issuer", "CN=demo CA")
                ]
            ),
            [
                "* TLS with the origin: TLSv1.3 / TLS13_AES_256_GCM_SHA384",
                "* ALPN: http/1.1",
                "*  subject: CN=localhost",
                "*  issuer: CN=demo CA"
            ]
        );
        assert_eq!(
            lines(
                "ferry::proxy",
                &[
                    ("decision", "through http://127.0.0.1:3128 (from --proxy)"),
                    ("url", "https://x/")
                ]
            ),
            ["* Proxy for https://x/: through http://127.0.0.1:3128 (from --proxy)"]
        );
        assert_eq!(
            lines("ferry::pool", &[("message", "reused connection"), ("key", "k")]),
            ["* Reused connection"]
        );
    }

    #[test]
    fn the_connect_exchange_is_masked_even_if_the_library_forgot() {
        assert_eq!(
            lines(
                "ferry::tunnel",
                &[
                    ("method", "CONNECT"),
                    ("authority", "localhost:443"),
                    ("fields", "Host: localhost:443\nProxy-Authorization: Basic dTpw")
                ]
            ),
            [
                "> CONNECT localhost:443 HTTP/1.1",
                "> Host: localhost:443",
                "> Proxy-Authorization: Basic ***",
                ">"
            ]
        );
        assert_eq!(
            lines(
                "ferry::tunnel",
                &[("status", "407"), ("reason", "Proxy Authentication Required"), ("fields", "")]
            ),
            ["< HTTP/1.1 407 Proxy Authentication Required", "<"]
        );
        assert_eq!(
            lines("ferry::other", &[("message", "m"), ("cookie", "a=b")]),
            ["* other: m cookie=***"]
        );
    }
}
