//! Reads a host file through the C WASI plug-in `c/wasi.wasm`, with one directory mapped
//! read-only and the plug-in's stdout captured:
//! `cargo run -p xtism --example wasi_files -- /etc hostname`.

use std::path::Path;
use std::time::Duration;

use xtism::*;

/// Maps `dir` read-only at `/data`, has the plug-in in `plugins` read `/data/<name>` and
/// print a line; returns the file's text and what the plug-in printed.
pub fn read_mapped(plugins: &Path, dir: &Path, name: &str) -> Result<(String, Vec<u8>), Error> {
    let wasm = std::fs::read(plugins.join("c/wasi.wasm"))?;
    let stdout = OutputCapture::new();
    let mut plugin = PluginBuilder::new(&wasm)
        .with_wasi(true)
        // The host directory appears at /data; `ro:` refuses every change under it.
        .with_allowed_path(format!("ro:{}", dir.display()), "/data")
        // Keep what the plug-in prints (discarded by default).
        .with_wasi_stdout(WasiOutput::Capture(stdout.clone()))
        // Sleeps and waits in WASI end at the call's timeout too.
        .with_timeout(Duration::from_secs(5))
        .build()?;
    let text: String = plugin.call("read_file", format!("/data/{name}"))?;
    let _: &[u8] = plugin.call("write_stdio", "printed by the plug-in")?;
    Ok((text, stdout.take()))
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "/etc".into());
    let name = args.next().unwrap_or_else(|| "hostname".into());
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/plugins");
    let (text, printed) = read_mapped(&plugins, Path::new(&dir), &name)?;
    println!("{text}");
    print!("{}", String::from_utf8_lossy(&printed));
    Ok(())
}
