//! v5 enhanced authentication: the client's AUTH packets, the server's, and the client's
//! refusal of the server's side of the exchange.

use alloc::boxed::Box;
use mqtt_proto::{Auth, AuthProperties, Disconnect, PacketType, ProtocolVersion, ReasonCode};

use super::{Control, Session, State};
use crate::event::{DisconnectReason, Error, Event};
use crate::tables::Tables;
use crate::time::Instant;
use crate::violation::ProtocolViolation;

impl<I: Instant, T: Tables> Session<I, T> {
    /// Sends AUTH (v5 enhanced authentication): the answer to an
    /// [`Event::AuthChallenge`] (Continue authentication) or a re-authentication
    /// (Re-authenticate) while connected. An application that finds the server's answer
    /// wanting ends the connection with [`Session::fail_authentication`] and a reason such as
    /// 0x87 Not authorized [MQTT-4.12.1-2].
    pub fn auth(
        &mut self,
        _now: I,
        reason_code: ReasonCode,
        properties: AuthProperties,
    ) -> Result<(), Error> {
        if self.config.protocol_version != ProtocolVersion::V5 {
            return Err(Error::NotAvailable("AUTH needs MQTT v5"));
        }
        if !matches!(self.state, State::Connecting | State::Connected) {
            return Err(Error::NotAvailable("AUTH needs a connection"));
        }
        // [MQTT-4.12.0-7]: no AUTH without an Authentication Method in CONNECT;
        // [MQTT-4.12.0-5], [MQTT-4.12.1-1]: every AUTH repeats that method.
        // The client continues an exchange (0x18) [MQTT-4.12.0-3], or starts a
        // re-authentication (0x19) once connected.
        let reason_ok = match reason_code {
            ReasonCode::ContinueAuthentication => true,
            ReasonCode::ReAuthenticate => self.state == State::Connected,
            _ => false,
        };
        if !reason_ok {
            return Err(Error::NotAvailable(
                "a client AUTH carries Continue authentication, or Re-authenticate when connected",
            ));
        }
        let Some(method) = &self.config.authentication_method else {
            return Err(Error::NotAvailable(
                "AUTH needs an authentication method in the configuration",
            ));
        };
        let mut properties = properties;
        match &properties.authentication_method {
            None => properties.authentication_method = Some(method.clone()),
            Some(m) if m == method => {}
            Some(_) => {
                return Err(Error::NotAvailable(
                    "AUTH must use the configured authentication method",
                ))
            }
        }
        let packet = Auth {
            reason_code,
            properties,
        };
        packet.encoded_len(ProtocolVersion::V5)?;
        if reason_code == ReasonCode::ReAuthenticate {
            self.reauthenticating = true;
            self.reauthenticated = true;
        }
        self.control.push_back(Control::Auth(Box::new(packet)));
        Ok(())
    }

    /// Ends the connection because the client found the server's side of enhanced
    /// authentication wanting (v5): final data that fails the method's check, or a challenge
    /// the method cannot answer. Sends DISCONNECT with `reason_code` (0x87 Not authorized, or
    /// another DISCONNECT reason code) and reports
    /// [`DisconnectReason::AuthenticationFailed`]: during a re-authentication
    /// [MQTT-4.12.1-2], and in the exchange of the CONNECT too (section 4.12: the client may
    /// close the connection at any point of it, with a DISCONNECT first), the check of the
    /// CONNACK's data included. The reconnect policy takes a failed exchange of the CONNECT
    /// as a CONNACK refusal with `reason_code` (0x87 stops reconnecting unless
    /// [`Backoff::retry_refused`](crate::Backoff::retry_refused)), and a failed
    /// re-authentication as any connection that ended.
    pub fn fail_authentication(&mut self, now: I, reason_code: ReasonCode) -> Result<(), Error> {
        if self.config.protocol_version != ProtocolVersion::V5 {
            return Err(Error::NotAvailable("enhanced authentication needs MQTT v5"));
        }
        if !matches!(self.state, State::Connecting | State::Connected) {
            return Err(Error::NotAvailable("no connection to end"));
        }
        let packet = Disconnect::new(reason_code);
        packet.encoded_len(ProtocolVersion::V5)?;
        if !self.reauthenticated {
            // The exchange of the CONNECT failed, its CONNACK's data included: the server
            // never proved itself, so the connection counts as refused, not as one that was
            // up.
            self.connected_at = None;
        }
        self.end_connection(now, DisconnectReason::AuthenticationFailed(reason_code));
        self.control
            .push_back(Control::Disconnect(Box::new(packet)));
        self.state = State::Closing;
        Ok(())
    }

    pub(super) fn on_auth(&mut self, now: I, auth: Auth) {
        // AUTH only answers an Authentication Method we sent, and repeats it (section 4.12,
        // [MQTT-4.12.0-5]).
        // Re-authenticate (0x19) is the client's to send; Success ends an exchange only after
        // CONNACK ([MQTT-4.12.0-2]: before it the server sends 0x18).
        // Once connected, the server never starts an exchange: it answers the client's
        // Re-authenticate (section 4.12.1), with 0x18 or, at the end, 0x00.
        let connected = self.state == State::Connected;
        let reason_ok = match auth.reason_code {
            ReasonCode::ContinueAuthentication => !connected || self.reauthenticating,
            ReasonCode::Success => connected && self.reauthenticating,
            _ => false,
        };
        let violation = match &self.config.authentication_method {
            // [MQTT-4.12.0-6]
            None => Some(ProtocolViolation::UnrequestedAuth),
            Some(_) if !reason_ok => Some(ProtocolViolation::AuthReason(auth.reason_code)),
            Some(sent) if auth.properties.authentication_method.as_ref() != Some(sent) => {
                Some(ProtocolViolation::AuthenticationMethod {
                    packet: PacketType::Auth,
                    got: auth.properties.authentication_method.clone(),
                    sent: sent.clone(),
                })
            }
            Some(_) => None,
        };
        if let Some(violation) = violation {
            return self.protocol_error(now, ReasonCode::ProtocolError, violation);
        }
        if auth.reason_code == ReasonCode::Success {
            self.reauthenticating = false;
        }
        self.events.push_back(Event::AuthChallenge {
            reason_code: auth.reason_code,
            properties: auth.properties,
        });
    }
}
