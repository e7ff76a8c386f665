//! `xtism call`: build the plug-in from the manifest and flags, call one export (or the same
//! export `--loop N` times on one instance) and write its output to stdout.

use std::io::{IsTerminal, Read, Write};
use std::time::Instant;

use crate::args::{CallArgs, LogLevel};
use crate::error::CliError;
use crate::load;

/// Runs `xtism call`.
pub fn run(args: &CallArgs) -> Result<(), CliError> {
    init_logging(args.log_level);

    let mut manifest = load::manifest_of(&args.source)?;
    load::add_links(&mut manifest, &args.link)?;
    load::apply_flags(&mut manifest, args)?;

    let mut builder = xtism::PluginBuilder::new(manifest);
    if let Some(name) = &args.source.engine {
        builder = builder.with_engine(xtism::engine_named(name)?);
    }
    if args.wasi {
        builder = builder.with_wasi(true);
    }
    if let Some(fuel) = args.fuel {
        builder = builder.with_fuel_limit(fuel);
    }
    if args.enable_http_response_headers {
        builder = builder.with_http_response_headers(true);
    }
    let mut plugin = builder.build().map_err(with_hint)?;

    let input = read_input(args)?;
    let looping = args.loop_count.is_some();
    let stdout = std::io::stdout();
    let newline = looping || stdout.is_terminal();
    let mut out = stdout.lock();
    for call in 1..=args.loop_count.unwrap_or(1) {
        let start = Instant::now();
        let output: &[u8] = plugin
            .call(&args.function, input.as_slice())
            .map_err(with_hint)?;
        let elapsed = start.elapsed();
        if !write_output(&mut out, output, newline)? {
            // The reader went away: nobody wants more output.
            return Ok(());
        }
        tracing::debug!(target: "xtism::cli", call, ?elapsed, fuel = ?plugin.fuel_consumed(), "call done");
    }
    Ok(())
}

/// Prints xtism's logs (the plug-in's among them) up to `level` on stderr, and none for
/// `off`: core's `set_log_file`, which reads a bare level as xtism's targets only, so the
/// engines' own logs (Cranelift's are hundreds of lines per compile at `debug`) stay out.
fn init_logging(level: LogLevel) {
    let level = match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
        LogLevel::Off => return,
    };
    // Fails only when a subscriber is already installed, which main never does.
    let _ = xtism::set_log_file("stderr", level);
}

/// The call's input: `-i`, else stdin with `--stdin`, else empty.
fn read_input(args: &CallArgs) -> Result<Vec<u8>, CliError> {
    if let Some(input) = &args.input {
        return Ok(input.clone().into_bytes());
    }
    let mut input = Vec::new();
    if args.stdin {
        std::io::stdin()
            .lock()
            .read_to_end(&mut input)
            .map_err(|e| CliError::msg(format!("could not read the input from stdin: {e}")))?;
    }
    Ok(input)
}

/// Writes one output (and a newline when asked); false when stdout is a closed pipe.
fn write_output(out: &mut impl Write, output: &[u8], newline: bool) -> Result<bool, CliError> {
    let result = out
        .write_all(output)
        .and_then(|()| {
            if newline {
                out.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|()| out.flush());
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(CliError::msg(format!("could not write the output: {e}"))),
    }
}

/// Adds what the command line can do about an error to its message.
fn with_hint(err: xtism::Error) -> CliError {
    let hint = match err.downcast_ref::<xtism::XtismError>() {
        Some(xtism::XtismError::Link { module, .. })
            if module != xtism::EXTISM_ENV_MODULE && !module.starts_with("wasi_") =>
        {
            Some(
                "the xtism command provides no host functions; \
                 --link NAME=PATH adds a module the plug-in can import from",
            )
        }
        Some(xtism::XtismError::FunctionNotFound(_)) => {
            Some("`xtism info` lists the plug-in's exports")
        }
        _ => None,
    };
    match hint {
        Some(hint) => CliError::WithHint { error: err, hint },
        None => CliError::Xtism(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_bytes_are_exact() {
        let mut out = Vec::new();
        assert!(write_output(&mut out, b"a\0b", false).unwrap());
        assert!(write_output(&mut out, b"", true).unwrap());
        assert_eq!(out, b"a\0b\n");
    }

    #[test]
    fn hints_keep_the_error() {
        let err = with_hint(xtism::Error::from(xtism::XtismError::Link {
            module: "extism:host/user".into(),
            field: "hello_world".into(),
            signature: "func(i64) -> (i64)".into(),
            reason: "nobody".into(),
        }));
        let text = err.to_string();
        assert!(
            text.contains("hello_world") && text.contains("--link"),
            "{text}"
        );
        let err = with_hint(xtism::Error::from(xtism::XtismError::Plugin {
            code: 7,
            message: "bad".into(),
        }));
        assert_eq!(err.to_string(), "bad");
        assert_eq!(err.exit_code(), 7);
    }
}
