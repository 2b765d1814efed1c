//! The connection task on tokio: the loop of [`mqtt_client::event_loop`] over tokio's I/O,
//! timers and blocking pool.

use bytes::BytesMut;
use mqtt_client::event_loop::{self, ConnectFuture, Runtime};
use mqtt_client::{Client, Options, SaveJob, Saved, Server, StartError};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWrite, ReadHalf, WriteHalf};

use crate::transport::{Connector, TcpConnector, Transport};

/// Events a connection keeps for readers who come late; older ones are dropped.
const EVENT_BUFFER: usize = 16;

/// A connection task not yet running: run it yourself with `run()`, or use [`spawn`]; open
/// its transports with a [`Connector`] of your own with `with_connector`.
pub type Connection = event_loop::Connection<Tokio>;

/// A client and its connection task, not yet running.
pub fn new(options: Options) -> Result<(Client, Connection), StartError> {
    let tokio = Tokio {
        connector: Box::new(TcpConnector),
    };
    event_loop::Connection::new(options, EVENT_BUFFER, tokio)
}

/// A client whose connection task runs on the current tokio runtime. It connects at once and
/// reconnects with backoff until `disconnect`.
pub fn spawn(options: Options) -> Result<Client, StartError> {
    let (client, connection) = new(options)?;
    tokio::spawn(connection.run());
    Ok(client)
}

/// Tokio, as the connection loop's runtime.
pub struct Tokio {
    connector: Box<dyn Connector>,
}

impl std::fmt::Debug for Tokio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokio").finish_non_exhaustive()
    }
}

impl<C: Connector> event_loop::UseConnector<C> for Tokio {
    fn use_connector(&mut self, connector: C) {
        self.connector = Box::new(connector);
    }
}

/// A store write on tokio's blocking pool.
pub struct Saving(tokio::task::JoinHandle<Option<Saved>>);

impl std::future::Future for Saving {
    type Output = Option<Saved>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Saved>> {
        // A write whose thread was lost is a failed write.
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|saved| saved.ok().flatten())
    }
}

impl Runtime for Tokio {
    type Transport = Box<dyn Transport>;
    type Reader = ReadHalf<Box<dyn Transport>>;
    type Writer = WriteHalf<Box<dyn Transport>>;
    // Boxed: tokio's timer must not move once polled.
    type Timer = Pin<Box<tokio::time::Sleep>>;
    type Saving = Saving;

    // After a shorter read, tokio waits for the socket to be readable again, and the
    // subscribers run meanwhile.
    const YIELD_AFTER_EVERY_READ: bool = false;

    fn connect<'a>(
        &'a mut self,
        server: &'a Server,
        options: &'a Options,
    ) -> ConnectFuture<'a, Box<dyn Transport>> {
        self.connector.connect(server, options)
    }

    fn split(transport: Box<dyn Transport>) -> (Self::Reader, Self::Writer) {
        tokio::io::split(transport)
    }

    fn poll_read(
        reader: &mut Self::Reader,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        _room: usize,
    ) -> Poll<std::io::Result<usize>> {
        // Into the spare capacity of `buf`, which is the room. A read that is not ready
        // leaves `buf` as it was.
        std::pin::pin!(reader.read_buf(buf)).poll(cx)
    }

    fn poll_write(
        writer: &mut Self::Writer,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(writer).poll_write(cx, data)
    }

    fn poll_flush(writer: &mut Self::Writer, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(writer).poll_flush(cx)
    }

    fn poll_shutdown(writer: &mut Self::Writer, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(writer).poll_shutdown(cx)
    }

    fn timer() -> Self::Timer {
        Box::pin(tokio::time::sleep_until(tokio::time::Instant::now()))
    }

    fn set_timer(timer: &mut Self::Timer, at: Instant) {
        timer.as_mut().reset(at.into());
    }

    fn poll_timer(timer: &mut Self::Timer, cx: &mut Context<'_>) -> Poll<()> {
        timer.as_mut().poll(cx)
    }

    fn save(job: SaveJob) -> Saving {
        Saving(tokio::task::spawn_blocking(move || job.run()))
    }
}

#[cfg(test)]
mod tests {
    use mqtt_client::event_loop::yield_now as requeue;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// On the current-thread runtime the connection task yields on: a task woken before the
    /// yield (a subscriber the last read delivered to) runs before the yielding task goes on.
    #[test]
    fn requeue_lets_the_tasks_woken_before_run_first() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let ran = rt.block_on(async {
            let notify = Arc::new(tokio::sync::Notify::new());
            let flag = Arc::new(AtomicBool::new(false));
            let waiter = tokio::spawn({
                let (notify, flag) = (notify.clone(), flag.clone());
                async move {
                    notify.notified().await;
                    flag.store(true, Ordering::SeqCst);
                }
            });
            let yielder = tokio::spawn(async move {
                // Let the waiter register first.
                requeue().await;
                notify.notify_one();
                let before = flag.load(Ordering::SeqCst);
                requeue().await;
                (before, flag.load(Ordering::SeqCst))
            });
            let out = yielder.await.unwrap();
            waiter.await.unwrap();
            out
        });
        assert_eq!(ran, (false, true));
    }

    /// The connection task writes its store on tokio's blocking pool: while a write waits for
    /// the disk, the other tasks of a current-thread runtime go on (here, the one that lets
    /// the write finish). Written inline, the write would hold the runtime's only thread and
    /// give up waiting.
    #[test]
    fn the_store_is_written_off_the_runtime_thread() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (store, gate) = mqtt_scenarios::gated_store();
        let first = rt.block_on(async {
            // Nothing listens there: the connection is refused, the session saved all the same.
            let port = mqtt_test_support::free_port();
            let options = mqtt_client::Options::new(&format!("mqtt://127.0.0.1:{port}"), "gate")
                .unwrap()
                .store(store);
            let client = super::spawn(options).unwrap();
            let first = gate.open().await;
            drop(client);
            first
        });
        assert_eq!(first, Some(true), "the write got its go-ahead");
    }
}
