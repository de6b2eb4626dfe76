//! Loopback tests of the test-support servers, with plain std and rustls clients (no ferry
//! crate): the origin's routes, the proxy's forwarding and tunnels, and the real proxies.

mod origin;
mod proxy;
#[cfg(unix)]
mod real;
mod util;
