//! The error of a benchmark: a plug-in that does not build, a call that fails, an output
//! that is not what the row expects. One line, fit for the command's stderr.

use std::fmt;

/// Why a row could not be measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchError(String);

impl BenchError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        BenchError(message.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
        BenchError(message)
    }
}
