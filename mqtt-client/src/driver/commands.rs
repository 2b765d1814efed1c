//! The client's commands, as the connection task takes them: publishes, handed to the session
//! in order while it has room (held otherwise, and the commands behind them wait), subscribes
//! with their streams, unsubscribes, manual acknowledgements, requests, re-authentication,
//! reconnect and disconnect.

use mqtt_proto::{
    ProtocolVersion, QoS, ReasonCode, SubscribeFilter, SubscribeProperties, TopicFilter,
};
use mqtt_session::AckToken;
use std::time::Instant;

use crate::client::{Command, Subscription};
use crate::report::ClientError;
use crate::subscribing::UnsubscribeResult;

use super::{Driver, Reply};

/// The most commands a loop takes in one wake-up (see [`Driver::commands`]): enough to fill
/// a write, few enough that reads and timers are never kept waiting long.
pub const COMMAND_BATCH: usize = 64;

impl Driver {
    /// The application's answer to a manual-ack message: an ack, or a refusal with `reason`.
    /// A token that is unknown or stale (answered before, or from a session the server has
    /// since lost) is ignored with a warning; other errors go back to the caller.
    fn answer(
        &mut self,
        now: Instant,
        token: AckToken,
        reason: Option<ReasonCode>,
    ) -> Result<(), ClientError> {
        let result = match reason {
            None => self.session.ack(now, token),
            Some(reason) => self.session.reject(now, token, reason),
        };
        match result {
            Err(mqtt_session::Error::UnknownAckToken) => {
                tracing::warn!(?token, "answer ignored: unknown or stale ack token");
                Ok(())
            }
            other => other.map_err(ClientError::from),
        }
    }

    /// The loop has stopped: closes `rx` and drops the commands still queued in it, so that
    /// their callers get [`ClientError::Closed`] instead of waiting for replies that will never
    /// come (a command sent at the moment `disconnect` finished lands there).
    pub fn refuse_queued(&mut self, rx: &crate::queue::Receiver<Command>) {
        rx.close();
        while rx.try_recv().is_ok() {}
    }

    /// A command from a client, then the commands already waiting behind it in `rx` (at most
    /// [`COMMAND_BATCH`] in all, and only while [`Self::accepts_commands`]), so that a burst of
    /// publishes goes out in one write instead of one write each. Returns `false` when `rx` is
    /// closed and empty: every `Client` is gone, and the driver is disconnecting.
    pub fn commands(
        &mut self,
        now: Instant,
        first: Command,
        rx: &crate::queue::Receiver<Command>,
    ) -> bool {
        self.command(now, first);
        for _ in 1..COMMAND_BATCH {
            if !self.accepts_commands() {
                break;
            }
            match rx.try_recv() {
                Ok(command) => self.command(now, command),
                Err(crate::queue::TryRecvError::Empty) => break,
                Err(crate::queue::TryRecvError::Closed) => {
                    self.clients_gone(now);
                    return false;
                }
            }
        }
        true
    }

    /// A command from a client.
    pub fn command(&mut self, now: Instant, command: Command) {
        match command {
            Command::Publish { completer } => {
                if self.disconnecting || self.disconnect.is_some() {
                    completer.complete(Err(mqtt_session::Error::Closing.into()));
                    return;
                }
                self.held.push_back(completer);
                self.publish_held(now);
            }
            Command::Subscribe {
                filters,
                properties,
                reply,
            } => {
                let filter_names: Vec<TopicFilter> =
                    filters.iter().map(|f| f.filter.clone()).collect();
                // Held by the server for no stream of this process (restored, or resumed from
                // an earlier process): see `Requests::subscribing`. A filter a stream of this
                // process has is subscribed again to replace it [MQTT-3.8.4-3]: that waits
                // for the SUBACK, after which the server tags its messages for the new one.
                let held = filters
                    .iter()
                    .all(|f| {
                        self.session.holds_subscription(f) && !self.routing.has_filter(&f.filter)
                    })
                    .then(|| filters.iter().map(|f| Ok(f.options.qos)).collect());
                let Some(commands) = self.commands.upgrade() else {
                    let _ = reply.send(Err(ClientError::Closed));
                    return;
                };
                match self.session.subscribe(now, filters, *properties) {
                    Ok((request, keys)) => {
                        // With a store, automatic acknowledgements are saved before they go
                        // out: a reader runs at most this many takes ahead of the disk.
                        let ahead = if self.store.is_some() && !self.options.session.manual_acks {
                            u64::from(self.options.takes_ahead_of_store.max(1))
                        } else {
                            0
                        };
                        let (subscription, sink, taken) = Subscription::channel(
                            self.options.subscription_capacity,
                            commands,
                            filter_names.clone(),
                            self.wake.clone(),
                            ahead,
                        );
                        let stream = subscription.stream_id();
                        self.routing
                            .add_stream(stream, keys, filter_names, sink, taken);
                        self.requests
                            .subscribing(request, reply, subscription, held);
                        // Messages that arrived for no stream and match this one are its.
                        self.routing.reroute(&self.session);
                        self.settle(now);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Unsubscribe { stream, reply } => self.unsubscribe(now, stream, reply),
            Command::UnsubscribeFilters {
                stream,
                filters,
                reply,
            } => self.unsubscribe_filters(now, stream, filters, reply),
            Command::Ack(token) => {
                // An ack can only fail on its token, which `answer` reports as a warning.
                let _ = self.answer(now, token, None);
            }
            Command::Reject(token, reason, reply) => {
                let _ = reply.send(self.answer(now, token, Some(reason)));
            }
            Command::Request {
                timeout,
                ready,
                answer,
            } => {
                if self.session.protocol_version() != ProtocolVersion::V5 {
                    let _ = ready.send(Err(ClientError::Unsupported(
                        "request/response needs MQTT 5",
                    )));
                    return;
                }
                if !self.options.session.request_response_information {
                    // Known now, unless the server is to assign it.
                    let client_id = self.session.client_id();
                    if !client_id.is_empty() {
                        self.responses.set_topic(client_id, None);
                    }
                }
                if let Some(filter) = self.responses.register(now, timeout, ready, answer) {
                    self.ask_for_responses(now, filter);
                }
            }
            Command::Reauthenticate(reply) => {
                self.auth.reauthenticate(now, &mut self.session, reply);
            }
            Command::Reconnect => {
                if !self.disconnecting && self.disconnect.is_none() {
                    self.session.reconnect(now);
                }
            }
            Command::Disconnect(reply) => {
                if self.finished {
                    let _ = reply.send(Ok(()));
                    return;
                }
                // What readers took before the application disconnected is acknowledged
                // before the DISCONNECT: their wake-up may still be on its way, behind this
                // command.
                self.settle(now);
                self.disconnect = Some((reply, now + self.options.disconnect_timeout));
                self.maybe_disconnect(now);
            }
        }
    }

    /// Subscribes to the response topic of [`Client::request`].
    pub(super) fn ask_for_responses(&mut self, now: Instant, filter: SubscribeFilter) {
        match self
            .session
            .subscribe(now, vec![filter], SubscribeProperties::default())
        {
            Ok((id, _)) => self.responses.asked(id),
            Err(e) => self.responses.ask_failed(&e.into()),
        }
    }

    /// Whether the loop should take more commands: not while publishes wait for room in the
    /// session (backpressure reaches the callers through the bounded command channel).
    pub fn accepts_commands(&self) -> bool {
        self.held.is_empty()
    }

    /// Hands waiting publishes to the session, in order, while it has room.
    pub(super) fn publish_held(&mut self, now: Instant) {
        while !self.held.is_empty() && self.session.can_publish() {
            let Some(completer) = self.held.pop_front() else {
                return;
            };
            let Some(message) = completer.take_message() else {
                continue;
            };
            let (qos, size) = (message.qos, message.payload.len());
            match self.session.publish(now, message) {
                Ok(t) => {
                    self.stats.message_sent(qos, size);
                    match self.store.as_mut().filter(|_| qos != QoS::AtMostOnce) {
                        // Accepted once it is on disk (see `saved`).
                        Some(p) => p.took(t.id, t.packet_id),
                        None => completer.accept(t.id, t.packet_id),
                    }
                    self.publishes.insert(t.id, completer);
                }
                Err(e) => completer.complete(Err(e.into())),
            }
        }
    }

    /// Stops feeding a stream, and unsubscribes from the filters no other stream uses.
    fn unsubscribe(&mut self, now: Instant, stream: u64, reply: Option<Reply<Vec<ReasonCode>>>) {
        // What waited for this reader counts as taken.
        let Some(filters) = self.routing.remove_stream(stream) else {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(Vec::new()));
            }
            return;
        };
        self.settle(now);
        if filters.is_empty() || self.finished {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(Vec::new()));
            }
            return;
        }
        match self.session.unsubscribe(now, filters, Default::default()) {
            Ok(request) => {
                if let Some(reply) = reply {
                    self.requests.unsubscribing(request, reply);
                }
            }
            Err(e) => {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(e.into()));
                }
            }
        }
    }

    /// Stops feeding a stream some of its filters, and unsubscribes from those no other
    /// stream uses.
    fn unsubscribe_filters(
        &mut self,
        now: Instant,
        stream: u64,
        filters: Vec<TopicFilter>,
        reply: Reply<Vec<UnsubscribeResult>>,
    ) {
        let still_used = self.routing.remove_filters(stream, &filters);
        self.settle(now);
        let send: Vec<TopicFilter> = filters
            .into_iter()
            .zip(&still_used)
            .filter(|(_, &used)| !used)
            .map(|(f, _)| f)
            .collect();
        let request = if send.is_empty() || self.finished {
            None
        } else {
            match self.session.unsubscribe(now, send, Default::default()) {
                Ok(request) => Some(request),
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                    return;
                }
            }
        };
        self.requests
            .unsubscribing_filters(request, reply, &still_used);
    }
}
