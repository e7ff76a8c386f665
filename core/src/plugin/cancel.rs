//! Cancellation: a [`CancelHandle`] stops a plug-in's running call from another thread.

use std::sync::Arc;

use crate::engine::CancelState;

/// Stops a plug-in's running call from another thread.
#[derive(Debug, Clone)]
pub struct CancelHandle {
    pub(super) state: Arc<CancelState>,
}

impl CancelHandle {
    /// Stops the call running now, if one is, with [`XtismError::Cancelled`]. A cancel while no
    /// call runs does nothing: the next call runs normally.
    ///
    /// [`XtismError::Cancelled`]: crate::XtismError::Cancelled
    pub fn cancel(&self) {
        self.state.cancel();
    }
}
