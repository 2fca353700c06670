// The AssemblyScript runtime's abort (e.g. out of memory) wired to proxy_log instead of the default
// env.abort import, which Envoy does not provide. Envoy then fails the stream (503 wasm_fail_stream).
import { proxy_log } from "./abi";

export function onAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  const text =
    "trustgate: abort: " +
    (message !== null ? message : "") +
    (fileName !== null ? " at " + fileName + ":" + line.toString() + ":" + column.toString() : "");
  const bytes = String.UTF8.encode(text);
  proxy_log(5, changetype<usize>(bytes), bytes.byteLength);
  unreachable();
}
