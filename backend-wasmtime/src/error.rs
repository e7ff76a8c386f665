//! wasmtime's errors in core's terms: an error as one line of text ([`error_message`]), a
//! trap as core's [`TrapCode`] (core words it) with the Wasm frames, named by the plug-in's
//! module names, as its backtrace ([`trap_error`]), and the core dump wasmtime attaches to
//! a failed call's error as the bytes of a core dump file ([`serialize_core_dump`]).

use wasmtime::{AsContextMut, Trap, WasmBacktrace, WasmCoreDump};
use xtism_core::XtismError;
use xtism_core::engine::{CORE_DUMP_NAME, Frame, TrapCode, format_backtrace};

/// The core dump wasmtime attached to `e` (when the engine has `coredump_on_trap`), as the
/// bytes of a core dump file; `store` is the store the failed call ran in, whose memories
/// and globals go into the dump.
#[cold]
pub(crate) fn serialize_core_dump(
    e: &wasmtime::Error,
    store: impl AsContextMut,
) -> Option<Vec<u8>> {
    let dump = e.downcast_ref::<WasmCoreDump>()?;
    Some(dump.serialize(store, CORE_DUMP_NAME))
}

/// The texts of what wasmtime adds to an error for the embedder (the backtrace, the core
/// dump's summary), which no message repeats.
fn attachments(e: &wasmtime::Error) -> [Option<String>; 2] {
    [
        e.downcast_ref::<WasmBacktrace>().map(ToString::to_string),
        e.downcast_ref::<WasmCoreDump>().map(ToString::to_string),
    ]
}

/// An error as one line: its messages from the outside in, without the backtrace or the
/// core dump.
pub(crate) fn error_message(e: &wasmtime::Error) -> String {
    let attached = attachments(e);
    e.chain()
        .map(ToString::to_string)
        .filter(|m| !attached.iter().flatten().any(|a| a == m))
        .collect::<Vec<_>>()
        .join(": ")
}

/// The Wasm frames of a backtrace, named by their modules' names (the manifest's, which core
/// wrote into each module), as core formats them.
fn frames(backtrace: &WasmBacktrace) -> Option<String> {
    format_backtrace(backtrace.frames().iter().map(|frame| Frame {
        module: frame.module().name().unwrap_or("<module>"),
        function: frame.func_name(),
        function_index: frame.func_index(),
        offset: frame.module_offset(),
    }))
}

#[cold]
pub(crate) fn trap_error(e: wasmtime::Error) -> XtismError {
    let Some(trap) = e.downcast_ref::<Trap>() else {
        // A host function's error, or the epoch callback's: core reports its own error.
        let backtrace = e.downcast_ref::<WasmBacktrace>().and_then(frames);
        return TrapCode::Other(error_message(&e)).into_error(backtrace);
    };
    // Core words the trap; what only wasmtime knows (the faulting address, the frames)
    // goes with the backtrace.
    let code = trap_code(*trap);
    let trap_text = trap.to_string();
    let backtrace = e.downcast_ref::<WasmBacktrace>();
    let attached = attachments(&e);
    let mut details: Vec<String> = e
        .chain()
        .map(ToString::to_string)
        .filter(|m| *m != trap_text && !attached.iter().flatten().any(|a| a == m))
        .collect();
    details.extend(backtrace.and_then(frames));
    details.retain(|d| !d.is_empty());
    code.into_error((!details.is_empty()).then(|| details.join("\n")))
}

/// wasmtime's trap as core's code; one core has no code for keeps wasmtime's text, without
/// its `wasm trap: ` prefix.
fn trap_code(trap: Trap) -> TrapCode {
    match trap {
        Trap::UnreachableCodeReached => TrapCode::Unreachable,
        Trap::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds,
        Trap::TableOutOfBounds => TrapCode::TableOutOfBounds,
        Trap::IndirectCallToNull => TrapCode::IndirectCallToNull,
        Trap::BadSignature => TrapCode::IndirectCallTypeMismatch,
        Trap::IntegerOverflow => TrapCode::IntegerOverflow,
        Trap::IntegerDivisionByZero => TrapCode::IntegerDivisionByZero,
        Trap::BadConversionToInteger => TrapCode::BadConversionToInteger,
        Trap::StackOverflow => TrapCode::StackOverflow,
        Trap::HeapMisaligned => TrapCode::UnalignedAtomic,
        Trap::NullReference => TrapCode::NullReference,
        Trap::OutOfFuel => TrapCode::OutOfFuel,
        other => {
            let text = other.to_string();
            TrapCode::Other(text.strip_prefix("wasm trap: ").unwrap_or(&text).to_owned())
        }
    }
}
