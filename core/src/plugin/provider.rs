//! Choosing the engine when the caller names none: [`EngineProvider`], and core's own
//! [`NoDefaultEngine`], which knows no engine (the `xtism` facade provides one that knows the
//! compiled-in backends).

use std::sync::Arc;

use crate::engine::Engine;
use crate::error::Error;
use crate::error::XtismError;

/// Chooses the engine when the caller names none. The `xtism` facade crate provides one
/// that knows the compiled-in backends; core alone knows none.
pub trait EngineProvider: 'static {
    /// The engine to use by default.
    fn default_engine() -> Result<Arc<dyn Engine>, Error>;
}

/// The [`EngineProvider`] of core alone: every builder must name its engine.
#[derive(Debug)]
pub struct NoDefaultEngine;

impl EngineProvider for NoDefaultEngine {
    fn default_engine() -> Result<Arc<dyn Engine>, Error> {
        Err(XtismError::Invalid(
            "no engine chosen: call PluginBuilder::with_engine, or use the xtism crate".into(),
        )
        .into())
    }
}
