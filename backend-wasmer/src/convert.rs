//! Types and values between core and wasmer: value types both ways, an import's or export's
//! kind, and the values a dynamically typed host function receives and returns.

use wasmer::{ExternType, FunctionType, Type, Value};
use xtism_core::XtismError;
use xtism_core::engine::{ExternKind, FuncType, Val, ValType};

use crate::NAME;

fn val_type(ty: Type) -> Option<ValType> {
    Some(match ty {
        Type::I32 => ValType::I32,
        Type::I64 => ValType::I64,
        Type::F32 => ValType::F32,
        Type::F64 => ValType::F64,
        Type::V128 => ValType::V128,
        Type::FuncRef => ValType::FuncRef,
        Type::ExternRef => ValType::ExternRef,
        Type::ExceptionRef => return None,
    })
}

pub(crate) fn wasmer_type(ty: ValType) -> Type {
    match ty {
        ValType::I32 => Type::I32,
        ValType::I64 => Type::I64,
        ValType::F32 => Type::F32,
        ValType::F64 => Type::F64,
        ValType::V128 => Type::V128,
        ValType::FuncRef => Type::FuncRef,
        ValType::ExternRef => Type::ExternRef,
    }
}

/// A function signature in wasmer's terms.
pub(crate) fn function_type(params: &[ValType], results: &[ValType]) -> FunctionType {
    let types =
        |types: &[ValType]| -> Vec<Type> { types.iter().map(|t| wasmer_type(*t)).collect() };
    FunctionType::new(types(params), types(results))
}

/// Core's view of an import or export type; `None` for what core cannot name (exception
/// tags and references), which then matches nothing the host provides.
pub(crate) fn extern_kind(ty: &ExternType) -> Option<ExternKind> {
    Some(match ty {
        ExternType::Function(f) => {
            let params: Option<Vec<ValType>> = f.params().iter().copied().map(val_type).collect();
            let results: Option<Vec<ValType>> = f.results().iter().copied().map(val_type).collect();
            ExternKind::Func(FuncType::new(params?, results?))
        }
        ExternType::Memory(_) => ExternKind::Memory,
        ExternType::Table(_) => ExternKind::Table,
        ExternType::Global(_) => ExternKind::Global,
        ExternType::Tag(_) => return None,
    })
}

pub(crate) fn to_core(value: &Value) -> Result<Val, XtismError> {
    Ok(match value {
        Value::I32(v) => Val::I32(*v),
        Value::I64(v) => Val::I64(*v),
        Value::F32(v) => Val::F32(v.to_bits()),
        Value::F64(v) => Val::F64(v.to_bits()),
        Value::V128(v) => Val::V128(*v),
        Value::FuncRef(None) => Val::FuncRef,
        Value::ExternRef(None) => Val::ExternRef,
        other => {
            return Err(XtismError::Unsupported {
                engine: NAME,
                feature: format!("passing {other:?} to a host function"),
            });
        }
    })
}

pub(crate) fn to_wasmer(val: &Val) -> Value {
    match val {
        Val::I32(v) => Value::I32(*v),
        Val::I64(v) => Value::I64(*v),
        Val::F32(v) => Value::F32(f32::from_bits(*v)),
        Val::F64(v) => Value::F64(f64::from_bits(*v)),
        Val::V128(v) => Value::V128(*v),
        Val::FuncRef => Value::FuncRef(None),
        Val::ExternRef => Value::ExternRef(None),
    }
}
