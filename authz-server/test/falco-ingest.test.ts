import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type IssuedSvid, TestCa } from "../../test/support/svid-ca.js";
import {
  at,
  falcoJson,
  HOST_ALERT,
  METRICS_SNAPSHOT,
  SHADOW_READ_IN_PAYMENT,
  SHELL_IN_ORDER,
  sidekickJson,
} from "./support/falco-alerts.js";
import { FALCO_TOKEN, falcoNow, ID, type RiskTestServer, startRiskServer } from "./support/risk-server.js";

const now = () => falcoNow();
const shell = () => falcoJson(at(SHELL_IN_ORDER, now()));
const shadow = () => falcoJson(at(SHADOW_READ_IN_PAYMENT, now()));

let server: RiskTestServer;

async function nothingRecorded(s: RiskTestServer): Promise<void> {
  const risk = await s.risk();
  expect(risk.identities).toEqual([]);
  expect((risk.feed as { state: string }).state).toBe("stale");
}

async function metricsText(s: RiskTestServer): Promise<string> {
  return (await fetch(`${s.httpUrl}/metrics`)).text();
}

describe("POST /v1/falco: authentication", () => {
  beforeAll(async () => {
    server = await startRiskServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it("refuses a request without credentials with 401, recording nothing", async () => {
    const r = await server.post(shell(), { token: null });
    expect(r.status).toBe(401);
    expect(r.body.error).toMatch(/Authorization: Bearer <token> or \?token=<token>/);
    expect(r.headers.get("www-authenticate")).toContain("Bearer");
    await nothingRecorded(server);
  });

  it("refuses a wrong bearer token and a wrong ?token=, recording nothing", async () => {
    expect((await server.post(shell(), { token: "wrong" })).status).toBe(401);
    expect((await server.post(shell(), { token: `${FALCO_TOKEN}x` })).status).toBe(401);
    expect((await server.post(shell(), { token: null, query: "?token=wrong" })).status).toBe(401);
    // A wrong header is not rescued by a right query token.
    expect((await server.post(shell(), { token: "wrong", query: `?token=${FALCO_TOKEN}` })).status).toBe(401);
    await nothingRecorded(server);
    expect(await metricsText(server)).toMatch(/trustgate_falco_ingest_rejections_total\{reason="unauthenticated"\} 5/);
  });

  it("accepts the bearer token (Falcosidekick customHeaders) and the query token (Falco http_output)", async () => {
    const bearer = await server.post(shell());
    expect(bearer.status).toBe(200);
    expect(bearer.body).toEqual({
      accepted: 1,
      mapped: 1,
      unattributed: 0,
      internal: 0,
      heartbeats: 0,
      attributions: 1,
      identities: [ID.order],
    });
    const query = await server.post(shadow(), { token: null, query: `?token=${encodeURIComponent(FALCO_TOKEN)}` });
    expect(query.status).toBe(200);
    expect(query.body.identities).toEqual([ID.payment]);
  });
});

describe("POST /v1/falco: ingest never open by default", () => {
  it("answers 401 to everything without a token or client certificates, and warns at start-up", async () => {
    const s = await startRiskServer({ falco: { token: "" } });
    try {
      const r = await s.post(shell(), { token: "anything" });
      expect(r.status).toBe(401);
      expect(r.body.error).toMatch(/Falco ingest is not configured/);
      expect(s.logs.some((l) => l.event === "falco ingest disabled")).toBe(true);
      await nothingRecorded(s);
    } finally {
      await s.close();
    }
  });
});

describe("POST /v1/falco: payloads", () => {
  afterEach(async () => {
    await server?.close();
  });

  it("accepts Falcosidekick's webhook (uuid, charset) and applies a resent uuid once", async () => {
    server = await startRiskServer();
    const body = sidekickJson(at(SHADOW_READ_IN_PAYMENT, now()), "6f1c0e2a-9b7d-4c3e-8f5a-1d2e3f4a5b6c");
    const first = await server.post(body, { contentType: "application/json; charset=utf-8" });
    expect(first.status).toBe(200);
    expect(first.body.mapped).toBe(1);
    const again = await server.post(body, { contentType: "application/json; charset=utf-8" });
    expect(again.status).toBe(200);
    const view = (await server.risk(`?id=${ID.payment}`)).identity as { score: number; alerts: unknown[] };
    expect(view.score).toBeCloseTo(10, 1);
    expect(view.alerts).toHaveLength(1);
  });

  it("accepts JSON Lines with several alerts and reports each outcome", async () => {
    server = await startRiskServer();
    const body = [shell(), shadow(), falcoJson(at(HOST_ALERT, now())), falcoJson(at(METRICS_SNAPSHOT, now()))].join(
      "\n",
    );
    const r = await server.post(body, { contentType: "application/x-ndjson" });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      accepted: 4,
      mapped: 2,
      unattributed: 1,
      internal: 1,
      heartbeats: 1,
      attributions: 2,
      identities: [ID.order, ID.payment],
    });
    const metrics = await metricsText(server);
    expect(metrics).toContain('trustgate_falco_alerts_total{priority="critical",mapping="mapped"} 1');
    expect(metrics).toContain('trustgate_falco_alerts_total{priority="warning",mapping="mapped"} 1');
    expect(metrics).toContain('trustgate_falco_alerts_total{priority="critical",mapping="unattributed"} 1');
    expect(metrics).toContain('trustgate_falco_alerts_total{priority="informational",mapping="internal"} 1');
    expect(metrics).toContain('trustgate_falco_unattributed_alerts_total{reason="unknown-workload"} 1');
    expect(metrics).toMatch(/trustgate_risk_identities\{level="critical"\} 1/);
    expect(metrics).toMatch(/trustgate_risk_identities\{level="medium"\} 1/);
    expect(metrics).toMatch(/trustgate_falco_feed_fresh 1/);
  });

  it("never adds risk for internal alerts; the metrics snapshot makes the feed fresh", async () => {
    server = await startRiskServer();
    expect(((await server.risk()).feed as { state: string }).state).toBe("stale");
    const snapshot = await server.post(falcoJson(at(METRICS_SNAPSHOT, now())));
    expect(snapshot.body).toMatchObject({ internal: 1, heartbeats: 1, mapped: 0 });
    // Falcosidekick turns its "Test rule" into source internal; an internal alert naming a workload adds nothing.
    const internal = await server.post(
      falcoJson(at(SHELL_IN_ORDER, now(), { source: "internal", rule: "Test rule", priority: "Debug" })),
    );
    expect(internal.body).toMatchObject({ internal: 1, heartbeats: 0, mapped: 0 });
    const risk = await server.risk();
    expect(risk.identities).toEqual([]);
    expect((risk.feed as { state: string }).state).toBe("fresh");
  });

  it("counts alerts about unknown workloads as unattributed, never guessing", async () => {
    server = await startRiskServer();
    const unknown = at(SHELL_IN_ORDER, now(), {
      output_fields: { "container.id": "", "container.name": null, "k8s.ns.name": "<NA>", "k8s.pod.name": "<NA>" },
    });
    const stranger = at(SHELL_IN_ORDER, now(), { output_fields: { "container.name": "falco", "container.id": "1" } });
    const r = await server.post([falcoJson(unknown), falcoJson(stranger), falcoJson(at(HOST_ALERT, now()))].join("\n"));
    expect(r.body).toMatchObject({ accepted: 3, mapped: 0, unattributed: 3 });
    expect((await server.risk()).identities).toEqual([]);
    expect(server.logs.some((l) => l.event === "falco alert unattributed")).toBe(true);
    const metrics = await metricsText(server);
    expect(metrics).toContain('trustgate_falco_unattributed_alerts_total{reason="unknown-workload"} 2');
    expect(metrics).toContain('trustgate_falco_unattributed_alerts_total{reason="no-match"} 1');
  });
});

describe("POST /v1/falco: validation (400 naming the field, nothing recorded)", () => {
  beforeAll(async () => {
    server = await startRiskServer();
  });
  afterAll(async () => {
    await server.close();
  });

  const base = () => at(SHELL_IN_ORDER, now()) as Record<string, unknown>;
  const drop = (field: string) => {
    const alert = base();
    delete alert[field];
    return alert;
  };
  const cases: Array<[string, string, () => unknown]> = [
    ["rule", "missing", () => drop("rule")],
    ["rule", "blank", () => ({ ...base(), rule: "   " })],
    ["priority", "missing", () => drop("priority")],
    ["priority", "not Falco's (High)", () => ({ ...base(), priority: "High" })],
    ["time", "missing", () => drop("time")],
    ["time", "not RFC 3339", () => ({ ...base(), time: "2026-11-28 10:00:00" })],
    ["time", "a number", () => ({ ...base(), time: 1795860000 })],
    ["output_fields", "missing", () => drop("output_fields")],
    ["output_fields", "an array", () => ({ ...base(), output_fields: ["container.id"] })],
    ["tags", "a string", () => ({ ...base(), tags: "shell" })],
  ];
  for (const [field, what, make] of cases) {
    it(`refuses ${field} ${what}`, async () => {
      const r = await server.post(JSON.stringify(make()));
      expect(r.status).toBe(400);
      expect(r.body.field).toBe(field);
      expect(r.body.error).toMatch(new RegExp(`^${field}: `));
    });
  }

  it("refuses a JSON Lines batch with one bad line whole, naming the line", async () => {
    const r = await server.post([shell(), shadow(), JSON.stringify({ ...base(), priority: "Severe" })].join("\n"));
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ field: "priority", line: 3 });
    expect(r.body.error).toMatch(/^line 3: priority: "Severe" is not a Falco priority/);
  });

  it("refuses non-JSON, arrays and empty bodies", async () => {
    expect((await server.post("Critical A shell was spawned", { contentType: "text/plain" })).status).toBe(400);
    expect((await server.post(JSON.stringify([base()]))).status).toBe(400);
    expect((await server.post("")).status).toBe(400);
  });

  it("recorded nothing for any of them", async () => {
    await nothingRecorded(server);
    expect(await metricsText(server)).toMatch(/trustgate_falco_ingest_rejections_total\{reason="invalid"\} 14/);
  });
});

describe("POST /v1/falco: limits", () => {
  afterEach(async () => {
    await server?.close();
  });

  it("answers 413 to a body over falco.ingest.maxBodyBytes, and to a batch larger than the burst", async () => {
    server = await startRiskServer({ falco: { ingest: { maxBodyBytes: 4096, burst: 3, ratePerSecond: 1000 } } });
    const big = await server.post(JSON.stringify({ ...at(SHELL_IN_ORDER, now()), output: "x".repeat(5000) }));
    expect(big.status).toBe(413);
    expect(big.body.error).toMatch(/exceeds the 4096 byte limit/);
    const batch = await server.post([shadow(), shadow(), shadow(), shadow()].join("\n"));
    expect(batch.status).toBe(413);
    expect(batch.body.error).toMatch(
      /batch of 4 alerts below Critical and 0 Critical or above exceeds the ingest burst/,
    );
    await nothingRecorded(server);
  });

  it("answers 429 with Retry-After past the rate limit, recording nothing of the refused request", async () => {
    server = await startRiskServer({
      falco: { ingest: { ratePerSecond: 0.5, burst: 3, urgentRatePerSecond: 0.5, urgentBurst: 2 } },
    });
    expect((await server.post([shadow(), shadow()].join("\n"))).status).toBe(200);
    const over = await server.post([shadow(), shadow()].join("\n"));
    expect(over.status).toBe(429);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await server.post(shadow())).status).toBe(200);
    const empty = await server.post(shadow());
    expect(empty.status).toBe(429);
    // Critical alerts have a budget of their own: the exhausted routine budget does not keep them out.
    expect((await server.post([shell(), shell()].join("\n"))).status).toBe(200);
    expect((await server.post(shell())).status).toBe(429);
    const risk = await server.risk();
    // Only accepted alerts count: three shadow reads for payment (not the refused three), order's two shells.
    const payment = (await server.risk(`?id=${ID.payment}`)).identity as { alerts: Array<{ count: number }> };
    expect(payment.alerts.map((a) => a.count)).toEqual([3]);
    const order = (await server.risk(`?id=${ID.order}`)).identity as { alerts: Array<{ count: number }> };
    expect(order.alerts.map((a) => a.count)).toEqual([2]);
    expect((risk.identities as unknown[]).length).toBe(2);
    const metrics = await metricsText(server);
    expect(metrics).toMatch(/trustgate_falco_ingest_rejections_total\{reason="rate_limited"\} 2/);
    expect(metrics).toMatch(/trustgate_falco_ingest_rejections_total\{reason="rate_limited_urgent"\} 1/);
  });

  it("a batch mixing classes past the routine budget still applies its Critical alerts, and says so", async () => {
    server = await startRiskServer({ falco: { ingest: { ratePerSecond: 0.5, burst: 2 } } });
    expect((await server.post([shadow(), shadow()].join("\n"))).status).toBe(200);
    const mixed = await server.post([shadow(), shell()].join("\n"));
    expect(mixed.status).toBe(429);
    expect(mixed.body).toMatchObject({ refused: 1, mapped: 1, identities: [ID.order] });
    expect(mixed.body.error).toMatch(/below Critical .*the 1 Critical or above were accepted/);
    expect((await server.check(ID.order)).allowed).toBe(false);
  });
});

describe("the separate ingest listener with mTLS client certificates", () => {
  let ca: TestCa;
  let otherCa: TestCa;
  let falcoCert: IssuedSvid;
  let strangerCert: IssuedSvid;
  let dir: string;

  beforeAll(async () => {
    ca = await TestCa.create("cluster.local");
    otherCa = await TestCa.create("other.example");
    dir = await mkdtemp(join(tmpdir(), "trustgate-ingest-tls-"));
    const serving = await ca.issue("spiffe://cluster.local/ns/security/sa/trustgate", { dnsNames: ["localhost"] });
    falcoCert = await ca.issue("spiffe://cluster.local/ns/falco/sa/falco");
    strangerCert = await otherCa.issue("spiffe://other.example/ns/falco/sa/falco");
    await writeFile(join(dir, "server.crt"), serving.certPem);
    await writeFile(join(dir, "server.key"), serving.keyPem);
    await writeFile(join(dir, "clients-ca.crt"), ca.certPem);
    server = await startRiskServer({
      falco: {
        ingest: {
          addr: "127.0.0.1:0",
          tls: {
            certFile: join(dir, "server.crt"),
            keyFile: join(dir, "server.key"),
            clientCaFile: join(dir, "clients-ca.crt"),
          },
        },
      },
    });
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  function post(
    body: string,
    client: { cert?: IssuedSvid; token?: string; path?: string },
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const [host, port] = server.server.risk.ingestAddress()!.split(":");
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host,
          port: Number(port),
          servername: "localhost",
          method: "POST",
          path: client.path ?? "/v1/falco",
          ca: ca.certPem,
          cert: client.cert?.certPem,
          key: client.cert?.keyPem,
          headers: {
            "content-type": "application/json",
            ...(client.token ? { authorization: `Bearer ${client.token}` } : {}),
          },
        },
        (res) => {
          let text = "";
          res.on("data", (d) => {
            text += d;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  it("accepts a client certificate from the configured CA without any token", async () => {
    const r = await post(shell(), { cert: falcoCert });
    expect(r.status).toBe(200);
    expect(r.body.identities).toEqual([ID.order]);
  });

  it("refuses a certificate from another CA, and no certificate without a token", async () => {
    expect((await post(shadow(), { cert: strangerCert })).status).toBe(401);
    expect((await post(shadow(), {})).status).toBe(401);
    expect(((await server.risk()).identities as unknown[]).length).toBe(1);
  });

  it("still accepts the token from clients without a certificate", async () => {
    expect((await post(shadow(), { token: FALCO_TOKEN })).status).toBe(200);
  });

  it("serves only /v1/falco (no admin endpoints on the ingest listener)", async () => {
    expect((await post("{}", { cert: falcoCert, path: "/v1/risk" })).status).toBe(404);
  });

  it("and the admin listener cannot be authenticated by a certificate (it has none): the token still works there", async () => {
    expect((await server.post(shell(), { token: null })).status).toBe(401);
    expect((await server.post(shell())).status).toBe(200);
  });
});
