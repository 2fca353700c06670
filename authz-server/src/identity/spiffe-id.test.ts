import { describe, expect, it } from "vitest";
import { kubernetesNamespaceOf, kubernetesServiceAccountOf, parseSpiffeId } from "./spiffe-id.js";

// Vectors follow the SPIFFE-ID standard and the test tables of the reference implementation (go-spiffe).
const valid = [
  "spiffe://trustdomain",
  "spiffe://trustdomain/path",
  "spiffe://example.org/ns/default/sa/default",
  "spiffe://staging.example.com/payments/mysql",
  "spiffe://example.com/9eebccd2-12bf-40a6-b262-65fe0487d453",
  "spiffe://trustdomain/.path",
  "spiffe://trustdomain/..path",
  "spiffe://trustdomain/...",
  "spiffe://192.168.0.1/x",
  "spiffe://td_with-all.chars09/Path_With-All.Chars09",
];

const invalid: Array<[string, string]> = [
  ["", "cannot be empty"],
  ["s", "scheme is missing or invalid"],
  ["spiffe:/", "scheme is missing or invalid"],
  ["Spiffe://trustdomain", "scheme is missing or invalid"],
  ["SPIFFE://trustdomain", "scheme is missing or invalid"],
  ["spiffe:/trustdomain/path", "scheme is missing or invalid"],
  ["https://trustdomain/path", "scheme is missing or invalid"],
  ["spiffe://", "trust domain is missing"],
  ["spiffe:///", "trust domain is missing"],
  ["spiffe:///path", "trust domain is missing"],
  ["spiffe://trustdomain/", "trailing slash"],
  ["spiffe://trustdomain/path/", "trailing slash"],
  ["spiffe://trustdomain//", "empty segments"],
  ["spiffe://trustdomain//path", "empty segments"],
  ["spiffe://trustdomain/.", "dot segments"],
  ["spiffe://trustdomain/./path", "dot segments"],
  ["spiffe://trustdomain/path/./other", "dot segments"],
  ["spiffe://trustdomain/..", "dot segments"],
  ["spiffe://trustdomain/../path", "dot segments"],
  ["spiffe://trustdomain/path/..", "dot segments"],
  ["spiffe://trustdomain/path/../other", "dot segments"],
  ["spiffe://%F0%9F%A4%AF/path", "trust domain characters"],
  ["spiffe://%62%61%64/path", "trust domain characters"],
  ["spiffe://trustdomain/%F0%9F%A4%AF", "path segment characters"],
  ["spiffe://trustdomain/%62%61%64", "path segment characters"],
  ["spiffe://trust$domain", "trust domain characters"],
  ["spiffe://trustdomain/path$", "path segment characters"],
  ["spiffe://TrustDomain/path", "trust domain characters"],
  ["spiffe://example.org:8443/path", "trust domain characters"],
  ["spiffe://user@example.org/path", "trust domain characters"],
  ["spiffe://[::1]/path", "trust domain characters"],
  ["spiffe://example.org/path?x=1", "path segment characters"],
  ["spiffe://example.org/path#frag", "path segment characters"],
  ["spiffe://example.org/a b", "path segment characters"],
  ["spiffe://example.org/caf\u00e9", "path segment characters"],
];

describe("parseSpiffeId", () => {
  it.each(valid)("accepts %s", (input) => {
    const result = parseSpiffeId(input);
    expect(result).toMatchObject({ ok: true, id: { uri: input } });
  });

  it.each(invalid)("rejects %j (%s)", (input, message) => {
    const result = parseSpiffeId(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(message);
  });

  it("splits trust domain and path", () => {
    const result = parseSpiffeId("spiffe://cluster.local/ns/services/sa/order");
    expect(result).toEqual({
      ok: true,
      id: {
        uri: "spiffe://cluster.local/ns/services/sa/order",
        trustDomain: "cluster.local",
        path: "/ns/services/sa/order",
      },
    });
  });

  it("accepts every allowed trust-domain byte and refuses every other one", () => {
    for (let c = 0; c < 256; c++) {
      if (c === 0x2f) continue;
      const ch = String.fromCharCode(c);
      const allowed = /[a-z0-9._-]/.test(ch);
      expect(parseSpiffeId(`spiffe://trustdomain${ch}/path`).ok, `byte ${c}`).toBe(allowed);
    }
  });

  it("accepts every allowed path byte and refuses every other one", () => {
    for (let c = 0; c < 256; c++) {
      if (c === 0x2f) continue;
      const ch = String.fromCharCode(c);
      const allowed = /[a-zA-Z0-9._-]/.test(ch);
      expect(parseSpiffeId(`spiffe://trustdomain/path${ch}`).ok, `byte ${c}`).toBe(allowed);
    }
  });

  it("enforces the length limits", () => {
    const longPath = `/${"a".repeat(2048)}`;
    expect(parseSpiffeId(`spiffe://td${longPath}`)).toMatchObject({ ok: false });
    expect(parseSpiffeId(`spiffe://${"a".repeat(256)}/x`)).toMatchObject({ ok: false });
    expect(parseSpiffeId(`spiffe://${"a".repeat(255)}/x`)).toMatchObject({ ok: true });
  });
});

describe("Kubernetes path convention", () => {
  it("reads namespace and service account", () => {
    expect(kubernetesNamespaceOf("/ns/services/sa/order")).toBe("services");
    expect(kubernetesServiceAccountOf("/ns/services/sa/order")).toBe("order");
    expect(kubernetesServiceAccountOf("/ns/services/sa/order/extra")).toBe("order");
  });
  it("returns empty for paths without the convention", () => {
    expect(kubernetesNamespaceOf("/payments/mysql")).toBe("");
    expect(kubernetesServiceAccountOf("/ns/services")).toBe("");
    expect(kubernetesServiceAccountOf("/ns/services/pod/x")).toBe("");
    expect(kubernetesNamespaceOf("")).toBe("");
  });
});
