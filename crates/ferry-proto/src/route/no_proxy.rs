//! `NO_PROXY`: the hosts that skip the proxy.
//!
//! The list is parsed once ([`NoProxy::parse`]), every entry that cannot be parsed is kept as an
//! [`InvalidNoProxyEntry`] so it can be reported, and matching ([`NoProxy::matches`]) is pure
//! string and integer work: no DNS, so a domain entry never matches an IP-literal host and an IP
//! or CIDR entry never matches a domain.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::url::{Host, Url};

/// What one `NO_PROXY` entry matches.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NoProxyRule {
    /// `*`: every host.
    All,
    /// A domain and every subdomain of it, on a label boundary. Stored lower-cased, without the
    /// leading `.` or `*.` and without one trailing dot.
    Domain(String),
    /// One IP address; matches IP-literal hosts only.
    Ip(IpAddr),
    /// A range of IP addresses (host bits cleared); matches IP-literal hosts only.
    Cidr {
        /// The first address of the range.
        network: IpAddr,
        /// The prefix length: at most 32 for IPv4, 128 for IPv6.
        prefix: u8,
    },
}

/// One parsed entry of a `NO_PROXY` list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NoProxyEntry {
    text: String,
    rule: NoProxyRule,
    port: Option<u16>,
}

impl NoProxyEntry {
    /// The entry as written (trimmed).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What it matches.
    #[must_use]
    pub fn rule(&self) -> &NoProxyRule {
        &self.rule
    }

    /// The port it is restricted to (`host:port`), if any.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Whether this entry matches `host` reached on effective `port`.
    #[must_use]
    pub fn matches(&self, host: &Host, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match (&self.rule, host) {
            (NoProxyRule::All, _) => true,
            (NoProxyRule::Domain(name), Host::Domain(h)) => domain_matches(h.as_str(), name),
            (NoProxyRule::Ip(IpAddr::V4(a)), Host::Ipv4(h)) => a == h,
            (NoProxyRule::Ip(IpAddr::V6(a)), Host::Ipv6(h)) => a == h,
            (NoProxyRule::Cidr { network: IpAddr::V4(n), prefix }, Host::Ipv4(h)) => {
                mask_v4(*h, *prefix) == *n
            }
            (NoProxyRule::Cidr { network: IpAddr::V6(n), prefix }, Host::Ipv6(h)) => {
                mask_v6(*h, *prefix) == *n
            }
            _ => false,
        }
    }
}

impl fmt::Display for NoProxyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why an entry of a `NO_PROXY` list was refused ([`InvalidNoProxyEntry::reason`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoProxyEntryError {
    /// `host:port` with a port that is not a number from 0 to 65535.
    InvalidPort,
    /// A `[` without its `]`.
    UnclosedBracket,
    /// `addr/len` where `addr` is no IP address.
    CidrAddress,
    /// `addr/len` where `len` is not a number of at most three digits.
    CidrPrefix,
    /// A prefix length over 32 (IPv4) or 128 (IPv6).
    CidrPrefixTooLong,
    /// The text between brackets is no IPv6 address.
    InvalidIpv6,
    /// Two colons or more, yet no IPv6 address (a port needs brackets).
    BareIpv6,
    /// Something other than `:port` after `]`.
    TextAfterBracket,
    /// Nothing left of a domain once `.`, `*.` and a trailing dot are taken off.
    EmptyDomain,
    /// A byte outside `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
    DomainByte,
    /// Two dots in a row.
    EmptyLabel,
}

impl fmt::Display for NoProxyEntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use NoProxyEntryError as E;
        f.write_str(match self {
            E::InvalidPort => "port is not a number from 0 to 65535",
            E::UnclosedBracket => "unclosed '['",
            E::CidrAddress => "CIDR range without a valid IP address",
            E::CidrPrefix => "CIDR prefix length is not a number",
            E::CidrPrefixTooLong => "CIDR prefix length longer than the address",
            E::InvalidIpv6 => "invalid IPv6 literal",
            E::BareIpv6 => "invalid IPv6 literal (write a port as [address]:port)",
            E::TextAfterBracket => "unexpected text after ']'",
            E::EmptyDomain => "empty domain",
            E::DomainByte => "domain has a byte outside ALPHA, DIGIT, '-', '.', '_', '~'",
            E::EmptyLabel => "domain has an empty label",
        })
    }
}

/// An entry of a `NO_PROXY` list that could not be parsed. It matches nothing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InvalidNoProxyEntry {
    /// The entry as written (trimmed).
    pub entry: String,
    /// Why it was refused.
    pub reason: NoProxyEntryError,
}

impl fmt::Display for InvalidNoProxyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.entry, self.reason)
    }
}

/// A parsed `NO_PROXY` list.
///
/// Entries are separated by commas or whitespace and trimmed; empty entries match nothing.
///
/// | entry | matches |
/// |---|---|
/// | `*` (anywhere in the list) | every host |
/// | `example.com`, `.example.com`, `*.example.com`, `EXAMPLE.com.` | `example.com` and `a.b.example.com`, never `notexample.com` |
/// | `example.com:8080` | the same hosts, only when the URL's effective port is 8080 |
/// | `10.1.2.3`, `10.1.2.3:8080`, `::1`, `[::1]`, `[::1]:8080` | that IP-literal host |
/// | `10.0.0.0/8`, `fd00::/8`, `[fd00::]/8` | IP-literal hosts in the range |
///
/// No name is ever resolved: `localhost` does not match `127.0.0.1`.
///
/// ```
/// use ferry_proto::Host;
/// use ferry_proto::proxy::NoProxy;
/// let list = NoProxy::parse(".corp.example, 10.0.0.0/8 ,, bad/99");
/// let host = Host::parse("git.corp.example").unwrap();
/// assert_eq!(list.matches(&host, 443).map(|e| e.as_str()), Some(".corp.example"));
/// assert!(list.matches(&Host::parse("corp.example.org").unwrap(), 443).is_none());
/// assert_eq!(list.invalid_entries()[0].entry, "bad/99");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NoProxy {
    entries: Vec<NoProxyEntry>,
    invalid: Vec<InvalidNoProxyEntry>,
}

impl NoProxy {
    /// An empty list: nothing is excluded.
    #[must_use]
    pub fn empty() -> Self {
        NoProxy::default()
    }

    /// Parses a list; see the type's docs. Never fails: bad entries are kept in
    /// [`NoProxy::invalid_entries`]. Cost: linear in the length of `list`.
    #[must_use]
    pub fn parse(list: &str) -> Self {
        let mut out = NoProxy::default();
        for text in list.split(|c: char| c == ',' || c.is_whitespace()) {
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            match parse_entry(text) {
                Ok((rule, port)) => {
                    out.entries.push(NoProxyEntry { text: text.to_string(), rule, port });
                }
                Err(reason) => {
                    out.invalid.push(InvalidNoProxyEntry { entry: text.to_string(), reason });
                }
            }
        }
        out
    }

    /// The entries that parsed, in list order.
    #[must_use]
    pub fn entries(&self) -> &[NoProxyEntry] {
        &self.entries
    }

    /// The entries that did not parse; they match nothing.
    #[must_use]
    pub fn invalid_entries(&self) -> &[InvalidNoProxyEntry] {
        &self.invalid
    }

    /// Whether no valid entry is present (nothing is excluded).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first entry that matches `host` on effective `port`, if any. Cost: linear in the
    /// number of entries.
    #[must_use]
    pub fn matches(&self, host: &Host, port: u16) -> Option<&NoProxyEntry> {
        self.entries.iter().find(|e| e.matches(host, port))
    }

    /// [`NoProxy::matches`] with the URL's host and effective port.
    #[must_use]
    pub fn matches_url(&self, url: &Url) -> Option<&NoProxyEntry> {
        self.matches(url.host(), url.port_or_default())
    }
}

/// Whether `host` is `name` or a subdomain of it: ASCII case-insensitive, one trailing dot of the
/// host ignored. Works on bytes, so it cannot panic whatever the bytes.
fn domain_matches(host: &str, name: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host).as_bytes();
    let name = name.as_bytes();
    if host.len() < name.len() {
        return false;
    }
    let split = host.len() - name.len();
    let (head, tail) = host.split_at(split);
    tail.eq_ignore_ascii_case(name) && (head.is_empty() || head.last() == Some(&b'.'))
}

fn mask_v4(a: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0);
    Ipv4Addr::from(u32::from(a) & mask)
}

fn mask_v6(a: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix.min(128))).unwrap_or(0);
    Ipv6Addr::from(u128::from(a) & mask)
}

fn parse_port(p: &str) -> Result<u16, NoProxyEntryError> {
    use NoProxyEntryError as E;
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(E::InvalidPort);
    }
    p.parse::<u16>().map_err(|_| E::InvalidPort)
}

fn parse_entry(text: &str) -> Result<(NoProxyRule, Option<u16>), NoProxyEntryError> {
    use NoProxyEntryError as E;
    if text == "*" {
        return Ok((NoProxyRule::All, None));
    }
    // A CIDR range: `addr/len`, IPv6 optionally in brackets.
    if let Some((addr, len)) = text.split_once('/') {
        let addr = match addr.strip_prefix('[') {
            Some(inner) => inner.strip_suffix(']').ok_or(E::UnclosedBracket)?,
            None => addr,
        };
        let ip: IpAddr = addr.parse().map_err(|_| E::CidrAddress)?;
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::CidrPrefix);
        }
        let prefix: u8 = len.parse().map_err(|_| E::CidrPrefix)?;
        let network = match ip {
            IpAddr::V4(a) if prefix <= 32 => IpAddr::V4(mask_v4(a, prefix)),
            IpAddr::V6(a) if prefix <= 128 => IpAddr::V6(mask_v6(a, prefix)),
            _ => return Err(E::CidrPrefixTooLong),
        };
        return Ok((NoProxyRule::Cidr { network, prefix }, None));
    }
    // `[v6]` or `[v6]:port`.
    if let Some(rest) = text.strip_prefix('[') {
        let (inner, after) = rest.split_once(']').ok_or(E::UnclosedBracket)?;
        let ip: Ipv6Addr = inner.parse().map_err(|_| E::InvalidIpv6)?;
        let port = match after {
            "" => None,
            _ => Some(parse_port(after.strip_prefix(':').ok_or(E::TextAfterBracket)?)?),
        };
        return Ok((NoProxyRule::Ip(IpAddr::V6(ip)), port));
    }
    // Bare IPv6: two colons or more. A port needs brackets.
    if text.bytes().filter(|&b| b == b':').count() >= 2 {
        let ip: Ipv6Addr = text.parse().map_err(|_| E::BareIpv6)?;
        return Ok((NoProxyRule::Ip(IpAddr::V6(ip)), None));
    }
    let (name, port) = match text.rsplit_once(':') {
        Some((name, port)) => (name, Some(parse_port(port)?)),
        None => (text, None),
    };
    if let Ok(v4) = name.parse::<Ipv4Addr>() {
        return Ok((NoProxyRule::Ip(IpAddr::V4(v4)), port));
    }
    let name = name.strip_prefix("*.").or_else(|| name.strip_prefix('.')).unwrap_or(name);
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err(E::EmptyDomain);
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')) {
        return Err(E::DomainByte);
    }
    if name.split('.').any(str::is_empty) {
        return Err(E::EmptyLabel);
    }
    Ok((NoProxyRule::Domain(name.to_ascii_lowercase()), port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use NoProxyEntryError as E;
    use alloc::format;
    use proptest::prelude::*;

    /// `list` applied to `host` on `port` matches the entry written `expected`.
    #[track_caller]
    fn check(list: &str, host: &str, port: u16, expected: Option<&str>) {
        let host = Host::parse(host).expect("test host parses");
        let parsed = NoProxy::parse(list);
        let got = parsed.matches(&host, port).map(NoProxyEntry::as_str);
        assert_eq!(got, expected, "NO_PROXY={list:?} host={host} port={port}");
    }

    #[test]
    fn matching() {
        // Separators: comma or whitespace, entries trimmed (curl, Requests).
        check("a.test,example.com", "example.com", 80, Some("example.com"));
        check("a.test example.com", "example.com", 80, Some("example.com"));
        check("a.test,\t example.com ,", "example.com", 80, Some("example.com"));
        // Empty entries match nothing.
        check(",,  ,", "example.com", 80, None);
        check("", "example.com", 80, None);
        // `*` anywhere bypasses all (curl: only as the whole entry).
        check("*", "example.com", 80, Some("*"));
        check("a.test, *", "10.1.2.3", 80, Some("*"));
        check("a.test, *", "[::1]", 80, Some("*"));
        // Domains are case-insensitive.
        check("EXAMPLE.com", "Example.COM", 80, Some("EXAMPLE.com"));
        // One trailing dot ignored, on the entry and on the host.
        check("example.com.", "example.com", 80, Some("example.com."));
        check("example.com", "example.com.", 80, Some("example.com"));
        // Leading `.` or `*.` stripped: the domain itself matches too (curl >= 7.86).
        check(".example.com", "example.com", 80, Some(".example.com"));
        check("*.example.com", "example.com", 80, Some("*.example.com"));
        check(".example.com", "a.example.com", 80, Some(".example.com"));
        // Subdomains match on a label boundary, never inside a label.
        check("example.com", "a.b.example.com", 80, Some("example.com"));
        check("example.com", "notexample.com", 80, None);
        check("example.com", "example.com.evil", 80, None);
        check("ample.com", "example.com", 80, None);
        check("b.example.com", "example.com", 80, None);
        // `host:port` restricts to the effective port (the scheme's default when none).
        check("example.com:8080", "example.com", 8080, Some("example.com:8080"));
        check("example.com:8080", "example.com", 80, None);
        check("example.com:443", "example.com", 443, Some("example.com:443"));
        // IPv4 literal, with and without port; matches IP-literal hosts only.
        check("127.0.0.1", "127.0.0.1", 80, Some("127.0.0.1"));
        check("127.0.0.1:3000", "127.0.0.1", 3000, Some("127.0.0.1:3000"));
        check("127.0.0.1:3000", "127.0.0.1", 80, None);
        check("127.0.0.1", "127.0.0.2", 80, None);
        // No DNS: a name never matches an address, an address never a name.
        check("localhost", "127.0.0.1", 80, None);
        check("127.0.0.1", "localhost", 80, None);
        // A domain entry never matches IP hosts by text (Requests' suffix match would).
        check("0.1", "10.0.0.1", 80, None);
        // IPv6 literals, with or without brackets.
        check("::1", "[::1]", 80, Some("::1"));
        check("[::1]", "[::1]", 80, Some("[::1]"));
        check("[::1]:8080", "[::1]", 8080, Some("[::1]:8080"));
        check("[::1]:8080", "[::1]", 80, None);
        check("::1", "[::2]", 80, None);
        check("[2001:DB8::1]", "[2001:db8::1]", 80, Some("[2001:DB8::1]"));
        // CIDR ranges of both families (curl >= 7.86), IP-literal hosts only.
        check("10.0.0.0/8", "10.200.3.4", 80, Some("10.0.0.0/8"));
        check("10.0.0.0/8", "11.0.0.1", 80, None);
        check("192.168.1.77/24", "192.168.1.5", 80, Some("192.168.1.77/24"));
        check("0.0.0.0/0", "203.0.113.9", 80, Some("0.0.0.0/0"));
        check("10.0.0.1/32", "10.0.0.1", 80, Some("10.0.0.1/32"));
        check("fd00::/8", "[fd12::1]", 80, Some("fd00::/8"));
        check("[fd00::]/8", "[fd12::1]", 80, Some("[fd00::]/8"));
        check("fd00::/8", "[fe80::1]", 80, None);
        check("::/0", "[::1]", 80, Some("::/0"));
        check("10.0.0.0/8", "[::ffff:10.0.0.1]", 80, None);
        check("10.0.0.0/8", "ten.example", 80, None);
        // The first matching entry is the one reported.
        check("a.example.com, example.com", "a.example.com", 80, Some("a.example.com"));
        // Invalid entries match nothing, valid neighbours still work.
        check("ex*ample.com, example.com", "example.com", 80, Some("example.com"));
        check("*.*.example.com, example.com", "x.example.com", 80, Some("example.com"));
    }

    #[track_caller]
    fn check_invalid(list: &str, expected: &[(&str, NoProxyEntryError)]) {
        let parsed = NoProxy::parse(list);
        let got: Vec<_> =
            parsed.invalid_entries().iter().map(|i| (i.entry.as_str(), i.reason)).collect();
        assert_eq!(got, expected, "NO_PROXY={list:?}");
    }

    #[test]
    fn unparseable_entries_are_reported() {
        check_invalid("example.com, 10.0.0.0/8, [::1]:80", &[]);
        check_invalid("10.0.0.0/33", &[("10.0.0.0/33", E::CidrPrefixTooLong)]);
        check_invalid("::/129", &[("::/129", E::CidrPrefixTooLong)]);
        check_invalid("10.0.0.0/", &[("10.0.0.0/", E::CidrPrefix)]);
        check_invalid("10.0.0.0/+8", &[("10.0.0.0/+8", E::CidrPrefix)]);
        check_invalid("host/8", &[("host/8", E::CidrAddress)]);
        check_invalid("[::1/8", &[("[::1/8", E::UnclosedBracket)]);
        check_invalid("[::1", &[("[::1", E::UnclosedBracket)]);
        check_invalid("[zz]", &[("[zz]", E::InvalidIpv6)]);
        check_invalid("[::1]x", &[("[::1]x", E::TextAfterBracket)]);
        check_invalid("::1:zz", &[("::1:zz", E::BareIpv6)]);
        check_invalid("host:http", &[("host:http", E::InvalidPort)]);
        check_invalid("host:65536", &[("host:65536", E::InvalidPort)]);
        check_invalid(".", &[(".", E::EmptyDomain)]);
        check_invalid("*.", &[("*.", E::EmptyDomain)]);
        check_invalid("*:80", &[("*:80", E::DomainByte)]);
        check_invalid("a..b", &[("a..b", E::EmptyLabel)]);
        check_invalid("..a", &[("..a", E::EmptyLabel)]);
        check_invalid(
            "ex*ample.com, é.com",
            &[("ex*ample.com", E::DomainByte), ("é.com", E::DomainByte)],
        );
    }

    #[test]
    fn ports_at_the_limits() {
        // RFC 3986 §3.2.3: a port is `*DIGIT`; five digits up to 65535 are a port.
        check("host:30000", "host", 30000, Some("host:30000"));
        check("host:65535", "host", 65535, Some("host:65535"));
        check("host:0", "host", 0, Some("host:0"));
        check("10.0.0.1:65535", "10.0.0.1", 65535, Some("10.0.0.1:65535"));
        check("[::1]:65535", "[::1]", 65535, Some("[::1]:65535"));
        check("host:08080", "host", 8080, Some("host:08080"));
        check_invalid("host:65536", &[("host:65536", E::InvalidPort)]);
        check_invalid("host:080800", &[("host:080800", E::InvalidPort)]);
        check_invalid("[::1]:65536", &[("[::1]:65536", E::InvalidPort)]);
        check_invalid("host:", &[("host:", E::InvalidPort)]);
        // At most five digits, even when the value would fit (`u16::from_str` takes both).
        check_invalid("host:000080", &[("host:000080", E::InvalidPort)]);
        check_invalid("host:+80", &[("host:+80", E::InvalidPort)]);
        // CIDR prefix lengths: exactly the address length, and one past it.
        check("10.0.0.1/32", "10.0.0.1", 80, Some("10.0.0.1/32"));
        check("::1/128", "[::1]", 80, Some("::1/128"));
        check_invalid("::1/0128", &[("::1/0128", E::CidrPrefix)]);
        check_invalid("10.0.0.1/256", &[("10.0.0.1/256", E::CidrPrefix)]);
    }

    #[test]
    fn entries_expose_their_text_rule_and_port() {
        use alloc::string::ToString;
        // What each entry parses to: the text as written (trimmed), the rule, the port it is
        // restricted to. RFC 3986 §3.2.2 (IP literals in brackets), §3.2.3 (port).
        let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
        let cases: &[(&str, NoProxyRule, Option<u16>)] = &[
            ("*", NoProxyRule::All, None),
            ("Example.COM.", NoProxyRule::Domain("example.com".to_string()), None),
            ("*.example.com:8080", NoProxyRule::Domain("example.com".to_string()), Some(8080)),
            ("host:0", NoProxyRule::Domain("host".to_string()), Some(0)),
            ("host:1", NoProxyRule::Domain("host".to_string()), Some(1)),
            ("10.0.0.1:3000", NoProxyRule::Ip(v4(10, 0, 0, 1)), Some(3000)),
            ("[::1]:65535", NoProxyRule::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)), Some(65535)),
            (
                "192.168.1.77/24",
                NoProxyRule::Cidr { network: v4(192, 168, 1, 0), prefix: 24 },
                None,
            ),
        ];
        for (text, rule, port) in cases {
            let parsed = NoProxy::parse(&format!("  {text} "));
            assert_eq!(parsed.invalid_entries(), &[], "NO_PROXY={text:?}");
            let [entry] = parsed.entries() else {
                panic!("NO_PROXY={text:?}: entries {:?}", parsed.entries());
            };
            assert_eq!(
                (entry.as_str(), entry.rule(), entry.port()),
                (*text, rule, *port),
                "NO_PROXY={text:?}"
            );
            assert_eq!(entry.to_string(), *text, "Display of NO_PROXY={text:?}");
        }
    }

    #[test]
    fn empty_means_no_valid_entry() {
        // Only valid entries count: a list of bad entries excludes nothing, so it is empty.
        for (list, empty) in
            [("", true), (" , ,", true), ("bad/99", true), ("example.com", false), ("*", false)]
        {
            let parsed = NoProxy::parse(list);
            assert_eq!(parsed.is_empty(), empty, "NO_PROXY={list:?}: {parsed:?}");
        }
        assert!(NoProxy::empty().is_empty());
    }

    fn host_strategy() -> impl Strategy<Value = Host> {
        prop_oneof![
            "[a-zA-Z0-9.*_~-]{0,30}".prop_filter_map("a domain", |s| Host::parse(&s).ok()),
            any::<String>().prop_filter_map("a host", |s| Host::parse(&s).ok()),
            any::<[u8; 4]>().prop_map(|b| Host::Ipv4(Ipv4Addr::from(b))),
            any::<[u8; 16]>().prop_map(|b| Host::Ipv6(Ipv6Addr::from(b))),
        ]
    }

    proptest! {
        #[test]
        fn matching_never_panics(
            list in prop_oneof![any::<String>(), "[a-f0-9.*:/\\[\\], \t]{0,60}"],
            host in host_strategy(),
            port in any::<u16>(),
        ) {
            let parsed = NoProxy::parse(&list);
            let _ = parsed.matches(&host, port);
            // Every non-empty piece is either an entry or reported.
            let pieces = list
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|p| !p.trim().is_empty())
                .count();
            prop_assert_eq!(parsed.entries().len() + parsed.invalid_entries().len(), pieces);
            let _ = format!("{parsed:?}");
        }

        #[test]
        fn domains_match_on_label_boundaries(
            name in "[a-z0-9-]{1,10}(\\.[a-z0-9-]{1,10}){0,3}",
            sub in "[a-z0-9-]{1,10}",
        ) {
            // Oracle: the label lists.
            let list = NoProxy::parse(&name);
            prop_assume!(list.entries().len() == 1);
            prop_assume!(matches!(list.entries()[0].rule(), NoProxyRule::Domain(_)));
            let dom = |s: String| Host::parse(&s).unwrap();
            prop_assert!(list.matches(&dom(name.clone()), 1).is_some());
            let (below, glued) = (format!("{sub}.{name}"), format!("{sub}{name}"));
            // `1` below `2.3.4` is the address 1.2.3.4, no subdomain.
            prop_assume!(!dom(below.clone()).is_ip());
            prop_assert!(list.matches(&dom(below), 1).is_some());
            prop_assert!(list.matches(&dom(glued), 1).is_none());
            let upper = name.to_ascii_uppercase();
            prop_assert!(NoProxy::parse(&upper).matches(&dom(name.clone()), 1).is_some());
        }
    }
}
