//! xtism-wasmtime: being written.
