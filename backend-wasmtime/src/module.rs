//! A module compiled by wasmtime, and what core sees of it: its imports and exports in
//! core's terms ([`wrap`]), and the bytes that identify its compiled code for the compile
//! cache ([`IdentityHasher`]).

use std::sync::Arc;

use xtism_core::engine::{CompiledModule, Export, Import, Module};

use crate::convert::extern_kind;

/// A module compiled by wasmtime.
pub(crate) struct WasmtimeModule {
    pub(crate) module: wasmtime::Module,
}

/// `module` with its imports and exports in core's terms.
pub(crate) fn wrap(module: wasmtime::Module) -> Arc<dyn Module> {
    let imports = module
        .imports()
        .map(|i| Import::new(i.module(), i.name(), extern_kind(&i.ty())))
        .collect();
    let exports = module
        .exports()
        .map(|e| Export::new(e.name(), extern_kind(&e.ty())))
        .collect();
    Arc::new(CompiledModule::new(
        WasmtimeModule { module },
        imports,
        exports,
    ))
}

/// Collects what a `Hash` implementation feeds a hasher, so that wasmtime's compatibility
/// hash becomes stable bytes for core's cache key (a `Hasher`'s own 64-bit output would be
/// too weak a key).
pub(crate) struct IdentityHasher(pub(crate) Vec<u8>);

impl std::hash::Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        // Not used: the bytes are read from the inner vector.
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}
