//! Stopping a running call: an injected check in compiled code, and the flags it checks as
//! what core's watchdog interrupts.
//!
//! Wasmer 7 offers no portable way to stop Wasm code from the host (see the crate
//! documentation), so [`InterruptCheck`] adds a mutable `i32` global to every interruptible
//! module and a check at every function entry and every loop header:
//!
//! ```wat
//! global.get $xtism_interrupt
//! if
//!   unreachable
//! end
//! ```
//!
//! Every unbounded execution passes through a loop header or a function entry, so a call
//! notices a raised flag within a bounded stretch of straight-line code. The check is one
//! load and one predictable branch. At loop headers it is followed by a store of 0 to a
//! second, private global: Cranelift's redundant-load elimination would otherwise reuse the
//! flag's value loaded before a loop that stores nothing (`(loop (br 0))`), and the loop
//! would never see the flag change. The store carries no dependency across iterations.
//!
//! The flags are raised by core's watchdog ([`WatchedInstance`]), which asks core's
//! `CallLimits::interruption` at every tick whether a running call must stop, and then
//! calls [`Flags`]' [`Interrupt`]: an atomic store into the globals' storage, which the
//! guest reads with plain loads. Core interrupts only while the call runs, so that storage
//! is alive whenever it is written.
//!
//! [`WatchedInstance`]: xtism_core::engine::WatchedInstance

use std::sync::OnceLock;

use wasmer::sys::wasmparser::{BlockType, Operator};
use wasmer::sys::{FunctionMiddleware, MiddlewareError, MiddlewareReaderState, ModuleMiddleware};
use wasmer::{
    ExportIndex, GlobalInit, GlobalType, LocalFunctionIndex, ModuleInfo, Mutability, Type,
};
use xtism_core::engine::Interrupt;

use crate::raw::Flag;

/// The export naming the interruption flag of an instrumented module.
pub(crate) const FLAG_EXPORT: &str = "__xtism_interrupt";

/// Version of the injected code, part of the compile cache key.
pub(crate) const CHECK_VERSION: u32 = 2;

/// The middleware that adds the flag global and the checks. One per compiled module (it
/// remembers the module's flag index).
#[derive(Debug, Default)]
pub(crate) struct InterruptCheck {
    /// The flag and the scratch global of the module.
    globals: OnceLock<(u32, u32)>,
}

impl ModuleMiddleware for InterruptCheck {
    fn transform_module_info(&self, info: &mut ModuleInfo) -> Result<(), MiddlewareError> {
        if info.exports.contains_key(FLAG_EXPORT) {
            return Err(MiddlewareError::new(
                "xtism",
                format!("the module exports {FLAG_EXPORT:?}, a name xtism reserves"),
            ));
        }
        let mut add_global = || {
            info.global_initializers.push(GlobalInit::I32Const(0));
            info.globals
                .push(GlobalType::new(Type::I32, Mutability::Var))
        };
        let flag = add_global();
        let scratch = add_global();
        info.exports
            .insert(FLAG_EXPORT.to_owned(), ExportIndex::Global(flag));
        self.globals
            .set((flag.as_u32(), scratch.as_u32()))
            .map_err(|_| {
                MiddlewareError::new("xtism", "an interruption check serves one module only")
            })
    }

    fn generate_function_middleware<'a>(
        &self,
        _: LocalFunctionIndex,
    ) -> Box<dyn FunctionMiddleware<'a> + 'a> {
        // `transform_module_info` runs before any function is compiled.
        let (flag, scratch) = self.globals.get().copied().unwrap_or_default();
        Box::new(FunctionCheck {
            flag,
            scratch,
            at_entry: true,
        })
    }
}

/// Inserts the check into one function.
#[derive(Debug)]
struct FunctionCheck {
    flag: u32,
    scratch: u32,
    at_entry: bool,
}

impl FunctionCheck {
    /// Traps when the flag is raised.
    fn check(&self) -> [Operator<'static>; 4] {
        [
            Operator::GlobalGet {
                global_index: self.flag,
            },
            Operator::If {
                blockty: BlockType::Empty,
            },
            Operator::Unreachable,
            Operator::End,
        ]
    }

    /// A store in every loop, so that the compiler reloads the flag at each iteration.
    fn clobber(&self) -> [Operator<'static>; 2] {
        [
            Operator::I32Const { value: 0 },
            Operator::GlobalSet {
                global_index: self.scratch,
            },
        ]
    }
}

impl<'a> FunctionMiddleware<'a> for FunctionCheck {
    fn feed(
        &mut self,
        operator: Operator<'a>,
        state: &mut MiddlewareReaderState<'a>,
    ) -> Result<(), MiddlewareError> {
        if self.at_entry {
            self.at_entry = false;
            state.extend(self.check());
        }
        let is_loop = matches!(operator, Operator::Loop { .. });
        state.push_operator(operator);
        if is_loop {
            state.extend(self.check());
            state.extend(self.clobber());
        }
        Ok(())
    }
}

/// The interruption flags of one plug-in instance, one per instrumented module: core's
/// watchdog raises them all to stop the instance's call.
pub(crate) struct Flags(pub(crate) Vec<Flag>);

impl Interrupt for Flags {
    fn interrupt(&self) {
        self.0.iter().for_each(|f| f.raise());
    }
}
