//! The connection task on async-io: the loop of [`mqtt_client::event_loop`] over futures-io,
//! async-io timers and `blocking`'s thread pool, for smol and async-std programs alike.

use async_io::Timer;
use bytes::BytesMut;
use futures_lite::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};
use mqtt_client::event_loop::{self, ConnectFuture, Runtime};
use mqtt_client::{Client, Options, SaveJob, Saved, Server, StartError};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::transport::{Connector, TcpConnector, Transport};

/// Events a connection keeps for readers who come late; older ones are dropped.
const EVENT_BUFFER: usize = 16;

/// A connection task not yet running: run it yourself with `run()`, or use [`spawn`]; open
/// its transports with a [`Connector`] of your own with `with_connector`.
pub type Connection = event_loop::Connection<AsyncIo>;

/// A client and its connection task, not yet running.
pub fn new(options: Options) -> Result<(Client, Connection), StartError> {
    let runtime = AsyncIo {
        connector: Box::new(TcpConnector),
    };
    event_loop::Connection::new(options, EVENT_BUFFER, runtime)
}

/// Why [`spawn`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The session configuration is invalid, or its store could not be loaded.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The connection thread could not be started.
    #[error("starting the connection thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// A client whose connection task runs on a thread of its own (an async-io executor), so it
/// works from smol and async-std programs alike.
pub fn spawn(options: Options) -> Result<Client, SpawnError> {
    let (client, connection) = new(options)?;
    std::thread::Builder::new()
        .name("mqtt-connection".into())
        .spawn(move || async_io::block_on(connection.run()))?;
    Ok(client)
}

/// async-io, as the connection loop's runtime.
pub struct AsyncIo {
    connector: Box<dyn Connector>,
}

impl std::fmt::Debug for AsyncIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncIo").finish_non_exhaustive()
    }
}

impl<C: Connector> event_loop::UseConnector<C> for AsyncIo {
    fn use_connector(&mut self, connector: C) {
        self.connector = Box::new(connector);
    }
}

/// A transport's reading half, with the buffer it reads into: futures-io reads into
/// initialized bytes, so what a read brings is copied into the loop's read buffer.
pub struct Reader {
    half: ReadHalf<Box<dyn Transport>>,
    // Grown on the first read, then as reads grow.
    scratch: Vec<u8>,
}

impl Runtime for AsyncIo {
    type Transport = Box<dyn Transport>;
    type Reader = Reader;
    type Writer = WriteHalf<Box<dyn Transport>>;
    type Timer = Timer;
    type Saving = blocking::Task<Option<Saved>>;

    // async-io reads the socket again before waiting for it, so a short read is no sign
    // that the subscribers will get their turn; and the yield costs no system call.
    const YIELD_AFTER_EVERY_READ: bool = true;

    fn connect<'a>(
        &'a mut self,
        server: &'a Server,
        options: &'a Options,
    ) -> ConnectFuture<'a, Box<dyn Transport>> {
        self.connector.connect(server, options)
    }

    fn split(transport: Box<dyn Transport>) -> (Reader, Self::Writer) {
        let (half, writer) = futures_lite::io::split(transport);
        let reader = Reader {
            half,
            scratch: Vec::new(),
        };
        (reader, writer)
    }

    fn poll_read(
        reader: &mut Reader,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        room: usize,
    ) -> Poll<std::io::Result<usize>> {
        if reader.scratch.len() < room {
            reader.scratch.resize(room, 0);
        }
        let read = Pin::new(&mut reader.half).poll_read(cx, &mut reader.scratch[..room]);
        if let Poll::Ready(Ok(n)) = read {
            buf.extend_from_slice(&reader.scratch[..n]);
        }
        read
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
        Pin::new(writer).poll_close(cx)
    }

    fn timer() -> Timer {
        Timer::never()
    }

    fn set_timer(timer: &mut Timer, at: Instant) {
        timer.set_at(at);
    }

    fn poll_timer(timer: &mut Timer, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(timer).poll(cx).map(|_| ())
    }

    fn save(job: SaveJob) -> Self::Saving {
        blocking::unblock(move || job.run())
    }
}

#[cfg(test)]
mod tests {
    /// The connection task writes its store on a thread of `blocking`'s pool: while a write
    /// waits for the disk, the other tasks of a one-thread executor go on (here, the one that
    /// lets the write finish). Written inline, the write would hold the executor's only thread
    /// and give up waiting.
    #[test]
    fn the_store_is_written_off_the_executor_thread() {
        // Nothing listens there: the connection is refused, the session saved all the same.
        let port = mqtt_test_support::free_port();
        let (store, gate) = mqtt_scenarios::gated_store();
        let options = mqtt_client::Options::new(&format!("mqtt://127.0.0.1:{port}"), "gate")
            .unwrap()
            .store(store);
        let (client, connection) = super::new(options).unwrap();
        let ex = smol::LocalExecutor::new();
        let first = futures_lite::future::block_on(ex.run(async {
            ex.spawn(connection.run()).detach();
            gate.open().await
        }));
        drop(client);
        assert_eq!(first, Some(true), "the write got its go-ahead");
    }
}
