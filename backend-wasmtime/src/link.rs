//! Linking: a [`LinkPlan`] as a [`WasmtimeLinked`], everything an instantiation needs that
//! does not depend on the store. Core's host imports, the user's functions and WASI are
//! defined once in a wasmtime [`Linker`] (see [`crate::host`]), and each module's imports
//! are planned by source.

use std::collections::HashSet;
use std::sync::Arc;

use wasmtime::{Linker, ModuleExport};
use xtism_core::XtismError;
use xtism_core::engine::KERNEL_MEMORY_EXPORT;
use xtism_core::engine::{CompileOptions, ImportSource, KernelMemory, LinkPlan, ResourceLimits};
use xtism_core::engine::{MODULE_MEMORY_EXPORT, Ticker};

use crate::NAME;
use crate::engine::ConfiguredEngine;
use crate::host::{
    USER_FUNCTIONS, WASI_FUNCTIONS, define_host_import, define_user_function, define_wasi_import,
};
use crate::module::WasmtimeModule;
use crate::store::StoreData;

/// Where one import comes from when instantiating.
pub(crate) enum PlannedImport {
    /// An export of the kernel (`index` None) or of an earlier module of the plan.
    Instance {
        index: Option<usize>,
        export: ModuleExport,
    },
    /// A host function defined in the linker under this module and name.
    Linker(Box<str>, Box<str>),
}

/// Defines a host function in a linker under a namespace and a name.
type Define<'a> = dyn Fn(&mut Linker<StoreData>, &str, &str) -> Result<(), XtismError> + 'a;

/// Where a [`WasmtimeLinked`]'s kernel memory comes from.
pub(crate) enum KernelPlace {
    /// The configured engine's kernel module, instantiated first.
    Instance,
    /// This export of the main module.
    MainExport(ModuleExport),
}

/// A module of the plan, with the source of each of its imports.
pub(crate) struct LinkedModule {
    pub(crate) module: wasmtime::Module,
    pub(crate) imports: Vec<PlannedImport>,
}

/// A plug-in linked for wasmtime.
pub(crate) struct WasmtimeLinked {
    pub(crate) configured: Arc<ConfiguredEngine>,
    pub(crate) ticker: Arc<Ticker>,
    pub(crate) linker: Linker<StoreData>,
    pub(crate) modules: Vec<LinkedModule>,
    /// Each module's `memory` export, in link-plan order.
    pub(crate) memories: Vec<Option<ModuleExport>>,
    /// Where the kernel memory comes from.
    pub(crate) kernel: KernelPlace,
    pub(crate) limits: ResourceLimits,
    pub(crate) fuel: bool,
    pub(crate) interruptible: bool,
    /// Whether a module imports an async host function: wasmtime then asks for async
    /// instantiation.
    pub(crate) async_functions: bool,
}

impl WasmtimeLinked {
    /// Links `plan` for `configured`, a configured engine: defines its host imports in a
    /// linker once and plans where each module's imports come from.
    pub(crate) fn new(
        configured: &Arc<ConfiguredEngine>,
        ticker: &Arc<Ticker>,
        plan: LinkPlan,
        options: &CompileOptions,
    ) -> Result<WasmtimeLinked, XtismError> {
        let engine = &configured.engine;
        let mut linker: Linker<StoreData> = Linker::new(engine);
        let mut defined: HashSet<(String, String)> = HashSet::new();
        // Defines a host function in the linker under `key` unless it already is, and plans
        // the import from there.
        let mut define_once = |key: (String, String), define: &Define<'_>| {
            if defined.insert(key.clone()) {
                define(&mut linker, &key.0, &key.1)?;
            }
            Ok::<_, XtismError>(PlannedImport::Linker(key.0.into(), key.1.into()))
        };
        let mut async_functions = false;
        let mut modules: Vec<LinkedModule> = Vec::with_capacity(plan.modules.len());
        for (module_index, planned) in plan.modules.iter().enumerate() {
            let module = planned.compiled::<WasmtimeModule>(NAME, |m| {
                wasmtime::Engine::same(m.module.engine(), engine)
            })?;
            let mut imports = Vec::with_capacity(planned.imports.len());
            for (source, import) in planned.imports.iter().zip(module.module.imports()) {
                let missing = || {
                    XtismError::Invalid(format!(
                        "the link plan names an import that does not exist: {}::{}",
                        import.module(),
                        import.name()
                    ))
                };
                imports.push(match source {
                    ImportSource::Kernel(name) => PlannedImport::Instance {
                        index: None,
                        export: *configured.kernel_exports.get(name).ok_or_else(missing)?,
                    },
                    ImportSource::Host(host) => define_once(
                        (import.module().into(), import.name().into()),
                        &|linker, module, name| define_host_import(linker, module, name, *host),
                    )?,
                    // Bound per importing module: WASI works on that module's memory.
                    ImportSource::Wasi(wasi) => define_once(
                        (format!("{WASI_FUNCTIONS}{module_index}"), wasi.name.into()),
                        &|linker, namespace, _| {
                            define_wasi_import(linker, namespace, *wasi, module_index)
                        },
                    )?,
                    ImportSource::Function(index) => {
                        let function = plan.functions.get(*index).ok_or_else(missing)?;
                        async_functions |= function.is_async();
                        define_once(
                            (USER_FUNCTIONS.into(), index.to_string()),
                            &|linker, _, name| define_user_function(linker, name, function),
                        )?
                    }
                    ImportSource::Module { index, name } => {
                        let provider: &LinkedModule = modules.get(*index).ok_or_else(missing)?;
                        PlannedImport::Instance {
                            index: Some(*index),
                            export: provider.module.get_export_index(name).ok_or_else(missing)?,
                        }
                    }
                });
            }
            if imports.len() != planned.module.imports().len() {
                return Err(XtismError::Invalid(format!(
                    "the link plan of module {} has {} imports for {}",
                    planned.name,
                    imports.len(),
                    planned.module.imports().len()
                )));
            }
            modules.push(LinkedModule {
                module: module.module.clone(),
                imports,
            });
        }
        if modules.is_empty() {
            return Err(XtismError::Invalid("the link plan has no modules".into()));
        }
        let memories = modules
            .iter()
            .map(|m| m.module.get_export_index(MODULE_MEMORY_EXPORT))
            .collect();
        let kernel = match plan.kernel_memory {
            KernelMemory::Instance => KernelPlace::Instance,
            KernelMemory::MainExport => KernelPlace::MainExport(
                modules
                    .last()
                    .and_then(|m| m.module.get_export_index(KERNEL_MEMORY_EXPORT))
                    .ok_or_else(|| {
                        XtismError::Invalid("the main module exports no kernel memory".into())
                    })?,
            ),
        };
        let limits = plan.limits;
        Ok(WasmtimeLinked {
            configured: Arc::clone(configured),
            ticker: Arc::clone(ticker),
            linker,
            modules,
            memories,
            kernel,
            limits,
            fuel: options.fuel,
            interruptible: options.interruptible,
            async_functions,
        })
    }
}
