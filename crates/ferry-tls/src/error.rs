//! The one error of the TLS layer.

use std::fmt;

/// Why a certificate was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// No trusted root issued it (a self-made CA not added, a private PKI).
    UnknownIssuer,
    /// Its validity ended.
    Expired,
    /// Its validity has not begun.
    NotYetValid,
    /// It is not valid for the name (or IP address) that was dialled.
    NameMismatch,
    /// Its issuer revoked it.
    Revoked,
    /// Its signature does not verify, or uses an algorithm not supported.
    BadSignature,
    /// It cannot be used for a TLS server, or does not parse.
    Other,
}

/// What went wrong, with its typed facts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The peer's certificate was refused.
    Certificate(CertificateProblem),
    /// The peer sent a TLS alert.
    AlertReceived {
        /// The alert's name, as rustls shows it (`HandshakeFailure`, `UnknownCA`, ...).
        alert: String,
    },
    /// The peer answered the ClientHello in plain HTTP (`HTTP/`...): it speaks no TLS on this
    /// port. Typically an `https://` proxy URL that points at a plain-HTTP proxy.
    PlainHttp,
    /// The server chose an ALPN protocol other than `http/1.1`.
    AlpnMismatch {
        /// The protocol it chose, lossily decoded.
        selected: String,
    },
    /// The peer broke the TLS protocol (a bad record, a handshake out of order, ...).
    Protocol {
        /// What rustls found, as rustls shows it.
        what: String,
    },
    /// The host name cannot be a TLS server name.
    InvalidServerName {
        /// The name as given.
        name: String,
    },
    /// PEM that holds no certificate or key, or that does not parse.
    InvalidPem {
        /// What was expected: `"certificate"` or `"private key"`.
        expected: &'static str,
    },
    /// A file named in the settings could not be read.
    File {
        /// The path, as given.
        path: String,
        /// The I/O error, shown.
        io: String,
    },
    /// The settings cannot make a TLS client (a client key rustls refuses, no roots at all).
    Config {
        /// What rustls said.
        what: String,
    },
    /// Plaintext was sent after the session closed, or the session was used after an error.
    Closed,
}

/// The error of the TLS layer. The rustls error it came from, if any, is its
/// [`source`](std::error::Error::source).
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    source: Option<std::sync::Arc<rustls::Error>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error { kind, source: None }
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Whether the peer's certificate was refused, and why.
    #[must_use]
    pub fn certificate_problem(&self) -> Option<CertificateProblem> {
        match self.kind {
            ErrorKind::Certificate(p) => Some(p),
            _ => None,
        }
    }

    pub(crate) fn from_rustls(e: rustls::Error) -> Error {
        use rustls::CertificateError as C;
        let problem = |c: &C| match c {
            C::UnknownIssuer => CertificateProblem::UnknownIssuer,
            C::Expired | C::ExpiredContext { .. } => CertificateProblem::Expired,
            C::NotValidYet | C::NotValidYetContext { .. } => CertificateProblem::NotYetValid,
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                CertificateProblem::NameMismatch
            }
            C::Revoked => CertificateProblem::Revoked,
            C::BadSignature
            | C::UnsupportedSignatureAlgorithmContext { .. }
            | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                CertificateProblem::BadSignature
            }
            _ => CertificateProblem::Other,
        };
        let kind = match &e {
            rustls::Error::InvalidCertificate(c) => ErrorKind::Certificate(problem(c)),
            rustls::Error::AlertReceived(a) => ErrorKind::AlertReceived { alert: format!("{a:?}") },
            other => ErrorKind::Protocol { what: other.to_string() },
        };
        Error { kind, source: Some(std::sync::Arc::new(e)) }
    }
}

impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        self.kind == other.kind
    }
}

impl Eq for Error {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl fmt::Display for CertificateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CertificateProblem::UnknownIssuer => "issued by an unknown authority",
            CertificateProblem::Expired => "expired",
            CertificateProblem::NotYetValid => "not yet valid",
            CertificateProblem::NameMismatch => "not valid for the name that was dialled",
            CertificateProblem::Revoked => "revoked",
            CertificateProblem::BadSignature => "badly signed",
            CertificateProblem::Other => "unusable",
        })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Certificate(p) => write!(f, "invalid peer certificate: {p}"),
            ErrorKind::AlertReceived { alert } => write!(f, "peer sent the TLS alert {alert}"),
            ErrorKind::PlainHttp => {
                f.write_str("peer answered the TLS handshake in plain HTTP: it speaks no TLS here")
            }
            ErrorKind::AlpnMismatch { selected } => {
                write!(f, "server chose the protocol {selected:?} instead of http/1.1")
            }
            ErrorKind::Protocol { what } => write!(f, "TLS protocol error: {what}"),
            ErrorKind::InvalidServerName { name } => write!(f, "{name:?} is not a TLS server name"),
            ErrorKind::InvalidPem { expected } => write!(f, "PEM holds no valid {expected}"),
            ErrorKind::File { path, io } => write!(f, "cannot read {path:?}: {io}"),
            ErrorKind::Config { what } => write!(f, "unusable TLS settings: {what}"),
            ErrorKind::Closed => f.write_str("the TLS session is closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}
