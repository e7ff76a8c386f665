//! Errors: [`Error`], the official runtime's error type (`anyhow::Error`), which every
//! user-facing call returns, and [`XtismError`], the typed error inside it.
//!
//! The official `extism` crate returns `anyhow::Error` everywhere and host functions return
//! it too (with `anyhow::bail!`), so a port from it needs the same type. What xtism adds is
//! typed: every error xtism makes is an [`XtismError`] variant (a bad manifest, a module
//! that does not compile or link, a trap, a limit, a plug-in's own error, a host function's
//! error), which [`ErrorExt::xtism_error`] and [`ErrorExt::kind`] give back to match on.
//! Backends and core's insides use [`XtismError`] alone; backend errors are boxed into
//! [`XtismError::Engine`], so nothing engine-specific leaks into the type.

use std::fmt;

/// The error of every user-facing call: `anyhow::Error`, as in the official runtime. Get the
/// typed error out with [`ErrorExt`].
pub use anyhow::Error;

/// Boxed error of a dependency or of user code.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in xtism, typed: the error inside every [`Error`] that xtism
/// returns, to match on after [`ErrorExt::xtism_error`] (or `err.downcast_ref::<XtismError>()`).
///
/// Its text is xtism's own; its [source](std::error::Error::source) chain ends, where the
/// official runtime words the same failure, in the official runtime's text, so that
/// `err.root_cause().to_string()` compares as it does there: `"timeout"` for
/// [`Timeout`](XtismError::Timeout), `"oom"` for [`MemoryLimit`](XtismError::MemoryLimit)
/// (both from `extism` 1.41's `Plugin::raw_call`). Elsewhere the root cause is the error
/// itself, or for [`Host`](XtismError::Host) the host function's own error.
#[derive(Debug)]
#[non_exhaustive]
pub enum XtismError {
    /// The manifest could not be read, parsed, downloaded or verified.
    Manifest(xtism_manifest::ManifestError),
    /// A module failed to compile or validate.
    Compile {
        /// Name of the module (`main` for the plug-in itself).
        module: String,
        /// What the engine said.
        message: String,
    },
    /// A module imports something nobody provides.
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
    Trap {
        /// The trap message (and the guest's own error message, when it set one).
        message: String,
        /// The Wasm backtrace, when the engine provides one.
        backtrace: Option<String>,
    },
    /// The call ran past its timeout, in milliseconds. Root cause: `timeout`.
    Timeout(u64),
    /// The call was cancelled from another thread.
    Cancelled,
    /// The call used up its fuel budget.
    OutOfFuel,
    /// A memory limit was reached. Root cause: `oom`.
    MemoryLimit(String),
    /// The plug-in returned a non-zero code, with the message it set with `error_set`.
    Plugin {
        /// The code the export returned (or the WASI exit code).
        code: i32,
        /// The plug-in's error message.
        message: String,
    },
    /// The plug-in has no such export, or it does not have an Extism signature.
    FunctionNotFound(String),
    /// An HTTP request failed or was refused; the message says which request.
    Http(String),
    /// An I/O error.
    Io(std::io::Error),
    /// A host function's own error; downcast it with [`ErrorExt::host_error`].
    Host {
        /// Name of the host function (empty when unknown).
        function: String,
        /// The error the host function returned.
        source: Error,
    },
    /// The guest handed the host something invalid (a bad handle, range or string).
    Guest(String),
    /// A request the caller made is invalid (bad argument, wrong type, bad config).
    Invalid(String),
    /// The engine cannot do what was asked.
    Unsupported {
        /// Engine name.
        engine: &'static str,
        /// What it cannot do.
        feature: String,
    },
    /// An engine error with no better kind.
    Engine(BoxError),
}

impl fmt::Display for XtismError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XtismError::Manifest(e) => fmt::Display::fmt(e, f),
            XtismError::Compile { module, message } => {
                write!(f, "the Wasm module {module} does not compile: {message}")
            }
            XtismError::Link {
                module,
                field,
                signature,
                reason,
            } => write!(
                f,
                "missing import {module}::{field} with signature {signature}: {reason}"
            ),
            XtismError::Trap { message, backtrace } => {
                write!(f, "the plug-in trapped: {message}")?;
                match backtrace {
                    Some(bt) if !bt.is_empty() => write!(f, "\nWasm backtrace:\n{bt}"),
                    _ => Ok(()),
                }
            }
            XtismError::Timeout(ms) => write!(f, "the call timed out after {ms} ms"),
            XtismError::Cancelled => f.write_str("the call was cancelled"),
            XtismError::OutOfFuel => f.write_str("the call ran out of fuel"),
            XtismError::MemoryLimit(what) => write!(f, "memory limit reached: {what}"),
            XtismError::Plugin { message, .. } => f.write_str(message),
            XtismError::FunctionNotFound(message)
            | XtismError::Http(message)
            | XtismError::Guest(message)
            | XtismError::Invalid(message) => f.write_str(message),
            XtismError::Io(e) => fmt::Display::fmt(e, f),
            XtismError::Host { function, source } => {
                write!(f, "host function {function} failed: {source}")
            }
            XtismError::Unsupported { engine, feature } => {
                write!(f, "the {engine} engine does not support {feature}")
            }
            XtismError::Engine(e) => write!(f, "engine error: {e}"),
        }
    }
}

/// The last link of a chain, worded as the official runtime words it.
#[derive(Debug)]
struct OfficialCause(&'static str);

impl fmt::Display for OfficialCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for OfficialCause {}

static TIMEOUT: OfficialCause = OfficialCause("timeout");
static OOM: OfficialCause = OfficialCause("oom");

impl std::error::Error for XtismError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Transparent, as their text is: the wrapped error's own source.
            XtismError::Manifest(e) => e.source(),
            XtismError::Io(e) => e.source(),
            XtismError::Host { source, .. } => Some(source.as_ref()),
            XtismError::Timeout(_) => Some(&TIMEOUT),
            XtismError::MemoryLimit(_) => Some(&OOM),
            _ => None,
        }
    }
}

impl From<xtism_manifest::ManifestError> for XtismError {
    #[cold]
    fn from(e: xtism_manifest::ManifestError) -> Self {
        XtismError::Manifest(e)
    }
}

impl From<std::io::Error> for XtismError {
    #[cold]
    fn from(e: std::io::Error) -> Self {
        XtismError::Io(e)
    }
}

/// The kind of an [`XtismError`], for callers that match on what happened rather than on details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`XtismError::Manifest`]
    Manifest,
    /// [`XtismError::Compile`]
    Compile,
    /// [`XtismError::Link`]
    Link,
    /// [`XtismError::Trap`]
    Trap,
    /// [`XtismError::Timeout`]
    Timeout,
    /// [`XtismError::Cancelled`]
    Cancelled,
    /// [`XtismError::OutOfFuel`]
    OutOfFuel,
    /// [`XtismError::MemoryLimit`]
    MemoryLimit,
    /// [`XtismError::Plugin`]
    Plugin,
    /// [`XtismError::FunctionNotFound`]
    FunctionNotFound,
    /// [`XtismError::Http`]
    Http,
    /// [`XtismError::Io`]
    Io,
    /// [`XtismError::Host`]
    Host,
    /// [`XtismError::Guest`]
    Guest,
    /// [`XtismError::Invalid`]
    Invalid,
    /// [`XtismError::Unsupported`]
    Unsupported,
    /// [`XtismError::Engine`]
    Engine,
    /// Not an error xtism made (the caller's own, through `?` or `context`).
    Other,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl XtismError {
    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            XtismError::Manifest(_) => ErrorKind::Manifest,
            XtismError::Compile { .. } => ErrorKind::Compile,
            XtismError::Link { .. } => ErrorKind::Link,
            XtismError::Trap { .. } => ErrorKind::Trap,
            XtismError::Timeout(_) => ErrorKind::Timeout,
            XtismError::Cancelled => ErrorKind::Cancelled,
            XtismError::OutOfFuel => ErrorKind::OutOfFuel,
            XtismError::MemoryLimit(_) => ErrorKind::MemoryLimit,
            XtismError::Plugin { .. } => ErrorKind::Plugin,
            XtismError::FunctionNotFound(_) => ErrorKind::FunctionNotFound,
            XtismError::Http(_) => ErrorKind::Http,
            XtismError::Io(_) => ErrorKind::Io,
            XtismError::Host { .. } => ErrorKind::Host,
            XtismError::Guest(_) => ErrorKind::Guest,
            XtismError::Invalid(_) => ErrorKind::Invalid,
            XtismError::Unsupported { .. } => ErrorKind::Unsupported,
            XtismError::Engine(_) => ErrorKind::Engine,
        }
    }

    /// Boxes a backend error.
    #[cold]
    pub fn engine(error: impl Into<BoxError>) -> Self {
        XtismError::Engine(error.into())
    }

    /// The host function's own error, if this is one of type `E`.
    pub fn host_error<E: fmt::Display + fmt::Debug + Send + Sync + 'static>(&self) -> Option<&E> {
        match self {
            XtismError::Host { source, .. } => source.downcast_ref::<E>(),
            _ => None,
        }
    }

    /// The plug-in's exit code, when the plug-in returned one.
    pub fn plugin_code(&self) -> Option<i32> {
        match self {
            XtismError::Plugin { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl From<Error> for XtismError {
    /// The typed error inside `error`; an error xtism did not make becomes
    /// [`XtismError::Host`] (core names the host function where it knows it). For matching
    /// on a call's error in tests and tools: `result.map_err(XtismError::from)`.
    #[cold]
    fn from(error: Error) -> Self {
        match error.downcast::<XtismError>() {
            Ok(typed) => typed,
            Err(other) => XtismError::Host {
                function: String::new(),
                source: other,
            },
        }
    }
}

/// xtism's accessors on an [`Error`]: the typed error inside it and what kind it is. In
/// scope with `use xtism::*`.
pub trait ErrorExt {
    /// The typed error inside, if xtism made this one (also through the caller's `context`).
    fn xtism_error(&self) -> Option<&XtismError>;

    /// What kind of error this is: the typed error's kind; `Manifest` or `Io` for a bare
    /// manifest or I/O error; [`ErrorKind::Other`] for any other error xtism did not make.
    fn kind(&self) -> ErrorKind;

    /// The host function's own error, if this is one of type `E`.
    fn host_error<E: fmt::Display + fmt::Debug + Send + Sync + 'static>(&self) -> Option<&E>;

    /// The plug-in's exit code, when the plug-in returned one.
    fn plugin_code(&self) -> Option<i32>;
}

impl ErrorExt for Error {
    fn xtism_error(&self) -> Option<&XtismError> {
        self.downcast_ref::<XtismError>()
    }

    fn kind(&self) -> ErrorKind {
        if let Some(typed) = self.xtism_error() {
            typed.kind()
        } else if self.is::<xtism_manifest::ManifestError>() {
            ErrorKind::Manifest
        } else if self.is::<std::io::Error>() {
            ErrorKind::Io
        } else {
            ErrorKind::Other
        }
    }

    fn host_error<E: fmt::Display + fmt::Debug + Send + Sync + 'static>(&self) -> Option<&E> {
        self.xtism_error()?.host_error()
    }

    fn plugin_code(&self) -> Option<i32> {
        self.xtism_error()?.plugin_code()
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
            std::mem::size_of::<XtismError>() <= 96,
            "{}",
            std::mem::size_of::<XtismError>()
        );
    }

    #[test]
    fn host_errors_downcast() {
        let own = Error::new(std::io::Error::other("disk on fire"));
        let e = Error::from(XtismError::from(own));
        assert_eq!(e.kind(), ErrorKind::Host);
        assert_eq!(
            e.host_error::<std::io::Error>().unwrap().to_string(),
            "disk on fire"
        );
        assert!(e.to_string().contains("disk on fire"));
        assert_eq!(e.root_cause().to_string(), "disk on fire");
    }

    #[test]
    fn root_causes_are_worded_as_the_official_runtime_words_them() {
        let timeout = Error::from(XtismError::Timeout(30));
        assert_eq!(timeout.to_string(), "the call timed out after 30 ms");
        assert_eq!(timeout.root_cause().to_string(), "timeout");
        assert_eq!(timeout.kind(), ErrorKind::Timeout);
        let oom = Error::from(XtismError::MemoryLimit("kernel memory is full".into()));
        assert_eq!(oom.root_cause().to_string(), "oom");
        let plugin = Error::from(XtismError::Plugin {
            code: 1,
            message: "TEST".into(),
        });
        assert_eq!(plugin.root_cause().to_string(), "TEST");
        assert_eq!(plugin.plugin_code(), Some(1));
        let other = Error::msg("mine").context("outer");
        assert_eq!(other.kind(), ErrorKind::Other);
        assert!(other.xtism_error().is_none());
    }
}
