//! The session's events, turned into deliveries to subscription streams, completed publishes,
//! answered subscribes and requests, followed redirects and connection events; and the
//! acknowledgements that readers' takes make due.

use mqtt_session::{DisconnectReason, Event};
use std::time::Instant;

use crate::redirect::Redirect;
use crate::report::{ClientError, ConnectionEvent, PublishDone};

use super::Driver;

impl Driver {
    /// Turns the session's events into deliveries, completions and connection events; returns
    /// whether there were any (acknowledgements they caused may be due for transmission).
    pub fn dispatch(&mut self, now: Instant) -> bool {
        self.settle(now);
        if !self.held.is_empty() {
            self.publish_held(now);
        }
        let mut any = false;
        while let Some(event) = self.auth.next_event(&mut self.session) {
            any = true;
            match event {
                Event::Connected(c) => {
                    tracing::info!(
                        server = self.server_index(),
                        session_present = c.session_present,
                        receive_maximum = c.limits.receive_maximum,
                        "connected"
                    );
                    self.ever_connected = true;
                    self.stats.connected();
                    self.responses.set_topic(
                        c.client_id.as_str(),
                        c.properties.response_information.as_deref(),
                    );
                    if let Some(filter) = self.responses.filter() {
                        self.ask_for_responses(now, filter);
                    }
                    let _ = self.events.force_send(ConnectionEvent::Connected {
                        server: self.server_index(),
                        session_present: c.session_present,
                        limits: Box::new(c.limits),
                    });
                }
                Event::Message(m) if self.responses.is_response(&m) => {
                    self.stats
                        .message_received(m.publish.qos(), m.publish.payload.len());
                    if let Some(token) = m.ack_token {
                        let _ = self.session.ack(now, token);
                    }
                    self.responses.answer(m);
                }
                Event::Message(m) => {
                    self.stats
                        .message_received(m.publish.qos(), m.publish.payload.len());
                    self.routing.deliver(&self.session, m);
                    self.ack_due(now);
                }
                Event::PublishCompleted {
                    id,
                    packet_id,
                    reason_code,
                } => {
                    self.stats.publish_completed();
                    if let Some(completer) = self.publishes.remove(&id) {
                        completer.complete(Ok(PublishDone {
                            id,
                            packet_id,
                            reason_code,
                        }));
                    }
                }
                Event::PublishFailed { id, reason, .. } => {
                    tracing::debug!(?id, ?reason, "publish failed");
                    self.stats.publish_failed();
                    if let Some(completer) = self.publishes.remove(&id) {
                        completer.complete(Err(ClientError::PublishFailed(reason)));
                    }
                }
                Event::Subscribed {
                    id,
                    keys,
                    results,
                    resubscribe,
                } => {
                    if resubscribe {
                        tracing::info!(?results, "resubscribed: the server had lost the session");
                        let _ = self
                            .events
                            .force_send(ConnectionEvent::Resubscribed(results));
                        continue;
                    }
                    let granted = results.iter().all(|r| r.is_ok());
                    let refused = || {
                        ClientError::SubscribeFailed(
                            results.iter().filter_map(|r| r.err()).collect(),
                        )
                    };
                    if self.responses.subscribed(id, granted, &refused()) {
                        continue;
                    }
                    self.requests
                        .subscribed(&mut self.routing, id, &keys, results);
                }
                Event::Unsubscribed { id, results } => {
                    let version = self.session.protocol_version();
                    self.requests.unsubscribed(id, version, results);
                }
                Event::Disconnected(reason) => {
                    tracing::info!(?reason, "disconnected");
                    self.stats.disconnected(&reason);
                    if matches!(
                        reason,
                        DisconnectReason::KeepAliveTimeout | DisconnectReason::ConnAckTimeout
                    ) {
                        self.abandon_writes = true;
                    }
                    self.follow_redirect(&reason);
                    let _ = self
                        .events
                        .force_send(ConnectionEvent::Disconnected(reason));
                }
                Event::ReconnectScheduled { delay, attempt } => {
                    tracing::debug!(?delay, attempt, "reconnecting after a delay");
                    let _ = self
                        .events
                        .force_send(ConnectionEvent::Reconnecting { delay, attempt });
                }
                Event::ReconnectStopped(stop) => {
                    // The session connects again only after `Client::reconnect`.
                    tracing::warn!(%stop, "not reconnecting");
                    let _ = self
                        .events
                        .force_send(ConnectionEvent::ReconnectStopped(stop));
                }
                Event::AuthChallenge { .. } => {}
            }
        }
        self.maybe_disconnect(now);
        any
    }

    /// Hands the session the acknowledgements routing found due.
    fn ack_due(&mut self, now: Instant) {
        for token in self.routing.take_acks() {
            // An ack fails only for a token the session no longer knows (its connection's
            // session was lost): nothing is owed for it then.
            let _ = self.session.ack(now, token);
        }
    }

    /// Accounts for what readers took (acknowledgements, memory) and moves messages that
    /// waited for room.
    pub(super) fn settle(&mut self, now: Instant) {
        self.routing.collect();
        self.ack_due(now);
    }

    /// A reader woke the loop (see [`Signals`]): it took messages.
    pub fn signalled(&mut self, now: Instant) {
        self.wake.clear();
        self.settle(now);
    }

    /// Whether the loop should stop reading the socket: the messages held for readers have
    /// spent the inbound budget ([`Options::inbound_budget`]). A reader that takes messages
    /// wakes the loop ([`Signals`]) to read again.
    pub fn reading_paused(&self) -> bool {
        self.routing.is_full()
    }

    /// v5 Server Reference on "use another server" / "server moved", in a CONNACK or a
    /// DISCONNECT: connect there next, unless following is off or it would loop (see
    /// [`crate::redirect`]). Reported either way.
    fn follow_redirect(&mut self, reason: &DisconnectReason) {
        let Some(configured) = self.options.servers.get(self.server_index()) else {
            return;
        };
        let follow = self.options.follow_server_reference;
        let (reference, followed) = match self.redirects.ended(reason, configured, follow) {
            Redirect::None => return,
            Redirect::Follow(reference) => {
                tracing::info!(%reference, "following the server's redirect");
                self.stats.redirected();
                (reference, true)
            }
            Redirect::Ignore {
                reference,
                why,
                next_server,
            } => {
                tracing::warn!(%reference, why, "not following the server's redirect");
                if next_server {
                    self.server = self.server.wrapping_add(1);
                }
                (reference, false)
            }
        };
        let _ = self.events.force_send(ConnectionEvent::Redirected {
            reference,
            followed,
        });
    }
}
