//! How an async host function's future reaches the plug-in while it runs: a backend polls
//! the future inside [`enter`], which lends the [`HostAccess`] it holds to the polling
//! thread for that one poll, under the host call's token; the future borrows it back
//! through [`with`], for a synchronous closure, by the same token.
//!
//! The lending is `scoped-tls-hkt`'s mutable scoped thread-local: the access is in the slot
//! only while `enter` runs, on the thread that runs it, and [`with`] takes it out of the
//! slot while its closure runs, so a nested `with` finds the slot empty. The token is what
//! this module adds: it is unique to one host call, so a future that outlives its host
//! call, or a future of one plug-in polled while another plug-in is being served, finds no
//! access of its own and gets `None`.

use std::sync::atomic::{AtomicU64, Ordering};

use scoped_tls_hkt::{ReborrowMut, scoped_thread_local};

use super::host_access::HostAccess;

/// Identifies one async host call: the key under which its access is lent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token(u64);

impl Token {
    /// A token no other host call in this process has had.
    pub(crate) fn fresh() -> Token {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Token(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// What is lent: the access, and the token it is lent under.
struct Lent<'a> {
    token: Token,
    host: &'a mut (dyn HostAccess + 'a),
}

impl<'a, 'b: 'a> ReborrowMut<'a> for Lent<'b> {
    type Result = Lent<'a>;

    fn reborrow_mut(&'a mut self) -> Lent<'a> {
        Lent {
            token: self.token,
            host: &mut *self.host,
        }
    }
}

scoped_thread_local!(
    /// The access lent to this thread.
    static mut LENT: for<'a> Lent<'a>
);

/// Runs `f` with `host` lent to this thread under `token`, for [`with`].
pub(crate) fn enter<R>(token: Token, host: &mut dyn HostAccess, f: impl FnOnce() -> R) -> R {
    LENT.set(Lent { token, host }, f)
}

/// Runs `f` on the access lent under `token`, if this thread is inside that token's
/// [`enter`] and no other `with` has it; `None` otherwise.
pub(crate) fn with<R>(token: Token, f: impl FnOnce(&mut dyn HostAccess) -> R) -> Option<R> {
    if !LENT.is_set() {
        return None;
    }
    LENT.with(|lent| (lent.token == token).then(|| f(lent.host)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::PluginState;

    /// A host access over nothing but a number, for counting who reaches it.
    struct Counter(u64);

    impl HostAccess for Counter {
        fn kernel(&mut self) -> (&mut [u8], &mut PluginState) {
            unreachable!("the tests only count")
        }
        fn grow_kernel(&mut self, pages: u64) -> bool {
            self.0 += pages;
            true
        }
        fn module_memory(&mut self, _module: usize) -> (Option<&mut [u8]>, &mut PluginState) {
            unreachable!("the tests only count")
        }
        fn shared_state(&self) -> &PluginState {
            unreachable!("the tests only count")
        }
    }

    #[test]
    fn only_the_lending_token_reaches_the_access() {
        let (mine, other) = (Token::fresh(), Token::fresh());
        let mut host = Counter(0);
        assert_eq!(with(mine, |h| h.grow_kernel(1)), None);
        enter(mine, &mut host, || {
            assert_eq!(with(mine, |h| h.grow_kernel(1)), Some(true));
            assert_eq!(with(other, |h| h.grow_kernel(1)), None);
            // Nested: the slot is empty while the outer closure has it.
            assert_eq!(with(mine, |_| with(mine, |h| h.grow_kernel(1))), Some(None));
            assert_eq!(with(mine, |h| h.grow_kernel(1)), Some(true));
        });
        assert_eq!(with(mine, |h| h.grow_kernel(1)), None);
        assert_eq!(host.0, 2);
    }

    #[test]
    fn an_inner_enter_hides_the_outer_one_until_it_ends() {
        let (outer, inner) = (Token::fresh(), Token::fresh());
        let (mut a, mut b) = (Counter(0), Counter(10));
        enter(outer, &mut a, || {
            enter(inner, &mut b, || {
                assert_eq!(with(outer, |h| h.grow_kernel(1)), None);
                assert_eq!(with(inner, |h| h.grow_kernel(1)), Some(true));
            });
            assert_eq!(with(outer, |h| h.grow_kernel(1)), Some(true));
        });
        assert_eq!((a.0, b.0), (1, 11));
    }

    #[test]
    fn a_panic_inside_restores_the_slot() {
        let token = Token::fresh();
        let mut host = Counter(0);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            enter(token, &mut host, || {
                with(token, |_| panic!("inside"));
            })
        }));
        assert!(caught.is_err());
        assert_eq!(with(token, |h| h.grow_kernel(1)), None);
        assert!(!LENT.is_set());
    }

    #[test]
    fn another_thread_sees_nothing() {
        let token = Token::fresh();
        let mut host = Counter(0);
        enter(token, &mut host, || {
            let seen = std::thread::spawn(move || with(token, |_| ()).is_some())
                .join()
                .unwrap();
            assert!(!seen);
        });
    }
}
