//! The pool's key: which connections are interchangeable.

use core::fmt;

use crate::url::{Authority, Scheme};

use super::proxy::ProxyMode;

/// The proxy hop of a [`RouteKey`]: where, how, and a fingerprint of who we are to it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Hop {
    scheme: Scheme,
    authority: Authority,
    /// [`ProxyAuth::fingerprint`](crate::ProxyAuth::fingerprint), never the secret.
    auth: Option<u64>,
    mode: ProxyMode,
}

/// What makes two connections interchangeable: the target (scheme, host, port), the proxy (its
/// scheme, host, port, a fingerprint of its credentials, its mode) and a fingerprint of the TLS
/// settings. A change of any of them never reuses a connection made for another.
///
/// A forwarded plain-HTTP route keys on the proxy alone, so one connection to the proxy carries
/// requests for many origins. The TLS fingerprint counts only when the route uses TLS (an
/// `https` target or an `https` proxy).
///
/// It holds no secret: `Debug` shows fingerprints only. Build one with
/// [`Route::key`](crate::Route::key).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteKey {
    /// `None` for a forwarded route: shared across origins.
    target: Option<(Scheme, Authority)>,
    proxy: Option<Hop>,
    tls: Option<u64>,
}

impl RouteKey {
    pub(crate) fn new(
        target: Option<(Scheme, Authority)>,
        proxy: Option<(Scheme, Authority, Option<u64>, ProxyMode)>,
        tls: Option<u64>,
    ) -> Self {
        let proxy =
            proxy.map(|(scheme, authority, auth, mode)| Hop { scheme, authority, auth, mode });
        RouteKey { target, proxy, tls }
    }

    /// The target's scheme and authority; `None` when connections of this key are shared by
    /// every origin forwarded through the proxy.
    #[must_use]
    pub fn target(&self) -> Option<(Scheme, &Authority)> {
        self.target.as_ref().map(|(s, a)| (*s, a))
    }

    /// The proxy's authority, if the route goes through one.
    #[must_use]
    pub fn proxy(&self) -> Option<&Authority> {
        self.proxy.as_ref().map(|h| &h.authority)
    }

    /// Whether connections of this key may carry requests for several origins (a forwarded
    /// plain-HTTP route).
    #[must_use]
    pub fn is_shared(&self) -> bool {
        self.target.is_none()
    }
}

impl fmt::Display for RouteKey {
    /// `https://example.com:443 via http://proxy:3128`, fingerprints left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Some((scheme, authority)) => write!(f, "{scheme}://{authority}")?,
            None => f.write_str("any http origin")?,
        }
        if let Some(hop) = &self.proxy {
            write!(f, " via {}://{}", hop.scheme, hop.authority)?;
        }
        Ok(())
    }
}
