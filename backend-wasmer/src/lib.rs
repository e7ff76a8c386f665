//! xtism-wasmer: being written.
