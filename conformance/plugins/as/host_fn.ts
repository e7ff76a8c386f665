// host_fn: calls a user-supplied host function.
//
// Import: "extism:host/user" "hello_world" : (i64) -> i64
//         takes the offset of a kernel memory block holding a UTF-8 string and
//         returns the offset of a kernel memory block holding a UTF-8 string.
// Export: call_host -- passes the input to hello_world and outputs the
//         returned string followed by "!" (host returns "Hi Bob" -> "Hi Bob!").
//
// Built with the official Extism AssemblyScript PDK (@extism/as-pdk).
import { Host, Memory } from "@extism/as-pdk";
import { length } from "@extism/as-pdk/lib/env";
// myAbort: the abort handler; build.sh wires it in with
// `--use abort=common/myAbort`, which needs this import (see common.ts).
import { myAbort } from "./common";

// The user host function, declared the way the PDK declares kernel imports.
@external("extism:host/user", "hello_world")
declare function hello_world(offs: u64): u64;

export function call_host(): i32 {
  // Copy the input string into a fresh kernel memory block for the host.
  const arg = Memory.allocateString(Host.inputString());

  const ret = hello_world(arg.offset);
  // @extism/as-pdk 1.0.0 has no Memory.find(); build the handle from the
  // kernel's length() of the returned block.
  const reply = new Memory(ret, ret == 0 ? 0 : length(ret));
  const text = reply.length == 0 ? "" : reply.toString();

  Host.output(Uint8Array.wrap(String.UTF8.encode(text + "!")));
  return 0;
}
