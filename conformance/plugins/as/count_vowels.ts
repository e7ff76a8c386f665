// count_vowels: the classic Extism demo, extended to exercise config and vars.
//
// Input:  UTF-8 text.
// Config: "vowels" -- the set of characters to count (default "aeiouAEIOU").
// Var:    "total"  -- running total, stored as a decimal UTF-8 string
//                     (missing var = 0); updated on every call.
// Output: {"count":N,"total":T,"vowels":"V"}
//
// Built with the official Extism AssemblyScript PDK (@extism/as-pdk).
import { Config, Host, Var } from "@extism/as-pdk";
// myAbort: the abort handler; build.sh wires it in with
// `--use abort=common/myAbort`, which needs this import (see common.ts).
import { jsonEscape, myAbort, outputUtf8 } from "./common";

// Parse a non-negative decimal number; anything unparsable counts as 0.
function parseTotal(s: string): u64 {
  let n: u64 = 0;
  if (s.length == 0) return 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return 0;
    n = n * 10 + <u64>(c - 0x30);
  }
  return n;
}

// Number of UTF-16 code units used by code point `cp`.
function cpWidth(cp: i32): i32 {
  return cp >= 0x10000 ? 2 : 1;
}

export function count_vowels(): i32 {
  const input = Host.inputString();

  const configured = Config.get("vowels");
  const vowels: string = configured === null ? "aeiouAEIOU" : configured;

  // The vowel set, as Unicode code points.
  const set = new Set<i32>();
  for (let i = 0; i < vowels.length; ) {
    const cp = vowels.codePointAt(i);
    set.add(cp);
    i += cpWidth(cp);
  }

  // Count the characters (code points) of the input that are in the set.
  let count: u64 = 0;
  for (let i = 0; i < input.length; ) {
    const cp = input.codePointAt(i);
    if (set.has(cp)) count++;
    i += cpWidth(cp);
  }

  const previous = Var.getString("total");
  const total: u64 = (previous === null ? 0 : parseTotal(previous)) + count;
  Var.set("total", Uint8Array.wrap(String.UTF8.encode(total.toString())));

  outputUtf8(
    '{"count":' +
      count.toString() +
      ',"total":' +
      total.toString() +
      ',"vowels":"' +
      jsonEscape(vowels) +
      '"}'
  );
  return 0;
}
