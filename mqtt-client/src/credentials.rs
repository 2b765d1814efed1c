//! Credentials that change: a [`CredentialsProvider`] is asked, asynchronously, before every
//! connection attempt (the first and each reconnect), so that a short-lived token (a JWT, an
//! Azure SAS, a cloud provider's signed password) is fresh for each CONNECT without tearing
//! the client down.
//!
//! A loop asks with [`Driver::attempt`](crate::Driver::attempt) and hands the outcome to
//! [`Driver::attempt_outcome`](crate::Driver::attempt_outcome):
//! the provider runs first (inside [`Options::connect_timeout`](crate::Options)), then the
//! transport is opened. A provider that fails, or gives credentials the CONNECT cannot carry,
//! fails that attempt like a refused TCP connection
//! ([`ConnectionEvent::ConnectFailed`](crate::ConnectionEvent::ConnectFailed)), and the next
//! attempt asks again after the backoff.

use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What a [`CredentialsProvider`] gives for one connection. A field left `None` keeps what
/// the options say (the user name and password of the URL or of
/// [`Options::credentials`](crate::Options::credentials)).
///
/// With an [`Authenticator`](crate::Authenticator) set, all of it is handed to
/// [`Authenticator::start_with`](crate::Authenticator::start_with) too (SCRAM takes its user
/// name and password from it), and the exchange supplies the CONNECT's Authentication Data;
/// without one, [`authentication_data`](Self::authentication_data) goes in the CONNECT as it
/// is (v5; the Authentication Method is the options').
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectCredentials {
    /// User Name.
    pub username: Option<String>,
    /// Password (a token).
    pub password: Option<Bytes>,
    /// Authentication Data (v5).
    pub authentication_data: Option<Bytes>,
}

impl std::fmt::Debug for ConnectCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |b: &Option<Bytes>| b.as_ref().map(|_| "<redacted>");
        f.debug_struct("ConnectCredentials")
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("authentication_data", &redacted(&self.authentication_data))
            .finish()
    }
}

impl ConnectCredentials {
    /// Nothing: every field as the options say.
    pub fn new() -> Self {
        Self::default()
    }

    /// A user name and password.
    pub fn user_password(username: &str, password: impl Into<Bytes>) -> Self {
        ConnectCredentials {
            username: Some(username.to_string()),
            password: Some(password.into()),
            authentication_data: None,
        }
    }

    /// Sets the user name.
    pub fn username(mut self, username: &str) -> Self {
        self.username = Some(username.to_string());
        self
    }

    /// Sets the password.
    pub fn password(mut self, password: impl Into<Bytes>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Sets the Authentication Data (v5).
    pub fn authentication_data(mut self, data: impl Into<Bytes>) -> Self {
        self.authentication_data = Some(data.into());
        self
    }
}

/// Why a [`CredentialsProvider`] gave no credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credentials provider: {0}")]
pub struct CredentialsError(pub String);

/// The future a [`CredentialsProvider`] returns.
pub type CredentialsFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ConnectCredentials, CredentialsError>> + Send + 'a>>;

/// Gives the credentials of each connection, set with
/// [`Options::credentials_provider`](crate::Options::credentials_provider). Any
/// `Fn() -> impl Future<Output = Result<ConnectCredentials, CredentialsError>>` is one:
///
/// ```no_run
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use mqtt_client::{ConnectCredentials, Options};
/// # async fn fetch_token() -> Result<String, mqtt_client::CredentialsError> { todo!() }
/// let options = Options::new("mqtts://broker.example:8883", "sensor-1")?
///     .credentials_provider(|| async {
///         let token = fetch_token().await?;
///         Ok(ConnectCredentials::user_password("sensor-1", token))
///     });
/// # let _ = options; Ok(()) }
/// ```
pub trait CredentialsProvider: Send + Sync {
    /// The credentials for the connection about to be made.
    fn credentials(&self) -> CredentialsFuture<'_>;
}

impl<F, Fut> CredentialsProvider for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<ConnectCredentials, CredentialsError>> + Send + 'static,
{
    fn credentials(&self) -> CredentialsFuture<'_> {
        Box::pin(self())
    }
}

/// A shared [`CredentialsProvider`], as [`Options`](crate::Options) keeps it.
#[derive(Clone)]
pub struct SharedCredentialsProvider(pub Arc<dyn CredentialsProvider>);

impl std::fmt::Debug for SharedCredentialsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialsProvider")
    }
}

/// Credentials a CONNECT cannot carry.
pub(crate) fn invalid(error: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("credentials provider: the CONNECT cannot carry its credentials: {error}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let credentials =
            ConnectCredentials::user_password("alice", "hunter2").authentication_data("jwt-xyz");
        let shown = format!("{credentials:?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("jwt-xyz"),
            "{shown}"
        );
    }
}
