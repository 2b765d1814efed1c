//! Subscriptions: the requests in flight, the subscriptions the server granted (kept to
//! resubscribe when the server loses the session), and the routing of inbound messages to them.

use alloc::vec::Vec;
use bytes::BytesMut;
use mqtt_proto::{
    PacketId, ProtocolVersion, Publish, Subscribe, SubscribeFilter, SubscribeProperties,
    SubscriptionIdentifier, TopicFilter, Unsubscribe, UnsubscribeProperties,
};

use crate::event::{RequestId, SubscriptionKey};
use crate::tables::{Table, Tables};

/// One topic filter the application subscribed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscription {
    pub(crate) key: SubscriptionKey,
    pub(crate) request: RequestId,
    pub(crate) filter: SubscribeFilter,
    /// The Subscription Identifier its SUBSCRIBE carried (v5), for routing.
    pub(crate) identifier: Option<SubscriptionIdentifier>,
    /// Whether the server granted it (a SUBACK success); until then it only waits.
    pub(crate) active: bool,
    /// The server lost the session and this granted subscription is not subscribed again yet
    /// (a bounded request table had no room for its SUBSCRIBE).
    pub(crate) remake: bool,
}

/// A SUBSCRIBE that is not answered yet.
#[derive(Debug, Clone)]
pub(crate) struct PendingSubscribe {
    pub(crate) request: RequestId,
    pub(crate) packet_id: PacketId,
    pub(crate) keys: Vec<SubscriptionKey>,
    pub(crate) properties: SubscribeProperties,
    pub(crate) resubscribe: bool,
    pub(crate) sent: bool,
}

/// An UNSUBSCRIBE that is not answered yet.
#[derive(Debug, Clone)]
pub(crate) struct PendingUnsubscribe {
    pub(crate) request: RequestId,
    pub(crate) packet_id: PacketId,
    pub(crate) filters: Vec<TopicFilter>,
    pub(crate) properties: UnsubscribeProperties,
    pub(crate) sent: bool,
}

#[derive(Debug)]
pub(crate) struct Subscriptions<T: Tables> {
    pub(crate) list: Vec<Subscription>,
    pub(crate) subscribes: T::Requests<PendingSubscribe>,
    pub(crate) unsubscribes: T::Requests<PendingUnsubscribe>,
    next_key: u64,
}

impl<T: Tables> Subscriptions<T> {
    pub(crate) fn new() -> Self {
        Subscriptions {
            list: Vec::new(),
            subscribes: Table::new(),
            unsubscribes: Table::new(),
            next_key: 0,
        }
    }

    /// SUBSCRIBE and UNSUBSCRIBE requests not yet sent on this connection, in the order they
    /// were asked for. The server answers in order, so an UNSUBSCRIBE followed by a SUBSCRIBE of
    /// the same filter (a subscription stream dropped and made again) leaves the filter
    /// subscribed only if they go out in that order too. Resubscriptions restore what the
    /// server lost before anything asked since, so they go first.
    pub(crate) fn write_pending(
        &mut self,
        version: ProtocolVersion,
        ids_available: bool,
        buf: &mut BytesMut,
    ) {
        // Sorted once per call (not rescanned per packet: tens of thousands of requests can
        // wait while offline). An empty `Vec` allocates nothing when nothing waits.
        // (resubscriptions first, then the order asked for; which list; index in it)
        let mut order: Vec<((bool, RequestId), bool, usize)> = Vec::new();
        order.extend(
            self.subscribes
                .iter()
                .enumerate()
                .filter(|(_, p)| !p.sent)
                .map(|(i, p)| ((!p.resubscribe, p.request), true, i)),
        );
        order.extend(
            self.unsubscribes
                .iter()
                .enumerate()
                .filter(|(_, p)| !p.sent)
                .map(|(i, p)| ((true, p.request), false, i)),
        );
        order.sort_unstable_by_key(|&(key, _, _)| key);
        for (_, subscribe, index) in order {
            if subscribe {
                self.write_subscribe(index, version, ids_available, buf);
            } else {
                self.write_unsubscribe(index, version, buf);
            }
        }
    }

    /// Writes the pending SUBSCRIBE at `index` and marks it sent.
    fn write_subscribe(
        &mut self,
        index: usize,
        version: ProtocolVersion,
        ids_available: bool,
        buf: &mut BytesMut,
    ) {
        let Some(pending) = self.subscribes.get_mut(index) else {
            return;
        };
        pending.sent = true;
        let mut properties = pending.properties.clone();
        if version == ProtocolVersion::V5 {
            if properties.subscription_identifier.is_none() && ids_available {
                // Derived from the request's number, which is never reused (wrapping only
                // after 268,435,455 requests).
                properties.subscription_identifier =
                    SubscriptionIdentifier::new((pending.request.0 % 268_435_455) as u32 + 1);
            }
            if !ids_available {
                properties.subscription_identifier = None;
            }
        }
        let keys = pending.keys.clone();
        let packet_id = pending.packet_id;
        let mut filters = Vec::with_capacity(keys.len());
        for key in &keys {
            if let Some(s) = self.get_mut(*key) {
                s.identifier = properties.subscription_identifier;
                filters.push(s.filter.clone());
            }
        }
        let _ = Subscribe {
            packet_id,
            filters,
            properties,
        }
        .encode(version, buf);
    }

    /// Writes the pending UNSUBSCRIBE at `index` and marks it sent.
    fn write_unsubscribe(&mut self, index: usize, version: ProtocolVersion, buf: &mut BytesMut) {
        let Some(pending) = self.unsubscribes.get_mut(index) else {
            return;
        };
        pending.sent = true;
        let _ = Unsubscribe {
            packet_id: pending.packet_id,
            filters: pending.filters.clone(),
            properties: pending.properties.clone(),
        }
        .encode(version, buf);
    }

    pub(crate) fn new_key(&mut self) -> SubscriptionKey {
        self.next_key += 1;
        SubscriptionKey(self.next_key)
    }

    pub(crate) fn get(&self, key: SubscriptionKey) -> Option<&Subscription> {
        self.list.iter().find(|s| s.key == key)
    }

    /// The subscriptions the server granted, in the order they were made.
    pub(crate) fn granted(&self) -> impl Iterator<Item = &Subscription> {
        self.list.iter().filter(|s| s.active)
    }

    /// Whether the server holds `filter` with the same options: granted (in this connection,
    /// or in a session resumed or restored), and no UNSUBSCRIBE of it is on its way.
    pub(crate) fn holds(&self, filter: &SubscribeFilter) -> bool {
        self.granted().any(|s| s.filter == *filter)
            && !self
                .unsubscribes
                .iter()
                .any(|u| u.filters.contains(&filter.filter))
    }

    pub(crate) fn get_mut(&mut self, key: SubscriptionKey) -> Option<&mut Subscription> {
        self.list.iter_mut().find(|s| s.key == key)
    }

    /// The subscriptions an inbound message belongs to. When the PUBLISH carries Subscription
    /// Identifiers (v5), exactly the subscriptions made with those identifiers whose filter
    /// matches the topic; otherwise every subscription whose filter matches. Subscriptions
    /// still waiting for their SUBACK count: a resumed session's queued messages arrive before
    /// it. Each subscription appears once, in the order they were made.
    pub(crate) fn route<'a>(
        &'a self,
        publish: &'a Publish,
    ) -> impl Iterator<Item = SubscriptionKey> + 'a {
        let ids = publish.properties.subscription_identifiers();
        // Identifiers this session never gave (a subscription of an earlier process, resumed
        // by the server) fall back to the filters.
        let by_id = !ids.is_empty()
            && self
                .list
                .iter()
                .any(|s| s.identifier.is_some_and(|id| ids.iter().any(|i| i == id)));
        self.list.iter().filter_map(move |s| {
            let wanted = s.filter.filter.matches(&publish.topic)
                && (!by_id || s.identifier.is_some_and(|id| ids.iter().any(|i| i == id)));
            wanted.then_some(s.key)
        })
    }

    /// Removes every granted subscription with this exact filter string (an UNSUBSCRIBE
    /// succeeded). A subscription to the same filter still waiting for its SUBACK was asked for
    /// after the UNSUBSCRIBE, which the server answers in order, so it stays.
    pub(crate) fn remove_filter(&mut self, filter: &TopicFilter) {
        self.list
            .retain(|s| !(s.active && s.filter.filter == *filter));
    }

    /// The connection ended: every unanswered request will be sent again.
    pub(crate) fn connection_lost(&mut self) {
        for p in self.subscribes.iter_mut() {
            p.sent = false;
        }
        for p in self.unsubscribes.iter_mut() {
            p.sent = false;
        }
    }
}
