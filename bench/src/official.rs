//! The rows on the official runtime, the `extism` crate (feature `official`): the same
//! plug-in bytes, inputs and host function as on the xtism engines, through the official
//! crate's own API. The crate has no async calls, so it refuses `echo_16b_async` as
//! unsupported.

use std::sync::Arc;
use std::time::Duration;

use extism::{CompiledPlugin, Function, PTR, Plugin, PluginBuilder, UserData, host_fn};

use crate::workload::{time_all, time_batched, time_each};
use crate::{BenchError, Expect, HostFunctions, Measure, Row, Workload};

/// The name of the official runtime in tables and criterion ids.
pub const NAME: &str = "official";

host_fn!(host_reflect(data: Vec<u8>) -> Vec<u8> { Ok(data) });

/// An official-crate error as a benchmark error.
fn error(err: extism::Error) -> BenchError {
    BenchError::new(format!("{err:#}"))
}

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

/// What every plug-in of a row is built from.
struct Recipe {
    wasm: Arc<[u8]>,
    host: HostFunctions,
    wasi: bool,
    /// Keep the official runtime's default compile cache on (`create_cached`).
    cached: bool,
}

impl Recipe {
    /// A builder for the row's plug-in with the official runtime's compile cache off
    /// (`create` is the cold row), except for `create_cached`, which keeps its default
    /// cache (wasmtime's, in the user's cache directory).
    fn builder(&self) -> PluginBuilder<'_> {
        let builder = PluginBuilder::new(&self.wasm[..]);
        let builder = if self.cached {
            builder
        } else {
            builder.with_cache_disabled()
        };
        builder
            .with_wasi(self.wasi)
            .with_functions(functions(self.host))
    }
}

/// `row` on the official runtime.
///
/// # Errors
///
/// A plug-in that does not compile or link, a call that fails or outputs what the row does
/// not expect; an [unsupported](BenchError::is_unsupported) error for a row of async calls.
pub fn prepare(row: &Row) -> Result<Box<dyn Workload>, BenchError> {
    if row.calls_async() {
        return Err(BenchError::unsupported(format!(
            "the {NAME} runtime has no async calls"
        )));
    }
    let recipe = Recipe {
        wasm: Arc::clone(&row.wasm),
        host: row.host,
        wasi: row.wasi,
        cached: matches!(row.measure, Measure::CreateCached),
    };
    Ok(match &row.measure {
        Measure::Create | Measure::CreateCached => {
            recipe.builder().build().map_err(error)?;
            Box::new(Create { recipe })
        }
        Measure::Instantiate => Box::new(Instantiate {
            compiled: CompiledPlugin::new(recipe.builder()).map_err(error)?,
        }),
        // Sync only: the async rows were refused above.
        Measure::Call {
            function,
            input,
            expect,
            ..
        } => {
            let mut plugin = recipe.builder().build().map_err(error)?;
            check(&mut plugin, function, input, *expect)?;
            Box::new(Call {
                plugin,
                function: function.clone(),
                input: Arc::clone(input),
            })
        }
    })
}

/// Calls `function` once and checks its output against `expect`.
fn check(
    plugin: &mut Plugin,
    function: &str,
    input: &[u8],
    expect: Expect,
) -> Result<(), BenchError> {
    let output: &[u8] = plugin.call(function, input).map_err(error)?;
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
        time_each(iterations, || self.recipe.builder().build().map_err(error))
    }
}

/// A plug-in from a compiled plug-in.
struct Instantiate {
    compiled: CompiledPlugin,
}

impl Workload for Instantiate {
    fn run(&mut self, iterations: u64) -> Result<Duration, BenchError> {
        time_batched(iterations, || {
            Plugin::new_from_compiled(&self.compiled).map_err(error)
        })
    }
}

/// A call on a warm instance.
struct Call {
    plugin: Plugin,
    function: String,
    input: Arc<[u8]>,
}

impl Workload for Call {
    fn run(&mut self, iterations: u64) -> Result<Duration, BenchError> {
        time_all(iterations, || {
            let output: &[u8] = self
                .plugin
                .call(&self.function, &self.input[..])
                .map_err(error)?;
            std::hint::black_box(output);
            Ok(())
        })
    }
}
