//! A loopback server on a thread of its own with a current-thread tokio runtime, so that it
//! serves tests on any executor (tokio, smol, async-std) and never depends on theirs: the
//! relays of this crate are built on it.

use std::future::Future;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::thread::JoinHandle;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::mosquitto::StartError;

/// A server running on its thread until dropped: the drop stops its loop, drops every task
/// of its runtime (closing their sockets) and waits for the thread.
#[derive(Debug)]
pub(crate) struct Background {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Listens on a free loopback port (before this returns) and runs `serve` on it; `what`
    /// names the server in errors and the thread's name.
    pub(crate) fn start<F>(
        what: &str,
        serve: impl FnOnce(TcpListener) -> F + Send + 'static,
    ) -> Result<Background, StartError>
    where
        F: Future<Output = ()>,
    {
        let listener = StdListener::bind("127.0.0.1:0")
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| StartError(format!("the {what} cannot listen: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| StartError(format!("the {what}'s runtime: {e}")))?;
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("{}-{}", what.replace(' ', "-"), addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = stopped => {}
                        () = serve(listener) => {}
                    }
                });
                // Dropping the runtime drops every connection's task: their sockets close.
                drop(runtime);
            })
            .map_err(|e| StartError(format!("the {what}'s thread: {e}")))?;
        Ok(Background {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on (`127.0.0.1`).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The loop ends at its next poll and the runtime's tasks are only dropped, never run
        // further: the join is short.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
