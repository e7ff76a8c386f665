//! The command line: clap definitions of the subcommands, and the parsers of
//! the structured flag values (`KEY=VALUE`, JSON config, `[ro:]HOST:GUEST`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run Extism plug-ins on the WebAssembly engine of your choice.
#[derive(Debug, Parser)]
#[command(name = "xtism", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Call a function of a plug-in and print its output.
    Call(Box<CallArgs>),
    /// Show what a plug-in imports, exports and needs from its host.
    Info(InfoArgs),
    /// Run the conformance suite (the corpus built into this command) on the engines and
    /// print a table of cases by engine.
    #[cfg(feature = "conformance")]
    Conformance(ConformanceArgs),
    /// Time plug-ins on the engines (the standard benchmark rows, or --plugin) and print a
    /// table of medians with each engine's ratio to the fastest.
    #[cfg(feature = "bench")]
    Bench(BenchArgs),
}

/// `xtism bench`.
#[cfg(feature = "bench")]
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Measure on this engine (repeatable; default: every engine compiled in).
    #[arg(long = "engine", value_name = "NAME")]
    pub engines: Vec<String>,

    /// Measure this plug-in (Wasm, or WebAssembly text) instead of the standard rows:
    /// create, instantiate, and a call of --function with --input.
    #[arg(long, value_name = "PATH", requires = "function")]
    pub plugin: Option<PathBuf>,

    /// The function the call row of --plugin calls.
    #[arg(long, value_name = "NAME", requires = "plugin")]
    pub function: Option<String>,

    /// The input of that call: the bytes of FILE (default: empty).
    #[arg(long, value_name = "FILE", requires = "plugin")]
    pub input: Option<PathBuf>,

    /// Give --plugin WASI preview 1.
    #[arg(long, requires = "plugin")]
    pub wasi: bool,

    /// Measure only the standard row ID (repeatable; `create`, `echo_16b`, ...).
    #[arg(long = "row", value_name = "ID", conflicts_with = "plugin")]
    pub rows: Vec<String>,

    /// Also draw the medians as a bar chart (log scale) into PATH, an SVG file.
    #[arg(long, value_name = "PATH")]
    pub svg: Option<PathBuf>,

    /// Time one iteration per measure: checks that everything runs in seconds; the times
    /// mean little.
    #[arg(long)]
    pub quick: bool,
}

/// `xtism conformance`.
#[cfg(feature = "conformance")]
#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// Run on this engine (repeatable; default: every engine compiled in).
    #[arg(long = "engine", value_name = "NAME")]
    pub engines: Vec<String>,

    /// Run only the cases whose `group::case` name contains TEXT.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,

    /// Repeat each hostile attack N times on one plug-in, one case at a time, and report
    /// the host's peak resident memory after the first round and after the N.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub repeat: Option<u64>,
}

/// Where the plug-in comes from: shared by every subcommand.
#[derive(Debug, Args)]
pub struct Source {
    /// The plug-in: a Wasm module (`.wasm`), WebAssembly text (`.wat`) or a manifest
    /// (`.json`, `.toml`).
    #[arg(value_name = "WASM|MANIFEST")]
    pub file: PathBuf,

    /// Read the plug-in file as a manifest (JSON or TOML, told apart by its content),
    /// whatever its extension.
    #[arg(long)]
    pub manifest: bool,

    /// Engine to run on (default: $XTISM_ENGINE, else the fastest compiled in).
    #[arg(long, value_name = "NAME")]
    pub engine: Option<String>,
}

/// `xtism call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The plug-in and the engine.
    #[command(flatten)]
    pub source: Source,

    /// The exported function to call.
    #[arg(value_name = "FUNCTION")]
    pub function: String,

    /// The input, inline (default: empty).
    #[arg(short, long, value_name = "STR", conflicts_with = "stdin")]
    pub input: Option<String>,

    /// Read the input from stdin, to its end.
    #[arg(long)]
    pub stdin: bool,

    /// Give the plug-in WASI preview 1.
    #[arg(long)]
    pub wasi: bool,

    /// Set a config key (repeatable; applied after --set-config).
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub config: Vec<(String, String)>,

    /// Merge a JSON object of string values into the config (repeatable).
    #[arg(long = "set-config", value_name = "JSON", value_parser = parse_config_json)]
    pub set_config: Vec<BTreeMap<String, String>>,

    /// Allow HTTP requests to hosts matching GLOB (repeatable; `*` allows all).
    #[arg(long = "allow-host", value_name = "GLOB")]
    pub allow_host: Vec<String>,

    /// Map a host path into the guest (repeatable; `ro:` for read-only, a lone path maps
    /// to itself).
    #[arg(long = "allow-path", value_name = "[ro:]HOST:GUEST", value_parser = parse_path_mapping)]
    pub allow_path: Vec<PathMapping>,

    /// Stop each call after MS milliseconds.
    #[arg(long, value_name = "MS")]
    pub timeout: Option<u64>,

    /// Let the plug-in's memories grow by PAGES pages of 64 KiB in all (`memory.max_pages`).
    #[arg(long = "memory-max", value_name = "PAGES")]
    pub memory_max: Option<u32>,

    /// Cap the bytes the plug-in may keep in vars (0 disables vars).
    #[arg(long = "var-max", value_name = "BYTES")]
    pub var_max: Option<u64>,

    /// Cap the size of HTTP response bodies (default 50 MiB).
    #[arg(long = "http-response-max", value_name = "BYTES")]
    pub http_response_max: Option<u64>,

    /// Let the plug-in read the headers of HTTP responses (`http_headers`).
    #[arg(long = "enable-http-response-headers")]
    pub enable_http_response_headers: bool,

    /// Give each call a budget of N units of fuel.
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,

    /// Add the module at PATH under the name NAME, so the plug-in can import from it
    /// (repeatable).
    #[arg(long = "link", value_name = "NAME=PATH", value_parser = parse_link)]
    pub link: Vec<(String, PathBuf)>,

    /// Call the function N times on the same instance, printing each output on its own
    /// line.
    #[arg(long = "loop", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub loop_count: Option<u64>,

    /// Print logs (the plug-in's and xtism's) to stderr up to LEVEL.
    #[arg(long = "log-level", value_name = "LEVEL", value_enum, default_value_t = LogLevel::Off)]
    pub log_level: LogLevel,
}

/// `xtism info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The plug-in and the engine.
    #[command(flatten)]
    pub source: Source,
}

/// A log level for `--log-level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    /// Everything.
    Trace,
    /// Debug and above.
    Debug,
    /// Info and above.
    Info,
    /// Warnings and errors.
    Warn,
    /// Errors only.
    Error,
    /// No logs.
    Off,
}

/// One `--allow-path`: the manifest's `allowed_paths` key (with its `ro:` prefix) and the
/// guest path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMapping {
    /// The host path, prefixed `ro:` when read-only, as the manifest writes it.
    pub key: String,
    /// Where the guest sees it.
    pub guest: PathBuf,
}

/// Parses `KEY=VALUE` (the value may contain `=`; the key may not be empty).
fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        Some(_) => Err(format!("{s:?} has an empty key; expected KEY=VALUE")),
        None => Err(format!("{s:?} has no '='; expected KEY=VALUE")),
    }
}

/// Parses a JSON object whose values are all strings.
fn parse_config_json(s: &str) -> Result<BTreeMap<String, String>, String> {
    let value: serde_json::Value =
        serde_json::from_str(s).map_err(|e| format!("invalid JSON: {e}"))?;
    let serde_json::Value::Object(object) = value else {
        return Err("expected a JSON object such as {\"key\": \"value\"}".into());
    };
    object
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(v) => Ok((key, v)),
            other => Err(format!(
                "config values must be strings, but {key:?} is {other}"
            )),
        })
        .collect()
}

/// Parses `NAME=PATH`.
fn parse_link(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_owned(), PathBuf::from(path)))
        }
        _ => Err(format!("{s:?} is not NAME=PATH")),
    }
}

/// Parses `[ro:]HOST:GUEST`, or `[ro:]PATH` mapping a path to itself. The host part may be
/// a Windows path with a drive letter (`C:\data:/data`).
fn parse_path_mapping(s: &str) -> Result<PathMapping, String> {
    let (prefix, rest) = match s.strip_prefix("ro:") {
        Some(rest) => ("ro:", rest),
        None => ("", s),
    };
    if rest.is_empty() {
        return Err(format!("{s:?} names no path; expected [ro:]HOST:GUEST"));
    }
    // Skip a drive letter (`C:`) so its colon is not taken for the separator.
    let bytes = rest.as_bytes();
    let skip = if bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'\\' | b'/')
    {
        2
    } else {
        0
    };
    let (host, guest) = match rest[skip..].find(':') {
        Some(i) => (&rest[..skip + i], &rest[skip + i + 1..]),
        None => (rest, rest),
    };
    if host.is_empty() || guest.is_empty() {
        return Err(format!("{s:?} has an empty path; expected [ro:]HOST:GUEST"));
    }
    Ok(PathMapping {
        key: format!("{prefix}{host}"),
        guest: PathBuf::from(guest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn key_value() {
        assert_eq!(
            parse_key_value("a=b=c").unwrap(),
            ("a".into(), "b=c".into())
        );
        assert_eq!(parse_key_value("a=").unwrap(), ("a".into(), String::new()));
        assert!(parse_key_value("=b").is_err());
        assert!(parse_key_value("ab").is_err());
    }

    #[test]
    fn config_json() {
        let map = parse_config_json(r#"{"a":"1","b":""}"#).unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(map["a"], "1");
        assert!(
            parse_config_json(r#"{"a":1}"#)
                .unwrap_err()
                .contains("\"a\"")
        );
        assert!(parse_config_json("[]").is_err());
        assert!(parse_config_json("{").is_err());
    }

    #[test]
    fn links() {
        assert_eq!(
            parse_link("lib=dir/lib.wasm").unwrap(),
            ("lib".into(), PathBuf::from("dir/lib.wasm"))
        );
        assert!(parse_link("lib").is_err());
        assert!(parse_link("=x").is_err());
        assert!(parse_link("x=").is_err());
    }

    #[test]
    fn path_mappings() {
        let m = |s| parse_path_mapping(s).unwrap();
        assert_eq!(
            m("/host:/guest"),
            PathMapping {
                key: "/host".into(),
                guest: "/guest".into()
            }
        );
        assert_eq!(
            m("ro:/host:/guest"),
            PathMapping {
                key: "ro:/host".into(),
                guest: "/guest".into()
            }
        );
        assert_eq!(
            m("ro:/data"),
            PathMapping {
                key: "ro:/data".into(),
                guest: "/data".into()
            }
        );
        assert_eq!(
            m(r"C:\data:/data"),
            PathMapping {
                key: r"C:\data".into(),
                guest: "/data".into()
            }
        );
        assert!(parse_path_mapping("ro:").is_err());
        assert!(parse_path_mapping(":/guest").is_err());
        assert!(parse_path_mapping("/host:").is_err());
    }
}
