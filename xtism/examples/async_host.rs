//! Async calls: many calls of one compiled plug-in wait on an async host function at once,
//! on one thread. `cargo run -p xtism --example async_host` prints `Hi Ada!`, `Hi Bob!` and
//! `Hi Cy!`.

use std::path::Path;
use std::time::Duration;

use xtism::*;

// An async host function: the plug-in's call waits for it without blocking the thread.
host_fn!(async hello_world(greeting: String; name: String) -> String {
    // A database read or an HTTP fetch would be awaited here.
    tokio::time::sleep(Duration::from_millis(10)).await;
    let greeting = greeting.get()?.lock().unwrap().clone();
    Ok(format!("{greeting} {name}"))
});

/// Greets each of `names` through `as/host_fn.wasm` in `plugins`, one plug-in instance and
/// one task per name, all waiting in `hello_world` together.
pub async fn run(plugins: &Path, names: &[&str]) -> Result<Vec<String>, Error> {
    let greet = Function::new_async(
        "hello_world",
        [PTR],
        [PTR],
        UserData::new("Hi".to_string()),
        hello_world,
    );
    let compiled = PluginBuilder::new(Manifest::new([Wasm::file(plugins.join("as/host_fn.wasm"))]))
        .with_functions([greet])
        .with_timeout(Duration::from_secs(5))
        .compile()?;
    let mut tasks = Vec::new();
    for name in names {
        let mut plugin = Plugin::new_from_compiled(&compiled)?;
        let name = name.to_string();
        tasks.push(tokio::spawn(async move {
            plugin.call_async::<&str, String>("call_host", &name).await
        }));
    }
    let mut greetings = Vec::new();
    for task in tasks {
        greetings.push(task.await.map_err(Error::new)??);
    }
    Ok(greetings)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/plugins");
    for greeting in run(&plugins, &["Ada", "Bob", "Cy"]).await? {
        println!("{greeting}");
    }
    Ok(())
}
