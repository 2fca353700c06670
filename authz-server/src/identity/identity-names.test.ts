import { describe, expect, it } from "vitest";
import { IdentityNames, SINGLE_NAMES } from "./identity-names.js";
import { RevocationList } from "./revocation-list.js";

const names = new IdentityNames("td1", ["old.local", "td1"]);

describe("IdentityNames", () => {
  it("names an alias ID by the mesh trust domain, and lists every name of it", () => {
    expect(names.canonical("spiffe://old.local/ns/a/sa/b")).toBe("spiffe://td1/ns/a/sa/b");
    expect(names.canonical("spiffe://td1/ns/a/sa/b")).toBe("spiffe://td1/ns/a/sa/b");
    expect(names.names("spiffe://old.local/ns/a/sa/b")).toEqual([
      "spiffe://td1/ns/a/sa/b",
      "spiffe://old.local/ns/a/sa/b",
    ]);
    expect(names.names("spiffe://td1/ns/a/sa/b")).toEqual(["spiffe://td1/ns/a/sa/b", "spiffe://old.local/ns/a/sa/b"]);
  });

  it("leaves other trust domains, look-alike prefixes and meshes without aliases alone", () => {
    expect(names.canonical("spiffe://old.local.evil/ns/a/sa/b")).toBe("spiffe://old.local.evil/ns/a/sa/b");
    expect(names.names("spiffe://other/ns/a/sa/b")).toEqual(["spiffe://other/ns/a/sa/b"]);
    expect(SINGLE_NAMES.aliased).toBe(false);
    expect(SINGLE_NAMES.names("spiffe://cluster.local/ns/a/sa/b")).toEqual(["spiffe://cluster.local/ns/a/sa/b"]);
  });

  it("makes a revocation of either name cover both, and serves both to the sidecars", () => {
    const list = new RevocationList(() => ["spiffe://old.local/ns/x/sa/risky"], Date.now, names);
    list.revoke(
      { kind: "spiffeId", subject: "spiffe://td1/ns/a/sa/b", reason: "r", by: "op", expiresAtMs: null },
      "here",
    );
    expect(list.identityRevocation("spiffe://old.local/ns/a/sa/b")?.reason).toBe("r");
    expect(list.identityRevocation("spiffe://td1/ns/a/sa/b")?.reason).toBe("r");
    expect(list.identityRevocation("spiffe://td1/ns/a/sa/c")).toBeUndefined();
    expect(list.snapshot().spiffeIds).toEqual([
      "spiffe://old.local/ns/a/sa/b",
      "spiffe://old.local/ns/x/sa/risky",
      "spiffe://td1/ns/a/sa/b",
      "spiffe://td1/ns/x/sa/risky",
    ]);
  });
});
