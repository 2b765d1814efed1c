//! The end of a connection, whoever ends it: the application's DISCONNECT, the server's, a
//! protocol error, a transport that closed; and what comes after it, the reconnect plan.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use mqtt_proto::{Disconnect, DisconnectProperties, ProtocolVersion, ReasonCode};

use super::{Control, Session, State};
use crate::event::{DisconnectReason, Error, Event, PublishFailure};
use crate::reconnect::{Ended, Next};
use crate::tables::Tables;
use crate::time::{after, Instant, Timer};
use crate::violation::ProtocolViolation;

impl<I: Instant, T: Tables> Session<I, T> {
    /// The transport closed or failed, or could not be opened. Harmless when the session
    /// already ended the connection.
    pub fn handle_closed(&mut self, now: I) {
        match self.state {
            State::Connecting | State::Connected => {
                if self.state == State::Connecting
                    && self.config.v311_fallback
                    && self.negotiation.silent_close(self.config.protocol_version)
                {
                    // A 3.1.1-only server may close on a v5 CONNECT without a word.
                    self.config.protocol_version = ProtocolVersion::V311;
                }
                self.end_connection(now, DisconnectReason::TransportClosed);
                self.closed_by_session = false;
                self.state = State::Idle;
            }
            State::Closing => {
                self.control.clear();
                self.closed_by_session = false;
                self.state = State::Idle;
            }
            State::Idle => {
                if core::mem::take(&mut self.closed_by_session) {
                    // The close of the connection the session ended: already reported.
                } else if self.timers.get(Timer::Reconnect).is_none()
                    && !self.user_closed
                    && !self.reconnect.is_stopped()
                {
                    // A connection attempt that failed before the transport came up.
                    self.plan_next(now, Ended::Failed);
                }
            }
        }
        self.update_expiry_timer();
    }

    /// Ends the connection with DISCONNECT (`reason_code`, and on v5 `properties`, e.g. a
    /// Session Expiry Interval) and stops reconnecting. Acknowledgements already queued go
    /// out first; publishes not yet sent stay in the session. A later
    /// [`Session::handle_connected`] starts again.
    pub fn disconnect(
        &mut self,
        now: I,
        reason_code: ReasonCode,
        properties: DisconnectProperties,
    ) -> Result<(), Error> {
        let packet = Disconnect {
            reason_code,
            properties,
        };
        packet.encoded_len(self.config.protocol_version)?;
        // v5 3.14.2.2.2: a Session Expiry Interval on DISCONNECT may not turn a session that
        // CONNECT gave no expiry into one that outlives the connection (a Protocol Error).
        if self.config.protocol_version == ProtocolVersion::V5
            && self.config.session_expiry_interval == 0
            && packet
                .properties
                .session_expiry_interval
                .is_some_and(|e| e != 0)
        {
            return Err(Error::NotAvailable(
                "a non-zero session expiry on DISCONNECT needs one in CONNECT",
            ));
        }
        self.user_closed = true;
        self.timers.stop(Timer::Reconnect);
        match self.state {
            State::Connected => {
                if let Some(expiry) = packet.properties.session_expiry_interval {
                    self.resumable = expiry != 0;
                }
                // Acknowledgements already queued still go out, before the DISCONNECT.
                let queued = core::mem::take(&mut self.control);
                self.end_connection(now, DisconnectReason::Local);
                self.control = queued;
                self.control
                    .push_back(Control::Disconnect(Box::new(packet)));
                self.state = State::Closing;
            }
            State::Connecting => {
                self.end_connection(now, DisconnectReason::Local);
                self.state = State::Idle;
            }
            State::Closing | State::Idle => {}
        }
        Ok(())
    }

    /// Asks for a connection: [`Session::should_connect`] is true from now on while the
    /// session is idle. This is how the application connects again after
    /// [`Event::ReconnectStopped`] (reconnecting is off, or the server refused the connection
    /// for good) or after [`Session::disconnect`] (the session takes new work again); it also
    /// cuts a backoff delay short. While a connection is open it changes nothing for that
    /// connection, and the backoff keeps its counts, so a refusal that comes again is not
    /// retried sooner than the policy says.
    pub fn reconnect(&mut self, _now: I) {
        self.reconnect.allow();
        self.user_closed = false;
        self.timers.stop(Timer::Reconnect);
    }

    /// The server's DISCONNECT closes the connection, whatever its reason: among others the
    /// end of a re-authentication the server found failed [MQTT-4.12.1-2].
    pub(super) fn on_server_disconnect(&mut self, now: I, d: Disconnect) {
        self.end_connection(
            now,
            DisconnectReason::Server(d.reason_code, Box::new(d.properties)),
        );
        self.state = State::Idle;
    }

    /// The server broke the protocol: on v5, DISCONNECT with the reason; then the connection
    /// ends [MQTT-4.8.0-1], and the error is reported once. The session's state is kept
    /// ([MQTT-4.1.0-1]: it lives as long as the session, not the connection).
    pub(super) fn protocol_error(&mut self, now: I, reason: ReasonCode, error: ProtocolViolation) {
        self.end_connection(now, DisconnectReason::ProtocolError(reason, error));
        if self.config.protocol_version == ProtocolVersion::V5 {
            self.control
                .push_back(Control::Disconnect(Box::new(Disconnect::new(reason))));
            self.state = State::Closing;
        } else {
            self.state = State::Idle;
        }
    }

    /// What every end of a connection does: stop its timers, forget what belonged to it, report
    /// it, and schedule the next attempt. The caller sets the state after.
    pub(super) fn end_connection(&mut self, now: I, reason: DisconnectReason) {
        let ended = match (self.connected_at, &reason) {
            (Some(at), _) => Ended::Accepted(now.saturating_duration_since(at)),
            (None, DisconnectReason::Refused(code, _))
            | (None, DisconnectReason::AuthenticationFailed(code)) => Ended::Refused(*code),
            (None, DisconnectReason::V5NotSupported { fallback: false }) => {
                Ended::Refused(ReasonCode::UnsupportedProtocolVersion)
            }
            (None, _) => Ended::Failed,
        };
        self.closed_by_session = true;
        self.reauthenticating = false;
        self.timers.stop_connection_timers();
        self.control.clear();
        self.give_back_burst_memory();
        let mut poisoned = Vec::new();
        let by_server = reason != DisconnectReason::Local;
        self.outbound
            .connection_lost(by_server, self.config.poison_limit, |e| poisoned.push(e));
        self.inbound.connection_lost();
        self.subs.connection_lost();
        self.ping_outstanding = false;
        self.connected_at = None;
        self.events.push_back(Event::Disconnected(reason));
        for entry in poisoned {
            let connections = entry.strikes.count();
            self.fail(entry, PublishFailure::NeverAcknowledged { connections });
        }
        if self.user_closed {
            self.reconnect.record(&self.config.backoff, ended);
        } else {
            self.plan_next(now, ended);
        }
    }

    /// Schedules the next attempt after `ended`, or stops reconnecting, as the policy says.
    fn plan_next(&mut self, now: I, ended: Ended) {
        match self.reconnect.after(&self.config.backoff, ended) {
            Next::After { delay, attempt } => {
                self.timers.set(Timer::Reconnect, after(now, delay));
                self.events
                    .push_back(Event::ReconnectScheduled { delay, attempt });
            }
            Next::Stop(stop) => {
                self.timers.stop(Timer::Reconnect);
                self.events.push_back(Event::ReconnectStopped(stop));
            }
        }
    }

    /// Gives back the memory of queues that grew in a burst and are empty again; small queues
    /// keep theirs. Called when the connection has been quiet for a keep-alive period, and when
    /// it ends: not each time a queue drains, because steady traffic drains them after every
    /// read, and shrinking there made each read grow its queue again (six reallocations,
    /// `mremap` and page faults per 16 KiB read in `cargo bench -p mqtt-tokio --bench clients`).
    pub(super) fn give_back_burst_memory(&mut self) {
        shrink_if_drained(&mut self.events);
        shrink_if_drained(&mut self.control);
        self.outbound.shrink_if_drained();
    }
}

/// Gives back the memory of a queue that grew in a burst and is empty again; small queues keep
/// theirs, so steady traffic allocates nothing.
fn shrink_if_drained<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > 16 {
        queue.shrink_to(4);
    }
}
