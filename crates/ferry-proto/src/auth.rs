//! Proxy credentials and challenges (RFC 9110 §11).
//!
//! Credentials are route state, never a header in the user's map: the core writes
//! `Proxy-Authorization` itself, only towards the proxy (on CONNECT, or on a request forwarded in
//! absolute-form), so it can never travel to the origin. `Debug` never shows a password, and the
//! bytes the core hands out for sending are not shown by `Debug` either.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;

use crate::url::Authority;

/// A user name and password, as given (never percent-decoded here).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    /// Credentials taken as they are.
    #[must_use]
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials { username: username.into(), password: password.into() }
    }

    /// The user name.
    #[must_use]
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password. Handle with care: nothing in ferry prints it.
    #[must_use]
    pub fn password(&self) -> &str {
        &self.password
    }

    /// `Basic base64(user:password)` (RFC 7617 §2).
    #[must_use]
    pub fn basic(&self) -> String {
        let mut raw = Vec::with_capacity(self.username.len() + self.password.len() + 1);
        raw.extend_from_slice(self.username.as_bytes());
        raw.push(b':');
        raw.extend_from_slice(self.password.as_bytes());
        let mut out = String::from("Basic ");
        base64::engine::general_purpose::STANDARD.encode_string(raw, &mut out);
        out
    }

    /// A stable, non-reversible fingerprint (FNV-1a over user and password), for keys that must
    /// tell two credentials apart without holding them.
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.username.bytes().chain([0u8]).chain(self.password.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// One challenge of a `Proxy-Authenticate` (or `WWW-Authenticate`) field (RFC 9110 §11.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The auth-scheme as written (compare case-insensitively).
    pub scheme: String,
    /// A token68, when the challenge carries one instead of parameters.
    pub token68: Option<String>,
    /// The auth-params, names lower-cased, quoted strings unquoted.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Parses every challenge in one field value. Malformed pieces are skipped, never fatal.
    ///
    /// ```
    /// let c = ferry_proto::Challenge::parse_all(br#"Basic realm="a, b", Digest realm=x, nonce="n""#);
    /// assert_eq!(c.len(), 2);
    /// assert_eq!(c[0].param("realm"), Some("a, b"));
    /// assert_eq!(c[1].scheme, "Digest");
    /// assert_eq!(c[1].param("nonce"), Some("n"));
    /// ```
    #[must_use]
    pub fn parse_all(value: &[u8]) -> Vec<Challenge> {
        let text = String::from_utf8_lossy(value);
        let mut out: Vec<Challenge> = Vec::new();
        for element in split_list(&text) {
            let element = element.trim_matches([' ', '\t']);
            if element.is_empty() {
                continue;
            }
            let eq = element.find('=');
            let sp = element.find([' ', '\t']);
            match (sp, eq) {
                // "scheme rest": a new challenge whose first param or token68 is `rest`.
                (Some(sp), eq) if eq.is_none_or(|eq| sp < eq) => {
                    let (scheme, rest) = element.split_at(sp);
                    let mut c =
                        Challenge { scheme: scheme.into(), token68: None, params: Vec::new() };
                    let rest = rest.trim_matches([' ', '\t']);
                    match parse_param(rest) {
                        Some(p) => c.params.push(p),
                        None => c.token68 = Some(rest.into()),
                    }
                    out.push(c);
                }
                // "name=value": a parameter of the current challenge.
                (_, Some(_)) => {
                    if let (Some(c), Some(p)) = (out.last_mut(), parse_param(element)) {
                        c.params.push(p);
                    }
                }
                // A lone token: a challenge without parameters.
                _ => out.push(Challenge {
                    scheme: element.into(),
                    token68: None,
                    params: Vec::new(),
                }),
            }
        }
        out
    }

    /// A parameter's value by case-insensitive name.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether this challenge's scheme is `scheme` (case-insensitive).
    #[must_use]
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }
}

/// Splits on commas outside quoted strings.
fn split_list(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn parse_param(s: &str) -> Option<(String, String)> {
    let (name, value) = s.split_once('=')?;
    let name = name.trim_matches([' ', '\t']);
    let value = value.trim_matches([' ', '\t']);
    if name.is_empty() || !crate::headers::is_token(name.as_bytes()) {
        return None;
    }
    // A token68 ends in '=' padding: "abc==" is not a parameter.
    if value.is_empty() || value.starts_with('=') {
        return None;
    }
    let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
            }
            out
        }
        None => value.into(),
    };
    Some((name.to_ascii_lowercase(), value))
}

/// Answers proxy challenges: Basic is built in ([`Credentials`]); Digest, NTLM or anything else
/// can be added by implementing this trait.
pub trait ProxyAuthenticator: Send + Sync {
    /// The auth-scheme this answers, e.g. `"Basic"`.
    fn scheme(&self) -> &str;

    /// The `Proxy-Authorization` value to send.
    ///
    /// `challenge` is `None` for a preemptive first request, else the proxy's challenge of this
    /// scheme. `None` means "cannot answer": the core then reports the 407 as an error. The
    /// value is checked like any header value before it is written.
    fn authorization(&self, challenge: Option<&Challenge>, target: &Authority) -> Option<String>;

    /// A fingerprint of the secret, so pool keys can tell authenticators apart.
    fn fingerprint(&self) -> u64;
}

impl ProxyAuthenticator for Credentials {
    fn scheme(&self) -> &str {
        "Basic"
    }

    fn authorization(&self, _challenge: Option<&Challenge>, _target: &Authority) -> Option<String> {
        Some(self.basic())
    }

    fn fingerprint(&self) -> u64 {
        Credentials::fingerprint(self)
    }
}

/// Proxy authentication as route state: an authenticator and whether to send its answer
/// before the proxy asks.
///
/// It goes only towards the proxy: on a CONNECT ([`Connect::auth`](crate::Connect::auth), set
/// by [`Route::connect`](crate::Route::connect)) and on a request forwarded in absolute-form
/// ([`Request::via`](crate::Request::via)); never on a request in origin-form, which may
/// travel through a tunnel to the origin. The connection writes it; the caller never puts it
/// in a header list.
#[derive(Clone)]
pub struct ProxyAuth {
    pub(crate) authenticator: Arc<dyn ProxyAuthenticator>,
    pub(crate) preemptive: bool,
}

impl ProxyAuth {
    /// Basic with these credentials, sent preemptively (like curl and reqwest).
    #[must_use]
    pub fn basic(credentials: Credentials) -> Self {
        ProxyAuth { authenticator: Arc::new(credentials), preemptive: true }
    }

    /// Any authenticator; `preemptive` as in [`ProxyAuth::preemptive`].
    #[must_use]
    pub fn custom(authenticator: Arc<dyn ProxyAuthenticator>, preemptive: bool) -> Self {
        ProxyAuth { authenticator, preemptive }
    }

    /// Whether the first request to the proxy (the CONNECT, or a forwarded request) carries
    /// the authenticator's answer before any challenge (`challenge` `None` in
    /// [`ProxyAuthenticator::authorization`]). When not, the connection sends an answer only
    /// to a `407` whose `Proxy-Authenticate` offers the authenticator's scheme.
    #[must_use]
    pub fn is_preemptive(&self) -> bool {
        self.preemptive
    }

    /// The same authentication, sent before any challenge (`true`) or only in answer to a
    /// `407` (`false`); see [`ProxyAuth::is_preemptive`]. Part of the
    /// [`fingerprint`](ProxyAuth::fingerprint), so connections made either way are not mixed
    /// in the pool.
    #[must_use]
    pub fn preemptive(mut self, yes: bool) -> Self {
        self.preemptive = yes;
        self
    }

    /// The fingerprint of the secret and the mode (see [`ProxyAuthenticator::fingerprint`]).
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        self.authenticator.fingerprint() ^ u64::from(self.preemptive)
    }

    /// The scheme answered.
    #[must_use]
    pub fn scheme(&self) -> &str {
        self.authenticator.scheme()
    }

    pub(crate) fn authorization(
        &self,
        challenge: Option<&Challenge>,
        target: &Authority,
    ) -> Option<String> {
        self.authenticator.authorization(challenge, target)
    }
}

impl fmt::Debug for ProxyAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyAuth")
            .field("scheme", &self.authenticator.scheme())
            .field("preemptive", &self.preemptive)
            .finish_non_exhaustive()
    }
}

impl PartialEq for ProxyAuth {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint() == other.fingerprint()
            && self.scheme().eq_ignore_ascii_case(other.scheme())
    }
}

impl Eq for ProxyAuth {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn basic_value() {
        // RFC 7617 §2 example.
        assert_eq!(
            Credentials::new("Aladdin", "open sesame").basic(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn preemptive_is_part_of_the_fingerprint() {
        let a = ProxyAuth::basic(Credentials::new("u", "p"));
        assert!(a.is_preemptive(), "Basic is preemptive by default");
        let b = a.clone().preemptive(false);
        assert!(!b.is_preemptive());
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a, b);
        assert_eq!(b.preemptive(true), a);
    }

    #[test]
    fn debug_redacts() {
        let c = Credentials::new("alice", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        let a = ProxyAuth::basic(c);
        assert!(!format!("{a:?}").contains("hunter2"));
        assert!(!format!("{a:?}").contains("alice"));
    }

    #[test]
    fn challenges() {
        // RFC 9110 §11.6.1 and §11.7.1: several challenges in one field, params with quoted commas.
        type Case<'a> = (&'a [u8], &'a [(&'a str, Option<&'a str>)]);
        let cases: &[Case<'_>] = &[
            (b"Basic realm=\"proxy\"", &[("Basic", Some("proxy"))]),
            (b"Basic", &[("Basic", None)]),
            (b"Negotiate abc==, Basic realm=x", &[("Negotiate", None), ("Basic", Some("x"))]),
            (
                b"Digest realm=\"a,b\", qop=\"auth\", Basic realm=\"c\"",
                &[("Digest", Some("a,b")), ("Basic", Some("c"))],
            ),
            (b"basic  realm=\"q\\\"x\"", &[("basic", Some("q\"x"))]),
            (b", ,", &[]),
            (b"\xff\xfe", &[("\u{fffd}\u{fffd}", None)]),
        ];
        for (input, want) in cases {
            let got = Challenge::parse_all(input);
            let got: Vec<_> = got.iter().map(|c| (c.scheme.as_str(), c.param("realm"))).collect();
            assert_eq!(&got, want, "{:?}", String::from_utf8_lossy(input));
        }
        let c = Challenge::parse_all(b"Negotiate abc==");
        assert_eq!(c[0].token68.as_deref(), Some("abc=="));
    }
}
