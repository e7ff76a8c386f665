//! A bounded pool of plug-in instances for concurrent callers, with the official `extism`
//! crate's `Pool` API.
//!
//! A [`Plugin`] runs one call at a time (`call` takes `&mut self`). A server that wants
//! parallel calls keeps several instances: [`Pool::get`] hands out an idle one, makes a new
//! one with the pool's source while fewer than the maximum exist, and otherwise waits for
//! one to come back, up to a timeout. The [`PoolPlugin`] guard returns its instance when it
//! drops. An instance keeps its vars between borrowers, as a plug-in keeps them between
//! calls.
//!
//! The names, signatures and behaviour are those of `extism` 1.41 ([`PoolBuilder`],
//! [`Pool::new`], [`Pool::get`], [`Pool::with_plugin`], [`Pool::function_exists`], ...), so a
//! program using the official pool ports unchanged. Where xtism differs, it is in what the
//! official pool gets wrong: the source runs outside the pool's lock (see `lender`), so a
//! slow source does not stall other callers and a source that asks its own pool waits and
//! times out instead of deadlocking; a failing source leaves the count as it was; and a
//! maximum of 0 means 1. [`Pool::from_compiled`] is xtism's own shortcut for the common
//! case, a pool of instances of one [`CompiledPlugin`].

mod lender;

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::convert::{FromBytesOwned, ToBytes};
use crate::error::Error;
use crate::plugin::{CompiledPlugin, EngineProvider, NoDefaultEngine, Plugin};
use lender::Lender;

/// Configures a [`Pool`]; as the official `extism::PoolBuilder`.
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    /// The most instances the pool makes (a count; 0 is taken as 1). The default is
    /// [`std::thread::available_parallelism`], or 1 where that is unknown (the official
    /// runtime panics there).
    pub max_instances: usize,
}

impl Default for PoolBuilder {
    fn default() -> Self {
        PoolBuilder {
            max_instances: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl PoolBuilder {
    /// A builder with the default maximum (see [`PoolBuilder::max_instances`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the most instances the pool makes.
    pub fn with_max_instances(mut self, n: usize) -> Self {
        self.max_instances = n;
        self
    }

    /// A pool whose instances come from `source`, configured by this builder; the same as
    /// [`Pool::new_from_builder`]`(source, self)`.
    pub fn build<P, F>(self, source: F) -> Pool<P>
    where
        P: EngineProvider,
        F: Fn() -> Result<Plugin<P>, Error> + Send + Sync + 'static,
    {
        Pool::new_from_builder(source, self)
    }
}

/// A bounded pool of plug-in instances, shared by threads; cloning gives another handle to
/// the same pool.
pub struct Pool<P: EngineProvider = NoDefaultEngine> {
    shared: Arc<Shared<P>>,
}

struct Shared<P: EngineProvider> {
    instances: Lender<Plugin<P>>,
    /// Set by [`Pool::from_compiled`]: answers `function_exists` without an instance.
    compiled: Option<CompiledPlugin>,
    /// `function_exists` answers by function name.
    exists: Mutex<HashMap<String, bool>>,
}

impl<P: EngineProvider> Clone for Pool<P> {
    fn clone(&self) -> Self {
        Pool {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<P: EngineProvider> std::fmt::Debug for Pool<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("max_instances", &self.shared.instances.max())
            .field("count", &self.count())
            .finish_non_exhaustive()
    }
}

impl<P: EngineProvider> Pool<P> {
    /// A pool whose instances come from `source`, with the default maximum (see
    /// [`PoolBuilder::max_instances`]). `source` is called when the pool makes an instance,
    /// possibly from several threads at once, and never while the pool's lock is held.
    pub fn new<F>(source: F) -> Self
    where
        F: Fn() -> Result<Plugin<P>, Error> + Send + Sync + 'static,
    {
        Self::new_from_builder(source, PoolBuilder::default())
    }

    /// A pool whose instances come from `source`, with at most `builder.max_instances` of
    /// them (0 is taken as 1).
    pub fn new_from_builder<F>(source: F, builder: PoolBuilder) -> Self
    where
        F: Fn() -> Result<Plugin<P>, Error> + Send + Sync + 'static,
    {
        Self::with_parts(Box::new(source), builder.max_instances, None)
    }

    /// A pool of at most `max_instances` instances of `compiled` (0 is taken as 1), each made
    /// by [`Plugin::new_from_compiled`] on the engine it was compiled for. xtism's own: the
    /// official crate has no compiled plug-in to share. Its [`function_exists`] answers from
    /// `compiled` at once, without an instance.
    ///
    /// [`function_exists`]: Pool::function_exists
    pub fn from_compiled(compiled: CompiledPlugin, max_instances: usize) -> Self {
        let source = compiled.clone();
        Self::with_parts(
            Box::new(move || Plugin::new_from_compiled(&source)),
            max_instances,
            Some(compiled),
        )
    }

    fn with_parts(
        source: Box<lender::Source<Plugin<P>>>,
        max_instances: usize,
        compiled: Option<CompiledPlugin>,
    ) -> Self {
        Pool {
            shared: Arc::new(Shared {
                instances: Lender::new(source, max_instances),
                compiled,
                exists: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// How many instances the pool has made that are alive, lent out or idle (instances
    /// being made do not count yet). At most the maximum; as the official `Pool::count`.
    pub fn count(&self) -> usize {
        self.shared.instances.count()
    }

    /// An instance for the caller's exclusive use, as the official `Pool::get`: an idle one
    /// (the one returned longest ago), else a new one from the source while fewer than the
    /// maximum exist, else the first one returned within `timeout`. A timeout too long to add
    /// to the clock, such as `Duration::MAX`, waits for ever. `Ok(None)` when none became
    /// free in time.
    ///
    /// # Errors
    ///
    /// The source's error when making a new instance failed; the pool is then as it was, and
    /// the next `get` tries the source again.
    pub fn get(&self, timeout: Duration) -> Result<Option<PoolPlugin<P>>, Error> {
        Ok(self
            .shared
            .instances
            .take(timeout)?
            .map(|plugin| PoolPlugin {
                plugin: Some(plugin),
                pool: Arc::downgrade(&self.shared),
            }))
    }

    /// [`get`](Pool::get) for async code: waits for an instance without blocking the thread,
    /// for at most `timeout`. A new instance, when the pool makes one, is made on the
    /// calling task. Then call it with [`Plugin::call_async`] through `Deref`. Not in the
    /// official crate, which has no async calls.
    ///
    /// # Errors
    ///
    /// As [`get`](Pool::get).
    pub async fn get_async(&self, timeout: Duration) -> Result<Option<PoolPlugin<P>>, Error> {
        Ok(self
            .shared
            .instances
            .take_async(timeout)
            .await?
            .map(|plugin| PoolPlugin {
                plugin: Some(plugin),
                pool: Arc::downgrade(&self.shared),
            }))
    }

    /// Runs `f` on an instance from [`get`](Pool::get), then returns the instance to the
    /// pool. `Ok(None)` when no instance became free within `timeout`, else `f`'s result in
    /// `Some`; as the official `Pool::with_plugin`.
    ///
    /// # Errors
    ///
    /// The source's error (as [`get`](Pool::get)), or `f`'s.
    pub fn with_plugin<T>(
        &self,
        timeout: Duration,
        f: impl FnOnce(&mut Plugin<P>) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        match self.get(timeout)? {
            Some(mut plugin) => f(&mut plugin).map(Some),
            None => Ok(None),
        }
    }

    /// Whether the plug-in exports a callable function `name` (see
    /// [`Plugin::function_exists`]). As the official `Pool::function_exists`, the answer is
    /// cached per name after the first time, and asking takes an instance from the pool
    /// (waiting up to `timeout`); when none became free in time the answer is `Ok(false)`,
    /// not cached. A pool [`from_compiled`](Pool::from_compiled) answers without an instance.
    ///
    /// # Errors
    ///
    /// The source's error, when the pool had to make an instance to ask and that failed.
    pub fn function_exists(&self, name: &str, timeout: Duration) -> Result<bool, Error> {
        cached_exists(&self.shared.exists, name, || {
            if let Some(compiled) = &self.shared.compiled {
                return Ok(Some(compiled.function_exists(name)));
            }
            Ok(self.get(timeout)?.map(|p| p.function_exists(name)))
        })
    }
}

/// The cached answer for `name`, else `probe`'s, cached when it has one.
fn cached_exists(
    cache: &Mutex<HashMap<String, bool>>,
    name: &str,
    probe: impl FnOnce() -> Result<Option<bool>, Error>,
) -> Result<bool, Error> {
    let cache_lock = || cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&exists) = cache_lock().get(name) {
        return Ok(exists);
    }
    // The probe may wait for an instance: not under the cache's lock.
    Ok(match probe()? {
        Some(exists) => *cache_lock().entry(name.to_owned()).or_insert(exists),
        None => false,
    })
}

/// An instance lent by a [`Pool`], used through `Deref` to [`Plugin`]; it goes back to the
/// pool when dropped, or is dropped with it when every handle to the pool is gone. As the
/// official `extism::PoolPlugin`.
pub struct PoolPlugin<P: EngineProvider = NoDefaultEngine> {
    /// `Some` until dropped.
    plugin: Option<Plugin<P>>,
    /// Weak, so that lent instances do not keep a dropped pool alive.
    pool: Weak<Shared<P>>,
}

impl<P: EngineProvider> PoolPlugin<P> {
    /// Calls the export `name` with `input` and decodes its output, as [`Plugin::call`] but
    /// into an owned value (the official `PoolPlugin::call`'s signature); borrow the output
    /// through `Deref` instead, `(*pool_plugin).call(..)`, to avoid the copy.
    ///
    /// # Errors
    ///
    /// As [`Plugin::call`].
    pub fn call<'a, Input: ToBytes<'a>, Output: FromBytesOwned>(
        &mut self,
        name: impl AsRef<str>,
        input: Input,
    ) -> Result<Output, Error> {
        self.plugin_mut().call(name, input)
    }

    /// The instance's id ([`Plugin::id`]).
    pub fn id(&self) -> uuid::Uuid {
        self.plugin().id
    }

    fn plugin(&self) -> &Plugin<P> {
        self.plugin.as_ref().expect("present until dropped")
    }

    fn plugin_mut(&mut self) -> &mut Plugin<P> {
        self.plugin.as_mut().expect("present until dropped")
    }
}

impl<P: EngineProvider> std::fmt::Debug for PoolPlugin<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolPlugin")
            .field("plugin", self.plugin())
            .finish()
    }
}

impl<P: EngineProvider> Deref for PoolPlugin<P> {
    type Target = Plugin<P>;

    fn deref(&self) -> &Plugin<P> {
        self.plugin()
    }
}

impl<P: EngineProvider> DerefMut for PoolPlugin<P> {
    fn deref_mut(&mut self) -> &mut Plugin<P> {
        self.plugin_mut()
    }
}

impl<P: EngineProvider> Drop for PoolPlugin<P> {
    fn drop(&mut self) {
        if let (Some(plugin), Some(pool)) = (self.plugin.take(), self.pool.upgrade()) {
            pool.instances.give_back(plugin);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn pools_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Pool>();
        send::<PoolPlugin>();
    }

    #[test]
    fn builder_defaults_to_the_available_parallelism() {
        let expected = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(PoolBuilder::new().max_instances, expected);
        assert_eq!(PoolBuilder::new().with_max_instances(3).max_instances, 3);
    }

    #[test]
    fn function_exists_is_cached_per_name() {
        let cache = Mutex::new(HashMap::new());
        let probes = Cell::new(0);
        let probe = |answer: Option<bool>| {
            probes.set(probes.get() + 1);
            Ok(answer)
        };
        assert!(cached_exists(&cache, "run", || probe(Some(true))).unwrap());
        assert!(cached_exists(&cache, "run", || probe(Some(false))).unwrap());
        assert!(!cached_exists(&cache, "gone", || probe(Some(false))).unwrap());
        assert!(!cached_exists(&cache, "gone", || probe(Some(true))).unwrap());
        assert_eq!(probes.get(), 2);
        // No instance in time: `false`, and asked again next time.
        assert!(!cached_exists(&cache, "later", || probe(None)).unwrap());
        assert!(cached_exists(&cache, "later", || probe(Some(true))).unwrap());
        // A failing source is an error, not an answer.
        let failed = cached_exists(&cache, "broken", || Err(Error::msg("no instance")));
        assert!(failed.is_err());
        assert!(cached_exists(&cache, "broken", || probe(Some(true))).unwrap());
        assert_eq!(probes.get(), 5);
    }
}
