//! The bookkeeping under [`Pool`](super::Pool): a bounded set of values made on demand by a
//! source, lent out one borrower at a time, with no Extism meaning.
//!
//! Kept apart from the plug-in API so that its one hard part, waiting and making without
//! holding the lock, can be tested on plain values. The source runs outside the lock: a
//! source that takes long does not stall borrowers returning or taking other values, and a
//! source (or a host function it starts) that asks the same lender for a value waits like
//! any caller and gets `None` after its timeout instead of deadlocking. A source that fails
//! or panics gives its reservation back, so the count and the room below the maximum are
//! as before.
//!
//! A borrower waits on an `event-listener` event, which serves a thread that blocks
//! ([`Lender::take`]) and a task that awaits ([`Lender::take_async`]) alike: each value
//! given back, and each reservation given up, wakes one more waiter.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::Poll;
use std::time::{Duration, Instant};

use event_listener::{Event, IntoNotification, Listener};

use crate::error::Error;

/// Makes a new value for a [`Lender`].
pub(super) type Source<T> = dyn Fn() -> Result<T, Error> + Send + Sync;

/// At most `max` values of `T`, made by `source` when none is idle.
pub(super) struct Lender<T> {
    source: Box<Source<T>>,
    max: usize,
    slots: Mutex<Slots<T>>,
    /// Notified when a value comes back or a reservation is given up.
    freed: Event,
}

struct Slots<T> {
    /// Values made and not lent, oldest returned first.
    idle: VecDeque<T>,
    /// Values made and still alive, lent or idle.
    alive: usize,
    /// Values the source is making now, outside the lock.
    making: usize,
}

impl<T> Lender<T> {
    /// A lender of at most `max` values (`max` is at least 1).
    pub(super) fn new(source: Box<Source<T>>, max: usize) -> Self {
        Lender {
            source,
            max: max.max(1),
            slots: Mutex::new(Slots {
                idle: VecDeque::new(),
                alive: 0,
                making: 0,
            }),
            freed: Event::new(),
        }
    }

    /// The most values this lender makes.
    pub(super) fn max(&self) -> usize {
        self.max
    }

    /// How many values the source has made that are still alive, lent or idle; not
    /// counting those being made.
    pub(super) fn count(&self) -> usize {
        self.lock().alive
    }

    fn lock(&self) -> MutexGuard<'_, Slots<T>> {
        // Every change under the lock is a single push, pop or counter update, and the
        // source runs outside it, so a poisoned lock still holds consistent slots.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A value for the caller's exclusive use: the idle one returned longest ago, else a
    /// new one from the source while fewer than `max` exist or are being made, else the
    /// first one returned or made room for within `timeout` (a timeout too long to add to
    /// the clock, such as `Duration::MAX`, waits for ever). `Ok(None)` when none became free
    /// in time; the source's error when it failed.
    pub(super) fn take(&self, timeout: Duration) -> Result<Option<T>, Error> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(taken) = self.try_take() {
                return taken.map(Some);
            }
            // Listening before the second look: a value given back in between notifies it.
            let listener = self.freed.listen();
            if let Some(taken) = self.try_take() {
                return taken.map(Some);
            }
            let notified = match deadline {
                None => {
                    listener.wait();
                    true
                }
                Some(deadline) => listener.wait_deadline(deadline).is_some(),
            };
            if !notified {
                return Ok(None);
            }
        }
    }

    /// [`take`](Self::take) for async code: waits for a value without blocking the thread
    /// (the source, when it makes one, runs on the calling task).
    pub(super) async fn take_async(&self, timeout: Duration) -> Result<Option<T>, Error> {
        let mut timer = Instant::now()
            .checked_add(timeout)
            .map(|_| futures_timer::Delay::new(timeout));
        loop {
            if let Some(taken) = self.try_take() {
                return taken.map(Some);
            }
            let mut listener = self.freed.listen();
            if let Some(taken) = self.try_take() {
                return taken.map(Some);
            }
            let notified = poll_fn(|cx| {
                if Pin::new(&mut listener).poll(cx).is_ready() {
                    return Poll::Ready(true);
                }
                match timer.as_mut().map(|timer| Pin::new(timer).poll(cx)) {
                    Some(Poll::Ready(())) => Poll::Ready(false),
                    _ => Poll::Pending,
                }
            })
            .await;
            if !notified {
                return Ok(None);
            }
        }
    }

    /// An idle value, or a new one from the source when there is room: `None` when
    /// neither (the caller waits).
    fn try_take(&self) -> Option<Result<T, Error>> {
        let mut slots = self.lock();
        if let Some(value) = slots.idle.pop_front() {
            return Some(Ok(value));
        }
        if slots.alive + slots.making >= self.max {
            return None;
        }
        slots.making += 1;
        drop(slots);
        let reservation = Reservation {
            lender: self,
            made: false,
        };
        let made = (self.source)();
        reservation.settle(made.is_ok());
        Some(made)
    }

    /// Takes `value` back for the next borrower.
    pub(super) fn give_back(&self, value: T) {
        self.lock().idle.push_back(value);
        self.freed.notify(1.additional());
    }
}

/// Room for one value the source is making. Dropped unsettled (the source panicked) or
/// settled as not made, it gives the room back and wakes a waiter, who may now make one.
struct Reservation<'a, T> {
    lender: &'a Lender<T>,
    made: bool,
}

impl<T> Reservation<'_, T> {
    fn settle(mut self, made: bool) {
        self.made = made;
    }
}

impl<T> Drop for Reservation<'_, T> {
    fn drop(&mut self) {
        let mut slots = self.lender.lock();
        slots.making -= 1;
        if self.made {
            slots.alive += 1;
        } else {
            drop(slots);
            self.lender.freed.notify(1.additional());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Weak};

    /// A lender of `max` numbered values, and how many times its source ran.
    fn numbered(max: usize) -> (Lender<usize>, Arc<AtomicUsize>) {
        let made = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&made);
        let source = move || Ok(counter.fetch_add(1, Ordering::SeqCst));
        (Lender::new(Box::new(source), max), made)
    }

    #[test]
    fn makes_up_to_the_maximum_then_times_out() {
        let (lender, made) = numbered(2);
        assert_eq!(lender.count(), 0);
        let a = lender.take(Duration::ZERO).unwrap().unwrap();
        let b = lender.take(Duration::ZERO).unwrap().unwrap();
        assert_eq!((a, b), (0, 1));
        assert_eq!(lender.count(), 2);
        let start = Instant::now();
        assert!(lender.take(Duration::from_millis(30)).unwrap().is_none());
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(lender.take(Duration::ZERO).unwrap().is_none());
        assert_eq!((lender.count(), made.load(Ordering::SeqCst)), (2, 2));
    }

    #[test]
    fn zero_maximum_means_one() {
        let (lender, _) = numbered(0);
        assert_eq!(lender.max(), 1);
        assert!(lender.take(Duration::ZERO).unwrap().is_some());
    }

    #[test]
    fn reuses_returned_values_oldest_first() {
        let (lender, made) = numbered(3);
        let a = lender.take(Duration::ZERO).unwrap().unwrap();
        let b = lender.take(Duration::ZERO).unwrap().unwrap();
        lender.give_back(b);
        lender.give_back(a);
        assert_eq!(lender.take(Duration::ZERO).unwrap(), Some(b));
        assert_eq!(lender.take(Duration::ZERO).unwrap(), Some(a));
        assert_eq!((lender.count(), made.load(Ordering::SeqCst)), (2, 2));
    }

    #[test]
    fn a_waiter_gets_the_value_given_back() {
        let (lender, _) = numbered(1);
        let lender = Arc::new(lender);
        let held = lender.take(Duration::ZERO).unwrap().unwrap();
        let giver = {
            let lender = Arc::clone(&lender);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                lender.give_back(held);
            })
        };
        // No deadline: waits for as long as it takes.
        assert_eq!(lender.take(Duration::MAX).unwrap(), Some(held));
        giver.join().unwrap();
    }

    #[test]
    fn an_async_waiter_gets_the_value_given_back_or_times_out() {
        let (lender, _) = numbered(1);
        let lender = Arc::new(lender);
        let held = lender.take(Duration::ZERO).unwrap().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            // Nothing comes back: the wait ends at its timeout, and the thread was free
            // meanwhile (the ticking task ran).
            let ticks = tokio::spawn(async {
                for _ in 0..3 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
            let start = Instant::now();
            assert!(
                lender
                    .take_async(Duration::from_millis(40))
                    .await
                    .unwrap()
                    .is_none()
            );
            assert!(start.elapsed() >= Duration::from_millis(40));
            assert!(ticks.is_finished());
            // Given back from another thread while the task waits.
            let giver = {
                let lender = Arc::clone(&lender);
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(20));
                    lender.give_back(held);
                })
            };
            assert_eq!(lender.take_async(Duration::MAX).await.unwrap(), Some(held));
            giver.join().unwrap();
        });
    }

    #[test]
    fn a_failing_source_leaves_the_count_unchanged() {
        let fail = Arc::new(AtomicBool::new(true));
        let switch = Arc::clone(&fail);
        let lender = Lender::new(
            Box::new(move || {
                if switch.load(Ordering::SeqCst) {
                    Err(Error::msg("no instance today"))
                } else {
                    Ok(7)
                }
            }),
            1,
        );
        let err = lender.take(Duration::ZERO).unwrap_err();
        assert_eq!(err.to_string(), "no instance today");
        assert_eq!(lender.count(), 0);
        fail.store(false, Ordering::SeqCst);
        assert_eq!(lender.take(Duration::ZERO).unwrap(), Some(7));
        assert_eq!(lender.count(), 1);
    }

    #[test]
    fn a_panicking_source_gives_its_room_back() {
        let panicked = Arc::new(AtomicBool::new(false));
        let once = Arc::clone(&panicked);
        let lender = Lender::new(
            Box::new(move || {
                if !once.swap(true, Ordering::SeqCst) {
                    panic!("source panicked");
                }
                Ok(1)
            }),
            1,
        );
        let taken =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lender.take(Duration::ZERO)));
        assert!(taken.is_err());
        assert_eq!(lender.count(), 0);
        assert_eq!(lender.take(Duration::ZERO).unwrap(), Some(1));
    }

    #[test]
    fn a_source_asking_its_own_lender_gets_none_not_a_deadlock() {
        // The source runs outside the lock: asking the same lender from inside it (as a
        // host function run by a plug-in's initialization could) waits and times out.
        let asked = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&asked);
        let lender = Arc::new_cyclic(|me: &Weak<Lender<u32>>| {
            let me = me.clone();
            Lender::new(
                Box::new(move || {
                    let lender = me.upgrade().expect("the lender is alive");
                    let inner = lender.take(Duration::from_millis(20))?;
                    flag.store(inner.is_none(), Ordering::SeqCst);
                    Ok(1)
                }),
                1,
            )
        });
        assert_eq!(lender.take(Duration::ZERO).unwrap(), Some(1));
        assert!(asked.load(Ordering::SeqCst));
        assert_eq!(lender.count(), 1);
    }

    #[test]
    fn many_threads_share_a_few_values() {
        let (lender, made) = numbered(3);
        let lender = Arc::new(lender);
        let threads: Vec<_> = (0..10)
            .map(|_| {
                let lender = Arc::clone(&lender);
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let v = lender.take(Duration::from_secs(60)).unwrap().unwrap();
                        assert!(lender.count() <= 3);
                        lender.give_back(v);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(lender.count() <= 3);
        assert_eq!(made.load(Ordering::SeqCst), lender.count());
    }
}
