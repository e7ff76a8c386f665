//! The rows on an xtism engine.

use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use xtism::{CompiledPlugin, Engine, Function, PTR, Plugin, PluginBuilder, UserData, host_fn};

use crate::workload::{time_all, time_batched, time_each};
use crate::{BenchError, CallMode, Expect, HostFunctions, Measure, Row, Workload};

host_fn!(host_reflect(data: Vec<u8>) -> Vec<u8> { Ok(data) });

/// The host functions of `host`.
fn functions(host: HostFunctions) -> Vec<Function> {
    match host {
        HostFunctions::None => Vec::new(),
        HostFunctions::Reflect => vec![Function::new(
            "host_reflect",
            [PTR],
            [PTR],
            UserData::<()>::default(),
            host_reflect,
        )],
    }
}

/// What every plug-in of `row` is built from.
#[derive(Clone)]
struct Recipe {
    wasm: Arc<[u8]>,
    engine: Arc<dyn Engine>,
    host: HostFunctions,
    wasi: bool,
    /// The compile cache directory of `create_cached`; none for every other row.
    cache: Option<Arc<CacheDir>>,
}

/// A compile cache directory of the benchmark's own, removed when dropped.
struct CacheDir(PathBuf);

impl CacheDir {
    fn new(engine: &str) -> CacheDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        CacheDir(std::env::temp_dir().join(format!(
            "xtism-bench-cache-{engine}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )))
    }
}

impl Drop for CacheDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Recipe {
    /// A builder for the row's plug-in on the engine: with the row's own cache directory
    /// for `create_cached` on an engine that can cache, else with the compile cache off
    /// (on by default for the JIT engines), so that `create` is cold and no row reads or
    /// writes the user's cache.
    fn builder(&self) -> PluginBuilder<'_> {
        let builder = PluginBuilder::new(&self.wasm[..]).with_engine(Arc::clone(&self.engine));
        let builder = match &self.cache {
            Some(dir) if self.engine.capabilities().compile_cache => builder.with_cache_dir(&dir.0),
            _ => builder.with_cache_disabled(),
        };
        builder
            .with_wasi(self.wasi)
            .with_functions(functions(self.host))
    }
}

/// The name of one more runtime beside [`xtism::ENGINES`]: wasmtime with an instance pool
/// ([`xtism::WasmtimeEngine::with_instance_pool`]) as large as a batch of the `instantiate`
/// row.
#[cfg(feature = "wasmtime")]
pub const WASMTIME_POOL: &str = "wasmtime-pool";

/// The engine called `name`: one of [`xtism::ENGINES`], or `WASMTIME_POOL`.
fn engine(name: &str) -> Result<Arc<dyn Engine>, BenchError> {
    #[cfg(feature = "wasmtime")]
    if name == WASMTIME_POOL {
        let slots = u32::try_from(crate::workload::INSTANCE_BATCH).unwrap_or(u32::MAX);
        return Ok(Arc::new(xtism::WasmtimeEngine::with_instance_pool(slots)));
    }
    Ok(xtism::engine_named(name)?)
}

/// `row` on the xtism engine called `engine` (one of [`xtism::ENGINES`], or
/// `WASMTIME_POOL`).
///
/// # Errors
///
/// An unknown engine, a plug-in that does not compile or link, a call that fails or
/// outputs what the row does not expect; an [unsupported](BenchError::is_unsupported)
/// error for a row of async calls on an engine without the `async_calls` capability.
pub fn prepare(row: &Row, engine: &str) -> Result<Box<dyn Workload>, BenchError> {
    let recipe = Recipe {
        wasm: Arc::clone(&row.wasm),
        engine: self::engine(engine)?,
        host: row.host,
        wasi: row.wasi,
        cache: matches!(row.measure, Measure::CreateCached)
            .then(|| Arc::new(CacheDir::new(engine))),
    };
    if row.calls_async() && !recipe.engine.capabilities().async_calls {
        return Err(BenchError::unsupported(format!(
            "the {engine} engine does not support async calls"
        )));
    }
    Ok(match &row.measure {
        Measure::Create | Measure::CreateCached => {
            // Fails here, with the plug-in's own error, rather than in the timing; for
            // create_cached this also fills the cache.
            recipe.builder().build()?;
            Box::new(Create { recipe })
        }
        Measure::Instantiate => Box::new(Instantiate {
            compiled: CompiledPlugin::new(recipe.builder())?,
        }),
        Measure::Call {
            function,
            input,
            expect,
            mode,
        } => {
            let mut plugin = recipe.builder().build()?;
            check(&mut plugin, function, input, *expect, *mode)?;
            Box::new(Call {
                plugin,
                function: function.clone(),
                input: Arc::clone(input),
                mode: *mode,
            })
        }
    })
}

/// Calls `function` once, as `mode` says, and checks its output against `expect`.
fn check(
    plugin: &mut Plugin,
    function: &str,
    input: &[u8],
    expect: Expect,
    mode: CallMode,
) -> Result<(), BenchError> {
    if !plugin.function_exists(function) {
        return Err(BenchError::new(format!(
            "the plug-in has no function {function:?}"
        )));
    }
    let output: &[u8] = match mode {
        CallMode::Sync => plugin.call(function, input)?,
        CallMode::Async => poll_to_completion(plugin.call_async(function, input))?,
    };
    if !expect.accepts(input, output) {
        return Err(BenchError::new(format!(
            "{function} output {} bytes that are not what the benchmark expects ({expect:?})",
            output.len()
        )));
    }
    Ok(())
}

/// Compile + instantiate from bytes.
struct Create {
    recipe: Recipe,
}

impl Workload for Create {
    fn run(&mut self, iterations: u64) -> Result<Duration, BenchError> {
        time_each(iterations, || Ok(self.recipe.builder().build()?))
    }
}

/// A plug-in from a compiled plug-in.
struct Instantiate {
    compiled: CompiledPlugin,
}

impl Workload for Instantiate {
    fn run(&mut self, iterations: u64) -> Result<Duration, BenchError> {
        time_batched(iterations, || {
            Ok(Plugin::new_from_compiled(&self.compiled)?)
        })
    }
}

/// A call on a warm instance.
struct Call {
    plugin: Plugin,
    function: String,
    input: Arc<[u8]>,
    mode: CallMode,
}

impl Workload for Call {
    fn run(&mut self, iterations: u64) -> Result<Duration, BenchError> {
        // One loop per mode, so that the sync row's loop is what it was.
        match self.mode {
            CallMode::Sync => time_all(iterations, || {
                let output: &[u8] = self.plugin.call(&self.function, &self.input[..])?;
                std::hint::black_box(output);
                Ok(())
            }),
            CallMode::Async => time_all(iterations, || {
                let output: &[u8] =
                    poll_to_completion(self.plugin.call_async(&self.function, &self.input[..]))?;
                std::hint::black_box(output);
                Ok(())
            }),
        }
    }
}

/// Drives `future` to completion on this thread: polls it with a waker that does nothing
/// until it is ready, and polls again at once after a pending poll (a call that yields).
///
/// No executor and no scheduling: this is the cost of the async call itself (wasmtime's
/// fiber, wasmi's resumable call). It suits plug-ins without async host functions, which
/// never wait on anything; a future waiting on a timer or I/O would be polled in a busy
/// loop.
fn poll_to_completion<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard_rows;

    /// Checked both ways: the async row runs on every engine with `async_calls`, and every
    /// other engine refuses it as unsupported (not as a failure).
    #[test]
    fn the_async_row_runs_exactly_where_the_engine_has_async_calls() {
        let row = standard_rows()
            .into_iter()
            .find(Row::calls_async)
            .expect("a row of async calls");
        for name in xtism::ENGINES {
            let async_calls = engine(name).unwrap().capabilities().async_calls;
            match prepare(&row, name) {
                Ok(mut workload) => {
                    assert!(async_calls, "{name} ran {} without async calls", row.id);
                    workload.run(3).unwrap();
                }
                Err(err) => {
                    assert!(!async_calls, "{name}: {err}");
                    assert!(err.is_unsupported(), "{name}: {err}");
                    assert_eq!(
                        err.message(),
                        format!("the {name} engine does not support async calls")
                    );
                }
            }
        }
    }
}
