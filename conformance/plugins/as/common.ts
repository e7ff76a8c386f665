// Helpers shared by the AssemblyScript conformance plug-ins (count_vowels.ts,
// host_fn.ts, errors.ts, http.ts). Not a plug-in itself: build.sh does not compile it
// on its own, and exports of an imported file do not become wasm exports.
import { Host, Memory } from "@extism/as-pdk";
import { error_set } from "@extism/as-pdk/lib/env";

// Abort handler, wired in with `--use abort=common/myAbort` (see build.sh),
// the form the PDK README recommends (`--use abort=<file>/myAbort`) pointed
// at this shared file. The alias resolves only if common.ts is part of the
// program, so every plug-in must import from "./common", even one that uses
// nothing else from it; otherwise asc fails with
// "AS111: Element 'common/myAbort' not found".
// The README's example handler is empty (execution would silently continue
// after a failed assertion); this one reports the abort as the Extism error
// (error_set) and traps.
export function myAbort(
  message: string | null,
  fileName: string | null,
  lineNumber: u32,
  columnNumber: u32
): void {
  const msg =
    "abort: " +
    (message === null ? "" : message) +
    " at " +
    (fileName === null ? "?" : fileName) +
    ":" +
    lineNumber.toString() +
    ":" +
    columnNumber.toString();
  error_set(Memory.allocateString(msg).offset);
  unreachable();
}

// Write `s` as UTF-8 to the plug-in output.
// (Host.outputString in @extism/as-pdk 1.0.0 allocates s.length UTF-16 code
// units rather than the UTF-8 byte length, which is wrong for non-ASCII text,
// so encode explicitly and use Host.output.)
export function outputUtf8(s: string): void {
  Host.output(Uint8Array.wrap(String.UTF8.encode(s)));
}

// `s` escaped as a JSON string body (without the surrounding quotes).
export function jsonEscape(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) {
      out += '\\"';
    } else if (c == 0x5c) {
      out += "\\\\";
    } else if (c < 0x20) {
      const hex = "0123456789abcdef";
      out += "\\u00" + hex.charAt(c >> 4) + hex.charAt(c & 15);
    } else {
      out += String.fromCharCode(c);
    }
  }
  return out;
}
