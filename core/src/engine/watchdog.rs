//! [`WatchedInstance`]: stopping a running call from another thread, for the engines that
//! cannot stop running code by themselves but can be told to (wasmer: flags its compiled
//! code checks). Core decides when a call must stop; the backend only says how, with an
//! [`Interrupt`].
//!
//! One watchdog serves the process: a [`Ticker`] whose tick looks at the instances called
//! since it last found them idle. An instance's call starts with [`WatchedInstance::start`],
//! which records its deadline and cancel state; at each tick the watchdog asks
//! [`CallLimits::interruption`] whether a running call must stop, and if so interrupts it.
//! A call costs a few atomic operations on the instance's own state. An instance keeps the
//! ticker running from the call that lists it to the first tick that finds it idle.
//!
//! The phases of an instance make one promise to the backend: [`Interrupt::interrupt`] runs
//! only while a call runs. The call moves the instance from `IDLE` to `RUNNING` and back; the
//! watchdog moves a running call that must stop to `RAISING`, interrupts it, then to
//! `FIRED`, which the call reports when it ends. A call waits out `RAISING` before it
//! returns. The call counter in the state keeps the watchdog from acting on a call that
//! ended, with the limits of the next one.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::engine::{CallLimits, CancelState, Ticker, TickingCall};
use crate::error::XtismError;

/// How a backend stops a running call from the watchdog's thread: for wasmer, raising the
/// flags its compiled code checks at function entries and loop headers.
pub trait Interrupt: Send + Sync {
    /// Makes the running call stop soon, with a trap the backend reports as the reason
    /// [`WatchedCall::finish`] says it was interrupted.
    ///
    /// Called from the watchdog's thread, at most once per call, and only while a call of
    /// the instance runs: once [`WatchedInstance::start`] has marked it running (possibly
    /// before `start` returns) and before its [`WatchedCall`]'s
    /// [`finish`](WatchedCall::finish) or drop returns, which waits for an interruption in
    /// progress. A backend may rely on this for soundness (wasmer's flags live in the running
    /// store) provided it does not leak the [`WatchedCall`] (`mem::forget`): a call it never
    /// ends stays running for the watchdog.
    ///
    /// It should not panic; if it does, the call ends its watch as interrupted.
    fn interrupt(&self);
}

/// Phases of a [`WatchedInstance`], in the low bits of its state; the rest counts calls.
const IDLE: u64 = 0;
const RUNNING: u64 = 1;
const RAISING: u64 = 2;
const FIRED: u64 = 3;
const PHASE: u64 = 3;
const CALL: u64 = 4;

/// The origin of the deadlines kept in watched instances, as nanoseconds.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// A plug-in instance as the watchdog sees it: how to interrupt it, and its running call.
/// Made once per instance, so that a call touches atomics of its own. The backend owns it;
/// [`start`](Self::start) borrows it exclusively, so the compiler sees to it that an
/// instance runs one watched call at a time:
///
/// ```compile_fail
/// # use xtism_core::engine::{CallLimits, Interrupt, WatchedInstance};
/// # struct Nothing;
/// # impl Interrupt for Nothing { fn interrupt(&self) {} }
/// let mut instance = WatchedInstance::new(Nothing);
/// let limits = CallLimits::default();
/// let first = instance.start(&limits).unwrap();
/// let second = instance.start(&limits).unwrap();
/// first.finish();
/// ```
#[derive(Debug)]
pub struct WatchedInstance(Arc<Watched>);

/// What a [`WatchedInstance`] shares with the watchdog.
struct Watched {
    interrupt: Box<dyn Interrupt>,
    state: AtomicU64,
    /// Whether the instance is in the watchdog's list.
    listed: AtomicBool,
    /// The running call's deadline, in nanoseconds since [`EPOCH`]; `u64::MAX` for none.
    deadline: AtomicU64,
    /// The running call's cancel state.
    cancel: Mutex<Option<Arc<CancelState>>>,
    /// The address of `cancel`, so that a call can see without locking that it is unchanged.
    cancel_address: AtomicUsize,
}

impl std::fmt::Debug for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl WatchedInstance {
    /// An instance that the watchdog stops with `interrupt`; nothing is watched until a
    /// call [`start`](Self::start)s.
    pub fn new(interrupt: impl Interrupt + 'static) -> WatchedInstance {
        WatchedInstance(Arc::new(Watched {
            interrupt: Box::new(interrupt),
            state: AtomicU64::new(IDLE),
            listed: AtomicBool::new(false),
            deadline: AtomicU64::new(u64::MAX),
            cancel: Mutex::new(None),
            cancel_address: AtomicUsize::new(0),
        }))
    }

    /// Watches a call under `limits` (its deadline and cancel state) until the returned
    /// guard is finished or dropped.
    ///
    /// # Errors
    ///
    /// [`XtismError::Engine`] when the watchdog's thread cannot be started.
    pub fn start(&mut self, limits: &CallLimits) -> Result<WatchedCall<'_>, XtismError> {
        let watched = &*self.0;
        let deadline = limits.deadline.map_or(u64::MAX, |d| {
            u64::try_from(d.saturating_duration_since(*EPOCH).as_nanos()).unwrap_or(u64::MAX - 1)
        });
        watched.deadline.store(deadline, Ordering::Relaxed);
        let cancel_address = limits
            .cancel
            .as_ref()
            .map_or(0, |c| Arc::as_ptr(c) as usize);
        // Only this instance's calls write `cancel`; it keeps the old one alive, so an
        // equal address is the same cancel state.
        if watched.cancel_address.load(Ordering::Relaxed) != cancel_address {
            *lock(&watched.cancel) = limits.cancel.clone();
            watched
                .cancel_address
                .store(cancel_address, Ordering::Relaxed);
        }
        // Idle here: the last call's guard is gone (the borrow ended) and it waited for
        // the watchdog to be done with it.
        let call = (watched.state.load(Ordering::Relaxed) & !PHASE).wrapping_add(CALL);
        watched.state.store(call | RUNNING, Ordering::SeqCst);
        let running = WatchedCall {
            watched,
            ended: false,
        };
        // See `Watchdog::tick` for why this order lists every running call.
        if !watched.listed.load(Ordering::SeqCst) && !watched.listed.swap(true, Ordering::SeqCst) {
            WATCHDOG.list(Arc::clone(&self.0))?;
        }
        Ok(running)
    }
}

impl Watched {
    /// Whether the call running in this instance must stop now.
    fn must_stop(&self) -> bool {
        let mut limits = CallLimits::default();
        let deadline = self.deadline.load(Ordering::Relaxed);
        if deadline != u64::MAX {
            limits.deadline = Some(*EPOCH + Duration::from_nanos(deadline));
        }
        limits.cancel = lock(&self.cancel).clone();
        limits.interruption().is_some()
    }
}

/// A call being watched. Dropping it ends the watch (also when the call unwinds).
#[must_use = "the call is watched until the guard is finished or dropped"]
pub struct WatchedCall<'a> {
    /// Borrowed from the [`WatchedInstance`] the call started on, exclusively.
    watched: &'a Watched,
    /// Whether [`finish`](Self::finish) ended the watch already.
    ended: bool,
}

impl std::fmt::Debug for WatchedCall<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchedCall").finish_non_exhaustive()
    }
}

impl WatchedCall<'_> {
    /// Ends the watch; whether the watchdog interrupted the call. Once it returns, the
    /// watchdog no longer touches the instance's [`Interrupt`] for this call.
    pub fn finish(mut self) -> bool {
        self.ended = true;
        self.end()
    }

    fn end(&self) -> bool {
        let state = &self.watched.state;
        loop {
            let current = state.load(Ordering::Acquire);
            match current & PHASE {
                RAISING => std::thread::yield_now(),
                FIRED => {
                    state.store(current & !PHASE, Ordering::SeqCst);
                    return true;
                }
                _ => {
                    let idle = current & !PHASE;
                    if state
                        .compare_exchange(current, idle, Ordering::SeqCst, Ordering::Acquire)
                        .is_ok()
                    {
                        return false;
                    }
                }
            }
        }
    }
}

impl Drop for WatchedCall<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.end();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; recover anyway.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// An instance in the watchdog's list, with its claim on the ticker: the ticker runs while
/// any instance is listed, and parks once the tick has dropped them all.
type Listed = (Arc<Watched>, TickingCall<'static>);

/// The process's watchdog: a ticker, and the instances whose calls it watches.
struct Watchdog {
    ticker: Ticker,
    /// The listed instances, each keeping the ticker running while it is listed.
    listed: Arc<Mutex<Vec<Listed>>>,
    /// Whether the ticker's thread runs the watchdog's tick.
    started: Mutex<bool>,
}

static WATCHDOG: LazyLock<Watchdog> = LazyLock::new(|| Watchdog {
    ticker: Ticker::new("xtism-watchdog"),
    listed: Arc::default(),
    started: Mutex::new(false),
});

impl Watchdog {
    /// Adds an instance whose call started to the list the watchdog looks at, starting the
    /// thread if needed.
    fn list(&'static self, instance: Arc<Watched>) -> Result<(), XtismError> {
        let mut started = lock(&self.started);
        if !*started {
            let listed = Arc::clone(&self.listed);
            // A failure leaves the watchdog unstarted, so the next call tries again.
            if let Err(e) = self.ticker.add(move || Watchdog::tick(&mut lock(&listed))) {
                instance.listed.store(false, Ordering::SeqCst);
                return Err(XtismError::engine(format!(
                    "cannot start the watchdog thread: {e}"
                )));
            }
            *started = true;
        }
        drop(started);
        // Claimed before the list is locked: the tick runs under the ticker's lock and takes
        // the list's, so taking them the other way round could deadlock.
        let claim = self.ticker.enter();
        lock(&self.listed).push((instance, claim));
        Ok(())
    }

    /// Interrupts the running calls that must stop, and drops idle instances from the list,
    /// so that plug-ins that are not called cost the watchdog nothing.
    ///
    /// An instance leaves the list only if it is still idle after `listed` was cleared, and
    /// a call checks `listed` after entering `RUNNING` (both sequentially consistent): so
    /// either the watchdog sees the call running and keeps the instance, or the call sees
    /// it unlisted and lists it again. An instance may be listed twice for a while; that
    /// only costs a second look.
    fn tick(listed: &mut Vec<Listed>) {
        listed.retain(|(watched, _)| {
            let current = watched.state.load(Ordering::SeqCst);
            match current & PHASE {
                RUNNING => {
                    let raising = (current & !PHASE) | RAISING;
                    if watched.must_stop()
                        && watched
                            .state
                            .compare_exchange(current, raising, Ordering::SeqCst, Ordering::SeqCst)
                            .is_ok()
                    {
                        // A panic here must not leave the call waiting out `RAISING`.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            watched.interrupt.interrupt();
                        }));
                        watched
                            .state
                            .store((current & !PHASE) | FIRED, Ordering::SeqCst);
                    }
                    true
                }
                IDLE => {
                    watched.listed.store(false, Ordering::SeqCst);
                    if watched.state.load(Ordering::SeqCst) & PHASE == IDLE {
                        false
                    } else {
                        watched.listed.store(true, Ordering::SeqCst);
                        true
                    }
                }
                _ => true,
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts interruptions; a call "runs" until the test sees one or gives up.
    #[derive(Default)]
    struct Counter(Arc<AtomicU64>);

    impl Interrupt for Counter {
        fn interrupt(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn watched() -> (WatchedInstance, Arc<AtomicU64>) {
        let count = Arc::new(AtomicU64::new(0));
        (WatchedInstance::new(Counter(Arc::clone(&count))), count)
    }

    fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        let start = Instant::now();
        while !f() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "timed out waiting: {what}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_call_past_its_deadline_is_interrupted_once() {
        let (mut instance, count) = watched();
        let limits = CallLimits {
            deadline: Some(Instant::now() + Duration::from_millis(5)),
            ..CallLimits::default()
        };
        let call = instance.start(&limits).unwrap();
        wait_until("an interruption", || count.load(Ordering::SeqCst) > 0);
        // The tick keeps looking at the running call, but interrupts it only once.
        std::thread::sleep(Duration::from_millis(20));
        assert!(call.finish());
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_cancelled_call_is_interrupted_and_the_next_is_not() {
        let (mut instance, count) = watched();
        let cancel = Arc::new(CancelState::default());
        let limits = CallLimits {
            cancel: Some(Arc::clone(&cancel)),
            ..CallLimits::default()
        };
        let running = cancel.start_call();
        let call = instance.start(&limits).unwrap();
        cancel.cancel();
        wait_until("an interruption", || count.load(Ordering::SeqCst) > 0);
        assert!(call.finish());
        drop(running);
        // The next call, under the same cancel state, is not cancelled.
        let _running = cancel.start_call();
        let call = instance.start(&limits).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(!call.finish());
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_call_within_its_limits_is_not_interrupted() {
        let (mut instance, count) = watched();
        let limits = CallLimits {
            deadline: Some(Instant::now() + Duration::from_secs(60)),
            ..CallLimits::default()
        };
        let call = instance.start(&limits).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(!call.finish());
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }

    /// An interruption that takes its time, recording whether it is still under way.
    struct Slow(Arc<(AtomicBool, AtomicBool)>);

    impl Interrupt for Slow {
        fn interrupt(&self) {
            self.0.0.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
            self.0.1.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_call_ends_only_once_its_interruption_is_over() {
        let progress = Arc::new((AtomicBool::new(false), AtomicBool::new(false)));
        let mut instance = WatchedInstance::new(Slow(Arc::clone(&progress)));
        let limits = CallLimits {
            deadline: Some(Instant::now()),
            ..CallLimits::default()
        };
        let call = instance.start(&limits).unwrap();
        wait_until("the interruption to start", || {
            progress.0.load(Ordering::SeqCst)
        });
        assert!(call.finish());
        assert!(
            progress.1.load(Ordering::SeqCst),
            "the call ended while it was being interrupted"
        );
    }

    #[test]
    fn the_watchdog_parks_once_calls_are_done_and_wakes_for_the_next() {
        let (mut instance, _) = watched();
        let limits = CallLimits {
            deadline: Some(Instant::now() + Duration::from_secs(60)),
            ..CallLimits::default()
        };
        for _ in 0..2 {
            drop(instance.start(&limits).unwrap());
            wait_until("the watchdog to park after its calls ended", || {
                WATCHDOG.ticker.is_parked()
            });
            // Parked, it wakes for the next call and parks again after it.
            let call = instance.start(&limits).unwrap();
            wait_until("the watchdog to wake for a call", || {
                !WATCHDOG.ticker.is_parked()
            });
            drop(call);
        }
    }
}
