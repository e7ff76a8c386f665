#!/usr/bin/env bash
# Seeds the fuzzers' corpora from the conformance plug-ins: each module, prefixed with the
# byte that picks the engine (module_bytes), and the manifests the tests use (manifest).
set -euo pipefail
cd "$(dirname "$0")"
plugins=../conformance/plugins
mkdir -p corpus/module_bytes corpus/manifest
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
