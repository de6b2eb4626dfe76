//! ferry-tls: TLS for ferry as a sans-I/O layer over rustls.
//!
//! **What it leaves out.** No socket, no clock, no thread, no DNS. Ciphertext goes in below
//! ([`Tls::handle_input`], [`Tls::handle_eof`]) and comes out below ([`Output::Transmit`]);
//! plaintext goes in from above ([`Tls::send`]) and comes out above ([`Tls::plaintext`]). The
//! handshake deadline is the caller's (ferry's stack arms the core's `TlsHandshake` timer).
//!
//! **What it does.** Verifies the server by default: Mozilla's roots (`webpki-roots`), the
//! system store on request (`rustls-native-certs`), extra CAs from PEM; a client certificate;
//! SNI from the host name and none for an IP literal (whose IP SAN is verified); ALPN
//! `http/1.1`, refusing a server that picks anything else; the clean or unclean end of the
//! stream (close_notify or not), so a truncated close-delimited body can be told from a whole
//! one. Verification is off only through [`TlsConfigBuilder::danger_accept_invalid_certs`].
//!
//! Every rustls type stays behind this crate: its API is its own types, so a new rustls changes
//! this crate alone.
//!
//! # The loop
//!
//! ```text
//!   socket bytes ─▶ handle_input(&mut ciphertext) ─▶ plaintext() (taken by the layer above)
//!   layer above  ─▶ send(plaintext)               ─▶ poll_output(): Transmit(ciphertext) ─▶ socket
//! ```
//! After any `handle_*` or `send`, drain [`Tls::poll_output`] until it answers
//! [`Output::NeedInput`] (or a terminal [`Output::Closed`] / [`Output::Error`]); the
//! plaintext that arrived meanwhile is in [`Tls::plaintext`], to be consumed from the front.
//!
//! **The pull path**, for a body the layer above reads straight into its caller's buffer, as
//! a raw `rustls::StreamOwned` does: [`Tls::read_plaintext`] into a `&mut [u8]`, refilled by
//! [`Tls::read_tls`] from any `io::Read` (the socket, or the plaintext of the layer below);
//! when [`Tls::has_output`] says so, drain [`Tls::poll_output`] as after any input. Decrypted
//! plaintext stays inside rustls until either path asks for it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod error;
mod session;

pub use config::{TlsConfig, TlsConfigBuilder};
pub use error::{CertificateProblem, Error, ErrorKind};
pub use session::{Closed, Output, SessionInfo, Tls};
