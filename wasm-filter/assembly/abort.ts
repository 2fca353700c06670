// The AssemblyScript runtime's abort (e.g. out of memory) wired to proxy_log instead of the default
// env.abort import, which Envoy does not provide. Envoy then fails the stream (503 wasm_fail_stream).
import { LogLevel } from "./abi";
import { log } from "./hostcalls";

export function onAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  log(
    LogLevel.Critical,
    "trustgate: abort: " +
      (message !== null ? message : "") +
      (fileName !== null ? " at " + fileName + ":" + line.toString() + ":" + column.toString() : ""),
  );
  unreachable();
}
