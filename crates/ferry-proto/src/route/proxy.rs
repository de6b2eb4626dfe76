//! One proxy: where it is, how to talk to it, who we are to it.

use alloc::string::{String, ToString};
use core::fmt;

use percent_encoding::percent_decode_str;

use crate::auth::{Credentials, ProxyAuth};
use crate::error::{Error, ErrorKind, Result};
use crate::url::{Authority, Scheme, UrlError, split_authority};

/// What is wrong with a proxy URL ([`ErrorKind::InvalidProxyUrl`]). Never shows the URL, which
/// may hold credentials.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyUrlError {
    /// The host or port, as [`Url::parse`](crate::Url::parse) would say.
    Url(UrlError),
    /// A path, query or fragment after the authority (`/` alone is allowed).
    HasPath,
    /// Port 0, which no proxy listens on.
    PortZero,
    /// The userinfo is not UTF-8 once percent-decoded.
    UserinfoNotUtf8,
}

impl fmt::Display for ProxyUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyUrlError::Url(e) => fmt::Display::fmt(e, f),
            ProxyUrlError::HasPath => f.write_str("proxy URL has a path, query or fragment"),
            ProxyUrlError::PortZero => f.write_str("port 0"),
            ProxyUrlError::UserinfoNotUtf8 => {
                f.write_str("userinfo is not UTF-8 once percent-decoded")
            }
        }
    }
}

/// How requests go through a proxy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProxyMode {
    /// Plain `http://` requests are forwarded in absolute-form (RFC 9112 §3.2.2); `https://`
    /// requests are tunnelled with CONNECT (RFC 9110 §9.3.6). What curl, Requests and reqwest do.
    #[default]
    Forward,
    /// Every request is tunnelled with CONNECT, plain HTTP too (curl's `--proxytunnel`): the
    /// proxy sees only the target's host and port.
    Tunnel,
}

/// An HTTP proxy: its scheme (`https` means TLS to the proxy itself), host and port, optional
/// credentials and a [`ProxyMode`].
///
/// `Debug` and `Display` never show the credentials (not even the user name).
///
/// ```
/// use ferry_proto::Scheme;
/// use ferry_proto::proxy::Proxy;
/// let p = Proxy::parse("https://us%40er:p%3Ass@[::1]:8443").unwrap();
/// assert_eq!(p.scheme(), Scheme::Https);
/// assert_eq!(p.to_string(), "https://[::1]:8443");
/// assert!(!format!("{p:?}").contains("p:ss"));
/// // A value without a scheme means http://, and the port defaults to the scheme's.
/// assert_eq!(Proxy::parse("proxy.corp").unwrap().to_string(), "http://proxy.corp:80");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    scheme: Scheme,
    authority: Authority,
    auth: Option<ProxyAuth>,
    mode: ProxyMode,
}

impl Proxy {
    /// A proxy at `authority`, spoken to over `scheme`, without credentials, in
    /// [`ProxyMode::Forward`].
    #[must_use]
    pub fn new(scheme: Scheme, authority: Authority) -> Self {
        Proxy { scheme, authority, auth: None, mode: ProxyMode::Forward }
    }

    /// Parses a proxy URL: `[scheme://][user[:password]@]host[:port][/]`.
    ///
    /// - No scheme means `http://` (curl, Requests); the scheme is case-insensitive.
    /// - No port means the scheme's default: 80 or 443 (Requests and reqwest; curl uses 1080).
    /// - The userinfo is percent-decoded exactly once into [`Credentials`], sent as Basic.
    /// - IPv6 hosts are written in brackets.
    ///
    /// Leading and trailing whitespace is ignored. Errors never contain the userinfo.
    ///
    /// # Errors
    /// [`ErrorKind::UnsupportedProxyScheme`] for a scheme other than `http` or `https` (such as
    /// `socks5`), [`ErrorKind::InvalidProxyUrl`] for a bad host or port, a path, query or
    /// fragment, or userinfo that is not UTF-8 once decoded.
    pub fn parse(s: &str) -> Result<Proxy> {
        let s = s.trim_matches(|c: char| c.is_ascii_whitespace());
        let (scheme, rest) = match s.split_once("://") {
            Some((scheme, rest)) if is_scheme_syntax(scheme) => (scheme, rest),
            _ => ("http", s),
        };
        let scheme = Scheme::parse(scheme).ok_or_else(|| ErrorKind::UnsupportedProxyScheme {
            scheme: scheme.to_ascii_lowercase(),
        })?;
        let (userinfo, host, port, rest) = split_authority(rest).map_err(as_proxy_error)?;
        if !(rest.is_empty() || rest == "/") {
            return Err(ErrorKind::InvalidProxyUrl { what: ProxyUrlError::HasPath }.into());
        }
        let port = port.unwrap_or(scheme.default_port());
        if port == 0 {
            return Err(ErrorKind::InvalidProxyUrl { what: ProxyUrlError::PortZero }.into());
        }
        let auth = match userinfo {
            Some(ui) => decode_userinfo(ui)?.map(ProxyAuth::basic),
            None => None,
        };
        Ok(Proxy { scheme, authority: Authority::new(host, port), auth, mode: ProxyMode::Forward })
    }

    /// The same proxy with these credentials (Basic, preemptive), taken as given: never
    /// percent-decoded. Replaces any credentials from the URL.
    #[must_use]
    pub fn basic_auth(self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.with_auth(ProxyAuth::basic(Credentials::new(username, password)))
    }

    /// The same proxy with this authentication. Replaces any credentials from the URL.
    #[must_use]
    pub fn with_auth(mut self, auth: ProxyAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// The same proxy without credentials.
    #[must_use]
    pub fn without_auth(mut self) -> Self {
        self.auth = None;
        self
    }

    /// The same proxy in another mode.
    #[must_use]
    pub fn with_mode(mut self, mode: ProxyMode) -> Self {
        self.mode = mode;
        self
    }

    /// How the driver talks to the proxy: `https` means TLS to the proxy itself.
    #[must_use]
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The proxy's host and port (the port always set).
    #[must_use]
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The authentication sent to the proxy, if any.
    #[must_use]
    pub fn auth(&self) -> Option<&ProxyAuth> {
        self.auth.as_ref()
    }

    /// The mode.
    #[must_use]
    pub fn mode(&self) -> ProxyMode {
        self.mode
    }
}

impl fmt::Display for Proxy {
    /// `scheme://host:port`, never the credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("scheme", &self.scheme)
            .field("authority", &self.authority)
            .field("auth", &self.auth)
            .field("mode", &self.mode)
            .finish()
    }
}

impl core::str::FromStr for Proxy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Proxy> {
        Proxy::parse(s)
    }
}

/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 §3.1).
fn is_scheme_syntax(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// The URL parser's complaints, reworded as the proxy URL's.
fn as_proxy_error(e: Error) -> Error {
    match e.kind() {
        ErrorKind::InvalidUrl { what } => {
            ErrorKind::InvalidProxyUrl { what: ProxyUrlError::Url(*what) }.into()
        }
        _ => e,
    }
}

/// `user[:password]`, split on the first raw `:` and then percent-decoded once. An empty
/// userinfo (`http://@host`) means no credentials.
fn decode_userinfo(ui: &str) -> Result<Option<Credentials>> {
    let (user, password) = ui.split_once(':').unwrap_or((ui, ""));
    if user.is_empty() && password.is_empty() {
        return Ok(None);
    }
    let decode = |s: &str| {
        percent_decode_str(s).decode_utf8().map(|c| c.to_string()).map_err(|_| {
            Error::from(ErrorKind::InvalidProxyUrl { what: ProxyUrlError::UserinfoNotUtf8 })
        })
    };
    Ok(Some(Credentials::new(decode(user)?, decode(password)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url::Host;
    use alloc::format;
    use alloc::string::ToString;
    use core::net::Ipv6Addr;

    /// `(display, credentials (user, password))` or the error's kind.
    type Expected<'a> = core::result::Result<(&'a str, Option<(&'a str, &'a str)>), ErrorKind>;

    #[track_caller]
    fn check(input: &str, expected: Expected<'_>) {
        match (Proxy::parse(input), expected) {
            (Ok(p), Ok((display, creds))) => {
                assert_eq!(p.to_string(), display, "{input}");
                assert_eq!(p.mode(), ProxyMode::Forward, "{input}");
                let got = p.auth().map(|a| (a.scheme().to_string(), a.fingerprint()));
                let want = creds.map(|(u, pw)| {
                    let a = ProxyAuth::basic(Credentials::new(u, pw));
                    (a.scheme().to_string(), a.fingerprint())
                });
                assert_eq!(got, want, "{input}: credentials");
            }
            (Err(e), Err(kind)) => assert_eq!(e.kind(), &kind, "{input}"),
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }

    fn bad(what: ProxyUrlError) -> ErrorKind {
        ErrorKind::InvalidProxyUrl { what }
    }

    fn bad_url(what: UrlError) -> ErrorKind {
        bad(ProxyUrlError::Url(what))
    }

    #[test]
    fn proxy_urls() {
        // Both schemes; the port defaults to the scheme's (Requests, reqwest).
        check("http://proxy:3128", Ok(("http://proxy:3128", None)));
        check("http://proxy:3128/", Ok(("http://proxy:3128", None)));
        check("https://proxy", Ok(("https://proxy:443", None)));
        check("HTTP://Proxy.Corp", Ok(("http://proxy.corp:80", None)));
        // No scheme means http:// (curl, Requests' prepend_scheme_if_needed).
        check("proxy:3128", Ok(("http://proxy:3128", None)));
        check("  proxy:3128\n", Ok(("http://proxy:3128", None)));
        check("u:p@proxy:3128", Ok(("http://proxy:3128", Some(("u", "p")))));
        // IPv6 proxy hosts in brackets (RFC 3986 §3.2.2).
        check("http://[::1]:3128", Ok(("http://[::1]:3128", None)));
        check("http://[2001:db8::7]", Ok(("http://[2001:db8::7]:80", None)));
        check("[::1]:3128", Ok(("http://[::1]:3128", None)));
        // Userinfo is percent-decoded once (RFC 3986 §2.1), split on the first raw ':'.
        check("http://alice:s3cret@p:1", Ok(("http://p:1", Some(("alice", "s3cret")))));
        check("http://us%40er:p%3Ass@p:1", Ok(("http://p:1", Some(("us@er", "p:ss")))));
        check("http://a%3Ab:c@p:1", Ok(("http://p:1", Some(("a:b", "c")))));
        check("http://u:%2541@p:1", Ok(("http://p:1", Some(("u", "%41")))));
        check("http://u:a:b@p:1", Ok(("http://p:1", Some(("u", "a:b")))));
        check("http://u:p%40x@p:1", Ok(("http://p:1", Some(("u", "p@x")))));
        check("http://a@b@p:1", Ok(("http://p:1", Some(("a@b", "")))));
        check("http://user@p:1", Ok(("http://p:1", Some(("user", "")))));
        check("http://:pw@p:1", Ok(("http://p:1", Some(("", "pw")))));
        check("http://@p:1", Ok(("http://p:1", None)));
        check("http://u:%C3%A9@p:1", Ok(("http://p:1", Some(("u", "é")))));
        // Unknown schemes are errors, never a silent skip.
        check(
            "socks5://p:1080",
            Err(ErrorKind::UnsupportedProxyScheme { scheme: "socks5".into() }),
        );
        check("SOCKS5H://p", Err(ErrorKind::UnsupportedProxyScheme { scheme: "socks5h".into() }));
        check("ftp://p", Err(ErrorKind::UnsupportedProxyScheme { scheme: "ftp".into() }));
        // Bad hosts, ports and paths.
        check("http://", Err(bad_url(UrlError::EmptyHost)));
        check("", Err(bad_url(UrlError::EmptyHost)));
        check("http://:3128", Err(bad_url(UrlError::EmptyHost)));
        check("http://p:99999", Err(bad_url(UrlError::InvalidPort)));
        check("http://p:0", Err(bad(ProxyUrlError::PortZero)));
        check("http://[::1", Err(bad_url(UrlError::UnclosedBracket)));
        check("http://p:1/path", Err(bad(ProxyUrlError::HasPath)));
        check("http://p:1?q", Err(bad(ProxyUrlError::HasPath)));
        check("http://p:1#f", Err(bad(ProxyUrlError::HasPath)));
        check("http://u:p w@p:1", Err(bad_url(UrlError::UserinfoByte)));
        check("http://u:%FF@p:1", Err(bad(ProxyUrlError::UserinfoNotUtf8)));
        // An unencoded '/' in a password cannot be taken for a path silently.
        check("http://u:12/34@p", Err(bad(ProxyUrlError::HasPath)));
    }

    #[test]
    fn api_credentials_are_never_decoded() {
        let p = Proxy::parse("http://x:y@p:1").unwrap().basic_auth("us%40er", "p%41");
        let want = ProxyAuth::basic(Credentials::new("us%40er", "p%41"));
        assert_eq!(p.auth(), Some(&want));
        assert!(p.clone().without_auth().auth().is_none());
    }

    #[test]
    fn modes_and_builders() {
        let a = Authority::new(Host::Ipv6(Ipv6Addr::LOCALHOST), 8443);
        let p = Proxy::new(Scheme::Https, a.clone()).with_mode(ProxyMode::Tunnel);
        assert_eq!(p.mode(), ProxyMode::Tunnel);
        assert_eq!(p.authority(), &a);
        assert_eq!(p.to_string(), "https://[::1]:8443");
        assert_eq!("http://p:1".parse::<Proxy>().unwrap().mode(), ProxyMode::Forward);
    }

    #[test]
    fn debug_and_errors_hide_credentials() {
        let p = Proxy::parse("http://alice:hunter2@p:1").unwrap();
        let dbg = format!("{p:?} {p}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("alice"), "{dbg}");
        for input in
            ["http://alice:hunter2@p:1/x", "http://alice:hunter2@", "http://alice:hunter2%FF@p"]
        {
            let e = Proxy::parse(input).unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }
}
