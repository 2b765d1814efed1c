//! Inbound QoS 1/2 state: the QoS 2 Packet Identifiers awaiting PUBREL, and, in manual-ack
//! mode, the acknowledgements the application still owes, in arrival order.

use mqtt_proto::{PacketId, QoS, ReasonCode};

use crate::event::AckToken;
use crate::tables::{Full, Table, Tables};

/// A QoS 2 message received and not yet released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Qos2 {
    /// Delivered; the application has not acknowledged it yet (manual mode), so no PUBREC
    /// went out.
    AwaitingApp,
    /// PUBREC sent; PUBREL awaited.
    Received,
    /// Refused by the application (v5): a PUBREC with this error reason is owed, and once it
    /// is written the identifier is forgotten, so that a later PUBLISH with it is a new
    /// message [MQTT-4.3.3-9].
    Rejected(ReasonCode),
}

/// An acknowledgement the application owes.
#[derive(Debug, Clone, Copy)]
struct Owed {
    token: AckToken,
    packet_id: PacketId,
    qos: QoS,
    /// Acknowledged by the application, waiting for those before it.
    acked: bool,
    /// The reason the acknowledgement carries: Success, or the error the application refused
    /// the message with.
    reason: ReasonCode,
}

/// What to send once an owed acknowledgement is released in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Release {
    pub(crate) packet_id: PacketId,
    pub(crate) qos: QoS,
    pub(crate) reason: ReasonCode,
}

#[derive(Debug)]
pub(crate) struct Inbound<T: Tables> {
    /// QoS 2 identifiers awaiting PUBREL (this is session state: it survives reconnects when
    /// the session is resumed [MQTT-4.1.0-1]).
    qos2: T::InboundQos2<(PacketId, Qos2)>,
    owed: T::InboundOwed<Owed>,
    next_token: u64,
}

impl<T: Tables> Inbound<T> {
    pub(crate) fn new() -> Self {
        Inbound {
            qos2: Table::new(),
            owed: Table::new(),
            next_token: 0,
        }
    }

    /// Whether another QoS 1/2 message can be taken in: a fixed-capacity table that is full
    /// cannot.
    pub(crate) fn has_room(&self) -> bool {
        !self.qos2.is_full() && !self.owed.is_full()
    }

    pub(crate) fn qos2_state(&self, id: PacketId) -> Option<Qos2> {
        self.qos2.iter().find(|(p, _)| *p == id).map(|&(_, s)| s)
    }

    /// Sets the state of `id`, adding it if new; refused when the table is full.
    pub(crate) fn set_qos2(&mut self, id: PacketId, state: Qos2) -> Result<(), Full> {
        let found = self.qos2.iter().position(|(p, _)| *p == id);
        match found.and_then(|i| self.qos2.get_mut(i)) {
            Some(entry) => {
                entry.1 = state;
                Ok(())
            }
            None => self.qos2.push((id, state)).map_err(|_| Full),
        }
    }

    /// PUBREL: forgets the identifier; false if it was unknown.
    pub(crate) fn release_qos2(&mut self, id: PacketId) -> bool {
        let found = self.qos2.iter().position(|(p, _)| *p == id);
        match found {
            Some(i) => {
                self.qos2.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// The QoS 2 ids whose PUBREC went out.
    pub(crate) fn qos2_received_ids(&self) -> impl Iterator<Item = PacketId> + '_ {
        self.qos2
            .iter()
            .filter(|(_, s)| *s == Qos2::Received)
            .map(|&(p, _)| p)
    }

    /// How many QoS 1/2 messages the server has sent that we have not finished acknowledging:
    /// what our Receive Maximum limits.
    pub(crate) fn unacknowledged(&self) -> usize {
        let qos1 = self
            .owed
            .iter()
            .filter(|o| o.qos == QoS::AtLeastOnce)
            .count();
        qos1 + self.qos2.len()
    }

    /// How many acknowledgements the application owes, or owes before they go out in order.
    pub(crate) fn owed(&self) -> usize {
        self.owed.len()
    }

    /// Records an acknowledgement the application owes and returns its token; refused when
    /// the table is full.
    pub(crate) fn owe(&mut self, packet_id: PacketId, qos: QoS) -> Result<AckToken, Full> {
        let token = AckToken(self.next_token + 1);
        self.owed
            .push(Owed {
                token,
                packet_id,
                qos,
                acked: false,
                reason: ReasonCode::Success,
            })
            .map_err(|_| Full)?;
        self.next_token += 1;
        Ok(token)
    }

    /// The application acknowledged `token`, with `reason` (Success, or the error it refuses
    /// the message with). Returns false for an unknown token. The acknowledgements now at the
    /// front then come out of [`Inbound::pop_released`], in arrival order ([MQTT-4.6.0-2],
    /// [MQTT-4.6.0-3]).
    pub(crate) fn ack(&mut self, token: AckToken, reason: ReasonCode) -> bool {
        let Some(owed) = self.owed.iter_mut().find(|o| o.token == token && !o.acked) else {
            return false;
        };
        owed.acked = true;
        owed.reason = reason;
        true
    }

    /// The oldest owed message, if the application has acknowledged it: its acknowledgement
    /// may go out now (they go out in arrival order, so one acknowledged early waits for
    /// those before it).
    pub(crate) fn pop_released(&mut self) -> Option<Release> {
        if !self.owed.front()?.acked {
            return None;
        }
        self.owed.pop_front().map(|o| Release {
            packet_id: o.packet_id,
            qos: o.qos,
            reason: o.reason,
        })
    }

    /// The connection ended. QoS 1 acknowledgements still owed are dropped: the server sends
    /// those messages again, and their tokens go stale. QoS 2 ones stay owed: the message is
    /// not delivered again, so the application's acknowledgement is still the one that
    /// releases the PUBREC.
    pub(crate) fn connection_lost(&mut self) {
        self.owed.retain(|o| o.qos == QoS::ExactlyOnce);
    }

    /// The server lost the session: all inbound QoS 2 state goes [MQTT-3.2.2-5] (v5 wording:
    /// the client discards its session state).
    pub(crate) fn discard(&mut self) {
        self.qos2.clear();
        self.owed.clear();
    }
}
