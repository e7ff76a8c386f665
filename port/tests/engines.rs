//! The port program, run once per engine compiled into xtism, each in its own process (the
//! program picks its engine the way a ported program does: through `XTISM_ENGINE`, as it
//! never names one).

#[cfg(feature = "xtism")]
#[test]
fn the_ported_program_runs_on_every_engine() {
    for engine in xtism::ENGINES {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtism-port"))
            .env("XTISM_ENGINE", engine)
            .output()
            .expect("the port binary runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{engine}: {stderr}\n{stdout}");
        assert_eq!(
            stdout.lines().filter(|l| l.starts_with("ok ")).count(),
            xtism_port::program::PARTS,
            "{engine}: every part ran\n{stdout}"
        );
    }
}
