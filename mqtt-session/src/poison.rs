//! Poison messages: a QoS 1/2 publish the server will not take, and says so only by dropping
//! the connection (a v3.1.1 broker given a message larger than it accepts, or one the client
//! may not publish). Resent on every reconnect, it would end every connection and hold up
//! every publish behind it. [`Config::poison_limit`](crate::Config::poison_limit) bounds that.
//!
//! The rule: when a connection the server ended (not the application) had outbound PUBLISH
//! packets written on it that the server never showed it read, it counts against the first
//! of them, where the server stopped reading: the first one written after the last publish
//! (or PUBREL) the server acknowledged. The messages written after that one are held up by it
//! and learn nothing. A message the server read past (it acknowledged the message, or a
//! publish written after it) starts its count over, so an ordinary network cut while
//! acknowledgements flow counts against one message at most, and a message is given up only
//! when the server stopped at it on so many connections in a row. Acknowledgements of packets
//! written before a message (a SUBACK of a resubscription, the PUBACK of an earlier publish)
//! prove nothing about it.
//!
//! The counts live with the session in memory; a restored session starts them over.

/// The count of one publish, kept in its queue entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Strikes {
    /// Connections in a row that counted against it.
    count: u16,
    /// Where its PUBLISH (or PUBREL) was last written on the current connection, in the
    /// order of writes ([`Watch::written`]); `None` if it was not written on it.
    written: Option<u64>,
}

impl Strikes {
    /// The message made progress (PUBREC): it is not poison.
    pub(crate) fn cleared(&mut self) {
        self.count = 0;
    }

    /// Connections in a row that counted against it.
    pub(crate) fn count(&self) -> u16 {
        self.count
    }
}

/// How far the server has shown it read on the current connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Watch {
    /// Outbound PUBLISH and PUBREL packets written, on any connection.
    writes: u64,
    /// The latest write (by [`Watch::writes`]) the server acknowledged on this connection.
    read_past: Option<u64>,
}

impl Watch {
    /// A PUBLISH or PUBREL of `strikes`' message was written.
    pub(crate) fn written(&mut self, strikes: &mut Strikes) {
        self.writes += 1;
        strikes.written = Some(self.writes);
    }

    /// The server acknowledged the message of `strikes` (PUBACK, PUBREC or PUBCOMP).
    pub(crate) fn acknowledged(&mut self, strikes: &Strikes) {
        if let Some(at) = strikes.written {
            self.read_past = self.read_past.max(Some(at));
        }
    }

    /// Where the message was written on this connection, if the server never showed it read
    /// that far: the connection's stopping point is the earliest of these.
    pub(crate) fn unread(&self, strikes: &Strikes) -> Option<u64> {
        strikes
            .written
            .filter(|&at| self.read_past.is_none_or(|read| read < at))
    }

    /// The connection ended. For a message still awaiting its PUBACK or PUBREC (`judged`)
    /// that was written on it: the server read past it (count over), or stopped at it
    /// (`stopped_at`, the earliest [`Watch::unread`]: one more), or neither. Returns true
    /// when the count reached `limit` (0: never). Either way the message is no longer written
    /// on the current connection.
    pub(crate) fn connection_ended(
        &self,
        strikes: &mut Strikes,
        judged: bool,
        stopped_at: Option<u64>,
        limit: u16,
    ) -> bool {
        let Some(at) = strikes.written.take() else {
            return false;
        };
        if !judged {
            return false;
        }
        if self.read_past.is_some_and(|read| read > at) {
            strikes.count = 0;
        } else if stopped_at == Some(at) {
            strikes.count = strikes.count.saturating_add(1);
        }
        limit != 0 && strikes.count >= limit
    }

    /// Forgets what the server acknowledged on the connection that ended (after
    /// [`Watch::connection_ended`] for every message).
    pub(crate) fn reset(&mut self) {
        self.read_past = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Ends the connection for `messages` (all judged) as the outbound queue does.
    fn end(watch: &mut Watch, messages: &mut [&mut Strikes], limit: u16) -> Vec<bool> {
        let stopped_at = messages.iter().filter_map(|s| watch.unread(s)).min();
        let given_up = messages
            .iter_mut()
            .map(|s| watch.connection_ended(s, true, stopped_at, limit))
            .collect();
        watch.reset();
        given_up
    }

    #[test]
    fn a_connection_counts_against_the_message_the_server_stopped_at() {
        let mut watch = Watch::default();
        let (mut earlier, mut poison, mut later) = Default::default();
        for n in 1..=3 {
            watch.written(&mut earlier);
            watch.written(&mut poison);
            watch.written(&mut later);
            // The earlier publish is acknowledged: the server stopped at the poison; the
            // later one is held up behind it.
            watch.acknowledged(&earlier);
            let given_up = end(&mut watch, &mut [&mut poison, &mut later], 3);
            assert_eq!(given_up, [n == 3, false]);
            assert_eq!((poison.count(), later.count()), (n, 0));
        }
        // A connection on which it was not written changes nothing.
        assert_eq!(end(&mut watch, &mut [&mut poison], 4), [false]);
        assert_eq!(poison.count(), 3);
        // One on which a later publish was acknowledged starts it over.
        watch.written(&mut poison);
        watch.written(&mut later);
        watch.acknowledged(&later);
        assert_eq!(
            end(&mut watch, &mut [&mut poison, &mut later], 3),
            [false, false]
        );
        assert_eq!(poison.count(), 0);
        // Not judged (it moved on to PUBREL): nothing counts.
        watch.written(&mut poison);
        assert!(!watch.connection_ended(&mut poison, false, None, 1));
        assert_eq!(poison.count(), 0);
        // Limit 0: never.
        for _ in 0..10 {
            watch.written(&mut poison);
            assert_eq!(end(&mut watch, &mut [&mut poison], 0), [false]);
        }
        assert_eq!(poison.count(), 10);
    }
}
