//! The leftover path: a proxy's reply to CONNECT and whatever follows it, through the whole
//! stack (`ferry_client::Stack`), the origin behind TLS.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::BytesMut;
use ferry_client::{Output, Phase, Plan, Stack, TlsSettings};
use ferry_proto::proxy::Proxy;
use ferry_proto::{Config, Request, Route, Url};

use super::stream::{Framed, bytewise, reads};

fn settings() -> &'static TlsSettings {
    static SETTINGS: OnceLock<TlsSettings> = OnceLock::new();
    SETTINGS.get_or_init(|| TlsSettings::new().expect("Mozilla's roots are compiled in"))
}

/// How a run ended: what the driver would see last, and whether HTTP ever spoke.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// `None`: still waiting for bytes.
    error: Option<(Phase, String)>,
    /// Events of the HTTP layer: must stay empty, no plaintext can come out of forged TLS.
    http_events: usize,
    tunnel_open: bool,
}

fn run(stream: &[u8], cuts: &[usize]) -> Outcome {
    let url = Url::parse("https://origin.test:8443/").expect("a valid URL");
    let proxy = Proxy::parse("http://proxy.test:3128").expect("a valid proxy");
    let plan = Plan::new(&Route::new(&url, Some(proxy)), settings());
    let mut stack: Stack<Duration> =
        Stack::new(Duration::ZERO, plan, settings().clone(), Config::default());
    let now = Duration::ZERO;
    stack.handle_dialing(now);
    stack.handle_connected(now);
    stack.send_request(now, &Request::get(url)).expect("a valid request");
    let mut outcome = Outcome { error: None, http_events: 0, tunnel_open: false };
    let mut input = BytesMut::new();
    let mut pieces = reads(stream, cuts).into_iter();
    loop {
        match stack.poll_output() {
            Output::Transmit(_) => {}
            Output::NeedInput => match pieces.next() {
                Some(piece) => {
                    input.extend_from_slice(piece);
                    stack.handle_input(now, &mut input);
                    assert!(
                        input.is_empty() || stack.tunnel_reply().is_none(),
                        "bytes left behind"
                    );
                }
                None => break,
            },
            Output::Error(e) => {
                outcome.error =
                    Some((e.phase(), format!("{:?}", e.kind()).chars().take(40).collect()));
                break;
            }
            Output::Event(_) | Output::End(_) | Output::NeedBody => outcome.http_events += 1,
            Output::Idle | Output::Closed | Output::Reconnect => break,
        }
    }
    outcome.tunnel_open = stack.tunnel_reply().is_some();
    outcome
}

/// A CONNECT through a plain proxy to an HTTPS origin; the input (a framed stream, see
/// `stream.rs`) is what the proxy sends back. It never panics, and:
///
/// - whole, cut as the input says, and byte by byte, the run ends the same;
/// - no event of the HTTP layer ever comes out: after a 2xx every byte goes to the origin's TLS
///   layer, and bytes nobody could encrypt never decrypt to a response;
/// - a run that failed after the tunnel opened failed in the origin's TLS (never in the tunnel,
///   never in HTTP), and one that failed before it failed in the tunnel.
pub fn tunnel_tls(data: &[u8]) {
    let Some(framed) = Framed::read(data) else { return };
    let whole = run(framed.stream, &[]);
    let cut = run(framed.stream, &framed.cuts);
    assert_eq!(whole, cut, "cut at {:?}", framed.cuts);
    if framed.stream.len() <= 512 {
        assert_eq!(whole, run(framed.stream, &bytewise(framed.stream)), "byte by byte");
    }
    assert_eq!(whole.http_events, 0, "{whole:?}");
    if let Some((phase, _)) = &whole.error {
        let expected = if whole.tunnel_open { Phase::OriginTls } else { Phase::Tunnel };
        assert_eq!(*phase, expected, "{whole:?}");
    }
}
