//! [`Ticker`]: a thread that runs its ticks every [`TICK`] while calls run, for the backends
//! whose engines stop running code only when something outside the call tells them to
//! (wasmtime advances its epoch; core's watchdog interrupts wasmer's calls).
//!
//! The thread starts with the first tick added. While at least one call is running
//! ([`Ticker::enter`]), it sleeps a [`TICK`] and runs every tick added. When no call has
//! run for `LINGER` (ten) ticks it parks on a condition variable, so an idle host spends no CPU
//! on it; the next call wakes it. Lingering keeps back-to-back short calls from paying a
//! wake-up each. The thread stops when the ticker is dropped.
//!
//! A running call costs three atomic operations; only the call that finds the thread parked
//! takes the lock to wake it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the ticks run while calls run: a call stops within about one tick of its
/// deadline or of being cancelled.
pub const TICK: Duration = Duration::from_millis(1);

/// Idle ticks before the thread parks.
const LINGER: u32 = 10;

/// One tick's work.
type Tick = Box<dyn Fn() + Send>;

/// What the thread shares with the calls.
#[derive(Default)]
struct Shared {
    /// Calls running now.
    active: AtomicUsize,
    /// The thread is parked, or about to be: a starting call must wake it.
    parked: AtomicBool,
    /// The ticks to run, and whether to stop.
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    ticks: Vec<Tick>,
    shutdown: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: it is a list and a flag.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self) {
        let mut idle = 0;
        loop {
            if self.active.load(Ordering::SeqCst) == 0 {
                idle += 1;
            } else {
                idle = 0;
            }
            if idle >= LINGER {
                let mut state = self.lock();
                // Announce the park before the last look at `active`; a starting call does
                // the opposite (count itself, then look at `parked`), so one of the two
                // sees the other.
                self.parked.store(true, Ordering::SeqCst);
                while self.active.load(Ordering::SeqCst) == 0 && !state.shutdown {
                    state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                self.parked.store(false, Ordering::SeqCst);
                idle = 0;
            }
            if self.lock().shutdown {
                return;
            }
            std::thread::sleep(TICK);
            if self.active.load(Ordering::SeqCst) > 0 {
                for tick in &self.lock().ticks {
                    // A tick that panics does not end the thread: the calls that the other
                    // ticks stop would run on past their deadlines.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(tick));
                }
            }
        }
    }
}

/// A thread that runs its ticks while calls run. Dropping the ticker stops the thread.
pub struct Ticker {
    /// The thread's name.
    name: &'static str,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Ticker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticker")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Marks a call as running until dropped (also when the call unwinds).
#[must_use = "the call counts as running until the guard drops"]
pub struct TickingCall<'a>(&'a Ticker);

impl Drop for TickingCall<'_> {
    fn drop(&mut self) {
        self.0.shared.active.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Ticker {
    /// A ticker whose thread, once started, is called `name`. No thread runs yet.
    pub fn new(name: &'static str) -> Ticker {
        Ticker {
            name,
            shared: Arc::default(),
            thread: Mutex::new(None),
        }
    }

    /// Runs `tick` at every tick from now on, starting the thread if needed.
    ///
    /// # Errors
    ///
    /// The operating system's error when the thread cannot be started.
    pub fn add(&self, tick: impl Fn() + Send + 'static) -> std::io::Result<()> {
        let mut thread = self.thread.lock().unwrap_or_else(|e| e.into_inner());
        if thread.is_none() {
            let shared = Arc::clone(&self.shared);
            *thread = Some(
                std::thread::Builder::new()
                    .name(self.name.into())
                    .spawn(move || shared.run())?,
            );
        }
        self.shared.lock().ticks.push(Box::new(tick));
        Ok(())
    }

    /// A call starts; the ticks run until the guard drops.
    pub fn enter(&self) -> TickingCall<'_> {
        let shared = &self.shared;
        shared.active.fetch_add(1, Ordering::SeqCst);
        if shared.parked.load(Ordering::SeqCst) {
            // Taking the lock waits until the thread is inside `wait`, so it gets the signal.
            let _state = shared.lock();
            shared.wake.notify_one();
        }
        TickingCall(self)
    }
}

impl Ticker {
    /// Whether the thread is parked: no call has run for ten ticks. False before the
    /// thread first parks.
    pub fn is_parked(&self) -> bool {
        self.shared.parked.load(Ordering::SeqCst)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_one();
        let thread = self.thread.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(thread) = thread.take() {
            // The thread only sleeps, ticks and waits; a tick that panicked has nothing
            // worth reporting from a destructor.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;

    fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        let start = std::time::Instant::now();
        while !f() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "timed out waiting: {what}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn counting(ticker: &Ticker) -> Arc<AtomicU64> {
        let count = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&count);
        ticker
            .add(move || {
                counted.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        count
    }

    #[test]
    fn ticks_only_while_calls_run_and_parks_when_idle() {
        let ticker = Ticker::new("test-ticker");
        let count = counting(&ticker);
        let parked = || ticker.is_parked();
        wait_until("the idle ticker parks", parked);
        let ticks = count.load(Ordering::Relaxed);
        std::thread::sleep(TICK * 20);
        assert_eq!(count.load(Ordering::Relaxed), ticks, "no ticks while idle");

        let call = ticker.enter();
        wait_until("a running call wakes the ticker", || {
            count.load(Ordering::Relaxed) >= ticks + 3
        });
        assert!(!parked());
        drop(call);
        wait_until("the ticker parks again", parked);
        let ticks = count.load(Ordering::Relaxed);
        std::thread::sleep(TICK * 20);
        assert_eq!(count.load(Ordering::Relaxed), ticks);
    }

    #[test]
    fn a_tick_that_panics_does_not_stop_the_others() {
        let ticker = Ticker::new("test-ticker");
        ticker.add(|| panic!("a tick that panics")).unwrap();
        let count = counting(&ticker);
        let _call = ticker.enter();
        wait_until("ticks after a panicking one", || {
            count.load(Ordering::Relaxed) >= 3
        });
    }

    #[test]
    fn dropping_the_ticker_stops_the_thread() {
        let ticker = Ticker::new("test-ticker");
        let count = counting(&ticker);
        let call = ticker.enter();
        wait_until("a tick", || count.load(Ordering::Relaxed) > 0);
        let shared = Arc::clone(&ticker.shared);
        drop(call);
        drop(ticker);
        // The thread held the only other reference.
        assert_eq!(Arc::strong_count(&shared), 1);
    }
}
