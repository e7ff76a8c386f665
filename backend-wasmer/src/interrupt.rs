//! Stopping a running call: an injected check in compiled code and a watchdog thread.
//!
//! Wasmer 7 offers no portable way to stop Wasm code from the host (see the crate
//! documentation), so [`InterruptCheck`] adds a mutable `i32` global to every interruptible
//! module and a check at every function entry and every loop header:
//!
//! ```wat
//! global.get $xtism_interrupt
//! if
//!   unreachable
//! end
//! ```
//!
//! Every unbounded execution passes through a loop header or a function entry, so a call
//! notices a raised flag within a bounded stretch of straight-line code. The check is one
//! load and one predictable branch. At loop headers it is followed by a store of 0 to a
//! second, private global: Cranelift's redundant-load elimination would otherwise reuse the
//! flag's value loaded before a loop that stores nothing (`(loop (br 0))`), and the loop
//! would never see the flag change. The store carries no dependency across iterations.
//!
//! The flags are raised by the watchdog: core's [`Ticker`], one per process, whose tick looks
//! at the interruptible instances called since it last found them idle. Each such instance
//! has a
//! [`WatchedInstance`] holding the storage addresses of its flags and the deadline and cancel
//! state of its running call; at each tick the watchdog asks core's
//! [`CallLimits::interruption`] whether a running call must stop, and if so raises its flags:
//! an atomic store into the globals' storage, which the guest reads with plain loads. The
//! phases of a [`WatchedInstance`] guarantee that storage is alive whenever it is written.
//! A call costs a few atomic operations on the instance's own state. An instance keeps the
//! ticker running from the call that lists it to the first tick that finds it idle.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use wasmer::sys::wasmparser::{BlockType, Operator};
use wasmer::sys::{FunctionMiddleware, MiddlewareError, MiddlewareReaderState, ModuleMiddleware};
use wasmer::{
    ExportIndex, GlobalInit, GlobalType, LocalFunctionIndex, ModuleInfo, Mutability, Type,
};
use xtism_core::XtismError;
use xtism_core::engine::{CallLimits, CancelState, Ticker, TickingCall};

use crate::raw::Flag;

/// The export naming the interruption flag of an instrumented module.
pub(crate) const FLAG_EXPORT: &str = "__xtism_interrupt";

/// Version of the injected code, part of the compile cache key.
pub(crate) const CHECK_VERSION: u32 = 2;

/// The middleware that adds the flag global and the checks. One per compiled module (it
/// remembers the module's flag index).
#[derive(Debug, Default)]
pub(crate) struct InterruptCheck {
    /// The flag and the scratch global of the module.
    globals: OnceLock<(u32, u32)>,
}

impl ModuleMiddleware for InterruptCheck {
    fn transform_module_info(&self, info: &mut ModuleInfo) -> Result<(), MiddlewareError> {
        if info.exports.contains_key(FLAG_EXPORT) {
            return Err(MiddlewareError::new(
                "xtism",
                format!("the module exports {FLAG_EXPORT:?}, a name xtism reserves"),
            ));
        }
        let mut add_global = || {
            info.global_initializers.push(GlobalInit::I32Const(0));
            info.globals
                .push(GlobalType::new(Type::I32, Mutability::Var))
        };
        let flag = add_global();
        let scratch = add_global();
        info.exports
            .insert(FLAG_EXPORT.to_owned(), ExportIndex::Global(flag));
        self.globals
            .set((flag.as_u32(), scratch.as_u32()))
            .map_err(|_| {
                MiddlewareError::new("xtism", "an interruption check serves one module only")
            })
    }

    fn generate_function_middleware<'a>(
        &self,
        _: LocalFunctionIndex,
    ) -> Box<dyn FunctionMiddleware<'a> + 'a> {
        // `transform_module_info` runs before any function is compiled.
        let (flag, scratch) = self.globals.get().copied().unwrap_or_default();
        Box::new(FunctionCheck {
            flag,
            scratch,
            at_entry: true,
        })
    }
}

/// Inserts the check into one function.
#[derive(Debug)]
struct FunctionCheck {
    flag: u32,
    scratch: u32,
    at_entry: bool,
}

impl FunctionCheck {
    /// Traps when the flag is raised.
    fn check(&self) -> [Operator<'static>; 4] {
        [
            Operator::GlobalGet {
                global_index: self.flag,
            },
            Operator::If {
                blockty: BlockType::Empty,
            },
            Operator::Unreachable,
            Operator::End,
        ]
    }

    /// A store in every loop, so that the compiler reloads the flag at each iteration.
    fn clobber(&self) -> [Operator<'static>; 2] {
        [
            Operator::I32Const { value: 0 },
            Operator::GlobalSet {
                global_index: self.scratch,
            },
        ]
    }
}

impl<'a> FunctionMiddleware<'a> for FunctionCheck {
    fn feed(
        &mut self,
        operator: Operator<'a>,
        state: &mut MiddlewareReaderState<'a>,
    ) -> Result<(), MiddlewareError> {
        if self.at_entry {
            self.at_entry = false;
            state.extend(self.check());
        }
        let is_loop = matches!(operator, Operator::Loop { .. });
        state.push_operator(operator);
        if is_loop {
            state.extend(self.check());
            state.extend(self.clobber());
        }
        Ok(())
    }
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

/// An interruptible instance as the watchdog sees it: its flags and its running call.
///
/// Made once per instance, so that a call touches atomics of its own: the call moves
/// the instance from `IDLE` to `RUNNING` and back; the watchdog moves a running call that must
/// stop to `RAISING`, raises the flags, then to `FIRED`, which the call reports when it
/// ends. A call waits out `RAISING` before it returns, so flags are never written once a
/// call is over. The call counter in the state keeps the watchdog from acting on a call
/// that ended, with the limits of the next one.
pub(crate) struct WatchedInstance {
    flags: Box<[Flag]>,
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

impl WatchedInstance {
    pub(crate) fn new(flags: Vec<Flag>) -> Arc<WatchedInstance> {
        Arc::new(WatchedInstance {
            flags: flags.into(),
            state: AtomicU64::new(IDLE),
            listed: AtomicBool::new(false),
            deadline: AtomicU64::new(u64::MAX),
            cancel: Mutex::new(None),
            cancel_address: AtomicUsize::new(0),
        })
    }

    /// Watches a call until the returned guard is finished or dropped.
    pub(crate) fn start(
        self: &Arc<WatchedInstance>,
        limits: &CallLimits,
    ) -> Result<Running<'_>, XtismError> {
        let deadline = limits.deadline.map_or(u64::MAX, |d| {
            u64::try_from(d.saturating_duration_since(*EPOCH).as_nanos()).unwrap_or(u64::MAX - 1)
        });
        self.deadline.store(deadline, Ordering::Relaxed);
        let cancel_address = limits
            .cancel
            .as_ref()
            .map_or(0, |c| Arc::as_ptr(c) as usize);
        // Only this instance's calls write `cancel`; it keeps the old one alive, so an
        // equal address is the same cancel state.
        if self.cancel_address.load(Ordering::Relaxed) != cancel_address {
            *lock(&self.cancel) = limits.cancel.clone();
            self.cancel_address.store(cancel_address, Ordering::Relaxed);
        }
        let call = (self.state.load(Ordering::Relaxed) & !PHASE).wrapping_add(CALL);
        self.state.store(call | RUNNING, Ordering::SeqCst);
        let running = Running {
            watched: self,
            ended: false,
        };
        // See `Watchdog::tick` for why this order lists every running call.
        if !self.listed.load(Ordering::SeqCst) && !self.listed.swap(true, Ordering::SeqCst) {
            WATCHDOG.list(Arc::clone(self))?;
        }
        Ok(running)
    }

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
pub(crate) struct Running<'a> {
    watched: &'a WatchedInstance,
    /// Whether [`finish`](Self::finish) ended the watch already.
    ended: bool,
}

impl Running<'_> {
    /// Ends the watch; whether the watchdog raised the call's flags.
    pub(crate) fn finish(mut self) -> bool {
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

impl Drop for Running<'_> {
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
type Listed = (Arc<WatchedInstance>, TickingCall<'static>);

/// The process's watchdog: a ticker, and the instances whose calls it watches.
struct Watchdog {
    ticker: Ticker,
    /// The listed instances, each keeping the ticker running while it is listed.
    listed: Arc<Mutex<Vec<Listed>>>,
    /// Whether the ticker's thread runs the watchdog's tick.
    started: Mutex<bool>,
}

static WATCHDOG: LazyLock<Watchdog> = LazyLock::new(|| Watchdog {
    ticker: Ticker::new("xtism-wasmer-watchdog"),
    listed: Arc::default(),
    started: Mutex::new(false),
});

impl Watchdog {
    /// Adds an instance whose call started to the list the watchdog looks at, starting the
    /// thread if needed.
    fn list(&'static self, instance: Arc<WatchedInstance>) -> Result<(), XtismError> {
        let mut started = lock(&self.started);
        if !*started {
            let listed = Arc::clone(&self.listed);
            // A failure leaves the watchdog unstarted, so the next call tries again.
            if let Err(e) = self.ticker.add(move || Watchdog::tick(&mut lock(&listed))) {
                instance.listed.store(false, Ordering::SeqCst);
                return Err(XtismError::engine(format!(
                    "cannot start the wasmer watchdog thread: {e}"
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

    /// Raises the flags of the running calls that must stop, and drops idle instances from
    /// the list, so that plug-ins that are not called cost the watchdog nothing.
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
                        watched.flags.iter().for_each(|f| f.raise());
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
    use std::time::{Duration, Instant};

    use xtism_core::engine::Engine;
    use xtism_core::{Plugin, PluginBuilder};

    use super::*;

    #[test]
    fn the_watchdog_parks_once_calls_are_done() {
        let wasm =
            wat::parse_str(r#"(module (func (export "run") (result i32) (i32.const 0)))"#).unwrap();
        let engine: Arc<dyn Engine> = Arc::new(crate::WasmerEngine::new());
        let mut plugin: Plugin = PluginBuilder::new(&wasm)
            .with_engine(engine)
            .with_timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        // Every call with a deadline is watched, from its start to its end.
        for _ in 0..3 {
            let _: &[u8] = plugin.call("run", "").unwrap();
        }
        let start = Instant::now();
        while !WATCHDOG.ticker.is_parked() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the watchdog keeps ticking after its calls ended"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
