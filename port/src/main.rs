//! Runs the port program once: on xtism with the engine `XTISM_ENGINE` names (the default
//! engine without it), or on the official runtime with the `official` feature. Prints each
//! part that passed; exits with 1 and the error's chain at the first that fails.

use std::process::ExitCode;

use xtism_port::program::{Corpus, run};

fn main() -> ExitCode {
    let corpus = Corpus(concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance/plugins").into());
    let scratch = std::env::temp_dir().join(format!("xtism-port-{}", std::process::id()));
    let result = run(&corpus, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    match result {
        Ok(parts) => {
            for part in parts {
                println!("ok {part}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
