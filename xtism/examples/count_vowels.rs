//! The README's example: run the official AssemblyScript count-vowels plug-in with config
//! and vars, and give another plug-in a host function.
//!
//! `cargo run -p xtism --example count_vowels` (from the repository root).

use std::path::Path;

use xtism::*;

// A host function the plug-in imports as `extism:host/user` `hello_world`.
host_fn!(hello_world(greeting: String; name: String) -> String {
    let greeting = greeting.get()?;
    let greeting = greeting.lock().unwrap();
    Ok(format!("{greeting} {name}"))
});

/// Runs both plug-ins from the corpus in `plugins` and returns their outputs.
pub fn run(plugins: &Path) -> Result<(String, String), Error> {
    // Config and vars: the plug-in keeps a running total between calls.
    let wasm = std::fs::read(plugins.join("as/count_vowels.wasm"))?;
    let mut plugin = PluginBuilder::new(&wasm)
        .with_config_key("vowels", "aeiou")
        .build()?;
    let _first: String = plugin.call("count_vowels", "Hello, World!")?;
    let counted: String = plugin.call("count_vowels", "Hello, World!")?;

    // A host function, and a manifest instead of bytes.
    let manifest = Manifest::new([Wasm::file(plugins.join("as/host_fn.wasm"))]);
    let greet = Function::new(
        "hello_world",
        [PTR],
        [PTR],
        UserData::new("Hi".to_string()),
        hello_world,
    );
    let mut plugin = Plugin::new(&manifest, [greet], false)?;
    let greeted: String = plugin.call("call_host", "Bob")?;
    Ok((counted, greeted))
}

fn main() -> Result<(), Error> {
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/plugins");
    let (counted, greeted) = run(&plugins)?;
    println!("{counted}");
    println!("{greeted}");
    Ok(())
}
