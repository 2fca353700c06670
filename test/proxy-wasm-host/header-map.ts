// An Envoy header map as the Wasm host exposes it: keys are lower-cased on every operation
// (Http::LowerCaseString), order is kept, a name may repeat.
import type { HeaderPairs } from "./pairs.js";

export class HeaderMap {
  private entries: HeaderPairs = [];

  constructor(pairs: ReadonlyArray<readonly [string, string]> = []) {
    for (const [k, v] of pairs) this.add(k, v);
  }

  /** First value only, as Envoy's getHeaderMapValue does (a known ABI limitation). */
  get(key: string): string | undefined {
    const k = key.toLowerCase();
    return this.entries.find((e) => e[0] === k)?.[1];
  }

  getAll(key: string): string[] {
    const k = key.toLowerCase();
    return this.entries.filter((e) => e[0] === k).map((e) => e[1]);
  }

  add(key: string, value: string): void {
    this.entries.push([key.toLowerCase(), value]);
  }

  /** setCopy: the first entry keeps its place with the new value, any further ones are removed. */
  replace(key: string, value: string): void {
    const k = key.toLowerCase();
    const first = this.entries.findIndex((e) => e[0] === k);
    if (first < 0) {
      this.entries.push([k, value]);
      return;
    }
    this.entries[first] = [k, value];
    if (this.entries.some((e, i) => i > first && e[0] === k)) {
      this.entries = this.entries.filter((e, i) => i <= first || e[0] !== k);
    }
  }

  remove(key: string): void {
    const k = key.toLowerCase();
    if (this.entries.some((e) => e[0] === k)) this.entries = this.entries.filter((e) => e[0] !== k);
  }

  setPairs(pairs: ReadonlyArray<readonly [string, string]>): void {
    this.entries = [];
    for (const [k, v] of pairs) this.add(k, v);
  }

  /** The live entries, read-only (no copy; for the host's own serialisation). */
  entriesView(): ReadonlyArray<readonly [string, string]> {
    return this.entries;
  }

  pairs(): HeaderPairs {
    return this.entries.map(([k, v]) => [k, v]);
  }

  get size(): number {
    return this.entries.length;
  }

  /** Envoy's HeaderMap::byteSize(): the sum of key and value lengths. */
  byteSize(): number {
    let n = 0;
    for (const [k, v] of this.entries) n += Buffer.byteLength(k) + Buffer.byteLength(v);
    return n;
  }
}
