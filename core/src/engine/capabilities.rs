//! What an engine can do ([`Capabilities`]), and the choices it is asked to make before
//! compiling ([`CompileOptions`], [`Profiling`]). Core turns a capability a plug-in needs and
//! its engine lacks into a clear error, before anything is compiled.

/// What a backend can do. Core turns a missing capability into a clear error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Compiles to machine code.
    pub jit: bool,
    /// Can meter execution with a fuel budget.
    pub fuel: bool,
    /// Can stop a running call at a deadline.
    pub timeout: bool,
    /// Can stop a running call from another thread.
    pub cancel: bool,
    /// Supports the SIMD proposal (and `v128` host function values).
    pub simd: bool,
    /// Reports Wasm backtraces on traps.
    pub backtraces: bool,
    /// Emits debug info for compiled code (for native debuggers).
    pub debug_info: bool,
    /// Supports a native profiler ([`Profiling`]).
    pub profiling: bool,
    /// Can serialize compiled code for the compile cache ([`Engine::code_identity`],
    /// [`Engine::serialize`], [`Engine::deserialize`]).
    ///
    /// [`Engine::code_identity`]: super::Engine::code_identity
    /// [`Engine::serialize`]: super::Engine::serialize
    /// [`Engine::deserialize`]: super::Engine::deserialize
    pub compile_cache: bool,
    /// Writes a Wasm core dump when a call traps ([`CompileOptions::coredump`],
    /// [`Instance::take_core_dump`]).
    ///
    /// [`Instance::take_core_dump`]: super::Instance::take_core_dump
    pub coredump: bool,
    /// Runs async calls ([`Instance::call_async`]): the guest's calls of async host
    /// functions wait without blocking the thread, and a guest that computes yields to the
    /// executor.
    ///
    /// [`Instance::call_async`]: super::Instance::call_async
    pub async_calls: bool,
}

impl Capabilities {
    /// All capabilities off; backends switch on what they have.
    pub const NONE: Capabilities = Capabilities {
        jit: false,
        fuel: false,
        timeout: false,
        cancel: false,
        simd: false,
        backtraces: false,
        debug_info: false,
        profiling: false,
        compile_cache: false,
        coredump: false,
        async_calls: false,
    };

    /// Each capability by name, with whether the engine has it.
    pub fn by_name(&self) -> [(&'static str, bool); 11] {
        [
            ("jit", self.jit),
            ("fuel", self.fuel),
            ("timeout", self.timeout),
            ("cancel", self.cancel),
            ("simd", self.simd),
            ("backtraces", self.backtraces),
            ("debug info", self.debug_info),
            ("profiling", self.profiling),
            ("compile cache", self.compile_cache),
            ("coredump", self.coredump),
            ("async calls", self.async_calls),
        ]
    }
}

/// How modules are compiled: choices an engine must make before compiling.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CompileOptions {
    /// Meter execution with fuel.
    pub fuel: bool,
    /// Calls must be stoppable at a deadline or from another thread.
    pub interruptible: bool,
    /// Emit debug info in compiled code.
    pub debug_info: bool,
    /// Which native profiler to support.
    pub profiling: Profiling,
    /// Make a core dump of the store when a call traps, for
    /// [`Instance::take_core_dump`](super::Instance::take_core_dump). It changes what a
    /// failed call costs, not the compiled code.
    pub coredump: bool,
}

/// A native profiler an engine can emit information for, as the official runtime's
/// `EXTISM_PROFILE` values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Profiling {
    /// No profiling.
    #[default]
    None,
    /// Linux `perf` map files.
    Perf,
    /// The jitdump format.
    JitDump,
    /// Intel VTune.
    VTune,
}
