//! The cases, one module per subject. Each is a function `fn(engine: &'static str)` marked
//! `#[case]`, which registers it; it panics (an assertion) when the engine gets something
//! wrong.

mod async_calls;
mod host_functions;
mod hostile;
#[cfg(feature = "http")]
mod http;
mod kernel;
mod lifecycle;
mod limits;
mod modules;
mod plugins;
mod transcript;
#[cfg(feature = "wasi")]
mod wasi;

/// What every case module uses.
mod prelude {
    pub(crate) use std::sync::{Arc, Mutex};

    pub(crate) use xtism::{
        CompiledPlugin, CurrentPlugin, DebugOptions, Error, ErrorExt, ErrorKind, Function,
        Manifest, PTR, Plugin, PluginBuilder, Pool, UserData, Val, ValType, XtismError,
        convert::Json, host_fn, manifest::Wasm,
    };

    pub(crate) use super::{
        call_facts, caps, capture_logs, host_function_set, kernel, new_plugin, refuse, shout,
        still_works, unsupported,
    };
    pub(crate) use crate::{builder, case, expect_err, plugin};
}

use prelude::*;

/// What the engine called `engine` can do.
pub(crate) fn caps(engine: &str) -> xtism::Capabilities {
    xtism::engine_named(engine)
        .expect("a compiled-in engine")
        .capabilities()
}

/// The fallback for a capability an engine lacks: `result` is an
/// [`ErrorKind::Unsupported`] error that names `feature`.
pub(crate) fn unsupported<T: std::fmt::Debug>(result: Result<T, Error>, feature: &str) {
    let err = result.expect_err("an engine without the capability refuses it");
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(
        err.to_string().contains(feature),
        "{err} should name {feature:?}"
    );
}

/// A plug-in with default options on `engine`.
pub(crate) fn new_plugin(engine: &str, wasm: &[u8]) -> Plugin {
    builder(engine, wasm).build().unwrap()
}

/// The u64 facts a `kernel.wat` export reports.
fn facts(out: &[u8]) -> Vec<u64> {
    assert_eq!(out.len() % 8, 0, "facts are u64s");
    out.chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Calls `name` and reads its output as u64 facts.
pub(crate) fn call_facts(plugin: &mut Plugin, name: &str, input: &[u8]) -> Vec<u64> {
    let out: &[u8] = plugin.call(name, input).unwrap();
    facts(out)
}

/// The plug-in still works: an echo call returns its input.
pub(crate) fn still_works(plugin: &mut Plugin) {
    let out: String = plugin.call("echo", "still here").unwrap();
    assert_eq!(out, "still here");
}

/// `wat/kernel.wat`, which exposes every kernel import as an export.
pub(crate) fn kernel() -> Vec<u8> {
    plugin("wat/kernel.wat")
}

/// The host functions `wat/host_functions.wat` imports; `transform` also appends the
/// first 22 bytes of the plug-in's own memory when `reads_plugin_memory`.
pub(crate) fn host_function_set(reads_plugin_memory: bool) -> Vec<Function> {
    let transform = Function::new(
        "transform",
        [PTR],
        [PTR],
        UserData::new(reads_plugin_memory),
        |plugin: &mut CurrentPlugin, inputs: &[Val], outputs: &mut [Val], flag: UserData<bool>| {
            let handle = plugin
                .memory_from_val(&inputs[0])
                .ok_or_else(|| Error::msg("no input block"))?;
            let mut text = plugin.memory_str(handle)?.to_uppercase();
            if *flag.get()?.lock().unwrap() {
                let own = plugin
                    .plugin_memory()
                    .ok_or_else(|| Error::msg("no plug-in memory"))?;
                text.push_str(&String::from_utf8_lossy(&own[..22]));
            }
            plugin.memory_set_val(&mut outputs[0], text)
        },
    );
    let mix = Function::new(
        "mix",
        [ValType::I32, ValType::I64, ValType::F32, ValType::F64],
        [ValType::F64],
        UserData::new(()),
        |_, inputs, outputs, _| {
            let sum = f64::from(inputs[0].unwrap_i32())
                + inputs[1].unwrap_i64() as f64
                + f64::from(inputs[2].unwrap_f32())
                + inputs[3].unwrap_f64();
            outputs[0] = Val::from(sum);
            Ok(())
        },
    );
    let twice = Function::new(
        "twice",
        [ValType::I32],
        [ValType::I32],
        UserData::new(()),
        |_, i, o, _| {
            o[0] = Val::I32(i[0].unwrap_i32() * 2);
            Ok(())
        },
    )
    .with_namespace("custom");
    let join = Function::new("join", [PTR, PTR, PTR], [PTR], UserData::new(()), join);
    vec![transform, mix, twice, join]
}

/// A tracing writer that keeps everything in memory.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with a tracing subscriber that keeps every log line, and returns them.
pub(crate) fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    (result, text)
}

#[case]
fn as_logging(engine: &'static str) {
    let wasm = plugin("as/errors.wasm");
    let mut p = new_plugin(engine, &wasm);
    let id = p.id;
    let (out, logs) = capture_logs(|| p.call::<&str, String>("log_all", "hello logs").unwrap());
    assert_eq!(out, "logged");
    for level in ["DEBUG", "INFO", "WARN", "ERROR"] {
        assert!(
            logs.lines()
                .any(|l| l.contains(level) && l.contains("hello logs")),
            "no {level} line in {logs}"
        );
    }
    assert!(
        logs.contains(&id.to_string()),
        "logs carry the plug-in id: {logs}"
    );
}

host_fn!(pub(crate) shout(prefix: String; text: String) -> String {
    let prefix = prefix.get()?;
    let prefix = prefix.lock().unwrap();
    Ok(format!("{prefix}{}", text.to_uppercase()))
});

host_fn!(pub(crate) join(first: &str, second: &[u8], n: u64) -> String {
    Ok(format!("{first}+{}+{n}", String::from_utf8_lossy(second)))
});

host_fn!(pub(crate) refuse(input: Vec<u8>) -> String {
    Err(Error::msg(format!("refusing {} bytes", input.len())))
});
