//! The small, strict URL model the core needs: `http` and `https` URLs with an ASCII host.
//!
//! This is not a WHATWG URL parser: a client layer that accepts what browsers accept (IDNA,
//! backslashes, odd IPv4 forms) converts to this type first. What the core guarantees is that
//! nothing it builds from a [`Url`] puts a space, a control byte or the userinfo on the wire,
//! and this holds through the types: a [`Domain`] can only be built checked, [`Host`] holds a
//! `Domain` or an IP address, and [`Authority`] and [`Url`] have private fields and checking
//! constructors. Whoever writes a host on the wire checks its bytes once more.

use alloc::string::String;
use core::fmt::{self, Write as _};
use core::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, ErrorKind, Result};

/// What is wrong with a URL, a host or a request-target ([`ErrorKind::InvalidUrl`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UrlError {
    /// No `://` after the scheme.
    MissingSchemeSeparator,
    /// A scheme other than `http` or `https`.
    UnsupportedScheme,
    /// The host is empty.
    EmptyHost,
    /// A domain with a byte outside `ALPHA / DIGIT / "-" / "." / "_" / "~"` (non-ASCII names
    /// are converted to punycode by the client layer first).
    HostByte,
    /// A domain that reads as an IPv4 address: it is built as [`Host::Ipv4`] instead.
    DomainIsIpv4,
    /// A `[` without its `]`.
    UnclosedBracket,
    /// Something other than `:port` after `]`.
    TextAfterIpv6,
    /// The text between brackets (or with colons) is no IPv6 address.
    InvalidIpv6,
    /// The port is not a decimal number from 0 to 65535.
    InvalidPort,
    /// A space or control byte in the userinfo.
    UserinfoByte,
    /// A space or control byte in the path or query.
    TargetByte,
    /// An `https` URL to be forwarded in absolute-form through a proxy: it would go in
    /// plaintext, credentials included. HTTPS goes through a tunnel ([`Route::tunnel`]).
    ///
    /// [`Route::tunnel`]: crate::Route::tunnel
    HttpsForwarded,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::MissingSchemeSeparator => "missing \"://\"",
            UrlError::UnsupportedScheme => "scheme is not http or https",
            UrlError::EmptyHost => "empty host",
            UrlError::HostByte => {
                "host has a byte outside ALPHA, DIGIT, '-', '.', '_', '~' (use punycode)"
            }
            UrlError::DomainIsIpv4 => "domain reads as an IPv4 address",
            UrlError::UnclosedBracket => "unclosed '[' in host",
            UrlError::TextAfterIpv6 => "unexpected text after IPv6 literal",
            UrlError::InvalidIpv6 => "invalid IPv6 literal",
            UrlError::InvalidPort => "port is not a number from 0 to 65535",
            UrlError::UserinfoByte => "space or control byte in userinfo",
            UrlError::TargetByte => "space or control byte in path or query",
            UrlError::HttpsForwarded => {
                "an https URL is never forwarded in absolute-form (it is tunnelled)"
            }
        })
    }
}

fn invalid(what: UrlError) -> Error {
    ErrorKind::InvalidUrl { what }.into()
}

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

/// A registered name (RFC 3986 §3.2.2 `reg-name`, restricted to unreserved ASCII), checked and
/// lower-cased. It can only be built by [`Domain::parse`], so it never holds a byte that could
/// break a `Host` field or a CONNECT line.
///
/// A trailing dot is kept as written (`example.com.` is a different name on the wire).
///
/// ```
/// use ferry_proto::Domain;
/// assert_eq!(Domain::parse("Example.COM").unwrap().as_str(), "example.com");
/// assert!(Domain::parse("h\r\nX-Injected: 1").is_err());
/// assert!(Domain::parse("127.0.0.1").is_err(), "an IPv4 address is Host::Ipv4");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

impl Domain {
    /// Checks and lower-cases a domain name.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidUrl`] with [`UrlError::EmptyHost`], [`UrlError::HostByte`] for a byte
    /// outside `ALPHA / DIGIT / "-" / "." / "_" / "~"`, or [`UrlError::DomainIsIpv4`].
    pub fn parse(s: &str) -> Result<Domain> {
        if s.is_empty() {
            return Err(invalid(UrlError::EmptyHost));
        }
        if !s.bytes().all(is_domain_byte) {
            return Err(invalid(UrlError::HostByte));
        }
        if s.parse::<Ipv4Addr>().is_ok() {
            return Err(invalid(UrlError::DomainIsIpv4));
        }
        Ok(Domain(s.to_ascii_lowercase()))
    }

    /// The name, lower-cased.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same name without one trailing dot, when what is left is still a domain.
    #[must_use]
    pub(crate) fn without_trailing_dot(self) -> Domain {
        match self.0.strip_suffix('.') {
            Some(rest) if !rest.is_empty() && rest.parse::<Ipv4Addr>().is_err() => {
                Domain(String::from(rest))
            }
            _ => self,
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Domain {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
const fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// The bytes of an authority as the core writes it, as a table: a domain byte, or `:`, `[`,
/// `]` of an IP literal and a port.
const AUTHORITY_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        // `b < 256`: the cast cannot truncate.
        let byte = b as u8;
        table[b] = is_domain_byte(byte) || matches!(byte, b':' | b'[' | b']');
        b += 1;
    }
    table
};

/// Whether `b` may stand in an authority as the core writes it. The last check before a host
/// goes on the wire; one table look-up per byte.
pub(crate) fn is_authority_byte(b: u8) -> bool {
    AUTHORITY_BYTES[usize::from(b)]
}

/// A host: a checked [`Domain`] or an IP literal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// A registered name.
    Domain(Domain),
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
            let inner = inner.strip_suffix(']').ok_or(invalid(UrlError::UnclosedBracket))?;
            return inner
                .parse::<Ipv6Addr>()
                .map(Host::Ipv6)
                .map_err(|_| invalid(UrlError::InvalidIpv6));
        }
        if s.contains(':') {
            return s
                .parse::<Ipv6Addr>()
                .map(Host::Ipv6)
                .map_err(|_| invalid(UrlError::InvalidIpv6));
        }
        if let Ok(v4) = s.parse::<Ipv4Addr>() {
            return Ok(Host::Ipv4(v4));
        }
        Domain::parse(s).map(Host::Domain)
    }

    /// Whether this is an IP literal.
    #[must_use]
    pub fn is_ip(&self) -> bool {
        !matches!(self, Host::Domain(_))
    }

    /// The domain, when this is one.
    #[must_use]
    pub fn domain(&self) -> Option<&Domain> {
        match self {
            Host::Domain(d) => Some(d),
            _ => None,
        }
    }

    /// Appends the host as it stands in an authority (IPv6 in brackets). `core::fmt` only for
    /// IPv6, whose compressed form is not worth writing twice.
    pub(crate) fn push_to(&self, out: &mut String) {
        match self {
            Host::Domain(d) => out.push_str(d.as_str()),
            Host::Ipv4(a) => {
                for (i, octet) in a.octets().into_iter().enumerate() {
                    if i > 0 {
                        out.push('.');
                    }
                    push_decimal(out, u64::from(octet));
                }
            }
            Host::Ipv6(a) => {
                let _ = write!(out, "[{a}]");
            }
        }
    }
}

impl From<Domain> for Host {
    fn from(d: Domain) -> Host {
        Host::Domain(d)
    }
}

impl From<Ipv4Addr> for Host {
    fn from(a: Ipv4Addr) -> Host {
        Host::Ipv4(a)
    }
}

impl From<Ipv6Addr> for Host {
    fn from(a: Ipv6Addr) -> Host {
        Host::Ipv6(a)
    }
}

impl fmt::Display for Host {
    /// As it stands in an authority: IPv6 in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d.as_str()),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// The decimal digits of `n`, written into `buf`, without `core::fmt`.
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        // `n % 10 < 10`: the cast cannot truncate.
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[at..]
}

fn push_decimal(out: &mut String, n: u64) {
    let mut buf = [0; 20];
    for &d in decimal(n, &mut buf) {
        out.push(char::from(d));
    }
}

/// `host:port`, as CONNECT's request-target (RFC 9112 §3.2.3) and its `Host` field: the port is
/// always written, IPv6 in brackets.
///
/// ```
/// use ferry_proto::{Authority, Host};
/// let a = Authority::new(Host::parse("Example.com").unwrap(), 443);
/// assert_eq!(a.to_string(), "example.com:443");
/// assert_eq!(Authority::parse("[::1]:8443").unwrap().port(), 8443);
/// assert!(Authority::parse("h\r\n:1").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Authority {
    host: Host,
    port: u16,
}

impl Authority {
    /// `host:port`. Infallible: a [`Host`] is checked when it is built.
    #[must_use]
    pub fn new(host: Host, port: u16) -> Authority {
        Authority { host, port }
    }

    /// Parses `host:port` (the port required, IPv6 in brackets), as a CONNECT target is written.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidUrl`] for a bad host, or a missing or bad port
    /// ([`UrlError::InvalidPort`]).
    pub fn parse(s: &str) -> Result<Authority> {
        let (host, port) = match s.rsplit_once(':') {
            // `[::1]`: the last colon is inside the brackets, so no port was given.
            Some((host, port)) if !port.contains(']') => (host, port),
            _ => return Err(invalid(UrlError::InvalidPort)),
        };
        if !host.starts_with('[') && host.contains(':') {
            // A bare IPv6 address has no room for a port.
            return Err(invalid(UrlError::InvalidIpv6));
        }
        Ok(Authority { host: Host::parse(host)?, port: parse_port(port)? })
    }

    /// The host.
    #[must_use]
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port` as written on the wire, without `core::fmt` for the common hosts.
    pub(crate) fn to_wire(&self) -> String {
        let mut s = String::with_capacity(24);
        self.host.push_to(&mut s);
        s.push(':');
        push_decimal(&mut s, u64::from(self.port));
        s
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// An absolute `http` or `https` URL, split into the parts HTTP/1.1 needs.
///
/// The `Host` field value is encoded once, when the URL is built, so encoding a request copies
/// bytes. `Debug` and `Display` never show the userinfo's password.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Url {
    scheme: Scheme,
    host: Host,
    port: Option<u16>,
    /// The `Host` field value: the host, and `:port` when it is not the scheme's default.
    host_value: String,
    /// Path and query, always starting with `/`, without the fragment.
    path_and_query: String,
    /// `user[:password]` as written (still percent-encoded).
    userinfo: Option<String>,
}

impl Url {
    /// Parses `scheme://[userinfo@]host[:port][/path][?query][#fragment]`.
    ///
    /// The fragment is dropped; bytes above 0x7F in the path or query are percent-encoded.
    /// Dot segments are kept as written (see [`Url::join`] for reference resolution).
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
            s.split_once("://").ok_or(invalid(UrlError::MissingSchemeSeparator))?;
        let scheme = Scheme::parse(scheme).ok_or(invalid(UrlError::UnsupportedScheme))?;
        let (userinfo, host, port, rest) = split_authority(rest)?;
        let path_and_query = normalize_target(rest)?;
        Ok(Url::build(scheme, host, port, path_and_query, userinfo.map(String::from)))
    }

    /// Builds a URL from parts; `path_and_query` is checked like in [`Url::parse`] (the host
    /// is checked by its type).
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
        Ok(Url::build(scheme, host, port, path_and_query, None))
    }

    /// Replaces the path and query, checked as in [`Url::from_parts`], in the buffer the URL
    /// already has: a connection that sends many requests to its origin allocates nothing
    /// here once its longest target fitted. On an error the URL is unchanged.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidUrl`] when the path has a space or control byte.
    ///
    /// ```
    /// let mut url = ferry_proto::Url::parse("http://h:8080/a").unwrap();
    /// url.set_path_and_query("b?c=\u{e9}#f").unwrap();
    /// assert_eq!(url.to_string(), "http://h:8080/b?c=%C3%A9");
    /// assert!(url.set_path_and_query("/x y").is_err());
    /// assert_eq!(url.path_and_query(), "/b?c=%C3%A9");
    /// ```
    pub fn set_path_and_query(&mut self, path_and_query: &str) -> Result<()> {
        let s = check_target(path_and_query)?;
        self.path_and_query.clear();
        push_target(s, &mut self.path_and_query);
        Ok(())
    }

    fn build(
        scheme: Scheme,
        host: Host,
        port: Option<u16>,
        path_and_query: String,
        userinfo: Option<String>,
    ) -> Url {
        let mut host_value = String::with_capacity(24);
        host.push_to(&mut host_value);
        match port {
            Some(p) if p != scheme.default_port() => {
                host_value.push(':');
                push_decimal(&mut host_value, u64::from(p));
            }
            _ => {}
        }
        Url { scheme, host, port, host_value, path_and_query, userinfo }
    }

    /// Resolves `reference` against this URL (RFC 3986 §5.2, strict), as a `Location` field
    /// is: `"../g"`, `"/g"`, `"//other/g"`, `"?q"` or a whole URL. Dot segments are removed
    /// (§5.2.4), the fragment is dropped, and the userinfo carries over when the reference
    /// names no authority.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidUrl`] when the result is not an `http` or `https` URL the core
    /// accepts (`"mailto:x"`, `"http:g"`, a space in the reference).
    ///
    /// ```
    /// let base = ferry_proto::Url::parse("http://a/b/c/d;p?q").unwrap();
    /// assert_eq!(base.join("../g?y#s").unwrap().to_string(), "http://a/b/g?y");
    /// assert_eq!(base.join("//h:81/x").unwrap().to_string(), "http://h:81/x");
    /// ```
    pub fn join(&self, reference: &str) -> Result<Url> {
        let r = Reference::split(reference);
        let mut target = String::with_capacity(reference.len() + self.path_and_query.len() + 32);
        let (base_path, base_query) = self
            .path_and_query
            .split_once('?')
            .map_or((self.path_and_query.as_str(), None), |(p, q)| (p, Some(q)));
        // §5.2.2, with §5.2.3's merge; the scheme and authority first, then path and query.
        let (path, query);
        if let Some(scheme) = r.scheme {
            target.push_str(scheme);
            target.push(':');
            if let Some(authority) = r.authority {
                target.push_str("//");
                target.push_str(authority);
            }
            path = remove_dot_segments(r.path);
            query = r.query;
        } else {
            target.push_str(self.scheme.as_str());
            target.push_str("://");
            if let Some(authority) = r.authority {
                target.push_str(authority);
                path = remove_dot_segments(r.path);
                query = r.query;
            } else {
                if let Some(ui) = &self.userinfo {
                    target.push_str(ui);
                    target.push('@');
                }
                self.host.push_to(&mut target);
                if let Some(p) = self.port {
                    target.push(':');
                    push_decimal(&mut target, u64::from(p));
                }
                if r.path.is_empty() {
                    path = String::from(base_path);
                    query = r.query.or(base_query);
                } else if r.path.starts_with('/') {
                    path = remove_dot_segments(r.path);
                    query = r.query;
                } else {
                    // §5.2.3: the base always has an authority and a path starting with '/'.
                    let dir = base_path.rfind('/').map_or("/", |i| &base_path[..=i]);
                    let mut merged = String::with_capacity(dir.len() + r.path.len());
                    merged.push_str(dir);
                    merged.push_str(r.path);
                    path = remove_dot_segments(&merged);
                    query = r.query;
                }
            }
        }
        target.push_str(&path);
        if let Some(q) = query {
            target.push('?');
            target.push_str(q);
        }
        Url::parse(&target)
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

    /// The `Host` field value: the host, and the port only when it is not the scheme's
    /// default (RFC 9110 §7.2). Encoded once, when the URL was built.
    #[must_use]
    pub fn host_header(&self) -> &str {
        &self.host_value
    }
}

impl fmt::Display for Url {
    /// The absolute-form (RFC 9112 §3.2.2): no userinfo, no fragment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme.as_str())?;
        f.write_str("://")?;
        f.write_str(&self.host_value)?;
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

/// A URI reference split by RFC 3986 Appendix B:
/// `^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?`, the fragment dropped.
struct Reference<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

impl<'a> Reference<'a> {
    fn split(s: &'a str) -> Reference<'a> {
        let s = s.split_once('#').map_or(s, |(before, _)| before);
        let (scheme, rest) = match s.find([':', '/', '?']) {
            Some(i) if i > 0 && s.as_bytes()[i] == b':' => (Some(&s[..i]), &s[i + 1..]),
            _ => (None, s),
        };
        let (authority, rest) = match rest.strip_prefix("//") {
            Some(after) => {
                let end = after.find(['/', '?']).unwrap_or(after.len());
                (Some(&after[..end]), &after[end..])
            }
            None => (None, rest),
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        Reference { scheme, authority, path, query }
    }
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut input = path;
    let mut out = String::with_capacity(path.len());
    let pop = |out: &mut String| out.truncate(out.rfind('/').unwrap_or(0));
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest; // A
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest; // A
        } else if input.starts_with("/./") {
            input = &input[2..]; // B
        } else if input == "/." {
            input = "/"; // B
        } else if input.starts_with("/../") {
            input = &input[3..]; // C
            pop(&mut out);
        } else if input == "/.." {
            input = "/"; // C
            pop(&mut out);
        } else if input == "." || input == ".." {
            input = ""; // D
        } else {
            // E: the first segment, with its leading '/' if any, up to the next '/'. A path of
            // a reference with a scheme may start with any character, so the search starts
            // after a '/' only (an ASCII byte, a char boundary).
            let from = usize::from(input.starts_with('/'));
            let end = input[from..].find('/').map_or(input.len(), |i| i + from);
            out.push_str(&input[..end]);
            input = &input[end..];
        }
    }
    out
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
            return Err(invalid(UrlError::UserinfoByte));
        }
    }
    let (host, port) = if hostport.starts_with('[') {
        match hostport.find(']') {
            Some(close) => {
                let after = &hostport[close + 1..];
                let port = match after {
                    "" => None,
                    p => Some(p.strip_prefix(':').ok_or(invalid(UrlError::TextAfterIpv6))?),
                };
                (&hostport[..=close], port)
            }
            None => return Err(invalid(UrlError::UnclosedBracket)),
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

/// `1*5DIGIT` with a value up to 65535.
fn parse_port(p: &str) -> Result<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(UrlError::InvalidPort));
    }
    p.parse::<u16>().map_err(|_| invalid(UrlError::InvalidPort))
}

/// Drops the fragment, makes the path start with `/`, percent-encodes bytes above 0x7F and
/// refuses spaces and control bytes.
fn normalize_target(s: &str) -> Result<String> {
    let s = check_target(s)?;
    let mut out = String::with_capacity(s.len() + 1);
    push_target(s, &mut out);
    Ok(out)
}

/// The target without its fragment, once no byte of it is a space or a control byte.
fn check_target(s: &str) -> Result<&str> {
    // One look at each byte: a target is short, a searcher's set-up would cost more.
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'#' => return Ok(&s[..i]),
            0..=0x20 | 0x7f => return Err(invalid(UrlError::TargetByte)),
            _ => {}
        }
    }
    Ok(s)
}

/// Appends a checked target to `out`: a leading `/` when it has none, bytes above 0x7F
/// percent-encoded.
fn push_target(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if !s.starts_with('/') {
        out.push('/');
    }
    if s.is_ascii() {
        out.push_str(s);
        return;
    }
    for b in s.bytes() {
        if b >= 0x80 {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push(char::from(b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec::Vec;

    #[track_caller]
    fn check(input: &str, expected: core::result::Result<(&str, &str, &str), UrlError>) {
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
        use UrlError::*;
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
        check("http://0.0.0.0/", Ok(("http://0.0.0.0/", "0.0.0.0", "/")));
        check(
            "http://255.255.255.255:65535/",
            Ok(("http://255.255.255.255:65535/", "255.255.255.255:65535", "/")),
        );
        // RFC 3986 §3.2.3: port 0 and 5 digits are still a port; 65536 is not.
        check("http://h:0/", Ok(("http://h:0/", "h:0", "/")));
        check("http://h:00080/", Ok(("http://h/", "h", "/")));
        check("http://h:65536/", Err(InvalidPort));
        check("http://h:000080/", Err(InvalidPort));
        // Userinfo never reaches the target or Host.
        check("http://user:secret@host/", Ok(("http://host/", "host", "/")));
        check("http://a@b@host:81/", Ok(("http://host:81/", "host:81", "/")));
        // Non-ASCII in the path is percent-encoded.
        check("http://h/é", Ok(("http://h/%C3%A9", "h", "/%C3%A9")));
        check("http://h:/", Ok(("http://h/", "h", "/")));
        check("ftp://h/", Err(UnsupportedScheme));
        check("h/", Err(MissingSchemeSeparator));
        check("http:///", Err(EmptyHost));
        check("http://h:99999/", Err(InvalidPort));
        check("http://h:+80/", Err(InvalidPort));
        check("http://h/a b", Err(TargetByte));
        check("http://h/a\r\nX: y", Err(TargetByte));
        check("http://h/a\x7f", Err(TargetByte));
        check("http://h\r\n/", Err(HostByte));
        check("http://[::1/", Err(UnclosedBracket));
        check("http://[::1]x/", Err(TextAfterIpv6));
        check("http://[zz]/", Err(InvalidIpv6));
        check("http://exämple.com/", Err(HostByte));
        check("http://u\0@h/", Err(UserinfoByte));
    }

    #[test]
    fn domains_are_checked_by_every_constructor() {
        use UrlError::*;
        for (input, want) in [
            ("example.com", Ok("example.com")),
            ("EXAMPLE.com.", Ok("example.com.")),
            ("a-b_c~d", Ok("a-b_c~d")),
            ("1.2.3.4.5", Ok("1.2.3.4.5")),
            ("", Err(EmptyHost)),
            ("h\r\nX-Injected: 1", Err(HostByte)),
            ("h h", Err(HostByte)),
            ("h:1", Err(HostByte)),
            ("[::1]", Err(HostByte)),
            ("h\0", Err(HostByte)),
            ("é", Err(HostByte)),
            ("10.0.0.1", Err(DomainIsIpv4)),
        ] {
            let got = Domain::parse(input).map(|d| d.as_str().to_string());
            let want = want.map(ToString::to_string).map_err(|what| ErrorKind::InvalidUrl { what });
            assert_eq!(got.map_err(|e| e.kind().clone()), want, "{input:?}");
        }
        assert_eq!(Host::parse("10.0.0.1").unwrap(), Host::Ipv4(Ipv4Addr::new(10, 0, 0, 1)));
        let d = Domain::parse("a.").unwrap();
        assert_eq!(d.without_trailing_dot().as_str(), "a");
        assert_eq!(Domain::parse(".").unwrap().without_trailing_dot().as_str(), ".");
        assert_eq!(Domain::parse("1.2.3.4.").unwrap().without_trailing_dot().as_str(), "1.2.3.4.");
    }

    #[test]
    fn authorities() {
        use UrlError::*;
        for (input, want) in [
            ("example.com:443", Ok("example.com:443")),
            ("[::1]:8443", Ok("[::1]:8443")),
            ("10.0.0.1:0", Ok("10.0.0.1:0")),
            ("h:65535", Ok("h:65535")),
            ("h:65536", Err(InvalidPort)),
            ("h", Err(InvalidPort)),
            ("[::1]", Err(InvalidPort)),
            ("[::1]:", Err(InvalidPort)),
            ("h:", Err(InvalidPort)),
            ("::1", Err(InvalidIpv6)),
            ("h\r\n:1", Err(HostByte)),
            (":1", Err(EmptyHost)),
        ] {
            let got = Authority::parse(input).map(|a| a.to_wire());
            let want = want.map(ToString::to_string).map_err(|what| ErrorKind::InvalidUrl { what });
            assert_eq!(got.map_err(|e| e.kind().clone()), want, "{input:?}");
        }
        let a = Authority::new(Host::Ipv4(Ipv4Addr::new(192, 0, 2, 1)), 8080);
        assert_eq!(
            (a.to_wire(), a.to_string()),
            ("192.0.2.1:8080".into(), "192.0.2.1:8080".into())
        );
    }

    #[test]
    fn authority_bytes() {
        for b in 0..=255u8 {
            let want = b.is_ascii_alphanumeric() || b"-._~:[]".contains(&b);
            assert_eq!(is_authority_byte(b), want, "{b:#04x}");
        }
    }

    #[test]
    fn decimals() {
        let mut buf = [0; 20];
        for n in [0, 9, 10, 65535, u64::MAX] {
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes());
        }
    }

    /// RFC 3986 §5.4: base `http://a/b/c/d;p?q`. Results are shown as the core's absolute-form
    /// (an empty path is `/`, the fragment dropped); `Err` where the result is no http(s) URL.
    #[test]
    fn join_rfc3986_examples() {
        use UrlError::*;
        let base = Url::parse("http://a/b/c/d;p?q").unwrap();
        #[rustfmt::skip]
        let cases: &[(&str, core::result::Result<&str, UrlError>)] = &[
            // §5.4.1 normal examples.
            ("g:h", Err(MissingSchemeSeparator)), // "g:h": no http URL
            ("g", Ok("http://a/b/c/g")),
            ("./g", Ok("http://a/b/c/g")),
            ("g/", Ok("http://a/b/c/g/")),
            ("/g", Ok("http://a/g")),
            ("//g", Ok("http://g/")),
            ("?y", Ok("http://a/b/c/d;p?y")),
            ("g?y", Ok("http://a/b/c/g?y")),
            ("#s", Ok("http://a/b/c/d;p?q")),
            ("g#s", Ok("http://a/b/c/g")),
            ("g?y#s", Ok("http://a/b/c/g?y")),
            (";x", Ok("http://a/b/c/;x")),
            ("g;x", Ok("http://a/b/c/g;x")),
            ("g;x?y#s", Ok("http://a/b/c/g;x?y")),
            ("", Ok("http://a/b/c/d;p?q")),
            (".", Ok("http://a/b/c/")),
            ("./", Ok("http://a/b/c/")),
            ("..", Ok("http://a/b/")),
            ("../", Ok("http://a/b/")),
            ("../g", Ok("http://a/b/g")),
            ("../..", Ok("http://a/")),
            ("../../", Ok("http://a/")),
            ("../../g", Ok("http://a/g")),
            // §5.4.2 abnormal examples.
            ("../../../g", Ok("http://a/g")),
            ("../../../../g", Ok("http://a/g")),
            ("/./g", Ok("http://a/g")),
            ("/../g", Ok("http://a/g")),
            ("g.", Ok("http://a/b/c/g.")),
            (".g", Ok("http://a/b/c/.g")),
            ("g..", Ok("http://a/b/c/g..")),
            ("..g", Ok("http://a/b/c/..g")),
            ("./../g", Ok("http://a/b/g")),
            ("./g/.", Ok("http://a/b/c/g/")),
            ("g/./h", Ok("http://a/b/c/g/h")),
            ("g/../h", Ok("http://a/b/c/h")),
            ("g;x=1/./y", Ok("http://a/b/c/g;x=1/y")),
            ("g;x=1/../y", Ok("http://a/b/c/y")),
            ("g?y/./x", Ok("http://a/b/c/g?y/./x")),
            ("g?y/../x", Ok("http://a/b/c/g?y/../x")),
            ("g#s/./x", Ok("http://a/b/c/g")),
            ("g#s/../x", Ok("http://a/b/c/g")),
            ("http:g", Err(MissingSchemeSeparator)), // strict: "http:g"
            // Beyond the RFC's table: what a Location may hold.
            ("https://other:8443/x/../y", Ok("https://other:8443/y")),
            ("HTTP://A/b", Ok("http://a/b")),
            ("mailto:x@y", Err(MissingSchemeSeparator)),
            ("ftp://h/", Err(UnsupportedScheme)),
            ("g h", Err(TargetByte)),
            ("//h\r\n/", Err(HostByte)),
            ("/é", Ok("http://a/%C3%A9")),
            // A scheme's path that starts with a multi-byte character (found by wire_props).
            ("x:é/../g", Err(MissingSchemeSeparator)),
            ("http:é/./g", Err(MissingSchemeSeparator)),
        ];
        let mut failures = Vec::new();
        for (reference, want) in cases {
            let got = base.join(reference).map(|u| u.to_string()).map_err(|e| e.kind().clone());
            let want = want.map(ToString::to_string).map_err(|what| ErrorKind::InvalidUrl { what });
            if got != want {
                failures.push((reference, got, want));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn set_path_and_query_is_from_parts_in_place() {
        // Each target as `from_parts` checks and normalizes it, set on a URL that had a longer
        // one (the buffer is reused) and on one that had a shorter one.
        let targets = [
            "/",
            "",
            "a",
            "/a?b=c",
            "/a#frag",
            "#",
            "/é?ü",
            "/%20",
            "/a b",
            "/a\r\nX: y",
            "/\0",
            "/\x7f",
            "/ok#bad byte\r",
        ];
        for target in targets {
            let want = Url::from_parts(Scheme::Http, Host::parse("h").unwrap(), Some(81), target);
            for before in ["/", "/a-much-longer-target-than-any-of-the-others?q=1"] {
                let mut url = Url::parse(&alloc::format!("http://h:81{before}")).unwrap();
                match (url.set_path_and_query(target), &want) {
                    (Ok(()), Ok(want)) => assert_eq!(&url, want, "{target:?}"),
                    (Err(e), Err(want)) => {
                        assert_eq!(e.kind(), want.kind(), "{target:?}");
                        assert_eq!(url.path_and_query(), before, "unchanged after {target:?}");
                    }
                    (got, want) => panic!("{target:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn join_keeps_the_base_authority() {
        let base = Url::parse("http://u:pw@[::1]:80/a/b").unwrap();
        let url = base.join("c?d").unwrap();
        assert_eq!(url.userinfo(), Some("u:pw"));
        assert_eq!(url.port(), Some(80));
        assert_eq!(url.to_string(), "http://[::1]/a/c?d");
        let other = base.join("//h/x").unwrap();
        assert_eq!((other.userinfo(), other.to_string()), (None, "http://h/x".into()));
        let root = Url::parse("https://h").unwrap();
        assert_eq!(root.join("x").unwrap().to_string(), "https://h/x");
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
        assert_eq!(url.authority().to_wire(), "[::1]:443");
    }

    #[test]
    fn from_parts_encodes_the_host_value() {
        let host = Host::Domain(Domain::parse("h").unwrap());
        let url = Url::from_parts(Scheme::Https, host, Some(443), "x").unwrap();
        assert_eq!((url.host_header(), url.to_string()), ("h", "https://h/x".into()));
        let url =
            Url::from_parts(Scheme::Http, Ipv4Addr::LOCALHOST.into(), Some(8080), "/").unwrap();
        assert_eq!(url.host_header(), "127.0.0.1:8080");
    }
}
