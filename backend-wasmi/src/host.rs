//! Host functions: core's kernel imports bound with `Func::wrap` (one binding, expanded by
//! core's `bind_host_import!` for each [`HostImport`] signature), the user's functions and core's WASI functions with `Func::new`
//! (an async user function suspends the call for `instance` to poll), and [`CallerAccess`],
//! core's view of the store inside a host call.

use std::sync::Arc;

use wasmi::{Caller, Func, Store};
use xtism_core::engine::{
    DynamicInvoke, HostAccess, HostImport, HostTrap, PluginState, WasiImport, bind_host_import,
};

use crate::convert::{func_type, to_core, to_wasmi};
use crate::store::{StoreData, grow_kernel_of, kernel_of, module_memory_of};

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

/// Turns a failing host call into a wasmi trap; core keeps the real error.
fn trap(e: HostTrap) -> wasmi::Error {
    wasmi::Error::new(e.to_string())
}

/// A user host function with its wasmi type, made once at link time.
pub(crate) type UserFunction = (wasmi::FuncType, Arc<xtism_core::Function>);

pub(crate) fn host_func(store: &mut Store<StoreData>, import: HostImport) -> Func {
    macro_rules! wrap {
        ($f:ident, $($a:ident: $t:ty),*) => {
            Func::wrap(store, move |mut c: Caller<'_, StoreData>, $($a: $t),*| {
                $f(&mut CallerAccess(&mut c), $($a),*).map_err(trap)
            })
        };
    }
    bind_host_import!(import, wrap)
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

/// A user host function. An async one suspends the guest's call: its pending call waits in
/// core's state for the async call's driver (`instance`), which resumes the guest with its
/// results.
pub(crate) fn user_func(store: &mut Store<StoreData>, function: &UserFunction) -> Func {
    let (ty, function) = (function.0.clone(), Arc::clone(&function.1));
    if function.is_async() {
        return Func::new(store, ty, move |mut caller, params, _results| {
            let mut access = CallerAccess(&mut caller);
            let pending = function
                .start_async(&mut access, params.iter().map(to_core))
                .map_err(trap)?;
            Err(trap(access.state().suspend(pending)))
        });
    }
    dynamic_func(store, ty, move |host, params| {
        function.invoke_converted(host, params)
    })
}

pub(crate) fn wasi_func(store: &mut Store<StoreData>, import: WasiImport, module: usize) -> Func {
    let ty = func_type(import.params, import.results);
    dynamic_func(store, ty, move |host, params| {
        import.invoke_converted(host, module, params)
    })
}
