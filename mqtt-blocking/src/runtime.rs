//! std threads as the connection loop's runtime: the loop runs on a thread of its own under
//! [`block_on`](crate::block_on); connecting and store writes run on short-lived threads.

use crate::executor::Timer;
use crate::transport::{self, Connected, Reader, Writer};
use bytes::BytesMut;
use futures_channel::oneshot;
use mqtt_client::event_loop::{ConnectFuture, Runtime};
use mqtt_client::{Options, SaveJob, Saved, Server};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// The blocking runtime.
#[derive(Debug, Default)]
pub struct Threads;

/// A store write on a thread of its own.
pub struct Saving(oneshot::Receiver<Option<Saved>>);

impl Future for Saving {
    type Output = Option<Saved>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Saved>> {
        // A write whose thread was lost is a failed write.
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|saved| saved.ok().flatten())
    }
}

/// Runs `work` on a new thread; its result arrives through the returned channel (closed
/// without one when the thread could not be started).
fn on_a_thread<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> oneshot::Receiver<T> {
    let (tx, rx) = oneshot::channel();
    // When the thread cannot start, `tx` is dropped with the closure: the receiver sees it.
    let _ = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || tx.send(work()));
    rx
}

impl Runtime for Threads {
    type Transport = Connected;
    type Reader = Reader;
    type Writer = Writer;
    type Timer = Timer;
    type Saving = Saving;

    // The reading thread reads on while the subscribers run.
    const YIELD_AFTER_EVERY_READ: bool = false;

    fn connect<'a>(
        &'a mut self,
        server: &'a Server,
        options: &'a Options,
    ) -> ConnectFuture<'a, Connected> {
        let (server, options) = (server.clone(), options.clone());
        let connected = on_a_thread("mqtt-connect", move || {
            transport::connect(&server, &options)
        });
        Box::pin(async move {
            connected
                .await
                .map_err(|_| io::Error::other("the connecting thread was lost"))?
        })
    }

    fn split(transport: Connected) -> (Reader, Writer) {
        match transport::split(transport) {
            Ok(halves) => halves,
            // No thread for the transport: halves that report the failure at once.
            Err(e) => transport::failed(e),
        }
    }

    fn poll_read(
        reader: &mut Reader,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        room: usize,
    ) -> Poll<io::Result<usize>> {
        reader.poll_read(cx, buf, room)
    }

    fn poll_write(
        writer: &mut Writer,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        writer.poll_write(cx, data)
    }

    fn poll_flush(writer: &mut Writer, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        writer.poll_flush(cx)
    }

    fn poll_shutdown(writer: &mut Writer, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        writer.poll_shutdown(cx)
    }

    fn timer() -> Timer {
        Timer::never()
    }

    fn set_timer(timer: &mut Timer, at: Instant) {
        timer.set_at(at);
    }

    fn poll_timer(timer: &mut Timer, _: &mut Context<'_>) -> Poll<()> {
        timer.poll_fired()
    }

    fn save(job: SaveJob) -> Saving {
        Saving(on_a_thread("mqtt-store", move || job.run()))
    }
}
