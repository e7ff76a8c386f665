//! The one error type of xtism.
//!
//! Every failure a caller can see is an [`Error`] variant they can match: a bad manifest,
//! a module that does not compile or link, a trap, a limit, a plug-in's own error, a host
//! function's error. Backend errors are boxed into [`Error::Engine`]; nothing engine-specific
//! leaks into the type.

use std::fmt;

/// Boxed error of a dependency or of user code.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in xtism.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The manifest could not be read, parsed, downloaded or verified.
    #[error(transparent)]
    Manifest(#[from] xtism_manifest::ManifestError),
    /// A module failed to compile or validate.
    #[error("the Wasm module {module} does not compile: {message}")]
    Compile {
        /// Name of the module (`main` for the plug-in itself).
        module: String,
        /// What the engine said.
        message: String,
    },
    /// A module imports something nobody provides.
    #[error("missing import {module}::{field} with signature {signature}: {reason}")]
    Link {
        /// Import module name.
        module: String,
        /// Import field name.
        field: String,
        /// The signature the plug-in expects, e.g. `func(i64) -> i64`.
        signature: String,
        /// Why it could not be linked.
        reason: String,
    },
    /// The guest trapped.
    #[error("the plug-in trapped: {message}{}", backtrace_suffix(.backtrace))]
    Trap {
        /// The trap message (and the guest's own error message, when it set one).
        message: String,
        /// The Wasm backtrace, when the engine provides one.
        backtrace: Option<String>,
    },
    /// The call ran past its timeout.
    #[error("the call timed out after {0} ms")]
    Timeout(u64),
    /// The call was cancelled from another thread.
    #[error("the call was cancelled")]
    Cancelled,
    /// The call used up its fuel budget.
    #[error("the call ran out of fuel")]
    OutOfFuel,
    /// A memory limit was reached.
    #[error("memory limit reached: {0}")]
    MemoryLimit(String),
    /// The plug-in returned a non-zero code, with the message it set with `error_set`.
    #[error("{message}")]
    Plugin {
        /// The code the export returned (or the WASI exit code).
        code: i32,
        /// The plug-in's error message.
        message: String,
    },
    /// The plug-in has no such export, or it does not have an Extism signature.
    #[error("{0}")]
    FunctionNotFound(String),
    /// An HTTP request failed or was refused; the message says which request.
    #[error("{0}")]
    Http(String),
    /// An I/O error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A host function's own error; downcast it with [`Error::host_error`].
    #[error("host function {function} failed: {source}")]
    Host {
        /// Name of the host function (empty when unknown).
        function: String,
        /// The error the host function returned.
        source: BoxError,
    },
    /// The guest handed the host something invalid (a bad handle, range or string).
    #[error("{0}")]
    Guest(String),
    /// A request the caller made is invalid (bad argument, wrong type, bad config).
    #[error("{0}")]
    Invalid(String),
    /// The engine cannot do what was asked.
    #[error("the {engine} engine does not support {feature}")]
    Unsupported {
        /// Engine name.
        engine: &'static str,
        /// What it cannot do.
        feature: String,
    },
    /// An engine error with no better kind.
    #[error("engine error: {0}")]
    Engine(BoxError),
}

fn backtrace_suffix(backtrace: &Option<String>) -> String {
    match backtrace {
        Some(bt) if !bt.is_empty() => format!("\nWasm backtrace:\n{bt}"),
        _ => String::new(),
    }
}

/// The kind of an [`Error`], for callers that match on what happened rather than on details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::Manifest`]
    Manifest,
    /// [`Error::Compile`]
    Compile,
    /// [`Error::Link`]
    Link,
    /// [`Error::Trap`]
    Trap,
    /// [`Error::Timeout`]
    Timeout,
    /// [`Error::Cancelled`]
    Cancelled,
    /// [`Error::OutOfFuel`]
    OutOfFuel,
    /// [`Error::MemoryLimit`]
    MemoryLimit,
    /// [`Error::Plugin`]
    Plugin,
    /// [`Error::FunctionNotFound`]
    FunctionNotFound,
    /// [`Error::Http`]
    Http,
    /// [`Error::Io`]
    Io,
    /// [`Error::Host`]
    Host,
    /// [`Error::Guest`]
    Guest,
    /// [`Error::Invalid`]
    Invalid,
    /// [`Error::Unsupported`]
    Unsupported,
    /// [`Error::Engine`]
    Engine,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Error {
    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Manifest(_) => ErrorKind::Manifest,
            Error::Compile { .. } => ErrorKind::Compile,
            Error::Link { .. } => ErrorKind::Link,
            Error::Trap { .. } => ErrorKind::Trap,
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::Cancelled => ErrorKind::Cancelled,
            Error::OutOfFuel => ErrorKind::OutOfFuel,
            Error::MemoryLimit(_) => ErrorKind::MemoryLimit,
            Error::Plugin { .. } => ErrorKind::Plugin,
            Error::FunctionNotFound(_) => ErrorKind::FunctionNotFound,
            Error::Http(_) => ErrorKind::Http,
            Error::Io(_) => ErrorKind::Io,
            Error::Host { .. } => ErrorKind::Host,
            Error::Guest(_) => ErrorKind::Guest,
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Engine(_) => ErrorKind::Engine,
        }
    }

    /// Wraps a host function's own error.
    #[cold]
    pub fn host(error: impl Into<BoxError>) -> Self {
        Error::Host {
            function: String::new(),
            source: error.into(),
        }
    }

    /// A plain message as a host function error.
    #[cold]
    pub fn msg(message: impl fmt::Display) -> Self {
        Error::host(message.to_string())
    }

    /// Boxes a backend error.
    #[cold]
    pub fn engine(error: impl Into<BoxError>) -> Self {
        Error::Engine(error.into())
    }

    /// The host function's own error, if this is one of type `E`.
    pub fn host_error<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Error::Host { source, .. } => source.downcast_ref::<E>(),
            _ => None,
        }
    }

    /// The plug-in's exit code, when the plug-in returned one.
    pub fn plugin_code(&self) -> Option<i32> {
        match self {
            Error::Plugin { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl From<serde_json::Error> for Error {
    #[cold]
    fn from(e: serde_json::Error) -> Self {
        Error::host(e)
    }
}

impl From<std::str::Utf8Error> for Error {
    #[cold]
    fn from(e: std::str::Utf8Error) -> Self {
        Error::host(e)
    }
}

impl From<std::string::FromUtf8Error> for Error {
    #[cold]
    fn from(e: std::string::FromUtf8Error) -> Self {
        Error::host(e)
    }
}

impl From<String> for Error {
    #[cold]
    fn from(message: String) -> Self {
        Error::host(message)
    }
}

impl From<&str> for Error {
    #[cold]
    fn from(message: &str) -> Self {
        Error::host(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small() {
        // Errors travel through every call's Result; keep them a dozen words at most
        // (the widest variant is Link, four strings).
        assert!(
            std::mem::size_of::<Error>() <= 96,
            "{}",
            std::mem::size_of::<Error>()
        );
    }

    #[test]
    fn host_errors_downcast() {
        let e = Error::host(std::io::Error::other("disk on fire"));
        assert_eq!(e.kind(), ErrorKind::Host);
        assert_eq!(
            e.host_error::<std::io::Error>().unwrap().to_string(),
            "disk on fire"
        );
        assert!(e.to_string().contains("disk on fire"));
    }
}
