//! A bounded pool of plug-in instances for concurrent callers.
//!
//! A [`Plugin`] runs one call at a time (`call` takes `&mut self`). A server that wants
//! parallel calls keeps several instances of one [`CompiledPlugin`]: [`Pool::get`] hands out
//! an idle one, makes a new one while fewer than the maximum exist, and otherwise waits for
//! one to come back, up to a timeout. Instances are made outside the lock, and go back to
//! the pool when the [`PoolPlugin`] guard drops. An instance keeps its vars between
//! borrowers, as a plug-in keeps them between calls.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::plugin::{CompiledPlugin, EngineProvider, NoDefaultEngine, Plugin};

/// A bounded pool of instances of one compiled plug-in. Cheap to clone; share it between
/// threads.
pub struct Pool<P: EngineProvider = NoDefaultEngine> {
    shared: Arc<Shared<P>>,
}

impl<P: EngineProvider> Clone for Pool<P> {
    fn clone(&self) -> Self {
        Pool {
            shared: Arc::clone(&self.shared),
        }
    }
}

struct Shared<P: EngineProvider> {
    compiled: CompiledPlugin,
    max: usize,
    slots: Mutex<Slots<P>>,
    returned: Condvar,
}

struct Slots<P: EngineProvider> {
    idle: Vec<Plugin<P>>,
    /// Instances in existence or being made.
    total: usize,
}

impl<P: EngineProvider> Pool<P> {
    /// A pool of at most `max_instances` instances of `compiled` (at least one).
    pub fn new(compiled: CompiledPlugin, max_instances: usize) -> Self {
        Pool {
            shared: Arc::new(Shared {
                compiled,
                max: max_instances.max(1),
                slots: Mutex::new(Slots {
                    idle: Vec::new(),
                    total: 0,
                }),
                returned: Condvar::new(),
            }),
        }
    }

    /// The most instances this pool makes.
    pub fn max_instances(&self) -> usize {
        self.shared.max
    }

    /// How many instances exist now.
    pub fn instances(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> MutexGuard<'_, Slots<P>> {
        // A panic while holding the lock leaves the slots consistent (every change is a
        // single push, pop or counter update), so a poisoned lock is still usable.
        self.shared.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An instance for the caller's exclusive use: an idle one, a new one while the pool is
    /// not full, else the first one returned within `timeout` (a timeout too long to add
    /// to the clock, such as `Duration::MAX`, waits for ever). `Ok(None)` when none became
    /// free in time; an error when making a new instance failed.
    pub fn get(&self, timeout: Duration) -> Result<Option<PoolPlugin<P>>, Error> {
        let deadline = Instant::now().checked_add(timeout);
        let mut slots = self.lock();
        loop {
            if let Some(plugin) = slots.idle.pop() {
                return Ok(Some(self.lend(plugin)));
            }
            if slots.total < self.shared.max {
                slots.total += 1;
                drop(slots);
                return match Plugin::new_from_compiled(&self.shared.compiled) {
                    Ok(plugin) => Ok(Some(self.lend(plugin))),
                    Err(e) => {
                        self.lock().total -= 1;
                        self.shared.returned.notify_one();
                        Err(e)
                    }
                };
            }
            slots = match deadline {
                None => self
                    .shared
                    .returned
                    .wait(slots)
                    .unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(None);
                    }
                    self.shared
                        .returned
                        .wait_timeout(slots, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    fn lend(&self, plugin: Plugin<P>) -> PoolPlugin<P> {
        PoolPlugin {
            plugin: Some(plugin),
            pool: self.clone(),
        }
    }
}

/// An instance borrowed from a [`Pool`]; it goes back when dropped.
pub struct PoolPlugin<P: EngineProvider = NoDefaultEngine> {
    plugin: Option<Plugin<P>>,
    pool: Pool<P>,
}

impl<P: EngineProvider> Deref for PoolPlugin<P> {
    type Target = Plugin<P>;

    fn deref(&self) -> &Plugin<P> {
        self.plugin.as_ref().expect("present until dropped")
    }
}

impl<P: EngineProvider> DerefMut for PoolPlugin<P> {
    fn deref_mut(&mut self) -> &mut Plugin<P> {
        self.plugin.as_mut().expect("present until dropped")
    }
}

impl<P: EngineProvider> Drop for PoolPlugin<P> {
    fn drop(&mut self) {
        if let Some(plugin) = self.plugin.take() {
            self.pool.lock().idle.push(plugin);
            self.pool.shared.returned.notify_one();
        }
    }
}
