import { createServer } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { close, listen } from "./listen.js";
import { BodyTooLarge, Router, readBody, sendJson } from "./router.js";

const servers: Array<ReturnType<typeof createServer>> = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await close(s, 100);
});

async function serve(router: Router): Promise<number> {
  const server = createServer((req, res) => void router.handle(req, res));
  servers.push(server);
  return ((await listen(server, "127.0.0.1:0", "test")) as AddressInfo).port;
}

/** Streams a chunked body without end for up to `ms`: the answer, and whether the server closed the connection. */
async function endlessUpload(port: number, head: string, ms = 1500): Promise<{ response: string; closed: boolean }> {
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
  socket.on("error", () => undefined);
  let response = "";
  let closed = false;
  socket.on("data", (d) => {
    response += d.toString("latin1");
  });
  socket.on("close", () => {
    closed = true;
  });
  socket.write(`${head}Transfer-Encoding: chunked\r\n\r\n`);
  const chunk = Buffer.from(`${(16 * 1024).toString(16)}\r\n${"a".repeat(16 * 1024)}\r\n`);
  const deadline = Date.now() + ms;
  while (!closed && Date.now() < deadline) {
    if (!socket.write(chunk)) await Promise.race([new Promise((r) => socket.once("drain", r)), sleep(50)]);
    await new Promise((r) => setImmediate(r));
  }
  socket.destroy();
  return { response, closed };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe("answers before the whole body has arrived", () => {
  it("a refusal without reading the body closes the connection instead of draining it", async () => {
    const port = await serve(new Router().on("POST", "/x", (_req, res) => sendJson(res, 401, { error: "no" })));
    const r = await endlessUpload(port, "POST /x HTTP/1.1\r\nHost: x\r\n");
    expect(r.response).toMatch(/^HTTP\/1\.1 401/);
    expect(r.response.toLowerCase()).toContain("connection: close");
    expect(r.closed).toBe(true);
  });

  it("a body past the readBody limit gets its 413 and the connection is closed", async () => {
    const port = await serve(
      new Router().on("POST", "/x", async (req, res) => {
        try {
          await readBody(req, 1024);
          sendJson(res, 200, {});
        } catch (err) {
          sendJson(res, err instanceof BodyTooLarge ? 413 : 400, { error: (err as Error).message });
        }
      }),
    );
    const r = await endlessUpload(port, "POST /x HTTP/1.1\r\nHost: x\r\n");
    expect(r.response).toMatch(/^HTTP\/1\.1 413/);
    expect(r.closed).toBe(true);
  });

  it("a complete small body keeps the connection alive", async () => {
    const port = await serve(new Router().on("POST", "/x", (_req, res) => sendJson(res, 401, { error: "no" })));
    const res = await fetch(`http://127.0.0.1:${port}/x`, { method: "POST", body: "{}" });
    expect(res.status).toBe(401);
    expect(res.headers.get("connection")).not.toBe("close");
  });
});
