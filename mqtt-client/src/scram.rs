//! SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash) as an MQTT v5 enhanced authentication
//! method, under the method name `SCRAM-SHA-256`. The messages map onto the MQTT exchange:
//!
//! | SCRAM             | MQTT                                                        |
//! |-------------------|-------------------------------------------------------------|
//! | client-first      | CONNECT's Authentication Data (AUTH 0x19 to re-authenticate) |
//! | server-first      | the server's AUTH 0x18 Continue authentication              |
//! | client-final      | the client's AUTH 0x18 Continue authentication               |
//! | server-final      | the CONNACK that accepts (AUTH 0x00 Success to re-authenticate) |
//!
//! No channel binding (the GS2 header is `n,,`). The client proves it knows the password
//! without sending it, and checks the server's signature, which only a server that holds the
//! password's keys can make: a connection to a server that fails it is closed before
//! anything else is sent.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use zeroize::Zeroizing;

use crate::auth::{AuthError, AuthExchange, Authenticator};

type HmacSha256 = Hmac<Sha256>;

/// The GS2 header of a client that supports no channel binding and names no authorization
/// identity (RFC 5802 section 7), and its base64 form that client-final repeats (`c=`).
const GS2_HEADER: &str = "n,,";
const GS2_HEADER_BASE64: &str = "biws";

/// A source of client nonces (see [`ScramSha256::nonce_source`]).
type NonceSource = Arc<dyn Fn() -> Result<String, AuthError> + Send + Sync>;

/// SCRAM-SHA-256 for [`Options::authenticator`](crate::Options::authenticator): a user name
/// and a password, which never appears in `Debug` output or logs and is wiped from memory
/// when dropped.
///
/// The server's iteration count must lie in [`ScramSha256::iterations`]' range (by default
/// 4096, RFC 7677's least, to 600,000): a lower count would let a server that is not the
/// real one test guesses of the password cheaply, and a higher one would hold the
/// connection's task for long (the key is derived on it).
///
/// ```no_run
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use mqtt_client::{Options, ScramSha256};
/// let options = Options::new("mqtts://broker.example:8883", "sensor-1")?
///     .authenticator(ScramSha256::new("sensor-1", "correct horse"))?;
/// # let _ = options; Ok(()) }
/// ```
#[derive(Clone)]
pub struct ScramSha256 {
    username: String,
    password: Arc<Zeroizing<Vec<u8>>>,
    min_iterations: u32,
    max_iterations: u32,
    nonce: NonceSource,
}

impl std::fmt::Debug for ScramSha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramSha256")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("iterations", &(self.min_iterations..=self.max_iterations))
            .finish()
    }
}

impl ScramSha256 {
    /// The method name, `SCRAM-SHA-256`.
    pub const METHOD: &'static str = "SCRAM-SHA-256";

    /// SCRAM-SHA-256 with these credentials, a random nonce for every exchange. The user name
    /// and password are used as given (no SASLprep normalisation: give them as the server
    /// stored them).
    pub fn new(username: &str, password: impl Into<Vec<u8>>) -> Self {
        ScramSha256 {
            username: username.to_string(),
            password: Arc::new(Zeroizing::new(password.into())),
            min_iterations: 4096,
            max_iterations: 600_000,
            nonce: Arc::new(random_nonce),
        }
    }

    /// Accepts server iteration counts from `min` to `max`.
    pub fn iterations(mut self, min: u32, max: u32) -> Self {
        self.min_iterations = min;
        self.max_iterations = max;
        self
    }

    /// Draws the client nonce from `source` instead of the operating system's randomness:
    /// for tests that replay known exchanges (RFC 7677's test vector). A nonce must be
    /// printable ASCII without `,`, and must never repeat in real use.
    pub fn nonce_source(
        mut self,
        source: impl Fn() -> Result<String, AuthError> + Send + Sync + 'static,
    ) -> Self {
        self.nonce = Arc::new(source);
        self
    }
}

impl Authenticator for ScramSha256 {
    fn method(&self) -> &str {
        Self::METHOD
    }

    fn start(&self) -> Box<dyn AuthExchange> {
        Box::new(ScramExchange {
            scram: self.clone(),
            step: Step::Start,
        })
    }

    /// The provider's user name and password, where it gave them, instead of those given to
    /// [`ScramSha256::new`].
    fn start_with(&self, credentials: &crate::ConnectCredentials) -> Box<dyn AuthExchange> {
        let mut scram = self.clone();
        if let Some(username) = &credentials.username {
            scram.username = username.clone();
        }
        if let Some(password) = &credentials.password {
            scram.password = Arc::new(Zeroizing::new(password.to_vec()));
        }
        Box::new(ScramExchange {
            scram,
            step: Step::Start,
        })
    }
}

/// 24 bytes of the operating system's randomness, in base64 (printable, no `,`).
fn random_nonce() -> Result<String, AuthError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(BASE64.encode(bytes))
}

/// `saslname` (RFC 5802 section 7): `=` and `,` escaped as `=3D` and `=2C`.
fn sasl_name(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// Where one exchange stands.
enum Step {
    /// Nothing sent yet.
    Start,
    /// client-first sent: its bare part and our nonce.
    First { bare: String, nonce: String },
    /// client-final sent: the server signature that server-final must carry.
    Final {
        server_signature: Zeroizing<[u8; 32]>,
    },
    /// Done, or failed.
    Done,
}

/// One SCRAM-SHA-256 exchange.
struct ScramExchange {
    scram: ScramSha256,
    step: Step,
}

impl std::fmt::Debug for ScramExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let step = match self.step {
            Step::Start => "start",
            Step::First { .. } => "client-first sent",
            Step::Final { .. } => "client-final sent",
            Step::Done => "done",
        };
        f.debug_struct("ScramExchange")
            .field("scram", &self.scram)
            .field("step", &step)
            .finish()
    }
}

impl AuthExchange for ScramExchange {
    fn initial_data(&mut self) -> Result<Option<Bytes>, AuthError> {
        let nonce = (self.scram.nonce)()?;
        if nonce.is_empty()
            || nonce
                .bytes()
                .any(|b| !(0x21..=0x7E).contains(&b) || b == b',')
        {
            return Err(AuthError::Other(
                "a client nonce must be printable, without ','".into(),
            ));
        }
        let bare = format!("n={},r={nonce}", sasl_name(&self.scram.username));
        let first = format!("{GS2_HEADER}{bare}");
        self.step = Step::First { bare, nonce };
        Ok(Some(Bytes::from(first)))
    }

    fn challenge(&mut self, data: Option<&[u8]>) -> Result<Option<Bytes>, AuthError> {
        let Step::First { bare, nonce } = std::mem::replace(&mut self.step, Step::Done) else {
            return Err(AuthError::UnexpectedStep(
                "a challenge after SCRAM's client-final",
            ));
        };
        let server_first = text(data)?;
        let first = ServerFirst::parse(server_first)?;
        // RFC 5802 section 5.1: the server's nonce starts with the client's and adds to it.
        if !first.nonce.starts_with(nonce.as_str()) || first.nonce.len() == nonce.len() {
            return Err(AuthError::Nonce);
        }
        let (min, max) = (self.scram.min_iterations, self.scram.max_iterations);
        if !(min..=max).contains(&first.iterations) {
            return Err(AuthError::IterationCount {
                got: first.iterations,
                min,
                max,
            });
        }
        let without_proof = format!("c={GS2_HEADER_BASE64},r={}", first.nonce);
        let auth_message = format!("{bare},{server_first},{without_proof}");
        let keys = Keys::derive(&self.scram.password, &first.salt, first.iterations);
        let proof = keys.client_proof(auth_message.as_bytes());
        let server_signature = keys.server_signature(auth_message.as_bytes());
        self.step = Step::Final { server_signature };
        let client_final = format!("{without_proof},p={}", BASE64.encode(&proof[..]));
        Ok(Some(Bytes::from(client_final)))
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), AuthError> {
        let Step::Final { server_signature } = std::mem::replace(&mut self.step, Step::Done) else {
            // A server that accepts before client-final never proved that it knows the
            // password.
            return Err(AuthError::UnexpectedStep(
                "the server accepted before SCRAM's last step",
            ));
        };
        let server_final = text(data)?;
        let mut attributes = server_final.split(',');
        let first = attributes.next().unwrap_or_default();
        if let Some(error) = first.strip_prefix("e=") {
            return Err(AuthError::ServerError(error.to_string()));
        }
        let Some(signature) = first.strip_prefix("v=") else {
            return Err(AuthError::Malformed("server-final has no verifier (v=)"));
        };
        let signature = BASE64
            .decode(signature)
            .map_err(|_| AuthError::Malformed("server-final's verifier is not base64"))?;
        if constant_time_eq(&signature, &server_signature[..]) {
            Ok(())
        } else {
            Err(AuthError::ServerNotVerified)
        }
    }
}

/// Authentication Data as the UTF-8 text SCRAM messages are.
fn text(data: Option<&[u8]>) -> Result<&str, AuthError> {
    let data = data.ok_or(AuthError::Malformed("no authentication data"))?;
    std::str::from_utf8(data).map_err(|_| AuthError::Malformed("not UTF-8"))
}

/// Whether `a` and `b` are equal, taking as long whatever bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// server-first-message (RFC 5802 section 7): `[m=...,]r=nonce,s=salt,i=count[,ext]`.
struct ServerFirst<'a> {
    nonce: &'a str,
    salt: Vec<u8>,
    iterations: u32,
}

impl<'a> ServerFirst<'a> {
    fn parse(message: &'a str) -> Result<Self, AuthError> {
        let mut attributes = message.split(',');
        let mut next = |key: &str| {
            attributes
                .next()
                .and_then(|a| a.strip_prefix(key))
                .filter(|v| !v.is_empty())
        };
        if message.starts_with("m=") {
            // A mandatory extension: this client knows none.
            return Err(AuthError::Malformed(
                "server-first has a mandatory extension (m=)",
            ));
        }
        let nonce = next("r=").ok_or(AuthError::Malformed("server-first has no nonce (r=)"))?;
        let salt = next("s=").ok_or(AuthError::Malformed("server-first has no salt (s=)"))?;
        let salt = BASE64
            .decode(salt)
            .map_err(|_| AuthError::Malformed("server-first's salt is not base64"))?;
        let iterations =
            next("i=")
                .and_then(|i| i.parse::<u32>().ok())
                .ok_or(AuthError::Malformed(
                    "server-first has no iteration count (i=)",
                ))?;
        if nonce.bytes().any(|b| !(0x21..=0x7E).contains(&b)) {
            return Err(AuthError::Malformed(
                "server-first's nonce is not printable",
            ));
        }
        Ok(ServerFirst {
            nonce,
            salt,
            iterations,
        })
    }
}

/// The keys of RFC 5802 section 3, derived from the password; wiped when dropped.
struct Keys {
    salted_password: Zeroizing<[u8; 32]>,
}

impl Keys {
    fn derive(password: &[u8], salt: &[u8], iterations: u32) -> Self {
        let mut salted_password = Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut salted_password[..]);
        Keys { salted_password }
    }

    fn hmac(key: &[u8], message: &[u8]) -> Zeroizing<[u8; 32]> {
        // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
        let mut out = Zeroizing::new([0u8; 32]);
        if let Ok(mut mac) = HmacSha256::new_from_slice(key) {
            mac.update(message);
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        out
    }

    /// ClientProof = ClientKey XOR HMAC(H(ClientKey), AuthMessage).
    fn client_proof(&self, auth_message: &[u8]) -> Zeroizing<[u8; 32]> {
        let client_key = Self::hmac(&self.salted_password[..], b"Client Key");
        let mut stored_key = Zeroizing::new([0u8; 32]);
        stored_key.copy_from_slice(&Sha256::digest(&client_key[..]));
        let signature = Self::hmac(&stored_key[..], auth_message);
        let mut proof = Zeroizing::new([0u8; 32]);
        for (i, byte) in proof.iter_mut().enumerate() {
            *byte = client_key[i] ^ signature[i];
        }
        proof
    }

    /// ServerSignature = HMAC(HMAC(SaltedPassword, "Server Key"), AuthMessage).
    fn server_signature(&self, auth_message: &[u8]) -> Zeroizing<[u8; 32]> {
        let server_key = Self::hmac(&self.salted_password[..], b"Server Key");
        Self::hmac(&server_key[..], auth_message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc7677() -> Box<dyn AuthExchange> {
        ScramSha256::new("user", "pencil")
            .nonce_source(|| Ok(NONCE.to_string()))
            .start()
    }

    fn bytes(s: &str) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(s.as_bytes()))
    }

    /// RFC 7677 section 3: the exchange of user "user", password "pencil", byte for byte.
    #[test]
    fn rfc_7677_test_vector() {
        let mut exchange = rfc7677();
        let first = exchange.initial_data().unwrap();
        assert_eq!(first, bytes("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
        let last = exchange.challenge(Some(SERVER_FIRST.as_bytes())).unwrap();
        assert_eq!(last, bytes(CLIENT_FINAL));
        exchange.finish(Some(SERVER_FINAL.as_bytes())).unwrap();
        // Nothing follows the last step.
        assert_eq!(
            exchange.challenge(Some(SERVER_FIRST.as_bytes())),
            Err(AuthError::UnexpectedStep(
                "a challenge after SCRAM's client-final"
            ))
        );
    }

    /// The server signature must be the one the password's keys make (RFC 5802 section 5.1).
    #[test]
    fn a_wrong_server_signature_fails() {
        let mut exchange = rfc7677();
        exchange.initial_data().unwrap();
        exchange.challenge(Some(SERVER_FIRST.as_bytes())).unwrap();
        let wrong = "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
        assert_eq!(
            exchange.finish(Some(wrong.as_bytes())),
            Err(AuthError::ServerNotVerified)
        );
        // The right signature for another password fails as well.
        let mut exchange = ScramSha256::new("user", "pencil2")
            .nonce_source(|| Ok(NONCE.to_string()))
            .start();
        exchange.initial_data().unwrap();
        exchange.challenge(Some(SERVER_FIRST.as_bytes())).unwrap();
        assert_eq!(
            exchange.finish(Some(SERVER_FINAL.as_bytes())),
            Err(AuthError::ServerNotVerified)
        );
    }

    #[test]
    fn server_errors_and_malformed_final_messages_fail() {
        for (server_final, error) in [
            (
                Some("e=invalid-proof"),
                AuthError::ServerError("invalid-proof".into()),
            ),
            (
                Some("x=1"),
                AuthError::Malformed("server-final has no verifier (v=)"),
            ),
            (
                Some("v=!!"),
                AuthError::Malformed("server-final's verifier is not base64"),
            ),
            (None, AuthError::Malformed("no authentication data")),
        ] {
            let mut exchange = rfc7677();
            exchange.initial_data().unwrap();
            exchange.challenge(Some(SERVER_FIRST.as_bytes())).unwrap();
            assert_eq!(
                exchange.finish(server_final.map(str::as_bytes)),
                Err(error),
                "{server_final:?}"
            );
        }
    }

    /// A server that accepts before client-final never proved that it knows the password.
    #[test]
    fn acceptance_before_the_last_step_fails() {
        let mut exchange = rfc7677();
        exchange.initial_data().unwrap();
        assert!(matches!(
            exchange.finish(Some(SERVER_FINAL.as_bytes())),
            Err(AuthError::UnexpectedStep(_))
        ));
    }

    /// RFC 5802 section 5.1: the server's nonce extends the client's.
    #[test]
    fn a_server_nonce_that_does_not_extend_ours_fails() {
        for server_first in [
            "r=XOprNGfwEbeRWgbNEkqO%hvYD,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "r=rOprNG,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        ] {
            let mut exchange = rfc7677();
            exchange.initial_data().unwrap();
            assert_eq!(
                exchange.challenge(Some(server_first.as_bytes())),
                Err(AuthError::Nonce),
                "{server_first}"
            );
        }
    }

    #[test]
    fn a_malformed_server_first_fails() {
        for server_first in [
            &b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"[..],
            b"r=rOprNGfwEbeRWgbNEkqOx,i=4096",
            b"r=rOprNGfwEbeRWgbNEkqOx,s=***,i=4096",
            b"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==",
            b"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
            b"m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            b"\xff\xfe",
            b"",
        ] {
            let mut exchange = rfc7677();
            exchange.initial_data().unwrap();
            let result = exchange.challenge(Some(server_first));
            assert!(
                matches!(result, Err(AuthError::Malformed(_))),
                "{server_first:?}: {result:?}"
            );
        }
    }

    /// Iteration counts below RFC 7677's 4096 (cheap guesses for a false server) or above the
    /// maximum (a connection task held for long) fail.
    #[test]
    fn an_iteration_count_out_of_range_fails() {
        for count in [1, 4095, 600_001] {
            let mut exchange = rfc7677();
            exchange.initial_data().unwrap();
            let server_first = format!("r={NONCE}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i={count}");
            assert_eq!(
                exchange.challenge(Some(server_first.as_bytes())),
                Err(AuthError::IterationCount {
                    got: count,
                    min: 4096,
                    max: 600_000
                })
            );
        }
    }

    /// The password appears in no `Debug` output; user names are escaped (RFC 5802 section
    /// 5.1); every exchange draws a fresh nonce from the operating system by default.
    #[test]
    fn the_password_stays_out_of_debug_and_nonces_are_fresh() {
        let scram = ScramSha256::new("a=b,c", "hunter2-secret");
        let mut exchange = scram.start();
        for shown in [format!("{scram:?}"), format!("{exchange:?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        let first = exchange.initial_data().unwrap().unwrap();
        let second = scram.start().initial_data().unwrap().unwrap();
        assert!(first.starts_with(b"n,,n=a=3Db=2Cc,r="), "{first:?}");
        assert_ne!(first, second, "a fresh nonce each time");
        assert_eq!(first.len(), "n,,n=a=3Db=2Cc,r=".len() + 32);
    }
}
