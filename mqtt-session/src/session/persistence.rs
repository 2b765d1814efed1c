//! What a snapshot reads from the session and what a restore puts back.

use alloc::vec::Vec;
use mqtt_proto::{MqttString, PacketId, SubscribeFilter, SubscriptionIdentifier};

use super::Session;
use crate::event::ConfigError;
use crate::ids::PacketIds;
use crate::inbound::{Inbound, Qos2};
use crate::outbound::{Outbound, Outgoing};
use crate::subscriptions::{Subscription, Subscriptions};
use crate::tables::Tables;
use crate::time::Instant;

impl<I: Instant, T: Tables> Session<I, T> {
    #[allow(clippy::type_complexity)]
    pub(crate) fn parts(
        &self,
    ) -> (
        &PacketIds<T::PacketIds>,
        &Outbound<I, T>,
        &Inbound<T>,
        &Subscriptions<T>,
        u64,
    ) {
        (
            &self.ids,
            &self.outbound,
            &self.inbound,
            &self.subs,
            self.publish_seq,
        )
    }

    /// See [`Outbound::take_changes`].
    pub(crate) fn take_outgoing_changes(&mut self, into: &mut Vec<u64>) -> bool {
        self.outbound.take_changes(into)
    }

    pub(crate) fn restore_parts(
        &mut self,
        client_id: MqttString,
        next_packet_id: u16,
        publish_seq: u64,
        outgoing: Vec<Outgoing<I>>,
        inbound_qos2: Vec<PacketId>,
        subscriptions: Vec<(SubscribeFilter, Option<SubscriptionIdentifier>)>,
    ) -> Result<(), ConfigError> {
        self.client_id = client_id;
        self.resumable = true;
        // Never hand out a PublishId or a Subscription Identifier that a restored entry has.
        self.publish_seq = outgoing.iter().map(|e| e.id.0).fold(publish_seq, u64::max);
        self.request_seq = subscriptions
            .iter()
            .filter_map(|(_, id)| id.map(|i| u64::from(i.get())))
            .fold(self.request_seq, u64::max);
        for entry in outgoing {
            if let Some(id) = entry.packet_id() {
                self.ids.claim(id);
            }
            self.outbound
                .restore(entry)
                .map_err(|_| ConfigError::SnapshotTooLarge("outbound publishes"))?;
        }
        self.ids.set_next(next_packet_id);
        for id in inbound_qos2 {
            self.inbound
                .set_qos2(id, Qos2::Received)
                .map_err(|_| ConfigError::SnapshotTooLarge("inbound QoS 2 messages"))?;
        }
        for (filter, identifier) in subscriptions {
            let request = self.next_request();
            let key = self.subs.new_key();
            self.subs.list.push(Subscription {
                key,
                request,
                filter,
                identifier,
                active: true,
                remake: false,
            });
        }
        Ok(())
    }
}
