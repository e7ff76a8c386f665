//! Host functions: core's kernel imports bound with `Function::new_typed_with_env` (one
//! binding, expanded by core's `bind_host_import!` for each [`HostImport`] signature), the user's functions and core's WASI functions with
//! `Function::new_with_env`, and [`EnvAccess`], core's view of the store inside a host call.

use std::sync::Arc;

use wasmer::{Function, FunctionEnv, FunctionEnvMut, FunctionType, RuntimeError, Store};
use xtism_core::engine::{
    DynamicInvoke, HostAccess, HostImport, HostTrap, PluginState, WasiImport, bind_host_import,
};

use crate::convert::{function_type, to_core, to_wasmer};
use crate::store::{StoreData, grow_kernel, kernel_and_state, module_memory_and_state};

/// Turns a failing host call into a wasmer trap; core keeps the real error.
fn trap(e: HostTrap) -> RuntimeError {
    RuntimeError::user(Box::new(e))
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

    fn module_memory(&mut self, module: usize) -> (Option<&mut [u8]>, &mut PluginState) {
        let env = self.0.as_ref();
        module_memory_and_state(&mut self.0, &env, module)
    }

    fn state(&mut self) -> &mut PluginState {
        self.0.data_mut().state()
    }
}

/// A kernel import implemented in core, bound with wasmer's typed-function API.
pub(crate) fn host_function(
    store: &mut Store,
    env: &FunctionEnv<StoreData>,
    import: HostImport,
) -> Function {
    type Env<'a> = FunctionEnvMut<'a, StoreData>;
    macro_rules! wrap {
        ($f:ident, $($a:ident: $t:ty),*) => {
            Function::new_typed_with_env(store, env, move |e: Env, $($a: $t),*| {
                $f(&mut EnvAccess(e), $($a),*)
            })
        };
    }
    bind_host_import!(import, wrap)
}

/// A user host function with its wasmer type, made once at link time.
pub(crate) type UserFunction = (FunctionType, Arc<xtism_core::Function>);

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
pub(crate) fn user_function(
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
pub(crate) fn wasi_function(
    store: &mut Store,
    env: &FunctionEnv<StoreData>,
    import: WasiImport,
    module: usize,
) -> Function {
    let ty = function_type(import.params, import.results);
    dynamic_function(store, env, ty, move |host, params| {
        import.invoke_converted(host, module, params)
    })
}
