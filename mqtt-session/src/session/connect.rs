//! The start of a connection: the CONNECT it opens with, what it carries, and the CONNACK that
//! accepts or refuses it.

use alloc::boxed::Box;
use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;
use mqtt_proto::{
    ConnAck, Decoder, MqttString, PacketType, ProtocolVersion, QoS, ReasonCode, Role,
};

use super::{Control, Session, State};
use crate::event::{Connected, DisconnectReason, Error, Event, ServerLimits};
use crate::tables::Tables;
use crate::time::{after, Instant, Timer};
use crate::violation::ProtocolViolation;

impl<I: Instant, T: Tables> Session<I, T> {
    /// The transport is up: the session queues CONNECT, the first packet of every connection
    /// [MQTT-3.1.0-1], and starts waiting for CONNACK (for
    /// [`Config::connack_timeout`](crate::Config::connack_timeout)). A connection opened while
    /// reconnecting had stopped counts as the application's [`Session::reconnect`].
    pub fn handle_connected(&mut self, now: I) {
        if matches!(self.state, State::Connecting | State::Connected) {
            self.end_connection(now, DisconnectReason::TransportClosed);
        }
        self.state = State::Connecting;
        self.user_closed = false;
        self.closed_by_session = false;
        self.reauthenticating = false;
        self.reauthenticated = false;
        self.reconnect.allow();
        self.control.clear();
        self.timers.stop(Timer::Reconnect);
        self.clean_sent = !self.resumable;
        self.control.push_back(Control::Connect {
            clean_start: self.clean_sent,
        });
        self.decoder = Decoder::new(self.config.protocol_version, Role::Server)
            .with_max_packet_size(self.config.maximum_packet_size);
        self.negotiation.connecting();
        self.in_aliases.reset(self.config.topic_alias_maximum);
        // Our aliases stay within the server's Topic Alias Maximum, none when it has none
        // [MQTT-3.2.2-17], [MQTT-3.2.2-18], [MQTT-3.3.2-9].
        self.out_aliases.reset(0);
        self.ping_outstanding = false;
        self.connected_at = None;
        // The previous server's keep-alive does not carry over to this connection.
        self.keep_alive = self.config.keep_alive;
        self.timers
            .set(Timer::ConnAck, after(now, self.config.connack_timeout));
    }

    /// Sets the Authentication Data of the CONNECT of the next connection (v5 enhanced
    /// authentication): an authenticator's initial data, new for each connection (a SCRAM
    /// client-first message carries a fresh nonce). Call it before
    /// [`Session::handle_connected`]. Refused, changing nothing, when the CONNECT would not
    /// encode with it.
    pub fn set_authentication_data(&mut self, data: Option<Bytes>) -> Result<(), Error> {
        let old = core::mem::replace(&mut self.config.authentication_data, data);
        let check = self
            .config
            .connect(&self.client_id, self.clean_sent)
            .encoded_len(self.config.protocol_version);
        if let Err(e) = check {
            self.config.authentication_data = old;
            return Err(e.into());
        }
        Ok(())
    }

    /// Sets the User Name and Password of the CONNECT of the next connection: credentials
    /// that change between connections (a token refreshed before each connect). Call it
    /// before [`Session::handle_connected`]. Refused, changing nothing, when the CONNECT would
    /// not encode with them (a v3.1.1 password without a user name [MQTT-3.1.2-22]).
    pub fn set_credentials(
        &mut self,
        username: Option<MqttString>,
        password: Option<Bytes>,
    ) -> Result<(), Error> {
        let old_username = core::mem::replace(&mut self.config.username, username);
        let old_password = core::mem::replace(&mut self.config.password, password);
        let check = self
            .config
            .connect(&self.client_id, self.clean_sent)
            .encoded_len(self.config.protocol_version);
        if let Err(e) = check {
            self.config.username = old_username;
            self.config.password = old_password;
            return Err(e.into());
        }
        Ok(())
    }

    pub(super) fn on_connack(&mut self, now: I, ack: ConnAck) {
        self.timers.stop(Timer::ConnAck);
        // [MQTT-4.13.2-1]: a refusing CONNACK ends the connection.
        if ack.reason_code.is_error() {
            let reason = DisconnectReason::Refused(ack.reason_code, Box::new(ack.properties));
            self.end_connection(now, reason);
            self.state = State::Idle;
            return;
        }
        // v5 [MQTT-3.2.2-4]; v3.1.1 [MQTT-3.2.2-1]: a clean start is never answered with a
        // session.
        if self.clean_sent && ack.session_present {
            self.protocol_error(
                now,
                ReasonCode::ProtocolError,
                ProtocolViolation::SessionPresentAfterCleanStart,
            );
            return;
        }
        let v5 = self.config.protocol_version == ProtocolVersion::V5;
        // [MQTT-4.12.0-5]: a successful CONNACK after enhanced authentication repeats the
        // method.
        if let Some(sent) = &self.config.authentication_method {
            if v5 && ack.properties.authentication_method.as_ref() != Some(sent) {
                let violation = ProtocolViolation::AuthenticationMethod {
                    packet: PacketType::ConnAck,
                    got: ack.properties.authentication_method.clone(),
                    sent: sent.clone(),
                };
                self.protocol_error(now, ReasonCode::ProtocolError, violation);
                return;
            }
        }
        let p = &ack.properties;
        // [MQTT-3.1.2-21], [MQTT-3.2.2-21]: the server's keep-alive replaces ours.
        self.keep_alive = match p.server_keep_alive {
            Some(secs) if v5 => Duration::from_secs(u64::from(secs)),
            _ => self.config.keep_alive,
        };
        self.limits = if v5 {
            ServerLimits {
                // Each connection's send quota starts at the server's Receive Maximum of this
                // CONNACK, non-zero (the decoder refuses 0) [MQTT-4.9.0-1].
                receive_maximum: p.receive_maximum.map_or(u16::MAX, |r| r.get()),
                maximum_qos: p.maximum_qos.unwrap_or(QoS::ExactlyOnce),
                retain_available: p.retain_available.unwrap_or(true),
                maximum_packet_size: p.maximum_packet_size.map(|m| m.get()),
                topic_alias_maximum: p.topic_alias_maximum.unwrap_or(0),
                wildcard_subscription_available: p.wildcard_subscription_available.unwrap_or(true),
                subscription_identifier_available: p
                    .subscription_identifier_available
                    .unwrap_or(true),
                shared_subscription_available: p.shared_subscription_available.unwrap_or(true),
                keep_alive: self.keep_alive,
                session_expiry_interval: p.session_expiry_interval,
            }
        } else {
            ServerLimits::v311(self.keep_alive)
        };
        if let Some(id) = &p.assigned_client_identifier {
            self.client_id = id.clone();
        }
        // Whether the next connection resumes: the session outlives this connection when its
        // expiry is non-zero (v5 [MQTT-3.1.2-23]) or Clean Session was 0 (v3.1.1
        // [MQTT-3.1.2-4]); with Clean Start / Clean Session 1 it starts afresh ([MQTT-3.1.2-4]
        // v5, [MQTT-3.1.2-6] v3.1.1).
        self.resumable = if v5 {
            p.session_expiry_interval
                .unwrap_or(self.config.session_expiry_interval)
                != 0
        } else {
            !self.config.clean_start
        };
        self.out_aliases.reset(
            self.config
                .outbound_topic_aliases
                .min(self.limits.topic_alias_maximum),
        );
        self.state = State::Connected;
        self.connected_at = Some(now);
        if !self.keep_alive.is_zero() {
            self.timers
                .set(Timer::KeepAlive, after(now, self.keep_alive));
        }
        self.events.push_back(Event::Connected(Box::new(Connected {
            session_present: ack.session_present,
            limits: self.limits.clone(),
            client_id: self.client_id.clone(),
            properties: ack.properties,
        })));
        if ack.session_present {
            // [MQTT-4.4.0-1]: resend unacknowledged PUBLISH (DUP) and PUBREL, in order.
            self.outbound.resume(self.send_quota());
            // What an earlier lost session left to subscribe again, if the table had no room.
            self.remake_subscriptions();
        } else {
            // The server has no session: discard the protocol state of the old one
            // [MQTT-3.2.2-5] (inbound QoS 2 ids, packets in flight). This happens here, at
            // the next CONNACK, and never while a connection is open, so a session that ends
            // with its connection still lasts as long as it does (v3.1.1 [MQTT-4.1.0-2]).
            // The application's work is kept: publishes start over as new ones, and everything
            // that was granted is subscribed again.
            let mut done = Vec::new();
            self.outbound.restart(|e| done.push(e));
            for entry in done {
                if let Some(id) = entry.packet_id() {
                    self.ids.release(id);
                }
                self.events.push_back(Event::PublishCompleted {
                    id: entry.id,
                    packet_id: entry.packet_id(),
                    reason_code: entry.rec_reason,
                });
            }
            self.inbound.discard();
            self.resubscribe();
        }
    }

    /// The server answered a v5 CONNECT as a 3.1.1-only server does: the connection ends
    /// (nothing is sent: it speaks no v5), and with the fallback the next one speaks 3.1.1.
    pub(super) fn v5_not_supported(&mut self, now: I) {
        self.timers.stop(Timer::ConnAck);
        let fallback = self.config.v311_fallback;
        self.end_connection(now, DisconnectReason::V5NotSupported { fallback });
        self.state = State::Idle;
        if fallback {
            self.config.protocol_version = ProtocolVersion::V311;
        }
    }
}
