import { afterEach, describe, expect, it } from "vitest";
import { at, falcoJson, SHADOW_READ_IN_PAYMENT, SHELL_IN_ORDER } from "./support/falco-alerts.js";
import { ADMIN_TOKEN, falcoNow, ID, type RiskTestServer, startRiskServer } from "./support/risk-server.js";

let server: RiskTestServer;

afterEach(async () => {
  await server?.close();
});

async function del(s: RiskTestServer, query: string, token: string | null = ADMIN_TOKEN) {
  const res = await fetch(`${s.httpUrl}/v1/risk${query}`, {
    method: "DELETE",
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("GET /v1/risk", () => {
  it("lists every workload with risk: score, level, highest alert, explanation, active alerts; riskiest first", async () => {
    server = await startRiskServer();
    const shellTime = falcoNow();
    await server.post(
      [falcoJson(at(SHADOW_READ_IN_PAYMENT, falcoNow())), falcoJson(at(SHELL_IN_ORDER, shellTime))].join("\n"),
    );
    const risk = await server.risk();
    expect(risk.feed).toMatchObject({ state: "fresh", staleAfterSeconds: 300 });
    const identities = risk.identities as Array<Record<string, unknown>>;
    expect(identities.map((i) => i.spiffeId)).toEqual([ID.order, ID.payment]);
    expect(identities[0]).toEqual({
      spiffeId: ID.order,
      level: "critical",
      highestAlert: "critical",
      explanation: `Falco "Terminal shell in container" (Critical, ${shellTime})`,
      score: expect.closeTo(50, 1),
      activeAlerts: [
        {
          rule: "Terminal shell in container",
          priority: "Critical",
          time: shellTime,
          lastTime: shellTime,
          count: 1,
          weight: 50,
          score: expect.closeTo(50, 1),
          active: true,
          receivedAt: expect.any(String),
        },
      ],
      retainedAlerts: 1,
    });
    expect(identities[1]).toMatchObject({ level: "medium", highestAlert: "warning" });
  });

  it("shows one workload by ?id=, a quiet one as low, and refuses an invalid id", async () => {
    server = await startRiskServer();
    await server.post(falcoJson(at(SHELL_IN_ORDER, falcoNow())));
    const one = (await server.risk(`?id=${encodeURIComponent(ID.order)}`)).identity as Record<string, unknown>;
    expect(one).toMatchObject({ spiffeId: ID.order, level: "critical", retainedAlerts: 1 });
    expect((one.alerts as unknown[]).length).toBe(1);
    const quiet = (await server.risk(`?id=${ID.web}`)).identity;
    expect(quiet).toMatchObject({ spiffeId: ID.web, level: "low", highestAlert: "none", explanation: "", score: 0 });
    const bad = await fetch(`${server.httpUrl}/v1/risk?id=spiffe://cluster.local/ns/../x`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^id: /);
  });
});

describe("DELETE /v1/risk", () => {
  it("needs the admin token; clears the workload, logs it, and restores access and the revocation list", async () => {
    server = await startRiskServer();
    await server.post(falcoJson(at(SHELL_IN_ORDER, falcoNow())));
    expect((await server.check(ID.order)).allowed).toBe(false);
    const revoked = (await (await fetch(`${server.httpUrl}/v1/revocations`)).json()) as { spiffeIds: string[] };
    expect(revoked.spiffeIds).toEqual([ID.order]);

    expect((await del(server, `?id=${ID.order}`, null)).status).toBe(401);
    expect((await del(server, `?id=${ID.order}`, "wrong")).status).toBe(401);
    expect((await del(server, "")).status).toBe(400);
    expect((await del(server, "?id=order")).status).toBe(400);
    expect((await server.check(ID.order)).allowed).toBe(false);

    const cleared = await del(server, `?id=${encodeURIComponent(ID.order)}`);
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ cleared: ID.order, removedAlerts: 1, levelBefore: "critical" });
    expect((await server.check(ID.order)).allowed).toBe(true);
    const after = (await (await fetch(`${server.httpUrl}/v1/revocations`)).json()) as { spiffeIds: string[] };
    expect(after.spiffeIds).toEqual([]);
    expect(server.logs.find((l) => l.event === "risk cleared by operator")).toMatchObject({
      spiffe_id: ID.order,
      removed_alerts: 1,
      level_before: "critical",
    });
    // Only alerts received before the clear go: a new one counts again.
    await server.post(falcoJson(at(SHELL_IN_ORDER, falcoNow())));
    expect((await server.check(ID.order)).allowed).toBe(false);
  });

  it("is disabled (403) when no admin token is configured", async () => {
    server = await startRiskServer({ http: { adminToken: "" } });
    expect((await del(server, `?id=${ID.order}`, "anything")).status).toBe(403);
  });
});
