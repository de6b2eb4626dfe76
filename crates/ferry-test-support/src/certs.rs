//! A certificate authority and the leaves it signs, for real TLS in tests.
//!
//! ```
//! use ferry_test_support::certs::Ca;
//! let ca = Ca::new("ferry test CA");
//! let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
//! assert_eq!(leaf.chain().len(), 2, "the leaf, then the CA");
//! assert!(ca.pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! ```

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// A self-signed certificate authority that signs leaves.
pub struct Ca {
    cert: CertificateDer<'static>,
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate signed by a [`Ca`], with its private key.
#[derive(Clone)]
pub struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
    cert_pem: String,
    key_pem: String,
}

/// How a leaf is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Server,
    ExpiredServer,
    Client,
}

impl Ca {
    /// A fresh CA with this common name, valid from yesterday for ten years.
    ///
    /// # Panics
    /// If rcgen cannot make a key or sign (it can on every supported platform).
    #[must_use]
    pub fn new(common_name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names to check");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(3650);
        let key = KeyPair::generate().expect("a fresh key pair");
        let cert = params.self_signed(&key).expect("a self-signed CA");
        Ca { pem: cert.pem(), cert: cert.der().clone(), issuer: Issuer::new(params, key) }
    }

    /// The CA certificate, DER.
    #[must_use]
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// The CA certificate, PEM: what a user puts in an "extra CA" file.
    #[must_use]
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A server leaf valid now for these names (DNS names, or IP literals which become IP
    /// SANs).
    #[must_use]
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.make(names, Kind::Server)
    }

    /// A server leaf for these names whose validity ended yesterday.
    #[must_use]
    pub fn expired_leaf(&self, names: &[&str]) -> Leaf {
        self.make(names, Kind::ExpiredServer)
    }

    /// A client-authentication leaf with this common name.
    #[must_use]
    pub fn client_leaf(&self, common_name: &str) -> Leaf {
        self.make(&[common_name], Kind::Client)
    }

    fn make(&self, names: &[&str], kind: Kind) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("valid test names");
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, first.as_str());
        }
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![match kind {
            Kind::Server | Kind::ExpiredServer => ExtendedKeyUsagePurpose::ServerAuth,
            Kind::Client => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        let now = OffsetDateTime::now_utc();
        (params.not_before, params.not_after) = match kind {
            Kind::ExpiredServer => (now - Duration::days(30), now - Duration::days(1)),
            Kind::Server | Kind::Client => (now - Duration::days(1), now + Duration::days(365)),
        };
        let key = KeyPair::generate().expect("a fresh key pair");
        let cert = params.signed_by(&key, &self.issuer).expect("signed by the CA");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            chain: vec![cert.der().clone(), self.cert.clone()],
            key: key.serialize_der(),
        }
    }
}

impl Leaf {
    /// The chain a server presents: the leaf, then the CA.
    #[must_use]
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The private key, DER.
    #[must_use]
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()))
    }

    /// The leaf certificate alone, PEM.
    #[must_use]
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PKCS #8 PEM.
    #[must_use]
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A rustls server configuration presenting this leaf, offering these ALPN protocols
    /// (none: the server picks none).
    ///
    /// # Panics
    /// If rustls refuses the key (it does not for keys rcgen made).
    #[must_use]
    pub fn server_config(&self, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("default protocol versions")
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key())
            .expect("a key rustls accepts");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

impl std::fmt::Debug for Leaf {
    /// The names of the chain's length only: never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leaf").field("chain_len", &self.chain.len()).finish_non_exhaustive()
    }
}
