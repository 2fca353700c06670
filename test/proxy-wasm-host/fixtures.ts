// Test-only: small proxy-wasm modules written in WAT and assembled with binaryen, so each host
// behaviour can be pinned with a module whose every instruction is visible in the test.
import binaryen from "binaryen";
import { CALLBACKS, ENV_IMPORTS, ENV_IMPORTS_0_2, ENV_IMPORTS_0_2_1, WASI_IMPORTS } from "./signatures.js";
import type { FuncType } from "./wasm-binary.js";

export interface FixtureSpec {
  /** env imports to declare (with the host's signatures unless overridden in `rawImports`). */
  imports?: string[];
  /** Extra import lines, verbatim (e.g. a wrong signature or an unknown function). */
  rawImports?: string[];
  /** Strings/bytes placed in memory; use {{name}} for "(i32.const ptr) (i32.const len)", {{name.ptr}}, {{name.len}}. */
  data?: Record<string, string | Uint8Array>;
  /** Functions and exports, verbatim WAT. */
  body: string;
  abi?: "0_2_1" | "0_2_0" | "0_1_0" | null;
  allocator?: "malloc" | "proxy_on_memory_allocate" | "both" | "none";
}

const DATA_BASE = 256;
/** Scratch area the helpers format log lines into; fixtures may use 8192.. for their own slots. */
const LINE = 4096;

function funcType(t: FuncType): string {
  const params = t.params.length ? ` (param ${t.params.join(" ")})` : "";
  const results = t.results.length ? ` (result ${t.results.join(" ")})` : "";
  return `${params}${results}`;
}

function escapeBytes(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => `\\${b.toString(16).padStart(2, "0")}`).join("");
}

const PRELUDE = `
  (global $heap (mut i32) (i32.const 65536))
  (global $line (mut i32) (i32.const ${LINE}))
  ;; bump allocator; logs "malloc <n>" so tests can see every host-to-guest copy
  (func $alloc (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (global.get $heap) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (call $line_start) (call $put_str (i32.const 128) (i32.const 7)) (call $put_num (local.get $n)) (call $line_end)
    (local.get $p))
  (data (i32.const 128) "malloc ")
  (func $line_start (global.set $line (i32.const ${LINE})))
  (func $put_byte (param $b i32)
    (i32.store8 (global.get $line) (local.get $b))
    (global.set $line (i32.add (global.get $line) (i32.const 1))))
  (func $put_str (param $p i32) (param $n i32)
    (memory.copy (global.get $line) (local.get $p) (local.get $n))
    (global.set $line (i32.add (global.get $line) (local.get $n))))
  (func $put_num (param $v i32) (local $tmp i32) (local $len i32) (local $i i32)
    (local.set $tmp (local.get $v)) (local.set $len (i32.const 1))
    (block $done (loop $count
      (br_if $done (i32.lt_u (local.get $tmp) (i32.const 10)))
      (local.set $tmp (i32.div_u (local.get $tmp) (i32.const 10)))
      (local.set $len (i32.add (local.get $len) (i32.const 1)))
      (br $count)))
    (local.set $i (local.get $len))
    (loop $digits
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (global.get $line) (local.get $i))
        (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
      (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
      (br_if $digits (local.get $i)))
    (global.set $line (i32.add (global.get $line) (local.get $len))))
  (func $put_hex (param $p i32) (param $n i32) (local $b i32)
    (block $done (loop $each
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $b (i32.load8_u (local.get $p)))
      (call $put_byte (i32.load8_u (i32.add (i32.const 160) (i32.shr_u (local.get $b) (i32.const 4)))))
      (call $put_byte (i32.load8_u (i32.add (i32.const 160) (i32.and (local.get $b) (i32.const 15)))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $each))))
  (data (i32.const 160) "0123456789abcdef")
  (func $line_end (drop (call $proxy_log (i32.const 2) (i32.const ${LINE}) (i32.sub (global.get $line) (i32.const ${LINE})))))
  ;; "<label> <a> <b> ..." helpers
  (func $say (param $p i32) (param $n i32) (call $line_start) (call $put_str (local.get $p) (local.get $n)) (call $line_end))
  (func $say1 (param $p i32) (param $n i32) (param $a i32)
    (call $line_start) (call $put_str (local.get $p) (local.get $n))
    (call $put_byte (i32.const 32)) (call $put_num (local.get $a)) (call $line_end))
  (func $say2 (param $p i32) (param $n i32) (param $a i32) (param $b i32)
    (call $line_start) (call $put_str (local.get $p) (local.get $n))
    (call $put_byte (i32.const 32)) (call $put_num (local.get $a))
    (call $put_byte (i32.const 32)) (call $put_num (local.get $b)) (call $line_end))
  (func $say3 (param $p i32) (param $n i32) (param $a i32) (param $b i32) (param $c i32)
    (call $line_start) (call $put_str (local.get $p) (local.get $n))
    (call $put_byte (i32.const 32)) (call $put_num (local.get $a))
    (call $put_byte (i32.const 32)) (call $put_num (local.get $b))
    (call $put_byte (i32.const 32)) (call $put_num (local.get $c)) (call $line_end))
  (func $say4 (param $p i32) (param $n i32) (param $a i32) (param $b i32) (param $c i32) (param $d i32)
    (call $line_start) (call $put_str (local.get $p) (local.get $n))
    (call $put_byte (i32.const 32)) (call $put_num (local.get $a))
    (call $put_byte (i32.const 32)) (call $put_num (local.get $b))
    (call $put_byte (i32.const 32)) (call $put_num (local.get $c))
    (call $put_byte (i32.const 32)) (call $put_num (local.get $d)) (call $line_end))
  ;; "<label> <status> <hex of the returned bytes>" for calls returning ptr/size in slots 0 and 4
  (func $say_ret (param $p i32) (param $n i32) (param $status i32)
    (call $line_start) (call $put_str (local.get $p) (local.get $n))
    (call $put_byte (i32.const 32)) (call $put_num (local.get $status))
    (call $put_byte (i32.const 32))
    (call $put_hex (i32.load (i32.const 0)) (i32.load (i32.const 4)))
    (call $line_end))
`;

/** Builds a module: prelude helpers, the requested imports, data, and the given body. */
export function fixture(spec: FixtureSpec): Uint8Array {
  const signatures: Record<string, FuncType> = { ...ENV_IMPORTS, ...ENV_IMPORTS_0_2, ...ENV_IMPORTS_0_2_1 };
  const imports = new Set(["proxy_log", ...(spec.imports ?? [])]);
  const importLines = [...imports].map((name) => {
    const t = signatures[name];
    if (!t) throw new Error(`unknown env import ${name}`);
    return `(import "env" "${name}" (func $${name}${funcType(t)}))`;
  });
  let body = spec.body;
  let offset = DATA_BASE + 256; // after the prelude's own data
  const dataLines: string[] = [];
  for (const [name, value] of Object.entries(spec.data ?? {})) {
    const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
    dataLines.push(`(data (i32.const ${offset}) "${escapeBytes(bytes)}")`);
    body = body
      .replaceAll(`{{${name}}}`, `(i32.const ${offset}) (i32.const ${bytes.length})`)
      .replaceAll(`{{${name}.ptr}}`, `(i32.const ${offset})`)
      .replaceAll(`{{${name}.len}}`, `(i32.const ${bytes.length})`);
    offset += bytes.length + 8;
    if (offset >= 2048) throw new Error("fixture data does not fit below the callback label table");
  }
  const abi = spec.abi === undefined ? "0_2_1" : spec.abi;
  const allocator = spec.allocator ?? "malloc";
  const exportsLines = [
    abi ? `(func (export "proxy_abi_version_${abi}"))` : "",
    allocator === "malloc" || allocator === "both"
      ? `(func (export "malloc") (param i32) (result i32) (call $alloc (local.get 0)))`
      : "",
    allocator === "proxy_on_memory_allocate" || allocator === "both"
      ? `(func (export "proxy_on_memory_allocate") (param i32) (result i32) (call $say {{allocate}}) (call $alloc (local.get 0)))`.replace(
          "{{allocate}}",
          `(i32.const 144) (i32.const 14)`,
        )
      : "",
  ];
  const text = `(module
  ${importLines.join("\n  ")}
  ${(spec.rawImports ?? []).join("\n  ")}
  (memory (export "memory") 2)
  (data (i32.const 144) "alloc-fallback")
  ${PRELUDE}
  ${dataLines.join("\n  ")}
  ${exportsLines.join("\n  ")}
  ${body}
)`;
  const module = binaryen.parseText(text);
  module.setFeatures(binaryen.Features.All);
  if (!module.validate()) throw new Error(`invalid fixture module:\n${text}`);
  const bytes = module.emitBinary();
  module.dispose();
  return bytes;
}

/** Callback export that logs "<name> <args…>" and returns `result` (if the callback has a result). */
export function recorder(name: string, result = 0): string {
  const t = CALLBACKS[name];
  if (!t) throw new Error(`unknown callback ${name}`);
  const n = t.params.length;
  const label = `(i32.const ${labelOffset(name)}) (i32.const ${name.length})`;
  const args = Array.from({ length: n }, (_, i) => `(local.get ${i})`).join(" ");
  const say = n === 0 ? `(call $say ${label})` : `(call $say${n} ${label} ${args})`;
  const params = t.params.length ? ` (param ${t.params.join(" ")})` : "";
  const ret = t.results.length ? ` (result i32) ${say} (i32.const ${result})` : ` ${say}`;
  return `(data (i32.const ${labelOffset(name)}) "${name}")\n  (func (export "${name}")${params}${ret})`;
}

// Callback labels live in a fixed table above the fixture data.
const LABELS = Object.keys(CALLBACKS);
function labelOffset(name: string): number {
  return 2048 + LABELS.indexOf(name) * 48;
}

export { WASI_IMPORTS };
