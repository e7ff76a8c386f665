//! Guest initialisation: the calls a plug-in gets once, before its first call, in order
//! (each module's deferred start function, then its language runtime's initializers, as
//! [`guest_initializers`] picks them), and `InitCall`, one such call.

use std::collections::HashMap;

use crate::engine::{ExportShape, ExternKind, FuncType, LinkPlan, ValType};
use crate::start;

/// The exports that initialize a guest's language runtime, in the order to call them once
/// before the first call, as the official runtime does: a Haskell module gets `_initialize`
/// (when it is a reactor) then `hs_init(0, 0)`; otherwise `__wasm_call_ctors`, else
/// `_initialize`. Exports of the wrong type are not called.
pub fn guest_initializers<'a>(
    exports: impl IntoIterator<Item = (&'a str, &'a FuncType)>,
) -> Vec<&'static str> {
    let exports: HashMap<&str, &FuncType> = exports.into_iter().collect();
    let unit = FuncType::default();
    let is_unit = |name: &str| exports.get(name).is_some_and(|ty| **ty == unit);
    if exports
        .get("hs_init")
        .is_some_and(|ty| **ty == FuncType::new([ValType::I32, ValType::I32], []))
    {
        let mut init = Vec::new();
        if is_unit("_initialize") {
            init.push("_initialize");
        }
        init.push("hs_init");
        init
    } else if exports.contains_key("__wasm_call_ctors") {
        if is_unit("__wasm_call_ctors") {
            vec!["__wasm_call_ctors"]
        } else {
            Vec::new()
        }
    } else if is_unit("_initialize") {
        vec!["_initialize"]
    } else {
        Vec::new()
    }
}

/// The calls that initialize a plug-in at its first call, in order: for each module,
/// dependencies first, its deferred start function, then its guest runtime's initializers.
pub(super) fn initialization(plan: &LinkPlan, deferred: &[bool]) -> Vec<InitCall> {
    let mut init = Vec::new();
    let main = plan.modules.len().saturating_sub(1);
    for (index, planned) in plan.modules.iter().enumerate() {
        let module = (index != main).then_some(index);
        if deferred.get(index).copied().unwrap_or(false) {
            init.push(InitCall {
                module,
                name: start::DEFERRED_START,
                shape: ExportShape::Unit,
            });
        }
        let exports = planned.module.exports();
        let funcs: HashMap<&str, &FuncType> = exports
            .iter()
            .filter_map(|e| match &e.kind {
                ExternKind::Func(ty) => Some((e.name.as_str(), ty)),
                _ => None,
            })
            .collect();
        init.extend(
            guest_initializers(funcs.iter().map(|(name, ty)| (*name, *ty)))
                .into_iter()
                .filter_map(|name| {
                    let shape = ExportShape::of(funcs.get(name)?)?;
                    Some(InitCall {
                        module,
                        name,
                        shape,
                    })
                }),
        );
    }
    init
}

/// One initialization call: an export of a module of the plan.
#[derive(Debug, Clone, Copy)]
pub(super) struct InitCall {
    /// Index in [`LinkPlan::modules`], `None` for the main module (the last), as
    /// [`Instance::call`](crate::engine::Instance::call) takes it.
    pub(super) module: Option<usize>,
    pub(super) name: &'static str,
    /// How to call it.
    pub(super) shape: ExportShape,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(params: &[ValType], results: &[ValType]) -> FuncType {
        FuncType::new(params.iter().copied(), results.iter().copied())
    }

    #[test]
    fn initializers_follow_the_official_order() {
        let unit = ty(&[], &[]);
        let hs = ty(&[ValType::I32, ValType::I32], &[]);
        let bad = ty(&[ValType::I32], &[]);
        let init = |exports: &[(&str, &FuncType)]| guest_initializers(exports.iter().copied());
        assert_eq!(
            init(&[("hs_init", &hs), ("_initialize", &unit)]),
            ["_initialize", "hs_init"]
        );
        assert_eq!(
            init(&[("hs_init", &hs), ("__wasm_call_ctors", &unit)]),
            ["hs_init"]
        );
        assert_eq!(
            init(&[("_initialize", &unit), ("__wasm_call_ctors", &unit)]),
            ["__wasm_call_ctors"]
        );
        assert_eq!(init(&[("_initialize", &unit)]), ["_initialize"]);
        assert!(init(&[("__wasm_call_ctors", &bad), ("_initialize", &unit)]).is_empty());
        assert!(init(&[("_initialize", &bad)]).is_empty());
        assert_eq!(
            init(&[("hs_init", &bad), ("_initialize", &unit)]),
            ["_initialize"]
        );
    }
}
