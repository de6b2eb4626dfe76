//! The TLS layer against a real rustls server in memory, with certificates from rcgen (a CA and
//! its leaves): no socket, every byte moved by hand.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::io::{Read as _, Write as _};
use std::sync::{Arc, OnceLock};

use bytes::BytesMut;
use ferry_test_support::certs::{Ca, Leaf};
use ferry_tls::{CertificateProblem, Closed, ErrorKind, Output, Tls, TlsConfig};
use rustls::ServerConnection;

fn ca() -> &'static Ca {
    static CA: OnceLock<Ca> = OnceLock::new();
    CA.get_or_init(|| Ca::new("ferry-tls test CA"))
}

fn trusting(ca: &Ca) -> TlsConfig {
    TlsConfig::builder()
        .webpki_roots(false)
        .add_ca_pem(ca.pem().as_bytes())
        .unwrap()
        .build()
        .unwrap()
}

/// A client session and a rustls server, and the bytes each has received.
struct Pair {
    client: Tls,
    server: ServerConnection,
    /// Plaintext the server application read.
    server_got: Vec<u8>,
    /// What `poll_output` said besides `Transmit` and `NeedInput`.
    events: Vec<Output>,
    /// Deliver the server's ciphertext this many bytes per `handle_input` (0: all at once).
    split: usize,
}

impl Pair {
    fn new(config: &TlsConfig, name: &str, leaf: &Leaf, alpn: &[&[u8]]) -> Pair {
        Pair {
            client: Tls::new(config, name).unwrap(),
            server: ServerConnection::new(leaf.server_config(alpn)).unwrap(),
            server_got: Vec::new(),
            events: Vec::new(),
            split: 0,
        }
    }

    /// Moves bytes both ways until neither side has anything to say.
    fn run(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            loop {
                match self.client.poll_output() {
                    Output::Transmit(bytes) => {
                        moved = true;
                        let mut slice = &bytes[..];
                        while !slice.is_empty() {
                            if self.server.read_tls(&mut slice).is_err() {
                                // Its plaintext buffer is full: the application reads.
                                let _ = self.server.reader().read_to_end(&mut self.server_got);
                                continue;
                            }
                            if self.server.process_new_packets().is_err() {
                                break;
                            }
                        }
                    }
                    Output::NeedInput => break,
                    other => {
                        let terminal = matches!(other, Output::Closed(_) | Output::Error(_));
                        self.events.push(other);
                        if terminal {
                            return;
                        }
                    }
                }
            }
            let mut plain = Vec::new();
            let _ = self.server.reader().read_to_end(&mut plain);
            self.server_got.extend_from_slice(&plain);
            let mut wire = Vec::new();
            while self.server.wants_write() {
                self.server.write_tls(&mut wire).unwrap();
            }
            if !wire.is_empty() {
                moved = true;
                let step = if self.split == 0 { wire.len() } else { self.split };
                for piece in wire.chunks(step) {
                    self.client.handle_input(&mut BytesMut::from(piece));
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the pair did not settle");
    }

    fn error(&self) -> Option<&ErrorKind> {
        self.events.iter().find_map(|e| match e {
            Output::Error(e) => Some(e.kind()),
            _ => None,
        })
    }
}

#[test]
fn handshake_then_plaintext_both_ways_with_alpn_http11() {
    let leaf = ca().leaf(&["localhost"]);
    let mut p = Pair::new(&trusting(ca()), "localhost", &leaf, &[b"http/1.1"]);
    // Sent before the handshake: held, then encrypted.
    p.client.send(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    p.run();
    assert_eq!(p.events, [Output::Established]);
    assert_eq!(p.server_got, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(p.server.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(p.server.server_name(), Some("localhost"), "SNI from the host name");
    p.server.writer().write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
    p.run();
    assert_eq!(&p.client.plaintext()[..], b"HTTP/1.1 204 No Content\r\n\r\n");
}

#[test]
fn a_server_without_alpn_is_accepted() {
    let leaf = ca().leaf(&["localhost"]);
    let mut p = Pair::new(&trusting(ca()), "localhost", &leaf, &[]);
    p.run();
    assert_eq!(p.events, [Output::Established]);
}

#[test]
fn a_server_that_speaks_only_h2_fails_the_handshake() {
    let leaf = ca().leaf(&["localhost"]);
    let mut p = Pair::new(&trusting(ca()), "localhost", &leaf, &[b"h2"]);
    p.run();
    assert_eq!(
        p.error(),
        Some(&ErrorKind::AlertReceived { alert: "NoApplicationProtocol".into() }),
        "{:?}",
        p.events
    );
}

#[test]
fn an_ip_literal_sends_no_sni_and_is_checked_against_ip_sans() {
    let leaf = ca().leaf(&["127.0.0.1", "::1"]);
    for ip in ["127.0.0.1", "::1"] {
        let mut p = Pair::new(&trusting(ca()), ip, &leaf, &[b"http/1.1"]);
        p.run();
        assert_eq!(p.events, [Output::Established], "{ip}");
        assert_eq!(p.server.server_name(), None, "{ip}: no SNI for an IP literal");
    }
    // The IP is verified: a leaf for another address is refused.
    let other = ca().leaf(&["127.0.0.2"]);
    let mut p = Pair::new(&trusting(ca()), "127.0.0.1", &other, &[]);
    p.run();
    assert_eq!(p.error(), Some(&ErrorKind::Certificate(CertificateProblem::NameMismatch)));
}

#[test]
fn certificate_failures_say_which() {
    let cases: [(&str, Leaf, TlsConfig, CertificateProblem); 3] = [
        (
            "unknown issuer (Mozilla's roots only)",
            ca().leaf(&["localhost"]),
            TlsConfig::builder().build().unwrap(),
            CertificateProblem::UnknownIssuer,
        ),
        ("expired", ca().expired_leaf(&["localhost"]), trusting(ca()), CertificateProblem::Expired),
        (
            "wrong name",
            ca().leaf(&["example.test"]),
            trusting(ca()),
            CertificateProblem::NameMismatch,
        ),
    ];
    for (what, leaf, config, problem) in cases {
        let mut p = Pair::new(&config, "localhost", &leaf, &[b"http/1.1"]);
        p.run();
        assert_eq!(p.error(), Some(&ErrorKind::Certificate(problem)), "{what}: {:?}", p.events);
        assert!(p.client.is_closed(), "{what}");
        assert_eq!(p.client.send(b"x").map_err(|e| e.kind().clone()), Err(ErrorKind::Closed));
    }
}

#[test]
fn another_ca_is_not_trusted_for_a_leaf() {
    let stranger = Ca::new("another CA");
    let mut p = Pair::new(&trusting(&stranger), "localhost", &ca().leaf(&["localhost"]), &[]);
    p.run();
    assert_eq!(p.error(), Some(&ErrorKind::Certificate(CertificateProblem::UnknownIssuer)));
}

#[test]
fn danger_accept_invalid_certs_accepts_what_verification_refuses() {
    let config = TlsConfig::builder().danger_accept_invalid_certs(true).build().unwrap();
    assert!(!config.verifies_certificates());
    for leaf in [ca().expired_leaf(&["localhost"]), ca().leaf(&["elsewhere.test"])] {
        let mut p = Pair::new(&config, "localhost", &leaf, &[b"http/1.1"]);
        p.client.send(b"hi").unwrap();
        p.run();
        assert_eq!(p.events, [Output::Established]);
        assert_eq!(p.server_got, b"hi");
    }
}

#[test]
fn plain_http_in_reply_to_the_client_hello_is_named() {
    let mut client = Tls::new(&trusting(ca()), "localhost").unwrap();
    assert!(matches!(client.poll_output(), Output::Transmit(_)));
    client.handle_input(&mut BytesMut::from(
        &b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"[..],
    ));
    assert_eq!(client.poll_output().error_kind(), Some(ErrorKind::PlainHttp));
    // Split: the first bytes alone already decide.
    let mut client = Tls::new(&trusting(ca()), "localhost").unwrap();
    let _ = client.poll_output();
    for b in b"HTTP/1.0 400 Bad Request\r\n\r\n" {
        client.handle_input(&mut BytesMut::from(&[*b][..]));
    }
    assert_eq!(client.poll_output().error_kind(), Some(ErrorKind::PlainHttp));
}

#[test]
fn close_notify_is_a_clean_end_and_a_bare_eof_an_unclean_one() {
    let leaf = ca().leaf(&["localhost"]);
    let mut p = Pair::new(&trusting(ca()), "localhost", &leaf, &[]);
    p.run();
    p.server.writer().write_all(b"body").unwrap();
    p.server.send_close_notify();
    p.run();
    assert_eq!(p.events, [Output::Established, Output::Closed(Closed::Clean)]);
    assert_eq!(&p.client.plaintext()[..], b"body");

    let mut p = Pair::new(&trusting(ca()), "localhost", &leaf, &[]);
    p.run();
    p.server.writer().write_all(b"bo").unwrap();
    p.run();
    p.client.handle_eof();
    assert_eq!(p.client.poll_output(), Output::Closed(Closed::Unclean));
    assert_eq!(&p.client.plaintext()[..], b"bo");
}

#[test]
fn eof_during_the_handshake_is_an_error() {
    let mut client = Tls::new(&trusting(ca()), "localhost").unwrap();
    let _ = client.poll_output();
    client.handle_eof();
    assert!(matches!(client.poll_output().error_kind(), Some(ErrorKind::Protocol { .. })));
}

#[test]
fn any_split_of_the_server_bytes_gives_the_same_plaintext() {
    let leaf = ca().leaf(&["localhost"]);
    let body: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    for split in [1, 2, 7, 100, 4096] {
        let mut p = Pair::new(&trusting(ca()), "localhost", &leaf, &[b"http/1.1"]);
        p.split = split;
        p.run();
        p.server.writer().write_all(&body).unwrap();
        p.run();
        assert_eq!(p.events, [Output::Established], "split {split}");
        assert_eq!(p.client.plaintext().len(), body.len(), "split {split}");
        assert!(p.client.plaintext()[..] == body[..], "split {split}");
    }
}

#[test]
fn a_client_certificate_is_presented_when_the_server_asks() {
    let leaf = ca().leaf(&["localhost"]);
    let client_leaf = ca().client_leaf("ferry client");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca().der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let server_config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(leaf.chain().to_vec(), leaf.key())
            .unwrap(),
    );
    let with_cert = TlsConfig::builder()
        .webpki_roots(false)
        .add_ca_pem(ca().pem().as_bytes())
        .unwrap()
        .client_cert_pem(client_leaf.cert_pem().as_bytes(), client_leaf.key_pem().as_bytes())
        .unwrap()
        .build()
        .unwrap();
    for (config, ok) in [(with_cert, true), (trusting(ca()), false)] {
        let mut p = Pair::new(&config, "localhost", &leaf, &[]);
        p.server = ServerConnection::new(server_config.clone()).unwrap();
        p.client.send(b"x").unwrap();
        p.run();
        if ok {
            assert_eq!(p.events, [Output::Established]);
            assert_eq!(p.server_got, b"x");
            assert!(p.server.peer_certificates().is_some_and(|c| !c.is_empty()));
        } else {
            // TLS 1.3: the client finishes first; the server's refusal arrives as an alert.
            assert!(matches!(p.error(), Some(ErrorKind::AlertReceived { .. })), "{:?}", p.events);
            assert!(p.server_got.is_empty());
        }
    }
}

#[test]
fn bad_pem_and_missing_files_are_typed_errors() {
    let kind = |r: Result<ferry_tls::TlsConfigBuilder, ferry_tls::Error>| {
        r.map(|_| ()).map_err(|e| e.kind().clone())
    };
    assert_eq!(
        kind(TlsConfig::builder().add_ca_pem(b"not pem")),
        Err(ErrorKind::InvalidPem { expected: "certificate" })
    );
    let leaf = ca().leaf(&["localhost"]);
    assert_eq!(
        kind(TlsConfig::builder().client_cert_pem(leaf.cert_pem().as_bytes(), b"no key")),
        Err(ErrorKind::InvalidPem { expected: "private key" })
    );
    assert!(matches!(
        kind(TlsConfig::builder().add_ca_pem_file("/nonexistent/ca.pem")),
        Err(ErrorKind::File { .. })
    ));
    assert!(matches!(
        TlsConfig::builder().webpki_roots(false).build().map_err(|e| e.kind().clone()),
        Err(ErrorKind::Config { .. })
    ));
    assert!(matches!(
        Tls::new(&trusting(ca()), "bad name!").map_err(|e| e.kind().clone()),
        Err(ErrorKind::InvalidServerName { .. })
    ));
}

#[test]
fn the_fingerprint_follows_every_setting() {
    let base = || TlsConfig::builder();
    let a = base().build().unwrap().fingerprint();
    assert_eq!(a, base().build().unwrap().fingerprint(), "same settings, same fingerprint");
    let others = [
        base().add_ca_pem(ca().pem().as_bytes()).unwrap().build().unwrap().fingerprint(),
        base().danger_accept_invalid_certs(true).build().unwrap().fingerprint(),
        base().native_roots(true).build().unwrap().fingerprint(),
    ];
    for (i, f) in others.iter().enumerate() {
        assert_ne!(*f, a, "setting {i}");
    }
    let debug = format!(
        "{:?}",
        base()
            .client_cert_pem(
                ca().leaf(&["x"]).cert_pem().as_bytes(),
                ca().leaf(&["x"]).key_pem().as_bytes()
            )
            .unwrap()
    );
    assert!(debug.contains("client_certificate: true") && !debug.contains("PRIVATE"), "{debug}");
}

trait ErrorKindOf {
    fn error_kind(self) -> Option<ErrorKind>;
}

impl ErrorKindOf for Output {
    fn error_kind(self) -> Option<ErrorKind> {
        match self {
            Output::Error(e) => Some(e.kind().clone()),
            _ => None,
        }
    }
}

#[test]
fn plaintext_larger_than_rustls_buffers_goes_out_whole() {
    // Before the handshake, after it, and after a small exchange: 1 MiB in one `send` each
    // time (rustls holds 64 KiB of records on its own).
    let leaf = ca().leaf(&["localhost"]);
    let big: Vec<u8> = (0..1_048_576u32).map(|i| (i % 253) as u8).collect();
    let mut p = Pair::new(&trusting(ca()), "localhost", &leaf, &[]);
    p.client.send(&big).unwrap();
    p.run();
    assert_eq!(p.server_got.len(), big.len());
    p.client.send(&big).unwrap();
    p.run();
    assert_eq!(p.server_got.len(), 2 * big.len());
    p.client.send(b"head").unwrap();
    p.client.send(&big).unwrap();
    p.run();
    assert_eq!(p.server_got.len(), 3 * big.len() + 4);
    assert!(p.server_got[2 * big.len() + 4..] == big[..]);
}
