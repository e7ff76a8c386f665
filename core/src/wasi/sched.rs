//! A WASI scheduler whose waits end at the call's deadline or when the call is cancelled.
//!
//! WASI's only blocking calls here are `poll_oneoff` (which wasi-libc's `sleep` and
//! `nanosleep` use) and reads. Every file a plug-in can hold is always ready (files under
//! its allowed paths, an empty stdin, output sinks or buffers), so only clock waits can
//! last: those sleep in short slices and check the running call's deadline and cancel flag
//! between slices. A wait that must stop traps, and core reports `Timeout` or `Cancelled`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasi_common::sched::{Poll, WasiSched};
use wasi_common::{Error, ErrorExt};

use crate::engine::CancelState;

/// Longest sleep between two checks of the cancel flag.
const SLICE: Duration = Duration::from_millis(5);

/// What a wait must respect: the running call's deadline and the plug-in's cancel flag.
#[derive(Debug)]
pub(super) struct Watch {
    deadline: Mutex<Option<Instant>>,
    cancel: Arc<CancelState>,
}

impl Watch {
    pub(super) fn new(cancel: Arc<CancelState>) -> Watch {
        Watch {
            deadline: Mutex::new(None),
            cancel,
        }
    }

    /// Sets the deadline of the call that is about to make a WASI call.
    pub(super) fn arm(&self, deadline: Option<Instant>) {
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner) = deadline;
    }

    fn deadline(&self) -> Option<Instant> {
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps until `until`, or traps as soon as the call must stop.
    fn wait_until(&self, until: Instant) -> Result<(), Error> {
        let deadline = self.deadline();
        loop {
            let now = Instant::now();
            if self.cancel.is_cancelled() || deadline.is_some_and(|d| now >= d) {
                return Err(Error::trap(wiggle::error::Error::msg(
                    "the call was interrupted while it waited",
                )));
            }
            if now >= until {
                return Ok(());
            }
            let mut nap = (until - now).min(SLICE);
            if let Some(d) = deadline {
                nap = nap.min(d - now);
            }
            std::thread::sleep(nap);
        }
    }
}

/// [`WasiSched`] over a [`Watch`].
pub(super) struct InterruptibleSched(pub(super) Arc<Watch>);

#[async_trait::async_trait]
impl WasiSched for InterruptibleSched {
    async fn poll_oneoff<'a>(&self, poll: &mut Poll<'a>) -> Result<(), Error> {
        if poll.rw_subscriptions().next().is_some() {
            // Files are always ready: the poll returns at once.
            return wasi_common::sync::sched::poll_oneoff(poll).await;
        }
        match poll.earliest_clock_deadline() {
            Some(clock) => {
                let wait = clock.duration_until().unwrap_or_default();
                let until = Instant::now()
                    .checked_add(wait)
                    .ok_or_else(|| Error::overflow().context("poll_oneoff deadline"))?;
                self.0.wait_until(until)
            }
            None => Ok(()),
        }
    }

    async fn sched_yield(&self) -> Result<(), Error> {
        std::thread::yield_now();
        Ok(())
    }

    async fn sleep(&self, duration: Duration) -> Result<(), Error> {
        let until = Instant::now()
            .checked_add(duration)
            .ok_or_else(|| Error::overflow().context("sleep duration"))?;
        self.0.wait_until(until)
    }
}
