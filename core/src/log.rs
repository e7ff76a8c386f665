//! Where logs go: plug-in logs (`log_*` imports) are `tracing` events with target
//! `xtism::plugin` and the plug-in's id; a host sees them through its own `tracing`
//! subscriber, or installs one here that hands each formatted line to a callback
//! ([`set_log_callback`], as in the official `extism` crate) or appends it to a file
//! ([`set_log_file`], as the official C API's `extism_log_file`).

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::error::Error;

/// Installs a global `tracing` subscriber that formats every event passing `filter` (an
/// `EnvFilter` directive such as `info`, or `xtism=trace` for xtism's own targets, which a
/// filter written for the official runtime's `extism` targets also reaches; events below
/// `error` are dropped when it names no level) as one line and passes it to `func`,
/// without its trailing newline. As in the official crate, this can be done once per
/// process.
///
/// # Errors
///
/// [`Error::Invalid`] when a global subscriber is already installed.
pub fn set_log_callback<F>(func: F, filter: impl AsRef<str>) -> Result<(), Error>
where
    F: Fn(&str) + Send + Sync + 'static,
{
    install(LineWriter(Arc::new(func)), filter.as_ref())
}

/// Installs a global `tracing` subscriber that appends every event passing `filter` to the
/// file at `path` (created if missing), one line per event; `stdout` and `stderr` name the
/// process's streams, as in the official C API's `extism_log_file`. Once per process.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be opened, [`Error::Invalid`] when a global
/// subscriber is already installed.
pub fn set_log_file(path: impl AsRef<Path>, filter: impl AsRef<str>) -> Result<(), Error> {
    let path = path.as_ref();
    let filter = filter.as_ref();
    match path.to_str() {
        Some("stdout") => install(std::io::stdout, filter),
        Some("stderr") => install(std::io::stderr, filter),
        _ => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            install(Mutex::new(file), filter)
        }
    }
}

fn install<W>(writer: W, filter: &str) -> Result<(), Error>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder()
        .with_default_directive(tracing::Level::ERROR.into())
        .parse_lossy(official_targets(filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(writer)
        .try_init()
        .map_err(|e| Error::Invalid(format!("cannot install the log subscriber: {e}")))
}

/// `filter` with the targets of a filter written for the official runtime (`extism`,
/// `extism::pdk`, ...) read as xtism's (`xtism`), so a ported program's filter still
/// reaches plug-in logs (target `xtism::plugin`).
fn official_targets(filter: &str) -> String {
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
}
