//! A scripted MQTT v5 server that speaks SCRAM-SHA-256 enhanced authentication, on a free
//! loopback port: mosquitto here has no SCRAM. It is a real TCP server (on a thread of its own,
//! serving tests on any executor) that runs the server side of RFC 5802 for one user, and can
//! be told to misbehave in each way a client must catch: a wrong server signature, a nonce
//! that does not extend the client's, a server-first that is not SCRAM.
//!
//! Beyond authentication it answers only what the scenarios need: PINGREQ, QoS 1 and 2
//! PUBLISH (acknowledged, not routed), and it records the client's DISCONNECT reason codes.
//! A wrong client proof is refused with CONNACK 0x87 Not authorized (DISCONNECT 0x87 during a
//! re-authentication), as a real broker would.

use std::sync::{Arc, Mutex, PoisonError};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use hmac::{Hmac, Mac};
use mqtt_proto::{
    Auth, AuthProperties, ConnAck, Decoded, Decoder, Disconnect, MqttString, Packet,
    ProtocolVersion, PubResponse, QosPid, ReasonCode, Role,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::background::Background;
use crate::mosquitto::StartError;

/// The method name.
pub const METHOD: &str = "SCRAM-SHA-256";
/// The iteration count the server asks for.
pub const ITERATIONS: u32 = 4096;
const SALT: &[u8] = b"scripted-salt";

/// How the server behaves in its next exchanges (see [`ScramBroker::set_script`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// A correct SCRAM-SHA-256 server.
    Honest,
    /// Its server-final carries a signature the password's keys do not make.
    WrongSignature,
    /// Its server-first nonce does not start with the client's.
    BadNonce,
    /// Its server-first is not a SCRAM message.
    MalformedServerFirst,
    /// Honest, then right after the CONNACK an AUTH 0x18 the client never asked for: a server
    /// never starts an exchange once connected (section 4.12.1).
    ChallengeAfterConnack,
}

/// What the server saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// CONNECT packets.
    pub connects: usize,
    /// Exchanges that ended with the server accepting (CONNACK 0x00 or AUTH 0x00).
    pub accepted: usize,
    /// Re-authentications the client started (AUTH 0x19).
    pub reauthentications: usize,
    /// The reason codes of the client's DISCONNECT packets.
    pub disconnects: Vec<ReasonCode>,
    /// QoS 1/2 PUBLISH packets.
    pub publishes: usize,
}

#[derive(Debug)]
struct Shared {
    user: String,
    password: Vec<u8>,
    script: Script,
    seen: Seen,
    nonces: u64,
}

type State = Arc<Mutex<Shared>>;

fn lock(state: &State) -> std::sync::MutexGuard<'_, Shared> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The scripted SCRAM-SHA-256 server; stops when dropped.
#[derive(Debug)]
pub struct ScramBroker {
    server: Background,
    state: State,
}

impl ScramBroker {
    /// Starts a server that knows `user` with `password`, honest until told otherwise.
    pub fn start(user: &str, password: &str) -> Result<ScramBroker, StartError> {
        let state = Arc::new(Mutex::new(Shared {
            user: user.to_string(),
            password: password.as_bytes().to_vec(),
            script: Script::Honest,
            seen: Seen::default(),
            nonces: 0,
        }));
        let shared = state.clone();
        let server = Background::start("SCRAM broker", move |listener| serve(listener, shared))?;
        Ok(ScramBroker { server, state })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    /// How the next exchanges go.
    pub fn set_script(&self, script: Script) {
        lock(&self.state).script = script;
    }

    /// Changes the user's password (as when it is revoked): the next exchange refuses the
    /// old one.
    pub fn set_password(&self, password: &str) {
        lock(&self.state).password = password.as_bytes().to_vec();
    }

    /// What the server saw so far.
    pub fn seen(&self) -> Seen {
        lock(&self.state).seen.clone()
    }
}

async fn serve(listener: TcpListener, state: State) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        tokio::spawn(connection(stream, state.clone()));
    }
}

/// Where one connection's exchange stands.
enum Exchange {
    None,
    /// server-first sent: what client-final is checked against.
    First {
        client_first_bare: String,
        server_first: String,
        nonce: String,
        reauth: bool,
    },
}

async fn connection(mut stream: TcpStream, state: State) {
    let decoder = Decoder::new(ProtocolVersion::V5, Role::Client);
    let mut buf = BytesMut::with_capacity(4096);
    let mut exchange = Exchange::None;
    loop {
        let packet = match decoder.decode(&mut buf) {
            Ok(Decoded::Packet(packet)) => packet,
            Ok(Decoded::Incomplete { .. }) => match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            },
            Err(_) => return,
        };
        let (answer, close) = handle(&state, &mut exchange, packet);
        let mut out = BytesMut::new();
        for packet in answer {
            if packet.encode(ProtocolVersion::V5, &mut out).is_err() {
                return;
            }
        }
        if stream.write_all(&out).await.is_err() || close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// The server's answer to one client packet, and whether it closes the connection then.
fn handle(state: &State, exchange: &mut Exchange, packet: Packet) -> (Vec<Packet>, bool) {
    match packet {
        Packet::Connect(connect) => {
            lock(state).seen.connects += 1;
            let p = &connect.properties;
            if p.authentication_method.as_deref() != Some(METHOD) {
                return (
                    vec![connack(ReasonCode::BadAuthenticationMethod, None)],
                    true,
                );
            }
            start(state, exchange, p.authentication_data.as_deref(), false)
        }
        // Every AUTH repeats the method of the CONNECT [MQTT-4.12.0-5], [MQTT-4.12.1-1].
        Packet::Auth(auth) if auth.properties.authentication_method.as_deref() != Some(METHOD) => {
            refusal(true, ReasonCode::ProtocolError)
        }
        Packet::Auth(auth) => match auth.reason_code {
            ReasonCode::ReAuthenticate => {
                lock(state).seen.reauthentications += 1;
                start(
                    state,
                    exchange,
                    auth.properties.authentication_data.as_deref(),
                    true,
                )
            }
            _ => finish(
                state,
                exchange,
                auth.properties.authentication_data.as_deref(),
            ),
        },
        Packet::Publish(publish) => {
            lock(state).seen.publishes += usize::from(publish.qos_pid != QosPid::AtMostOnce);
            match publish.qos_pid {
                QosPid::AtMostOnce => (vec![], false),
                QosPid::AtLeastOnce(id) => (vec![Packet::PubAck(PubResponse::new(id))], false),
                QosPid::ExactlyOnce(id) => (vec![Packet::PubRec(PubResponse::new(id))], false),
            }
        }
        Packet::PubRel(r) => (vec![Packet::PubComp(PubResponse::new(r.packet_id))], false),
        Packet::PingReq => (vec![Packet::PingResp], false),
        Packet::Disconnect(d) => {
            lock(state).seen.disconnects.push(d.reason_code);
            (vec![], true)
        }
        _ => (vec![], false),
    }
}

/// client-first arrived (CONNECT, or AUTH 0x19): answers with server-first.
fn start(
    state: &State,
    exchange: &mut Exchange,
    data: Option<&[u8]>,
    reauth: bool,
) -> (Vec<Packet>, bool) {
    let refuse = |reauth| refusal(reauth, ReasonCode::NotAuthorized);
    let Some(first) = data.and_then(|d| std::str::from_utf8(d).ok()) else {
        return refuse(reauth);
    };
    let Some(bare) = first.strip_prefix("n,,") else {
        return refuse(reauth);
    };
    let mut attributes = bare.split(',');
    let user = attributes.next().and_then(|a| a.strip_prefix("n="));
    let client_nonce = attributes.next().and_then(|a| a.strip_prefix("r="));
    let (Some(user), Some(client_nonce)) = (user, client_nonce) else {
        return refuse(reauth);
    };
    let mut shared = lock(state);
    if user != shared.user {
        return refuse(reauth);
    }
    shared.nonces += 1;
    let server_part = format!("srv{}", shared.nonces);
    let nonce = match shared.script {
        Script::BadNonce => format!("X{client_nonce}{server_part}"),
        _ => format!("{client_nonce}{server_part}"),
    };
    let server_first = match shared.script {
        Script::MalformedServerFirst => "this is not SCRAM".to_string(),
        _ => format!("r={nonce},s={},i={ITERATIONS}", BASE64.encode(SALT)),
    };
    *exchange = Exchange::First {
        client_first_bare: bare.to_string(),
        server_first: server_first.clone(),
        nonce,
        reauth,
    };
    let continue_ = auth(ReasonCode::ContinueAuthentication, server_first.into());
    (vec![continue_], false)
}

/// client-final arrived: checks the proof, answers with server-final (CONNACK or AUTH 0x00),
/// or refuses.
fn finish(state: &State, exchange: &mut Exchange, data: Option<&[u8]>) -> (Vec<Packet>, bool) {
    let Exchange::First {
        client_first_bare,
        server_first,
        nonce,
        reauth,
    } = std::mem::replace(exchange, Exchange::None)
    else {
        return refusal(true, ReasonCode::ProtocolError);
    };
    let text = data.and_then(|d| std::str::from_utf8(d).ok()).unwrap_or("");
    let Some((without_proof, proof)) = text.rsplit_once(",p=") else {
        return refusal(reauth, ReasonCode::NotAuthorized);
    };
    if without_proof != format!("c=biws,r={nonce}") {
        return refusal(reauth, ReasonCode::NotAuthorized);
    }
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let mut shared = lock(state);
    let salted = salted_password(&shared.password);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(client_key);
    let signature = hmac(&stored_key, auth_message.as_bytes());
    let expected: Vec<u8> = client_key
        .iter()
        .zip(signature)
        .map(|(k, s)| k ^ s)
        .collect();
    if BASE64.decode(proof).ok() != Some(expected) {
        return refusal(reauth, ReasonCode::NotAuthorized);
    }
    let mut server_signature = hmac(&hmac(&salted, b"Server Key"), auth_message.as_bytes());
    if shared.script == Script::WrongSignature {
        server_signature[0] ^= 1;
    }
    shared.seen.accepted += 1;
    let server_final = Bytes::from(format!("v={}", BASE64.encode(server_signature)));
    if reauth {
        return (vec![auth(ReasonCode::Success, server_final)], false);
    }
    let mut answer = vec![connack(ReasonCode::Success, Some(server_final))];
    if shared.script == Script::ChallengeAfterConnack {
        answer.push(auth(ReasonCode::ContinueAuthentication, "r=unasked".into()));
    }
    (answer, false)
}

fn salted_password(password: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, SALT, ITERATIONS, &mut out);
    out
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) {
        mac.update(message);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

fn method() -> Option<MqttString> {
    MqttString::new(METHOD).ok()
}

fn auth(reason_code: ReasonCode, data: Bytes) -> Packet {
    Packet::Auth(Auth {
        reason_code,
        properties: AuthProperties {
            authentication_method: method(),
            authentication_data: Some(data),
            ..AuthProperties::default()
        },
    })
}

fn connack(reason_code: ReasonCode, data: Option<Bytes>) -> Packet {
    let mut ack = ConnAck {
        reason_code,
        ..ConnAck::default()
    };
    if reason_code == ReasonCode::Success {
        ack.properties.authentication_method = method();
        ack.properties.authentication_data = data;
    }
    Packet::ConnAck(Box::new(ack))
}

/// Refuses: CONNACK with `code` before the connection is accepted, DISCONNECT with it during
/// a re-authentication; then closes.
fn refusal(reauth: bool, code: ReasonCode) -> (Vec<Packet>, bool) {
    if reauth {
        (vec![Packet::Disconnect(Disconnect::new(code))], true)
    } else {
        (vec![connack(code, None)], true)
    }
}
