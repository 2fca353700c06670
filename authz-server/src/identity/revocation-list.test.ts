import { describe, expect, it } from "vitest";
import { listVersion, MAX_RECORDS, RevocationList } from "./revocation-list.js";
import { parseRevocationRecord, type RevocationRecord } from "./revocation-record.js";

const ORDER = "spiffe://cluster.local/ns/services/sa/order";
const WEB = "spiffe://cluster.local/ns/frontend/sa/web";
const FP = `sha256:${"ab".repeat(32)}`;

function revoke(list: RevocationList, subject: string, origin: string, reason = "r"): RevocationRecord {
  const record = list.revoke({ kind: "spiffeId", subject, reason, by: "alice", expiresAtMs: null }, origin);
  if (record === null) throw new Error("full");
  return record;
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("RevocationList", () => {
  it("serves the same bytes and version for the same content, whatever the order and the clocks", () => {
    const a = new RevocationList(
      () => [],
      () => 1_000,
    );
    const b = new RevocationList(
      () => [],
      () => 9_999_999_999,
    );
    revoke(a, ORDER, "a");
    revoke(a, WEB, "a");
    for (const r of a.records()) b.apply(r);
    expect(b.snapshot().body).toBe(a.snapshot().body);
    expect(b.snapshot().etag).toBe(a.snapshot().etag);
    expect(a.snapshot().body).toBe(
      `{"version":${listVersion([WEB, ORDER], [])},"spiffeIds":["${WEB}","${ORDER}"],"fingerprints":[]}`,
    );
    // Identities at critical risk are part of the content, deduplicated with operator revocations.
    const c = new RevocationList(() => [ORDER, WEB, "spiffe://cluster.local"]);
    expect(c.snapshot().body).toBe(a.snapshot().body);
  });

  it("versions are positive safe integers that change exactly when the content does", () => {
    const list = new RevocationList();
    const empty = list.snapshot();
    expect(empty.version).toBe(listVersion([], []));
    expect(Number.isSafeInteger(empty.version) && empty.version >= 1).toBe(true);
    expect(list.snapshot()).toBe(empty);
    revoke(list, ORDER, "x");
    const one = list.snapshot();
    expect(one.version).not.toBe(empty.version);
    list.lift("spiffeId", ORDER, "bob", "x");
    expect(list.snapshot().version).toBe(empty.version);
  });

  it("converges: replicas that saw the same records, in any order, hold the same list", () => {
    const a = new RevocationList();
    const b = new RevocationList();
    const all: RevocationRecord[] = [];
    // Concurrent, conflicting changes on two replicas that do not see each other.
    all.push(revoke(a, ORDER, "a", "from a"));
    all.push(revoke(b, ORDER, "b", "from b"));
    all.push(revoke(b, WEB, "b"));
    all.push(a.lift("spiffeId", ORDER, "bob", "a")!);
    all.push(revoke(a, WEB, "a", "again"));
    all.push(b.lift("spiffeId", WEB, "carol", "b")!);
    const lists = [0, 1, 2, 3, 4].map((seed) => {
      const l = new RevocationList();
      for (const r of shuffled(all, seed)) l.apply(r);
      return l;
    });
    for (const r of all) {
      a.apply(r);
      b.apply(r);
    }
    const body = a.snapshot().body;
    for (const l of [b, ...lists]) {
      expect(l.snapshot().body).toBe(body);
      expect(l.records()).toEqual(a.records());
    }
  });

  it("a lift is kept, so an older revocation arriving late cannot bring it back", () => {
    const a = new RevocationList();
    const old = revoke(a, ORDER, "a");
    const lift = a.lift("spiffeId", ORDER, "bob", "a")!;
    const b = new RevocationList();
    b.apply(lift);
    expect(b.apply(old)).toBe(false);
    expect(b.identityRevocation(ORDER)).toBeUndefined();
    // A record made after seeing the lift wins over it.
    expect(revoke(b, ORDER, "b").seq).toBeGreaterThan(lift.seq);
    expect(b.identityRevocation(ORDER)?.reason).toBe("r");
  });

  it("an expiring revocation stops applying at its time, in lookups and in the served list", () => {
    let now = 1_000_000;
    const list = new RevocationList(
      () => [],
      () => now,
    );
    list.revoke({ kind: "fingerprint", subject: FP, reason: "leak", by: "x", expiresAtMs: now + 500 }, "a");
    expect(list.fingerprintRevocation(FP)?.reason).toBe("leak");
    expect(list.snapshot().fingerprints).toEqual([FP]);
    now += 500;
    expect(list.fingerprintRevocation(FP)).toBeUndefined();
    expect(list.snapshot().fingerprints).toEqual([]);
    expect(list.operatorRevocations()).toEqual([]);
    expect(list.lift("fingerprint", FP, "x", "a")).toBeNull();
  });

  it("refuses a new subject when full, never an update of one it holds", () => {
    const list = new RevocationList();
    for (let i = 0; i < MAX_RECORDS; i++) {
      list.apply({
        kind: "spiffeId",
        subject: `spiffe://cluster.local/ns/n/sa/w${i}`,
        revoked: true,
        reason: "r",
        by: "",
        atMs: 0,
        expiresAtMs: null,
        seq: 1,
        origin: "o",
      });
    }
    expect(revoke.bind(null, list, ORDER, "a")).toThrow("full");
    expect(revoke(list, "spiffe://cluster.local/ns/n/sa/w7", "a").seq).toBe(2);
  });
});

describe("revocation records from outside", () => {
  const valid = {
    kind: "spiffeId",
    subject: ORDER,
    revoked: true,
    reason: "r",
    by: "alice",
    atMs: 1,
    expiresAtMs: null,
    seq: 3,
    origin: "a",
  };
  it("accepts a well-formed record and refuses anything else", () => {
    expect(parseRevocationRecord(valid)).toEqual({ ok: true, record: valid });
    const broken: Array<[unknown, RegExp]> = [
      [null, /not an object/],
      [{ ...valid, kind: "ip" }, /kind/],
      [{ ...valid, subject: "spiffe://cluster.local" }, /has a path/],
      [{ ...valid, kind: "fingerprint" }, /fingerprint must be/],
      [{ ...valid, revoked: "yes" }, /revoked/],
      [{ ...valid, reason: "" }, /reason/],
      [{ ...valid, atMs: 1.5 }, /atMs/],
      [{ ...valid, expiresAtMs: "soon" }, /expiresAtMs/],
      [{ ...valid, seq: 0 }, /seq/],
      [{ ...valid, seq: 2 ** 41 }, /seq/],
      [{ ...valid, origin: "" }, /origin/],
    ];
    for (const [value, error] of broken) {
      const parsed = parseRevocationRecord(value);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error).toMatch(error);
    }
    // A lift has no reason.
    expect(parseRevocationRecord({ ...valid, revoked: false, reason: "" }).ok).toBe(true);
  });
});
