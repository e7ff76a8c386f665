//! The engine: [`WasmiEngine`], its two wasmi engines (with and without fuel metering,
//! each with core's kernel compiled for it), and core's [`Engine`] trait over them.

use std::sync::{Arc, OnceLock};

use wasmi::Config;
use xtism_core::XtismError;
use xtism_core::engine::{
    Capabilities, CompileOptions, CompiledModule, Engine, Export, Import, KERNEL_WASM,
    KernelMemory, LinkPlan, Linked, Module,
};

use crate::convert::{extern_kind, func_type};
use crate::link::WasmiLinked;
use crate::{NAME, select_fix};

/// One wasmi engine with the kernel module compiled for it.
struct ConfiguredEngine {
    engine: wasmi::Engine,
    kernel: wasmi::Module,
}

impl ConfiguredEngine {
    fn new(fuel: bool) -> Result<ConfiguredEngine, XtismError> {
        let mut config = Config::default();
        config.consume_fuel(fuel);
        if fuel {
            // Translated lazily, a function is translated at its first call and the call pays
            // fuel for it; when what is left of a slice cannot pay, wasmi fails the call with
            // an out-of-fuel error it cannot resume (a call with no fuel limit failed so).
            config.compilation_mode(wasmi::CompilationMode::Eager);
        }
        let engine = wasmi::Engine::new(&config);
        let kernel = wasmi::Module::new(&engine, KERNEL_WASM).map_err(XtismError::engine)?;
        Ok(ConfiguredEngine { engine, kernel })
    }
}

/// The wasmi engine. Modules compiled with and without fuel metering use two wasmi engines
/// (wasmi fixes metering per engine); each is made on first use. Metering serves both fuel
/// budgets and deadlines: a call with a deadline runs in slices of [`SLICE`](crate::SLICE) fuel and checks
/// the clock between slices.
#[derive(Default)]
pub struct WasmiEngine {
    plain: OnceLock<ConfiguredEngine>,
    fueled: OnceLock<ConfiguredEngine>,
}

impl std::fmt::Debug for WasmiEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WasmiEngine")
    }
}

impl WasmiEngine {
    /// A wasmi engine.
    pub fn new() -> Self {
        WasmiEngine::default()
    }

    fn configured(&self, metered: bool) -> Result<&ConfiguredEngine, XtismError> {
        let cell = if metered { &self.fueled } else { &self.plain };
        if let Some(v) = cell.get() {
            return Ok(v);
        }
        let v = ConfiguredEngine::new(metered)?;
        Ok(cell.get_or_init(|| v))
    }
}

/// A module compiled by wasmi, and whether it is metered.
struct WasmiModule {
    pub(crate) module: wasmi::Module,
    pub(crate) metered: bool,
}

/// Whether modules compiled with `options` need fuel metering.
pub(crate) fn metered(options: &CompileOptions) -> bool {
    options.fuel || options.interruptible
}

impl Engine for WasmiEngine {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::NONE;
        caps.fuel = true;
        caps.timeout = true;
        caps.cancel = true;
        caps.async_calls = true;
        caps
    }

    /// A wasmi engine of the plug-in's own: wasmi keeps compiled code as long as its engine
    /// (the code map only grows), so a process-wide engine would hold the code of every
    /// plug-in ever compiled. The plug-in's engine goes with its last module.
    fn for_plugin(&self) -> Option<Arc<dyn Engine>> {
        Some(Arc::new(WasmiEngine::new()))
    }

    fn compile(
        &self,
        name: &str,
        wasm: &[u8],
        options: &CompileOptions,
    ) -> Result<Arc<dyn Module>, XtismError> {
        let metered = metered(options);
        let configured = self.configured(metered)?;
        let unfused = select_fix::unfuse_selects(wasm);
        let wasm = unfused.as_deref().unwrap_or(wasm);
        let module =
            wasmi::Module::new(&configured.engine, wasm).map_err(|e| XtismError::Compile {
                module: name.to_owned(),
                message: e.to_string(),
            })?;
        let imports = module
            .imports()
            .map(|i| Import::new(i.module(), i.name(), extern_kind(i.ty())))
            .collect();
        let exports = module
            .exports()
            .map(|e| Export::new(e.name(), extern_kind(e.ty())))
            .collect();
        Ok(Arc::new(CompiledModule::new(
            WasmiModule { module, metered },
            imports,
            exports,
        )))
    }

    fn link(
        &self,
        plan: LinkPlan,
        options: &CompileOptions,
    ) -> Result<Box<dyn Linked>, XtismError> {
        let metered = metered(options);
        let configured = self.configured(metered)?;
        let mut modules = Vec::with_capacity(plan.modules.len());
        for planned in &plan.modules {
            let module = planned.compiled::<WasmiModule>(NAME, |m| m.metered == metered)?;
            modules.push((module.module.clone(), planned.imports.clone()));
        }
        Ok(Box::new(WasmiLinked {
            engine: configured.engine.clone(),
            kernel: (plan.kernel_memory == KernelMemory::Instance)
                .then(|| configured.kernel.clone()),
            modules,
            functions: plan
                .functions
                .into_iter()
                .map(|f| (func_type(f.ty().params(), f.ty().results()), Arc::new(f)))
                .collect(),
            limits: plan.limits,
            metered,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each plug-in gets a wasmi engine of its own, which goes with it: a shared engine
    /// would keep the code of every plug-in ever compiled (measured: about 57 KB per
    /// count_vowels plug-in, never returned).
    #[test]
    fn each_plugin_has_an_engine_of_its_own() {
        let shared = WasmiEngine::new();
        let a = shared.for_plugin().expect("an engine per plug-in");
        let b = shared.for_plugin().expect("an engine per plug-in");
        assert!(!Arc::ptr_eq(&a, &b));
    }
}
