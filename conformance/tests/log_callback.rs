//! `set_log_callback` installs the process's `tracing` subscriber, so this file is a test
//! binary of its own: plug-in logs reach the callback on every engine, filtered by level,
//! and `get_log_level` follows the filter.

use std::sync::{Arc, Mutex};
use xtism::ErrorExt;

use xtism_conformance::{builder, engines, plugin};

#[test]
fn plugin_logs_reach_the_log_callback_on_every_engine() {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&lines);
    xtism::set_log_callback(
        move |line| sink.lock().unwrap().push(line.to_owned()),
        "xtism::plugin=debug",
    )
    .unwrap();
    let again = xtism::set_log_callback(|_| {}, "info").unwrap_err();
    assert_eq!(again.kind(), xtism::ErrorKind::Invalid, "{again}");

    for (engine, _) in engines() {
        lines.lock().unwrap().clear();
        let kernel = plugin("wat/kernel.wat");
        let mut p = builder(engine, &kernel).build().unwrap();
        let out: &[u8] = p.call("log", format!("{engine} says hi").as_str()).unwrap();
        // get_log_level: 1 is debug, the filter's level.
        assert_eq!(out, 1u64.to_le_bytes(), "{engine}");
        let logged = lines.lock().unwrap().clone();
        assert_eq!(
            logged.len(),
            4,
            "debug, info, warn, error on {engine}: {logged:#?}"
        );
        for (line, level) in logged.iter().zip(["DEBUG", "INFO", "WARN", "ERROR"]) {
            assert!(line.contains(level), "{line}");
            assert!(line.contains(&format!("{engine} says hi")), "{line}");
            assert!(line.contains(&p.id.to_string()), "the plug-in id: {line}");
            assert!(!line.ends_with('\n'), "one line, without its newline");
        }
    }
}
