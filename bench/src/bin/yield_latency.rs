//! How long a timer elsewhere on the executor waits while async calls compute:
//! `yield_latency`.
//!
//! On a tokio runtime of one thread and of two worker threads, two tasks each call a guest
//! that loops without calling the host (`call_async`, a 500 ms timeout ends it), while a
//! third task sleeps 1 ms again and again for 400 ms. It prints, per engine with async
//! calls and per runtime, the longest of those sleeps. A guest that never yielded would hold
//! its thread for the whole 500 ms.
//!
//! The `tokio` feature of `xtism` (on here by default) makes a computing guest yield with
//! tokio's own `yield_now`; without it the guest yields by waking itself, which tokio runs
//! again before it looks at its timers. Compare the two:
//!
//! ```sh
//! cargo run --release -p xtism-bench --bin yield_latency
//! cargo run --release -p xtism-bench --bin yield_latency --no-default-features --features wasmtime,wasmi
//! ```

use std::time::{Duration, Instant};

use xtism::{Plugin, PluginBuilder};

/// A guest that loops for ever.
const SPIN: &[u8] =
    b"(module (func (export \"spin\") (result i32) (loop $l (br $l)) (i32.const 0)))";

/// The longest 1 ms sleep on `runtime` while two calls of `SPIN` on `engine` compute.
fn worst_sleep(engine: &str, runtime: &tokio::runtime::Runtime) -> Result<Duration, String> {
    runtime.block_on(async {
        let mut spinners = Vec::new();
        for _ in 0..2 {
            let engine = xtism::engine_named(engine).map_err(|e| e.to_string())?;
            let mut plugin: Plugin = PluginBuilder::new(SPIN)
                .with_engine(engine)
                .with_timeout(Duration::from_millis(500))
                .build()
                .map_err(|e| e.to_string())?;
            spinners.push(tokio::spawn(async move {
                // Ends with the timeout.
                let _ = plugin.call_async::<&str, &[u8]>("spin", "").await;
            }));
        }
        let sleeper = tokio::spawn(async {
            let mut worst = Duration::ZERO;
            let end = Instant::now() + Duration::from_millis(400);
            while Instant::now() < end {
                let start = Instant::now();
                tokio::time::sleep(Duration::from_millis(1)).await;
                worst = worst.max(start.elapsed());
            }
            worst
        });
        let worst = sleeper.await.map_err(|e| e.to_string())?;
        for spinner in spinners {
            spinner.await.map_err(|e| e.to_string())?;
        }
        Ok(worst)
    })
}

fn main() -> Result<(), String> {
    let yields = if cfg!(feature = "tokio-yield") {
        "tokio's yield_now"
    } else {
        "a self-wake"
    };
    println!("computing guests yield with {yields}");
    for engine in xtism::ENGINES {
        let caps = xtism::engine_named(engine)
            .map_err(|e| e.to_string())?
            .capabilities();
        if !caps.async_calls {
            println!("{engine:9} no async calls");
            continue;
        }
        let one = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| e.to_string())?;
        let two = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .map_err(|e| e.to_string())?;
        for (name, runtime) in [("1 thread", &one), ("2 threads", &two)] {
            let worst = worst_sleep(engine, runtime)?;
            println!(
                "{engine:9} {name:10} longest 1 ms sleep: {:.1} ms",
                worst.as_secs_f64() * 1e3
            );
        }
    }
    Ok(())
}
