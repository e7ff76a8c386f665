//! The epoch ticker: one thread per [`WasmtimeEngine`](crate::WasmtimeEngine) that advances
//! the epoch of its interruptible wasmtime engines while calls run.
//!
//! Code compiled with epoch interruption checks the engine's epoch at function entries and
//! loop headers; once it passes the store's deadline, the store's callback decides whether
//! the call goes on (see `instance::on_epoch`, installed by `instantiate`). The thread ticks
//! every [`TICK`] while at least one call is running. When no call has run for [`LINGER`]
//! ticks it parks on a condition variable, so an idle host spends no CPU on it; the next
//! call wakes it. Lingering keeps back-to-back short calls from paying a wake-up each.
//!
//! A running call costs two atomic operations (see [`Ticker::enter`]); only the call that
//! finds the thread parked takes the lock to wake it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the epoch advances while calls run.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// Idle ticks before the thread parks.
pub(crate) const LINGER: u32 = 10;

/// What the ticker thread shares with the calls.
#[derive(Default)]
struct Shared {
    /// Calls running now.
    active: AtomicUsize,
    /// The thread is parked, or about to be: a starting call must wake it.
    parked: AtomicBool,
    /// Ticks so far.
    ticks: AtomicU64,
    /// The engines to tick, and whether to stop.
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    engines: Vec<wasmtime::Engine>,
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
                for engine in &self.lock().engines {
                    engine.increment_epoch();
                }
                self.ticks.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The ticker of one [`WasmtimeEngine`](crate::WasmtimeEngine). The thread starts with the
/// first interruptible engine and stops when the last reference to the ticker goes (the
/// engine, and every plug-in linked by it, hold one).
#[derive(Default)]
pub(crate) struct Ticker {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Marks a call as running until dropped.
pub(crate) struct RunningCall<'a>(&'a Ticker);

impl Drop for RunningCall<'_> {
    fn drop(&mut self) {
        self.0.shared.active.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Ticker {
    /// Ticks `engine` from now on, starting the thread if needed.
    pub(crate) fn add(&self, engine: &wasmtime::Engine) -> std::io::Result<()> {
        let mut thread = self.thread.lock().unwrap_or_else(|e| e.into_inner());
        if thread.is_none() {
            let shared = Arc::clone(&self.shared);
            *thread = Some(
                std::thread::Builder::new()
                    .name("xtism-wasmtime-epoch".into())
                    .spawn(move || shared.run())?,
            );
        }
        self.shared.lock().engines.push(engine.clone());
        Ok(())
    }

    /// A call starts; the epoch advances until the guard drops.
    pub(crate) fn enter(&self) -> RunningCall<'_> {
        let shared = &self.shared;
        shared.active.fetch_add(1, Ordering::SeqCst);
        if shared.parked.load(Ordering::SeqCst) {
            // Taking the lock waits until the thread is inside `wait`, so it gets the signal.
            let _state = shared.lock();
            shared.wake.notify_one();
        }
        RunningCall(self)
    }

    /// Whether the thread is parked (for tests).
    #[cfg(test)]
    pub(crate) fn is_parked(&self) -> bool {
        self.shared.parked.load(Ordering::SeqCst)
    }

    /// Ticks so far (for tests).
    #[cfg(test)]
    pub(crate) fn ticks(&self) -> u64 {
        self.shared.ticks.load(Ordering::Relaxed)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_one();
        let thread = self.thread.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(thread) = thread.take() {
            // The thread only sleeps, ticks and waits; it cannot panic in a way worth
            // reporting from a destructor.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn ticks_only_while_calls_run_and_parks_when_idle() {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = wasmtime::Engine::new(&config).unwrap();
        let ticker = Ticker::default();
        ticker.add(&engine).unwrap();
        wait_until("the idle ticker parks", || ticker.is_parked());
        let ticks = ticker.ticks();
        std::thread::sleep(TICK * 20);
        assert_eq!(ticker.ticks(), ticks, "no ticks while idle");

        let call = ticker.enter();
        wait_until("a running call wakes the ticker", || {
            ticker.ticks() >= ticks + 3
        });
        assert!(!ticker.is_parked());
        drop(call);
        wait_until("the ticker parks again", || ticker.is_parked());
        let ticks = ticker.ticks();
        std::thread::sleep(TICK * 20);
        assert_eq!(ticker.ticks(), ticks);
    }

    #[test]
    fn dropping_the_ticker_stops_the_thread() {
        let engine = wasmtime::Engine::default();
        let ticker = Ticker::default();
        ticker.add(&engine).unwrap();
        let _call = ticker.enter();
        std::thread::sleep(TICK * 3);
        let shared = Arc::clone(&ticker.shared);
        drop(_call);
        drop(ticker);
        // The thread held the only other reference.
        assert_eq!(Arc::strong_count(&shared), 1);
    }
}
