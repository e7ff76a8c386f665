//! Cases: what `#[case]` registers, and running one case on one engine.
//!
//! A case is a function taking an engine name that panics (assertions) when the engine gets
//! something wrong. `#[case]` registers it through `inventory`, so the test harness
//! (`tests/suite.rs`) and `xtism conformance` find every case without a list to keep.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;
use std::time::{Duration, Instant};

/// A conformance case, registered by `#[case]`.
#[derive(Debug)]
pub struct Case {
    /// The function's name, e.g. `var_limit`.
    pub name: &'static str,
    /// The module it is defined in, e.g. `xtism_conformance::cases::kernel`.
    pub module: &'static str,
    /// The capability whose two branches the case checks, if any.
    pub needs: Option<Needs>,
    /// Runs the case on the engine of this name; panics on a failure.
    pub run: fn(&'static str),
}

/// A capability a case depends on: the case checks that it works where the engine claims
/// it ([`xtism::Capabilities`]) and that the documented fallback (mostly
/// [`xtism::ErrorKind::Unsupported`]) holds where it does not.
#[derive(Debug)]
pub struct Needs {
    /// The field of [`xtism::Capabilities`], e.g. `simd`.
    pub name: &'static str,
    /// Reads that field.
    pub has: fn(&xtism::Capabilities) -> bool,
}

inventory::collect!(Case);

impl Case {
    /// The group the case belongs to: the last segment of its module, e.g. `kernel`.
    pub fn group(&self) -> &'static str {
        self.module.rsplit("::").next().unwrap_or(self.module)
    }

    /// `group::name`, the case's name in reports and filters.
    pub fn full_name(&self) -> String {
        format!("{}::{}", self.group(), self.name)
    }

    /// The name of the capability `engine` lacks that this case depends on: the case ran
    /// its fallback branch there.
    pub fn fallback_on(&self, engine: &str) -> Option<&'static str> {
        let needs = self.needs.as_ref()?;
        let caps = xtism::engine_named(engine).ok()?.capabilities();
        (!(needs.has)(&caps)).then_some(needs.name)
    }

    /// Runs the case on `engine`, catching its failure.
    pub fn run_on(&self, engine: &'static str) -> Outcome {
        install_hook();
        CAPTURING.with(|c| *c.borrow_mut() = Some(None));
        let started = Instant::now();
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| (self.run)(engine)));
        let took = started.elapsed();
        let message = CAPTURING.with(|c| c.borrow_mut().take().flatten());
        Outcome {
            failure: result
                .err()
                .map(|_| message.unwrap_or_else(|| "panicked".to_owned())),
            took,
        }
    }
}

/// How one case went on one engine.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Why it failed (the panic message and where), or `None` if it passed.
    pub failure: Option<String>,
    /// How long it ran.
    pub took: Duration,
}

/// Every registered case, sorted by group and name.
pub fn cases() -> Vec<&'static Case> {
    let mut all: Vec<&'static Case> = inventory::iter::<Case>.into_iter().collect();
    all.sort_by_key(|c| (c.group(), c.name));
    all
}

thread_local! {
    /// `Some` while this thread runs a case: the message of the last panic (the one that
    /// failed the case; a case may also provoke panics that the runtime catches) is kept
    /// here instead of being printed.
    static CAPTURING: RefCell<Option<Option<String>>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that keeps the message of a panic in a running case and
/// hands every other panic to the hook that was there before.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            let kept = CAPTURING.with(|c| match &mut *c.borrow_mut() {
                Some(slot) => {
                    *slot = Some(describe(info));
                    true
                }
                None => false,
            });
            if !kept {
                previous(info);
            }
        }));
    });
}

/// A panic's message and location on one line.
fn describe(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked".to_owned());
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    match info.location() {
        Some(at) => format!("{message} (at {}:{})", at.file(), at.line()),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passes(_: &'static str) {}

    fn fails(_: &'static str) {
        let n = 2;
        assert_eq!(n, 3, "two is not three");
    }

    #[test]
    fn a_failing_case_reports_its_assertion() {
        let case = Case {
            name: "fails",
            module: "xtism_conformance::cases::demo",
            needs: None,
            run: fails,
        };
        assert_eq!(case.full_name(), "demo::fails");
        let why = case.run_on("any").failure.expect("the case fails");
        assert!(why.contains("two is not three"), "{why}");
        assert!(why.contains("case.rs"), "where it failed: {why}");
        let ok = Case {
            run: passes,
            ..case
        };
        assert!(ok.run_on("any").failure.is_none());
    }

    /// Every capability but `jit` (which changes no behaviour a plug-in can see) has a case
    /// that checks both of its branches.
    #[test]
    fn every_capability_has_a_case() {
        let cases = cases();
        for (name, _) in xtism::Capabilities::NONE.by_name() {
            let field = name.replace(' ', "_");
            if field == "jit" {
                continue;
            }
            assert!(
                cases
                    .iter()
                    .any(|c| c.needs.as_ref().is_some_and(|n| n.name == field)),
                "no #[case(needs = {field})]"
            );
        }
    }
}
