/**
 * Graceful shutdown of a real `trustgate serve` process against clients that keep something open: a half-sent admin
 * request, a slow-loris header, a gRPC Check stream that never sends its message, a stalled OTLP collector. The
 * README promises: SIGTERM → NOT_SERVING, in-flight Checks finished within `shutdownGraceSeconds`, listeners
 * closed, state saved, logs flushed, exit 0 "as soon as that is done". Each probe uses `shutdownGraceSeconds: 1` and
 * expects the process gone (exit 0, risk snapshot written) within a few seconds of SIGTERM: a client must not be able
 * to hold the process past its grace (Kubernetes then SIGKILLs it at terminationGracePeriodSeconds, before the risk
 * snapshot is saved).
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import http2 from "node:http2";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCheckRequest } from "../../authz-server/src/extauthz/build-check-request.js";
import { CheckClient } from "../../authz-server/src/grpc/check-client.js";
import { type OtlpReceiver, startOtlpReceiver } from "../../authz-server/test/support/otlp-receiver.js";
import { type ServeProcess, startServe } from "../../authz-server/test/support/process.js";
import { FALCO_TOKEN, openRaw, policyDir, STORE, sleep, WEB } from "./support.js";

/** How long after SIGTERM the process may take, with nothing in flight but the hostile client (grace is 1 s). */
const EXIT_BUDGET_MS = 4_000;

let fixture: Awaited<ReturnType<typeof policyDir>>;
beforeAll(async () => {
  fixture = await policyDir();
});
afterAll(async () => {
  await fixture?.cleanup();
});

async function serve(
  name: string,
  log = "{level: warn}",
  env: Record<string, string> = {},
): Promise<{ server: ServeProcess; snapshot: string }> {
  const snapshot = join(fixture.dir, `${name}.snapshot.json`);
  const config = join(fixture.dir, `${name}.yaml`);
  await writeFile(
    config,
    `workers: 1\nshutdownGraceSeconds: 1\nlog: ${log}\nrisk: {snapshotFile: ${JSON.stringify(snapshot)}}\nfalco: {token: ${FALCO_TOKEN}}\n`,
  );
  const server = await startServe(
    ["--config", config, "--policy-dir", fixture.policies, "--workloads", fixture.workloads],
    env,
  );
  return { server, snapshot };
}

/**
 * SIGTERM, then how long until exit. Past `budget` + 1 s the process is SIGKILLed so the suite stays bounded (what
 * Kubernetes does at terminationGracePeriodSeconds): exit code null, and no snapshot if it had not been written.
 */
async function timedStop(
  server: ServeProcess,
  budgetMs = EXIT_BUDGET_MS,
): Promise<{ ms: number; code: number | null }> {
  const started = Date.now();
  const killer = setTimeout(() => server.child.kill("SIGKILL"), budgetMs + 1_000);
  const code = await server.stop("SIGTERM");
  clearTimeout(killer);
  return { ms: Date.now() - started, code };
}

async function postAlert(server: ServeProcess): Promise<void> {
  const res = await fetch(`${server.httpUrl}/v1/falco`, {
    method: "POST",
    headers: { authorization: `Bearer ${FALCO_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({
      rule: "Terminal shell in container",
      priority: "Notice",
      time: new Date().toISOString(),
      output_fields: { "container.name": "web" },
    }),
  });
  expect(res.status).toBe(200);
}

describe("shutdown with hostile clients attached", () => {
  it("a half-sent admin request body (Content-Length promised, never delivered) does not hold the exit", async () => {
    const { server, snapshot } = await serve("half-body");
    await postAlert(server);
    const socket = await openRaw(server.httpUrl);
    socket.on("error", () => undefined);
    socket.write(
      `POST /v1/falco HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${FALCO_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"rule":`,
    );
    await sleep(200);
    const { ms, code } = await timedStop(server);
    socket.destroy();
    expect({ code, snapshotWritten: existsSync(snapshot) }).toEqual({ code: 0, snapshotWritten: true });
    expect(ms, `exit took ${ms} ms after SIGTERM`).toBeLessThan(EXIT_BUDGET_MS);
  });

  it("an admin request that completes during the shutdown does not keep its keep-alive connection (and the exit) open", async () => {
    // A Falco post or a Prometheus scrape in flight when the admin listener closes: answered, then kept open for
    // keepAliveTimeout (65 s) unless the server says Connection: close or closes it.
    const { server, snapshot } = await serve("keep-alive");
    await postAlert(server);
    const socket = await openRaw(server.httpUrl);
    socket.on("error", () => undefined);
    let response = "";
    socket.on("data", (d) => {
      response += d.toString("latin1");
    });
    const body = JSON.stringify({ rule: "x" });
    socket.write(
      `POST /v1/falco HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${FALCO_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 1)}`,
    );
    await sleep(200);
    const stopped = timedStop(server);
    await sleep(300); // the listener is closing now
    socket.write(body.slice(1));
    const { ms, code } = await stopped;
    socket.destroy();
    expect(response).toMatch(/^HTTP\/1\.1 400/);
    expect({ code, snapshotWritten: existsSync(snapshot) }).toEqual({ code: 0, snapshotWritten: true });
    expect(ms, `exit took ${ms} ms after SIGTERM`).toBeLessThan(EXIT_BUDGET_MS);
  });

  it("a slow-loris connection (request headers never finished) does not hold the exit", async () => {
    const { server, snapshot } = await serve("slow-loris");
    await postAlert(server);
    const socket = await openRaw(server.httpUrl);
    socket.on("error", () => undefined);
    socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n");
    const drip = setInterval(() => socket.write("X-B: 1\r\n"), 300);
    await sleep(200);
    const { ms, code } = await timedStop(server);
    clearInterval(drip);
    socket.destroy();
    expect({ code, snapshotWritten: existsSync(snapshot) }).toEqual({ code: 0, snapshotWritten: true });
    expect(ms, `exit took ${ms} ms after SIGTERM`).toBeLessThan(EXIT_BUDGET_MS);
  });

  it("a gRPC Check stream that never sends its message is cut at shutdownGraceSeconds", async () => {
    const { server, snapshot } = await serve("half-open-grpc");
    await postAlert(server);
    const session = http2.connect(`http://${server.grpcAddress}`);
    session.on("error", () => undefined);
    const stream = session.request({
      ":method": "POST",
      ":path": "/envoy.service.auth.v3.Authorization/Check",
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.on("error", () => undefined);
    stream.on("data", () => undefined);
    stream.write(Buffer.from([0, 0, 0, 0, 50])); // promises 50 bytes that never come
    await sleep(200);
    const { ms, code } = await timedStop(server);
    session.destroy();
    expect({ code, snapshotWritten: existsSync(snapshot) }).toEqual({ code: 0, snapshotWritten: true });
    expect(ms, `exit took ${ms} ms after SIGTERM`).toBeLessThan(EXIT_BUDGET_MS);
  });

  describe("with decision logs shipped to a collector that has stopped answering", () => {
    let receiver: OtlpReceiver;
    beforeAll(async () => {
      receiver = await startOtlpReceiver();
    });
    afterAll(async () => {
      await receiver?.close();
    });

    it("the stalled collector does not hold the exit, and the risk snapshot is saved", async () => {
      receiver.stall(true);
      const { server, snapshot } = await serve("stalled-otlp", "{level: info, ship: otlp, shipIntervalMs: 50}", {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      });
      await postAlert(server);
      const client = new CheckClient(server.grpcAddress);
      try {
        for (let i = 0; i < 20; i++) {
          const r = await client.check(
            buildCheckRequest({ source: { principal: WEB }, destination: { principal: STORE }, path: `/x/${i}` }),
          );
          expect(r.status.code).toBe(0);
        }
      } finally {
        client.close();
      }
      await sleep(300); // at least one export is now held by the collector
      const { ms, code } = await timedStop(server);
      expect({ code, snapshotWritten: existsSync(snapshot) }).toEqual({ code: 0, snapshotWritten: true });
      expect(ms, `exit took ${ms} ms after SIGTERM`).toBeLessThan(EXIT_BUDGET_MS);
    });
  });
});
