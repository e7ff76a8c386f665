//! The Plugin API: [`PluginBuilder`], [`CompiledPlugin`] and [`Plugin`].
//!
//! This is where Extism's call protocol lives: resolving the manifest, linking imports,
//! initializing the guest runtime once, placing the input, running the export, turning
//! traps, return codes and `error_set` messages into [`XtismError`](crate::XtismError)s, and handing
//! out the output. Engines only execute.
//!
//! One idea per file: choosing the default engine (`provider`), what a plug-in is made from
//! (`input`), debugging switches (`debug`), the builder (`builder`), link planning (`link`), what a
//! plug-in makes in its store (`resources`),
//! guest initialisation (`init`), the compiled plug-in (`compiled`), cancellation
//! (`cancel`), the plug-in's lifecycle (`lifecycle`) and the call (`call`).

mod builder;
mod call;
mod cancel;
mod compiled;
mod debug;
mod init;
mod input;
mod lifecycle;
mod link;
mod provider;
mod resources;

pub use builder::{DEFAULT_YIELD_EVERY, PluginBuilder};
pub use cancel::CancelHandle;
pub use compiled::CompiledPlugin;
pub use debug::DebugOptions;
pub use init::guest_initializers;
pub use input::WasmInput;
pub use lifecycle::Plugin;
pub use provider::{EngineProvider, NoDefaultEngine};

/// Name of the main module of a plug-in.
pub const MAIN_MODULE: &str = "main";
