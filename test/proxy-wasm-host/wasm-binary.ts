// Reads function signatures of a module's imports and exports straight from the binary, so the
// host can refuse a module the way Envoy's V8 runtime does (missing import, import type mismatch,
// bad callback signature). Node 20 does not expose types through WebAssembly.Module reflection.

export type ValType = "i32" | "i64" | "f32" | "f64" | "v128" | "funcref" | "externref";
export interface FuncType {
  params: ValType[];
  results: ValType[];
}
export interface ImportEntry {
  module: string;
  name: string;
  kind: "function" | "table" | "memory" | "global" | "tag";
  type?: FuncType;
}
export interface ExportEntry {
  name: string;
  kind: "function" | "table" | "memory" | "global" | "tag";
  type?: FuncType;
}

const VALTYPES: Record<number, ValType> = {
  127: "i32",
  126: "i64",
  125: "f32",
  124: "f64",
  123: "v128",
  112: "funcref",
  111: "externref",
};
const KINDS = ["function", "table", "memory", "global", "tag"] as const;

export function signature(t: FuncType): string {
  return `(${t.params.join(", ")}) -> (${t.results.join(", ")})`;
}

export function readSignatures(bytes: Uint8Array): { imports: ImportEntry[]; exports: ExportEntry[] } {
  let p = 8; // magic + version
  const u32 = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[p++];
      if (b === undefined) throw new Error("truncated wasm binary");
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
  };
  const name = (): string => {
    const n = u32();
    const s = Buffer.from(bytes.subarray(p, p + n)).toString("utf8");
    p += n;
    return s;
  };
  const valtype = (): ValType => {
    const b = bytes[p++] ?? -1;
    const t = VALTYPES[b];
    if (!t) throw new Error(`unsupported value type 0x${b.toString(16)}`);
    return t;
  };
  const limits = (): void => {
    const flags = u32();
    u32();
    if (flags & 1) u32();
  };

  const types: FuncType[] = [];
  const imports: ImportEntry[] = [];
  const functionTypes: number[] = []; // type index of every function, imported ones first
  const exports: ExportEntry[] = [];
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = u32();
    const end = p + size;
    if (id === 1) {
      for (let n = u32(); n > 0; n--) {
        if (bytes[p++] !== 0x60) throw new Error("unsupported type form");
        const params = Array.from({ length: u32() }, valtype);
        const results = Array.from({ length: u32() }, valtype);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = u32(); n > 0; n--) {
        const module = name();
        const field = name();
        const kind = KINDS[bytes[p++] ?? 0] ?? "function";
        if (kind === "function") {
          const t = u32();
          functionTypes.push(t);
          imports.push({ module, name: field, kind, type: types[t] });
        } else {
          if (kind === "table") {
            p++;
            limits();
          } else if (kind === "memory") limits();
          else if (kind === "global") p += 2;
          else {
            p++;
            u32();
          }
          imports.push({ module, name: field, kind });
        }
      }
    } else if (id === 3) {
      for (let n = u32(); n > 0; n--) functionTypes.push(u32());
    } else if (id === 7) {
      for (let n = u32(); n > 0; n--) {
        const exportName = name();
        const kind = KINDS[bytes[p++] ?? 0] ?? "function";
        const index = u32();
        const t = kind === "function" ? functionTypes[index] : undefined;
        exports.push({ name: exportName, kind, type: t === undefined ? undefined : types[t] });
      }
    }
    p = end;
  }
  return { imports, exports };
}
