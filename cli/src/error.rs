//! The error type of the command: a library error or a problem of the command's own
//! (unreadable file, bad `.wat`, output that cannot be written), and the exit code of each.

use std::fmt;

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
}

impl CliError {
    /// A failure of the command itself.
    pub fn msg(message: impl Into<String>) -> Self {
        CliError::Message(message.into())
    }

    /// The process exit code: the plug-in's own code when it returned one in 1..=255,
    /// else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
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

impl From<xtism::manifest::ManifestError> for CliError {
    fn from(err: xtism::manifest::ManifestError) -> Self {
        CliError::Xtism(err.into())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Xtism(err) => err.fmt(f),
            CliError::WithHint { error, hint } => write!(f, "{error} ({hint})"),
            CliError::Message(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for CliError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin_error(code: i32) -> CliError {
        CliError::Xtism(xtism::Error::Plugin {
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
        assert_eq!(CliError::Xtism(xtism::Error::OutOfFuel).exit_code(), 1);
        assert_eq!(CliError::msg("x").exit_code(), 1);
    }
}
