//! Deadlines: the CONNACK timeout, keep-alive and its PINGREQ, the reconnect delay and
//! Message Expiry, in one table of timers.

use core::time::Duration;

use super::{Control, Session, State};
use crate::event::DisconnectReason;
use crate::tables::Tables;
use crate::time::{after, Instant, Timer};

impl<I: Instant, T: Tables> Session<I, T> {
    /// A deadline passed. Early and repeated calls do nothing.
    pub fn handle_timeout(&mut self, now: I) {
        if self.timers.expired(Timer::ConnAck, now) {
            self.timers.stop(Timer::ConnAck);
            if self.state == State::Connecting {
                self.end_connection(now, DisconnectReason::ConnAckTimeout);
                self.state = State::Idle;
            }
        }
        if self.timers.expired(Timer::PingResponse, now) {
            self.timers.stop(Timer::PingResponse);
            if self.state == State::Connected {
                self.end_connection(now, DisconnectReason::KeepAliveTimeout);
                self.state = State::Idle;
            }
        }
        if self.timers.expired(Timer::KeepAlive, now) {
            self.timers.stop(Timer::KeepAlive);
            self.give_back_burst_memory();
            if self.state == State::Connected {
                // Never silent for longer than the keep-alive (v5 [MQTT-3.1.2-20]; v3.1.1
                // [MQTT-3.1.2-23]), even while an earlier PINGREQ is still unanswered.
                self.control.push_back(Control::PingReq);
                if !self.ping_outstanding {
                    self.ping_outstanding = true;
                    self.timers
                        .set(Timer::PingResponse, after(now, self.response_timeout()));
                }
            }
        }
        if self.timers.expired(Timer::Reconnect, now) {
            self.timers.stop(Timer::Reconnect);
        }
        if self.timers.expired(Timer::MessageExpiry, now) {
            self.expire(now);
        }
        self.update_expiry_timer();
    }

    /// The earliest deadline; call [`Session::handle_timeout`] when it passes.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<I> {
        self.timers.next().map(|(at, _)| at)
    }

    fn response_timeout(&self) -> Duration {
        match self.config.response_timeout {
            Some(t) => t,
            None if !self.keep_alive.is_zero() => self.keep_alive,
            None => Duration::from_secs(30),
        }
    }
}
