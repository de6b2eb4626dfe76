//! A route as data: the layers it needs, bottom-up, before any of them is built.

use std::fmt;

use ferry_proto::{Authority, Connect, Host, Route, RouteKey, Scheme};

use crate::settings::TlsSettings;

/// Whose TLS settings a TLS layer uses: the proxy's and the origin's are kept apart, so that,
/// say, verification can be relaxed for a proxy alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Peer {
    /// The proxy (an `https://` proxy URL).
    Proxy,
    /// The origin server (an `https://` target).
    Origin,
}

/// How requests are written by the HTTP layer at the top.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Form {
    /// `GET /path HTTP/1.1`: to the origin, directly or through a tunnel.
    Origin,
    /// `GET http://host/path HTTP/1.1` to a proxy that forwards, with its credentials.
    Forwarded,
}

/// One layer of a route, listed bottom-up above the transport the driver dials.
#[derive(Clone, Debug)]
pub enum Layer {
    /// A TLS session to `server` (a DNS name, or an IP literal without brackets), with the
    /// settings of `peer`.
    Tls {
        /// The name verified in the certificate (and sent as SNI when it is a DNS name).
        server: String,
        /// Whose settings.
        peer: Peer,
    },
    /// The CONNECT handshake through the proxy (RFC 9110 §9.3.6) with its 407 rounds; after a
    /// 2xx every byte is the tunnel's.
    Connect(Connect),
    /// HTTP/1.1, the top of every route.
    Http(Form),
}

/// Everything a driver and the stack need to carry out a route: the address to dial, the
/// layers to build on it, and the key it is pooled under.
///
/// | route | layers |
/// | --- | --- |
/// | `http://` direct | `Http(Origin)` |
/// | `https://` direct | `Tls(origin)`, `Http(Origin)` |
/// | `http://` through an `http://` proxy | `Http(Forwarded)` |
/// | `http://` through an `https://` proxy | `Tls(proxy)`, `Http(Forwarded)` |
/// | `https://` through an `http://` proxy | `Connect`, `Tls(origin)`, `Http(Origin)` |
/// | `https://` through an `https://` proxy | `Tls(proxy)`, `Connect`, `Tls(origin)`, `Http(Origin)` |
/// | `http://` tunnelled (`ProxyMode::Tunnel`) | (`Tls(proxy)`), `Connect`, `Http(Origin)` |
///
/// ```
/// use ferry_client::{Layer, Peer, Plan, TlsSettings};
/// use ferry_proto::proxy::Proxy;
/// use ferry_proto::{Route, Url};
/// let url = Url::parse("https://example.com/").unwrap();
/// let route = Route::new(&url, Some(Proxy::parse("https://proxy.test:3129").unwrap()));
/// let plan = Plan::new(&route, &TlsSettings::new().unwrap());
/// assert_eq!(plan.dial().to_string(), "proxy.test:3129");
/// assert!(matches!(&plan.layers()[0], Layer::Tls { server, peer: Peer::Proxy } if server == "proxy.test"));
/// assert!(matches!(&plan.layers()[1], Layer::Connect(c) if c.target().to_string() == "example.com:443"));
/// assert!(matches!(&plan.layers()[2], Layer::Tls { peer: Peer::Origin, .. }));
/// ```
#[derive(Clone)]
pub struct Plan {
    route: Route,
    dial: Authority,
    /// `dial`'s host as a resolver takes it: a name, or an IP literal without brackets.
    dial_host: String,
    layers: Vec<Layer>,
    key: RouteKey,
}

impl Plan {
    /// The plan of `route` with these TLS settings (whose fingerprint goes into the pool key).
    #[must_use]
    pub fn new(route: &Route, tls: &TlsSettings) -> Plan {
        let mut layers = Vec::with_capacity(4);
        let dial = match route.proxy() {
            Some(proxy) => {
                if proxy.scheme() == Scheme::Https {
                    layers.push(Layer::Tls {
                        server: server_name(proxy.authority().host()),
                        peer: Peer::Proxy,
                    });
                }
                proxy.authority().clone()
            }
            None => route.origin().clone(),
        };
        if let Some(connect) = route.connect() {
            layers.push(Layer::Connect(connect));
        }
        if route.origin_tls() {
            layers.push(Layer::Tls {
                server: server_name(route.origin().host()),
                peer: Peer::Origin,
            });
        }
        layers.push(Layer::Http(if route.is_forwarded() { Form::Forwarded } else { Form::Origin }));
        let fingerprint = tls.fingerprint();
        let dial_host = server_name(dial.host());
        Plan { route: route.clone(), dial, dial_host, layers, key: route.key(fingerprint) }
    }

    /// Adds a header field to the CONNECT request of a tunnelled plan (a `User-Agent` for the
    /// proxy, say); a plan without a tunnel is unchanged. Checked when the CONNECT is encoded.
    #[must_use]
    pub fn with_tunnel_header(mut self, name: &str, value: &str) -> Plan {
        for layer in &mut self.layers {
            if let Layer::Connect(c) = layer {
                *c = c.clone().header(name.to_owned(), value.to_owned());
            }
        }
        self
    }

    /// The route this plan carries out.
    #[must_use]
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The host and port the driver dials: the proxy, or the origin.
    #[must_use]
    pub fn dial(&self) -> &Authority {
        &self.dial
    }

    /// The host of [`Plan::dial`] as a resolver takes it (`to_socket_addrs`): a name, or an
    /// IP literal without brackets.
    #[must_use]
    pub fn dial_host(&self) -> &str {
        &self.dial_host
    }

    /// The layers above the transport, bottom-up; the last is always [`Layer::Http`].
    #[must_use]
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The key connections of this plan are pooled under.
    #[must_use]
    pub fn key(&self) -> &RouteKey {
        &self.key
    }
}

impl fmt::Debug for Plan {
    /// The route and the layers; never credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layers: Vec<String> = self
            .layers
            .iter()
            .map(|l| match l {
                Layer::Tls { server, peer } => format!("Tls({peer:?} {server})"),
                Layer::Connect(c) => format!("Connect({})", c.target()),
                Layer::Http(form) => format!("Http({form:?})"),
            })
            .collect();
        f.debug_struct("Plan")
            .field("dial", &format_args!("{}", self.dial))
            .field("layers", &layers)
            .finish_non_exhaustive()
    }
}

/// The name TLS verifies: a domain as it is, an IP literal without brackets. An IPv4 address
/// is written without `core::fmt` (a plan is made per new connection).
pub(crate) fn server_name(host: &Host) -> String {
    match host {
        Host::Domain(d) => d.as_str().to_owned(),
        Host::Ipv4(a) => {
            let mut s = String::with_capacity(15);
            for (i, octet) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                if octet >= 100 {
                    s.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    s.push(char::from(b'0' + octet / 10 % 10));
                }
                s.push(char::from(b'0' + octet % 10));
            }
            s
        }
        Host::Ipv6(a) => a.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_are_written_as_std_writes_ip_addresses() {
        for a in
            [[0, 0, 0, 0], [127, 0, 0, 1], [10, 9, 99, 100], [255, 255, 255, 255], [1, 20, 0, 209]]
        {
            let ip = std::net::Ipv4Addr::from(a);
            assert_eq!(server_name(&Host::Ipv4(ip)), ip.to_string());
        }
        let v6: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(server_name(&Host::Ipv6(v6)), "2001:db8::1");
        let d = ferry_proto::Domain::parse("Example.COM").unwrap();
        assert_eq!(server_name(&Host::Domain(d)), "example.com");
    }
}
