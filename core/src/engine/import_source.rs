//! Where an import comes from ([`ImportSource`]), and the signature classes of the imports
//! core implements in Rust: [`HostImport`] groups the kernel imports by signature, so a
//! backend binds each with its engine's typed-function API, one binding per signature, not
//! one per import; [`WasiImport`] is a WASI function for a backend's dynamic function API.
//! Which kernel import has which class is `abi`'s table; this layer only names the classes.

use super::host_access::{HostAccess, HostTrap};
use super::values::{FuncType, Val, ValType};
use crate::error::XtismError;

/// Where one import of a module comes from. Core decides; the backend only materializes.
#[derive(Debug, Clone)]
pub enum ImportSource {
    /// The export of the same name of the kernel module.
    Kernel(&'static str),
    /// A kernel import implemented in core.
    Host(HostImport),
    /// A user host function: an index into [`LinkPlan::functions`].
    ///
    /// [`LinkPlan::functions`]: super::LinkPlan::functions
    Function(usize),
    /// A WASI preview-1 function implemented in core. The backend binds it for the
    /// importing module, passing that module's index to [`WasiImport::invoke_converted`].
    Wasi(WasiImport),
    /// An export of a module instantiated earlier: an index into [`LinkPlan::modules`].
    ///
    /// [`LinkPlan::modules`]: super::LinkPlan::modules
    Module {
        /// Index of the providing module.
        index: usize,
        /// Export name.
        name: String,
    },
}

/// A kernel import implemented by the host, grouped by signature.
#[derive(Clone, Copy)]
pub enum HostImport {
    /// `(i64) -> i64`
    I64ToI64(fn(&mut dyn HostAccess, i64) -> Result<i64, HostTrap>),
    /// `(i64) -> ()`
    I64ToNone(fn(&mut dyn HostAccess, i64) -> Result<(), HostTrap>),
    /// `() -> i64`
    NoneToI64(fn(&mut dyn HostAccess) -> Result<i64, HostTrap>),
    /// `() -> i32`
    NoneToI32(fn(&mut dyn HostAccess) -> Result<i32, HostTrap>),
    /// `() -> ()`
    NoneToNone(fn(&mut dyn HostAccess) -> Result<(), HostTrap>),
    /// `(i64, i64) -> ()`
    I64I64ToNone(fn(&mut dyn HostAccess, i64, i64) -> Result<(), HostTrap>),
    /// `(i64, i64) -> i64`
    I64I64ToI64(fn(&mut dyn HostAccess, i64, i64) -> Result<i64, HostTrap>),
}

impl std::fmt::Debug for HostImport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostImport({})", self.func_type())
    }
}

impl HostImport {
    /// The Wasm signature of this import.
    pub fn func_type(&self) -> FuncType {
        use ValType::{I32, I64};
        let (params, results): (&[ValType], &[ValType]) = match self {
            HostImport::I64ToI64(_) => (&[I64], &[I64]),
            HostImport::I64ToNone(_) => (&[I64], &[]),
            HostImport::NoneToI64(_) => (&[], &[I64]),
            HostImport::NoneToI32(_) => (&[], &[I32]),
            HostImport::NoneToNone(_) => (&[], &[]),
            HostImport::I64I64ToNone(_) => (&[I64, I64], &[]),
            HostImport::I64I64ToI64(_) => (&[I64, I64], &[I64]),
        };
        FuncType::new(params.iter().copied(), results.iter().copied())
    }
}

/// Matches a [`HostImport`] and hands its function and typed parameters to `$bind`, a
/// backend's macro that binds one signature with its engine's typed-function API. For
/// `I64I64ToNone(f)` it expands to `$bind!(f, a: i64, b: i64)`, for `NoneToI32(f)` to
/// `$bind!(f,)`, and so on: the classes and their parameter types are written here once,
/// and a backend writes its binding once. `$bind` takes `($f:ident, $($a:ident: $t:ty),*)`
/// (the list may be empty, after the comma) and typically makes a closure taking
/// `$($a: $t),*` that calls `$f(access, $($a),*)`. The whole expands to what `$bind`
/// expands to, which must be of one type for all seven signatures (the engine's function,
/// or the result of defining it).
#[doc(hidden)]
#[macro_export]
macro_rules! __bind_host_import {
    ($import:expr, $bind:ident) => {
        match $import {
            $crate::engine::HostImport::I64ToI64(f) => $bind!(f, a: i64),
            $crate::engine::HostImport::I64ToNone(f) => $bind!(f, a: i64),
            $crate::engine::HostImport::NoneToI64(f) => $bind!(f,),
            $crate::engine::HostImport::NoneToI32(f) => $bind!(f,),
            $crate::engine::HostImport::NoneToNone(f) => $bind!(f,),
            $crate::engine::HostImport::I64I64ToNone(f) => $bind!(f, a: i64, b: i64),
            $crate::engine::HostImport::I64I64ToI64(f) => $bind!(f, a: i64, b: i64),
        }
    };
}

/// A WASI preview-1 function implemented in core, for backends to bind with their dynamic
/// function API (there are two dozen signatures, and each call's cost is the system call's,
/// not the binding's).
#[derive(Clone, Copy)]
pub struct WasiImport {
    /// The function's name in `wasi_snapshot_preview1`.
    pub name: &'static str,
    /// Parameter types.
    pub params: &'static [ValType],
    /// Result types (an `i32` errno, or nothing for `proc_exit`).
    pub results: &'static [ValType],
    /// Runs the function for module `module` (an index into [`LinkPlan::modules`]) on
    /// `params`, filling in `results`.
    ///
    /// [`LinkPlan::modules`]: super::LinkPlan::modules
    pub(crate) call: WasiCall,
}

/// How core runs a WASI function: for the module at an index of [`LinkPlan::modules`], on
/// parameters, filling in results.
///
/// [`LinkPlan::modules`]: super::LinkPlan::modules
pub(crate) type WasiCall =
    fn(&mut dyn HostAccess, usize, &[Val], &mut [Val]) -> Result<(), HostTrap>;

impl std::fmt::Debug for WasiImport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WasiImport({} {})", self.name, self.func_type())
    }
}

impl WasiImport {
    /// The Wasm signature.
    pub fn func_type(&self) -> FuncType {
        FuncType::new(self.params.iter().copied(), self.results.iter().copied())
    }

    /// Runs the function for a call from module `module` on arguments a backend converted
    /// from its engine's values, and returns the results for the backend to convert back.
    /// A failed conversion fails the call, and so does a call that must stop (deadline
    /// passed, cancelled) by the time the function returns.
    pub fn invoke_converted(
        &self,
        host: &mut dyn HostAccess,
        module: usize,
        params: impl IntoIterator<Item = Result<Val, XtismError>>,
    ) -> Result<Vec<Val>, HostTrap> {
        let params = match params.into_iter().collect::<Result<Vec<Val>, XtismError>>() {
            Ok(params) => params,
            Err(e) => return Err(host.state().fail(e)),
        };
        let mut results: Vec<Val> = self.results.iter().map(|t| Val::default_for(*t)).collect();
        (self.call)(host, module, &params, &mut results)?;
        let state = host.state();
        if let Some(stop) = state.interruption() {
            return Err(state.fail(stop));
        }
        Ok(results)
    }
}
