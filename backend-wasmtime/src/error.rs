//! wasmtime's errors in core's terms: an error as one line of text ([`error_message`]), and a
//! trap as [`XtismError::Trap`] with the trap alone as its message and the Wasm frames, named by
//! the plug-in's module names, as its backtrace ([`trap_error`]).

use wasmtime::{Trap, WasmBacktrace};
use xtism_core::XtismError;

use crate::store::ModuleNames;

/// An error as one line: its messages from the outside in, without the backtrace.
pub(crate) fn error_message(e: &wasmtime::Error) -> String {
    let backtrace = e.downcast_ref::<WasmBacktrace>().map(ToString::to_string);
    e.chain()
        .map(ToString::to_string)
        .filter(|m| Some(m) != backtrace.as_ref())
        .collect::<Vec<_>>()
        .join(": ")
}

/// The Wasm frames of a backtrace, one per line.
fn format_backtrace(backtrace: &WasmBacktrace, names: &ModuleNames) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (i, frame) in backtrace.frames().iter().enumerate() {
        let module = names.of(frame.module());
        let _ = write!(out, "{i:>4}: {module}!");
        match frame.func_name() {
            Some(name) => out.push_str(name),
            None => {
                let _ = write!(out, "<function {}>", frame.func_index());
            }
        }
        if let Some(offset) = frame.module_offset() {
            let _ = write!(out, " @ {offset:#x}");
        }
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out
}

#[cold]
pub(crate) fn trap_error(e: wasmtime::Error, names: &ModuleNames) -> XtismError {
    let Some(trap) = e.downcast_ref::<Trap>() else {
        // A host function's error, or the epoch callback's: core reports its own error.
        return XtismError::Trap {
            message: error_message(&e),
            backtrace: e
                .downcast_ref::<WasmBacktrace>()
                .map(|bt| format_backtrace(bt, names))
                .filter(|bt| !bt.is_empty()),
        };
    };
    if *trap == Trap::OutOfFuel {
        return XtismError::OutOfFuel;
    }
    // The message is the trap alone, in the words of the spec tests ("wasm trap: " is
    // wasmtime's prefix, and core says "the plug-in trapped"), so it reads the same on
    // every engine. What only wasmtime knows (the faulting address, the frames) goes with
    // the backtrace.
    let trap_text = trap.to_string();
    let message = trap_text
        .strip_prefix("wasm trap: ")
        .unwrap_or(&trap_text)
        .to_owned();
    let frames = e.downcast_ref::<WasmBacktrace>();
    let frames_text = frames.map(ToString::to_string);
    let mut details: Vec<String> = e
        .chain()
        .map(ToString::to_string)
        .filter(|m| *m != trap_text && Some(m) != frames_text.as_ref())
        .collect();
    details.extend(frames.map(|bt| format_backtrace(bt, names)));
    details.retain(|d| !d.is_empty());
    XtismError::Trap {
        message,
        backtrace: (!details.is_empty()).then(|| details.join("\n")),
    }
}
