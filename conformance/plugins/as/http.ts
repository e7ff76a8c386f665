// http: HTTP requests through the official Extism AssemblyScript PDK
// (@extism/as-pdk), the way a plug-in author writes them: build the request
// JSON, hand it to http_request with a body block, read the response.
//
//   http_get   input: a URL. GET with the header "accept: text/plain".
//   http_post  input: a URL, a newline, then the body. POST of the body with
//              "content-type: text/plain" and "x-plugin: as/http".
//
// Both output {"status":S,"headers":H,"body":"B"}: the status code, the
// response headers as the host reports them (a JSON object, or null when the
// host does not enable them), and the body as a JSON string.
//
// @extism/as-pdk 1.0.0 declares http_request in lib/env but neither
// http_status_code nor http_headers, so they are declared here the same way.
import { Host, Memory } from "@extism/as-pdk";
import { http_request, length } from "@extism/as-pdk/lib/env";
// myAbort: the abort handler; build.sh wires it in with
// `--use abort=common/myAbort`, which needs this import (see common.ts).
import { jsonEscape, myAbort, outputUtf8 } from "./common";

@external("extism:host/env", "http_status_code")
declare function http_status_code(): i32;
@external("extism:host/env", "http_headers")
declare function http_headers(): u64;

// The UTF-8 text of the block at `offset` (empty for 0), freed afterwards.
function takeString(offset: u64): string {
  if (offset == 0) return "";
  const block = new Memory(offset, length(offset));
  const text = block.toString();
  block.free();
  return text;
}

// Sends the request and outputs what came back.
function send(method: string, url: string, headers: string, body: string): i32 {
  const request =
    '{"url":"' +
    jsonEscape(url) +
    '","method":"' +
    method +
    '","headers":' +
    headers +
    "}";
  const req = Memory.allocateString(request);
  const bodyOffset: u64 =
    body.length == 0 ? 0 : Memory.allocateString(body).offset;
  const response = takeString(http_request(req.offset, bodyOffset));
  const status = http_status_code();
  const headersOffset = http_headers();
  const responseHeaders =
    headersOffset == 0 ? "null" : takeString(headersOffset);
  outputUtf8(
    '{"status":' +
      status.toString() +
      ',"headers":' +
      responseHeaders +
      ',"body":"' +
      jsonEscape(response) +
      '"}'
  );
  return 0;
}

export function http_get(): i32 {
  return send("GET", Host.inputString(), '{"accept":"text/plain"}', "");
}

export function http_post(): i32 {
  const input = Host.inputString();
  const newline = input.indexOf("\n");
  const url = newline < 0 ? input : input.substring(0, newline);
  const body = newline < 0 ? "" : input.substring(newline + 1);
  return send(
    "POST",
    url,
    '{"content-type":"text/plain","x-plugin":"as/http"}',
    body
  );
}
