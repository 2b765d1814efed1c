//! Push delivery: a callback per message instead of a stream.

use mqtt_client::{Client, ClientError, Message};
use mqtt_proto::QoS;

/// Stops a callback subscription (and unsubscribes) when dropped or [`stop`](Self::stop)ped.
#[derive(Debug)]
pub struct CallbackHandle {
    task: tokio::task::JoinHandle<()>,
}

impl CallbackHandle {
    /// Stops calling the callback and unsubscribes.
    pub fn stop(self) {}
}

impl Drop for CallbackHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Subscribes to `filter` and calls `callback` with every message, on a task of the current
/// runtime. The callback runs outside the connection task, so a slow callback only fills its
/// own subscription's buffer (then its QoS 0 messages are dropped and counted, see
/// `Delivery::Lagged`; QoS 1/2 messages wait unacknowledged); `lagged` is called with those
/// counts.
pub async fn subscribe_with<F, L>(
    client: &Client,
    filter: &str,
    qos: QoS,
    callback: F,
    lagged: L,
) -> Result<CallbackHandle, ClientError>
where
    F: FnMut(Message) + Send + 'static,
    L: FnMut(u64) + Send + 'static,
{
    let subscription = client.subscribe(filter, qos).await?;
    let task = tokio::spawn(subscription.dispatch(callback, lagged));
    Ok(CallbackHandle { task })
}
