#!/usr/bin/env bash
# Rebuild every non-Rust conformance plug-in (.wasm) from source.
#
#   as/*.ts -> as/*.wasm   AssemblyScript + the official Extism AS PDK (npm)
#   c/*.c   -> c/*.wasm    C via `zig cc` from the ziglang PyPI package
#
# Idempotent and runnable from any directory. Needs node/npm and python3/pip
# (the npm registry and PyPI). Tool versions are pinned: as/package-lock.json
# for npm, ZIGLANG_VERSION below for zig. The outputs are deterministic, so a
# rebuild with the same versions reproduces the committed .wasm files
# byte for byte.
set -euo pipefail

ZIGLANG_VERSION=0.17.1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '==> %s\n' "$*" >&2; }

# --- AssemblyScript -----------------------------------------------------------
build_as() {
  cd "$here/as"
  log "npm ci (as/)"
  npm ci --no-audit --no-fund --loglevel=error
  # Flags as recommended by the @extism/as-pdk README
  # (`--use abort=<file>/myAbort`), plus -O. The handler lives in the shared
  # common.ts, which each plug-in imports (asc only finds common/myAbort when
  # common.ts is part of the program); common.ts is not built on its own.
  local p
  for p in count_vowels host_fn errors http; do
    log "asc as/$p.ts -> as/$p.wasm"
    npx --no-install asc "$p.ts" --outFile "$p.wasm" --use abort=common/myAbort -O
  done
}

# --- C (zig cc) -----------------------------------------------------------------
zig_cc() { python3 -m ziglang cc "$@"; }

ensure_zig() {
  local have
  have="$(python3 -m ziglang version 2>/dev/null || true)"
  if [[ "$have" != "$ZIGLANG_VERSION" ]]; then
    log "pip install ziglang==$ZIGLANG_VERSION"
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet \
      --disable-pip-version-check "ziglang==$ZIGLANG_VERSION"
  fi
  have="$(python3 -m ziglang version)"
  if [[ "$have" != "$ZIGLANG_VERSION" ]]; then
    echo "expected zig $ZIGLANG_VERSION, got $have" >&2
    exit 1
  fi
}

build_c() {
  ensure_zig
  cd "$here/c"
  # No libc, no WASI, no entry point; -g0 because zig cc emits DWARF by default.
  local cflags=(--target=wasm32-freestanding -nostdlib -O2 -g0 -Wl,--no-entry)

  # Exporting __wasm_call_ctors explicitly also stops wasm-ld from wrapping
  # every export in a "command export" that re-runs the constructors on
  # each call.
  log "zig cc c/ctors.c -> c/ctors.wasm"
  zig_cc "${cflags[@]}" -Wl,--export=__wasm_call_ctors -Wl,--export=greet \
    ctors.c -o ctors.wasm

  log "zig cc c/echo.c -> c/echo.wasm"
  zig_cc "${cflags[@]}" -Wl,--export=echo -Wl,--export=sum_bytes \
    echo.c -o echo.wasm

  # Benchmark plug-ins (bench/): reading the input, a host function's data
  # path, and a ~2 MB module to compile.
  log "zig cc c/consume.c -> c/consume.wasm"
  zig_cc "${cflags[@]}" -Wl,--export=consume consume.c -o consume.wasm
  log "zig cc c/reflect.c -> c/reflect.wasm"
  zig_cc "${cflags[@]}" -Wl,--export=reflect reflect.c -o reflect.wasm
  # large.c is generated (2.5 MB of C) into a temporary directory, and the
  # module goes to bench/plugins/: at 2 MB it stays out of this corpus, which
  # the conformance crate and the xtism command embed whole.
  local gen
  gen="$(mktemp -d)"
  log "large_gen.py -> zig cc large.c -> bench/plugins/large.wasm (about a minute)"
  python3 large_gen.py "$gen/large.c" 5600
  zig_cc "${cflags[@]}" -I. -Wl,--export=run "$gen/large.c" \
    -o "$here/../../bench/plugins/large.wasm"
  rm -rf "$gen"
  chmod 0644 "$here/../../bench/plugins/large.wasm"

  # WASI preview 1 plug-ins: wasi-libc, imports from wasi_snapshot_preview1.
  # Exports are named in the sources with __attribute__((export_name)).
  # --strip-debug: -g0 only covers our code; the wasi-libc objects zig links
  # in carry about 1 MiB of DWARF (with zig cache paths in it).
  # stack-size: zig gives wasm32-wasi a 16 MiB stack (257 initial pages);
  # 1 MiB keeps these at 17 pages like the freestanding plug-ins, so they
  # fit under a manifest's small memory.max_pages.
  local wasi_cflags=(--target=wasm32-wasi -O2 -g0 -Wl,--strip-debug -Wl,-z,stack-size=1048576)
  local p
  # Reactors (-mexec-model=reactor): wasi-libc's crt1-reactor.o exports
  # _initialize, which runs the constructors once; no main.
  for p in wasi wasi_both wasi_lib; do
    log "zig cc c/$p.c -> c/$p.wasm (WASI reactor)"
    zig_cc "${wasi_cflags[@]}" -mexec-model=reactor "$p.c" -o "$p.wasm"
  done
  # Command (the default exec model): crt1-command.o exports _start, which
  # runs the constructors, main and the destructors, then proc_exit(main's
  # result) when that is not 0.
  log "zig cc c/wasi_command.c -> c/wasi_command.wasm (WASI command)"
  zig_cc "${wasi_cflags[@]}" wasi_command.c -o wasi_command.wasm
  # zig cc marks its outputs executable; keep them plain data files.
  chmod 0644 ./*.wasm
}

# --- sanity check: imports ------------------------------------------------------
# AS plug-ins may import from extism:host/env and extism:host/user only;
# C plug-ins from extism:host/env only (no env.*, no wasi_snapshot_preview1),
# except the plug-ins named in `exceptions`: the WASI ones may also import
# wasi_snapshot_preview1, wasi_lib (a library module for manifests) may
# import only wasi_snapshot_preview1, and reflect also imports its host
# function from extism:host/user.
check_imports() {
  log "checking imports"
  node - "$here" <<'JS'
const fs = require("fs"), path = require("path");
const root = process.argv[2];
const allowed = {
  as: ["extism:host/env", "extism:host/user"],
  c: ["extism:host/env"],
};
// Exceptions to `allowed`: modules that import more (or less).
const exceptions = {
  "c/reflect.wasm": ["extism:host/env", "extism:host/user"],
  "c/wasi.wasm": ["extism:host/env", "wasi_snapshot_preview1"],
  "c/wasi_command.wasm": ["extism:host/env", "wasi_snapshot_preview1"],
  "c/wasi_both.wasm": ["extism:host/env", "wasi_snapshot_preview1"],
  "c/wasi_lib.wasm": ["wasi_snapshot_preview1"],
};
let bad = 0;
for (const f of Object.keys(exceptions)) {
  if (!fs.existsSync(path.join(root, f))) {
    console.error(`${f}: missing`);
    bad++;
  }
}
for (const dir of Object.keys(allowed)) {
  for (const f of fs.readdirSync(path.join(root, dir)).filter((f) => f.endsWith(".wasm")).sort()) {
    const mod = new WebAssembly.Module(fs.readFileSync(path.join(root, dir, f)));
    const ok = exceptions[`${dir}/${f}`] || allowed[dir];
    for (const imp of WebAssembly.Module.imports(mod)) {
      if (!ok.includes(imp.module)) {
        console.error(`${dir}/${f}: unexpected import ${imp.module}.${imp.name}`);
        bad++;
      }
    }
    const exps = WebAssembly.Module.exports(mod).map((e) => e.name).join(", ");
    console.error(`    ${dir}/${f}: exports ${exps}`);
  }
}
process.exit(bad ? 1 : 0);
JS
}

build_as
build_c
check_imports
log "done"
