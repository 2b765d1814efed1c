//! Running futures on the calling thread: the client's async core needs nothing more than a
//! waker that unparks the thread and a clock to park until (the [`Timer`]'s deadline).

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

thread_local! {
    /// The earliest deadline a timer polled on this thread waits for, during one poll.
    static WAKE_AT: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Unparks the thread that runs the future.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on this thread.
pub fn block_on<F: Future>(future: F) -> F::Output {
    run(future, None).unwrap_or_else(|| unreachable!("no deadline was given"))
}

/// Runs `future` on this thread until it completes or `limit` has passed: `None` then (the
/// future is dropped).
pub fn block_on_within<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    run(future, Instant::now().checked_add(limit))
}

fn run<F: Future>(future: F, until: Option<Instant>) -> Option<F::Output> {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        let outer = WAKE_AT.replace(None);
        let polled = future.as_mut().poll(&mut cx);
        let wake_at = WAKE_AT.replace(outer);
        if let Poll::Ready(out) = polled {
            return Some(out);
        }
        let park_until = match (wake_at, until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match park_until {
            Some(at) => {
                let now = Instant::now();
                if until.is_some_and(|limit| now >= limit) {
                    return None;
                }
                if at > now {
                    std::thread::park_timeout(at - now);
                }
            }
            None => std::thread::park(),
        }
    }
}

/// A timer for futures run by [`block_on`]: polled before its deadline, it has the thread
/// park no longer than until then.
#[derive(Debug, Default)]
pub struct Timer {
    at: Option<Instant>,
}

impl Timer {
    /// A timer not set: it never fires.
    pub fn never() -> Self {
        Timer { at: None }
    }

    /// Fires at `at`.
    pub fn set_at(&mut self, at: Instant) {
        self.at = Some(at);
    }

    /// Ready once the deadline has passed.
    pub fn poll_fired(&mut self) -> Poll<()> {
        let Some(at) = self.at else {
            return Poll::Pending;
        };
        if Instant::now() >= at {
            return Poll::Ready(());
        }
        WAKE_AT.with(|wake| {
            wake.set(Some(wake.get().map_or(at, |earlier| earlier.min(at))));
        });
        Poll::Pending
    }
}

/// Waits `duration` (on the thread that runs the future).
#[cfg(test)]
async fn sleep(duration: Duration) {
    let mut timer = Timer::never();
    timer.set_at(Instant::now() + duration);
    std::future::poll_fn(|_| timer.poll_fired()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_wakes_the_parked_thread() {
        // Nothing but the timer's deadline wakes this thread.
        let slept = block_on_within(Duration::from_secs(10), sleep(Duration::from_millis(20)));
        assert_eq!(slept, Some(()));
    }

    #[test]
    fn a_bounded_wait_gives_up() {
        let never = std::future::pending::<()>();
        assert_eq!(block_on_within(Duration::from_millis(10), never), None);
        assert_eq!(
            block_on_within(Duration::from_secs(5), async { 7 }),
            Some(7)
        );
    }

    #[test]
    fn a_waker_from_another_thread_ends_the_park() {
        let (tx, rx) = futures_channel::oneshot::channel();
        std::thread::spawn(move || tx.send(5));
        assert_eq!(block_on(rx), Ok(5));
    }
}
