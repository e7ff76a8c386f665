//! Every `unsafe` of this backend, each with its SAFETY argument; the rest of the crate denies
//! unsafe code.

/// Loads an artifact of the compile cache into `engine`.
///
/// Only for what core's compile cache passes to `Engine::deserialize`: an artifact found
/// under a key that includes this engine's `code_identity`, with an intact checksum.
/// wasmtime runs the native code in it as it is, once its header matched.
pub(crate) fn deserialize(
    engine: &wasmtime::Engine,
    artifact: &[u8],
) -> wasmtime::Result<wasmtime::Module> {
    // SAFETY: `artifact` is the output of `Module::serialize` by an engine with the same
    // compatibility hash (core's cache names the file by a key that includes our
    // `code_identity`, which is that hash), written by core's cache and unchanged since (its
    // SHA-256 matches). wasmtime rejects it anyway if
    // its header names another version or configuration. The cache directory is trusted as
    // much as wasmtime's own cache trusts its directory: whoever can write there could run
    // code (the checksum guards against accidents, not against them).
    unsafe { wasmtime::Module::deserialize(engine, artifact) }
}
