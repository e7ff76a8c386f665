//! The exports core asks a backend to call, by signature ([`ExportShape`]). Which
//! signatures are callable, and what a call passes, is decided here once; a backend types
//! the export as the shape says ([`ExportShape::typed`], giving a [`TypedExport`]) and
//! calls it with the shape's arguments (`call_typed_export!`).

use super::values::{FuncType, ValType};
use crate::error::XtismError;

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

    /// The export `name`, found by the backend (`func`, `None` if the module has no
    /// function of that name), typed as this shape with the backend's typed-function API:
    /// `code`, `unit` or `args`, whichever is this shape's.
    ///
    /// # Errors
    ///
    /// [`XtismError::FunctionNotFound`] if `func` is `None` or the typing fails (the
    /// function has another signature).
    #[inline]
    pub fn typed<F, C, U, A, E>(
        self,
        name: &str,
        func: Option<F>,
        code: impl FnOnce(F) -> Result<C, E>,
        unit: impl FnOnce(F) -> Result<U, E>,
        args: impl FnOnce(F) -> Result<A, E>,
    ) -> Result<TypedExport<C, U, A>, XtismError> {
        let func = func.ok_or_else(|| {
            XtismError::FunctionNotFound(format!("the module has no function named {name:?}"))
        })?;
        match self {
            ExportShape::Code => code(func).map(TypedExport::Code),
            ExportShape::Unit => unit(func).map(TypedExport::Unit),
            ExportShape::Args(..) => args(func).map(TypedExport::Args),
        }
        .map_err(|_| XtismError::FunctionNotFound(format!("{name:?} is not of shape {self:?}")))
    }

    /// The error of calling an export with another shape than it was typed as.
    #[cold]
    pub fn mismatch(self) -> XtismError {
        XtismError::FunctionNotFound(format!("the export is not of shape {self:?}"))
    }
}

/// An export typed as an [`ExportShape`] said, as one of a backend's typed functions: `C`
/// for `() -> i32`, `U` for `() -> ()`, `A` for `(i32, i32) -> ()`.
#[derive(Debug, Clone, Copy)]
pub enum TypedExport<C, U, A> {
    /// `() -> i32`.
    Code(C),
    /// `() -> ()`.
    Unit(U),
    /// `(i32, i32) -> ()`.
    Args(A),
}

/// Calls a [`TypedExport`] with the arguments of an [`ExportShape`]:
/// `call_typed_export!(export, shape, |f, args| call)` evaluates `call` with `f` the typed
/// function and `args` its parameters as a tuple (`()` or `(i32, i32)`), where `call` gives
/// a `Result<R, XtismError>` of the function's results `R` (`.await` it inside for an async
/// call). The outcome is `Result<Option<i32>, XtismError>`: `Some(code)` for `() -> i32`,
/// `None` otherwise, and [`ExportShape::mismatch`] for an `(i32, i32) -> ()` export called
/// with another shape.
///
/// `|f, args| call` only looks like a closure: `call` is pasted into each of the three
/// arms, so it must type-check for each typed function with its own `args`, and a `return`
/// or `?` in it leaves the function the macro is used in.
#[doc(hidden)]
#[macro_export]
macro_rules! __call_typed_export {
    ($export:expr, $shape:expr, |$f:ident, $args:ident| $call:expr) => {
        match ($export, $shape) {
            ($crate::engine::TypedExport::Code($f), _) => {
                let $args = ();
                $call.map(Some)
            }
            ($crate::engine::TypedExport::Unit($f), _) => {
                let $args = ();
                $call.map(|()| None)
            }
            ($crate::engine::TypedExport::Args($f), $crate::engine::ExportShape::Args(a, b)) => {
                let $args = (a, b);
                $call.map(|()| None)
            }
            ($crate::engine::TypedExport::Args(_), shape) => Err(shape.mismatch()),
        }
    };
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

    #[test]
    fn typing_follows_the_shape() {
        let typed = |shape: ExportShape, func: Option<&str>| {
            shape.typed(
                "f",
                func,
                |f| if f == "code" { Ok(7) } else { Err(()) },
                |f| if f == "unit" { Ok(()) } else { Err(()) },
                |f| if f == "args" { Ok('a') } else { Err(()) },
            )
        };
        let error = |r: Result<_, XtismError>| r.err().map(|e| e.to_string());
        let missing = error(typed(ExportShape::Code, None)).unwrap();
        assert!(missing.contains("no function named \"f\""), "{missing}");
        let wrong = error(typed(ExportShape::Unit, Some("code"))).unwrap();
        assert!(wrong.contains("\"f\" is not of shape Unit"), "{wrong}");
        let typed = typed(ExportShape::Args(0, 0), Some("args"));
        assert!(matches!(typed, Ok(TypedExport::Args('a'))));
    }

    /// A typed function that records its arguments and returns `R`.
    struct Recorder<R>(R, std::cell::RefCell<String>);

    impl<R: Copy> Recorder<R> {
        fn call<P: std::fmt::Debug>(&self, args: P) -> Result<R, XtismError> {
            *self.1.borrow_mut() = format!("{args:?}");
            Ok(self.0)
        }
    }

    #[test]
    fn a_typed_export_is_called_with_its_shape_arguments() {
        type Typed<'a> = TypedExport<&'a Recorder<i32>, &'a Recorder<()>, &'a Recorder<()>>;
        let (code, unit, args) = (
            Recorder(7, Default::default()),
            Recorder((), Default::default()),
            Recorder((), Default::default()),
        );
        let call = |export: Typed<'_>, shape| -> Result<Option<i32>, XtismError> {
            crate::engine::call_typed_export!(export, shape, |f, args| f.call(args))
        };
        assert_eq!(
            call(TypedExport::Code(&code), ExportShape::Code).unwrap(),
            Some(7)
        );
        assert_eq!(*code.1.borrow(), "()");
        assert_eq!(
            call(TypedExport::Unit(&unit), ExportShape::Unit).unwrap(),
            None
        );
        assert_eq!(*unit.1.borrow(), "()");
        assert_eq!(
            call(TypedExport::Args(&args), ExportShape::Args(3, 4)).unwrap(),
            None
        );
        assert_eq!(*args.1.borrow(), "(3, 4)");
        args.1.borrow_mut().clear();
        let mismatch = call(TypedExport::Args(&args), ExportShape::Code).unwrap_err();
        assert!(
            mismatch.to_string().contains("not of shape Code"),
            "{mismatch}"
        );
        assert_eq!(*args.1.borrow(), "", "a mismatched export is not called");
    }
}
