//! The pool's key: which connections are interchangeable.

use alloc::sync::Arc;
use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};

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
/// [`Route::key`](crate::Route::key). Its parts are shared: cloning moves a pointer, and two
/// clones of one key compare equal at once, without a look at the parts (a pool finds the
/// key a client keeps for an origin in one step).
#[derive(Clone)]
pub struct RouteKey(Arc<Parts>);

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Parts {
    /// `None` for a forwarded route: shared across origins.
    target: Option<(Scheme, Authority)>,
    proxy: Option<Hop>,
    tls: Option<u64>,
}

impl PartialEq for RouteKey {
    fn eq(&self, other: &RouteKey) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for RouteKey {}

impl PartialOrd for RouteKey {
    fn partial_cmp(&self, other: &RouteKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RouteKey {
    fn cmp(&self, other: &RouteKey) -> Ordering {
        if Arc::ptr_eq(&self.0, &other.0) { Ordering::Equal } else { self.0.cmp(&other.0) }
    }
}

impl Hash for RouteKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteKey")
            .field("target", &self.0.target)
            .field("proxy", &self.0.proxy)
            .field("tls", &self.0.tls)
            .finish()
    }
}

impl RouteKey {
    pub(crate) fn new(
        target: Option<(Scheme, Authority)>,
        proxy: Option<(Scheme, Authority, Option<u64>, ProxyMode)>,
        tls: Option<u64>,
    ) -> Self {
        let proxy =
            proxy.map(|(scheme, authority, auth, mode)| Hop { scheme, authority, auth, mode });
        RouteKey(Arc::new(Parts { target, proxy, tls }))
    }

    /// The target's scheme and authority; `None` when connections of this key are shared by
    /// every origin forwarded through the proxy.
    #[must_use]
    pub fn target(&self) -> Option<(Scheme, &Authority)> {
        self.0.target.as_ref().map(|(s, a)| (*s, a))
    }

    /// The proxy's authority, if the route goes through one.
    #[must_use]
    pub fn proxy(&self) -> Option<&Authority> {
        self.0.proxy.as_ref().map(|h| &h.authority)
    }

    /// Whether connections of this key may carry requests for several origins (a forwarded
    /// plain-HTTP route).
    #[must_use]
    pub fn is_shared(&self) -> bool {
        self.0.target.is_none()
    }
}

impl fmt::Display for RouteKey {
    /// `https://example.com:443 via http://proxy:3128`, fingerprints left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.target {
            Some((scheme, authority)) => write!(f, "{scheme}://{authority}")?,
            None => f.write_str("any http origin")?,
        }
        if let Some(hop) = &self.0.proxy {
            write!(f, " via {}://{}", hop.scheme, hop.authority)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::route::{Proxy, Route};
    use crate::url::Url;
    use core::cmp::Ordering;

    fn key(url: &str, proxy: Option<&str>) -> super::RouteKey {
        let url = Url::parse(url).unwrap();
        Route::new(&url, proxy.map(|p| Proxy::parse(p).unwrap())).key(7)
    }

    /// Two keys built apart from the same route are equal (and hash alike) as clones are;
    /// keys of other routes are not, in either order.
    #[test]
    fn keys_compare_by_their_parts_clones_at_once() {
        let a = key("https://a.test/", None);
        let a2 = key("https://a.test/x", None);
        assert_eq!(a, a.clone());
        assert_eq!(a.cmp(&a.clone()), Ordering::Equal);
        assert_eq!(a, a2);
        assert_eq!(a.cmp(&a2), Ordering::Equal);
        #[cfg(feature = "std")]
        {
            use core::hash::BuildHasher;
            let state = std::collections::hash_map::RandomState::new();
            assert_eq!(state.hash_one(&a), state.hash_one(&a2));
        }
        for other in [
            key("http://a.test/", None),
            key("https://a.test:444/", None),
            key("https://b.test/", None),
            key("https://a.test/", Some("http://p:3128")),
        ] {
            assert_ne!(a, other);
            assert_ne!(a.cmp(&other), Ordering::Equal);
            assert_eq!(a.cmp(&other), other.cmp(&a).reverse());
        }
    }
}
