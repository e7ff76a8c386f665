//! `set_log_file` installs the process's `tracing` subscriber, so this file is a test binary
//! of its own: plug-in logs are appended to the file, filtered by level.

use xtism_conformance::{builder, engines, plugin};

#[test]
fn plugin_logs_are_appended_to_the_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugins.log");
    std::fs::write(&path, "kept\n").unwrap();
    xtism::set_log_file(&path, "warn").unwrap();
    let kernel = plugin("wat/kernel.wat");
    for (engine, _) in engines() {
        let mut p = builder(engine, &kernel).build().unwrap();
        let out: &[u8] = p.call("log", format!("{engine} logs").as_str()).unwrap();
        assert_eq!(
            out,
            3u64.to_le_bytes(),
            "get_log_level is warn (3) on {engine}"
        );
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "kept", "the file is appended to");
    for (engine, _) in engines() {
        let mine: Vec<&&str> = lines
            .iter()
            .filter(|l| l.contains(&format!("{engine} logs")))
            .collect();
        assert_eq!(mine.len(), 2, "warn and error on {engine}: {text}");
        assert!(
            mine[0].contains("WARN") && mine[1].contains("ERROR"),
            "{text}"
        );
    }
}
