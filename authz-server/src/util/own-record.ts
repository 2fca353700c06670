/**
 * Maps keyed by strings a user chose (labels, header names, rule names…), kept off the prototype chain: a key named
 * `__proto__`, `constructor` or `toString` is just a key. zod's `z.record` silently drops `__proto__` and returns an
 * ordinary object, where such names also read as inherited functions; `ownRecord` keeps every own key and returns a
 * null-prototype object.
 */
import { z } from "zod";

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A map of string keys to `value`, as a null-prototype object with exactly the input's own keys. */
export function ownRecord<T extends z.ZodType>(value: T): z.ZodType<Record<string, z.output<T>>> {
  return z.unknown().transform((input, ctx) => {
    const out: Record<string, z.output<T>> = Object.create(null);
    if (!isPlainRecord(input)) {
      ctx.addIssue({
        code: "custom",
        message: `expected a map, got ${Array.isArray(input) ? "a list" : typeof input}`,
      });
      return z.NEVER;
    }
    for (const key of Object.keys(input)) {
      const parsed = value.safeParse(input[key]);
      if (parsed.success) {
        out[key] = parsed.data;
        continue;
      }
      for (const issue of parsed.error.issues) {
        ctx.addIssue({ ...issue, path: [key, ...issue.path] } as Parameters<typeof ctx.addIssue>[0]);
      }
    }
    return out;
  }) as unknown as z.ZodType<Record<string, z.output<T>>>;
}

/** A null-prototype copy of a string map (own keys only). */
export function ownCopy<V>(record: Readonly<Record<string, V>> | undefined): Record<string, V> {
  const out: Record<string, V> = Object.create(null);
  if (record) for (const key of Object.keys(record)) out[key] = record[key]!;
  return out;
}

/** `object[key]` if it is the object's own property (a JSON body's field), else undefined. */
export function ownField(object: unknown, key: string): unknown {
  return isPlainRecord(object) && Object.hasOwn(object, key) ? object[key] : undefined;
}
