//! A guest's call of an async host function while it waits: [`PendingHostCall`], which a
//! backend polls with the host access it holds until the function's results are ready.
//!
//! Core decides here, once for every engine, what waiting means: the function's future
//! reaches the plug-in only during these polls (`access_scope`); the wait ends at the
//! call's deadline or cancel, whichever comes first, even if the future never completes;
//! a future that panics fails the call with the panic's message; and the results are
//! checked against the signature as a sync function's are.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use super::access_scope::{self, Token};
use super::host_access::{HostAccess, HostTrap};
use super::host_function::{Function, HostFuture, panicked};
use super::values::Val;

/// A guest's call of an async host function, waiting for the function's future. Made by
/// [`Function::start_async`]; dropping it drops the future.
pub struct PendingHostCall {
    function: Function,
    token: Token,
    future: HostFuture,
    /// Wakes the call at its deadline; made at the first wait.
    timer: Option<futures_timer::Delay>,
}

impl std::fmt::Debug for PendingHostCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PendingHostCall({})", self.function.name)
    }
}

impl PendingHostCall {
    pub(crate) fn new(function: Function, token: Token, future: HostFuture) -> Self {
        PendingHostCall {
            function,
            token,
            future,
            timer: None,
        }
    }

    /// Polls the function's future with the plug-in's `host` access lent to it. Ready with
    /// the results for the guest, or with a [`HostTrap`] (the error is kept in the plug-in
    /// state): the function failed or panicked, its results do not match its signature, or
    /// the call's deadline passed or it was cancelled while it waited. When pending, the
    /// waker is woken by the future, at the deadline and by a cancel.
    pub fn poll(
        &mut self,
        host: &mut dyn HostAccess,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Vec<Val>, HostTrap>> {
        if let Some(stop) = host.state().interruption() {
            return Poll::Ready(Err(host.state().fail(stop)));
        }
        let future = &mut self.future;
        let polled = access_scope::enter(self.token, host, || {
            catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)))
        });
        let outcome = match polled {
            Ok(Poll::Pending) => return self.wait(host, cx),
            Ok(Poll::Ready(outcome)) => outcome,
            Err(panic) => Err(panicked(&*panic)),
        };
        let (outcome, results) = match outcome {
            Ok(results) => (Ok(()), results),
            Err(e) => (Err(e), Vec::new()),
        };
        Poll::Ready(
            self.function
                .finish(host, outcome, &results)
                .map(|()| results),
        )
    }

    /// The future is not ready: be woken by a cancel and at the deadline too, unless one of
    /// them came while it was polled.
    fn wait(
        &mut self,
        host: &mut dyn HostAccess,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Vec<Val>, HostTrap>> {
        let state = host.state();
        state.cancel.wake_on_cancel(cx.waker());
        if let Some(deadline) = state.deadline {
            let timer = self.timer.get_or_insert_with(|| {
                futures_timer::Delay::new(deadline.saturating_duration_since(Instant::now()))
            });
            // Ready means the deadline has passed; the check below sees it.
            let _ = Pin::new(timer).poll(cx);
        }
        match state.interruption() {
            Some(stop) => Poll::Ready(Err(state.fail(stop))),
            None => Poll::Pending,
        }
    }
}
