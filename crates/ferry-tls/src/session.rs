//! One TLS client session as a sans-I/O layer.

use std::io::{self, Read as _, Write as _};

use bytes::{BufMut as _, Bytes, BytesMut};
use rustls::ClientConnection;
use rustls::pki_types::ServerName;

use crate::config::{HTTP_1_1, TlsConfig};
use crate::error::{Error, ErrorKind};

/// How the peer ended the TLS stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Closed {
    /// With a close_notify alert: every byte it sent has arrived.
    Clean,
    /// The transport ended without close_notify: the data may have been cut short by anyone
    /// on the path.
    Unclean,
}

/// What the layer below (the socket, or an outer TLS session) should do next.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Output {
    /// Write these ciphertext bytes.
    Transmit(Bytes),
    /// The handshake finished: the server is verified, ALPN agreed (or not negotiated).
    Established,
    /// The peer ended the stream; the plaintext before it is in [`Tls::plaintext`].
    Closed(Closed),
    /// The session failed; it is closed for good.
    Error(Error),
    /// Nothing to write: waiting for ciphertext from the peer.
    NeedInput,
}

/// What was agreed in a finished handshake, for logs and diagnostics (`ferry -v`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The protocol version: `TLSv1.3` or `TLSv1.2`.
    pub version: &'static str,
    /// The cipher suite, by its IANA name (`TLS13_AES_256_GCM_SHA384`).
    pub cipher: String,
    /// The ALPN protocol agreed, if any (`http/1.1`).
    pub alpn: Option<String>,
    /// The subject of the peer's end-entity certificate (`CN=example.com`), when it parses.
    pub subject: Option<String>,
    /// Its issuer.
    pub issuer: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshaking,
    Established,
    Closed,
}

/// One TLS client session: ciphertext in and out below, plaintext in and out above.
///
/// The contract: after [`Tls::handle_input`], [`Tls::handle_eof`], [`Tls::send`] or
/// [`Tls::close`], drain [`Tls::poll_output`] until it answers [`Output::NeedInput`],
/// [`Output::Closed`] or [`Output::Error`]; take the plaintext that arrived from the front of
/// [`Tls::plaintext`]. Plaintext sent before the handshake ends is held and encrypted when it
/// does. After an error every call is a no-op and `poll_output` answers `Closed` (unclean).
pub struct Tls {
    conn: ClientConnection,
    phase: Phase,
    /// Plaintext from the peer, not yet taken by the layer above.
    plaintext: BytesMut,
    /// Plaintext from above that rustls has not taken yet: it holds 64 KiB of its own; the
    /// layer above bounds the rest (ferry's stack hands a piece on before asking for the next).
    unsent: BytesMut,
    /// Ciphertext to hand out, gathered from rustls; split off and frozen, never copied again.
    transmit: BytesMut,
    /// The first bytes the peer sent, to tell plain HTTP from TLS.
    first: [u8; 5],
    first_len: usize,
    events: std::collections::VecDeque<Output>,
    peer_closed: Option<Closed>,
    /// Plaintext bytes decrypted inside rustls and not yet taken.
    held: usize,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("phase", &self.phase)
            .field("plaintext", &self.plaintext.len())
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// A session to `server`: a DNS name (sent as SNI and verified against the certificate), or
    /// an IP literal, IPv6 without brackets (no SNI; verified against the certificate's IP
    /// SANs). The ClientHello is ready in [`Tls::poll_output`] at once.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidServerName`] for a name that is neither.
    pub fn new(config: &TlsConfig, server: &str) -> Result<Tls, Error> {
        let name = ServerName::try_from(server.to_owned())
            .map_err(|_| Error::new(ErrorKind::InvalidServerName { name: server.to_owned() }))?;
        let conn =
            ClientConnection::new(config.rustls().clone(), name).map_err(Error::from_rustls)?;
        Ok(Tls {
            conn,
            phase: Phase::Handshaking,
            plaintext: BytesMut::new(),
            unsent: BytesMut::new(),
            transmit: BytesMut::new(),
            first: [0; 5],
            first_len: 0,
            events: std::collections::VecDeque::new(),
            peer_closed: None,
            held: 0,
        })
    }

    /// Whether the handshake is still under way.
    #[must_use]
    pub fn is_handshaking(&self) -> bool {
        self.phase == Phase::Handshaking
    }

    /// What the handshake agreed: version, cipher suite, ALPN, the peer certificate's subject
    /// and issuer. `None` while handshaking.
    #[must_use]
    pub fn session_info(&self) -> Option<SessionInfo> {
        if self.phase == Phase::Handshaking {
            return None;
        }
        let version = match self.conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
            _ => "TLS",
        };
        let cipher = self.conn.negotiated_cipher_suite().map_or_else(String::new, |s| {
            s.suite().as_str().map_or_else(|| format!("{:?}", s.suite()), str::to_owned)
        });
        let alpn = self.conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
        let names = self.conn.peer_certificates().and_then(|certs| certs.first()).and_then(|der| {
            let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
            Some((cert.subject().to_string(), cert.issuer().to_string()))
        });
        let (subject, issuer) = names.map_or((None, None), |(s, i)| (Some(s), Some(i)));
        Some(SessionInfo { version, cipher, alpn, subject, issuer })
    }

    /// Whether the session is over (closed by the peer, or failed).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Plaintext from the peer, in order; the layer above takes what it consumes off the front
    /// (`split_to`), exactly as from a socket's read buffer. Decrypted records wait inside
    /// rustls until asked for: this call moves them here (one copy);
    /// [`Tls::read_plaintext`] takes them without this buffer.
    pub fn plaintext(&mut self) -> &mut BytesMut {
        self.drain_plaintext();
        &mut self.plaintext
    }

    // ---- the pull path: the layer below is read by the caller's reader ---------------------

    /// Plaintext straight into `out`: first what [`Tls::plaintext`] holds, then what rustls
    /// decrypted, without this layer's buffer. How many bytes; 0 when none is decrypted
    /// ([`Tls::read_tls`] brings more).
    pub fn read_plaintext(&mut self, out: &mut [u8]) -> usize {
        if !self.plaintext.is_empty() {
            let n = out.len().min(self.plaintext.len());
            out[..n].copy_from_slice(&self.plaintext.split_to(n));
            return n;
        }
        let n = self.conn.reader().read(out).unwrap_or(0);
        self.held = self.held.saturating_sub(n);
        n
    }

    /// Reads ciphertext from `below` (the socket, or the plaintext of the TLS layer below, as
    /// the raw `rustls::StreamOwned` does) with one `read` into rustls, and decrypts it, without
    /// this layer's buffers. `Ok(0)`: `below` ended, taken as [`Tls::handle_eof`] (its outputs
    /// follow in [`Tls::poll_output`]); also when the session is already over, without
    /// reading. Then [`Tls::read_plaintext`]; when [`Tls::has_output`] says so, drain
    /// [`Tls::poll_output`] as after any input.
    ///
    /// # Errors
    /// `below`'s error, untouched (nothing is lost: a later call reads on), or rustls's
    /// refusal of an oversized record as `InvalidData`.
    pub fn read_tls(&mut self, below: &mut dyn io::Read) -> io::Result<usize> {
        if self.phase == Phase::Closed {
            return Ok(0);
        }
        let n = self.conn.read_tls(below)?;
        if n == 0 {
            self.handle_eof();
            return Ok(0);
        }
        self.process();
        Ok(n)
    }

    /// Whether [`Tls::poll_output`] has something beyond [`Output::NeedInput`] to say (an
    /// event, ciphertext to write, plaintext held for the handshake), or the session is over:
    /// the pull path stops and the layer's outputs are drained.
    #[must_use]
    pub fn has_output(&self) -> bool {
        self.phase == Phase::Closed
            || !self.events.is_empty()
            || !self.transmit.is_empty()
            || !self.unsent.is_empty()
            || self.conn.wants_write()
    }

    /// Whether plaintext waits in [`Tls::plaintext`]'s buffer (not counting what rustls holds).
    #[must_use]
    pub fn has_buffered_plaintext(&self) -> bool {
        !self.plaintext.is_empty()
    }

    /// Moves what rustls decrypted into [`Tls::plaintext`]'s buffer.
    fn drain_plaintext(&mut self) {
        if self.held == 0 {
            return;
        }
        let start = self.plaintext.len();
        self.plaintext.resize(start + self.held, 0);
        let got = self.conn.reader().read(&mut self.plaintext[start..]).unwrap_or(0);
        self.plaintext.truncate(start + got);
        self.held = 0;
    }

    /// Feeds ciphertext read from the layer below; all of it is consumed.
    pub fn handle_input(&mut self, ciphertext: &mut BytesMut) {
        if self.phase == Phase::Closed {
            ciphertext.clear();
            return;
        }
        let take = (self.first.len() - self.first_len).min(ciphertext.len());
        self.first[self.first_len..self.first_len + take].copy_from_slice(&ciphertext[..take]);
        self.first_len += take;
        while !ciphertext.is_empty() && self.phase != Phase::Closed {
            let mut slice: &[u8] = ciphertext;
            match self.conn.read_tls(&mut slice) {
                Ok(0) => {
                    // close_notify already received: what follows is not part of the stream.
                    ciphertext.clear();
                    break;
                }
                Ok(n) => {
                    let _ = ciphertext.split_to(n);
                }
                Err(_) => {
                    // rustls's plaintext buffer is full: moved out, then read on.
                    self.drain_plaintext();
                }
            }
            if !self.process() {
                ciphertext.clear();
                return;
            }
        }
    }

    /// The layer below ended (a read returned 0).
    pub fn handle_eof(&mut self) {
        if self.phase == Phase::Closed {
            return;
        }
        let _ = self.conn.read_tls(&mut io::empty());
        if !self.process() {
            return;
        }
        if self.peer_closed.is_none() {
            if self.phase == Phase::Handshaking {
                self.fail(Error::new(ErrorKind::Protocol {
                    what: "connection closed during the TLS handshake".into(),
                }));
                return;
            }
            self.peer_closed = Some(Closed::Unclean);
            self.events.push_back(Output::Closed(Closed::Unclean));
            self.phase = Phase::Closed;
        }
    }

    /// Queues plaintext for the peer; held until the handshake ends, then encrypted.
    ///
    /// # Errors
    /// [`ErrorKind::Closed`] after the session ended.
    pub fn send(&mut self, plaintext: &[u8]) -> Result<(), Error> {
        if self.phase == Phase::Closed {
            return Err(Error::new(ErrorKind::Closed));
        }
        self.unsent.extend_from_slice(plaintext);
        self.push_plaintext();
        Ok(())
    }

    /// Sends close_notify: nothing more will be sent.
    pub fn close(&mut self) {
        if self.phase != Phase::Closed {
            self.conn.send_close_notify();
        }
    }

    /// The next thing for the layer below to do.
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.events.pop_front() {
            return o;
        }
        self.push_plaintext();
        self.take_ciphertext();
        if !self.transmit.is_empty() {
            return Output::Transmit(self.transmit.split().freeze());
        }
        match (self.phase, self.peer_closed) {
            (Phase::Closed, Some(c)) => Output::Closed(c),
            (Phase::Closed, None) => Output::Closed(Closed::Unclean),
            _ => Output::NeedInput,
        }
    }

    /// Hands rustls as much of the held plaintext as it takes, moving its records out whenever
    /// its own buffer (64 KiB) is full. What it cannot take yet (during the handshake) stays
    /// held, and goes once the handshake ends.
    fn push_plaintext(&mut self) {
        while !self.unsent.is_empty() {
            let n = self.conn.writer().write(&self.unsent).unwrap_or(0);
            if n == 0 {
                if !self.conn.wants_write() {
                    return;
                }
                self.take_ciphertext();
                continue;
            }
            let _ = self.unsent.split_to(n);
        }
    }

    /// Moves every record rustls has ready into `transmit`.
    fn take_ciphertext(&mut self) {
        let mut out = (&mut self.transmit).writer();
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut out).is_err() {
                break;
            }
        }
    }

    /// Runs rustls over what it buffered; `false` when the session failed.
    fn process(&mut self) -> bool {
        let state = match self.conn.process_new_packets() {
            Ok(state) => state,
            Err(e) => {
                let err = if self.first[..self.first_len].starts_with(b"HTTP/")
                    || (self.first_len < 5 && b"HTTP/".starts_with(&self.first[..self.first_len]))
                {
                    Error::new(ErrorKind::PlainHttp)
                } else {
                    Error::from_rustls(e)
                };
                self.fail(err);
                return false;
            }
        };
        if self.phase == Phase::Handshaking && !self.conn.is_handshaking() {
            if let Some(p) = self.conn.alpn_protocol() {
                if p != HTTP_1_1 {
                    let selected = String::from_utf8_lossy(p).into_owned();
                    self.fail(Error::new(ErrorKind::AlpnMismatch { selected }));
                    return false;
                }
            }
            self.phase = Phase::Established;
            self.events.push_back(Output::Established);
            self.push_plaintext();
        }
        // Decrypted plaintext stays in rustls until the layer above asks for it
        // (`plaintext`, `read_plaintext`).
        self.held = state.plaintext_bytes_to_read();
        if state.peer_has_closed() && self.peer_closed.is_none() {
            self.peer_closed = Some(Closed::Clean);
            self.events.push_back(Output::Closed(Closed::Clean));
            self.phase = Phase::Closed;
        }
        true
    }

    fn fail(&mut self, err: Error) {
        // Whatever rustls wants to send now (an alert) still goes out first.
        self.events.push_back(Output::Error(err));
        self.phase = Phase::Closed;
    }
}
