//! Types and values between core and wasmtime: value types both ways, an import's or
//! export's kind, and the values a dynamically typed host function receives and returns.

use wasmtime::{ExternType, HeapType};
use xtism_core::XtismError;
use xtism_core::engine::ExternKind;
use xtism_core::engine::{FuncType, Val, ValType};

use crate::NAME;

/// A wasmtime value type in core's terms.
fn val_type(ty: &wasmtime::ValType) -> ValType {
    match ty {
        wasmtime::ValType::I32 => ValType::I32,
        wasmtime::ValType::I64 => ValType::I64,
        wasmtime::ValType::F32 => ValType::F32,
        wasmtime::ValType::F64 => ValType::F64,
        wasmtime::ValType::V128 => ValType::V128,
        // Without the GC proposal (not enabled in this build) references are funcref or
        // externref.
        wasmtime::ValType::Ref(r) if matches!(r.heap_type().top(), HeapType::Func) => {
            ValType::FuncRef
        }
        wasmtime::ValType::Ref(_) => ValType::ExternRef,
    }
}

/// A core value type in wasmtime's terms.
pub(crate) fn wasmtime_val_type(ty: ValType) -> wasmtime::ValType {
    match ty {
        ValType::I32 => wasmtime::ValType::I32,
        ValType::I64 => wasmtime::ValType::I64,
        ValType::F32 => wasmtime::ValType::F32,
        ValType::F64 => wasmtime::ValType::F64,
        ValType::V128 => wasmtime::ValType::V128,
        ValType::FuncRef => wasmtime::ValType::FUNCREF,
        ValType::ExternRef => wasmtime::ValType::EXTERNREF,
    }
}

/// A function signature in wasmtime's terms, for `engine`.
pub(crate) fn func_type(
    engine: &wasmtime::Engine,
    params: &[ValType],
    results: &[ValType],
) -> wasmtime::FuncType {
    wasmtime::FuncType::new(
        engine,
        params.iter().map(|t| wasmtime_val_type(*t)),
        results.iter().map(|t| wasmtime_val_type(*t)),
    )
}

/// An import's or export's kind in core's terms.
pub(crate) fn extern_kind(ty: &ExternType) -> ExternKind {
    match ty {
        ExternType::Func(f) => ExternKind::Func(FuncType::new(
            f.params().map(|t| val_type(&t)),
            f.results().map(|t| val_type(&t)),
        )),
        ExternType::Memory(_) => ExternKind::Memory,
        ExternType::Table(_) => ExternKind::Table,
        // Tags need the exception-handling proposal, which this build does not enable.
        ExternType::Global(_) | ExternType::Tag(_) => ExternKind::Global,
    }
}

/// A value passed to a host function, in core's terms; only null references can be.
pub(crate) fn to_core(val: &wasmtime::Val) -> Result<Val, XtismError> {
    Ok(match val {
        wasmtime::Val::I32(v) => Val::I32(*v),
        wasmtime::Val::I64(v) => Val::I64(*v),
        wasmtime::Val::F32(v) => Val::F32(*v),
        wasmtime::Val::F64(v) => Val::F64(*v),
        wasmtime::Val::V128(v) => Val::V128(v.as_u128()),
        wasmtime::Val::FuncRef(None) => Val::FuncRef,
        wasmtime::Val::ExternRef(None) => Val::ExternRef,
        other => {
            return Err(XtismError::Unsupported {
                engine: NAME,
                feature: format!("passing {other:?} to a host function"),
            });
        }
    })
}

/// A host function's result in wasmtime's terms.
pub(crate) fn to_wasmtime(val: &Val) -> wasmtime::Val {
    match val {
        Val::I32(v) => wasmtime::Val::I32(*v),
        Val::I64(v) => wasmtime::Val::I64(*v),
        Val::F32(v) => wasmtime::Val::F32(*v),
        Val::F64(v) => wasmtime::Val::F64(*v),
        Val::V128(v) => wasmtime::Val::V128((*v).into()),
        Val::FuncRef => wasmtime::Val::FuncRef(None),
        Val::ExternRef => wasmtime::Val::ExternRef(None),
    }
}
