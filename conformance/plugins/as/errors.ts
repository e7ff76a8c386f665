// errors: a grab bag of small exports exercising errors, logging, config and
// vars through the official Extism AssemblyScript PDK (@extism/as-pdk).
//
//   fail              sets the Extism error to "failed on purpose: " + input
//                     and returns 1
//   log_all           logs the input at every level the PDK offers
//                     (debug, info, warn, error; the PDK has no trace) and
//                     outputs "logged"
//   config_or_missing outputs the config value whose key is the input, or
//                     "<missing>"
//   var_roundtrip     var "k" := input, reads "k" back, outputs it
import { Config, Host, LogLevel, Memory, Var } from "@extism/as-pdk";
import { error_set } from "@extism/as-pdk/lib/env";
// myAbort: the abort handler; build.sh wires it in with
// `--use abort=common/myAbort`, which needs this import (see common.ts).
import { myAbort, outputUtf8 } from "./common";

export function fail(): i32 {
  // @extism/as-pdk 1.0.0 has no error helper in its public API; it declares
  // the error_set kernel import in lib/env, which is what we use.
  const msg = Memory.allocateString("failed on purpose: " + Host.inputString());
  error_set(msg.offset);
  return 1;
}

export function log_all(): i32 {
  const text = Host.inputString();
  Host.log(LogLevel.Debug, text);
  Host.log(LogLevel.Info, text);
  Host.log(LogLevel.Warn, text);
  Host.log(LogLevel.Error, text);
  outputUtf8("logged");
  return 0;
}

export function config_or_missing(): i32 {
  // Note: the PDK's Config.get returns null for a key whose value is empty,
  // so an empty config value also yields "<missing>".
  const value = Config.get(Host.inputString());
  outputUtf8(value === null ? "<missing>" : value);
  return 0;
}

export function var_roundtrip(): i32 {
  // Byte-exact: the raw input bytes go into the var and come back out.
  Var.set("k", Host.input());
  const back = Var.get("k");
  // The PDK's Var.get returns null for a missing or empty var.
  Host.output(back === null ? new Uint8Array(0) : back);
  return 0;
}
