//! The `wasi_snapshot_preview1` functions: each one's signature and a call into
//! wasi-common's generated preview-1 function, driven on the calling module's memory.

use wasi_common::WasiCtx;
use wasi_common::snapshots::preview_1::wasi_snapshot_preview1 as p1;
use wiggle::GuestMemory;

use crate::engine::ValType::{I32, I64};
use crate::engine::{HostAccess, HostTrap, Val, WasiImport};
use crate::error::XtismError;

/// The function of this name, if WASI preview 1 has it.
pub(crate) fn find(name: &str) -> Option<WasiImport> {
    FUNCTIONS
        .iter()
        .chain([&PROC_EXIT])
        .find(|f| f.name == name)
        .copied()
}

/// `proc_exit(code)`: ends the call with `code`, whatever its value. WASI allows any `u32`;
/// wasi-common's own `proc_exit`, and so the official runtime, traps on 126 and above.
const PROC_EXIT: WasiImport = WasiImport {
    name: "proc_exit",
    params: &[I32],
    results: &[],
    call: |host, _module, params, _results| {
        let state = host.state();
        state.extism.exit_code = Some(params.first().copied().map_or(0, int32));
        Err(HostTrap)
    },
};

type Outcome = Result<Result<i32, wiggle::error::Error>, wiggle::error::Error>;

/// Runs one preview-1 function for module `module` of the plug-in: on that module's memory
/// (an empty one when it exports none, so every pointer is out of bounds), under the running
/// call's deadline, and stores its errno in `results`. A trap becomes the call's error: the
/// interruption of a wait, or a [`XtismError::Guest`] naming the function (wasi-common traps on
/// pointers outside the memory).
fn run(
    host: &mut dyn HostAccess,
    module: usize,
    name: &str,
    results: &mut [Val],
    f: impl FnOnce(&mut WasiCtx, &mut GuestMemory<'_>) -> Outcome,
) -> Result<(), HostTrap> {
    let (memory, state) = host.module_memory(module);
    let Some(wasi) = state.extism.wasi.as_mut() else {
        return Err(state.fail(XtismError::Invalid(format!(
            "{name}: the plug-in was linked to WASI but has no WASI context"
        ))));
    };
    wasi.watch.arm(state.deadline);
    let mut guest = GuestMemory::Unshared(memory.unwrap_or_default());
    match f(&mut wasi.ctx, &mut guest).and_then(|r| r) {
        Ok(errno) => {
            if let Some(slot) = results.first_mut() {
                *slot = Val::I32(errno);
            }
            Ok(())
        }
        Err(e) => {
            let error = state
                .interruption()
                .unwrap_or_else(|| XtismError::Guest(format!("{name}: {e}")));
            Err(state.fail(error))
        }
    }
}

/// The value of an `i32` parameter (backends check types against the signature).
fn int32(v: Val) -> i32 {
    v.i32().unwrap_or_default()
}

/// The value of an `i64` parameter.
fn int64(v: Val) -> i64 {
    v.i64().unwrap_or_default()
}

macro_rules! conv {
    (I32, $v:expr) => {
        int32($v)
    };
    (I64, $v:expr) => {
        int64($v)
    };
}

macro_rules! preview1 {
    ($($name:ident($($arg:ident: $ty:ident),*) -> $ret:ident;)*) => {
        /// Every preview-1 function but `proc_exit`, with its Wasm signature.
        const FUNCTIONS: &[WasiImport] = &[$(
            WasiImport {
                name: stringify!($name),
                params: &[$($ty),*],
                results: &[$ret],
                call: |host, module, params, results| {
                    let &[$($arg),*] = params else {
                        return Err(host.state().fail(XtismError::Invalid(format!(
                            "{}: called with {} arguments", stringify!($name), params.len()
                        ))));
                    };
                    run(host, module, stringify!($name), results, |ctx, memory| {
                        wiggle::run_in_dummy_executor(p1::$name(ctx, memory $(, conv!($ty, $arg))*))
                    })
                },
            },
        )*];
    };
}

preview1! {
    args_get(argv: I32, buf: I32) -> I32;
    args_sizes_get(count: I32, size: I32) -> I32;
    environ_get(environ: I32, buf: I32) -> I32;
    environ_sizes_get(count: I32, size: I32) -> I32;
    clock_res_get(id: I32, resolution: I32) -> I32;
    clock_time_get(id: I32, precision: I64, time: I32) -> I32;
    fd_advise(fd: I32, offset: I64, len: I64, advice: I32) -> I32;
    fd_allocate(fd: I32, offset: I64, len: I64) -> I32;
    fd_close(fd: I32) -> I32;
    fd_datasync(fd: I32) -> I32;
    fd_fdstat_get(fd: I32, stat: I32) -> I32;
    fd_fdstat_set_flags(fd: I32, flags: I32) -> I32;
    fd_fdstat_set_rights(fd: I32, base: I64, inheriting: I64) -> I32;
    fd_filestat_get(fd: I32, stat: I32) -> I32;
    fd_filestat_set_size(fd: I32, size: I64) -> I32;
    fd_filestat_set_times(fd: I32, atim: I64, mtim: I64, flags: I32) -> I32;
    fd_pread(fd: I32, iovs: I32, iovs_len: I32, offset: I64, nread: I32) -> I32;
    fd_prestat_get(fd: I32, prestat: I32) -> I32;
    fd_prestat_dir_name(fd: I32, path: I32, path_len: I32) -> I32;
    fd_pwrite(fd: I32, iovs: I32, iovs_len: I32, offset: I64, nwritten: I32) -> I32;
    fd_read(fd: I32, iovs: I32, iovs_len: I32, nread: I32) -> I32;
    fd_readdir(fd: I32, buf: I32, buf_len: I32, cookie: I64, used: I32) -> I32;
    fd_renumber(fd: I32, to: I32) -> I32;
    fd_seek(fd: I32, offset: I64, whence: I32, new_offset: I32) -> I32;
    fd_sync(fd: I32) -> I32;
    fd_tell(fd: I32, offset: I32) -> I32;
    fd_write(fd: I32, iovs: I32, iovs_len: I32, nwritten: I32) -> I32;
    path_create_directory(fd: I32, path: I32, path_len: I32) -> I32;
    path_filestat_get(fd: I32, flags: I32, path: I32, path_len: I32, stat: I32) -> I32;
    path_filestat_set_times(
        fd: I32, flags: I32, path: I32, path_len: I32, atim: I64, mtim: I64, fst_flags: I32
    ) -> I32;
    path_link(
        old_fd: I32, old_flags: I32, old_path: I32, old_len: I32, new_fd: I32, new_path: I32,
        new_len: I32
    ) -> I32;
    path_open(
        fd: I32, dirflags: I32, path: I32, path_len: I32, oflags: I32, base: I64,
        inheriting: I64, fdflags: I32, opened: I32
    ) -> I32;
    path_readlink(fd: I32, path: I32, path_len: I32, buf: I32, buf_len: I32, used: I32) -> I32;
    path_remove_directory(fd: I32, path: I32, path_len: I32) -> I32;
    path_rename(
        fd: I32, old_path: I32, old_len: I32, new_fd: I32, new_path: I32, new_len: I32
    ) -> I32;
    path_symlink(old_path: I32, old_len: I32, fd: I32, new_path: I32, new_len: I32) -> I32;
    path_unlink_file(fd: I32, path: I32, path_len: I32) -> I32;
    poll_oneoff(subscriptions: I32, events: I32, count: I32, stored: I32) -> I32;
    proc_raise(signal: I32) -> I32;
    sched_yield() -> I32;
    random_get(buf: I32, buf_len: I32) -> I32;
    sock_accept(fd: I32, flags: I32, accepted: I32) -> I32;
    sock_recv(
        fd: I32, iovs: I32, iovs_len: I32, flags: I32, received: I32, out_flags: I32
    ) -> I32;
    sock_send(fd: I32, iovs: I32, iovs_len: I32, flags: I32, sent: I32) -> I32;
    sock_shutdown(fd: I32, how: I32) -> I32;
}
