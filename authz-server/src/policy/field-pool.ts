/**
 * Compiled fields shared between the policies of one set that say the same thing. Large meshes repeat themselves:
 * `methods: [GET, POST]`, a namespace's principals, `/healthz`, the same path template in every workload's policy.
 * Built once per distinct field instead of once per occurrence, a large set takes less memory, and a reload has less
 * to build and the garbage collector less to mark. What is shared is immutable and keeps no state between requests
 * (matchers, and whole field checks where the field sits at the same place in its rule), so sharing cannot change a
 * decision or an explanation.
 *
 * One pool serves one compile of a set, under one trust-domain bundle; a field compiled under another bundle, or
 * without a pool, is built on its own.
 */
export class FieldPool<Matchers, Check> {
  private readonly matchersByKey = new Map<string, Matchers>();
  private readonly checksByKey = new Map<string, Check>();
  private bundle: object | null = null;

  /** The matchers for a field's values (`key` names everything they are built from), built once. */
  matchers(bundle: object, key: string, build: () => Matchers): Matchers {
    return this.shared(this.matchersByKey, bundle, key, build);
  }

  /** The whole check for a field at one place in a rule (`key` adds the place to the matchers' key), built once. */
  check(bundle: object, key: string, build: () => Check): Check {
    return this.shared(this.checksByKey, bundle, key, build);
  }

  /** Distinct matchers and checks built so far. */
  get size(): { readonly matchers: number; readonly checks: number } {
    return { matchers: this.matchersByKey.size, checks: this.checksByKey.size };
  }

  private shared<T>(byKey: Map<string, T>, bundle: object, key: string, build: () => T): T {
    if (this.bundle === null) this.bundle = bundle;
    else if (this.bundle !== bundle) return build();
    let value = byKey.get(key);
    if (value === undefined) {
      value = build();
      byKey.set(key, value);
    }
    return value;
  }
}
