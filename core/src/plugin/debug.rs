//! Debugging switches of a plug-in ([`DebugOptions`]): debug info, a native profiler, core
//! dumps and memory dumps, set by the builder or read from the official runtime's
//! environment variables, and kept only where the engine supports them.

use std::path::PathBuf;

use crate::engine::{Engine, Profiling};
use crate::error::XtismError;

/// Debugging switches of a plug-in, as the official runtime's `DebugOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DebugOptions {
    /// Emit debug info in compiled code (JIT engines).
    pub debug_info: bool,
    /// Emit information for a native profiler (JIT engines).
    pub profiling: Profiling,
    /// When a call traps, write a Wasm core dump of the plug-in's store to this file
    /// (engines with the `coredump` capability: wasmtime).
    pub coredump: Option<PathBuf>,
    /// When a call fails, write the plug-in's exported memory to this file.
    pub memdump: Option<PathBuf>,
    /// Set from the environment: an engine without a feature asked for says so on stderr
    /// and goes on, where an explicit request is refused with [`XtismError::Unsupported`].
    from_env: bool,
}

impl DebugOptions {
    /// The switches the official runtime reads from the environment: `EXTISM_DEBUG=1`
    /// (debug info), `EXTISM_PROFILE=perf|jitdump|vtune`, `EXTISM_COREDUMP=<file>`,
    /// `EXTISM_MEMDUMP=<file>`.
    pub fn from_env() -> DebugOptions {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        DebugOptions {
            debug_info: var("EXTISM_DEBUG").is_some_and(|v| v != "0"),
            profiling: match var("EXTISM_PROFILE").as_deref() {
                Some("perf") => Profiling::Perf,
                Some("jitdump") => Profiling::JitDump,
                Some("vtune") => Profiling::VTune,
                _ => Profiling::None,
            },
            coredump: var("EXTISM_COREDUMP").map(PathBuf::from),
            memdump: var("EXTISM_MEMDUMP").map(PathBuf::from),
            from_env: true,
        }
    }

    /// These switches as asked for explicitly (by the builder): a missing one is refused.
    pub(super) fn explicit(mut self) -> DebugOptions {
        self.from_env = false;
        self
    }

    /// Keeps the switches the engine supports. A missing one is an error when asked for
    /// explicitly; from the environment it is dropped with one line on stderr per engine
    /// and switch.
    pub(super) fn for_engine(mut self, engine: &dyn Engine) -> Result<DebugOptions, XtismError> {
        let caps = engine.capabilities();
        let missing = [
            ("debug info".to_owned(), self.debug_info && !caps.debug_info),
            (
                format!("profiling ({:?})", self.profiling),
                self.profiling != Profiling::None && !caps.profiling,
            ),
            (
                "core dumps".to_owned(),
                self.coredump.is_some() && !caps.coredump,
            ),
        ];
        for (feature, _) in missing.iter().filter(|(_, missing)| *missing) {
            if !self.from_env {
                return Err(XtismError::Unsupported {
                    engine: engine.name(),
                    feature: feature.clone(),
                });
            }
            warn_once(engine.name(), feature);
        }
        self.debug_info &= caps.debug_info;
        if !caps.profiling {
            self.profiling = Profiling::None;
        }
        if !caps.coredump {
            self.coredump = None;
        }
        Ok(self)
    }
}

/// Prints, once per process for each engine and switch, that the engine ignores a debugging
/// switch set in the environment.
fn warn_once(engine: &str, feature: &str) {
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let key = format!("{engine}: {feature}");
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.contains(&key) {
        eprintln!(
            "xtism: the {engine} engine does not support {feature}; ignoring the environment's request"
        );
        said.push(key);
    }
}
