//! TLS settings: trust anchors, a client certificate, and the dangerous switch.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, ErrorKind};

/// The ALPN protocol ferry offers, and the only one it accepts.
pub(crate) const HTTP_1_1: &[u8] = b"http/1.1";

/// Settings for one kind of TLS connection (to proxies, or to origins: ferry keeps the two
/// apart). Cheap to clone; immutable once built.
///
/// ```
/// let config = ferry_tls::TlsConfig::builder().build().unwrap();
/// assert!(config.verifies_certificates());
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    inner: Arc<ClientConfig>,
    fingerprint: u64,
    verifies: bool,
}

impl TlsConfig {
    /// A builder with the defaults: Mozilla's roots, no client certificate, verification on.
    #[must_use]
    pub fn builder() -> TlsConfigBuilder {
        TlsConfigBuilder::default()
    }

    /// A fingerprint of every setting, for the pool key: connections made with different
    /// settings are never shared. Stable within one build of ferry.
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Whether peer certificates are verified (false only after
    /// [`TlsConfigBuilder::danger_accept_invalid_certs`]).
    #[must_use]
    pub fn verifies_certificates(&self) -> bool {
        self.verifies
    }

    pub(crate) fn rustls(&self) -> &Arc<ClientConfig> {
        &self.inner
    }
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("verifies_certificates", &self.verifies)
            .field("fingerprint", &format_args!("{:016x}", self.fingerprint))
            .finish_non_exhaustive()
    }
}

/// Builds a [`TlsConfig`].
#[derive(Clone)]
pub struct TlsConfigBuilder {
    webpki_roots: bool,
    native_roots: bool,
    extra_cas: Vec<CertificateDer<'static>>,
    client: Option<(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>)>,
    danger_accept_invalid_certs: bool,
}

impl Default for TlsConfigBuilder {
    fn default() -> Self {
        TlsConfigBuilder {
            webpki_roots: cfg!(feature = "webpki-roots"),
            native_roots: false,
            extra_cas: Vec::new(),
            client: None,
            danger_accept_invalid_certs: false,
        }
    }
}

impl std::fmt::Debug for TlsConfigBuilder {
    /// Counts and switches only: never a key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfigBuilder")
            .field("webpki_roots", &self.webpki_roots)
            .field("native_roots", &self.native_roots)
            .field("extra_cas", &self.extra_cas.len())
            .field("client_certificate", &self.client.is_some())
            .field("danger_accept_invalid_certs", &self.danger_accept_invalid_certs)
            .finish()
    }
}

impl TlsConfigBuilder {
    /// Trust Mozilla's roots (`webpki-roots`). On by default with the `webpki-roots` feature.
    #[must_use]
    pub fn webpki_roots(mut self, yes: bool) -> Self {
        self.webpki_roots = yes;
        self
    }

    /// Trust the operating system's certificate store (`rustls-native-certs`, feature
    /// `native-roots`). Off by default. Certificates of the store that do not parse are
    /// skipped.
    #[must_use]
    pub fn native_roots(mut self, yes: bool) -> Self {
        self.native_roots = yes;
        self
    }

    /// Trust the CA certificates in this PEM text as well.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidPem`] when it holds no certificate or one does not parse.
    pub fn add_ca_pem(mut self, pem: &[u8]) -> Result<Self, Error> {
        let certs = certificates(pem)?;
        self.extra_cas.extend(certs);
        Ok(self)
    }

    /// Trust the CA certificates in this PEM file as well.
    ///
    /// # Errors
    /// [`ErrorKind::File`] when it cannot be read; then as [`TlsConfigBuilder::add_ca_pem`].
    pub fn add_ca_pem_file(self, path: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        let pem = read(path.as_ref())?;
        self.add_ca_pem(&pem)
    }

    /// Present this client certificate chain (PEM, leaf first) with its private key (PEM,
    /// PKCS #8, PKCS #1 or SEC1) when a server asks for one.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidPem`] when either holds nothing usable.
    pub fn client_cert_pem(mut self, chain: &[u8], key: &[u8]) -> Result<Self, Error> {
        let chain = certificates(chain)?;
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|_| Error::new(ErrorKind::InvalidPem { expected: "private key" }))?;
        self.client = Some((chain, Arc::new(key)));
        Ok(self)
    }

    /// As [`TlsConfigBuilder::client_cert_pem`], from files.
    ///
    /// # Errors
    /// [`ErrorKind::File`] when one cannot be read; then as
    /// [`TlsConfigBuilder::client_cert_pem`].
    pub fn client_cert_pem_files(
        self,
        chain: impl AsRef<std::path::Path>,
        key: impl AsRef<std::path::Path>,
    ) -> Result<Self, Error> {
        let (chain, key) = (read(chain.as_ref())?, read(key.as_ref())?);
        self.client_cert_pem(&chain, &key)
    }

    /// **Dangerous**: accept any certificate for any name, expired, self-signed or forged.
    /// Anyone on the path can then read and change the traffic. Signatures of the handshake
    /// are still checked, so the session is at least with whoever holds the presented key.
    #[must_use]
    pub fn danger_accept_invalid_certs(mut self, yes: bool) -> Self {
        self.danger_accept_invalid_certs = yes;
        self
    }

    /// The settings, ready to open sessions.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when rustls refuses the client key, or when no root of trust is
    /// left while verification is on.
    pub fn build(self) -> Result<TlsConfig, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let fingerprint = self.fingerprint();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error(&e))?;
        let builder = if self.danger_accept_invalid_certs {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(
                provider.signature_verification_algorithms,
            )))
        } else {
            let roots = self.roots();
            if roots.is_empty() {
                return Err(Error::new(ErrorKind::Config {
                    what: "no root certificate to verify servers with".into(),
                }));
            }
            builder.with_root_certificates(roots)
        };
        let mut config = match self.client {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key.clone_key())
                .map_err(|e| config_error(&e))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![HTTP_1_1.to_vec()];
        Ok(TlsConfig {
            inner: Arc::new(config),
            fingerprint,
            verifies: !self.danger_accept_invalid_certs,
        })
    }

    fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        #[cfg(feature = "webpki-roots")]
        if self.webpki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        #[cfg(feature = "native-roots")]
        if self.native_roots {
            let _ = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
        let _ = roots.add_parsable_certificates(self.extra_cas.iter().cloned());
        roots
    }

    fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        (self.webpki_roots, self.native_roots, self.danger_accept_invalid_certs).hash(&mut h);
        for ca in &self.extra_cas {
            ca.as_ref().hash(&mut h);
        }
        if let Some((chain, key)) = &self.client {
            for c in chain {
                c.as_ref().hash(&mut h);
            }
            key.secret_der().hash(&mut h);
        }
        h.finish()
    }
}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bad = || Error::new(ErrorKind::InvalidPem { expected: "certificate" });
    let certs =
        CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|_| bad())?;
    if certs.is_empty() { Err(bad()) } else { Ok(certs) }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| {
        Error::new(ErrorKind::File { path: path.display().to_string(), io: e.to_string() })
    })
}

fn config_error(e: &rustls::Error) -> Error {
    Error::new(ErrorKind::Config { what: e.to_string() })
}

/// The verifier behind [`TlsConfigBuilder::danger_accept_invalid_certs`]: any certificate, but
/// the handshake's signatures are still verified with the provider's algorithms.
#[derive(Debug)]
struct AcceptAnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
