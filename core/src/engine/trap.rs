//! Traps as a backend reports them ([`TrapCode`]) and as core words them, once, so that a
//! plug-in that traps reads the same on every engine: the words of the WebAssembly spec
//! tests, as wasmtime has them.

use crate::error::XtismError;

/// Why a plug-in's code trapped, as the engine saw it. A backend maps its engine's trap to
/// a code and core words it ([`message`](Self::message)); what only one engine knows stays
/// in [`Other`](Self::Other), in that engine's words.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrapCode {
    /// The `unreachable` instruction ran.
    Unreachable,
    /// A load or store outside a linear memory (or an active data segment out of bounds).
    MemoryOutOfBounds,
    /// A table access out of bounds (or an active element segment out of bounds).
    TableOutOfBounds,
    /// An indirect call through a null table element.
    IndirectCallToNull,
    /// An indirect call to a function of another type.
    IndirectCallTypeMismatch,
    /// Integer overflow (`i32.div_s` of the minimum by -1, a float truncation out of range).
    IntegerOverflow,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero,
    /// A float truncation of NaN to an integer.
    BadConversionToInteger,
    /// The call stack ran out.
    StackOverflow,
    /// A misaligned atomic access.
    UnalignedAtomic,
    /// A null reference where one is not allowed.
    NullReference,
    /// The fuel budget ran out: [`XtismError::OutOfFuel`], not a trap.
    OutOfFuel,
    /// Anything else, in the engine's own words.
    Other(String),
}

impl TrapCode {
    /// The trap in the words core reports it with.
    pub fn message(&self) -> &str {
        match self {
            TrapCode::Unreachable => "wasm `unreachable` instruction executed",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::TableOutOfBounds => "undefined element: out of bounds table access",
            TrapCode::IndirectCallToNull => "uninitialized element",
            TrapCode::IndirectCallTypeMismatch => "indirect call type mismatch",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::IntegerDivisionByZero => "integer divide by zero",
            TrapCode::BadConversionToInteger => "invalid conversion to integer",
            TrapCode::StackOverflow => "call stack exhausted",
            TrapCode::UnalignedAtomic => "unaligned atomic",
            TrapCode::NullReference => "null reference",
            TrapCode::OutOfFuel => "all fuel consumed by WebAssembly",
            TrapCode::Other(message) => message,
        }
    }

    /// The error a call that trapped so ends with: [`XtismError::OutOfFuel`] for
    /// [`OutOfFuel`](Self::OutOfFuel), else [`XtismError::Trap`] with the trap's message and
    /// `backtrace` (the engine's Wasm frames and details, one per line).
    #[cold]
    pub fn into_error(self, backtrace: Option<String>) -> XtismError {
        match self {
            TrapCode::OutOfFuel => XtismError::OutOfFuel,
            TrapCode::Other(message) => XtismError::Trap { message, backtrace },
            code => XtismError::Trap {
                message: code.message().to_owned(),
                backtrace,
            },
        }
    }
}

/// The program name a Wasm core dump records: the official runtime's.
pub const CORE_DUMP_NAME: &str = "extism";

/// One Wasm frame of a trap's backtrace, as a backend reads it from its engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The name of the frame's module in the plug-in: its manifest name (`main` for the
    /// plug-in itself), or [`KERNEL_MODULE_NAME`](super::KERNEL_MODULE_NAME).
    pub module: &'a str,
    /// The function's name, from the module's name section, if it has one.
    pub function: Option<&'a str>,
    /// The function's index in its module.
    pub function_index: u32,
    /// The byte offset of the instruction in the module, if the engine knows it.
    pub offset: Option<usize>,
}

/// A backtrace as core reports it: one frame per line, innermost first, as
/// `   0: main!run @ 0x1f` (a function without a name is `<function 3>`); `None` without
/// frames.
pub fn format_backtrace<'a>(frames: impl IntoIterator<Item = Frame<'a>>) -> Option<String> {
    use std::fmt::Write;
    let mut out = String::new();
    for (i, frame) in frames.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(out, "{i:>4}: {}!", frame.module);
        match frame.function {
            Some(name) => out.push_str(name),
            None => {
                let _ = write!(out, "<function {}>", frame.function_index);
            }
        }
        if let Some(offset) = frame.offset {
            let _ = write!(out, " @ {offset:#x}");
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traps_read_as_the_spec_tests_word_them() {
        let error = TrapCode::Unreachable.into_error(None);
        assert_eq!(
            error.to_string(),
            "the plug-in trapped: wasm `unreachable` instruction executed"
        );
        assert!(matches!(
            TrapCode::OutOfFuel.into_error(None),
            XtismError::OutOfFuel
        ));
        assert_eq!(TrapCode::Other("odd".into()).message(), "odd");
    }

    #[test]
    fn backtraces_have_a_frame_per_line() {
        let frame = |function, offset| Frame {
            module: "main",
            function,
            function_index: 3,
            offset,
        };
        assert_eq!(format_backtrace([]), None);
        assert_eq!(
            format_backtrace([frame(Some("run"), Some(0x1f)), frame(None, None)]).as_deref(),
            Some("   0: main!run @ 0x1f\n   1: main!<function 3>")
        );
    }
}
