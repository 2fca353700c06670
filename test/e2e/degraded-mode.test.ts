/**
 * Degraded mode: trustgate is down and ext_authz is switched to fail-open, yet the identity Falco flagged stays
 * blocked, because every sidecar's Wasm filter keeps the revocation list it last polled from trustgate (critical-risk
 * identities are on it). The filter that refuses order is payment's: there order is the peer. Own mesh: this test
 * stops trustgate.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitUntil } from "../mesh/child-processes.js";
import { terminalShellAlert } from "../mesh/falco-alert.js";
import { Mesh, type MeshCallResult } from "../mesh/mesh.js";
import { WORKLOADS } from "../mesh/workloads.js";

const ORDER = WORKLOADS.order.spiffeId;
let mesh: Mesh;

beforeAll(async () => {
  mesh = await Mesh.start({ halfLifeSeconds: 5, revocationPollMs: 250 });
});

afterAll(async () => {
  await mesh?.stop();
});

function body(result: MeshCallResult): Record<string, unknown> {
  return result.body as Record<string, unknown>;
}

describe("degraded mode", () => {
  it("with trustgate stopped and ext_authz failing open, the filter's revocation list still blocks the compromised identity", async () => {
    const payment = mesh.sidecar("payment");
    expect((await mesh.call("order", "payment", "/api/v1/payment/42", "POST")).status).toBe(200);

    // Falco catches a shell in order; trustgate puts order (critical risk) on the revocation list.
    const ingest = await mesh.postFalco(terminalShellAlert("order"));
    expect(ingest.status).toBe(200);
    const list = (await (await fetch(`${mesh.trustgate.adminUrl}/v1/revocations`)).json()) as { spiffeIds: string[] };
    expect(list.spiffeIds).toContain(ORDER);
    // payment's filter picks it up on its own poll timer (pollMs 250).
    await waitUntil(
      async () => payment.filter.metric("trustgate_filter_revocation_list_entries") >= 1n,
      5000,
      "payment's filter polling the revocation list",
    );
    const whileUp = await mesh.call("order", "payment", "/api/v1/payment/42", "POST");
    expect(whileUp.status).toBe(403);
    expect(body(whileUp)).toMatchObject({ policy: "local/revoked" });

    // Polling worked while trustgate was up: a 200 with the list, then 304s for the unchanged version.
    expect(payment.filter.metric("trustgate_filter_revocation_poll_failures_total")).toBe(0n);
    expect(payment.filter.metric("trustgate_filter_revocation_polls_total")).toBeGreaterThanOrEqual(2n);

    // trustgate goes away.
    expect(await mesh.trustgate.stop()).toBe(0);
    // Fail-closed first (failure_mode_allow: false, status_on_error 403): nothing gets through.
    const closed = await mesh.call("web", "api", "/api/products");
    expect(closed.status).toBe(403);
    expect(closed.entry).toMatchObject({ decidedBy: "ext_authz_error", allowed: false });

    // The operator switches ext_authz to fail-open.
    for (const sidecar of mesh.sidecars.values()) sidecar.failureModeAllow = true;
    const failuresBefore = payment.filter.metric("trustgate_filter_revocation_poll_failures_total");

    const blocked = await mesh.call("order", "payment", "/api/v1/payment/42", "POST");
    expect(blocked.status).toBe(403);
    expect(body(blocked)).toMatchObject({ decision: "deny", policy: "local/revoked", rule: 0 });
    expect(String(body(blocked).reason)).toContain(ORDER);
    expect(blocked.entry).toMatchObject({ decidedBy: "filter", peer: ORDER });

    const open = await mesh.call("web", "api", "/api/products");
    expect(open.status).toBe(200);
    const seen = (body(open).headers ?? {}) as Record<string, string>;
    expect(seen["x-envoy-auth-failure-mode-allowed"]).toBe("true");
    expect(seen["x-trustgate-decision-id"]).toBeUndefined();
    expect(seen["x-trustgate-peer-spiffe-id"]).toBe(WORKLOADS.web.spiffeId); // the filter still sets identity
    expect(open.entry).toMatchObject({ decidedBy: "failure_mode_allowed", allowed: true });
    // Calls to order (order is the destination, not the peer) go through too.
    expect((await mesh.call("api", "order", "/api/v1/orders", "POST")).status).toBe(200);

    // The list outlives failed polls: the filter keeps polling, fails, and keeps the last list in force.
    await waitUntil(
      async () => payment.filter.metric("trustgate_filter_revocation_poll_failures_total") > failuresBefore,
      5000,
      "a failed revocation poll",
    );
    expect(payment.filter.metric("trustgate_filter_revocation_list_entries")).toBeGreaterThanOrEqual(1n);
    expect((await mesh.call("order", "payment", "/api/v1/payment/42", "POST")).status).toBe(403);
  });
});
