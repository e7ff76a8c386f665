//! The conformance suite as `cargo test` trials: every registered case on every engine
//! compiled in, one trial each, named `engine::group::case` so that one runs alone as
//! `cargo test -p xtism-conformance wasmi::kernel::var_limit`.

use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for engine in xtism::ENGINES {
        for case in xtism_conformance::cases() {
            let name = format!("{engine}::{}", case.full_name());
            trials.push(Trial::test(name, move || {
                match case.run_on(engine).failure {
                    None => Ok(()),
                    Some(why) => Err(Failed::from(why)),
                }
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
