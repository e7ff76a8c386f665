//! The engines a command runs on: those named with `--engine`, or every engine compiled in.

use crate::error::CliError;

/// The engines named on the command line, or every engine compiled in; an unknown name is
/// an error that lists the engines of this build.
pub fn selected(named: &[String]) -> Result<Vec<&'static str>, CliError> {
    if named.is_empty() {
        return Ok(xtism::ENGINES.to_vec());
    }
    named
        .iter()
        .map(|name| {
            xtism::ENGINES
                .iter()
                .copied()
                .find(|e| e == name)
                .ok_or_else(|| {
                    CliError::msg(format!(
                        "no engine named {name:?} in this build (it has {})",
                        xtism::ENGINES.join(", ")
                    ))
                })
        })
        .collect()
}
