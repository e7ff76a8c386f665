//! The error type of the command: a library error or a problem of the command's own
//! (unreadable file, bad `.wat`, output that cannot be written), the exit code of each, and
//! the one line each is printed as.

use std::fmt;

use xtism::{ErrorExt, XtismError};

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// The `xtism` library failed (manifest, compile, link, call, ...).
    Xtism(xtism::Error),
    /// A library error, with advice on what to do about it from the command line.
    WithHint {
        /// The error.
        error: xtism::Error,
        /// The advice, appended to the message.
        hint: &'static str,
    },
    /// The command itself failed; the message is complete.
    Message(String),
    /// A library error about the plug-in in `plugin` (the file named on the command line).
    InPlugin {
        /// The plug-in file.
        plugin: String,
        /// The error.
        error: Box<CliError>,
    },
}

impl CliError {
    /// A failure of the command itself.
    pub fn msg(message: impl Into<String>) -> Self {
        CliError::Message(message.into())
    }

    /// This error, naming the plug-in file `plugin` when it comes from the library (the
    /// command's own messages name their files already).
    pub fn in_plugin(self, plugin: &std::path::Path) -> Self {
        match self {
            CliError::Message(_) | CliError::InPlugin { .. } => self,
            error => CliError::InPlugin {
                plugin: plugin.display().to_string(),
                error: Box::new(error),
            },
        }
    }

    /// The error as one line: what the library says (a trap without its Wasm backtrace),
    /// with every run of white space, line breaks included, as one space.
    pub fn one_line(&self) -> String {
        self.to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The process exit code: the plug-in's own code when it returned one in 1..=255,
    /// else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::InPlugin { error, .. } => error.exit_code(),
            CliError::Xtism(err) | CliError::WithHint { error: err, .. } => err
                .plugin_code()
                .and_then(|code| u8::try_from(code).ok())
                .filter(|&code| code != 0)
                .unwrap_or(1),
            CliError::Message(_) => 1,
        }
    }
}

impl From<xtism::Error> for CliError {
    fn from(err: xtism::Error) -> Self {
        CliError::Xtism(err)
    }
}

impl From<XtismError> for CliError {
    fn from(err: XtismError) -> Self {
        CliError::Xtism(err.into())
    }
}

impl From<xtism::manifest::ManifestError> for CliError {
    fn from(err: xtism::manifest::ManifestError) -> Self {
        CliError::Xtism(XtismError::from(err).into())
    }
}

/// A library error as the command prints it: a trap without its Wasm backtrace, which takes
/// many lines (the library's `XtismError::Trap` keeps it for programs).
fn describe(err: &xtism::Error) -> String {
    match err.xtism_error() {
        Some(XtismError::Trap { message, .. }) => format!("the plug-in trapped: {message}"),
        _ => err.to_string(),
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Xtism(err) => f.write_str(&describe(err)),
            CliError::WithHint { error, hint } => write!(f, "{} ({hint})", describe(error)),
            CliError::Message(message) => f.write_str(message),
            CliError::InPlugin { plugin, error } => match &**error {
                CliError::Xtism(err) => match err.xtism_error() {
                    Some(XtismError::Compile { module, message })
                        if module == xtism::MAIN_MODULE =>
                    {
                        write!(f, "{plugin} does not compile: {message}")
                    }
                    _ => write!(f, "{plugin}: {error}"),
                },
                error => write!(f, "{plugin}: {error}"),
            },
        }
    }
}

impl std::error::Error for CliError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin_error(code: i32) -> CliError {
        CliError::from(XtismError::Plugin {
            code,
            message: "no".into(),
        })
    }

    #[test]
    fn exit_codes() {
        assert_eq!(plugin_error(1).exit_code(), 1);
        assert_eq!(plugin_error(42).exit_code(), 42);
        assert_eq!(plugin_error(255).exit_code(), 255);
        assert_eq!(plugin_error(256).exit_code(), 1);
        assert_eq!(plugin_error(-3).exit_code(), 1);
        assert_eq!(plugin_error(0).exit_code(), 1);
        assert_eq!(CliError::from(XtismError::OutOfFuel).exit_code(), 1);
        assert_eq!(CliError::msg("x").exit_code(), 1);
        let path = std::path::Path::new("p.wasm");
        assert_eq!(plugin_error(42).in_plugin(path).exit_code(), 42);
    }

    #[test]
    fn printed_as_one_line_naming_the_plugin() {
        let path = std::path::Path::new("dir/p.wasm");
        let trap = CliError::from(XtismError::Trap {
            message: "unreachable".into(),
            backtrace: Some("0: f\n1: g".into()),
        });
        assert_eq!(
            trap.in_plugin(path).one_line(),
            "dir/p.wasm: the plug-in trapped: unreachable"
        );
        let compile = CliError::from(XtismError::Compile {
            module: xtism::MAIN_MODULE.into(),
            message: "bad\n   bytes".into(),
        });
        assert_eq!(
            compile.in_plugin(path).one_line(),
            "dir/p.wasm does not compile: bad bytes"
        );
        let own = CliError::msg("cannot read x.wasm");
        assert_eq!(own.in_plugin(path).one_line(), "cannot read x.wasm");
    }
}
