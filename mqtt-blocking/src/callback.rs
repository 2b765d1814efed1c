//! Push delivery: a callback per message, on a thread of its own, instead of an iterator.

use crate::executor::block_on;
use futures_channel::oneshot;
use mqtt_client::{ClientError, Message};
use mqtt_proto::QoS;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;

/// Stops a callback subscription when dropped or [`stop`](Self::stop)ped.
#[derive(Debug)]
pub struct CallbackHandle {
    // Dropping it ends the delivery thread's loop.
    _stop: oneshot::Sender<()>,
}

impl CallbackHandle {
    /// Stops calling the callback.
    pub fn stop(self) {}
}

/// Subscribes to `filter` and calls `callback` with every message, on a thread of its own.
/// The callback runs outside the connection thread, so a slow callback only fills its own
/// subscription's buffer (then its QoS 0 messages are dropped and counted, see
/// `Delivery::Lagged`; QoS 1/2 messages wait unacknowledged); `lagged` is called with those
/// counts. [`ClientError::Closed`] if the thread cannot be started.
pub fn subscribe_with<F, L>(
    client: &crate::Client,
    filter: &str,
    qos: QoS,
    callback: F,
    lagged: L,
) -> Result<CallbackHandle, ClientError>
where
    F: FnMut(Message) + Send + 'static,
    L: FnMut(u64) + Send + 'static,
{
    let subscription = block_on(client.as_async().subscribe(filter, qos))?;
    let (stop, mut stopped) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("mqtt-callback".into())
        .spawn(move || {
            let mut delivery = pin!(subscription.dispatch(callback, lagged));
            block_on(std::future::poll_fn(|cx| {
                if delivery.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(());
                }
                // Ends when the handle (the only sender) is dropped.
                std::pin::Pin::new(&mut stopped).poll(cx).map(|_| ())
            }));
        })
        .map_err(|_| ClientError::Closed)?;
    Ok(CallbackHandle { _stop: stop })
}
