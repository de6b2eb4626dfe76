//! The small, strict URL model the core needs: `http` and `https` URLs with an ASCII host.
//!
//! This is not a WHATWG URL parser: a client layer that accepts what browsers accept (IDNA,
//! backslashes, odd IPv4 forms) converts to this type first. What the core guarantees is that
//! nothing it builds from a [`Url`] puts a space, a control byte or the userinfo on the wire,
//! and this holds through the types: a [`Domain`] can only be built checked, [`Host`] holds a
//! `Domain` or an IP address, and [`Authority`] and [`Url`] have private fields and checking
//! constructors. Whoever writes a host on the wire checks its bytes once more.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

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

/// The most bytes a [`TextBuf`] holds on the stack.
const INLINE: usize = 62;

/// Immutable text of a URL part, shared: cloning never allocates, so URLs, hosts,
/// authorities and pool keys are cheap to copy around per request. (Text held inline would
/// spare the one allocation of a short URL but cost a UTF-8 check at every read, without
/// `unsafe`: more than the allocation.)
///
/// It may be the start of a longer shared text: a URL's domain is the start of the URL's own
/// text, so parsing a URL allocates once, whatever its host.
#[derive(Clone)]
struct Text {
    shared: Arc<str>,
    /// The text is `shared[..len]`, a char boundary.
    len: usize,
}

impl Text {
    fn as_str(&self) -> &str {
        self.shared.get(..self.len).unwrap_or_default()
    }

    /// `s` lower-cased (ASCII).
    fn lowercase(s: &str) -> Text {
        let mut buf = TextBuf::new();
        buf.push_str(s);
        buf.make_ascii_lowercase();
        buf.finish()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> core::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl core::hash::Hash for Text {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Builds a [`Text`]: on the stack while it fits [`INLINE`], on the heap past it, then copied
/// into the one shared allocation. Only `&str` pieces and ASCII runs go in, so the result is
/// UTF-8.
struct TextBuf {
    bytes: [u8; INLINE],
    len: usize,
    spilled: Option<Vec<u8>>,
}

impl TextBuf {
    fn new() -> TextBuf {
        TextBuf { bytes: [0; INLINE], len: 0, spilled: None }
    }

    fn len(&self) -> usize {
        self.spilled.as_ref().map_or(self.len, Vec::len)
    }

    /// Appends bytes that are UTF-8 on their own (a `&str`, or an ASCII run).
    fn push_bytes(&mut self, b: &[u8]) {
        match &mut self.spilled {
            None if self.len + b.len() <= INLINE => {
                self.bytes[self.len..self.len + b.len()].copy_from_slice(b);
                self.len += b.len();
            }
            None => {
                let mut v = Vec::with_capacity((self.len + b.len()).max(2 * INLINE));
                v.extend_from_slice(&self.bytes[..self.len]);
                v.extend_from_slice(b);
                self.spilled = Some(v);
            }
            Some(v) => v.extend_from_slice(b),
        }
    }

    fn push_str(&mut self, s: &str) {
        self.push_bytes(s.as_bytes());
    }

    /// Lower-cases (ASCII) everything pushed so far.
    fn make_ascii_lowercase(&mut self) {
        match &mut self.spilled {
            None => self.bytes[..self.len].make_ascii_lowercase(),
            Some(v) => v.make_ascii_lowercase(),
        }
    }

    /// What was pushed: `&str` pieces and ASCII runs, so UTF-8 (the empty fallback is never
    /// taken).
    fn as_str(&self) -> &str {
        let bytes = self.spilled.as_deref().unwrap_or(&self.bytes[..self.len]);
        core::str::from_utf8(bytes).unwrap_or_default()
    }

    fn finish(self) -> Text {
        let shared: Arc<str> = Arc::from(self.as_str());
        Text { len: shared.len(), shared }
    }
}

impl fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }
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
///
/// Cloning never allocates (the name is shared).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(Text);

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
        if parse_ipv4(s).is_some() {
            return Err(invalid(UrlError::DomainIsIpv4));
        }
        Ok(Domain(Text::lowercase(s)))
    }

    /// [`Domain::parse`]'s checks of a name already known not to read as an IPv4 address.
    fn check_not_ipv4(s: &str) -> Result<()> {
        if s.is_empty() {
            return Err(invalid(UrlError::EmptyHost));
        }
        if !s.bytes().all(is_domain_byte) {
            return Err(invalid(UrlError::HostByte));
        }
        Ok(())
    }

    /// The name, lower-cased.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The same name without one trailing dot, when what is left is still a domain.
    #[must_use]
    pub(crate) fn without_trailing_dot(self) -> Domain {
        match self.as_str().strip_suffix('.') {
            Some(rest) if !rest.is_empty() && rest.parse::<Ipv4Addr>().is_err() => {
                Domain(Text::lowercase(rest))
            }
            _ => self,
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for Domain {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// `s` as an IPv4 address in std's syntax (four decimal octets, no leading zero, no sign),
/// if it is one; read in one pass.
fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    let b = s.as_bytes();
    if b.len() < 7 || b.len() > 15 {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut at = 0;
    for (i, octet) in octets.iter_mut().enumerate() {
        if i > 0 {
            if b.get(at) != Some(&b'.') {
                return None;
            }
            at += 1;
        }
        let start = at;
        let mut n: u16 = 0;
        while let Some(&d) = b.get(at).filter(|d| d.is_ascii_digit()) {
            if at - start == 3 {
                return None;
            }
            n = n * 10 + u16::from(d - b'0');
            at += 1;
        }
        let digits = at - start;
        if digits == 0 || (digits > 1 && b[start] == b'0') {
            return None;
        }
        *octet = u8::try_from(n).ok()?;
    }
    (at == b.len()).then(|| Ipv4Addr::from(octets))
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
        Ok(match Host::parse_deferred(s)? {
            Parsed::Host(host) => host,
            Parsed::Domain(name) => Host::Domain(Domain(Text::lowercase(name))),
        })
    }

    /// [`Host::parse`], a domain checked but not yet copied.
    fn parse_deferred(s: &str) -> Result<Parsed<'_>> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or(invalid(UrlError::UnclosedBracket))?;
            return inner
                .parse::<Ipv6Addr>()
                .map(|a| Parsed::Host(Host::Ipv6(a)))
                .map_err(|_| invalid(UrlError::InvalidIpv6));
        }
        if s.contains(':') {
            return s
                .parse::<Ipv6Addr>()
                .map(|a| Parsed::Host(Host::Ipv6(a)))
                .map_err(|_| invalid(UrlError::InvalidIpv6));
        }
        if let Some(v4) = parse_ipv4(s) {
            return Ok(Parsed::Host(Host::Ipv4(v4)));
        }
        Domain::check_not_ipv4(s)?;
        Ok(Parsed::Domain(s))
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
    pub(crate) fn push_to(&self, out: &mut impl Sink) {
        // Writing to a `String` or a `TextBuf` cannot fail.
        match self {
            Host::Domain(d) => {
                let _ = out.write_str(d.as_str());
            }
            Host::Ipv4(a) => {
                // Written on the stack, appended at once.
                let mut buf = [0; 15];
                let mut len = 0;
                for (i, octet) in a.octets().into_iter().enumerate() {
                    if i > 0 {
                        buf[len] = b'.';
                        len += 1;
                    }
                    let mut digits = [0; 20];
                    let d = decimal(u64::from(octet), &mut digits);
                    buf[len..len + d.len()].copy_from_slice(d);
                    len += d.len();
                }
                out.push_ascii(&buf[..len]);
            }
            Host::Ipv6(a) => {
                let _ = write!(out, "[{a}]");
            }
        }
    }
}

/// A parsed host, a domain still as written (checked, not lower-cased, not copied).
enum Parsed<'a> {
    Host(Host),
    Domain(&'a str),
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

fn push_decimal(out: &mut impl Sink, n: u64) {
    let mut buf = [0; 20];
    out.push_ascii(decimal(n, &mut buf));
}

/// Where URL text is written: a `String`, or a [`TextBuf`].
pub(crate) trait Sink: fmt::Write {
    /// Appends ASCII bytes (the caller's promise; a non-ASCII byte would be lost).
    fn push_ascii(&mut self, b: &[u8]);
}

impl Sink for String {
    fn push_ascii(&mut self, b: &[u8]) {
        self.extend(b.iter().filter(|b| b.is_ascii()).map(|&b| char::from(b)));
    }
}

impl Sink for TextBuf {
    fn push_ascii(&mut self, b: &[u8]) {
        if b.is_ascii() {
            self.push_bytes(b);
        }
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
///
/// Cloning never allocates: its text (host value, path, query and userinfo together) is one
/// shared allocation, made once when the URL is built. (A URL whose target is rewritten in
/// place, [`Url::set_path_and_query`], owns its text instead.)
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Url {
    scheme: Scheme,
    host: Host,
    port: Option<u16>,
    /// The `Host` field value (the host, and `:port` when it is not the scheme's default),
    /// then path and query (starting with `/`, without the fragment), then the userinfo
    /// (`user[:password]` as written, still percent-encoded), one after the other.
    text: UrlText,
    /// Where the path begins in `text`.
    path_at: usize,
    /// Where the userinfo begins in `text`, if the URL has one.
    userinfo_at: Option<usize>,
}

/// A URL's text: shared once built (cloning never allocates, a domain host is a view of it),
/// or owned once its target was rewritten in place ([`Url::set_path_and_query`]: a
/// connection that sends many requests to one origin reuses one buffer). Compared and hashed
/// as text, whichever it is.
#[derive(Clone)]
enum UrlText {
    Shared(Arc<str>),
    Owned(String),
}

impl core::ops::Deref for UrlText {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        match self {
            UrlText::Shared(s) => s,
            UrlText::Owned(s) => s,
        }
    }
}

impl PartialEq for UrlText {
    fn eq(&self, other: &UrlText) -> bool {
        **self == **other
    }
}

impl Eq for UrlText {}

impl core::hash::Hash for UrlText {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
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
        let (scheme, rest) = split_scheme(s)?;
        let (userinfo, host, port, rest, written) = split_authority_as_written(rest)?;
        // An IPv4 `host:port` as written is the `Host` value, unless the port is the default.
        let as_written = written.filter(|_| port != Some(scheme.default_port()));
        Url::build_with(scheme, host, port, as_written, rest, userinfo)
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
        Url::build(scheme, host, port, path_and_query, None)
    }

    /// The URL of these parts, `target` normalized ([`normalize_target`]).
    fn build(
        scheme: Scheme,
        host: Host,
        port: Option<u16>,
        target: &str,
        userinfo: Option<&str>,
    ) -> Result<Url> {
        Url::build_with(scheme, Parsed::Host(host), port, None, target, userinfo)
    }

    /// [`Url::build`], the `Host` value given as `host_value` when the caller has it written
    /// exactly so.
    fn build_with(
        scheme: Scheme,
        host: Parsed<'_>,
        port: Option<u16>,
        host_value: Option<&str>,
        target: &str,
        userinfo: Option<&str>,
    ) -> Result<Url> {
        let mut text = TextBuf::new();
        if let Some(written) = host_value {
            text.push_str(written);
        } else {
            match &host {
                Parsed::Host(h) => h.push_to(&mut text),
                // The domain opens the text, lower-cased: the host shares it below.
                Parsed::Domain(name) => {
                    text.push_str(name);
                    text.make_ascii_lowercase();
                }
            }
            match port {
                Some(p) if p != scheme.default_port() => {
                    text.push_str(":");
                    push_decimal(&mut text, u64::from(p));
                }
                _ => {}
            }
        }
        let path_at = text.len();
        normalize_target(target, &mut text)?;
        let userinfo_at = userinfo.map(|ui| {
            let at = text.len();
            text.push_str(ui);
            at
        });
        let text = text.finish().shared;
        let host = match host {
            Parsed::Host(h) => h,
            Parsed::Domain(name) => {
                Host::Domain(Domain(Text { shared: Arc::clone(&text), len: name.len() }))
            }
        };
        Ok(Url { scheme, host, port, text: UrlText::Shared(text), path_at, userinfo_at })
    }

    /// Replaces the path and query, normalized as in [`Url::from_parts`]. The URL then owns
    /// its text and rewrites it in place: a connection that sends many requests to its origin
    /// allocates nothing here once its longest target fitted. On an error the URL is unchanged.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidUrl`] when the target has a space or a control byte.
    ///
    /// ```
    /// let mut url = ferry_proto::Url::parse("http://h:8080/a").unwrap();
    /// url.set_path_and_query("b?c=\u{e9}#f").unwrap();
    /// assert_eq!(url.to_string(), "http://h:8080/b?c=%C3%A9");
    /// assert!(url.set_path_and_query("/x y").is_err());
    /// assert_eq!(url.path_and_query(), "/b?c=%C3%A9");
    /// ```
    pub fn set_path_and_query(&mut self, path_and_query: &str) -> Result<()> {
        let mut target = TextBuf::new();
        normalize_target(path_and_query, &mut target)?;
        let target = target.as_str();
        let userinfo_len = self.userinfo_at.map_or(0, |at| self.text.len() - at);
        let mut owned = match core::mem::replace(&mut self.text, UrlText::Owned(String::new())) {
            UrlText::Owned(s) => s,
            UrlText::Shared(s) => {
                let mut o = String::with_capacity(s.len() + target.len());
                o.push_str(&s);
                o
            }
        };
        // host value | target | userinfo: the userinfo moves to follow the new target.
        let userinfo_from = owned.len() - userinfo_len;
        if userinfo_len > 0 {
            let mut rebuilt = String::with_capacity(self.path_at + target.len() + userinfo_len);
            rebuilt.push_str(&owned[..self.path_at]);
            rebuilt.push_str(target);
            rebuilt.push_str(&owned[userinfo_from..]);
            owned = rebuilt;
            self.userinfo_at = Some(owned.len() - userinfo_len);
        } else {
            owned.truncate(self.path_at);
            owned.push_str(target);
        }
        self.text = UrlText::Owned(owned);
        Ok(())
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
        let base = self.path_and_query();
        let mut target = String::with_capacity(reference.len() + base.len() + 32);
        let (base_path, base_query) =
            base.split_once('?').map_or((base, None), |(p, q)| (p, Some(q)));
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
                if let Some(ui) = self.userinfo() {
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
        let text = &*self.text;
        text.get(self.path_at..self.userinfo_at.unwrap_or(text.len())).unwrap_or_default()
    }

    /// The userinfo as written, still percent-encoded; never put on the wire by the core.
    #[must_use]
    pub fn userinfo(&self) -> Option<&str> {
        self.userinfo_at.and_then(|at| self.text.get(at..))
    }

    /// The `Host` field value: the host, and the port only when it is not the scheme's
    /// default (RFC 9110 §7.2). Encoded once, when the URL was built.
    #[must_use]
    pub fn host_header(&self) -> &str {
        self.text.get(..self.path_at).unwrap_or_default()
    }
}

impl fmt::Display for Url {
    /// The absolute-form (RFC 9112 §3.2.2): no userinfo, no fragment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme.as_str())?;
        f.write_str("://")?;
        let text = &*self.text;
        f.write_str(text.get(..self.userinfo_at.unwrap_or(text.len())).unwrap_or_default())
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Url");
        d.field("scheme", &self.scheme).field("host", &self.host).field("port", &self.port);
        d.field("path_and_query", &self.path_and_query());
        if let Some(ui) = self.userinfo() {
            let user = ui.split_once(':').map_or(ui, |(u, _)| u);
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

/// The scheme before the first `://`, and what follows it. `http://` and `https://` in any
/// case are read at once; anything else goes through the general split (whose answer they
/// would get too).
fn split_scheme(s: &str) -> Result<(Scheme, &str)> {
    let b = s.as_bytes();
    // The prefixes are ASCII: the slices below start on a char boundary.
    if b.len() >= 7 && b[..7].eq_ignore_ascii_case(b"http://") {
        return Ok((Scheme::Http, &s[7..]));
    }
    if b.len() >= 8 && b[..8].eq_ignore_ascii_case(b"https://") {
        return Ok((Scheme::Https, &s[8..]));
    }
    split_scheme_slow(s)
}

/// [`split_scheme`] for every input.
fn split_scheme_slow(s: &str) -> Result<(Scheme, &str)> {
    let (scheme, rest) = s.split_once("://").ok_or(invalid(UrlError::MissingSchemeSeparator))?;
    Ok((Scheme::parse(scheme).ok_or(invalid(UrlError::UnsupportedScheme))?, rest))
}

/// Splits `[userinfo@]host[:port]rest` where `rest` starts at the first `/`, `?` or `#`.
pub(crate) fn split_authority(s: &str) -> Result<(Option<&str>, Host, Option<u16>, &str)> {
    let (userinfo, host, port, rest, _) = split_authority_as_written(s)?;
    let host = match host {
        Parsed::Host(host) => host,
        Parsed::Domain(name) => Host::Domain(Domain(Text::lowercase(name))),
    };
    Ok((userinfo, host, port, rest))
}

/// Userinfo, host, port, the rest, and `host[:port]` as written when it is canonical.
type AsWritten<'a> = (Option<&'a str>, Parsed<'a>, Option<u16>, &'a str, Option<&'a str>);

/// [`split_authority`], and `host[:port]` as written when it is exactly how a [`Url`] writes
/// its `Host` value (an IPv4 host, a port with no leading zero): a URL copies it as it is.
fn split_authority_as_written(s: &str) -> Result<AsWritten<'_>> {
    // One look: the end of the authority and its last `@`.
    let mut end = s.len();
    let mut last_at = None;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        match b {
            b'/' | b'?' | b'#' => {
                end = i;
                break;
            }
            b'@' => last_at = Some(i),
            _ => {}
        }
    }
    // `end` and `last_at` index ASCII bytes: char boundaries.
    let (authority, rest) = s.split_at(end);
    let (userinfo, hostport) = match last_at {
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
        match hostport.bytes().rposition(|b| b == b':') {
            Some(colon) => (&hostport[..colon], Some(&hostport[colon + 1..])),
            None => (hostport, None),
        }
    };
    let port_text = port;
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(parse_port(p)?),
    };
    let host_text = host;
    let host = Host::parse_deferred(host)?;
    let canonical = match (&host, port_text) {
        (Parsed::Host(Host::Ipv4(_)), None) => Some(host_text),
        // `hostport` is `host:port` here (an IPv4 host has no brackets).
        (Parsed::Host(Host::Ipv4(_)), Some(p))
            if p.len() == 1 || (!p.is_empty() && !p.starts_with('0')) =>
        {
            Some(hostport)
        }
        _ => None,
    };
    Ok((userinfo, host, port, rest, canonical))
}

/// `1*5DIGIT` with a value up to 65535.
fn parse_port(p: &str) -> Result<u16> {
    if p.is_empty() || p.len() > 5 {
        return Err(invalid(UrlError::InvalidPort));
    }
    let mut n: u32 = 0;
    for b in p.bytes() {
        if !b.is_ascii_digit() {
            return Err(invalid(UrlError::InvalidPort));
        }
        n = n * 10 + u32::from(b - b'0');
    }
    u16::try_from(n).map_err(|_| invalid(UrlError::InvalidPort))
}

/// Drops the fragment, makes the path start with `/`, percent-encodes bytes above 0x7F and
/// refuses spaces and control bytes; appends the result to `out`. Runs of plain bytes are
/// copied at once.
fn normalize_target(s: &str, out: &mut TextBuf) -> Result<()> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let s = s.split_once('#').map_or(s, |(before, _)| before);
    if !s.starts_with('/') {
        out.push_str("/");
    }
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            0..=0x20 | 0x7f => return Err(invalid(UrlError::TargetByte)),
            0x80..=0xff => {
                // The run holds ASCII bytes only: UTF-8 on its own.
                out.push_bytes(&bytes[run..i]);
                out.push_bytes(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
                run = i + 1;
            }
            _ => {}
        }
    }
    out.push_bytes(&bytes[run..]);
    Ok(())
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

    /// The target as the byte-at-a-time normalizer wrote it before runs were copied whole.
    fn naive_target(s: &str) -> Option<alloc::string::String> {
        let s = s.split_once('#').map_or(s, |(before, _)| before);
        let mut out = alloc::string::String::new();
        if !s.starts_with('/') {
            out.push('/');
        }
        for b in s.bytes() {
            match b {
                0..=0x20 | 0x7f => return None,
                0x80..=0xff => out.push_str(&alloc::format!("%{b:02X}")),
                _ => out.push(char::from(b)),
            }
        }
        Some(out)
    }

    proptest::proptest! {
        /// Whatever the lengths (inline, at the edge, shared), every part reads back as it was
        /// written, clones and re-parses are equal, and the target is what the byte-at-a-time
        /// normalizer gives.
        #[test]
        fn parts_read_back_across_the_inline_edge(
            host in "[a-zA-Z0-9][a-zA-Z0-9.-]{0,80}",
            port in proptest::option::of(0u16..),
            user in proptest::option::of("[a-z:%0-9]{0,40}"),
            target in "([/?#][/?a-z0-9 é#\u{1}]{0,90})?",
        ) {
            let https = port.is_some_and(|p| p % 2 == 0);
            let scheme = if https { "https" } else { "http" };
            let ui = user.as_deref().map(|u| alloc::format!("{u}@")).unwrap_or_default();
            let pt = port.map(|p| alloc::format!(":{p}")).unwrap_or_default();
            let text = alloc::format!("{scheme}://{ui}{host}{pt}{target}");
            let want = naive_target(&target);
            let Ok(url) = Url::parse(&text) else {
                // Only a bad target or a host that reads as an IPv4 address is refused here.
                proptest::prop_assert!(want.is_none() || host.parse::<Ipv4Addr>().is_ok(), "{text}");
                return Ok(());
            };
            let want = want.unwrap();
            proptest::prop_assert_eq!(url.path_and_query(), want.as_str());
            proptest::prop_assert_eq!(url.userinfo(), user.as_deref());
            let lower = host.to_ascii_lowercase();
            let default = if https { 443 } else { 80 };
            let host_value = match port {
                Some(p) if p != default => alloc::format!("{lower}:{p}"),
                _ => lower.clone(),
            };
            proptest::prop_assert_eq!(url.host_header(), host_value.as_str());
            if let Host::Domain(d) = url.host() {
                proptest::prop_assert_eq!(d.as_str(), lower.as_str());
                proptest::prop_assert_eq!(d.clone(), Domain::parse(&host).unwrap());
            }
            proptest::prop_assert_eq!(url.to_string(), alloc::format!("{scheme}://{host_value}{want}"));
            proptest::prop_assert_eq!(&url.clone(), &url);
            proptest::prop_assert_eq!(&Url::parse(&text).unwrap(), &url);
            let again = Url::from_parts(url.scheme(), url.host().clone(), url.port(), &want);
            proptest::prop_assert_eq!(again.unwrap().to_string(), url.to_string());
        }
    }

    /// What may reach the wire from a `Url`: its `Host` value only authority bytes (the
    /// encoder no longer looks again), its target no space, control byte or DEL.
    fn wire_safe(url: &Url) -> bool {
        url.host_header().bytes().all(is_authority_byte)
            && url.path_and_query().bytes().all(|b| b > 0x20 && b != 0x7f)
    }

    proptest::proptest! {
        /// Every constructor holds the invariant the request encoder relies on, whatever it
        /// is given: hostile text with CR, LF, NUL, spaces, `@`, brackets and non-ASCII.
        #[test]
        fn every_url_is_wire_safe_however_it_was_made(
            text in "(https?://)?[a-zA-Z0-9.:@\\[\\]%/?# \r\n\t\u{0}\u{7f}é-]{0,40}",
            host in "[a-zA-Z0-9.:@\\[\\] \r\n\u{0}é-]{0,20}",
            reference in "[a-zA-Z0-9.:@/?#% \r\n\u{0}é-]{0,30}",
            port in proptest::option::of(0u16..),
        ) {
            let base = Url::parse("http://u:p@base.example:8080/a/b?c").unwrap();
            let mut made = alloc::vec::Vec::new();
            made.extend(Url::parse(&text).ok());
            if let Ok(h) = Host::parse(&host) {
                made.extend(Url::from_parts(Scheme::Http, h.clone(), port, &reference).ok());
                made.extend(Url::from_parts(Scheme::Https, h, port, &text).ok());
            }
            made.extend(base.join(&reference).ok());
            made.extend(base.join(&text).ok());
            let mut rewritten = base.clone();
            if rewritten.set_path_and_query(&reference).is_ok() {
                made.push(rewritten);
            }
            for url in &made {
                proptest::prop_assert!(wire_safe(url), "{url:?}");
            }
        }
    }

    proptest::proptest! {
        /// The read-at-once `http://` and `https://` prefixes say what the general split says.
        #[test]
        fn the_scheme_fast_path_agrees_with_the_general_split(
            s in "([hH][tT][tT][pP][sS]?|[hH][tT]{1,2}[pP]|ftp|)(:|/|://|:/)?[a-z/:@]{0,6}",
        ) {
            proptest::prop_assert_eq!(split_scheme(&s), split_scheme_slow(&s), "{}", s);
        }

        /// A host is an IPv4 address exactly when std's parser says so.
        #[test]
        fn ipv4_hosts_are_what_std_parses(
            s in "[0-9a-f.x+-]{0,16}|(0|[0-9]{1,4})(\\.(0|00|[0-9]{1,4}|)){0,5}",
        ) {
            proptest::prop_assert_eq!(parse_ipv4(&s), s.parse::<Ipv4Addr>().ok());
        }

        /// An IPv4 `host:port` copied as written is what the URL would write itself.
        #[test]
        fn an_ipv4_host_value_as_written_is_the_one_built(
            a in 0u8.., b in 0u8.., c in 0u8.., d in 0u8..,
            port in proptest::option::of("[0-9]{0,5}"),
            https in proptest::bool::ANY,
        ) {
            let scheme = if https { "https" } else { "http" };
            let pt = port.as_deref().map(|p| alloc::format!(":{p}")).unwrap_or_default();
            let text = alloc::format!("{scheme}://{a}.{b}.{c}.{d}{pt}/x");
            if let Ok(url) = Url::parse(&text) {
                let host = Host::Ipv4(Ipv4Addr::new(a, b, c, d));
                let built = Url::from_parts(url.scheme(), host, url.port(), "/x").unwrap();
                proptest::prop_assert_eq!(url.host_header(), built.host_header(), "{}", text);
                proptest::prop_assert_eq!(&url, &built);
            } else {
                let p = port.unwrap();
                proptest::prop_assert!(p.parse::<u16>().is_err(), "{}", text);
            }
        }

        /// A port is what std's `u16` parser reads from one to five digits.
        #[test]
        fn ports_are_what_std_parses(p in "[0-9]{0,6}|[0-9+ -]{0,4}") {
            let std = (!p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u16>().ok())
                .flatten();
            proptest::prop_assert_eq!(parse_port(&p).ok(), std);
        }
    }

    #[test]
    fn a_target_rewritten_in_place_keeps_the_rest_and_its_buffer() {
        let mut url = Url::parse("https://user:pw@Example.com:8443/a?b#c").unwrap();
        let before = url.clone();
        url.set_path_and_query("/longer/path?q=1#frag").unwrap();
        assert_eq!(url.to_string(), "https://example.com:8443/longer/path?q=1");
        assert_eq!(url.userinfo(), Some("user:pw"));
        assert_eq!(url.host_header(), "example.com:8443");
        assert_eq!(url.host(), before.host());
        assert_eq!(before.path_and_query(), "/a?b", "a clone keeps its own text");
        url.set_path_and_query("/a?b").unwrap();
        assert_eq!(url, before, "equal as text, shared or owned");
        let hasher = std::collections::hash_map::RandomState::new();
        use core::hash::BuildHasher as _;
        assert_eq!(hasher.hash_one(&url), hasher.hash_one(&before));

        let mut url = Url::parse("http://127.0.0.1:8080/").unwrap();
        url.set_path_and_query("/a-long-enough-first-target").unwrap();
        let UrlText::Owned(text) = &url.text else { panic!("{url:?}") };
        let (at, cap) = (text.as_ptr(), text.capacity());
        for target in ["/b", "c?d=\u{e9}", "/a-long-enough-first-targe"] {
            url.set_path_and_query(target).unwrap();
            let UrlText::Owned(text) = &url.text else { panic!("{url:?}") };
            assert_eq!((text.as_ptr(), text.capacity()), (at, cap), "{target}: no new buffer");
        }
        assert_eq!(url.path_and_query(), "/a-long-enough-first-targe");
        assert!(url.set_path_and_query("/x\ny").is_err());
        assert_eq!(url.path_and_query(), "/a-long-enough-first-targe", "unchanged on error");
        assert_eq!(Url::parse(&url.to_string()).unwrap(), url);
    }

    #[test]
    fn a_urls_domain_shares_the_urls_one_allocation_and_compares_as_any_domain() {
        use core::hash::BuildHasher as _;
        let hasher = std::collections::hash_map::RandomState::new();
        let url = Url::parse("http://Example.COM:8080/Path").unwrap();
        let Host::Domain(d) = url.host() else { panic!("{url:?}") };
        let UrlText::Shared(text) = &url.text else { panic!("{url:?}") };
        assert!(Arc::ptr_eq(&d.0.shared, text), "one allocation");
        assert_eq!(d.as_str(), "example.com");
        assert_eq!(url.host_header(), "example.com:8080");
        let alone = Domain::parse("EXAMPLE.com").unwrap();
        assert!(!Arc::ptr_eq(&d.0.shared, &alone.0.shared));
        assert_eq!(d, &alone);
        assert_eq!(d.cmp(&alone), core::cmp::Ordering::Equal);
        assert_eq!(hasher.hash_one(d), hasher.hash_one(&alone));
        assert_eq!(url.authority(), Authority::parse("example.com:8080").unwrap());
        assert!(d < &Domain::parse("example.comx").unwrap());
    }

    #[test]
    fn texts_on_either_side_of_the_stack_buffer_read_back_lower_cased() {
        for n in [0, 1, INLINE - 1, INLINE, INLINE + 1, 3 * INLINE] {
            let upper = "A".repeat(n);
            assert_eq!(Text::lowercase(&upper).as_str(), "a".repeat(n), "{n}");
            let mut buf = TextBuf::new();
            buf.push_str(&upper[..n / 2]);
            buf.push_bytes(&upper.as_bytes()[n / 2..]);
            assert_eq!(buf.len(), n);
            assert_eq!(buf.finish().as_str(), upper, "{n}");
        }
        assert_eq!(alloc::format!("{:?}", Domain::parse("Ex.COM").unwrap()), r#"Domain("ex.com")"#);
    }
}
