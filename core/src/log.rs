//! Where logs go: plug-in logs (`log_*` imports) are `tracing` events with target
//! `xtism::plugin` and the plug-in's id; a host sees them through its own `tracing`
//! subscriber, or installs one here that hands each formatted line to a callback
//! ([`set_log_callback`], as in the official `extism` crate) or appends it to a file
//! ([`set_log_file`], as the official C API's `extism_log_file`).

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::error::Error;
use crate::error::XtismError;

/// Installs a global `tracing` subscriber that formats every event passing `filter` (`EnvFilter`
/// directives such as `xtism=trace,wasmtime=debug`; a filter written for the official
/// runtime's `extism` targets reaches xtism's; a bare level such as `info` is xtism's own
/// targets' (`xtism=info`), as the official crate's `set_log_callback` and C API's
/// `extism_log_file` read one as `extism=info`, so that the engines' logs stay out; events
/// below `error` are dropped unless a directive names their target's level) as one line and
/// passes it to `func`, without its trailing newline. As in the official crate, this can be
/// done once per process.
///
/// Span and field directives (`xtism[call]=debug`) need the `log-filter` feature (on by
/// default); a build without it keeps a filter's `level` and `target=level` directives and
/// drops the others, as a filter drops any directive it cannot read.
///
/// # Errors
///
/// [`XtismError::Invalid`] when a global subscriber is already installed.
pub fn set_log_callback<F>(func: F, filter: impl AsRef<str>) -> Result<(), Error>
where
    F: Fn(&str) + Send + Sync + 'static,
{
    Ok(install(LineWriter(Arc::new(func)), filter.as_ref())?)
}

/// Installs a global `tracing` subscriber that appends every event passing `filter` to the
/// file at `path` (created if missing), one line per event; `stdout` and `stderr` name the
/// process's streams, as in the official C API's `extism_log_file`. Once per process.
///
/// # Errors
///
/// [`XtismError::Io`] when the file cannot be opened, [`XtismError::Invalid`] when a global
/// subscriber is already installed.
pub fn set_log_file(path: impl AsRef<Path>, filter: impl AsRef<str>) -> Result<(), Error> {
    let path = path.as_ref();
    let filter = filter.as_ref();
    match path.to_str() {
        Some("stdout") => Ok(install(std::io::stdout, filter)?),
        Some("stderr") => Ok(install(std::io::stderr, filter)?),
        _ => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(XtismError::Io)?;
            Ok(install(Mutex::new(file), filter)?)
        }
    }
}

fn install<W>(writer: W, filter: &str) -> Result<(), XtismError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(parse_filter(&official_targets(filter)))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer),
        )
        .try_init()
        .map_err(|e| XtismError::Invalid(format!("cannot install the log subscriber: {e}")))
}

/// The filter of `directives`, `error` unless they name a level; directives it cannot read
/// are dropped.
#[cfg(feature = "log-filter")]
fn parse_filter(directives: &str) -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::builder()
        .with_default_directive(tracing::Level::ERROR.into())
        .parse_lossy(directives)
}

/// The filter of `directives` without `EnvFilter`: the `level` and `target=level`
/// directives, `error` unless they name a level; the others (spans, fields) are dropped.
#[cfg(not(feature = "log-filter"))]
fn parse_filter(directives: &str) -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};

    let mut default = LevelFilter::ERROR;
    let mut filter = Targets::new();
    for directive in directives.split(',').map(str::trim) {
        // A directive with a span or a field would parse with those parts ignored, and
        // then pass more than it asks for: drop it.
        if directive.contains(['[', ']', '{', '}']) {
            continue;
        }
        if let Ok(targets) = directive.parse::<Targets>() {
            if let Some(level) = targets.default_level() {
                default = level;
            }
            filter = filter.with_targets(targets);
        }
    }
    filter.with_default(default)
}

/// `filter` as the official runtime reads it, for xtism's targets: a bare level (`debug`,
/// anything `tracing::Level` parses, spaces around it ignored) is for xtism's own targets
/// (`xtism=debug`), and the targets of a filter written for the official runtime (`extism`,
/// `extism::pdk`, ...) are read as xtism's (`xtism`), so a ported program's filter reaches
/// plug-in logs (target `xtism::plugin`) and no more.
fn official_targets(filter: &str) -> String {
    let trimmed = filter.trim();
    if trimmed.parse::<tracing::Level>().is_ok() {
        return format!("xtism={trimmed}");
    }
    filter
        .split(',')
        .map(|directive| match directive.trim().strip_prefix("extism") {
            Some(rest) if rest.is_empty() || rest.starts_with(['=', ':', '[']) => {
                let level = rest.split_once('=').map(|(_, level)| level);
                match level {
                    Some(level) => format!("xtism={level}"),
                    None => "xtism".to_owned(),
                }
            }
            _ => directive.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Collects what the formatter writes for one event and hands it to the callback as one
/// line when the event is done.
struct LineWriter(Arc<dyn Fn(&str) + Send + Sync>);

/// The text of one event being formatted.
struct Line {
    func: Arc<dyn Fn(&str) + Send + Sync>,
    text: Vec<u8>,
}

impl<'w> MakeWriter<'w> for LineWriter {
    type Writer = Line;

    fn make_writer(&'w self) -> Line {
        Line {
            func: Arc::clone(&self.0),
            text: Vec::new(),
        }
    }
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.text);
        let line = text.strip_suffix('\n').unwrap_or(&text);
        if !line.is_empty() {
            (self.func)(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::official_targets;

    #[test]
    fn official_targets_read_as_xtism() {
        assert_eq!(official_targets("extism=debug"), "xtism=debug");
        assert_eq!(
            official_targets("info,extism::pdk=trace"),
            "info,xtism=trace"
        );
        assert_eq!(official_targets("extism"), "xtism");
        assert_eq!(official_targets("xtism::plugin=warn"), "xtism::plugin=warn");
        assert_eq!(official_targets("extismish=info"), "extismish=info");
    }

    #[test]
    fn a_bare_level_is_for_xtism_targets_only() {
        assert_eq!(official_targets("debug"), "xtism=debug");
        assert_eq!(official_targets(" TRACE "), "xtism=TRACE");
        assert_eq!(official_targets("off"), "off");
        assert_eq!(
            official_targets("info,wasmtime=debug"),
            "info,wasmtime=debug"
        );
    }

    #[cfg(not(feature = "log-filter"))]
    #[test]
    fn without_env_filter_levels_and_targets_still_filter() {
        use tracing::Level;

        let filter = super::parse_filter("xtism::plugin=debug");
        assert!(filter.would_enable("xtism::plugin", &Level::DEBUG));
        assert!(!filter.would_enable("xtism::plugin", &Level::TRACE));
        assert!(
            filter.would_enable("other", &Level::ERROR),
            "error by default"
        );
        assert!(!filter.would_enable("other", &Level::WARN));

        // A span directive is dropped, not read as a wider one.
        let filter = super::parse_filter("info, xtism[call]=trace, xtism[{id,x}]=trace");
        assert!(filter.would_enable("xtism::plugin", &Level::INFO));
        assert!(!filter.would_enable("xtism::plugin", &Level::DEBUG));

        let filter = super::parse_filter("off");
        assert!(!filter.would_enable("xtism::plugin", &Level::ERROR));
        let filter = super::parse_filter("not a level = at all");
        assert!(filter.would_enable("xtism::plugin", &Level::ERROR));
    }
}
