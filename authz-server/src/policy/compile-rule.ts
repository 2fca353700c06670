/**
 * One rule of an AuthorizationPolicy → a CompiledRule: `from` sources, `to` operations and `when` conditions,
 * validated as istiod validates them. A field with an empty list is not set (as in Istio), and so is an empty
 * `from`/`to` list; a source or operation with no field set, an empty value or an unknown field or key is refused.
 */
import { isHttpOnly, isIdentity, isRisk } from "./attributes.js";
import { compileField, type FieldContext } from "./compile-field.js";
import type { Clause, CompiledRule, FieldCheck } from "./compiled.js";
import { type Compiler, describe, isPlainObject, own, type PathSegment } from "./compiler.js";
import { conditionKey, type FieldSpec, OPERATION_FIELDS, SOURCE_FIELDS } from "./field-specs.js";

const NO_PATH: readonly string[] = Object.freeze([]);
const NO_CHECKS: readonly FieldCheck[] = Object.freeze([]);
const NO_LISTS: readonly ("from" | "to")[] = Object.freeze([]);
const NO_REASONS: readonly string[] = Object.freeze([]);

/**
 * Field labels (`to[0].operation.paths`) repeat across every rule of a set: one shared copy of each, instead of a
 * freshly concatenated string per check. Bounded, since condition keys are the author's.
 */
const LABELS = new Map<string, string>();
const LABELS_KEPT = 4096;

function label(text: string): string {
  const known = LABELS.get(text);
  if (known !== undefined) return known;
  if (LABELS.size < LABELS_KEPT) LABELS.set(text, text);
  return text;
}

function addField(
  c: Compiler,
  ctx: FieldContext,
  input: Omit<Parameters<typeof compileField>[0], "values">,
  value: unknown,
  path: readonly PathSegment[],
  out: FieldCheck[],
): boolean {
  const values = c.stringList(value, path);
  if (values === null) return false;
  if (values.length === 0) return true;
  const result = compileField({ ...input, values }, ctx);
  if (result.ok) {
    out.push(result.check);
    return true;
  }
  for (const p of result.problems) c.error(p.index === null ? path : [...path, p.index], p.message);
  return false;
}

function compileClause(
  c: Compiler,
  ctx: FieldContext,
  value: unknown,
  path: readonly PathSegment[],
  wrapper: "source" | "operation",
  fields: ReadonlyMap<string, FieldSpec>,
  clauseLabel: string,
): Clause | null {
  const outer = c.map(value, path, [wrapper]);
  if (outer === null) return null;
  const inner = own(outer, wrapper);
  const innerPath = [...path, wrapper];
  if (inner === undefined || inner === null) {
    c.error(path, `"${clauseLabel.split("[")[0]}.${wrapper}" must not be empty`);
    return null;
  }
  if (!isPlainObject(inner)) {
    c.error(innerPath, `expected a map, got ${describe(inner)}`);
    return null;
  }
  const checks: FieldCheck[] = [];
  let ok = true;
  for (const [key, fieldValue] of Object.entries(inner)) {
    const fieldPath = [...innerPath, key];
    const spec = fields.get(key);
    if (!spec) {
      c.error(fieldPath, `unknown field "${key}" (expected one of: ${[...fields.keys()].join(", ")})`);
      ok = false;
      continue;
    }
    const field = label(`${clauseLabel}.${wrapper}.${key}`);
    const input = {
      attribute: spec.attribute,
      kind: spec.kind,
      negate: spec.negate,
      key: "",
      path: NO_PATH,
      allowed: null,
      field,
    };
    if (!addField(c, ctx, input, fieldValue, fieldPath, checks)) ok = false;
  }
  if (!ok) return null;
  const set = (name: string) =>
    own(inner, name) !== undefined && checks.some((check) => check.field.endsWith(`.${name}`));
  if (set("serviceAccounts") || set("notServiceAccounts")) {
    for (const other of ["principals", "notPrincipals", "namespaces", "notNamespaces"]) {
      if (set(other)) {
        c.error([...innerPath, other], `"${other}" cannot be combined with serviceAccounts (Istio refuses it too)`);
        ok = false;
      }
    }
  }
  if (checks.length === 0) {
    c.error(
      innerPath,
      `"${clauseLabel.split("[")[0]}.${wrapper}" must not be empty: give at least one field with values`,
    );
    return null;
  }
  // A copy exactly as long as its contents: compiled sets keep tens of thousands of these lists.
  return ok ? checks.slice() : null;
}

/** A condition istiod accepts but cannot build (field-specs.ts `unbuildable`): checked like any, compiled to nothing. */
function unbuildableCondition(c: Compiler, condition: Record<string, unknown>, path: readonly PathSegment[]): boolean {
  let ok = true;
  let any = false;
  for (const which of ["values", "notValues"] as const) {
    const list = own(condition, which);
    if (list === undefined) continue;
    const values = c.stringList(list, [...path, which]);
    if (values === null) ok = false;
    else if (values.some((v) => v === "")) {
      c.error([...path, which], "empty values are not allowed");
      ok = false;
    } else any ||= values.length > 0;
  }
  if (ok && !any) c.error(path, `condition "${String(own(condition, "key"))}" needs values or notValues`);
  return ok && any;
}

function compileCondition(
  c: Compiler,
  ctx: FieldContext,
  value: unknown,
  path: readonly PathSegment[],
  index: number,
  unbuilt: string[],
): FieldCheck[] | null {
  const condition = c.map(value, path, ["key", "values", "notValues"]);
  if (condition === null) return null;
  const key = own(condition, "key");
  if (typeof key !== "string" || key === "") {
    c.error([...path, "key"], "a condition needs a non-empty key");
    return null;
  }
  const resolved = conditionKey(key);
  if (resolved.ok === "unbuildable") {
    if (!unbuildableCondition(c, condition, path)) return null;
    unbuilt.push(`when[${index}] ${key}: ${resolved.reason}`);
    return [];
  }
  if (!resolved.ok) {
    c.error([...path, "key"], resolved.error);
    return null;
  }
  const checks: FieldCheck[] = [];
  let ok = true;
  for (const which of ["values", "notValues"] as const) {
    const list = own(condition, which);
    if (list === undefined) continue;
    const spec = resolved.spec;
    const input = {
      attribute: spec.attribute,
      kind: spec.kind,
      key: spec.key,
      path: spec.path,
      allowed: spec.allowed,
      negate: which === "notValues",
      field: label(`when[${index}] ${key}`),
    };
    if (!addField(c, ctx, input, list, [...path, which], checks)) ok = false;
  }
  if (ok && checks.length === 0) {
    c.error(path, `condition "${key}" needs values or notValues`);
    return null;
  }
  return ok ? checks : null;
}

export function compileRule(
  c: Compiler,
  ctx: FieldContext,
  value: unknown,
  path: readonly PathSegment[],
  index: number,
): Omit<CompiledRule, "allowDecision" | "line"> | null {
  if (value === null || value === undefined) {
    c.error(path, "a rule must not be null (write {} for a rule that matches every request)");
    return null;
  }
  const rule = c.map(value, path, ["from", "to", "when"]);
  if (rule === null) return null;
  let ok = true;
  const emptyLists: ("from" | "to")[] = [];
  const clauses = (key: "from" | "to"): Clause[] | null => {
    const list = own(rule, key);
    if (list === undefined) return null;
    if (Array.isArray(list) && list.length === 0) {
      // istiod reads `from: []` as no `from` at all: protobuf lists have no presence, so its JSON decoding leaves an
      // empty list unset and validation's "must not be empty" never sees it. The lint warns (empty-rule-list).
      emptyLists.push(key);
      return null;
    }
    if (!Array.isArray(list)) {
      c.error(
        [...path, key],
        `"${key}" must be a list (omit it to match any ${key === "from" ? "source" : "operation"})`,
      );
      ok = false;
      return null;
    }
    const out = new Array<Clause>(list.length);
    list.forEach((item, i) => {
      const clause =
        key === "from"
          ? compileClause(c, ctx, item, [...path, key, i], "source", SOURCE_FIELDS, `from[${i}]`)
          : compileClause(c, ctx, item, [...path, key, i], "operation", OPERATION_FIELDS, `to[${i}]`);
      if (clause === null) ok = false;
      else out[i] = clause;
    });
    return out;
  };
  const from = clauses("from");
  const to = clauses("to");
  const when: FieldCheck[] = [];
  const unbuilt: string[] = [];
  const conditions = own(rule, "when");
  if (conditions !== undefined) {
    if (!Array.isArray(conditions)) {
      c.error([...path, "when"], `"when" must be a list of conditions, got ${describe(conditions)}`);
      ok = false;
    } else {
      conditions.forEach((item, i) => {
        const checks = compileCondition(c, ctx, item, [...path, "when", i], i, unbuilt);
        if (checks === null) ok = false;
        else when.push(...checks);
      });
    }
  }
  if (!ok) return null;
  const all = [...(from ?? []).flat(), ...(to ?? []).flat(), ...when];
  return {
    index,
    from,
    to,
    when: when.length === 0 ? NO_CHECKS : when.slice(),
    needsIdentity: all.some((check) => isIdentity(check.attribute)),
    readsRisk: all.some((check) => isRisk(check.attribute)),
    readsHttpOnly: all.some((check) => isHttpOnly(check.attribute)),
    emptyLists: emptyLists.length === 0 ? NO_LISTS : emptyLists,
    unbuildable: unbuilt.length === 0 ? NO_REASONS : unbuilt,
  };
}
