"""Runs plug-ins from the conformance corpus through the official Extism Python SDK.

Usage: python sdk_test.py <conformance/plugins dir>

Only the SDK's public API (the `extism` package) is used, so this is the SDK's own code
calling whichever libextism it loads: capi/tests/python.rs puts libxtism there and picks
the engine with XTISM_ENGINE. Prints one line per check and exits non-zero if any fails.
"""

import faulthandler
import json
import os
import sys
import threading
import time
import uuid

import extism

# extism 1.1.1 defines CompiledPlugin (documented) but does not re-export it from the package.
from extism.extism import CompiledPlugin

# A hung call (a cancel that never lands, a deadlock) must not hang the test run: after
# this many seconds the tracebacks of every thread are printed and the process exits 1.
WATCHDOG_SECONDS = 600

SPIN_WAT = """
(module
  (func (export "spin") (result i32) (loop (br 0)) (i32.const 0))
  (func (export "ok") (result i32) (i32.const 0)))
"""

CORPUS = sys.argv[1]
ENGINE = os.environ.get("XTISM_ENGINE", "<default>")


def path(name):
    return os.path.join(CORPUS, name)


def text(plugin, func, data=b"", **kwargs):
    return plugin.call(func, data, parse=lambda buf: bytes(buf).decode(), **kwargs)


def expect(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def expect_error(call, what):
    """Runs `call`, which must raise extism.Error; returns the error's message."""
    try:
        result = call()
    except extism.Error as err:
        return str(err)
    raise AssertionError(f"{what}: expected extism.Error, got {result!r}")


# The host function of as/host_fn.wasm (`extism:host/user` `hello_world`). It answers
# "<greeting> <name>"; the greeting comes from the host context of the call, if any.
HOST_CONTEXTS = []


@extism.host_fn()
def hello_world(plugin: extism.CurrentPlugin, name: str) -> str:
    context = plugin.host_context()
    HOST_CONTEXTS.append(context)
    greeting = "Hi" if context is None else context["greeting"]
    return f"{greeting} {name}"


def check_count_vowels():
    plugin = extism.Plugin(path("as/count_vowels.wasm"))
    expect(
        text(plugin, "count_vowels", "Hello, World!"),
        '{"count":3,"total":3,"vowels":"aeiouAEIOU"}',
        "first call",
    )
    # The running total is kept in a var, so it persists between calls.
    expect(
        text(plugin, "count_vowels", "Hello, World!"),
        '{"count":3,"total":6,"vowels":"aeiouAEIOU"}',
        "second call",
    )


def check_config():
    # The SDK sends the config as JSON with \\u escapes (surrogate pairs for the emoji).
    plugin = extism.Plugin(path("as/count_vowels.wasm"), config={"vowels": "é🎉"})
    out = json.loads(text(plugin, "count_vowels", "héllo 🎉"))
    expect((out["count"], out["vowels"]), (2, "é🎉"), "count_vowels with config vowels")

    plugin = extism.Plugin(path("as/errors.wasm"), config={"greeting": "hello", "empty": ""})
    expect(text(plugin, "config_or_missing", "greeting"), "hello", "set key")
    expect(text(plugin, "config_or_missing", "absent"), "<missing>", "missing key")
    expect(text(plugin, "config_or_missing", "empty"), "<missing>", "empty value")


def check_manifest():
    with open(path("as/count_vowels.wasm"), "rb") as f:
        wasm = f.read()
    # The SDK encodes a dict as a JSON manifest, and bytes in it as base64.
    plugin = extism.Plugin({"wasm": [{"data": wasm}], "config": {"vowels": "o"}})
    expect(
        text(plugin, "count_vowels", "Hello, World!"),
        '{"count":2,"total":2,"vowels":"o"}',
        "count_vowels from a manifest",
    )


def check_vars():
    plugin = extism.Plugin(path("as/errors.wasm"))
    first = b"\x00\xffnot utf-8\n"
    expect(plugin.call("var_roundtrip", first), first, "first round trip")
    expect(plugin.call("var_roundtrip", b"second"), b"second", "second round trip")


def check_host_function():
    plugin = extism.Plugin(path("as/host_fn.wasm"), functions=[hello_world])
    HOST_CONTEXTS.clear()
    expect(text(plugin, "call_host", "Bob"), "Hi Bob!", "without host context")
    expect(HOST_CONTEXTS, [None], "host context seen without one")

    context = {"greeting": "Hello"}
    expect(
        text(plugin, "call_host", "Bob", host_context=context),
        "Hello Bob!",
        "with host context",
    )
    if len(HOST_CONTEXTS) != 2 or HOST_CONTEXTS[1] is not context:
        raise AssertionError(f"the host function saw {HOST_CONTEXTS!r}, not the context")


def check_compiled_plugin():
    compiled = CompiledPlugin(path("as/count_vowels.wasm"), functions=[])
    first = extism.Plugin(compiled, config={"vowels": "o"})
    second = extism.Plugin(compiled)
    expect(
        text(first, "count_vowels", "Hello, World!"),
        '{"count":2,"total":2,"vowels":"o"}',
        "first plug-in, first call",
    )
    expect(
        text(first, "count_vowels", "Hello, World!"),
        '{"count":2,"total":4,"vowels":"o"}',
        "first plug-in, second call",
    )
    # Each plug-in has its own config and vars.
    expect(
        text(second, "count_vowels", "Hello, World!"),
        '{"count":3,"total":3,"vowels":"aeiouAEIOU"}',
        "second plug-in",
    )
    if first.id == second.id:
        raise AssertionError(f"both plug-ins have the id {first.id}")


def check_guest_error():
    plugin = extism.Plugin(path("as/errors.wasm"))
    message = expect_error(lambda: plugin.call("fail", "boom"), "fail")
    expect(message, "failed on purpose: boom", "error message")
    # The failed call leaves the plug-in usable.
    expect(text(plugin, "config_or_missing", "x"), "<missing>", "call after the error")


def check_wasi():
    plugin = extism.Plugin(path("c/wasi.wasm"), wasi=True)
    expect(text(plugin, "ctor_count"), "ctors=1", "ctor_count (_initialize ran once)")
    expect(text(plugin, "args_env"), "argc=0", "args_env")

    fields = dict(kv.split("=") for kv in text(plugin, "clocks").split(" "))
    realtime, resolution = int(fields["realtime"]), int(fields["resolution"])
    if abs(realtime - time.time_ns()) > 60 * 10**9:
        raise AssertionError(f"realtime {realtime} is not within a minute of the host's")
    if not 0 < resolution <= 10**9:
        raise AssertionError(f"monotonic resolution {resolution} ns")

    a, b = plugin.call("random_bytes", "64"), plugin.call("random_bytes", "64")
    expect((len(a), len(b)), (64, 64), "random_bytes lengths")
    if a == b:
        raise AssertionError("two random_bytes calls gave the same 64 bytes")

    # Without WASI, the module's wasi_snapshot_preview1 imports cannot be satisfied.
    expect_error(lambda: extism.Plugin(path("c/wasi.wasm")), "c/wasi.wasm without WASI")


def check_cancel():
    # WebAssembly text, not a path or bytes: the SDK passes the string as it is.
    plugin = extism.Plugin(SPIN_WAT)
    started = threading.Event()
    outcome = []

    def spin():
        started.set()
        try:
            plugin.call("spin", b"")
            outcome.append("returned")
        except extism.Error as err:
            outcome.append(err)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    started.wait()
    time.sleep(0.2)
    handle = plugin.cancel_handle()
    expect(handle.cancel(), True, "cancel() while the call runs")
    thread.join(30)
    if thread.is_alive():
        raise AssertionError("the call still runs 30 s after cancel()")
    if len(outcome) != 1 or not isinstance(outcome[0], extism.Error):
        raise AssertionError(f"expected extism.Error from the cancelled call, got {outcome!r}")
    expect(plugin.call("ok", b""), b"", "the next call on the same plug-in")


def check_id():
    plugin = extism.Plugin(path("as/count_vowels.wasm"))
    plugin_id = plugin.id
    if not isinstance(plugin_id, uuid.UUID) or plugin_id.version != 4:
        raise AssertionError(f"plugin.id {plugin_id!r} is not a UUIDv4")
    expect(plugin.id, plugin_id, "plugin.id read twice")
    other = extism.Plugin(path("as/count_vowels.wasm")).id
    if other == plugin_id:
        raise AssertionError(f"two plug-ins share the id {plugin_id}")


def check_function_exists():
    plugin = extism.Plugin(path("as/errors.wasm"))
    expect(plugin.function_exists("var_roundtrip"), True, "var_roundtrip")
    expect(plugin.function_exists("no_such_export"), False, "no_such_export")


CHECKS = [
    check_count_vowels,
    check_config,
    check_manifest,
    check_vars,
    check_host_function,
    check_compiled_plugin,
    check_guest_error,
    check_wasi,
    check_cancel,
    check_id,
    check_function_exists,
]


def main():
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)
    failed = 0
    for check in CHECKS:
        name = check.__name__.removeprefix("check_")
        started = time.monotonic()
        try:
            check()
        except Exception as err:  # noqa: BLE001 -- every failure is reported, then counted
            failed += 1
            print(f"FAIL {ENGINE} {name}: {type(err).__name__}: {err}", flush=True)
        else:
            print(f"ok   {ENGINE} {name} ({time.monotonic() - started:.2f} s)", flush=True)
    print(f"{ENGINE}: {len(CHECKS) - failed} passed, {failed} failed", flush=True)
    # os._exit: a call that ignored cancel() may still spin in a daemon thread.
    os._exit(1 if failed else 0)


if __name__ == "__main__":
    main()
