//! The error of a benchmark: a plug-in that does not build, a call that fails, an output
//! that is not what the row expects, or a runtime that cannot do what the row measures
//! ([`BenchError::is_unsupported`]). One line, fit for the command's stderr.

use std::fmt;

/// Why a row could not be measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchError {
    message: String,
    unsupported: bool,
}

impl BenchError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        BenchError {
            message: message.into(),
            unsupported: false,
        }
    }

    /// The runtime lacks what the row measures (async calls on wasmer or the official
    /// crate): the row has no time on it, rather than a failure. Refused before anything
    /// is built.
    pub fn unsupported(message: impl Into<String>) -> Self {
        BenchError {
            message: message.into(),
            unsupported: true,
        }
    }

    /// Whether this says the runtime cannot run the row at all ([`BenchError::unsupported`]),
    /// not that running it failed: a table shows such a cell as not applicable.
    pub fn is_unsupported(&self) -> bool {
        self.unsupported
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BenchError {}

impl From<xtism::Error> for BenchError {
    fn from(err: xtism::Error) -> Self {
        let message = match err.downcast_ref::<xtism::XtismError>() {
            // The Wasm backtrace takes many lines; the message says what happened.
            Some(xtism::XtismError::Trap { message, .. }) => {
                format!("the plug-in trapped: {message}")
            }
            _ => err.to_string(),
        };
        BenchError::new(message)
    }
}
