//! Types and values between core and wasmi: value types both ways, an import's or export's
//! kind, and the values a dynamically typed host function receives and returns.

use wasmi::ExternType;
use xtism_core::XtismError;
use xtism_core::engine::{ExternKind, FuncType, Val, ValType};

use crate::NAME;

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

pub(crate) fn wasmi_val_type(ty: ValType) -> wasmi::ValType {
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

/// A function signature in wasmi's terms.
pub(crate) fn func_type(params: &[ValType], results: &[ValType]) -> wasmi::FuncType {
    wasmi::FuncType::new(
        params.iter().map(|t| wasmi_val_type(*t)),
        results.iter().map(|t| wasmi_val_type(*t)),
    )
}

pub(crate) fn extern_kind(ty: &ExternType) -> ExternKind {
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

pub(crate) fn to_core(val: &wasmi::Val) -> Result<Val, XtismError> {
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

pub(crate) fn to_wasmi(val: &Val) -> Result<wasmi::Val, XtismError> {
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
