//! Request/response (MQTT v5, section 4.10): the requests a client waits on, and the one
//! subscription their responses arrive on.
//!
//! A request is a PUBLISH carrying a Response Topic and Correlation Data; the responder
//! publishes its answer to that topic with the same Correlation Data. Every request of a
//! connection shares one response topic, subscribed once: the server's Response Information
//! (when [`Options::request_response_information`](crate::Options) asked for it) followed by
//! `rr`, or `rr/<client id>` otherwise. A response is matched to its request by its
//! Correlation Data, which this part hands out (a counter, unique in the connection task's
//! life); a response nobody waits for (its request timed out, its caller went away, or it
//! answers an earlier process) is acknowledged and dropped.
//!
//! This part owns its table and its deadlines; the driver hands it the commands, the SUBACK
//! of its subscription, the messages on its topic, and the time.

use bytes::Bytes;
use futures_channel::oneshot;
use mqtt_proto::{QoS, SubscribeFilter, TopicFilter, TopicName};
use mqtt_session::RequestId;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::report::{ClientError, Message};
use crate::routing::SeqMap;

/// Where a request learns its Response Topic and Correlation Data, once the response
/// subscription is in place.
pub(crate) type Ready = oneshot::Sender<Result<(TopicName, Bytes), ClientError>>;
/// Where a request's response goes.
pub(crate) type Answer = oneshot::Sender<Result<Message, ClientError>>;

/// A request waiting for its response.
#[derive(Debug)]
struct Waiting {
    deadline: Instant,
    answer: Answer,
}

/// A request registered before the response subscription was granted.
#[derive(Debug)]
struct Early {
    deadline: Instant,
    ready: Ready,
    answer: Answer,
}

/// What the response subscription is doing.
#[derive(Debug, Default, PartialEq, Eq)]
enum Stage {
    /// Not asked for yet (or refused: asked again with the next request).
    #[default]
    None,
    /// SUBSCRIBE sent, waiting for its SUBACK.
    Asked(RequestId),
    /// Granted.
    Granted,
}

/// The requests of one connection task.
#[derive(Debug, Default)]
pub(crate) struct Responses {
    /// The response topic, once the client identifier (or the server's Response Information)
    /// is known.
    topic: Option<TopicName>,
    stage: Stage,
    early: VecDeque<Early>,
    waiting: SeqMap<u64, Waiting>,
    /// The last Correlation Data handed out.
    last: u64,
}

impl Responses {
    /// The response topic of a client whose identifier is `client_id`, given the server's
    /// `response_information` (if it sent one).
    pub(crate) fn set_topic(&mut self, client_id: &str, response_information: Option<&str>) {
        if self.topic.is_some() {
            // Requests in flight name it: it stays for the life of the connection task.
            return;
        }
        let name = match response_information {
            Some(base) if base.ends_with('/') => format!("{base}rr"),
            Some(base) => format!("{base}/rr"),
            None => format!("rr/{client_id}"),
        };
        // A client identifier with a wildcard character in it makes no topic name; the
        // counter keeps it unique among this process's requests at least.
        self.topic = TopicName::new(name)
            .ok()
            .or_else(|| TopicName::new("rr/-").ok());
    }

    /// A new request, with `timeout` from `now`. Returns the SUBSCRIBE to send for the
    /// response topic when there is none yet (and the topic is known).
    pub(crate) fn register(
        &mut self,
        now: Instant,
        timeout: Duration,
        ready: Ready,
        answer: Answer,
    ) -> Option<SubscribeFilter> {
        let deadline = now + timeout;
        if self.stage == Stage::Granted {
            self.start(deadline, ready, answer);
            return None;
        }
        self.early.push_back(Early {
            deadline,
            ready,
            answer,
        });
        self.filter()
    }

    /// The SUBSCRIBE to send, if the response subscription is neither granted nor asked for.
    pub(crate) fn filter(&self) -> Option<SubscribeFilter> {
        if self.stage != Stage::None || self.early.is_empty() {
            return None;
        }
        let topic = self.topic.as_ref()?;
        let filter = TopicFilter::new(topic.as_str()).ok()?;
        Some(SubscribeFilter::new(filter, QoS::ExactlyOnce))
    }

    /// The response subscription was asked for with SUBSCRIBE `id`.
    pub(crate) fn asked(&mut self, id: RequestId) {
        self.stage = Stage::Asked(id);
    }

    /// Asking for the response subscription failed at once: the requests that waited for it
    /// fail with `error`.
    pub(crate) fn ask_failed(&mut self, error: &ClientError) {
        self.stage = Stage::None;
        for early in self.early.drain(..) {
            let _ = early.ready.send(Err(error.clone()));
        }
    }

    /// A SUBACK: whether it answers the response subscription (then it is taken care of).
    pub(crate) fn subscribed(
        &mut self,
        id: RequestId,
        granted: bool,
        refused: &ClientError,
    ) -> bool {
        if self.stage != Stage::Asked(id) {
            return false;
        }
        if granted {
            self.stage = Stage::Granted;
            for early in std::mem::take(&mut self.early) {
                self.start(early.deadline, early.ready, early.answer);
            }
        } else {
            self.ask_failed(refused);
        }
        true
    }

    /// Hands a request its Correlation Data and starts waiting for the response.
    fn start(&mut self, deadline: Instant, ready: Ready, answer: Answer) {
        let Some(topic) = self.topic.clone() else {
            let _ = ready.send(Err(ClientError::Closed));
            return;
        };
        self.last += 1;
        let correlation = Bytes::copy_from_slice(&self.last.to_be_bytes());
        if ready.send(Ok((topic, correlation))).is_ok() {
            self.waiting.insert(self.last, Waiting { deadline, answer });
        }
    }

    /// Whether `message` arrived on the response topic (then it is for [`Responses::answer`]).
    pub(crate) fn is_response(&self, message: &mqtt_session::Message) -> bool {
        self.topic
            .as_ref()
            .is_some_and(|t| *t == message.publish.topic)
    }

    /// A message on the response topic: to the request its Correlation Data names, if that
    /// one still waits.
    pub(crate) fn answer(&mut self, message: mqtt_session::Message) {
        let key = message
            .publish
            .properties
            .correlation_data()
            .and_then(|c| <[u8; 8]>::try_from(c.as_ref()).ok())
            .map(u64::from_be_bytes);
        let Some(waiting) = key.and_then(|k| self.waiting.remove(&k)) else {
            tracing::debug!("a response no request waits for: dropped");
            return;
        };
        let _ = waiting.answer.send(Ok(Message::new(message.publish, None)));
    }

    /// The earliest deadline of a request.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let early = self.early.iter().map(|e| e.deadline);
        self.waiting.values().map(|w| w.deadline).chain(early).min()
    }

    /// Fails the requests whose deadline passed at `now` with [`ClientError::Timeout`], and
    /// forgets those whose callers went away.
    pub(crate) fn expire(&mut self, now: Instant) {
        let over: Vec<u64> = self
            .waiting
            .iter()
            .filter(|(_, w)| w.answer.is_canceled() || now >= w.deadline)
            .map(|(k, _)| *k)
            .collect();
        for key in over {
            if let Some(w) = self.waiting.remove(&key) {
                let _ = w.answer.send(Err(ClientError::Timeout));
            }
        }
        let mut kept = VecDeque::with_capacity(self.early.len());
        for early in self.early.drain(..) {
            if now >= early.deadline {
                let _ = early.ready.send(Err(ClientError::Timeout));
            } else if !early.answer.is_canceled() {
                kept.push_back(early);
            }
        }
        self.early = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_proto::{Publish, QosPid};

    fn response(topic: &str, correlation: Option<u64>) -> mqtt_session::Message {
        let mut publish = Publish::new(
            TopicName::new(topic).unwrap(),
            Bytes::from_static(b"r"),
            QosPid::AtMostOnce,
        );
        let data = correlation.map(|c| Bytes::copy_from_slice(&c.to_be_bytes()));
        publish.properties.set_correlation_data(data).unwrap();
        mqtt_session::Message {
            publish,
            ack_token: None,
        }
    }

    /// The response topic: below the server's Response Information when it gave one, else
    /// named after the client; set once.
    #[test]
    fn the_response_topic() {
        let mut r = Responses::default();
        r.set_topic("c1", Some("answers/c1/"));
        assert_eq!(r.topic.as_ref().unwrap().as_str(), "answers/c1/rr");
        r.set_topic("c1", None);
        assert_eq!(r.topic.as_ref().unwrap().as_str(), "answers/c1/rr", "kept");
        let mut r = Responses::default();
        r.set_topic("c2", Some("answers"));
        assert_eq!(r.topic.as_ref().unwrap().as_str(), "answers/rr");
        let mut r = Responses::default();
        r.set_topic("c3", None);
        assert_eq!(r.topic.as_ref().unwrap().as_str(), "rr/c3");
    }

    /// Requests wait for the SUBACK of the response subscription, asked for once; then each
    /// gets its own Correlation Data and its own response; one past its deadline fails with
    /// `Timeout`; a response nobody waits for is dropped.
    #[test]
    fn requests_are_matched_and_expire() {
        let now = Instant::now();
        // Request ids as a session hands them out.
        let config = mqtt_session::Config::new(
            mqtt_proto::ProtocolVersion::V5,
            mqtt_proto::MqttString::new("c").unwrap(),
        );
        let mut session = mqtt_session::Session::new(config).unwrap();
        let mut id = || {
            let filter = SubscribeFilter::new(TopicFilter::new("x").unwrap(), QoS::AtMostOnce);
            let properties = mqtt_proto::SubscribeProperties::default();
            session.subscribe(now, vec![filter], properties).unwrap().0
        };
        let (other, ours) = (id(), id());
        let mut r = Responses::default();
        r.set_topic("c", None);
        let (ready1, mut got1) = oneshot::channel();
        let (answer1, mut response1) = oneshot::channel();
        let filter = r.register(now, Duration::from_secs(1), ready1, answer1);
        assert_eq!(filter.unwrap().filter.as_str(), "rr/c");
        r.asked(ours);
        let (ready2, mut got2) = oneshot::channel();
        let (answer2, mut response2) = oneshot::channel();
        assert!(r
            .register(now, Duration::from_secs(5), ready2, answer2)
            .is_none());
        assert!(got1.try_recv().unwrap().is_none(), "waits for the SUBACK");
        assert!(!r.subscribed(other, true, &ClientError::Closed));
        assert!(r.subscribed(ours, true, &ClientError::Closed));
        let (_, c1) = got1.try_recv().unwrap().unwrap().unwrap();
        let (topic, c2) = got2.try_recv().unwrap().unwrap().unwrap();
        assert_eq!(topic.as_str(), "rr/c");
        assert_ne!(c1, c2);
        assert!(r.is_response(&response("rr/c", None)));
        assert!(!r.is_response(&response("rr/d", None)));
        r.answer(response(
            "rr/c",
            Some(u64::from_be_bytes(c2[..].try_into().unwrap())),
        ));
        assert!(response2.try_recv().unwrap().unwrap().is_ok());
        r.answer(response("rr/c", Some(77)));
        assert_eq!(r.next_deadline(), Some(now + Duration::from_secs(1)));
        r.expire(now + Duration::from_secs(1));
        assert_eq!(
            response1.try_recv().unwrap(),
            Some(Err(ClientError::Timeout))
        );
        assert_eq!(r.next_deadline(), None);
    }
}
