//! Host functions in a plug-in's linker: core's kernel imports bound with wasmtime's typed
//! functions (one binding, expanded by core's `bind_host_import!` for each [`HostImport`]
//! signature), and the user's functions and
//! core's WASI functions with dynamically typed ones (async user functions with
//! `func_new_async`). Inside a host call, core reaches the store through [`CallerAccess`].

use std::future::poll_fn;

use wasmtime::{Caller, Linker};
use xtism_core::XtismError;
use xtism_core::engine::{DynamicInvoke, HostAccess, HostTrap, WasiImport, bind_host_import};
use xtism_core::engine::{FuncType, HostImport, PluginState, ValType};

use crate::convert::{func_type, to_core, to_wasmtime};
use crate::store::{StoreData, grow_kernel_of, kernel_of, module_memory_of};

/// The namespace user host functions are defined under in a
/// [`WasmtimeLinked`](crate::link::WasmtimeLinked)'s linker
/// (by index, since core has already matched them to imports).
pub(crate) const USER_FUNCTIONS: &str = "xtism:user-functions";

/// The prefix of the namespace WASI functions are defined under for each importing module
/// (followed by the module's index in the link plan).
pub(crate) const WASI_FUNCTIONS: &str = "xtism:wasi/";

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
        grow_kernel_of(self.0, pages)
    }

    fn module_memory(&mut self, module: usize) -> (Option<&mut [u8]>, &mut PluginState) {
        module_memory_of(self.0, module)
    }
}

/// Turns a failing host call into a wasmtime error; core keeps the real error.
#[cold]
fn trap(e: HostTrap) -> wasmtime::Error {
    wasmtime::Error::new(e)
}

/// Defines one of core's host imports in `linker`, typed by its signature.
pub(crate) fn define_host_import(
    linker: &mut Linker<StoreData>,
    module: &str,
    name: &str,
    import: HostImport,
) -> Result<(), XtismError> {
    macro_rules! wrap {
        ($f:ident, $($a:ident: $t:ty),*) => {
            linker.func_wrap(module, name, move |mut c: Caller<'_, StoreData>, $($a: $t),*| {
                $f(&mut CallerAccess(&mut c), $($a),*).map_err(trap)
            })
        };
    }
    let defined = bind_host_import!(import, wrap);
    defined.map(|_| ()).map_err(XtismError::engine)
}

/// Defines `namespace::name` in `linker` with wasmtime's dynamic function API: the
/// signature known at run time, values converted both ways around `invoke`.
fn define_dynamic(
    linker: &mut Linker<StoreData>,
    namespace: &str,
    name: &str,
    (params, results): (&[ValType], &[ValType]),
    invoke: Box<dyn DynamicInvoke>,
) -> Result<(), XtismError> {
    let ty = func_type(linker.engine(), params, results);
    linker
        .func_new(namespace, name, ty, move |mut caller, params, results| {
            let mut access = CallerAccess(&mut caller);
            let outputs = invoke(&mut access, &mut params.iter().map(to_core)).map_err(trap)?;
            for (slot, val) in results.iter_mut().zip(&outputs) {
                *slot = to_wasmtime(val);
            }
            Ok(())
        })
        .map(|_| ())
        .map_err(XtismError::engine)
}

/// Defines a user host function in `linker` under [`USER_FUNCTIONS`]`::name`.
pub(crate) fn define_user_function(
    linker: &mut Linker<StoreData>,
    name: &str,
    function: &xtism_core::Function,
) -> Result<(), XtismError> {
    let ty = function.ty().clone();
    let function = function.clone();
    if function.is_async() {
        return define_async(linker, name, &ty, function);
    }
    define_dynamic(
        linker,
        USER_FUNCTIONS,
        name,
        (ty.params(), ty.results()),
        Box::new(move |host, params| function.invoke_converted(host, params)),
    )
}

/// Defines an async user host function in `linker` under [`USER_FUNCTIONS`]`::name`, with
/// wasmtime's async function API: the guest's call waits on the fiber while core's
/// [`PendingHostCall`](xtism_core::engine::PendingHostCall) is polled with the caller.
fn define_async(
    linker: &mut Linker<StoreData>,
    name: &str,
    ty: &FuncType,
    function: xtism_core::Function,
) -> Result<(), XtismError> {
    let wasm_ty = func_type(linker.engine(), ty.params(), ty.results());
    linker
        .func_new_async(
            USER_FUNCTIONS,
            name,
            wasm_ty,
            move |mut caller, params, results| {
                let function = function.clone();
                Box::new(async move {
                    let mut access = CallerAccess(&mut caller);
                    let mut pending = function
                        .start_async(&mut access, params.iter().map(to_core))
                        .map_err(trap)?;
                    let outputs = poll_fn(|cx| pending.poll(&mut access, cx))
                        .await
                        .map_err(trap)?;
                    for (slot, val) in results.iter_mut().zip(&outputs) {
                        *slot = to_wasmtime(val);
                    }
                    Ok(())
                })
            },
        )
        .map(|_| ())
        .map_err(XtismError::engine)
}

/// Defines a WASI function in `linker` under `namespace`, for the module at `module` in the
/// link plan.
pub(crate) fn define_wasi_import(
    linker: &mut Linker<StoreData>,
    namespace: &str,
    import: WasiImport,
    module: usize,
) -> Result<(), XtismError> {
    define_dynamic(
        linker,
        namespace,
        import.name,
        (import.params, import.results),
        Box::new(move |host, params| import.invoke_converted(host, module, params)),
    )
}
