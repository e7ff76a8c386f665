//! Making a refused `memory.grow` a trap, as it is on the engines whose limiter can trap
//! (wasmtime, wasmi): [`GrowCheck`] follows every `memory.grow` of a plug-in module with a
//! check that traps when the growth failed although the memory's maximum allowed it.
//!
//! A budgeted memory (see [`limits`](crate::limits)) refuses a growth past
//! `memory.max_pages` by failing it, and wasmer turns any failed growth into -1, which the
//! plug-in could go on with. The only growth within a memory's maximum that fails is one the
//! budget refused (or, rarely, one the operating system could not map), so the check below
//! tells the two kinds of -1 apart in the plug-in's own code, with nothing to ask the host:
//!
//! ```wat
//! global.set $delta  global.get $delta
//! memory.grow $m
//! global.set $grown  global.get $grown
//! i32.const -1  i32.eq
//! if
//!   ;; size + delta within the maximum of $m: the budget refused it
//!   memory.size $m  i64.extend_i32_u  global.get $delta  i64.extend_i32_u  i64.add
//!   i64.const max  i64.le_u
//!   if  unreachable  end
//! end
//! global.get $grown
//! ```
//!
//! The budget keeps its refusal, and core reports the trap as the memory limit it was. A
//! growth past the maximum keeps its -1, as Wasm says.
//!
//! Only the memories a module defines are checked. An imported memory's real maximum is
//! its exporter's, which may be lower than the one the importing module declares (or the
//! importer declares none), so a growth past it would look refused. A refused growth of an
//! imported memory stays -1 in the plug-in, and core still fails the call when it ends.

use std::sync::{Arc, OnceLock};

use wasmer::sys::wasmparser::{BlockType, Operator};
use wasmer::sys::{FunctionMiddleware, MiddlewareError, MiddlewareReaderState, ModuleMiddleware};
use wasmer::{GlobalInit, GlobalType, LocalFunctionIndex, ModuleInfo, Mutability, Pages, Type};

/// Version of the injected code, part of the compile cache key.
pub(crate) const GROW_CHECK_VERSION: u32 = 2;

/// The middleware that adds the check after every `memory.grow`. One per compiled module (it
/// remembers the module's scratch globals and its memories' maxima).
#[derive(Debug, Default)]
pub(crate) struct GrowCheck {
    module: OnceLock<ModuleChecks>,
}

/// What the checks of one module use.
#[derive(Debug, Clone)]
struct ModuleChecks {
    /// The scratch globals holding a growth's delta and its result.
    delta: u32,
    grown: u32,
    /// Each memory's maximum, in pages, by memory index; `None` for an imported memory,
    /// whose growth is not checked.
    maxima: Arc<[Option<i64>]>,
}

impl ModuleMiddleware for GrowCheck {
    fn transform_module_info(&self, info: &mut ModuleInfo) -> Result<(), MiddlewareError> {
        let mut add_global = || {
            info.global_initializers.push(GlobalInit::I32Const(0));
            info.globals
                .push(GlobalType::new(Type::I32, Mutability::Var))
                .as_u32()
        };
        let (delta, grown) = (add_global(), add_global());
        let imported = info.num_imported_memories;
        let maxima = info
            .memories
            .values()
            .enumerate()
            .map(|(index, ty)| {
                (index >= imported).then(|| i64::from(ty.maximum.unwrap_or(Pages::max_value()).0))
            })
            .collect();
        self.module
            .set(ModuleChecks {
                delta,
                grown,
                maxima,
            })
            .map_err(|_| MiddlewareError::new("xtism", "a growth check serves one module only"))
    }

    fn generate_function_middleware<'a>(
        &self,
        _: LocalFunctionIndex,
    ) -> Box<dyn FunctionMiddleware<'a> + 'a> {
        // `transform_module_info` runs before any function is compiled.
        Box::new(FunctionGrowCheck(self.module.get().cloned()))
    }
}

/// Adds the check to one function.
#[derive(Debug)]
struct FunctionGrowCheck(Option<ModuleChecks>);

impl<'a> FunctionMiddleware<'a> for FunctionGrowCheck {
    fn feed(
        &mut self,
        operator: Operator<'a>,
        state: &mut MiddlewareReaderState<'a>,
    ) -> Result<(), MiddlewareError> {
        let checked = match (&operator, &self.0) {
            (Operator::MemoryGrow { mem }, Some(module)) => module
                .maxima
                .get(*mem as usize)
                .copied()
                .flatten()
                .map(|max| (*mem, max, module.delta, module.grown)),
            _ => None,
        };
        let Some((mem, max, delta, grown)) = checked else {
            state.push_operator(operator);
            return Ok(());
        };
        let get = |global_index| Operator::GlobalGet { global_index };
        let set = |global_index| Operator::GlobalSet { global_index };
        let then = || Operator::If {
            blockty: BlockType::Empty,
        };
        state.extend([set(delta), get(delta)]);
        state.push_operator(operator);
        state.extend([
            set(grown),
            get(grown),
            Operator::I32Const { value: -1 },
            Operator::I32Eq,
            then(),
            Operator::MemorySize { mem },
            Operator::I64ExtendI32U,
            get(delta),
            Operator::I64ExtendI32U,
            Operator::I64Add,
            Operator::I64Const { value: max },
            Operator::I64LeU,
            then(),
            Operator::Unreachable,
            Operator::End,
            Operator::End,
            get(grown),
        ]);
        Ok(())
    }
}
