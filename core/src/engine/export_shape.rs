//! The exports core asks a backend to call, by signature ([`ExportShape`]). Which
//! signatures are callable, and what a call passes, is decided here once; a backend types
//! the export as the shape says and calls it with the shape's arguments.

use super::values::{FuncType, ValType};

/// The signature of an export core calls, with the arguments it is called with: the only
/// three kinds of call a backend makes into a plug-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportShape {
    /// `() -> i32`: a plug-in function returning its code.
    Code,
    /// `() -> ()`: a plug-in function returning nothing, an initializer or a start function.
    Unit,
    /// `(i32, i32) -> ()`, called with these two arguments.
    Args(i32, i32),
}

impl ExportShape {
    /// The shape of an export of type `ty`, when core calls exports of that type: `Code`,
    /// `Unit`, or `Args(0, 0)`, the call the official runtime makes of a Haskell module's
    /// `hs_init(argc, argv)`. `None` for any other signature.
    #[inline]
    pub fn of(ty: &FuncType) -> Option<ExportShape> {
        match (ty.params(), ty.results()) {
            ([], [ValType::I32]) => Some(ExportShape::Code),
            ([], []) => Some(ExportShape::Unit),
            ([ValType::I32, ValType::I32], []) => Some(ExportShape::Args(0, 0)),
            _ => None,
        }
    }

    /// Whether a host may call an export of this shape as a plug-in function: no
    /// parameters, an `i32` or nothing back.
    #[inline]
    pub fn is_plugin_function(self) -> bool {
        matches!(self, ExportShape::Code | ExportShape::Unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_signatures() {
        let ty = |params: &[ValType], results: &[ValType]| {
            FuncType::new(params.iter().copied(), results.iter().copied())
        };
        use ValType::{I32, I64};
        assert_eq!(ExportShape::of(&ty(&[], &[I32])), Some(ExportShape::Code));
        assert_eq!(ExportShape::of(&ty(&[], &[])), Some(ExportShape::Unit));
        assert_eq!(
            ExportShape::of(&ty(&[I32, I32], &[])),
            Some(ExportShape::Args(0, 0))
        );
        assert_eq!(ExportShape::of(&ty(&[], &[I64])), None);
        assert_eq!(ExportShape::of(&ty(&[I32], &[])), None);
        assert!(!ExportShape::Args(0, 0).is_plugin_function());
    }
}
