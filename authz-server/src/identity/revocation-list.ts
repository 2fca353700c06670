import { parseSpiffeId } from "./spiffe-id.js";

/**
 * The revocation list the wasm filters poll (`GET /v1/revocations`): identities and certificate fingerprints revoked
 * by an operator, plus identities currently at critical Falco risk. Computed on request; the version changes exactly
 * when the content does, and is time-based so it keeps increasing across restarts.
 */

export interface RevocationSnapshot {
  readonly version: number;
  readonly spiffeIds: readonly string[];
  readonly fingerprints: readonly string[];
  /** The exact JSON body served, keys in the documented order, no whitespace. */
  readonly body: string;
}

export interface Revocation {
  readonly reason: string;
  readonly at: string;
}

/** The wasm filter refuses a whole list over one bad entry, so only workload IDs (with a path) are ever served. */
export function isRevocableIdentity(spiffeId: string): boolean {
  const parsed = parseSpiffeId(spiffeId);
  return parsed.ok && parsed.id.path !== "";
}

/** The operator revocations as plain data (what `replaceOperatorRevocations` takes). */
export interface OperatorRevocations {
  readonly spiffeIds: Record<string, Revocation>;
  readonly fingerprints: Record<string, Revocation>;
}

export class RevocationList {
  private readonly ids = new Map<string, Revocation>();
  private readonly fingerprints = new Map<string, Revocation>();
  private last: RevocationSnapshot | null = null;
  private lastContent = "";
  private readonly listeners: Array<() => void> = [];

  constructor(
    /** Identities at critical risk right now (from the risk engine). */
    private readonly criticalIdentities: () => Iterable<string> = () => [],
    private readonly now: () => number = Date.now,
  ) {}

  /** Called after every change of the operator revocations (worker processes are told this way). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  revokeIdentity(spiffeId: string, reason: string): void {
    this.ids.set(spiffeId, { reason, at: new Date(this.now()).toISOString() });
    this.changed();
  }

  revokeFingerprint(fingerprint: string, reason: string): void {
    this.fingerprints.set(fingerprint, { reason, at: new Date(this.now()).toISOString() });
    this.changed();
  }

  unrevokeIdentity(spiffeId: string): boolean {
    const removed = this.ids.delete(spiffeId);
    if (removed) this.changed();
    return removed;
  }

  unrevokeFingerprint(fingerprint: string): boolean {
    const removed = this.fingerprints.delete(fingerprint);
    if (removed) this.changed();
    return removed;
  }

  /** Takes over another list's operator revocations wholesale (a worker process from its primary). */
  replaceOperatorRevocations(state: OperatorRevocations): void {
    this.ids.clear();
    this.fingerprints.clear();
    for (const [id, r] of Object.entries(state.spiffeIds)) this.ids.set(id, r);
    for (const [fp, r] of Object.entries(state.fingerprints)) this.fingerprints.set(fp, r);
    this.changed();
  }

  /** Operator revocation of an identity (not risk): the decision path refuses these. */
  identityRevocation(spiffeId: string): Revocation | undefined {
    return this.ids.get(spiffeId);
  }

  fingerprintRevocation(fingerprint: string): Revocation | undefined {
    return this.fingerprints.get(fingerprint);
  }

  get hasOperatorRevocations(): boolean {
    return this.ids.size > 0 || this.fingerprints.size > 0;
  }

  operatorRevocations(): OperatorRevocations {
    return { spiffeIds: Object.fromEntries(this.ids), fingerprints: Object.fromEntries(this.fingerprints) };
  }

  snapshot(): RevocationSnapshot {
    const ids = new Set(this.ids.keys());
    for (const id of this.criticalIdentities()) if (isRevocableIdentity(id)) ids.add(id);
    const spiffeIds = [...ids].sort();
    const fingerprints = [...this.fingerprints.keys()].sort();
    const content = JSON.stringify([spiffeIds, fingerprints]);
    if (this.last === null || content !== this.lastContent) {
      const version = Math.max((this.last?.version ?? 0) + 1, this.now());
      this.last = { version, spiffeIds, fingerprints, body: JSON.stringify({ version, spiffeIds, fingerprints }) };
      this.lastContent = content;
    }
    return this.last;
  }
}
