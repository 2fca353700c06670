import { describe, expect, it } from "vitest";
import { listVersion, MAX_RECORDS, RevocationList } from "./revocation-list.js";
import { localizeExpiry, MAX_SEQUENCE, parseRevocationRecord, type RevocationRecord } from "./revocation-record.js";

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
    expect(revoke(list, "spiffe://cluster.local/ns/n/sa/w7", "a").seq).toBeGreaterThan(1);
  });

  it("stamps are hybrid: above every stamp seen, and at least the replica's clock (ms since 2020)", () => {
    let now = Date.UTC(2026, 11, 8);
    const list = new RevocationList(
      () => [],
      () => now,
    );
    const first = revoke(list, ORDER, "a");
    expect(first.seq).toBe(now - Date.UTC(2020, 0, 1));
    // A stamp seen from elsewhere that is ahead of this clock: the next one is above it.
    list.apply({ ...first, subject: WEB, seq: first.seq + 5_000, origin: "b" });
    expect(revoke(list, ORDER, "a").seq).toBe(first.seq + 5_001);
    now += 60_000;
    expect(revoke(list, ORDER, "a").seq).toBe(first.seq + 60_000);
  });

  it("property: after a partition heals, replicas agree, and a revocation made after the one a lift lifted stays", () => {
    // Three replicas, clocks up to 40 ms apart, operations 100 ms apart in real time on three subjects; records are
    // delivered late, in random order, or only after the partition heals.
    const subjects = [ORDER, WEB, "spiffe://cluster.local/ns/shop/sa/store"];
    for (let seed = 1; seed <= 200; seed++) {
      let s = seed;
      const rand = () => {
        s = (s * 1103515245 + 12345) % 2 ** 31;
        return s / 2 ** 31;
      };
      let realMs = Date.UTC(2026, 11, 8);
      const skews = [0, 40, -35];
      const replicas = skews.map(
        (skew) =>
          new RevocationList(
            () => [],
            () => realMs + skew,
          ),
      );
      const inFlight: Array<{ to: number; record: RevocationRecord }> = [];
      // For each subject: the real-time order of operations, and what each lift had seen.
      const history = new Map<string, Array<{ revoked: boolean; seq: number; lifted: number | null }>>();
      for (let step = 0; step < 40; step++) {
        realMs += 100;
        // Deliver some records that are in flight (a partition holds the rest back).
        for (let i = inFlight.length - 1; i >= 0; i--) {
          if (rand() < 0.3) {
            const [m] = inFlight.splice(i, 1);
            replicas[m!.to]!.apply(m!.record);
          }
        }
        const at = Math.floor(rand() * 3);
        const subject = subjects[Math.floor(rand() * 3)]!;
        const list = replicas[at]!;
        const record =
          rand() < 0.55 ? revoke(list, subject, `r${at}`) : list.lift("spiffeId", subject, "bob", `r${at}`);
        if (record === null) continue;
        const ops = history.get(subject) ?? [];
        ops.push({ revoked: record.revoked, seq: record.seq, lifted: record.revoked ? null : (record.lifts ?? null) });
        history.set(subject, ops);
        for (let to = 0; to < 3; to++) if (to !== at) inFlight.push({ to, record });
      }
      for (const m of inFlight) replicas[m.to]!.apply(m.record);
      const body = replicas[0]!.snapshot().body;
      for (const r of replicas) expect(r.snapshot().body, `seed ${seed}`).toBe(body);
      for (const [subject, ops] of history) {
        const revoked = replicas[0]!.identityRevocation(subject) !== undefined;
        // A revocation made after (in real time) the revocation that every later lift lifted must hold.
        const lastRevocation = ops.map((o) => o.revoked).lastIndexOf(true);
        const liftsAfter = ops.slice(lastRevocation + 1).filter((o) => !o.revoked);
        const lastSeq = ops[lastRevocation]?.seq;
        const overridden = liftsAfter.some((o) => (o.lifted ?? -1) >= (lastSeq ?? Number.POSITIVE_INFINITY));
        if (lastRevocation >= 0 && !overridden) expect(revoked, `seed ${seed} ${subject}`).toBe(true);
        // With no revocation at all after the last lift that saw the last revocation, the subject is free.
        if (overridden) expect(revoked, `seed ${seed} ${subject}`).toBe(false);
      }
    }
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

describe("revocations and lifts made concurrently (a partition)", () => {
  it("a revocation the lift had not seen wins over it, though the lift is stamped higher", () => {
    const a = new RevocationList();
    const b = new RevocationList();
    const first = revoke(a, ORDER, "a", "incident 7");
    b.apply(first);
    // Partitioned: B does unrelated work (its stamps grow), then lifts ORDER's revocation …
    revoke(b, WEB, "b");
    b.lift("spiffeId", WEB, "ops", "b");
    const lift = b.lift("spiffeId", ORDER, "ops", "b")!;
    expect(lift.lifts).toBe(first.seq);
    // … while A revokes ORDER again, with a lower stamp than B's lift.
    const again = revoke(a, ORDER, "a", "incident 7 escalated");
    expect(again.seq).toBeLessThan(lift.seq);
    // Healed, in either order: the revocation B's lift never saw stays in force, on both.
    a.apply(lift);
    for (const r of a.records()) b.apply(r);
    for (const l of [a, b]) expect(l.identityRevocation(ORDER)?.reason).toBe("incident 7 escalated");
    // The lift still overrides the revocation it lifted, arriving late.
    const c = new RevocationList();
    c.apply(lift);
    expect(c.apply(first)).toBe(false);
    expect(c.identityRevocation(ORDER)).toBeUndefined();
  });

  it("a lift from an older version (no `lifts`) overrides every revocation stamped before it", () => {
    const list = new RevocationList();
    const legacy: RevocationRecord = {
      kind: "spiffeId",
      subject: ORDER,
      revoked: false,
      reason: "",
      by: "ops",
      atMs: 1,
      expiresAtMs: null,
      seq: 5,
      origin: "old",
    };
    list.apply(legacy);
    expect(list.apply({ ...legacy, revoked: true, reason: "r", seq: 4, origin: "z" })).toBe(false);
    expect(list.apply({ ...legacy, revoked: true, reason: "r", seq: 6, origin: "a" })).toBe(true);
    expect(list.identityRevocation(ORDER)?.seq).toBe(6);
  });
});

describe("stamps at the bound", () => {
  const atBound: RevocationRecord = {
    kind: "spiffeId",
    subject: WEB,
    revoked: true,
    reason: "from the future",
    by: "ops",
    atMs: 1,
    expiresAtMs: null,
    seq: MAX_SEQUENCE,
    origin: "future",
  };
  it("saturate: a record made after one stamped at the bound is still readable", () => {
    const list = new RevocationList();
    list.apply(atBound);
    const record = revoke(list, ORDER, "a");
    expect(record.seq).toBe(MAX_SEQUENCE);
    expect(parseRevocationRecord(JSON.parse(JSON.stringify(record))).ok).toBe(true);
    expect(list.identityRevocation(ORDER)).toBeDefined();
  });

  it("a change that could not win at the bound is refused, never returned as if in force", () => {
    const list = new RevocationList();
    list.apply(atBound);
    // The lift wins over the revocation it lifts, even at the bound …
    const lift = list.lift("spiffeId", WEB, "ops", "a")!;
    expect(parseRevocationRecord(JSON.parse(JSON.stringify(lift)))).toEqual({ ok: true, record: lift });
    expect(list.identityRevocation(WEB)).toBeUndefined();
    // … but no revocation can win over that lift any more: refused (null), not answered and ignored.
    expect(list.revoke({ kind: "spiffeId", subject: WEB, reason: "r", by: "x", expiresAtMs: null }, "a")).toBeNull();
  });
});

describe("expiring revocations between replicas whose clocks disagree", () => {
  const MIN = 60_000;
  it("carry their TTL: a receiver never holds one longer than asked, and one from a slow clock is not expired on arrival", () => {
    const now = 1_000_000_000;
    // Made on a replica 11 minutes behind, for 5 minutes.
    const slow = new RevocationList(
      () => [],
      () => now - 11 * MIN,
    );
    const made = slow.revoke(
      { kind: "spiffeId", subject: ORDER, reason: "r", by: "x", expiresAtMs: now - 6 * MIN },
      "s",
    )!;
    expect(made.ttlMs).toBe(5 * MIN);
    const live = localizeExpiry(made, now, true);
    expect(live.expiresAtMs).toBe(now + 5 * MIN);
    // Read at start-up from what Redis kept (it may be long past): the sender's expiry, if earlier, stands.
    expect(localizeExpiry(made, now, false).expiresAtMs).toBe(now - 6 * MIN);
    // Made on a replica 10 s ahead: never beyond the TTL on the receiver's clock.
    const fast = new RevocationList(
      () => [],
      () => now + 10_000,
    );
    const ahead = fast.revoke(
      { kind: "spiffeId", subject: WEB, reason: "r", by: "x", expiresAtMs: now + 10_000 + MIN },
      "f",
    )!;
    expect(localizeExpiry(ahead, now, true).expiresAtMs).toBe(now + MIN);
    expect(localizeExpiry(ahead, now, false).expiresAtMs).toBe(now + MIN);
    // Records of older versions (no TTL) and lifts are held as they are.
    const { ttlMs: _, ...legacy } = made;
    expect(localizeExpiry(legacy, now, true)).toBe(legacy);
  });
});

describe("revocation records: fields added after format 1", () => {
  const base = {
    kind: "spiffeId",
    subject: ORDER,
    revoked: false,
    reason: "",
    by: "alice",
    atMs: 1,
    expiresAtMs: null,
    seq: 3,
    origin: "a",
  };
  it("are optional, and checked when present", () => {
    expect(parseRevocationRecord(base).ok).toBe(true);
    expect(parseRevocationRecord({ ...base, lifts: 2 }).ok).toBe(true);
    expect(parseRevocationRecord({ ...base, lifts: 4 })).toMatchObject({ ok: false, error: /lifts/ });
    expect(parseRevocationRecord({ ...base, revoked: true, reason: "r", lifts: 2 })).toMatchObject({ ok: false });
    const expiring = { ...base, revoked: true, reason: "r", expiresAtMs: 100 };
    expect(parseRevocationRecord({ ...expiring, ttlMs: 99 })).toEqual({ ok: true, record: { ...expiring, ttlMs: 99 } });
    expect(parseRevocationRecord({ ...expiring, ttlMs: 0 })).toMatchObject({ ok: false, error: /ttlMs/ });
    expect(parseRevocationRecord({ ...base, ttlMs: 99 })).toMatchObject({ ok: false, error: /ttlMs/ });
  });
});
