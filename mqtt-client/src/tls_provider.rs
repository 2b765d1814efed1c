//! Which rustls crypto provider TLS uses, and the platform's trust: chosen by features.
//!
//! * `ring` (on by default) or `aws-lc-rs`: the provider built in (aws-lc-rs when both are
//!   on). With neither, the process's default provider is used
//!   ([`CryptoProvider::install_default`]), so an application can bring its own (a FIPS
//!   build, say); without one, [`TlsOptions::build`](crate::TlsOptions::build) fails with
//!   [`TlsError::NoCryptoProvider`]. A provider given
//!   with [`TlsOptions::crypto_provider`](crate::TlsOptions::crypto_provider) comes first,
//!   then the process default, then the built-in one.
//! * `native-roots`: [`TlsOptions::native_roots`](crate::TlsOptions::native_roots) trusts the
//!   operating system's root store (rustls-native-certs).
//! * `platform-verifier`:
//!   [`TlsOptions::platform_verifier`](crate::TlsOptions::platform_verifier) verifies with the
//!   operating system's verifier (rustls-platform-verifier: the OS's own on macOS, Windows and
//!   Android, its root store with webpki elsewhere), the CAs given with `ca_pem` added.

use rustls::crypto::CryptoProvider;
use std::sync::Arc;

use crate::tls::TlsError;

/// The provider of a configuration: `chosen`, the process default, or the built-in one.
pub(crate) fn provider(
    chosen: Option<&Arc<CryptoProvider>>,
) -> Result<Arc<CryptoProvider>, TlsError> {
    if let Some(provider) = chosen {
        return Ok(provider.clone());
    }
    if let Some(provider) = CryptoProvider::get_default() {
        return Ok(provider.clone());
    }
    built_in().ok_or(TlsError::NoCryptoProvider)
}

#[cfg(feature = "aws-lc-rs")]
fn built_in() -> Option<Arc<CryptoProvider>> {
    Some(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
fn built_in() -> Option<Arc<CryptoProvider>> {
    Some(Arc::new(rustls::crypto::ring::default_provider()))
}

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
fn built_in() -> Option<Arc<CryptoProvider>> {
    None
}

/// The operating system's root certificates; the unreadable ones are left out.
#[cfg(feature = "native-roots")]
pub(crate) fn native_roots(roots: &mut rustls::RootCertStore) -> Result<(), TlsError> {
    let loaded = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
    if added == 0 {
        let why = loaded.errors.first().map(|e| e.to_string());
        return Err(TlsError::NativeRoots(
            why.unwrap_or_else(|| "none found".into()),
        ));
    }
    Ok(())
}

/// The platform's verifier, trusting the CAs `extra` besides the platform's roots.
#[cfg(feature = "platform-verifier")]
pub(crate) fn platform_verifier(
    extra: Vec<rustls::pki_types::CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::client::danger::ServerCertVerifier>, TlsError> {
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(verifier))
}

#[cfg(test)]
mod tests {
    /// Without a provider feature and without a process default, TLS settings cannot be
    /// made, and the error says what to do (`cargo test -p mqtt-client --no-default-features`,
    /// which .ci/run runs).
    #[test]
    #[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
    fn no_provider_is_a_clear_error() {
        let error = crate::TlsOptions::new()
            .dangerous_accept_any_server_certificate()
            .build()
            .err();
        assert_eq!(error, Some(crate::TlsError::NoCryptoProvider));
    }

    /// With a provider feature, it is the one used.
    #[test]
    #[cfg(any(feature = "ring", feature = "aws-lc-rs"))]
    fn the_feature_provider_is_used() {
        let config = crate::TlsOptions::new()
            .dangerous_accept_any_server_certificate()
            .build();
        assert!(config.is_ok(), "{config:?}");
    }
}
