//! Subscriptions: the requests in flight, the subscriptions the server granted (kept to
//! resubscribe when the server loses the session), and the routing of inbound messages to them.

use alloc::vec::Vec;
use mqtt_proto::{
    PacketId, Publish, SubscribeFilter, SubscribeProperties, SubscriptionIdentifier, TopicFilter,
    UnsubscribeProperties,
};

use crate::event::{RequestId, SubscriptionKey};

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

#[derive(Debug, Clone, Default)]
pub(crate) struct Subscriptions {
    pub(crate) list: Vec<Subscription>,
    pub(crate) subscribes: Vec<PendingSubscribe>,
    pub(crate) unsubscribes: Vec<PendingUnsubscribe>,
    next_key: u64,
}

impl Subscriptions {
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
        for p in &mut self.subscribes {
            p.sent = false;
        }
        for p in &mut self.unsubscribes {
            p.sent = false;
        }
    }
}
