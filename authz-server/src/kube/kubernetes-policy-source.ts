/**
 * TrustgatePolicy objects from the Kubernetes API as a policy source: listed and watched (all namespaces, or one
 * list/watch per configured namespace), each object compiled with the loader's compilePolicy when what decides it
 * changes, and handed to the loader, which joins them with the files and swaps the new set in.
 *
 * Per object, the last version that compiled stays in force until a newer one compiles or the object is deleted: a
 * broken edit never changes decisions (its status says why it was refused), and one team's broken object never
 * blocks another team's change. The version in force is tied to the object's uid, so a deleted and re-created
 * object starts from nothing.
 */
import { createHash } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../observability/logger.js";
import { type SetFieldPool, setFieldPool } from "../policy/compile-field.js";
import type { CompileOptions } from "../policy/compile-policy.js";
import { type CompiledPolicy, formatLoadError, type PolicyLoadError } from "../policy/compiled.js";
import {
  TRUSTGATE_API_VERSION,
  TRUSTGATE_GROUP,
  TRUSTGATE_KIND,
  TRUSTGATE_PLURAL,
  TRUSTGATE_VERSION,
} from "../policy/policy-kinds.js";
import type { PolicySet } from "../policy/policy-set.js";
import type { PolicySource, SourcePolicies } from "../policy/policy-source.js";
import type { LintWarning } from "../policy-tools/lint.js";
import type { KubeApi } from "./kube-api.js";
import { ListWatch, type WatchEventType, wholeList } from "./list-watch.js";
import { compileObject, contentDigest, objectKey, objectOrigin, type TrustgatePolicyObject } from "./policy-object.js";
import type { StatusVerdict } from "./policy-status.js";

interface Entry {
  readonly key: string;
  readonly uid: string;
  /** The object as last read (its status included). */
  object: TrustgatePolicyObject;
  digest: string;
  /** Errors of the latest version; null when it compiled. */
  errors: PolicyLoadError[] | null;
  /** The last version that compiled: what this source contributes. */
  active: {
    readonly policy: CompiledPolicy;
    /** The object the policy was compiled from (worker processes compile it too). */
    readonly object: TrustgatePolicyObject;
    readonly generation: number;
    readonly digest: string;
  } | null;
}

export interface ObjectVerdict {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** The object as last read (status included). */
  readonly object: TrustgatePolicyObject;
  readonly verdict: StatusVerdict;
}

export interface SourceChange {
  /** What happened, for logs: "ADDED shop/allow-web, DELETED shop/old". */
  readonly trigger: string;
  /** The contributed policies changed (or the source became ready): the set must be rebuilt. */
  readonly policiesChanged: boolean;
}

export interface KubernetesPolicySourceOptions {
  readonly kubeConfig: KubeConfig;
  readonly api: KubeApi;
  /** Namespaces to watch; empty = all. */
  readonly namespaces: readonly string[];
  /** The loader's compile options (mesh trust domain and aliases), so objects compile exactly as files do. */
  readonly compile?: CompileOptions;
  readonly logger: Logger;
  /** Called once per burst of events (coalesced), after the source's state has been updated. */
  readonly onChange: (change: SourceChange) => void;
  readonly watchTimeoutSeconds?: () => number;
  readonly minBackoffMs?: number;
}

export function collectionPath(namespace: string | null): string {
  const base = `/apis/${TRUSTGATE_GROUP}/${TRUSTGATE_VERSION}`;
  return namespace === null
    ? `${base}/${TRUSTGATE_PLURAL}`
    : `${base}/namespaces/${encodeURIComponent(namespace)}/${TRUSTGATE_PLURAL}`;
}

function formatWarningForStatus(w: LintWarning): string {
  return `[${w.code}]${w.rule !== null ? ` rule ${w.rule}` : ""}: ${w.message} (fix: ${w.fix})`;
}

export class KubernetesPolicySource implements PolicySource {
  readonly name = "kubernetes";
  private readonly entries = new Map<string, Entry>();
  private readonly watches: Array<ListWatch<TrustgatePolicyObject>>;
  private contributed: SourcePolicies | null = null;
  private pending: string[] = [];
  private pendingPolicies = false;
  private flushScheduled = false;
  private wasReady = false;
  /**
   * Fields compiled for the objects of the current burst (a list, or watch events before the next flush), shared
   * between them: the objects of a large list repeat each other's principals, methods and paths as the files of a
   * policy directory do. Dropped at the flush, so entries of objects deleted later are not kept.
   */
  private burstPool: SetFieldPool | null = null;
  /** One options object for every compile: the trust-domain bundle (and with it the pool) is kept per options object. */
  private readonly compileOptions: CompileOptions;

  constructor(private readonly options: KubernetesPolicySourceOptions) {
    this.compileOptions = options.compile ?? {};
    const scopes: Array<string | null> = options.namespaces.length === 0 ? [null] : [...new Set(options.namespaces)];
    this.watches = scopes.map(
      (namespace) =>
        new ListWatch<TrustgatePolicyObject>({
          kubeConfig: options.kubeConfig,
          api: options.api,
          path: collectionPath(namespace),
          what: `${TRUSTGATE_KIND} objects ${namespace === null ? "in all namespaces" : `in ${namespace}`}`,
          logger: options.logger,
          list: wholeList((items) => this.replace(namespace, items)),
          onEvent: (type, object) => this.apply(type, object),
          watchTimeoutSeconds: options.watchTimeoutSeconds,
          minBackoffMs: options.minBackoffMs,
        }),
    );
  }

  start(): void {
    for (const w of this.watches) w.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.watches.map((w) => w.stop()));
  }

  /** Every list/watch has listed once. */
  ready(): boolean {
    return this.watches.every((w) => w.synced);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Objects whose latest version did not compile. */
  get invalidCount(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.errors !== null) n += 1;
    return n;
  }

  watchStats(): Array<ListWatch<TrustgatePolicyObject>["stats"]> {
    return this.watches.map((w) => w.stats);
  }

  /** Whether every watch works; when one fails, since when (the longest-failing one) and why. */
  watchHealth(): { readonly failingSince: number | null; readonly error: string | null } {
    let failing: ListWatch<TrustgatePolicyObject> | null = null;
    for (const w of this.watches) {
      if (w.failingSince !== null && (failing === null || w.failingSince < failing.failingSince!)) failing = w;
    }
    return { failingSince: failing?.failingSince ?? null, error: failing?.lastError ?? null };
  }

  policies(): SourcePolicies {
    if (this.contributed === null) {
      const active = [...this.entries.values()]
        .filter((e) => e.active !== null)
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const digest = createHash("sha256");
      for (const e of active) digest.update(e.key).update("\0").update(e.active!.digest).update("\0");
      this.contributed = {
        policies: active.map((e) => e.active!.policy),
        digest: digest.digest("hex"),
        objects: active.map((e) => e.active!.object),
      };
    }
    return this.contributed;
  }

  /** Has anything happened that is not settled yet (a change not yet handed to onChange)? */
  get settling(): boolean {
    return this.flushScheduled;
  }

  /** What the status of every object should say, given the set in force and the last load error. */
  verdicts(set: PolicySet, loadError: string | null, warningsOf: (origin: string) => LintWarning[]): ObjectVerdict[] {
    const out: ObjectVerdict[] = [];
    const byId = new Map(set.policies.map((p) => [p.id, p]));
    for (const e of this.entries.values()) {
      const origin = objectOrigin(e.object);
      const inForce = e.active !== null && byId.get(e.active.policy.id) === e.active.policy;
      const generation = e.object.metadata?.generation ?? 0;
      let verdict: StatusVerdict;
      if (e.errors !== null) {
        const kept = inForce
          ? `the last accepted version (generation ${e.active!.generation}) stays in force`
          : "nothing of this policy is in force";
        verdict = {
          generation,
          accepted: {
            status: "False",
            reason: "Invalid",
            message: `${e.errors.map(formatLoadError).join("\n")}\n${kept}`,
          },
          warnings: { status: "Unknown", reason: "NotAccepted", message: "this generation was not accepted" },
        };
      } else if (inForce) {
        const warnings = warningsOf(origin);
        verdict = {
          generation,
          accepted: { status: "True", reason: "Accepted", message: "compiled and in force" },
          warnings:
            warnings.length === 0
              ? { status: "False", reason: "NoWarnings", message: "no lint warnings" }
              : { status: "True", reason: "LintWarnings", message: warnings.map(formatWarningForStatus).join("\n") },
        };
      } else {
        const id = objectKey(e.object);
        const other = byId.get(id);
        const accepted =
          other !== undefined && other.file !== origin
            ? {
                status: "False" as const,
                reason: "Conflict",
                message: `policy ${id} is also defined by ${other.file}${other.line > 0 ? `:${other.line}` : ""}, which is in force (a policy file wins)`,
              }
            : {
                status: "False" as const,
                reason: "Pending",
                message: `compiled, but not in force yet${loadError ? `: the policy set could not be rebuilt: ${loadError.split("\n")[0]}` : ""}`,
              };
        verdict = {
          generation,
          accepted,
          warnings: { status: "Unknown", reason: "NotInForce", message: "this generation is not in force" },
        };
      }
      out.push({
        namespace: e.object.metadata?.namespace ?? "",
        name: e.object.metadata?.name ?? "",
        uid: e.uid,
        object: e.object,
        verdict,
      });
    }
    return out;
  }

  /** Records the object a status write returned, so the next pass compares against what was written. */
  observeWritten(object: TrustgatePolicyObject): void {
    const e = this.entries.get(objectKey(object));
    if (e !== undefined && e.uid === object.metadata?.uid) e.object = this.normalise(object);
  }

  private normalise(o: TrustgatePolicyObject): TrustgatePolicyObject {
    // managedFields can be larger than the policy and nothing here reads them: do not keep them.
    const { managedFields: _dropped, ...metadata } = (o.metadata ?? {}) as Record<string, unknown>;
    // List items of a custom resource carry apiVersion and kind; be safe if one does not.
    return {
      ...o,
      apiVersion: o.apiVersion ?? TRUSTGATE_API_VERSION,
      kind: o.kind ?? TRUSTGATE_KIND,
      metadata: metadata as TrustgatePolicyObject["metadata"],
    };
  }

  /** Adds or updates one object; returns whether the contributed policies changed. */
  private upsert(raw: TrustgatePolicyObject): boolean {
    const o = this.normalise(raw);
    const key = objectKey(o);
    const uid = o.metadata?.uid ?? "";
    let entry = this.entries.get(key);
    let changed = false;
    if (entry !== undefined && entry.uid !== uid) {
      // Deleted and re-created while we were not looking: the old object's policy goes.
      changed = entry.active !== null;
      this.entries.delete(key);
      entry = undefined;
    }
    const digest = contentDigest(o);
    if (entry !== undefined && entry.digest === digest) {
      entry.object = o; // a status write or server bookkeeping: nothing to compile
      return changed;
    }
    this.burstPool ??= setFieldPool();
    const compiled = compileObject(o, this.compileOptions, this.burstPool);
    const generation = o.metadata?.generation ?? 0;
    if (entry === undefined) {
      entry = { key, uid, object: o, digest, errors: null, active: null };
      this.entries.set(key, entry);
    }
    entry.object = o;
    entry.digest = digest;
    if (compiled.ok) {
      entry.errors = null;
      entry.active = { policy: compiled.policy, object: o, generation, digest };
      changed = true;
    } else {
      entry.errors = compiled.errors;
      this.options.logger.error(
        {
          event: "kubernetes policy rejected",
          policy: key,
          generation,
          errors: compiled.errors.map(formatLoadError),
          in_force: entry.active ? `generation ${entry.active.generation}` : "none",
        },
        `${objectOrigin(o)} generation ${generation} does not compile; ${entry.active ? `generation ${entry.active.generation} stays in force` : "it is not in force"}`,
      );
    }
    return changed;
  }

  private remove(o: TrustgatePolicyObject): boolean {
    const key = objectKey(o);
    const entry = this.entries.get(key);
    if (entry === undefined || (o.metadata?.uid !== undefined && entry.uid !== o.metadata.uid)) return false;
    this.entries.delete(key);
    return entry.active !== null;
  }

  private apply(type: WatchEventType, object: TrustgatePolicyObject): void {
    const changed = type === "DELETED" ? this.remove(object) : this.upsert(object);
    this.note(`${type} ${objectKey(object)}`, changed);
  }

  /** A (re)list of one scope: objects no longer there are deleted, the rest upserted. */
  private replace(namespace: string | null, items: TrustgatePolicyObject[]): void {
    let changed = false;
    const seen = new Set<string>();
    for (const item of items) {
      seen.add(objectKey(item));
      if (this.upsert(item)) changed = true;
    }
    for (const [key, entry] of this.entries) {
      const inScope = namespace === null || entry.object.metadata?.namespace === namespace;
      if (inScope && !seen.has(key)) {
        this.entries.delete(key);
        if (entry.active !== null) changed = true;
      }
    }
    this.note(`list ${namespace ?? "all namespaces"} (${items.length} objects)`, changed);
  }

  private note(what: string, policiesChanged: boolean): void {
    if (policiesChanged) {
      this.contributed = null;
      this.pendingPolicies = true;
    }
    if (this.pending.length < 20) this.pending.push(what);
    else if (this.pending.length === 20) this.pending.push("…");
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // One flush per burst: a relist of 1,000 objects rebuilds the set once, not 1,000 times.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    this.burstPool = null;
    const ready = this.ready();
    const becameReady = ready && !this.wasReady;
    this.wasReady = ready;
    const change: SourceChange = {
      trigger: `kubernetes: ${this.pending.join(", ")}`,
      policiesChanged: becameReady || (ready && this.pendingPolicies),
    };
    this.pending = [];
    if (!ready) return; // nothing is installed before every scope has listed; keep collecting
    this.pendingPolicies = false;
    this.options.onChange(change);
  }
}
