//! [`Statistics`] handed to the `metrics` facade (the `metrics` feature).
//!
//! Nothing is recorded as the connection task works: the application calls
//! [`Statistics::record_metrics`] when it wants the figures exported (from a timer, or from
//! its exporter's scrape), so the hot path pays nothing for the facade.

use metrics::Label;
use mqtt_proto::QoS;

use super::{DisconnectCause, PerQoS, Statistics};

const QOS: [(QoS, &str); 3] = [
    (QoS::AtMostOnce, "0"),
    (QoS::AtLeastOnce, "1"),
    (QoS::ExactlyOnce, "2"),
];

impl Statistics {
    /// Records these figures with the `metrics` facade's recorder: counters set to their
    /// totals ([`metrics::Counter::absolute`]), gauges to their values, each with `labels`
    /// (say, the client id, to tell several clients apart) and the labels below.
    ///
    /// | name | kind | labels |
    /// |---|---|---|
    /// | `mqtt_client_messages_sent_total` | counter | `qos` (`"0"`, `"1"`, `"2"`) |
    /// | `mqtt_client_payload_bytes_sent_total` | counter | `qos` |
    /// | `mqtt_client_messages_received_total` | counter | `qos` |
    /// | `mqtt_client_payload_bytes_received_total` | counter | `qos` |
    /// | `mqtt_client_bytes_sent_total` | counter | |
    /// | `mqtt_client_bytes_received_total` | counter | |
    /// | `mqtt_client_publishes_completed_total` | counter | |
    /// | `mqtt_client_publishes_failed_total` | counter | |
    /// | `mqtt_client_connections_total` | counter | |
    /// | `mqtt_client_reconnects_total` | counter | |
    /// | `mqtt_client_connect_failures_total` | counter | |
    /// | `mqtt_client_redirects_total` | counter | |
    /// | `mqtt_client_disconnects_total` | counter | `reason` ([`DisconnectCause::name`]) |
    /// | `mqtt_client_publishes_in_flight` | gauge | |
    /// | `mqtt_client_publishes_queued` | gauge | |
    /// | `mqtt_client_acks_owed` | gauge | |
    /// | `mqtt_client_inbound_buffered_bytes` | gauge | |
    ///
    /// Typically called from a timer every few seconds:
    /// `client.statistics().record_metrics(&[Label::new("client", "sensor-7")])`.
    pub fn record_metrics(&self, labels: &[Label]) {
        let with = |key: &'static str, value: &'static str| {
            let mut all = labels.to_vec();
            all.push(Label::new(key, value));
            all
        };
        let per_qos = |name: &'static str, figures: &PerQoS| {
            for (qos, value) in QOS {
                metrics::counter!(name, with("qos", value)).absolute(figures.get(qos));
            }
        };
        per_qos("mqtt_client_messages_sent_total", &self.messages_sent);
        per_qos(
            "mqtt_client_payload_bytes_sent_total",
            &self.payload_bytes_sent,
        );
        per_qos(
            "mqtt_client_messages_received_total",
            &self.messages_received,
        );
        per_qos(
            "mqtt_client_payload_bytes_received_total",
            &self.payload_bytes_received,
        );
        let counters = [
            ("mqtt_client_bytes_sent_total", self.bytes_sent),
            ("mqtt_client_bytes_received_total", self.bytes_received),
            (
                "mqtt_client_publishes_completed_total",
                self.publishes_completed,
            ),
            ("mqtt_client_publishes_failed_total", self.publishes_failed),
            ("mqtt_client_connections_total", self.connections),
            ("mqtt_client_reconnects_total", self.reconnects),
            ("mqtt_client_connect_failures_total", self.connect_failures),
            ("mqtt_client_redirects_total", self.redirects),
        ];
        for (name, value) in counters {
            metrics::counter!(name, labels.to_vec()).absolute(value);
        }
        for cause in DisconnectCause::ALL {
            metrics::counter!(
                "mqtt_client_disconnects_total",
                with("reason", cause.name())
            )
            .absolute(self.disconnects.get(cause));
        }
        let gauges = [
            ("mqtt_client_publishes_in_flight", self.publishes_in_flight),
            ("mqtt_client_publishes_queued", self.publishes_queued),
            ("mqtt_client_acks_owed", self.acks_owed),
            (
                "mqtt_client_inbound_buffered_bytes",
                self.inbound_buffered_bytes,
            ),
        ];
        for (name, value) in gauges {
            // Gauges are floats in the facade; these counts are far below 2^53.
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!(name, labels.to_vec()).set(value as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Counters;
    use metrics::Label;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use metrics_util::MetricKind;
    use mqtt_proto::{QoS, ReasonCode};
    use mqtt_session::DisconnectReason;
    use std::collections::BTreeMap;

    /// What a recorder holds: (kind, name, labels sorted as `k=v`) to value.
    type Recorded = BTreeMap<(MetricKind, String, Vec<String>), DebugValue>;

    fn record(stats: &super::Statistics, labels: &[Label]) -> Recorded {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || stats.record_metrics(labels));
        snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let (kind, key) = key.into_parts();
                let mut labels: Vec<String> = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                labels.sort();
                ((kind, key.name().to_owned(), labels), value)
            })
            .collect()
    }

    fn counter(recorded: &Recorded, name: &str, labels: &[&str]) -> Option<u64> {
        let labels = labels.iter().map(|l| (*l).to_owned()).collect();
        match recorded.get(&(MetricKind::Counter, name.to_owned(), labels))? {
            DebugValue::Counter(v) => Some(*v),
            _ => None,
        }
    }

    fn gauge(recorded: &Recorded, name: &str, labels: &[&str]) -> Option<f64> {
        let labels = labels.iter().map(|l| (*l).to_owned()).collect();
        match recorded.get(&(MetricKind::Gauge, name.to_owned(), labels))? {
            DebugValue::Gauge(v) => Some(v.into_inner()),
            _ => None,
        }
    }

    /// Every figure is exported under its name with its value and labels, the caller's
    /// labels on each (none when the caller gives none).
    #[test]
    fn the_export_names_every_figure_with_its_value() {
        let c = Counters::default();
        c.message_sent(QoS::AtLeastOnce, 200);
        c.message_sent(QoS::AtLeastOnce, 100);
        c.message_sent(QoS::ExactlyOnce, 7);
        c.message_received(QoS::AtMostOnce, 5);
        c.wrote(1234);
        c.read(567);
        c.publish_completed();
        c.connected();
        c.disconnected(&DisconnectReason::KeepAliveTimeout);
        c.connected();
        c.connect_failed();
        c.set_gauges(2, 3, 4, 5);
        let stats = c.snapshot();
        let client = [Label::new("client", "sensor-7")];
        let r = record(&stats, &client);
        let with = |extra: &'static str| ["client=sensor-7", extra];
        let messages_sent = "mqtt_client_messages_sent_total";
        assert_eq!(counter(&r, messages_sent, &with("qos=0")), Some(0));
        assert_eq!(counter(&r, messages_sent, &with("qos=1")), Some(2));
        assert_eq!(counter(&r, messages_sent, &with("qos=2")), Some(1));
        let payload_sent = "mqtt_client_payload_bytes_sent_total";
        assert_eq!(counter(&r, payload_sent, &with("qos=1")), Some(300));
        let received = "mqtt_client_messages_received_total";
        assert_eq!(counter(&r, received, &with("qos=0")), Some(1));
        let payload_received = "mqtt_client_payload_bytes_received_total";
        assert_eq!(counter(&r, payload_received, &with("qos=0")), Some(5));
        let alone = ["client=sensor-7"];
        let counters = [
            ("mqtt_client_bytes_sent_total", 1234),
            ("mqtt_client_bytes_received_total", 567),
            ("mqtt_client_publishes_completed_total", 1),
            ("mqtt_client_publishes_failed_total", 0),
            ("mqtt_client_connections_total", 2),
            ("mqtt_client_reconnects_total", 1),
            ("mqtt_client_connect_failures_total", 1),
            ("mqtt_client_redirects_total", 0),
        ];
        for (name, value) in counters {
            assert_eq!(counter(&r, name, &alone), Some(value), "{name}");
        }
        let disconnects = "mqtt_client_disconnects_total";
        let timeout = with("reason=keep_alive_timeout");
        assert_eq!(counter(&r, disconnects, &timeout), Some(1));
        assert_eq!(
            counter(&r, disconnects, &with("reason=transport_closed")),
            Some(0)
        );
        let gauges = [
            ("mqtt_client_publishes_in_flight", 2.0),
            ("mqtt_client_publishes_queued", 3.0),
            ("mqtt_client_acks_owed", 4.0),
            ("mqtt_client_inbound_buffered_bytes", 5.0),
        ];
        for (name, value) in gauges {
            assert_eq!(gauge(&r, name, &alone), Some(value), "{name}");
        }
        // 4 figures per QoS (12), 8 counters, 8 disconnect causes, 4 gauges.
        assert_eq!(r.len(), 12 + 8 + 8 + 4);

        c.disconnected(&DisconnectReason::Server(
            ReasonCode::ServerShuttingDown,
            Box::default(),
        ));
        let r = record(&c.snapshot(), &[]);
        assert_eq!(
            counter(&r, disconnects, &["reason=server_disconnect"]),
            Some(1)
        );
        assert_eq!(counter(&r, messages_sent, &["qos=1"]), Some(2));
    }
}
