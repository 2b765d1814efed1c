//! Subscriptions: SUBSCRIBE and UNSUBSCRIBE requests, their SUBACK and UNSUBACK, and making
//! the granted subscriptions again when the server lost the session.

use alloc::vec::Vec;
use mqtt_proto::{
    EncodeError, PacketId, PacketType, ProtocolVersion, QoS, ReasonCode, SubAck, Subscribe,
    SubscribeFilter, SubscribeProperties, TopicFilter, UnsubAck, Unsubscribe,
    UnsubscribeProperties,
};

use super::{Session, State};
use crate::event::{Error, Event, RequestId, SubscribeResult, SubscriptionKey};
use crate::subscriptions::{PendingSubscribe, PendingUnsubscribe, Subscription, Subscriptions};
use crate::tables::{Table, Tables};
use crate::time::Instant;
use crate::violation::ProtocolViolation;

impl<I: Instant, T: Tables> Session<I, T> {
    /// Subscribes to `filters`, each becoming a subscription with its own key (in order).
    /// The result arrives as [`Event::Subscribed`]. On v5 the session gives the SUBSCRIBE a
    /// Subscription Identifier (unless `properties` has one, or the server has none) so that
    /// messages are routed exactly.
    pub fn subscribe(
        &mut self,
        _now: I,
        filters: Vec<SubscribeFilter>,
        properties: SubscribeProperties,
    ) -> Result<(RequestId, Vec<SubscriptionKey>), Error> {
        if self.user_closed {
            return Err(Error::Closing);
        }
        if filters.is_empty() {
            return Err(Error::Invalid(EncodeError::Invalid(
                mqtt_proto::Error::NoTopicFilters(PacketType::Subscribe),
            )));
        }
        if self.state == State::Connected {
            if !self.limits.wildcard_subscription_available
                && filters.iter().any(|f| f.filter.has_wildcards())
            {
                return Err(Error::SubscriptionNotSupported("wildcard subscriptions"));
            }
            if !self.limits.shared_subscription_available
                && filters.iter().any(|f| f.filter.is_shared())
            {
                return Err(Error::SubscriptionNotSupported("shared subscriptions"));
            }
        }
        // Check the packet encodes before taking an id.
        Subscribe {
            packet_id: PacketId::MIN,
            filters: filters.clone(),
            properties: properties.clone(),
        }
        .encoded_len(self.config.protocol_version)?;
        if self.subs.subscribes.is_full() {
            return Err(Error::RequestsFull);
        }
        let packet_id = self.ids.allocate().ok_or(Error::NoFreePacketId)?;
        let request = self.next_request();
        let mut keys = Vec::with_capacity(filters.len());
        for filter in filters {
            let key = self.subs.new_key();
            keys.push(key);
            self.subs.list.push(Subscription {
                key,
                request,
                filter,
                identifier: properties.subscription_identifier,
                active: false,
                remake: false,
            });
        }
        // Room was checked above.
        let _ = self.subs.subscribes.push(PendingSubscribe {
            request,
            packet_id,
            keys: keys.clone(),
            properties,
            resubscribe: false,
            sent: false,
        });
        Ok((request, keys))
    }

    /// Unsubscribes from `filters` (matched by their exact text). The result arrives as
    /// [`Event::Unsubscribed`]; the subscriptions stay routable until then.
    pub fn unsubscribe(
        &mut self,
        _now: I,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    ) -> Result<RequestId, Error> {
        if self.user_closed {
            return Err(Error::Closing);
        }
        Unsubscribe {
            packet_id: PacketId::MIN,
            filters: filters.clone(),
            properties: properties.clone(),
        }
        .encoded_len(self.config.protocol_version)?;
        if self.subs.unsubscribes.is_full() {
            return Err(Error::RequestsFull);
        }
        let packet_id = self.ids.allocate().ok_or(Error::NoFreePacketId)?;
        let request = self.next_request();
        // Room was checked above.
        let _ = self.subs.unsubscribes.push(PendingUnsubscribe {
            request,
            packet_id,
            filters,
            properties,
            sent: false,
        });
        Ok(request)
    }

    pub(super) fn next_request(&mut self) -> RequestId {
        self.request_seq += 1;
        RequestId(self.request_seq)
    }

    pub(super) fn on_suback(&mut self, now: I, ack: SubAck) {
        let Some(index) = self
            .subs
            .subscribes
            .iter()
            .position(|p| p.packet_id == ack.packet_id && p.sent)
        else {
            return;
        };
        let Some(pending) = self.subs.subscribes.remove(index) else {
            return;
        };
        self.subs.subscribes.free_if_empty();
        self.ids.release(pending.packet_id);
        self.remake_subscriptions();
        // [MQTT-3.8.4-6], [MQTT-3.9.3-1]: one reason code per filter, in order.
        if ack.reason_codes.len() != pending.keys.len() {
            let violation = ProtocolViolation::ReasonCodeCount {
                packet: PacketType::SubAck,
                expected: pending.keys.len(),
                got: ack.reason_codes.len(),
            };
            return self.protocol_error(now, ReasonCode::ProtocolError, violation);
        }
        let mut results: Vec<SubscribeResult> = Vec::with_capacity(pending.keys.len());
        for (&key, &code) in pending.keys.iter().zip(&ack.reason_codes) {
            let granted = match code {
                ReasonCode::Success => Some(QoS::AtMostOnce),
                ReasonCode::GrantedQoS1 => Some(QoS::AtLeastOnce),
                ReasonCode::GrantedQoS2 => Some(QoS::ExactlyOnce),
                _ => None,
            };
            match granted {
                Some(qos) => {
                    let filter = self.subs.get(key).map(|s| s.filter.filter.clone());
                    if let Some(filter) = filter {
                        // A new subscription to the same filter replaces the old one
                        // [MQTT-3.8.4-3].
                        self.subs
                            .list
                            .retain(|s| s.key == key || s.filter.filter != filter || !s.active);
                    }
                    if let Some(s) = self.subs.get_mut(key) {
                        s.active = true;
                    }
                    results.push(Ok(qos));
                }
                None => {
                    self.subs.list.retain(|s| s.key != key);
                    results.push(Err(code));
                }
            }
        }
        self.events.push_back(Event::Subscribed {
            id: pending.request,
            keys: pending.keys,
            results,
            resubscribe: pending.resubscribe,
        });
    }

    pub(super) fn on_unsuback(&mut self, now: I, ack: UnsubAck) {
        let Some(index) = self
            .subs
            .unsubscribes
            .iter()
            .position(|p| p.packet_id == ack.packet_id && p.sent)
        else {
            return;
        };
        let Some(pending) = self.subs.unsubscribes.remove(index) else {
            return;
        };
        self.subs.unsubscribes.free_if_empty();
        self.ids.release(pending.packet_id);
        self.remake_subscriptions();
        let results = match self.config.protocol_version {
            ProtocolVersion::V311 => alloc::vec![ReasonCode::Success; pending.filters.len()],
            ProtocolVersion::V5 => ack.reason_codes,
        };
        if results.len() != pending.filters.len() {
            let violation = ProtocolViolation::ReasonCodeCount {
                packet: PacketType::UnsubAck,
                expected: pending.filters.len(),
                got: results.len(),
            };
            return self.protocol_error(now, ReasonCode::ProtocolError, violation);
        }
        for (filter, code) in pending.filters.iter().zip(&results) {
            if !code.is_error() {
                self.subs.remove_filter(filter);
            }
        }
        self.events.push_back(Event::Unsubscribed {
            id: pending.request,
            results,
        });
    }

    /// The server lost the session: every granted subscription that no unanswered request
    /// covers is to be made again, in groups (one per original request, keeping its
    /// Subscription Identifier).
    pub(super) fn resubscribe(&mut self) {
        let Subscriptions {
            list, subscribes, ..
        } = &mut self.subs;
        for s in list.iter_mut().filter(|s| s.active) {
            s.remake = !subscribes.iter().any(|p| p.keys.contains(&s.key));
        }
        self.remake_subscriptions();
    }

    /// Queues a SUBSCRIBE for each group of subscriptions still to be made again, as far as
    /// the request table and the Packet Identifiers have room; the rest go once an answer
    /// frees some.
    pub(super) fn remake_subscriptions(&mut self) {
        while !self.subs.subscribes.is_full() {
            let Some(request) = self.subs.list.iter().find(|s| s.remake).map(|s| s.request) else {
                return;
            };
            let Some(packet_id) = self.ids.allocate() else {
                return;
            };
            let mut keys: Vec<SubscriptionKey> = Vec::new();
            for s in self.subs.list.iter_mut().filter(|s| s.request == request) {
                if s.active {
                    keys.push(s.key);
                }
                s.remake = false;
            }
            let identifier = self
                .subs
                .list
                .iter()
                .find(|s| s.request == request)
                .and_then(|s| s.identifier);
            let properties = SubscribeProperties {
                subscription_identifier: identifier,
                ..SubscribeProperties::default()
            };
            // Room was checked by the loop.
            let _ = self.subs.subscribes.push(PendingSubscribe {
                request,
                packet_id,
                keys,
                properties,
                resubscribe: true,
                sent: false,
            });
        }
    }
}
