//! Push delivery: a callback per message instead of a stream.

use mqtt_client::{Client, ClientError, Message};
use mqtt_proto::QoS;

/// Stops a callback subscription (and unsubscribes) when dropped or [`stop`](Self::stop)ped.
#[derive(Debug)]
pub struct CallbackHandle {
    // Dropping it closes the channel, which ends the delivery thread's loop.
    _stop: async_channel::Sender<()>,
}

impl CallbackHandle {
    /// Stops calling the callback and unsubscribes.
    pub fn stop(self) {}
}

/// Subscribes to `filter` and calls `callback` with every message, on a thread of its own (an
/// async-io executor), so it works from smol and async-std programs alike. The callback runs
/// outside the connection task, so a slow callback only fills its own subscription's buffer
/// (then its QoS 0 messages are dropped and counted, see `Delivery::Lagged`); `lagged` is
/// called with those counts. [`ClientError::Closed`] if the thread cannot be started.
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
    let (stop, stopped) = async_channel::bounded::<()>(1);
    std::thread::Builder::new()
        .name("mqtt-callback".into())
        .spawn(move || {
            async_io::block_on(futures_lite::future::or(
                subscription.dispatch(callback, lagged),
                async {
                    // Ends when the handle (the only sender) is dropped.
                    let _ = stopped.recv().await;
                },
            ))
        })
        .map_err(|_| ClientError::Closed)?;
    Ok(CallbackHandle { _stop: stop })
}
