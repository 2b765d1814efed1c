//! A client that keeps its session in a store: after its process dies, the next process
//! finishes what the first one started; a store that fails closes the connection before
//! anything that depends on it goes out.

use mqtt_client::{ConnectionEvent, FileStore, Store};
use mqtt_proto::{Packet, ProtocolVersion, QoS, Role, TopicName};
use mqtt_session::{Journal, OutboundMessage, Snapshot, Stage};
use mqtt_test_support::{Mosquitto, TempDir};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::net::{packets, RecordingProxy};
use crate::{
    connected, crashable, disconnect, durable, next_event, next_message, options, publish, spawn,
    subscribe, text, until, url, wait_connected, within, Runtime,
};

/// Reads the store until its snapshot satisfies `done` (bounded by [`crate::WAIT`]).
async fn stored(store: &dyn Store, what: &str, done: impl Fn(&Snapshot) -> bool) -> Snapshot {
    until(what, || {
        let bytes = store
            .load()
            .unwrap_or_else(|e| panic!("reading the store: {e}"))?;
        let snapshot = Journal::read(bytes.into())
            .unwrap_or_else(|e| panic!("the store holds no session: {e}"));
        done(&snapshot).then_some(snapshot)
    })
    .await
}

/// A client whose process dies with three publishes sent and none acknowledged (the broker is
/// paused meanwhile): the next process, started from the same file, sends them again, so the
/// QoS 1 messages arrive (at least once) and the QoS 2 one exactly once. Without the store
/// the QoS 2 message would never be released: the broker holds it until a PUBREL that only
/// the stored session knows to send.
pub async fn a_crashed_client_finishes_from_its_store<R: Runtime>(
    rt: &R,
    version: ProtocolVersion,
) {
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let url = url(broker.port());
    let id = format!("store-crash-{}-{version}", R::NAME);
    let dir = TempDir::new(&id).unwrap_or_else(|e| panic!("{e}"));
    let store = FileStore::new(dir.path().join("session"));
    let watcher = connected(rt, options(&url, &format!("{id}-w"), version)).await;
    let mut sub = subscribe(&watcher, "crash/#", QoS::ExactlyOnce).await;

    let (client, crash) = crashable(
        rt,
        durable(options(&url, &id, version)).store(store.clone()),
    );
    assert!(
        !wait_connected(&client).await,
        "a new client id has no session"
    );
    // The broker stops answering: the publishes leave, and nothing acknowledges them.
    broker.pause();
    for (payload, qos) in [
        ("a", QoS::AtLeastOnce),
        ("b", QoS::ExactlyOnce),
        ("c", QoS::AtLeastOnce),
    ] {
        let topic = TopicName::new(format!("crash/{payload}")).unwrap();
        within(
            "a queued publish",
            client.publish_message(OutboundMessage::new(topic, payload, qos)),
        )
        .await
        .unwrap_or_else(|e| panic!("publishing: {e}"));
    }
    stored(&store, "the three publishes sent and stored", |s| {
        s.outgoing.len() == 3 && s.outgoing.iter().all(|p| p.stage == Stage::Sent)
    })
    .await;
    // The process dies: no DISCONNECT, and nothing more reaches the store.
    crash.kill().await;
    drop(client);
    broker.resume();

    // The next process: same options, same file.
    let back = spawn(
        rt,
        durable(options(&url, &id, version)).store(store.clone()),
    );
    assert!(wait_connected(&back).await, "the broker kept the session");
    publish(&back, "crash/end", "end", QoS::ExactlyOnce).await;
    let mut got = Vec::new();
    loop {
        let message = text(&next_message(&mut sub, "the crashed client's messages").await);
        if message == "end" {
            break;
        }
        got.push(message);
    }
    let count = |p: &str| got.iter().filter(|m| *m == p).count();
    assert_eq!(count("b"), 1, "QoS 2 exactly once: {got:?} ({version})");
    assert!(
        count("a") >= 1 && count("c") >= 1,
        "QoS 1: {got:?} ({version})"
    );
    assert_eq!(got.len(), count("a") + count("b") + count("c"), "{got:?}");
    // Everything completed, and the store says so.
    stored(&store, "the store with nothing pending", |s| {
        s.outgoing.is_empty()
    })
    .await;
    disconnect(&back).await;
    disconnect(&watcher).await;
}

/// A store that keeps its bytes in memory and fails every save while switched to failing.
#[derive(Debug, Clone, Default)]
struct SwitchStore {
    bytes: Arc<Mutex<Option<Vec<u8>>>>,
    failing: Arc<AtomicBool>,
}

impl SwitchStore {
    fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

impl Store for SwitchStore {
    fn load(&self) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self.bytes.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    fn save(&self, bytes: &[u8]) -> std::io::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("the disk is full"));
        }
        *self.bytes.lock().unwrap_or_else(|e| e.into_inner()) = Some(bytes.to_vec());
        Ok(())
    }
}

/// [MQTT-4.8.0-2]: a QoS 2 message arrives while the store fails. Its PUBREC, which must not
/// leave before the session that sent it is stored, does not: the connection that brought
/// the message is closed instead (seen on the wire through a recording proxy), and the client
/// reports the failure. Once the store works again the next connection resumes the session:
/// the broker sends the message again and gets its PUBREC, and the application does not see it
/// a second time.
pub async fn a_failing_store_closes_the_connection<R: Runtime>(rt: &R, version: ProtocolVersion) {
    let broker = Mosquitto::plain().unwrap_or_else(|e| panic!("{e}"));
    let proxy = RecordingProxy::start(([127, 0, 0, 1], broker.port()).into())
        .unwrap_or_else(|e| panic!("starting the proxy: {e}"));
    let id = format!("store-fail-{}-{version}", R::NAME);
    let store = SwitchStore::default();
    let client = connected(
        rt,
        durable(options(&url(proxy.port()), &id, version)).store(store.clone()),
    )
    .await;
    let mut sub = subscribe(&client, "fail/#", QoS::ExactlyOnce).await;
    let publisher = connected(
        rt,
        options(&url(broker.port()), &format!("{id}-p"), version),
    )
    .await;

    // The granted subscription is saved before the store starts failing: a save still under
    // way then would fail and close every connection before its CONNECT went out.
    stored(&store, "the subscription stored", |s| {
        s.subscriptions.len() == 1
    })
    .await;
    store.fail(true);
    publish(&publisher, "fail/1", "one", QoS::ExactlyOnce).await;
    assert_eq!(text(&next_message(&mut sub, "the message").await), "one");
    let error = next_event(&client, "the store failure", |e| match e {
        ConnectionEvent::StoreFailed(error) => Some(error.clone()),
        _ => None,
    })
    .await;
    assert_eq!(error, "the disk is full");

    store.fail(false);
    publish(&publisher, "fail/2", "two", QoS::ExactlyOnce).await;
    assert_eq!(
        text(&next_message(&mut sub, "the next message").await),
        "two",
        "the first message is not delivered again ({version})"
    );
    disconnect(&client).await;
    disconnect(&publisher).await;

    // On the wire: no PUBREC on the connection that brought the message; the first one
    // follows the CONNECT of a later connection. The proxy records on its own threads: wait
    // until it has the DISCONNECT, the last packet the client sent.
    let sent = until("the proxy recording the DISCONNECT", || {
        let sent = packets(&proxy.client_bytes(), version, Role::Client);
        matches!(sent.last(), Some(Packet::Disconnect(_))).then_some(sent)
    })
    .await;
    let connects: Vec<_> = (0..sent.len())
        .filter(|&i| matches!(sent[i], Packet::Connect(_)))
        .collect();
    let first_pubrec = sent
        .iter()
        .position(|p| matches!(p, Packet::PubRec(_)))
        .unwrap_or_else(|| panic!("no PUBREC was sent: {sent:?}"));
    assert!(
        connects.len() >= 2 && connects[1] < first_pubrec,
        "a PUBREC left on the connection whose state could not be stored: {sent:?}"
    );
}

/// A store whose first write waits (at most 5 s) for the go-ahead its [`StoreGate`] gives:
/// for checking that a connection task writes its store off the thread the rest of the program
/// runs on (a task on that thread gives the go-ahead).
#[derive(Debug)]
pub struct GatedStore {
    go: Mutex<std::sync::mpsc::Receiver<()>>,
    /// Told when the first write starts, and when it ends.
    signal: async_channel::Sender<()>,
    /// Whether the first write got its go-ahead (`false`: it gave up waiting).
    first: Arc<std::sync::OnceLock<bool>>,
}

/// The other side of a [`GatedStore`].
#[derive(Debug)]
pub struct StoreGate {
    go: std::sync::mpsc::Sender<()>,
    signals: async_channel::Receiver<()>,
    first: Arc<std::sync::OnceLock<bool>>,
}

/// A [`GatedStore`] and its gate.
pub fn gated_store() -> (GatedStore, StoreGate) {
    let (go, wait) = std::sync::mpsc::channel();
    let (signal, signals) = async_channel::bounded(2);
    let first = Arc::new(std::sync::OnceLock::new());
    let store = GatedStore {
        go: Mutex::new(wait),
        signal,
        first: first.clone(),
    };
    (store, StoreGate { go, signals, first })
}

impl Store for GatedStore {
    fn load(&self) -> std::io::Result<Option<Vec<u8>>> {
        Ok(None)
    }

    fn save(&self, _: &[u8]) -> std::io::Result<()> {
        if self.first.get().is_none() {
            let _ = self.signal.try_send(());
            let go = self
                .go
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .recv_timeout(std::time::Duration::from_secs(5));
            let _ = self.first.set(go.is_ok());
            let _ = self.signal.try_send(());
        }
        Ok(())
    }
}

impl StoreGate {
    /// Waits for the store's first write to start, gives it the go-ahead, waits for it to end
    /// (each wait bounded by [`crate::WAIT`]), and says whether the write got the go-ahead
    /// (`Some(false)`: it gave up waiting, the go-ahead came too late).
    pub async fn open(self) -> Option<bool> {
        within("the store's first write", self.signals.recv())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = self.go.send(());
        within("the end of the store's first write", self.signals.recv())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        self.first.get().copied()
    }
}
