#!/usr/bin/env bash
# Seeds the fuzzers' corpora from the conformance plug-ins: each module, prefixed with the
# byte that picks the engine (module_bytes), and the manifests the tests use (manifest);
# kernel-call programs for abi_calls (see abi_calls.wat for the encoding); and random bytes
# for differential, which wasm-smith turns into modules.
set -euo pipefail
cd "$(dirname "$0")"
plugins=../conformance/plugins
mkdir -p corpus/module_bytes corpus/manifest corpus/abi_calls corpus/differential
for wasm in "$plugins"/as/*.wasm "$plugins"/c/*.wasm; do
  for engine in 0 1 2; do
    { printf "\\x0$engine"; cat "$wasm"; } > "corpus/module_bytes/$(basename "$wasm" .wasm)-$engine"
  done
done
for wat in "$plugins"/wat/*.wat; do
  { printf '\x00'; cat "$wat"; } > "corpus/module_bytes/$(basename "$wat")"
done
printf '{"wasm":[{"path":"a.wasm","name":"main","hash":"00"}],"memory":{"max_pages":4,"max_var_bytes":10},"config":{"k":"v"},"allowed_hosts":["*.example.com"],"allowed_paths":{"ro:/tmp":"/data"},"timeout_ms":100}' > corpus/manifest/full.json
printf '{"wasm":[{"data":"AGFzbQEAAAA="},{"url":"https://example.com/a.wasm","method":"GET","headers":{"a":"b"}}]}' > corpus/manifest/data_url.json
printf '[[wasm]]\npath = "a.wasm"\nname = "main"\n\n[memory]\nmax_pages = 4\n\n[config]\nk = "v"\n' > corpus/manifest/basic.toml
# abi_calls: the first byte picks the engine (0 wasmi, 6 wasmtime, 7 wasmer; 0x18 wasmi
# with vars disabled), then op codes and arguments.
programs=(
  'config:\x1b\x01k\x13\x80\x02\x80\x0c\x81\x80'
  'vars:\x1b\x01a\x1b\x02hi\x15\x81\x80\x1b\x01a\x14\x80\x02\x80\x0c\x81\x80'
  'alloc:\x00\x40\x00\x00\x01\x00\x00\x00\x00\x00\x00\x20\x01\x81\x00\x08\x02\x80\x12\x11\x08\x00\x7f\xff\xff\xff\xff\xff\xff\xff\xff'
  'error:\x1b\x03bad\x0f\x80\x1a\x01'
  'input:\x09\x01\x80\x08\x0a\x00\x0b\x00'
  'stores:\x00\x10\x06\x80\x21\x07\x81\x3f\x04\x82\x05\x83\x0c\x84\x10'
  'logs:\x1b\x02hi\x16\x80\x1b\x02\xff\xfe\x17\x80\x18\x19'
)
for entry in "${programs[@]}"; do
  for engine in 00 06 07 18; do
    printf "\\x$engine${entry#*:}" > "corpus/abi_calls/${entry%%:*}-$engine"
  done
done
for size in 64 256 1024 4096; do
  for i in 1 2; do
    head -c "$size" /dev/urandom > "corpus/differential/random-$size-$i"
  done
done
