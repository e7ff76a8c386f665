//! Where a plug-in's WASI stdout and stderr go: nowhere (the default, as in the official
//! runtime), the host's own stdout and stderr, or a buffer the host reads.

use std::sync::{Arc, PoisonError, RwLock};

use wasi_common::WasiFile;
use wasi_common::pipe::WritePipe;

/// The environment variable that shows a plug-in's WASI output on the host's stdout and
/// stderr, as in the official runtime (any value enables it).
pub const WASI_OUTPUT_ENV: &str = "EXTISM_ENABLE_WASI_OUTPUT";

/// Where one of a plug-in's WASI output streams (stdout or stderr) goes.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum WasiOutput {
    /// Discarded (the default, as in the official runtime).
    #[default]
    Discard,
    /// Written to the host process's own stream of the same name.
    Inherit,
    /// Appended to a buffer the host reads with [`OutputCapture::contents`].
    Capture(OutputCapture),
}

impl WasiOutput {
    /// [`Inherit`](WasiOutput::Inherit) when `EXTISM_ENABLE_WASI_OUTPUT` is set (to any
    /// value, as in the official runtime), else [`Discard`](WasiOutput::Discard).
    pub fn from_env() -> WasiOutput {
        if std::env::var_os(WASI_OUTPUT_ENV).is_some() {
            WasiOutput::Inherit
        } else {
            WasiOutput::Discard
        }
    }

    /// The WASI file for this choice; `stdout` picks the host stream to inherit.
    pub(super) fn file(&self, stdout: bool) -> Box<dyn WasiFile> {
        match self {
            WasiOutput::Discard => Box::new(WritePipe::new(std::io::sink())),
            WasiOutput::Inherit if stdout => Box::new(wasi_common::sync::stdio::stdout()),
            WasiOutput::Inherit => Box::new(wasi_common::sync::stdio::stderr()),
            WasiOutput::Capture(capture) => {
                Box::new(WritePipe::from_shared(Arc::clone(&capture.0)))
            }
        }
    }
}

/// A buffer collecting what a plug-in writes to a WASI output stream. Cheap to clone:
/// clones share the buffer, so the host keeps one and gives the other to the builder.
/// Every instance made from one builder writes to the same buffer. It grows without a cap
/// other than the call's timeout: capture only the output of plug-ins you bound.
#[derive(Debug, Clone, Default)]
pub struct OutputCapture(Arc<RwLock<Vec<u8>>>);

impl OutputCapture {
    /// An empty buffer.
    pub fn new() -> Self {
        OutputCapture::default()
    }

    /// A copy of the bytes written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The bytes written so far, leaving the buffer empty.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.write().unwrap_or_else(PoisonError::into_inner))
    }
}
