//! Linking and instantiating: [`WasmerLinked`] holds the modules, where their imports come
//! from, and an engine whose tunables apply the plug-in's limits; instantiating makes a store,
//! the kernel instance (unless the main module holds the kernel memory) and one instance per
//! module, and collects where the memories are and what the middlewares added to each module
//! (interruption flags, fuel meters).

use std::collections::HashMap;
use std::sync::Arc;

use wasmer::sys::NativeEngineExt;
use wasmer::{
    Extern, FunctionEnv, Global, Instance as WasmerInstance, InstantiationError, LinkError, Store,
};
use xtism_core::XtismError;
use xtism_core::engine::{
    ImportSource, Instance, InstantiateError, KERNEL_MEMORY_EXPORT, KERNEL_MODULE_MEMORY,
    KernelMemory, LinkPlan, Linked, MODULE_MEMORY_EXPORT, Module, PluginState, WatchedInstance,
};

use crate::convert::function_type;
use crate::host::{UserFunction, host_function, user_function, wasi_function};
use crate::instance::{WasmerPlugin, trap_error};
use crate::interrupt::{FLAG_EXPORT, Flags};
use crate::limits;
use crate::raw::{Flag, LimitingTunables, MemorySpan, SendStore};
use crate::store::StoreData;
use crate::{Config, METERING_EXHAUSTED, METERING_REMAINING, NAME, WasmerModule};

/// One module of a linked plug-in.
pub(crate) struct LinkedModule {
    module: wasmer::Module,
    sources: Vec<ImportSource>,
    /// Keeps the module's code (and the engine holding it) alive.
    _compiled: Arc<dyn Module>,
}

/// A plug-in linked for wasmer: modules and where their imports come from.
pub(crate) struct WasmerLinked {
    engine: wasmer::Engine,
    /// The kernel module, when the kernel memory lives in an instance of it.
    kernel: Option<wasmer::Module>,
    config: Config,
    modules: Arc<[LinkedModule]>,
    functions: Vec<UserFunction>,
}

impl WasmerLinked {
    /// Checks that every module of `plan` was compiled by this engine for `config`. The
    /// plug-in's stores come from `engine` with tunables that apply the plan's limits.
    pub(crate) fn new(
        mut engine: wasmer::Engine,
        kernel: wasmer::Module,
        config: Config,
        plan: LinkPlan,
    ) -> Result<WasmerLinked, XtismError> {
        let mut modules = Vec::with_capacity(plan.modules.len());
        for planned in plan.modules {
            let module = planned
                .compiled::<WasmerModule>(NAME, |m| m.config == config)?
                .module
                .clone();
            modules.push(LinkedModule {
                module,
                sources: planned.imports,
                _compiled: planned.module,
            });
        }
        let functions = plan
            .functions
            .into_iter()
            .map(|f| {
                (
                    function_type(f.ty().params(), f.ty().results()),
                    Arc::new(f),
                )
            })
            .collect();
        engine.set_tunables(LimitingTunables::new(plan.limits));
        Ok(WasmerLinked {
            engine,
            kernel: (plan.kernel_memory == KernelMemory::Instance).then_some(kernel),
            config,
            modules: modules.into(),
            functions,
        })
    }

    fn try_instantiate(
        &self,
        store: &mut Store,
        env: &FunctionEnv<StoreData>,
    ) -> Result<(Vec<WasmerInstance>, Instrumented), XtismError> {
        let kernel = match &self.kernel {
            Some(module) => {
                Some(WasmerInstance::new_by_index(store, module, &[]).map_err(instantiate_error)?)
            }
            None => None,
        };
        let mut parts = Instrumented::default();
        let mut instances: Vec<WasmerInstance> = Vec::with_capacity(self.modules.len());
        for (index, linked) in self.modules.iter().enumerate() {
            let mut externs = Vec::with_capacity(linked.sources.len());
            for source in &linked.sources {
                let ext = match source {
                    ImportSource::Wasi(import) => {
                        Some(Extern::Function(wasi_function(store, env, *import, index)))
                    }
                    ImportSource::Kernel(name) => kernel
                        .as_ref()
                        .and_then(|k| k.exports.get_extern(name))
                        .cloned(),
                    ImportSource::Host(import) => {
                        Some(Extern::Function(host_function(store, env, *import)))
                    }
                    ImportSource::Function(index) => self
                        .functions
                        .get(*index)
                        .map(|f| Extern::Function(user_function(store, env, f))),
                    ImportSource::Module { index, name } => instances
                        .get(*index)
                        .and_then(|i| i.exports.get_extern(name))
                        .cloned(),
                };
                externs.push(ext.ok_or_else(|| {
                    XtismError::Invalid("the link plan names an import that does not exist".into())
                })?);
            }
            let instance = WasmerInstance::new_by_index(store, &linked.module, &externs)
                .map_err(instantiate_error)?;
            parts.add(store, &instance, self.config)?;
            let memory = memory_span(store, &instance, MODULE_MEMORY_EXPORT);
            env.as_mut(store).memories.push(memory);
            instances.push(instance);
        }
        let (holder, name) = match (&kernel, instances.last()) {
            (Some(kernel), _) => (kernel, KERNEL_MODULE_MEMORY),
            (None, Some(main)) => (main, KERNEL_MEMORY_EXPORT),
            (None, None) => return Err(XtismError::Invalid("the link plan has no modules".into())),
        };
        let memory = holder.exports.get_memory(name).ok().cloned();
        parts.kernel_span = memory.as_ref().and_then(|m| MemorySpan::of(store, m));
        let data = env.as_mut(store);
        data.kernel = memory;
        data.kernel_span = parts.kernel_span;
        if self.config.interruptible {
            parts.watched = Some(WatchedInstance::new(Flags(std::mem::take(
                &mut parts.flags,
            ))));
        }
        Ok((instances, parts))
    }
}

/// Where the memory `instance` exports as `name` is, if it exports one.
fn memory_span(store: &mut Store, instance: &WasmerInstance, name: &str) -> Option<MemorySpan> {
    let memory = instance.exports.get_memory(name).ok()?;
    MemorySpan::of(store, memory)
}

/// What an instance needs besides its store and main instance: the memories, and the
/// globals the middlewares added to each plug-in module.
#[derive(Default)]
struct Instrumented {
    /// Where the kernel memory's bytes are.
    kernel_span: Option<MemorySpan>,
    flags: Vec<Flag>,
    /// The instance as the watchdog sees it, when its modules are interruptible.
    watched: Option<WatchedInstance>,
    flag_globals: Vec<Global>,
    meters: Vec<Meter>,
}

/// The metering globals of one module instance.
pub(crate) struct Meter {
    pub(crate) remaining: Global,
    pub(crate) exhausted: Global,
}

impl Instrumented {
    fn add(
        &mut self,
        store: &mut Store,
        instance: &WasmerInstance,
        config: Config,
    ) -> Result<(), XtismError> {
        let global = |name: &str| {
            instance.exports.get_global(name).cloned().map_err(|_| {
                XtismError::engine(format!("an instrumented module lacks its {name} global"))
            })
        };
        if config.interruptible {
            let flag = global(FLAG_EXPORT)?;
            self.flags.push(Flag::of(store, &flag).ok_or_else(|| {
                XtismError::engine("the interruption flag of a module is in another store")
            })?);
            self.flag_globals.push(flag);
        }
        if config.fuel {
            self.meters.push(Meter {
                remaining: global(METERING_REMAINING)?,
                exhausted: global(METERING_EXHAUSTED)?,
            });
        }
        Ok(())
    }
}

/// A failed instantiation in core's terms: a memory or table the tunables refused is a
/// memory limit (core refuses those before linking; this is the backstop).
fn instantiate_error(e: InstantiationError) -> XtismError {
    match e {
        InstantiationError::Link(LinkError::Resource(message)) => XtismError::MemoryLimit(message),
        InstantiationError::Start(e) => trap_error(e),
        other => XtismError::engine(other),
    }
}

impl Linked for WasmerLinked {
    fn instantiate(&self, state: PluginState) -> Result<Box<dyn Instance>, InstantiateError> {
        let mut store = Store::new(self.engine.clone());
        let budget = Arc::clone(state.memory_budget());
        let data = StoreData {
            state: Some(state),
            kernel: None,
            kernel_span: None,
            memories: Vec::with_capacity(self.modules.len()),
        };
        let env = FunctionEnv::new(&mut store, data);
        let instantiated =
            limits::instantiating(&budget, || self.try_instantiate(&mut store, &env));
        let (mut instances, parts) = match instantiated {
            Ok(instantiated) => instantiated,
            Err(error) => {
                let state = env.as_mut(&mut store).state.take();
                return Err(InstantiateError {
                    error,
                    state: Box::new(state.expect("the state is in the store until here")),
                });
            }
        };
        let main = instances
            .pop()
            .expect("try_instantiate makes one instance per module");
        Ok(Box::new(WasmerPlugin {
            store: SendStore(store),
            env,
            main,
            dependencies: instances,
            kernel_span: parts.kernel_span,
            exports: HashMap::new(),
            watched: parts.watched,
            flag_globals: parts.flag_globals,
            meters: parts.meters,
            fuel_consumed: None,
            _modules: Arc::clone(&self.modules),
        }))
    }
}
