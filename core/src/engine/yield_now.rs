//! How an async call gives its thread back to the executor: [`yield_now`], which backends
//! await when a guest has computed for its interval.
//!
//! A future that wakes itself and returns pending is a yield every executor understands,
//! but tokio runs such a task again before it polls its timers and I/O (it checks them
//! every 61 polls), so a guest yielding every millisecond would delay a timer elsewhere on
//! the thread by tens of milliseconds. Inside a tokio runtime (the `tokio` feature) the
//! yield is tokio's own `yield_now`, after which tokio polls its drivers first.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A yield to the executor: pending once, then ready. Inside a tokio runtime (with the
/// `tokio` feature) it is `tokio::task::yield_now`; elsewhere the future wakes itself.
pub fn yield_now() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    #[cfg(feature = "tokio")]
    if tokio::runtime::Handle::try_current().is_ok() {
        return Box::pin(tokio::task::yield_now());
    }
    Box::pin(WakeSelf(false))
}

/// Pending at its first poll (waking its task at once), ready at the next.
struct WakeSelf(bool);

impl Future for WakeSelf {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
