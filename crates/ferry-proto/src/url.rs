//! The small, strict URL model the core needs: `http` and `https` URLs with an ASCII host.
//!
//! This is not a WHATWG URL parser: a client layer that accepts what browsers accept (IDNA,
//! backslashes, odd IPv4 forms) converts to this type first. What the core guarantees is that
//! nothing it builds from a [`Url`] puts a space, a control byte or the userinfo on the wire.

use alloc::string::String;
use core::fmt::{self, Write as _};
use core::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, ErrorKind, Result};

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// Plain HTTP, default port 80.
    Http,
    /// HTTP over TLS, default port 443.
    Https,
}

impl Scheme {
    /// The port used when a URL names none.
    #[must_use]
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `"http"` or `"https"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// Parses a scheme case-insensitively; `None` for anything but `http` and `https`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Scheme> {
        if s.eq_ignore_ascii_case("http") {
            Some(Scheme::Http)
        } else if s.eq_ignore_ascii_case("https") {
            Some(Scheme::Https)
        } else {
            None
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A host: a lower-cased ASCII domain name or an IP literal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// A registered name, lower-cased, without a trailing dot removed (it is kept as written).
    Domain(String),
    /// An IPv4 literal.
    Ipv4(Ipv4Addr),
    /// An IPv6 literal (written in brackets in URLs, `Host` and CONNECT targets).
    Ipv6(Ipv6Addr),
}

impl Host {
    /// Parses a host as it stands in a URL authority: a domain, an IPv4 literal, or an IPv6
    /// literal in brackets. Bare IPv6 (no brackets) is accepted too, since it cannot be
    /// mistaken for anything else.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidUrl`] when the host is empty, has a byte outside
    /// `ALPHA / DIGIT / "-" / "." / "_" / "~"`, or is an invalid IP literal.
    pub fn parse(s: &str) -> Result<Host> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or(Error::new(ErrorKind::InvalidUrl { what: "unclosed '[' in host" }))?;
            return inner
                .parse::<Ipv6Addr>()
                .map(Host::Ipv6)
                .map_err(|_| ErrorKind::InvalidUrl { what: "invalid IPv6 literal" }.into());
        }
        if s.contains(':') {
            return s
                .parse::<Ipv6Addr>()
                .map(Host::Ipv6)
                .map_err(|_| ErrorKind::InvalidUrl { what: "invalid IPv6 literal" }.into());
        }
        if s.is_empty() {
            return Err(ErrorKind::InvalidUrl { what: "empty host" }.into());
        }
        if let Ok(v4) = s.parse::<Ipv4Addr>() {
            return Ok(Host::Ipv4(v4));
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')) {
            return Err(ErrorKind::InvalidUrl {
                what: "host has a byte outside ALPHA, DIGIT, '-', '.', '_', '~' (use punycode)",
            }
            .into());
        }
        Ok(Host::Domain(s.to_ascii_lowercase()))
    }

    /// Whether this is an IP literal.
    #[must_use]
    pub fn is_ip(&self) -> bool {
        !matches!(self, Host::Domain(_))
    }
}

impl fmt::Display for Host {
    /// As it stands in an authority: IPv6 in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// `host:port`, as CONNECT's request-target (RFC 9112 §3.2.3) and its `Host` field: the port is
/// always written, IPv6 in brackets.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Authority {
    /// The host.
    pub host: Host,
    /// The port.
    pub port: u16,
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// An absolute `http` or `https` URL, split into the parts HTTP/1.1 needs.
///
/// `Debug` and `Display` never show the userinfo's password.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Url {
    scheme: Scheme,
    host: Host,
    port: Option<u16>,
    /// Path and query, always starting with `/`, without the fragment.
    path_and_query: String,
    /// `user[:password]` as written (still percent-encoded).
    userinfo: Option<String>,
}

impl Url {
    /// Parses `scheme://[userinfo@]host[:port][/path][?query][#fragment]`.
    ///
    /// The fragment is dropped; bytes above 0x7F in the path or query are percent-encoded.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidUrl`] for another scheme, a bad host or port, or a space or control
    /// byte anywhere.
    ///
    /// ```
    /// let url = ferry_proto::Url::parse("http://u:p@[::1]:8080/a?b#c").unwrap();
    /// assert_eq!(url.path_and_query(), "/a?b");
    /// assert_eq!(url.to_string(), "http://[::1]:8080/a?b");
    /// ```
    pub fn parse(s: &str) -> Result<Url> {
        let (scheme, rest) =
            s.split_once("://").ok_or(ErrorKind::InvalidUrl { what: "missing \"://\"" })?;
        let scheme = Scheme::parse(scheme)
            .ok_or(ErrorKind::InvalidUrl { what: "scheme is not http or https" })?;
        let (userinfo, host, port, rest) = split_authority(rest)?;
        let path_and_query = normalize_target(rest)?;
        Ok(Url { scheme, host, port, path_and_query, userinfo: userinfo.map(String::from) })
    }

    /// Builds a URL from parts; `path_and_query` is checked like in [`Url::parse`].
    ///
    /// # Errors
    /// [`ErrorKind::InvalidUrl`] when the path has a space or control byte.
    pub fn from_parts(
        scheme: Scheme,
        host: Host,
        port: Option<u16>,
        path_and_query: &str,
    ) -> Result<Url> {
        let path_and_query = normalize_target(path_and_query)?;
        Ok(Url { scheme, host, port, path_and_query, userinfo: None })
    }

    /// The scheme.
    #[must_use]
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host.
    #[must_use]
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port as written, if any.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port, or the scheme's default.
    #[must_use]
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(self.scheme.default_port())
    }

    /// Host and effective port.
    #[must_use]
    pub fn authority(&self) -> Authority {
        Authority { host: self.host.clone(), port: self.port_or_default() }
    }

    /// Path and query: the origin-form request-target (RFC 9112 §3.2.1).
    #[must_use]
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }

    /// The userinfo as written, still percent-encoded; never put on the wire by the core.
    #[must_use]
    pub fn userinfo(&self) -> Option<&str> {
        self.userinfo.as_deref()
    }

    /// Writes the `Host` field value: the host, and the port only when it is not the scheme's
    /// default (RFC 9110 §7.2).
    pub(crate) fn write_host_value(&self, out: &mut impl fmt::Write) -> fmt::Result {
        write!(out, "{}", self.host)?;
        match self.port {
            Some(p) if p != self.scheme.default_port() => write!(out, ":{p}"),
            _ => Ok(()),
        }
    }

    /// The `Host` field value: the host, and the port only when it is not the scheme's
    /// default (RFC 9110 §7.2).
    #[must_use]
    pub fn host_header(&self) -> String {
        let mut s = String::new();
        let _ = self.write_host_value(&mut s);
        s
    }
}

impl fmt::Display for Url {
    /// The absolute-form (RFC 9112 §3.2.2): no userinfo, no fragment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        self.write_host_value(f)?;
        f.write_str(&self.path_and_query)
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Url");
        d.field("scheme", &self.scheme).field("host", &self.host).field("port", &self.port);
        d.field("path_and_query", &self.path_and_query);
        if let Some(ui) = &self.userinfo {
            let user = ui.split_once(':').map_or(ui.as_str(), |(u, _)| u);
            d.field("user", &user);
        }
        d.finish()
    }
}

impl core::str::FromStr for Url {
    type Err = Error;
    fn from_str(s: &str) -> Result<Url> {
        Url::parse(s)
    }
}

/// Splits `[userinfo@]host[:port]rest` where `rest` starts at the first `/`, `?` or `#`.
pub(crate) fn split_authority(s: &str) -> Result<(Option<&str>, Host, Option<u16>, &str)> {
    let end = s.find(['/', '?', '#']).unwrap_or(s.len());
    let (authority, rest) = s.split_at(end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    if let Some(ui) = userinfo {
        if ui.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(ErrorKind::InvalidUrl { what: "space or control byte in userinfo" }.into());
        }
    }
    let (host, port) = if hostport.starts_with('[') {
        match hostport.find(']') {
            Some(close) => {
                let after = &hostport[close + 1..];
                let port = match after {
                    "" => None,
                    p => Some(p.strip_prefix(':').ok_or(ErrorKind::InvalidUrl {
                        what: "unexpected text after IPv6 literal",
                    })?),
                };
                (&hostport[..=close], port)
            }
            None => return Err(ErrorKind::InvalidUrl { what: "unclosed '[' in host" }.into()),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(parse_port(p)?),
    };
    Ok((userinfo, Host::parse(host)?, port, rest))
}

fn parse_port(p: &str) -> Result<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ErrorKind::InvalidUrl { what: "port is not a number from 0 to 65535" }.into());
    }
    p.parse::<u16>()
        .map_err(|_| ErrorKind::InvalidUrl { what: "port is not a number from 0 to 65535" }.into())
}

/// Drops the fragment, makes the path start with `/`, percent-encodes bytes above 0x7F and
/// refuses spaces and control bytes.
fn normalize_target(s: &str) -> Result<String> {
    let s = s.split_once('#').map_or(s, |(before, _)| before);
    let mut out = String::with_capacity(s.len() + 1);
    if !s.starts_with('/') {
        out.push('/');
    }
    for b in s.bytes() {
        match b {
            0..=0x20 | 0x7f => {
                return Err(ErrorKind::InvalidUrl {
                    what: "space or control byte in path or query",
                }
                .into());
            }
            0x80..=0xff => {
                let _ = write!(out, "%{b:02X}");
            }
            _ => out.push(b as char),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[track_caller]
    fn check(input: &str, expected: core::result::Result<(&str, &str, &str), &'static str>) {
        match (Url::parse(input), expected) {
            (Ok(url), Ok((display, host_header, target))) => {
                assert_eq!(url.to_string(), display, "{input}");
                assert_eq!(url.host_header(), host_header, "{input}");
                assert_eq!(url.path_and_query(), target, "{input}");
            }
            (Err(e), Err(what)) => assert_eq!(e.kind(), &ErrorKind::InvalidUrl { what }, "{input}"),
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn urls() {
        // RFC 9110 §7.2: Host carries the port only when it is not the default.
        check("http://example.com", Ok(("http://example.com/", "example.com", "/")));
        check("http://Example.COM:80/x", Ok(("http://example.com/x", "example.com", "/x")));
        check("https://example.com:443/", Ok(("https://example.com/", "example.com", "/")));
        check(
            "https://example.com:8443?q=1",
            Ok(("https://example.com:8443/?q=1", "example.com:8443", "/?q=1")),
        );
        check("HTTP://a.b/c#frag", Ok(("http://a.b/c", "a.b", "/c")));
        // IPv6 in brackets (RFC 3986 §3.2.2).
        check("http://[::1]:8080/", Ok(("http://[::1]:8080/", "[::1]:8080", "/")));
        check("http://[2001:db8::1]/", Ok(("http://[2001:db8::1]/", "[2001:db8::1]", "/")));
        check("http://127.0.0.1:3000/p", Ok(("http://127.0.0.1:3000/p", "127.0.0.1:3000", "/p")));
        // Userinfo never reaches the target or Host.
        check("http://user:secret@host/", Ok(("http://host/", "host", "/")));
        check("http://a@b@host:81/", Ok(("http://host:81/", "host:81", "/")));
        // Non-ASCII in the path is percent-encoded.
        check("http://h/é", Ok(("http://h/%C3%A9", "h", "/%C3%A9")));
        check("http://h:/", Ok(("http://h/", "h", "/")));
        check("ftp://h/", Err("scheme is not http or https"));
        check("h/", Err("missing \"://\""));
        check("http:///", Err("empty host"));
        check("http://h:99999/", Err("port is not a number from 0 to 65535"));
        check("http://h:+80/", Err("port is not a number from 0 to 65535"));
        check("http://h/a b", Err("space or control byte in path or query"));
        check("http://h/a\r\nX: y", Err("space or control byte in path or query"));
        check(
            "http://h\r\n/",
            Err("host has a byte outside ALPHA, DIGIT, '-', '.', '_', '~' (use punycode)"),
        );
        check("http://[::1/", Err("unclosed '[' in host"));
        check("http://[::1]x/", Err("unexpected text after IPv6 literal"));
        check("http://[zz]/", Err("invalid IPv6 literal"));
        check(
            "http://exämple.com/",
            Err("host has a byte outside ALPHA, DIGIT, '-', '.', '_', '~' (use punycode)"),
        );
        check("http://u\0@h/", Err("space or control byte in userinfo"));
    }

    #[test]
    fn debug_hides_password() {
        let url = Url::parse("http://alice:hunter2@h/").unwrap();
        let dbg = alloc::format!("{url:?}");
        assert!(dbg.contains("alice"));
        assert!(!dbg.contains("hunter2"));
        assert_eq!(url.userinfo(), Some("alice:hunter2"));
    }

    #[test]
    fn authority_always_has_port() {
        let url = Url::parse("https://[::1]/").unwrap();
        assert_eq!(url.authority().to_string(), "[::1]:443");
    }
}
