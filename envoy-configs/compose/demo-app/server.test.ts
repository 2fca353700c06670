// The demo app's HTTP contract, exercised on real loopback sockets: a stand-in for the sidecar's outbound
// listener records what the app sends, so the Host routing and the /call answer shape are checked end to end.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const serverFile = join(dirname(fileURLToPath(import.meta.url)), "server.mjs");

interface Seen {
  method: string;
  url: string;
  host: string | undefined;
}

let outbound: http.Server;
let outboundPort = 0;
const seen: Seen[] = [];
let app: ChildProcess;
let appPort = 0;

async function freePort(): Promise<number> {
  const s = http.createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address() as AddressInfo;
  s.close();
  return port;
}

async function get(path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${appPort}${path}`);
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  // Stand-in outbound listener: answers like a sidecar would for an allowed and a denied destination.
  outbound = http.createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", host: req.headers.host });
    if (req.headers.host === "database") {
      res.writeHead(403, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          decision: "deny",
          reason: "no policy allows it",
          policy: "data/db",
          rule: 0,
          decision_id: "d1",
        }),
      );
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ service: req.headers.host, path: req.url }));
  });
  outbound.listen(0, "127.0.0.1");
  await once(outbound, "listening");
  outboundPort = (outbound.address() as AddressInfo).port;

  appPort = await freePort();
  app = spawn(process.execPath, [serverFile], {
    env: {
      PATH: process.env.PATH,
      SERVICE_NAME: "order",
      PORT: String(appPort),
      OUTBOUND_PAYMENT: `http://127.0.0.1:${outboundPort}`,
      OUTBOUND_DATABASE: `http://127.0.0.1:${outboundPort}`,
      OUTBOUND_NOWHERE: "http://127.0.0.1:1",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    app.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes("listening")) resolve();
    });
    app.once("exit", (code) => reject(new Error(`demo app exited with ${code}`)));
  });
});

afterAll(async () => {
  app?.kill("SIGTERM");
  if (app && app.exitCode === null) await once(app, "exit");
  outbound?.close();
});

describe("demo app", () => {
  it("answers /health", async () => {
    expect(await get("/health")).toEqual({ status: 200, body: { status: "ok", service: "order" } });
  });

  it("echoes any other request with its headers", async () => {
    const res = await fetch(`http://127.0.0.1:${appPort}/orders/42?x=1`, {
      method: "POST",
      headers: { "x-trustgate-peer-spiffe-id": "spiffe://cluster.local/ns/services/sa/api" },
      body: "ignored",
    });
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(body.service).toBe("order");
    expect(body.method).toBe("POST");
    expect(body.path).toBe("/orders/42?x=1");
    expect((body.headers as Record<string, string>)["x-trustgate-peer-spiffe-id"]).toBe(
      "spiffe://cluster.local/ns/services/sa/api",
    );
  });

  it("calls another service through OUTBOUND_<SERVICE> with Host set to the service name", async () => {
    const { status, body } = await get("/call?to=payment&path=%2Fpayments%3Fid%3D7&method=POST");
    expect(status).toBe(200);
    expect(body).toEqual({ status: 200, body: { service: "payment", path: "/payments?id=7" } });
    expect(seen.at(-1)).toEqual({ method: "POST", url: "/payments?id=7", host: "payment" });
  });

  it("passes a deny from the sidecar back unchanged", async () => {
    const { status, body } = await get("/call?to=database&path=/query");
    expect(status).toBe(200);
    expect(body).toEqual({
      status: 403,
      body: { decision: "deny", reason: "no policy allows it", policy: "data/db", rule: 0, decision_id: "d1" },
    });
  });

  it("reports a call that could not be made as 502", async () => {
    const { status, body } = await get("/call?to=nowhere&path=/");
    expect(status).toBe(502);
    expect(body).toMatchObject({ status: 0, body: null });
  });

  it("rejects malformed /call requests", async () => {
    expect((await get("/call?to=Bad%20Name&path=/")).status).toBe(400);
    expect((await get("/call?to=payment&path=no-slash")).status).toBe(400);
    expect((await get("/call?to=payment&path=/&method=TRACE")).status).toBe(400);
    const missing = await get("/call?to=cache&path=/");
    expect(missing).toEqual({ status: 400, body: { error: "no OUTBOUND_CACHE configured for destination cache" } });
  });
});
