//! The TLS settings of a client: one for proxies, one for origins.

use ferry_tls::{Error, TlsConfig};

/// TLS settings for the two kinds of peer, kept apart: relaxing verification for a proxy
/// (a corporate MITM proxy, say) leaves the origins verified.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// For `https://` proxies.
    pub proxy: TlsConfig,
    /// For `https://` origins.
    pub origin: TlsConfig,
}

impl TlsSettings {
    /// Both verified against Mozilla's roots.
    ///
    /// # Errors
    /// When no root is compiled in (ferry-tls without `webpki-roots`).
    pub fn new() -> Result<TlsSettings, Error> {
        let config = TlsConfig::builder().build()?;
        Ok(TlsSettings { proxy: config.clone(), origin: config })
    }

    /// The same settings for proxies and origins.
    #[must_use]
    pub fn both(config: TlsConfig) -> TlsSettings {
        TlsSettings { proxy: config.clone(), origin: config }
    }

    /// A fingerprint of both, for the pool key.
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        self.proxy.fingerprint().rotate_left(17) ^ self.origin.fingerprint()
    }
}
