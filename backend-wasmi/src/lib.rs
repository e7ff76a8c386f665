//! xtism-wasmi: xtism's engine traits on the wasmi interpreter.
//!
//! For hosts that may not JIT (iOS, consoles, embedded) and for small binaries. This crate
//! only adapts wasmi to [`xtism_core::engine`]: it compiles modules, materializes core's
//! [`LinkPlan`] as wasmi externs, binds core's kernel imports with `Func::wrap` (typed, one
//! closure per signature), user host functions and core's WASI functions with `Func::new`,
//! and exposes the kernel memory and each module's memory. Extism's meaning stays in core.
//! It rewrites one pattern wasmi 2.0.0 miscompiles before compiling (see `select_fix`).

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod select_fix;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use wasmi::{
    Caller, Config, Extern, ExternType, Func, Instance as WasmiInstance, Memory, Store, TypedFunc,
    TypedResumableCall,
};
use xtism_core::XtismError;
use xtism_core::engine::{
    CallLimits, Capabilities, CompileOptions, CompiledModule, DynamicInvoke, Engine, Export,
    ExportShape, ExternKind, HostAccess, HostTrap, Import, ImportSource, Instance,
    InstantiateError, KernelMemory, LinkPlan, Linked, Module, ResourceLimits, StoreLimiter,
    TrapCode, WasiImport,
};
use xtism_core::engine::{
    FuncType, HostImport, KERNEL_MEMORY_EXPORT, KERNEL_WASM, PluginState, Val, ValType,
};
use xtism_core::engine::{KERNEL_MODULE_MEMORY, MODULE_MEMORY_EXPORT};

/// The engine name.
const NAME: &str = "wasmi";

/// Fuel per slice of an interruptible call: about a millisecond of interpretation, so a
/// call stops within a few milliseconds of its deadline or of being cancelled.
pub const SLICE: u64 = 1 << 20;

/// One wasmi engine with the kernel module compiled for it.
struct ConfiguredEngine {
    engine: wasmi::Engine,
    kernel: wasmi::Module,
}

impl ConfiguredEngine {
    fn new(fuel: bool) -> Result<ConfiguredEngine, XtismError> {
        let mut config = Config::default();
        config.consume_fuel(fuel);
        let engine = wasmi::Engine::new(&config);
        let kernel = wasmi::Module::new(&engine, KERNEL_WASM).map_err(XtismError::engine)?;
        Ok(ConfiguredEngine { engine, kernel })
    }
}

/// The wasmi engine. Modules compiled with and without fuel metering use two wasmi engines
/// (wasmi fixes metering per engine); each is made on first use. Metering serves both fuel
/// budgets and deadlines: a call with a deadline runs in slices of [`SLICE`] fuel and checks
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

fn val_type(ty: &wasmi::ValType) -> ValType {
    match ty {
        wasmi::ValType::I32 => ValType::I32,
        wasmi::ValType::I64 => ValType::I64,
        wasmi::ValType::F32 => ValType::F32,
        wasmi::ValType::F64 => ValType::F64,
        wasmi::ValType::V128 => ValType::V128,
        wasmi::ValType::FuncRef => ValType::FuncRef,
        wasmi::ValType::ExternRef => ValType::ExternRef,
    }
}

fn wasmi_val_type(ty: ValType) -> wasmi::ValType {
    match ty {
        ValType::I32 => wasmi::ValType::I32,
        ValType::I64 => wasmi::ValType::I64,
        ValType::F32 => wasmi::ValType::F32,
        ValType::F64 => wasmi::ValType::F64,
        ValType::V128 => wasmi::ValType::V128,
        ValType::FuncRef => wasmi::ValType::FuncRef,
        ValType::ExternRef => wasmi::ValType::ExternRef,
    }
}

fn extern_kind(ty: &ExternType) -> ExternKind {
    match ty {
        ExternType::Func(f) => ExternKind::Func(FuncType::new(
            f.params().iter().map(val_type),
            f.results().iter().map(val_type),
        )),
        ExternType::Memory(_) => ExternKind::Memory,
        ExternType::Table(_) => ExternKind::Table,
        ExternType::Global(_) => ExternKind::Global,
    }
}

fn to_core(val: &wasmi::Val) -> Result<Val, XtismError> {
    Ok(match val {
        wasmi::Val::I32(v) => Val::I32(*v),
        wasmi::Val::I64(v) => Val::I64(*v),
        wasmi::Val::F32(v) => Val::F32(v.to_bits()),
        wasmi::Val::F64(v) => Val::F64(v.to_bits()),
        wasmi::Val::FuncRef(r) if r.is_null() => Val::FuncRef,
        wasmi::Val::ExternRef(r) if r.is_null() => Val::ExternRef,
        other => {
            return Err(XtismError::Unsupported {
                engine: NAME,
                feature: format!("passing {other:?} to a host function"),
            });
        }
    })
}

fn to_wasmi(val: &Val) -> Result<wasmi::Val, XtismError> {
    Ok(match val {
        Val::I32(v) => wasmi::Val::I32(*v),
        Val::I64(v) => wasmi::Val::I64(*v),
        Val::F32(v) => wasmi::Val::F32(wasmi::F32::from_bits(*v)),
        Val::F64(v) => wasmi::Val::F64(wasmi::F64::from_bits(*v)),
        Val::FuncRef => wasmi::Val::FuncRef(wasmi::Nullable::Null),
        Val::ExternRef => wasmi::Val::ExternRef(wasmi::Nullable::Null),
        Val::V128(_) => {
            return Err(XtismError::Unsupported {
                engine: NAME,
                feature: "v128 host function values".into(),
            });
        }
    })
}

/// A module compiled by wasmi, and whether it is metered.
struct WasmiModule {
    module: wasmi::Module,
    metered: bool,
}

/// Whether modules compiled with `options` need fuel metering.
fn metered(options: &CompileOptions) -> bool {
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
            .map(|i| Import {
                module: i.module().to_owned(),
                name: i.name().to_owned(),
                kind: extern_kind(i.ty()),
            })
            .collect();
        let exports = module
            .exports()
            .map(|e| Export {
                name: e.name().to_owned(),
                kind: extern_kind(e.ty()),
            })
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
            let module = CompiledModule::<WasmiModule>::downcast(planned.module.as_ref())
                .filter(|m| m.metered == metered)
                .ok_or_else(|| {
                    XtismError::Invalid(format!(
                        "module {} was not compiled by this wasmi engine with these options",
                        planned.name
                    ))
                })?;
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
                .map(|f| {
                    let ty = wasmi::FuncType::new(
                        f.ty()
                            .params()
                            .iter()
                            .map(|t| wasmi_val_type(*t))
                            .collect::<Vec<_>>(),
                        f.ty()
                            .results()
                            .iter()
                            .map(|t| wasmi_val_type(*t))
                            .collect::<Vec<_>>(),
                    );
                    (ty, Arc::new(f))
                })
                .collect(),
            limits: plan.limits,
            metered,
        }))
    }
}

/// What the store holds: core's state, the memories host calls need, and the limits.
struct StoreData {
    state: PluginState,
    kernel: Option<Memory>,
    /// Each module's exported `memory`, in link-plan order (the last is main's).
    memories: Vec<Option<Memory>>,
    limiter: Limiter,
}

/// Core's [`StoreLimiter`] as wasmi's resource limiter.
struct Limiter(StoreLimiter);

impl wasmi::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        Ok(self.0.memory_growing(desired))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        Ok(self.0.table_growing(desired))
    }

    fn instances(&self) -> usize {
        self.0.instances()
    }

    fn tables(&self) -> usize {
        self.0.tables()
    }

    fn memories(&self) -> usize {
        self.0.memories()
    }
}

impl StoreData {
    fn plugin_memory(&self) -> Option<Memory> {
        self.memories.last().copied().flatten()
    }

    fn module_memory(&self, module: usize) -> Option<Memory> {
        self.memories.get(module).copied().flatten()
    }
}

/// A wasmi context that owns [`StoreData`]: the store, or the caller inside a host call.
trait WithData: wasmi::AsContextMut<Data = StoreData> {
    fn store_data(&mut self) -> &mut StoreData;
}

impl WithData for Store<StoreData> {
    fn store_data(&mut self) -> &mut StoreData {
        self.data_mut()
    }
}

impl WithData for Caller<'_, StoreData> {
    fn store_data(&mut self) -> &mut StoreData {
        self.data_mut()
    }
}

/// Borrows the kernel memory and the state together.
fn kernel_of<C: WithData>(ctx: &mut C) -> (&mut [u8], &mut PluginState) {
    match ctx.store_data().kernel {
        Some(memory) => {
            let (bytes, data) = memory.data_and_store_mut(ctx);
            (bytes, &mut data.state)
        }
        // Only before the kernel is instantiated; no block can exist yet.
        None => (&mut [], &mut ctx.store_data().state),
    }
}

/// Borrows a module's memory and the state together.
fn module_memory_of<C: WithData>(
    ctx: &mut C,
    module: usize,
) -> (Option<&mut [u8]>, &mut PluginState) {
    match ctx.store_data().module_memory(module) {
        Some(memory) => {
            let (bytes, data) = memory.data_and_store_mut(ctx);
            (Some(bytes), &mut data.state)
        }
        None => (None, &mut ctx.store_data().state),
    }
}

/// [`HostAccess`] inside a host call.
struct CallerAccess<'a, 'b>(&'a mut Caller<'b, StoreData>);

impl HostAccess for CallerAccess<'_, '_> {
    fn shared_state(&self) -> &PluginState {
        &self.0.data().state
    }

    fn kernel(&mut self) -> (&mut [u8], &mut PluginState) {
        kernel_of(self.0)
    }

    fn grow_kernel(&mut self, pages: u64) -> bool {
        match self.0.data().kernel {
            Some(memory) => memory.grow(&mut *self.0, pages).is_ok(),
            None => false,
        }
    }

    fn plugin_memory(&mut self) -> Option<&mut [u8]> {
        let memory = self.0.data().plugin_memory()?;
        Some(memory.data_mut(&mut *self.0))
    }

    fn module_memory(&mut self, module: usize) -> (Option<&mut [u8]>, &mut PluginState) {
        module_memory_of(self.0, module)
    }
}

/// Turns a failing host call into a wasmi trap; core keeps the real error.
fn trap(e: HostTrap) -> wasmi::Error {
    wasmi::Error::new(e.to_string())
}

/// A user host function with its wasmi type, made once at link time.
type UserFunction = (wasmi::FuncType, Arc<xtism_core::Function>);

/// A plug-in linked for wasmi: modules and where their imports come from.
struct WasmiLinked {
    engine: wasmi::Engine,
    /// The kernel module, when the kernel memory lives in an instance of it.
    kernel: Option<wasmi::Module>,
    modules: Vec<(wasmi::Module, Vec<ImportSource>)>,
    functions: Vec<UserFunction>,
    limits: ResourceLimits,
    metered: bool,
}

impl WasmiLinked {
    fn host_func(store: &mut Store<StoreData>, import: HostImport) -> Func {
        match import {
            HostImport::I64ToI64(f) => {
                Func::wrap(store, move |mut c: Caller<'_, StoreData>, a: i64| {
                    f(&mut CallerAccess(&mut c), a).map_err(trap)
                })
            }
            HostImport::I64ToNone(f) => {
                Func::wrap(store, move |mut c: Caller<'_, StoreData>, a: i64| {
                    f(&mut CallerAccess(&mut c), a).map_err(trap)
                })
            }
            HostImport::NoneToI64(f) => Func::wrap(store, move |mut c: Caller<'_, StoreData>| {
                f(&mut CallerAccess(&mut c)).map_err(trap)
            }),
            HostImport::NoneToI32(f) => Func::wrap(store, move |mut c: Caller<'_, StoreData>| {
                f(&mut CallerAccess(&mut c)).map_err(trap)
            }),
            HostImport::NoneToNone(f) => Func::wrap(store, move |mut c: Caller<'_, StoreData>| {
                f(&mut CallerAccess(&mut c)).map_err(trap)
            }),
            HostImport::I64I64ToNone(f) => Func::wrap(
                store,
                move |mut c: Caller<'_, StoreData>, a: i64, b: i64| {
                    f(&mut CallerAccess(&mut c), a, b).map_err(trap)
                },
            ),
            HostImport::I64I64ToI64(f) => Func::wrap(
                store,
                move |mut c: Caller<'_, StoreData>, a: i64, b: i64| {
                    f(&mut CallerAccess(&mut c), a, b).map_err(trap)
                },
            ),
        }
    }

    /// A function with wasmi's dynamic API: the signature known at run time, values
    /// converted both ways around `invoke`.
    fn dynamic_func(
        store: &mut Store<StoreData>,
        ty: wasmi::FuncType,
        invoke: impl DynamicInvoke,
    ) -> Func {
        Func::new(store, ty, move |mut caller, params, results| {
            let mut access = CallerAccess(&mut caller);
            let outputs = invoke(&mut access, &mut params.iter().map(to_core)).map_err(trap)?;
            for (slot, val) in results.iter_mut().zip(&outputs) {
                *slot = match to_wasmi(val) {
                    Ok(v) => v,
                    Err(e) => return Err(trap(access.state().fail(e))),
                };
            }
            Ok(())
        })
    }

    fn user_func(store: &mut Store<StoreData>, function: &UserFunction) -> Func {
        let (ty, function) = (function.0.clone(), Arc::clone(&function.1));
        Self::dynamic_func(store, ty, move |host, params| {
            function.invoke_converted(host, params)
        })
    }

    fn wasi_func(store: &mut Store<StoreData>, import: WasiImport, module: usize) -> Func {
        let ty = wasmi::FuncType::new(
            import.params.iter().map(|t| wasmi_val_type(*t)),
            import.results.iter().map(|t| wasmi_val_type(*t)),
        );
        Self::dynamic_func(store, ty, move |host, params| {
            import.invoke_converted(host, module, params)
        })
    }

    fn try_instantiate(
        &self,
        store: &mut Store<StoreData>,
    ) -> Result<(WasmiInstance, Vec<WasmiInstance>), XtismError> {
        let kernel = match &self.kernel {
            Some(module) => {
                let kernel = WasmiInstance::new(&mut *store, module, &[])
                    .map_err(|e| instantiate_error(e, store))?;
                store.data_mut().kernel = kernel.get_memory(&*store, KERNEL_MODULE_MEMORY);
                Some(kernel)
            }
            None => None,
        };
        let mut instances: Vec<WasmiInstance> = Vec::with_capacity(self.modules.len());
        for (index, (module, sources)) in self.modules.iter().enumerate() {
            let mut externs = Vec::with_capacity(sources.len());
            for source in sources {
                let ext = match source {
                    ImportSource::Wasi(import) => {
                        Some(Extern::Func(Self::wasi_func(store, *import, index)))
                    }
                    ImportSource::Kernel(name) => {
                        kernel.and_then(|kernel| kernel.get_export(&*store, name))
                    }
                    ImportSource::Host(import) => {
                        Some(Extern::Func(Self::host_func(store, *import)))
                    }
                    ImportSource::Function(index) => self
                        .functions
                        .get(*index)
                        .map(|f| Extern::Func(Self::user_func(store, f))),
                    ImportSource::Module { index, name } => instances
                        .get(*index)
                        .and_then(|i| i.get_export(&*store, name)),
                };
                externs.push(ext.ok_or_else(|| {
                    XtismError::Invalid("the link plan names an import that does not exist".into())
                })?);
            }
            let instance = WasmiInstance::new(&mut *store, module, &externs)
                .map_err(|e| instantiate_error(e, store))?;
            let memory = instance.get_memory(&*store, MODULE_MEMORY_EXPORT);
            store.data_mut().memories.push(memory);
            instances.push(instance);
        }
        let main = instances
            .pop()
            .ok_or_else(|| XtismError::Invalid("the link plan has no modules".into()))?;
        if kernel.is_none() {
            store.data_mut().kernel = main.get_memory(&*store, KERNEL_MEMORY_EXPORT);
        }
        Ok((main, instances))
    }
}

/// A failed instantiation in core's terms; a limit refusal in the words of core's limiter,
/// when it refused the growth (not a `memory.grow` it refused earlier, while a start
/// function ran).
fn instantiate_error(e: wasmi::Error, store: &mut Store<StoreData>) -> XtismError {
    use wasmi::errors::{ErrorKind, InstantiationError, MemoryError, TableError};
    match e.kind() {
        // An active data or element segment out of bounds is a trap of instantiation, as on
        // the other engines and in their words, not a limit.
        ErrorKind::Memory(MemoryError::OutOfBoundsAccess) => {
            TrapCode::MemoryOutOfBounds.into_error(None)
        }
        ErrorKind::Table(
            TableError::InitOutOfBounds
            | TableError::FillOutOfBounds
            | TableError::SetOutOfBounds
            | TableError::CopyOutOfBounds,
        ) => TrapCode::TableOutOfBounds.into_error(None),
        ErrorKind::Memory(_)
        | ErrorKind::Table(_)
        | ErrorKind::Instantiation(
            InstantiationError::FailedToInstantiateMemory(_)
            | InstantiationError::FailedToInstantiateTable(_)
            | InstantiationError::TooManyInstances
            | InstantiationError::TooManyTables
            | InstantiationError::TooManyMemories,
        ) => XtismError::MemoryLimit(
            store
                .data_mut()
                .limiter
                .0
                .take_refusal()
                .unwrap_or_else(|| e.to_string()),
        ),
        _ => trap_error(e),
    }
}

impl Linked for WasmiLinked {
    fn instantiate(&self, state: PluginState) -> Result<Box<dyn Instance>, InstantiateError> {
        let data = StoreData {
            state,
            kernel: None,
            memories: Vec::with_capacity(self.modules.len()),
            limiter: Limiter(StoreLimiter::new(self.limits)),
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|d| &mut d.limiter);
        if self.metered {
            // Core defers the main module's start function to the first call; what runs
            // here (other modules' start functions) is not metered.
            if let Err(e) = store.set_fuel(u64::MAX) {
                return Err(InstantiateError {
                    error: XtismError::engine(e),
                    state: Box::new(store.into_data().state),
                });
            }
        }
        match self.try_instantiate(&mut store) {
            Ok((main, dependencies)) => Ok(Box::new(WasmiPlugin {
                store,
                main,
                dependencies,
                metered: self.metered,
                fuel_consumed: None,
                exports: HashMap::new(),
            })),
            Err(error) => Err(InstantiateError {
                error,
                state: Box::new(store.into_data().state),
            }),
        }
    }
}

/// A running plug-in on wasmi.
struct WasmiPlugin {
    store: Store<StoreData>,
    main: WasmiInstance,
    /// The other modules' instances, in link-plan order.
    dependencies: Vec<WasmiInstance>,
    metered: bool,
    fuel_consumed: Option<u64>,
    /// Main-module exports, typed on their first call as core's shape says.
    exports: HashMap<Box<str>, TypedExport>,
}

/// An export typed as the [`ExportShape`] core asked for, one variant per shape.
#[derive(Clone, Copy)]
enum TypedExport {
    /// `() -> i32`.
    Code(TypedFunc<(), i32>),
    /// `() -> ()`.
    Unit(TypedFunc<(), ()>),
    /// `(i32, i32) -> ()`.
    Args(TypedFunc<(i32, i32), ()>),
}

/// A failed call as core's [`TrapCode`] (core words it); wasmi keeps no backtrace.
#[cold]
fn trap_error(e: wasmi::Error) -> XtismError {
    use wasmi::TrapCode as Wasmi;
    let code = match e.as_trap_code() {
        Some(Wasmi::UnreachableCodeReached) => TrapCode::Unreachable,
        Some(Wasmi::MemoryOutOfBounds) => TrapCode::MemoryOutOfBounds,
        Some(Wasmi::TableOutOfBounds) => TrapCode::TableOutOfBounds,
        Some(Wasmi::IndirectCallToNull) => TrapCode::IndirectCallToNull,
        Some(Wasmi::IntegerDivisionByZero) => TrapCode::IntegerDivisionByZero,
        Some(Wasmi::IntegerOverflow) => TrapCode::IntegerOverflow,
        Some(Wasmi::BadConversionToInteger) => TrapCode::BadConversionToInteger,
        Some(Wasmi::StackOverflow) => TrapCode::StackOverflow,
        Some(Wasmi::BadSignature) => TrapCode::IndirectCallTypeMismatch,
        Some(Wasmi::OutOfFuel) => TrapCode::OutOfFuel,
        _ => TrapCode::Other(e.to_string()),
    };
    code.into_error(None)
}

impl WasmiPlugin {
    /// The main-module export `name`, typed as `shape` on its first call.
    fn export(&mut self, name: &str, shape: ExportShape) -> Result<TypedExport, XtismError> {
        if let Some(export) = self.exports.get(name) {
            return Ok(*export);
        }
        let export = Self::typed_export(&self.store, &self.main, name, shape)?;
        self.exports.insert(name.into(), export);
        Ok(export)
    }

    /// The export `name` of `instance`, typed as `shape`.
    fn typed_export(
        store: &Store<StoreData>,
        instance: &WasmiInstance,
        name: &str,
        shape: ExportShape,
    ) -> Result<TypedExport, XtismError> {
        let func = instance.get_func(store, name).ok_or_else(|| {
            XtismError::FunctionNotFound(format!("the module has no function named {name:?}"))
        })?;
        match shape {
            ExportShape::Code => func.typed(store).map(TypedExport::Code),
            ExportShape::Unit => func.typed(store).map(TypedExport::Unit),
            ExportShape::Args(..) => func.typed(store).map(TypedExport::Args),
        }
        .map_err(|_| XtismError::FunctionNotFound(format!("{name:?} is not of shape {shape:?}")))
    }

    /// Runs a typed export under `limits`, with the arguments of `shape`.
    fn run_export(
        &mut self,
        export: TypedExport,
        shape: ExportShape,
        limits: &CallLimits,
    ) -> Result<Option<i32>, XtismError> {
        match (export, shape) {
            (TypedExport::Code(f), _) => self.run(f, (), limits).map(Some),
            (TypedExport::Unit(f), _) => self.run(f, (), limits).map(|()| None),
            (TypedExport::Args(f), ExportShape::Args(a, b)) => {
                self.run(f, (a, b), limits).map(|()| None)
            }
            (TypedExport::Args(_), _) => Err(XtismError::FunctionNotFound(format!(
                "the export is not of shape {shape:?}"
            ))),
        }
    }

    /// Runs a typed call under `limits`: fuel budget and deadline, in slices when metered.
    fn run<P: wasmi::WasmParams, R: wasmi::WasmResults>(
        &mut self,
        func: TypedFunc<P, R>,
        params: P,
        limits: &CallLimits,
    ) -> Result<R, XtismError> {
        if !self.metered {
            return func.call(&mut self.store, params).map_err(trap_error);
        }
        let interruptible = limits.deadline.is_some() || limits.cancel.is_some();
        let slice = if interruptible { SLICE } else { u64::MAX };
        let budget = limits.fuel.unwrap_or(u64::MAX);
        let mut given = budget.min(slice);
        self.store.set_fuel(given).map_err(XtismError::engine)?;
        let mut call = func.call_resumable(&mut self.store, params);
        let outcome = loop {
            match call {
                Ok(TypedResumableCall::Finished(r)) => break Ok(r),
                Ok(TypedResumableCall::HostTrap(t)) => {
                    break Err(TrapCode::Other(t.host_error().to_string()).into_error(None));
                }
                Ok(TypedResumableCall::OutOfFuel(t)) => {
                    if let Some(stop) = limits.interruption() {
                        break Err(stop);
                    }
                    let left = budget - given;
                    let next = left.min(slice.max(t.required_fuel()));
                    if next == 0 || next < t.required_fuel() {
                        break Err(XtismError::OutOfFuel);
                    }
                    self.store.set_fuel(next).map_err(XtismError::engine)?;
                    given += next;
                    call = t.resume(&mut self.store);
                }
                Err(e) => break Err(trap_error(e)),
            }
        };
        let left = self.store.get_fuel().unwrap_or(0);
        self.fuel_consumed = limits.fuel.map(|_| given.saturating_sub(left));
        outcome
    }
}

impl HostAccess for WasmiPlugin {
    fn shared_state(&self) -> &PluginState {
        &self.store.data().state
    }

    fn kernel(&mut self) -> (&mut [u8], &mut PluginState) {
        kernel_of(&mut self.store)
    }

    fn grow_kernel(&mut self, pages: u64) -> bool {
        match self.store.data().kernel {
            Some(memory) => memory.grow(&mut self.store, pages).is_ok(),
            None => false,
        }
    }

    fn plugin_memory(&mut self) -> Option<&mut [u8]> {
        let memory = self.store.data().plugin_memory()?;
        Some(memory.data_mut(&mut self.store))
    }

    fn module_memory(&mut self, module: usize) -> (Option<&mut [u8]>, &mut PluginState) {
        module_memory_of(&mut self.store, module)
    }
}

impl Instance for WasmiPlugin {
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
        let export = Self::typed_export(&self.store, instance, name, shape)?;
        self.run_export(export, shape, limits)
    }

    fn fuel_consumed(&self) -> Option<u64> {
        self.fuel_consumed
    }

    fn into_state(self: Box<Self>) -> PluginState {
        self.store.into_data().state
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
