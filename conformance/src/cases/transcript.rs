//! Agreement across engines: a transcript of observations (outputs, error kinds and
//! messages, what host functions saw) over the corpus, which every engine must reproduce
//! line for line from `golden/transcript.txt`. A build with one engine is held to the same
//! file, so agreement holds there too. After a deliberate change, rewrite the file with
//! `XTISM_BLESS=1 cargo test -p xtism-conformance transcript` and review the diff.

use super::prelude::*;

/// The committed transcript every engine must produce.
const GOLDEN: &str = include_str!("../../golden/transcript.txt");

/// The placeholder for the test server's port, which changes from run to run.
#[cfg(feature = "http")]
const PORT: &str = ":<port>";

#[case]
fn transcript_matches_the_golden_file(engine: &'static str) {
    let lines = transcript(engine);
    // HTTP and WASI are not compiled into every build; their lines are compared only where
    // they are.
    let compiled_in = |line: &&str| {
        (cfg!(feature = "http") || !line.starts_with("http"))
            && (cfg!(feature = "wasi") || !line.starts_with("wasi "))
    };
    let lines: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(compiled_in)
        .collect();
    if std::env::var_os("XTISM_BLESS").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/golden/transcript.txt");
        std::fs::write(path, lines.join("\n") + "\n").expect("write the golden transcript");
        return;
    }
    let golden: Vec<&str> = GOLDEN.lines().filter(compiled_in).collect();
    for (n, (want, got)) in golden.iter().zip(&lines).enumerate() {
        assert_eq!(
            want,
            got,
            "{engine} departs from golden/transcript.txt at line {}",
            n + 1
        );
    }
    assert_eq!(
        golden.len(),
        lines.len(),
        "{engine}: a transcript of another length"
    );
}

/// One line per observation: outputs, error kinds and messages, host calls.
fn transcript(engine: &'static str) -> Vec<String> {
    let mut lines = Vec::new();
    #[cfg(feature = "http")]
    let server = TEST_SERVER.get_or_init(crate::TestServer::start);
    #[cfg(feature = "http")]
    let port = format!(
        ":{}",
        server.authority().rsplit(':').next().unwrap_or_default()
    );
    let mut record = |label: &str, result: Result<Vec<u8>, Error>| {
        lines.push(match result {
            Ok(out) => match std::str::from_utf8(&out) {
                Ok(text) => format!("{label} ok {text:?}"),
                Err(_) => format!("{label} ok bytes {}", out.escape_ascii()),
            },
            // Backtraces differ by engine (and wasmi has none); the message must not.
            Err(e) => match e.xtism_error() {
                Some(XtismError::Trap { message, .. }) => format!("{label} err Trap {message}"),
                _ => format!("{label} err {:?} {e}", e.kind()),
            },
        });
        #[cfg(feature = "http")]
        {
            let last = lines.last_mut().expect("a line was just pushed");
            *last = last.replace(&port, PORT);
        }
    };
    let wasm = plugin("as/count_vowels.wasm");
    let mut p = builder(engine, &wasm)
        .with_config_key("vowels", "eo")
        .build()
        .unwrap();
    for input in ["Hello, World!", "", "ééé"] {
        record("count_vowels", p.call("count_vowels", input));
    }
    let mut k = new_plugin(engine, &kernel());
    for export in [
        "blocks",
        "count",
        "count",
        "trap",
        "fail_with_input",
        "bad_config_key",
        "bad_var_value",
        "bad_output",
        "non_utf8_key",
        "http",
        "nope",
        "returns_i64",
        "count",
    ] {
        record(export, k.call(export, "input bytes"));
    }
    #[cfg(feature = "http")]
    http(engine, &mut record);
    let calls = UserData::new(Vec::<String>::new());
    let mut functions = host_function_set(false);
    functions[0] = Function::new(
        "transform",
        [PTR],
        [PTR],
        calls.clone(),
        |plugin, inputs, outputs, calls| {
            let text: String = plugin.memory_get_val(&inputs[0])?;
            calls.get()?.lock().unwrap().push(text.clone());
            plugin.memory_set_val(&mut outputs[0], text.chars().rev().collect::<String>())
        },
    );
    let mut h = builder(engine, &plugin("wat/host_functions.wat"))
        .with_functions(functions)
        .build()
        .unwrap();
    record("transform", h.call("transform", "abc"));
    record("numbers", h.call("numbers", ""));
    record("join", h.call("join", "j"));
    lines.push(format!(
        "host calls {:?}",
        calls.get().unwrap().lock().unwrap()
    ));
    #[cfg(feature = "wasi")]
    lines.extend(
        super::wasi::wasi_transcript(engine)
            .into_iter()
            .map(|line| format!("wasi {line}")),
    );
    lines
}
/// One server for every engine and every run of the case in this process.
#[cfg(feature = "http")]
static TEST_SERVER: std::sync::OnceLock<crate::TestServer> = std::sync::OnceLock::new();

/// HTTP from the AS plug-in against one local server; its port reads as [`PORT`].
#[cfg(feature = "http")]
fn http(engine: &'static str, record: &mut impl FnMut(&str, Result<Vec<u8>, Error>)) {
    let server = TEST_SERVER.get_or_init(crate::TestServer::start);
    let mut w = builder(engine, &plugin("as/http.wasm"))
        .with_allowed_host("127.0.0.1")
        .with_http_response_headers(true)
        .build()
        .unwrap();
    for path in ["/status/404", "/bytes/30", "/huge-header"] {
        record("http_get", w.call("http_get", server.url(path).as_str()));
    }
    let denied = format!(
        "http://localhost:{}/echo",
        server.authority().rsplit(':').next().unwrap()
    );
    record("http_get", w.call("http_get", denied.as_str()));
}
