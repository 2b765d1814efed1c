//! What a subscribe or unsubscribe request gives back, per topic filter, and the requests the
//! connection task waits on: the server's SUBACK makes a [`Subscription`] of the filters it
//! granted (or an error when it granted none), an UNSUBACK answers the caller with one result
//! per filter.
//!
//! A refused filter was never subscribed, so it is never unsubscribed either [MQTT-3.9.3-1]:
//! it leaves the subscription's stream when the SUBACK arrives, and dropping the stream or
//! unsubscribing from it later sends an UNSUBSCRIBE for the granted filters only.

use futures_channel::oneshot;
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode, TopicFilter};
use mqtt_session::{RequestId, SubscribeResult, SubscriptionKey};

use crate::client::{Command, Subscription};
use crate::report::ClientError;
use crate::routing::{Routing, SeqMap};

type Reply<T> = oneshot::Sender<Result<T, ClientError>>;

/// The outcome of unsubscribing one topic filter of a [`Subscription`]
/// ([`Subscription::unsubscribe_filters`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsubscribeResult {
    /// MQTT v5: the UNSUBACK's reason code for this filter: Success, 0x11 No subscription
    /// existed, or an error (0x80 and above, e.g. 0x87 Not authorized) when the server kept
    /// the subscription.
    ReasonCode(ReasonCode),
    /// MQTT v3.1.1: the server acknowledged the UNSUBSCRIBE. A v3.1.1 UNSUBACK carries no
    /// result per filter, so there is nothing more to say.
    Acknowledged,
    /// Another [`Subscription`] of this client still uses the same filter: this stream no
    /// longer gets its messages, but no UNSUBSCRIBE was sent (the other one would lose them).
    StillUsed,
}

/// The per-filter state of a [`Subscription`]: every filter it asked for, what the server
/// answered for each, and the filters it holds now.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filters {
    /// Every filter of the SUBSCRIBE, in order.
    asked: Vec<TopicFilter>,
    /// The SUBACK's outcome per filter, in the same order.
    results: Vec<SubscribeResult>,
    /// The QoS of each granted filter, in order.
    granted: Vec<QoS>,
    /// The filters the subscription holds: granted and not unsubscribed since.
    live: Vec<TopicFilter>,
}

impl Filters {
    /// The filters of a SUBSCRIBE not answered yet.
    pub(crate) fn asked(asked: Vec<TopicFilter>) -> Filters {
        Filters {
            asked,
            ..Filters::default()
        }
    }

    /// The SUBACK's results, one per filter in order.
    pub(crate) fn answered(&mut self, results: Vec<SubscribeResult>) {
        self.granted = results.iter().filter_map(|r| r.ok()).collect();
        self.live = self
            .asked
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(f, _)| f.clone())
            .collect();
        self.results = results;
    }

    pub(crate) fn results(&self) -> &[SubscribeResult] {
        &self.results
    }

    pub(crate) fn granted(&self) -> &[QoS] {
        &self.granted
    }

    pub(crate) fn live(&self) -> &[TopicFilter] {
        &self.live
    }

    /// The live filters less `filters`; fails if one of them is not live (or is named
    /// twice).
    pub(crate) fn without(&self, filters: &[TopicFilter]) -> Result<Vec<TopicFilter>, ClientError> {
        let mut live = self.live.clone();
        for filter in filters {
            let Some(at) = live.iter().position(|f| f == filter) else {
                return Err(ClientError::NotSubscribed(filter.to_string()));
            };
            live.remove(at);
        }
        Ok(live)
    }

    pub(crate) fn set_live(&mut self, live: Vec<TopicFilter>) {
        self.live = live;
    }
}

/// The per-filter side of a [`Subscription`].
impl Subscription {
    /// The QoS the server granted, per granted filter in filter order (the refused filters
    /// left out: see [`Subscription::results`]).
    pub fn granted(&self) -> &[QoS] {
        self.filters.granted()
    }

    /// The server's answer to every filter of the SUBSCRIBE, in filter order: the QoS it
    /// granted, or the reason code of its refusal (v3.1.1: 0x80 Failure; v5: 0x80 and above,
    /// e.g. 0x87 Not authorized).
    pub fn results(&self) -> &[Result<QoS, ReasonCode>] {
        self.filters.results()
    }

    /// The filters this subscription holds now: those the server granted, less those
    /// unsubscribed since ([`Subscription::unsubscribe_filters`]).
    pub fn filters(&self) -> &[TopicFilter] {
        self.filters.live()
    }

    /// The SUBACK's results, one per filter in order.
    pub(crate) fn answered(&mut self, results: Vec<Result<QoS, ReasonCode>>) {
        self.filters.answered(results);
    }

    /// The server refused every filter: dropping the stream unsubscribes nothing.
    pub(crate) fn forget(&mut self) {
        self.unsubscribed = true;
    }

    /// Unsubscribes from some of this subscription's filters (each one of
    /// [`Subscription::filters`]) and waits for the server's answer: one
    /// [`UnsubscribeResult`] per filter, in the order given (the UNSUBACK's reason code on
    /// v5; on v3.1.1, whose UNSUBACK has none, [`UnsubscribeResult::Acknowledged`]). The
    /// stream stops carrying their messages at once and keeps those of its other filters.
    ///
    /// Fails with [`ClientError::NotSubscribed`], changing nothing, when a filter is not one
    /// this subscription holds (refused, unsubscribed before, or named twice).
    pub async fn unsubscribe_filters(
        &mut self,
        filters: &[&str],
    ) -> Result<Vec<UnsubscribeResult>, ClientError> {
        let filters = filters
            .iter()
            .map(|f| TopicFilter::new(f.to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClientError::Session(mqtt_session::Error::Invalid(e.into())))?;
        let live = self.filters.without(&filters)?;
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::UnsubscribeFilters {
                stream: self.stream,
                filters,
                reply,
            })
            .await
            .map_err(|_| ClientError::Closed)?;
        // Only once the command is sent: a call dropped while it waited for room changed
        // nothing.
        self.filters.set_live(live);
        rx.await.map_err(|_| ClientError::Closed)?
    }
}

/// How an UNSUBSCRIBE's answer goes back.
#[derive(Debug)]
enum UnsubscribeReply {
    /// A whole subscription: the UNSUBACK's reason codes.
    Whole(Reply<Vec<ReasonCode>>),
    /// Some filters of a subscription: one result per filter asked, those already known
    /// ([`UnsubscribeResult::StillUsed`]) filled in, the rest from the UNSUBACK in order.
    Filters(
        Reply<Vec<UnsubscribeResult>>,
        Vec<Option<UnsubscribeResult>>,
    ),
}

/// The keys of the filters a SUBACK refused (`keys` and `results` in filter order).
fn refused_keys(keys: &[SubscriptionKey], results: &[SubscribeResult]) -> Vec<SubscriptionKey> {
    keys.iter()
        .zip(results)
        .filter(|(_, r)| r.is_err())
        .map(|(k, _)| *k)
        .collect()
}

/// The subscribe and unsubscribe requests the connection task waits on.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    subscribes: SeqMap<RequestId, (Reply<Subscription>, Subscription)>,
    /// SUBSCRIBEs answered before their SUBACK (see [`Requests::subscribing`]), with the
    /// stream they made.
    answered_early: SeqMap<RequestId, u64>,
    unsubscribes: SeqMap<RequestId, UnsubscribeReply>,
}

impl Requests {
    /// A SUBSCRIBE the session took: `subscription` goes to `reply` when it is answered.
    ///
    /// When the session already holds every filter, with the same options, for no stream of
    /// this process (`held`: a subscription of the session a resumed connection or the store
    /// brought back), it goes at once, with the QoS each filter asked for; the SUBSCRIBE still
    /// goes out.
    /// Waiting for its SUBACK could wait for good: a server resuming a session may send the
    /// messages of those filters first and hold the SUBACK behind its in-flight window
    /// (rumqttd does), while the messages wait for a reader that the SUBACK would create.
    pub(crate) fn subscribing(
        &mut self,
        request: RequestId,
        reply: Reply<Subscription>,
        mut subscription: Subscription,
        held: Option<Vec<SubscribeResult>>,
    ) {
        match held {
            Some(results) => {
                self.answered_early
                    .insert(request, subscription.stream_id());
                subscription.answered(results);
                if let Err(Ok(subscription)) = reply.send(Ok(subscription)) {
                    drop(subscription);
                }
            }
            None => {
                self.subscribes.insert(request, (reply, subscription));
            }
        }
    }

    /// A SUBACK: the granted filters make the subscription; the refused ones leave its
    /// stream, so that nothing unsubscribes them [MQTT-3.9.3-1]. When every filter was
    /// refused the caller gets [`ClientError::SubscribeFailed`] and the stream goes, with no
    /// UNSUBSCRIBE.
    pub(crate) fn subscribed(
        &mut self,
        routing: &mut Routing,
        request: RequestId,
        keys: &[SubscriptionKey],
        results: Vec<SubscribeResult>,
    ) {
        if let Some(stream) = self.answered_early.remove(&request) {
            // The server took the filters away since it granted them (it refuses them now):
            // their messages no longer come; nothing else can be done for a subscription the
            // application already has.
            let refused = refused_keys(keys, &results);
            if !refused.is_empty() {
                tracing::warn!(?results, "a subscription held before is refused now");
                routing.refuse_keys(stream, &refused);
            }
            return;
        }
        let Some((reply, mut subscription)) = self.subscribes.remove(&request) else {
            return;
        };
        let stream = subscription.stream_id();
        routing.refuse_keys(stream, &refused_keys(keys, &results));
        if results.iter().all(|r| r.is_err()) {
            let _ = routing.remove_stream(stream);
            subscription.forget();
            let codes = results.iter().filter_map(|r| r.err()).collect();
            let _ = reply.send(Err(ClientError::SubscribeFailed(codes)));
            return;
        }
        subscription.answered(results);
        if let Err(Ok(subscription)) = reply.send(Ok(subscription)) {
            // Nobody waits any more: the dropped stream unsubscribes its granted filters.
            drop(subscription);
        }
    }

    /// An UNSUBSCRIBE of a whole subscription the session took.
    pub(crate) fn unsubscribing(&mut self, request: RequestId, reply: Reply<Vec<ReasonCode>>) {
        self.unsubscribes
            .insert(request, UnsubscribeReply::Whole(reply));
    }

    /// Some filters of a subscription: `still_used[i]` says whether the `i`th is used by
    /// another stream (and not sent). `request` is the UNSUBSCRIBE of the others, if any;
    /// without one the answer goes at once.
    pub(crate) fn unsubscribing_filters(
        &mut self,
        request: Option<RequestId>,
        reply: Reply<Vec<UnsubscribeResult>>,
        still_used: &[bool],
    ) {
        let known = still_used
            .iter()
            .map(|&used| used.then_some(UnsubscribeResult::StillUsed))
            .collect();
        match request {
            Some(request) => {
                self.unsubscribes
                    .insert(request, UnsubscribeReply::Filters(reply, known));
            }
            None => {
                let _ = reply.send(Ok(known.into_iter().flatten().collect()));
            }
        }
    }

    /// An UNSUBACK: `results` has one reason code per filter sent (v3.1.1: Success for each,
    /// which the session fills in).
    pub(crate) fn unsubscribed(
        &mut self,
        request: RequestId,
        version: ProtocolVersion,
        results: Vec<ReasonCode>,
    ) {
        match self.unsubscribes.remove(&request) {
            Some(UnsubscribeReply::Whole(reply)) => {
                let _ = reply.send(Ok(results));
            }
            Some(UnsubscribeReply::Filters(reply, mut known)) => {
                let mut sent = results.into_iter();
                for slot in known.iter_mut().filter(|s| s.is_none()) {
                    let code = sent.next().unwrap_or(ReasonCode::Success);
                    *slot = Some(match version {
                        ProtocolVersion::V5 => UnsubscribeResult::ReasonCode(code),
                        ProtocolVersion::V311 => UnsubscribeResult::Acknowledged,
                    });
                }
                let _ = reply.send(Ok(known.into_iter().flatten().collect()));
            }
            None => {}
        }
    }
}
