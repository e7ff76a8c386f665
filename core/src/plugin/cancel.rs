//! Cancellation: a [`CancelHandle`] stops a plug-in's running call from another thread.
//!
//! As in the official runtime, every plug-in gives out a handle; whether the engine can
//! interrupt a call is only asked when the handle is used, so code written for one engine
//! keeps compiling and running on another.

use std::sync::Arc;

use crate::engine::CancelState;
use crate::error::{Error, XtismError};

/// Stops a plug-in's running call from another thread: cheap to clone, `Send + Sync`, and
/// valid as long as anyone holds it (after its plug-in is dropped, a cancel does nothing).
#[derive(Debug, Clone)]
pub struct CancelHandle {
    pub(super) state: Arc<CancelState>,
    /// The id of the plug-in it cancels (its [`Plugin::id`](crate::Plugin::id) when the
    /// handle was made), as the official `CancelHandle::id`.
    pub id: uuid::Uuid,
    /// The plug-in's engine, named in the error of an engine that cannot cancel.
    pub(super) engine: &'static str,
    /// Whether that engine can stop a running call (its `cancel` capability).
    pub(super) supported: bool,
}

impl CancelHandle {
    /// Stops the call running now, if one is: it fails with [`XtismError::Cancelled`] (the
    /// C API's return code 134). A cancel while no call runs does nothing: the next call
    /// runs normally. Returns at once; the call stops at the engine's next interruption
    /// point, and a host function running at that moment finishes first.
    ///
    /// # Errors
    ///
    /// [`XtismError::Unsupported`] on an engine without the `cancel` capability; nothing is
    /// cancelled then. (The official runtime's only error is a stopped timer thread.)
    pub fn cancel(&self) -> Result<(), Error> {
        if !self.supported {
            return Err(XtismError::Unsupported {
                engine: self.engine,
                feature: "cancelling a call".into(),
            }
            .into());
        }
        self.state.cancel();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_cross_threads() {
        fn send_sync_clone<T: Send + Sync + Clone>() {}
        send_sync_clone::<CancelHandle>();
    }

    #[test]
    fn an_engine_that_cannot_cancel_says_so() {
        let handle = CancelHandle {
            state: Arc::default(),
            id: uuid::Uuid::nil(),
            engine: "test",
            supported: false,
        };
        let err = handle.cancel().unwrap_err();
        let typed = err.downcast_ref::<XtismError>();
        assert!(
            matches!(typed, Some(XtismError::Unsupported { engine: "test", .. })),
            "{err}"
        );
        let handle = CancelHandle {
            supported: true,
            ..handle
        };
        handle.cancel().unwrap();
    }
}
