//! xtism: run Extism plug-ins on the WebAssembly engine of your choice.
//!
//! This crate re-exports [`xtism_core`] (everything Extism means) and adds the engines
//! compiled in through features (`wasmi` today). A program written against the official
//! `extism` crate ports by changing the dependency and the `use` line:
//!
//! ```no_run
//! use xtism::*;
//!
//! let wasm = std::fs::read("count_vowels.wasm")?;
//! let mut plugin = Plugin::new(&wasm, [], false)?;
//! let out: String = plugin.call("count_vowels", "Hello, World!")?;
//! println!("{out}");
//! # Ok::<(), xtism::Error>(())
//! ```
//!
//! The engine is chosen by [`PluginBuilder::with_engine`] (see [`engine()`]), else by the
//! `XTISM_ENGINE` environment variable, else the default: the fastest one compiled in.

#![deny(missing_docs)]

use std::sync::Arc;

pub use xtism_core::*;

/// Names of the engines compiled into this build, fastest first.
pub const ENGINES: &[&str] = &[
    #[cfg(feature = "wasmi")]
    "wasmi",
];

/// Environment variable naming the default engine.
pub const ENGINE_ENV: &str = "XTISM_ENGINE";

/// The engine called `name` (`wasmtime`, `wasmi`, `wasmer`), if compiled in. Engines are
/// made once per process and shared.
pub fn engine(name: &str) -> Result<Arc<dyn Engine>, Error> {
    match name {
        #[cfg(feature = "wasmi")]
        "wasmi" => {
            static WASMI: std::sync::OnceLock<Arc<dyn Engine>> = std::sync::OnceLock::new();
            Ok(Arc::clone(
                WASMI.get_or_init(|| Arc::new(xtism_wasmi::WasmiEngine::new())),
            ))
        }
        _ => Err(Error::Invalid(format!(
            "unknown engine {name:?}; this build has: {}",
            ENGINES.join(", ")
        ))),
    }
}

/// The engine named by `XTISM_ENGINE`, else the fastest one compiled in.
pub fn default_engine() -> Result<Arc<dyn Engine>, Error> {
    match std::env::var(ENGINE_ENV) {
        Ok(name) if !name.is_empty() => engine(&name),
        _ => match ENGINES.first() {
            Some(name) => engine(name),
            None => Err(Error::Invalid(
                "this build of xtism has no engine: enable a feature (wasmtime, wasmi, wasmer)"
                    .into(),
            )),
        },
    }
}

/// The [`EngineProvider`] of this crate: picks [`default_engine`].
#[derive(Debug)]
pub struct Engines;

impl EngineProvider for Engines {
    fn default_engine() -> Result<Arc<dyn Engine>, Error> {
        default_engine()
    }
}

/// A running plug-in on the engine [`default_engine`] picks, unless the builder chose one.
pub type Plugin = xtism_core::Plugin<Engines>;

/// Builds a [`Plugin`] or a [`CompiledPlugin`].
pub type PluginBuilder<'a> = xtism_core::PluginBuilder<'a, Engines>;
