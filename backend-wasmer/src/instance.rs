//! Linking and running: a [`LinkPlan`] materialized as wasmer externs, one wasmer store per
//! plug-in instance, calls under fuel and interruption, and core's [`HostAccess`] over the
//! store (between calls) and over a host function's environment (inside a call).

use std::collections::HashMap;
use std::sync::Arc;

use wasmer::{
    AsStoreMut, Extern, Function, FunctionEnv, FunctionEnvMut, FunctionType, Global,
    Instance as WasmerInstance, InstantiationError, LinkError, Memory, RuntimeError, Store, Type,
    TypedFunction, Value,
};
use wasmer_types::TrapCode as WasmerTrap;
use xtism_core::XtismError;
use xtism_core::engine::{
    CallLimits, CompiledModule, DynamicInvoke, ExportShape, Frame, HostAccess, HostTrap,
    ImportSource, Instance, InstantiateError, KernelMemory, LinkPlan, Linked, Module,
    ResourceLimits, TrapCode, WasiImport, format_backtrace,
};
use xtism_core::engine::{HostImport, KERNEL_MEMORY_EXPORT, PluginState, Val, ValType};
use xtism_core::engine::{KERNEL_MODULE_MEMORY, MODULE_MEMORY_EXPORT};

use crate::interrupt::{FLAG_EXPORT, WatchedInstance};
use crate::limits::Budget;
use crate::raw::{self, Flag, MemorySpan, SendStore};
use crate::{Config, METERING_EXHAUSTED, METERING_REMAINING, NAME, WasmerModule, wasmer_type};

/// What a store's host functions reach: core's state and the memories host calls need.
pub(crate) struct StoreData {
    /// Always present, except after [`Instance::into_state`] took it out (wasmer cannot
    /// hand back a store's data by value).
    state: Option<PluginState>,
    /// The kernel memory, to grow it.
    kernel: Option<Memory>,
    /// Where its bytes are, to read and write them.
    kernel_span: Option<MemorySpan>,
    /// Each module's exported `memory`, in link-plan order (the last is main's).
    memories: Vec<Option<Memory>>,
}

impl StoreData {
    fn state(&mut self) -> &mut PluginState {
        self.state
            .as_mut()
            .expect("the plug-in state is only taken out of a store being dropped")
    }

    fn shared_state(&self) -> &PluginState {
        self.state
            .as_ref()
            .expect("the plug-in state is only taken out of a store being dropped")
    }
}

/// A memory's bytes (when there is a memory) and the plug-in state, borrowed together from
/// `store` for as long as it is.
fn memory_and_state<'a>(
    store: &'a mut impl AsStoreMut,
    env: &FunctionEnv<StoreData>,
    which: impl FnOnce(&StoreData) -> Option<&Memory>,
) -> (Option<&'a mut [u8]>, &'a mut PluginState) {
    let memory = which(env.as_ref(&*store)).cloned();
    let (bytes, data) = raw::memory_and_data(store, env, memory.as_ref());
    (bytes, data.state())
}

/// The kernel memory's bytes (where `span` says they are) and the plug-in state, borrowed
/// together from `store`.
fn kernel_and_state<'a>(
    store: &'a mut impl AsStoreMut,
    env: &FunctionEnv<StoreData>,
    span: Option<MemorySpan>,
) -> (&'a mut [u8], &'a mut PluginState) {
    match span {
        Some(span) => {
            let (bytes, data) = raw::span_and_data(store, env, span);
            (bytes, data.state())
        }
        // Only before the kernel is instantiated; no block can exist yet.
        None => (&mut [], env.as_mut(store).state()),
    }
}

/// Grows the kernel memory of the store by `pages`.
fn grow_kernel(store: &mut impl AsStoreMut, env: &FunctionEnv<StoreData>, pages: u64) -> bool {
    match (env.as_ref(&*store).kernel.clone(), u32::try_from(pages)) {
        (Some(memory), Ok(pages)) => memory.grow(store, pages).is_ok(),
        _ => false,
    }
}

/// [`HostAccess`] inside a host call.
struct EnvAccess<'a>(FunctionEnvMut<'a, StoreData>);

impl HostAccess for EnvAccess<'_> {
    fn shared_state(&self) -> &PluginState {
        self.0.data().shared_state()
    }

    fn kernel(&mut self) -> (&mut [u8], &mut PluginState) {
        let env = self.0.as_ref();
        let span = self.0.data().kernel_span;
        kernel_and_state(&mut self.0, &env, span)
    }

    fn grow_kernel(&mut self, pages: u64) -> bool {
        let env = self.0.as_ref();
        grow_kernel(&mut self.0, &env, pages)
    }

    fn plugin_memory(&mut self) -> Option<&mut [u8]> {
        let env = self.0.as_ref();
        memory_and_state(&mut self.0, &env, |d| d.memories.last()?.as_ref()).0
    }

    fn module_memory(&mut self, module: usize) -> (Option<&mut [u8]>, &mut PluginState) {
        let env = self.0.as_ref();
        memory_and_state(&mut self.0, &env, |d| d.memories.get(module)?.as_ref())
    }

    fn state(&mut self) -> &mut PluginState {
        self.0.data_mut().state()
    }
}

/// [`HostAccess`] between calls.
impl HostAccess for WasmerPlugin {
    fn shared_state(&self) -> &PluginState {
        self.env.as_ref(&self.store.0).shared_state()
    }

    fn kernel(&mut self) -> (&mut [u8], &mut PluginState) {
        kernel_and_state(&mut self.store.0, &self.env, self.kernel_span)
    }

    fn grow_kernel(&mut self, pages: u64) -> bool {
        grow_kernel(&mut self.store.0, &self.env, pages)
    }

    fn plugin_memory(&mut self) -> Option<&mut [u8]> {
        memory_and_state(&mut self.store.0, &self.env, |d| {
            d.memories.last()?.as_ref()
        })
        .0
    }

    fn module_memory(&mut self, module: usize) -> (Option<&mut [u8]>, &mut PluginState) {
        memory_and_state(&mut self.store.0, &self.env, |d| {
            d.memories.get(module)?.as_ref()
        })
    }

    fn state(&mut self) -> &mut PluginState {
        self.env.as_mut(&mut self.store.0).state()
    }
}

/// Turns a failing host call into a wasmer trap; core keeps the real error.
fn trap(e: HostTrap) -> RuntimeError {
    RuntimeError::user(Box::new(e))
}

fn to_core(value: &Value) -> Result<Val, XtismError> {
    Ok(match value {
        Value::I32(v) => Val::I32(*v),
        Value::I64(v) => Val::I64(*v),
        Value::F32(v) => Val::F32(v.to_bits()),
        Value::F64(v) => Val::F64(v.to_bits()),
        Value::V128(v) => Val::V128(*v),
        Value::FuncRef(None) => Val::FuncRef,
        Value::ExternRef(None) => Val::ExternRef,
        other => {
            return Err(XtismError::Unsupported {
                engine: NAME,
                feature: format!("passing {other:?} to a host function"),
            });
        }
    })
}

fn to_wasmer(val: &Val) -> Value {
    match val {
        Val::I32(v) => Value::I32(*v),
        Val::I64(v) => Value::I64(*v),
        Val::F32(v) => Value::F32(f32::from_bits(*v)),
        Val::F64(v) => Value::F64(f64::from_bits(*v)),
        Val::V128(v) => Value::V128(*v),
        Val::FuncRef => Value::FuncRef(None),
        Val::ExternRef => Value::ExternRef(None),
    }
}

/// A kernel import implemented in core, bound with wasmer's typed-function API.
fn host_function(store: &mut Store, env: &FunctionEnv<StoreData>, import: HostImport) -> Function {
    type Env<'a> = FunctionEnvMut<'a, StoreData>;
    match import {
        HostImport::I64ToI64(f) => {
            Function::new_typed_with_env(store, env, move |e: Env, a: i64| f(&mut EnvAccess(e), a))
        }
        HostImport::I64ToNone(f) => {
            Function::new_typed_with_env(store, env, move |e: Env, a: i64| f(&mut EnvAccess(e), a))
        }
        HostImport::NoneToI64(f) => {
            Function::new_typed_with_env(store, env, move |e: Env| f(&mut EnvAccess(e)))
        }
        HostImport::NoneToI32(f) => {
            Function::new_typed_with_env(store, env, move |e: Env| f(&mut EnvAccess(e)))
        }
        HostImport::NoneToNone(f) => {
            Function::new_typed_with_env(store, env, move |e: Env| f(&mut EnvAccess(e)))
        }
        HostImport::I64I64ToNone(f) => {
            Function::new_typed_with_env(store, env, move |e: Env, a: i64, b: i64| {
                f(&mut EnvAccess(e), a, b)
            })
        }
        HostImport::I64I64ToI64(f) => {
            Function::new_typed_with_env(store, env, move |e: Env, a: i64, b: i64| {
                f(&mut EnvAccess(e), a, b)
            })
        }
    }
}

/// A user host function with its wasmer type, made once at link time.
type UserFunction = (FunctionType, Arc<xtism_core::Function>);

/// A function with wasmer's dynamic API: the signature known at run time, values converted
/// both ways around `invoke`.
fn dynamic_function(
    store: &mut Store,
    env: &FunctionEnv<StoreData>,
    ty: FunctionType,
    invoke: impl DynamicInvoke,
) -> Function {
    Function::new_with_env(store, env, ty, move |env, params| {
        let mut access = EnvAccess(env);
        let outputs = invoke(&mut access, &mut params.iter().map(to_core)).map_err(trap)?;
        Ok(outputs.iter().map(to_wasmer).collect())
    })
}

/// A user host function (its signature is known at run time only).
fn user_function(
    store: &mut Store,
    env: &FunctionEnv<StoreData>,
    (ty, function): &UserFunction,
) -> Function {
    let function = Arc::clone(function);
    dynamic_function(store, env, ty.clone(), move |host, params| {
        function.invoke_converted(host, params)
    })
}

/// A WASI function of core, bound for the module at `module` in the link plan.
fn wasi_function(
    store: &mut Store,
    env: &FunctionEnv<StoreData>,
    import: WasiImport,
    module: usize,
) -> Function {
    let types =
        |types: &[ValType]| -> Vec<Type> { types.iter().map(|t| wasmer_type(*t)).collect() };
    let ty = FunctionType::new(types(import.params), types(import.results));
    dynamic_function(store, env, ty, move |host, params| {
        import.invoke_converted(host, module, params)
    })
}

/// One module of a linked plug-in.
struct LinkedModule {
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
    limits: ResourceLimits,
}

impl WasmerLinked {
    /// Checks that every module of `plan` was compiled by this engine for `config`.
    pub(crate) fn new(
        engine: wasmer::Engine,
        kernel: wasmer::Module,
        config: Config,
        plan: LinkPlan,
    ) -> Result<WasmerLinked, XtismError> {
        let mut modules = Vec::with_capacity(plan.modules.len());
        for planned in plan.modules {
            let module = CompiledModule::<WasmerModule>::downcast(planned.module.as_ref())
                .filter(|m| m.config == config)
                .ok_or_else(|| {
                    XtismError::Invalid(format!(
                        "module {} was not compiled by this wasmer engine with these options",
                        planned.name
                    ))
                })?
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
                let types = |types: &[ValType]| -> Vec<Type> {
                    types.iter().map(|t| wasmer_type(*t)).collect()
                };
                let ty = FunctionType::new(types(f.ty().params()), types(f.ty().results()));
                (ty, Arc::new(f))
            })
            .collect();
        Ok(WasmerLinked {
            engine,
            kernel: (plan.kernel_memory == KernelMemory::Instance).then_some(kernel),
            config,
            modules: modules.into(),
            functions,
            limits: plan.limits,
        })
    }

    fn try_instantiate(
        &self,
        store: &mut Store,
        env: &FunctionEnv<StoreData>,
    ) -> Result<(Vec<WasmerInstance>, Instrumented), XtismError> {
        let mut parts = Instrumented::default();
        let mut kernel_span = None;
        let budget = Budget::open(self.limits);
        let kernel = match &self.kernel {
            Some(module) => {
                budget.watch_memory(KERNEL_MODULE_MEMORY);
                let kernel =
                    WasmerInstance::new_by_index(store, module, &[]).map_err(instantiate_error)?;
                kernel_span = budget.take_memory();
                Some(kernel)
            }
            None => {
                budget.watch_memory(KERNEL_MEMORY_EXPORT);
                None
            }
        };
        let mut kernel_memory = kernel
            .as_ref()
            .and_then(|k| k.exports.get_memory(KERNEL_MODULE_MEMORY).ok().cloned());
        env.as_mut(store).kernel = kernel_memory.clone();
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
            parts.add(&instance, &budget, self.config)?;
            let memory = instance
                .exports
                .get_memory(MODULE_MEMORY_EXPORT)
                .ok()
                .cloned();
            env.as_mut(store).memories.push(memory);
            instances.push(instance);
        }
        if kernel.is_none() {
            kernel_span = budget.take_memory();
        }
        drop(budget);
        // Only a plug-in of one module is merged (core's link plan), so the watched export
        // can only be that module's; and without the span the kernel memory could not be
        // read at all.
        if kernel.is_none() && self.modules.len() != 1 {
            return Err(XtismError::Invalid(
                "the link plan merges the kernel into one of several modules".into(),
            ));
        }
        let Some(main) = instances.last() else {
            return Err(XtismError::Invalid("the link plan has no modules".into()));
        };
        if kernel.is_none() {
            kernel_memory = main.exports.get_memory(KERNEL_MEMORY_EXPORT).ok().cloned();
            env.as_mut(store).kernel = kernel_memory.clone();
        }
        if kernel_memory.is_some() != kernel_span.is_some() {
            return Err(XtismError::engine(
                "wasmer did not show where the kernel memory lives (Tunables::create_memories)",
            ));
        }
        env.as_mut(store).kernel_span = kernel_span;
        parts.kernel_span = kernel_span;
        if self.config.interruptible {
            parts.watched = Some(WatchedInstance::new(std::mem::take(&mut parts.flags)));
        }
        Ok((instances, parts))
    }
}

/// What an instance needs besides its store and main instance: the memories, and the
/// globals the middlewares added to each plug-in module.
#[derive(Default)]
struct Instrumented {
    /// Where the kernel memory's bytes are.
    kernel_span: Option<MemorySpan>,
    flags: Vec<Flag>,
    /// The instance as the watchdog sees it, when its modules are interruptible.
    watched: Option<Arc<WatchedInstance>>,
    flag_globals: Vec<Global>,
    meters: Vec<Meter>,
}

/// The metering globals of one module instance.
struct Meter {
    remaining: Global,
    exhausted: Global,
}

impl Instrumented {
    fn add(
        &mut self,
        instance: &WasmerInstance,
        budget: &Budget,
        config: Config,
    ) -> Result<(), XtismError> {
        let global = |name: &str| {
            instance.exports.get_global(name).cloned().map_err(|_| {
                XtismError::engine(format!("an instrumented module lacks its {name} global"))
            })
        };
        if config.interruptible {
            let flag = budget.take_flag().ok_or_else(|| {
                XtismError::engine("the interruption flag of a module was not found")
            })?;
            self.flags.push(flag);
            self.flag_globals.push(global(FLAG_EXPORT)?);
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
        let data = StoreData {
            state: Some(state),
            kernel: None,
            kernel_span: None,
            memories: Vec::with_capacity(self.modules.len()),
        };
        let env = FunctionEnv::new(&mut store, data);
        let (mut instances, parts) = match self.try_instantiate(&mut store, &env) {
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

/// An export typed as the [`ExportShape`] core asked for, one variant per shape.
#[derive(Clone)]
enum TypedExport {
    /// `() -> i32`.
    Code(TypedFunction<(), i32>),
    /// `() -> ()`.
    Unit(TypedFunction<(), ()>),
    /// `(i32, i32) -> ()`.
    Args(TypedFunction<(i32, i32), ()>),
}

/// The export `name` of `instance`, typed as `shape`.
fn typed_export(
    store: &Store,
    instance: &WasmerInstance,
    name: &str,
    shape: ExportShape,
) -> Result<TypedExport, XtismError> {
    let func = instance.exports.get_function(name).map_err(|_| {
        XtismError::FunctionNotFound(format!("the module has no function named {name:?}"))
    })?;
    match shape {
        ExportShape::Code => func.typed(store).map(TypedExport::Code),
        ExportShape::Unit => func.typed(store).map(TypedExport::Unit),
        ExportShape::Args(..) => func.typed(store).map(TypedExport::Args),
    }
    .map_err(|_| XtismError::FunctionNotFound(format!("{name:?} is not of shape {shape:?}")))
}

/// A running plug-in on wasmer.
struct WasmerPlugin {
    store: SendStore,
    env: FunctionEnv<StoreData>,
    main: WasmerInstance,
    /// The other modules' instances, in link-plan order.
    dependencies: Vec<WasmerInstance>,
    /// Where the kernel memory's bytes are: the store's data has it too, but reading it
    /// from there costs a store lookup on every access between calls.
    kernel_span: Option<MemorySpan>,
    /// Main-module exports, typed on their first call as core's shape says.
    exports: HashMap<Box<str>, TypedExport>,
    /// The instance as the watchdog sees it, when its modules are interruptible.
    watched: Option<Arc<WatchedInstance>>,
    /// The interruption flags of every plug-in module, to lower them after an interruption.
    flag_globals: Vec<Global>,
    meters: Vec<Meter>,
    fuel_consumed: Option<u64>,
    /// Keeps the modules' code alive as long as the store (declared after it: dropped after).
    _modules: Arc<[LinkedModule]>,
}

/// wasmer's trap as core's code; one core has no code for keeps wasmer's text.
fn trap_code(e: &RuntimeError) -> TrapCode {
    if e.is::<HostTrap>() {
        return TrapCode::Other(HostTrap.to_string());
    }
    match e.clone().to_trap() {
        Some(WasmerTrap::UnreachableCodeReached) => TrapCode::Unreachable,
        Some(WasmerTrap::HeapAccessOutOfBounds) => TrapCode::MemoryOutOfBounds,
        Some(WasmerTrap::TableAccessOutOfBounds) => TrapCode::TableOutOfBounds,
        Some(WasmerTrap::IndirectCallToNull) => TrapCode::IndirectCallToNull,
        Some(WasmerTrap::BadSignature) => TrapCode::IndirectCallTypeMismatch,
        Some(WasmerTrap::IntegerOverflow) => TrapCode::IntegerOverflow,
        Some(WasmerTrap::IntegerDivisionByZero) => TrapCode::IntegerDivisionByZero,
        Some(WasmerTrap::BadConversionToInteger) => TrapCode::BadConversionToInteger,
        Some(WasmerTrap::StackOverflow) => TrapCode::StackOverflow,
        Some(WasmerTrap::HeapMisaligned | WasmerTrap::UnalignedAtomic) => TrapCode::UnalignedAtomic,
        _ => TrapCode::Other(e.message()),
    }
}

/// A trap as core's error: its code (core words it) and the Wasm backtrace.
#[cold]
fn trap_error(e: RuntimeError) -> XtismError {
    let frames = e.trace().iter().map(|frame| Frame {
        module: frame.module_name(),
        function: frame.function_name(),
        function_index: frame.func_index(),
        offset: Some(frame.module_offset()),
    });
    trap_code(&e).into_error(format_backtrace(frames))
}

impl WasmerPlugin {
    /// The main-module export `name`, typed as `shape` on its first call.
    fn export(&mut self, name: &str, shape: ExportShape) -> Result<TypedExport, XtismError> {
        if let Some(export) = self.exports.get(name) {
            return Ok(export.clone());
        }
        let export = typed_export(&self.store.0, &self.main, name, shape)?;
        self.exports.insert(name.into(), export.clone());
        Ok(export)
    }

    /// Gives every metered module `budget` units and clears its exhaustion flag.
    fn fill_meters(&mut self, budget: u64) -> Result<(), XtismError> {
        for meter in &self.meters {
            // The global holds an unsigned count in an `i64`.
            meter
                .remaining
                .set(&mut self.store.0, Value::I64(budget as i64))
                .map_err(XtismError::engine)?;
            meter
                .exhausted
                .set(&mut self.store.0, Value::I32(0))
                .map_err(XtismError::engine)?;
        }
        Ok(())
    }

    /// Fuel used since [`fill_meters`](Self::fill_meters), and whether a module ran out.
    fn read_meters(&mut self, budget: u64) -> (u64, bool) {
        let mut used = 0u64;
        let mut exhausted = false;
        for meter in &self.meters {
            exhausted |= matches!(meter.exhausted.get(&mut self.store.0), Value::I32(v) if v != 0);
            if let Value::I64(left) = meter.remaining.get(&mut self.store.0) {
                used = used.saturating_add(budget.saturating_sub(left as u64));
            }
        }
        if exhausted {
            (budget, true)
        } else {
            (used.min(budget), false)
        }
    }

    /// Lowers the interruption flags after the watchdog raised them.
    fn lower_flags(&mut self) -> Result<(), XtismError> {
        for flag in &self.flag_globals {
            flag.set(&mut self.store.0, Value::I32(0))
                .map_err(XtismError::engine)?;
        }
        Ok(())
    }
}

impl Instance for WasmerPlugin {
    fn call(
        &mut self,
        name: &str,
        shape: ExportShape,
        limits: &CallLimits,
    ) -> Result<Option<i32>, XtismError> {
        let export = self.export(name, shape)?;
        self.run_export(export, shape, limits)
    }

    fn call_in_module(
        &mut self,
        module: usize,
        name: &str,
        shape: ExportShape,
        limits: &CallLimits,
    ) -> Result<Option<i32>, XtismError> {
        let instance = self.dependencies.get(module).unwrap_or(&self.main);
        let export = typed_export(&self.store.0, instance, name, shape)?;
        self.run_export(export, shape, limits)
    }

    fn fuel_consumed(&self) -> Option<u64> {
        self.fuel_consumed
    }

    fn into_state(mut self: Box<Self>) -> PluginState {
        self.env
            .as_mut(&mut self.store.0)
            .state
            .take()
            .expect("the state is in the store until the instance is consumed")
    }
}

impl WasmerPlugin {
    /// Runs a typed export under `limits` (fuel, deadline and cancellation), with the
    /// arguments of `shape`.
    fn run_export(
        &mut self,
        export: TypedExport,
        shape: ExportShape,
        limits: &CallLimits,
    ) -> Result<Option<i32>, XtismError> {
        let args = match shape {
            ExportShape::Args(a, b) => (a, b),
            ExportShape::Code | ExportShape::Unit => (0, 0),
        };
        let budget = limits.fuel.unwrap_or(u64::MAX);
        if !self.meters.is_empty() {
            self.fill_meters(budget)?;
        }
        let watch = match &self.watched {
            Some(watched) if limits.deadline.is_some() || limits.cancel.is_some() => {
                Some(watched.start(limits)?)
            }
            _ => None,
        };
        let result = match export {
            TypedExport::Code(f) => f.call(&mut self.store.0).map(Some),
            TypedExport::Unit(f) => f.call(&mut self.store.0).map(|()| None),
            TypedExport::Args(f) => f.call(&mut self.store.0, args.0, args.1).map(|()| None),
        };
        let interrupted = watch.is_some_and(|w| w.finish());
        if interrupted {
            self.lower_flags()?;
        }
        let mut out_of_fuel = false;
        if !self.meters.is_empty() {
            let (used, exhausted) = self.read_meters(budget);
            out_of_fuel = exhausted;
            self.fuel_consumed = limits.fuel.map(|_| used);
        }
        result.map_err(|e| match limits.interruption() {
            Some(stop) if interrupted => stop,
            _ if out_of_fuel => XtismError::OutOfFuel,
            _ => trap_error(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_cross_threads() {
        fn send<T: Send>() {}
        fn send_sync<T: Send + Sync>() {}
        send::<WasmerPlugin>();
        send_sync::<WasmerLinked>();
    }
}
