/**
 * The keys a zod object schema allows at a path of a value (`cases.0.expect` → decision, outcome, …), looking
 * through wrappers (default, optional, pipes), arrays, records and unions. For "did you mean" on unknown keys.
 */
import type { z } from "zod";

// biome-ignore lint/suspicious/noExplicitAny: walks zod's own schema definitions, which are typed per schema kind
type Def = any;

function unwrap(schema: Def): Def[] {
  const def = schema?.def;
  if (!def) return [];
  switch (def.type) {
    case "default":
    case "prefault":
    case "optional":
    case "nullable":
    case "readonly":
    case "catch":
      return unwrap(def.innerType);
    case "pipe":
      return [...unwrap(def.in), ...unwrap(def.out)];
    case "union":
      return (def.options as Def[]).flatMap(unwrap);
    default:
      return [schema];
  }
}

function child(schema: Def, key: PropertyKey): Def[] {
  const def = schema.def;
  if (def.type === "object") return def.shape[key as string] ? [def.shape[key as string]] : [];
  if (def.type === "array") return typeof key === "number" || /^\d+$/.test(String(key)) ? [def.element] : [];
  if (def.type === "record") return [def.valueType];
  return [];
}

export function objectKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let nodes: Def[] = unwrap(schema);
  for (const key of path) nodes = nodes.flatMap((n) => child(n, key)).flatMap(unwrap);
  return [...new Set(nodes.filter((n) => n.def.type === "object").flatMap((n) => Object.keys(n.def.shape)))];
}
