/**
 * `trustgate policy convert`: Istio AuthorizationPolicy YAML ⇄ TrustgatePolicy YAML. The spec is the same in both
 * kinds, so converting changes `apiVersion` and `kind` and drops what the API server owns (status, uid,
 * resourceVersion, generation, managedFields, the last-applied annotation), keeping comments and layout. Lists
 * (`kubectl get tgp -A -o yaml`) are converted item by item. The result is compiled like any policy: a policy
 * trustgate would refuse is not converted. Converting to Istio warns about trustgate's own condition keys, which
 * Istio does not know. Pure.
 */
import { type Document, isMap, isSeq, type LineCounter, type YAMLMap } from "yaml";
import { compilePolicy } from "../policy/compile-policy.js";
import { formatLoadError } from "../policy/compiled.js";
import { parsePolicyText } from "../policy/policy-files.js";
import { ISTIO_KIND, policyKind, TRUSTGATE_API_VERSION, TRUSTGATE_KIND } from "../policy/policy-kinds.js";
import { DEFAULT_YAML_LIMITS, formatYamlProblem, parseYamlDocuments } from "../util/safe-yaml.js";

export type ConvertTarget = "trustgate" | "istio";

export type ConvertResult =
  | { ok: true; yaml: string; policies: number; warnings: string[] }
  | { ok: false; errors: string[] };

const ISTIO_API_VERSION = "security.istio.io/v1";
const SERVER_FIELDS = ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink"];
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
/** Condition keys only trustgate understands (Istio rejects or drops them). */
const TRUSTGATE_ONLY_KEY = /^(custom\.|source\.certificate_|source\.trust_domain$)/;

function scalar(map: YAMLMap, key: string): unknown {
  return map.get(key);
}

/** Converts one policy map in place; returns a problem or the trustgate-only keys it uses. */
function convertPolicy(
  policy: YAMLMap,
  to: ConvertTarget,
): { ok: true; trustgateKeys: string[]; name: string } | { ok: false; error: string } {
  const kind = policyKind(scalar(policy, "apiVersion"), scalar(policy, "kind"));
  if (!kind.ok) return { ok: false, error: kind.message };
  policy.set("apiVersion", to === "trustgate" ? TRUSTGATE_API_VERSION : ISTIO_API_VERSION);
  policy.set("kind", to === "trustgate" ? TRUSTGATE_KIND : ISTIO_KIND);
  policy.delete("status");
  const metadata = policy.get("metadata");
  let name = "";
  if (isMap(metadata)) {
    for (const field of SERVER_FIELDS) metadata.delete(field);
    const annotations = metadata.get("annotations");
    if (isMap(annotations)) {
      annotations.delete(LAST_APPLIED);
      if (annotations.items.length === 0) metadata.delete("annotations");
    }
    name = `${String(metadata.get("namespace") ?? "")}/${String(metadata.get("name") ?? "")}`;
  }
  const keys: string[] = [];
  const rules = policy.getIn(["spec", "rules"]);
  if (isSeq(rules)) {
    for (const rule of rules.items) {
      const when = isMap(rule) ? rule.get("when") : undefined;
      if (!isSeq(when)) continue;
      for (const condition of when.items) {
        const key = isMap(condition) ? condition.get("key") : undefined;
        if (typeof key === "string" && TRUSTGATE_ONLY_KEY.test(key)) keys.push(key);
      }
    }
  }
  return { ok: true, trustgateKeys: keys, name };
}

function lineOf(counter: LineCounter, node: { range?: [number, number, number] | null } | null | undefined): number {
  return node?.range ? counter.linePos(node.range[0]).line : 1;
}

export function convertPolicyText(text: string, file: string, to: ConvertTarget): ConvertResult {
  // Within the YAML limits, like every policy file: a problem is an error line, never an exception.
  const parsed = parseYamlDocuments(text, DEFAULT_YAML_LIMITS);
  if (!parsed.ok) return { ok: false, errors: parsed.problems.map((p) => formatYamlProblem(file, p)) };
  const counter = parsed.lineCounter;
  const list: Document[] = parsed.documents.map((d) => d.doc);
  const errors: string[] = [];
  const warnings: string[] = [];
  const out: string[] = [];
  let policies = 0;
  for (const doc of list) {
    for (const e of doc.errors)
      errors.push(`${file}:${counter.linePos(e.pos[0]).line}: YAML syntax error: ${e.message.split("\n")[0]}`);
    if (doc.errors.length > 0 || doc.contents === null) continue;
    const root = doc.contents;
    if (!isMap(root)) {
      errors.push(`${file}:${lineOf(counter, root)}: expected an AuthorizationPolicy or ${TRUSTGATE_KIND} document`);
      continue;
    }
    const kind = root.get("kind");
    const items = root.get("items");
    const targets: YAMLMap[] = [];
    if (typeof kind === "string" && kind.endsWith("List") && isSeq(items)) {
      // A list of either kind becomes the generic List kubectl applies.
      root.set("apiVersion", "v1");
      root.set("kind", "List");
      root.delete("metadata");
      for (const item of items.items) {
        if (isMap(item)) targets.push(item);
        else errors.push(`${file}:${lineOf(counter, item as YAMLMap)}: a list item that is not a policy`);
      }
    } else targets.push(root);
    for (const policy of targets) {
      const converted = convertPolicy(policy, to);
      if (!converted.ok) {
        errors.push(`${file}:${lineOf(counter, policy)}: ${converted.error}`);
        continue;
      }
      policies += 1;
      if (to === "istio" && converted.trustgateKeys.length > 0) {
        warnings.push(
          `${file}:${lineOf(counter, policy)}: ${converted.name} uses trustgate's own condition keys (${[...new Set(converted.trustgateKeys)].join(", ")}); Istio refuses or ignores them`,
        );
      }
    }
    // Keep the author's layout: no padding in flow lists, no folding of long lines; separators added below.
    out.push(doc.toString({ flowCollectionPadding: false, lineWidth: 0 }).replace(/^---\n/, ""));
  }
  if (errors.length > 0) return { ok: false, errors };
  const yaml = out.map((d) => (d.endsWith("\n") ? d : `${d}\n`)).join("---\n");
  // The converted text must load as any policy does: compile it and refuse what trustgate would refuse.
  const reparsed = parsePolicyText(yaml, `${file} (converted)`);
  const compileErrors = [...reparsed.errors];
  for (const d of reparsed.documents) {
    const value = d.value as { items?: unknown[] } | null;
    if (value !== null && typeof value === "object" && Array.isArray(value.items)) {
      value.items.forEach((item, i) => {
        compileErrors.push(...compilePolicy({ ...d, value: item, lineAt: (p) => d.lineAt(["items", i, ...p]) }).errors);
      });
    } else compileErrors.push(...compilePolicy(d).errors);
  }
  if (compileErrors.length > 0) return { ok: false, errors: compileErrors.map(formatLoadError) };
  return { ok: true, yaml, policies, warnings };
}
