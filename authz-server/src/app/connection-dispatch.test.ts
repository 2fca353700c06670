import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ConnectionDispatch, type ConnectionTaker, leastLoaded } from "./connection-dispatch.js";

const SETTING = "--grpc-addr (or TRUSTGATE_GRPC_ADDR, grpc.addr)";

/** A worker stand-in: keeps the sockets it is handed; acknowledges after `ackMs` (a busy worker answers late). */
function worker(ackMs = 0, fail = false) {
  const sockets: net.Socket[] = [];
  const taker: ConnectionTaker = {
    take(socket, done) {
      if (fail) return done(new Error("channel closed"));
      sockets.push(socket);
      if (ackMs === 0) done(null);
      else setTimeout(() => done(null), ackMs);
    },
  };
  return { taker, sockets };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

describe("leastLoaded", () => {
  it("picks the fewest open connections, and on a tie the first in order", () => {
    const open = new Map([
      [1, { open: 2 }],
      [2, { open: 1 }],
      [3, { open: 1 }],
    ]);
    expect(leastLoaded(open)).toBe(2);
    expect(leastLoaded(new Map())).toBeUndefined();
  });
});

describe("ConnectionDispatch", () => {
  const opened: net.Socket[] = [];
  let dispatch: ConnectionDispatch | null = null;
  afterEach(() => {
    for (const s of opened) s.destroy();
    opened.length = 0;
    dispatch?.close();
    dispatch = null;
  });

  it("splits connections evenly even when one worker acknowledges late (cluster round-robin gave 3 : 1)", async () => {
    dispatch = new ConnectionDispatch("127.0.0.1:0", SETTING);
    const port = await dispatch.listen();
    const slow = worker(100);
    const quick = worker();
    dispatch.add(1, slow.taker);
    dispatch.add(2, quick.taker);
    for (let i = 0; i < 4; i++) opened.push(await connect(port));
    await until(() => slow.sockets.length + quick.sockets.length === 4);
    expect([slow.sockets.length, quick.sockets.length]).toEqual([2, 2]);
    expect(dispatch.openConnections()).toEqual(
      new Map([
        [1, 2],
        [2, 2],
      ]),
    );
  });

  it("counts closed connections out, so the next ones refill the worker that lost them", async () => {
    dispatch = new ConnectionDispatch("127.0.0.1:0", SETTING);
    const port = await dispatch.listen();
    const a = worker();
    const b = worker();
    dispatch.add(1, a.taker);
    dispatch.add(2, b.taker);
    for (let i = 0; i < 4; i++) opened.push(await connect(port));
    await until(() => a.sockets.length + b.sockets.length === 4);
    dispatch.closed(1);
    dispatch.closed(1);
    for (let i = 0; i < 2; i++) opened.push(await connect(port));
    await until(() => a.sockets.length + b.sockets.length === 6);
    expect([a.sockets.length, b.sockets.length]).toEqual([4, 2]);
  });

  it("gives a connection to another worker when the chosen one cannot take it, and says so", async () => {
    const dropped: string[] = [];
    dispatch = new ConnectionDispatch("127.0.0.1:0", SETTING, (reason) => dropped.push(reason));
    const port = await dispatch.listen();
    const gone = worker(0, true);
    const live = worker();
    dispatch.add(1, gone.taker);
    dispatch.add(2, live.taker);
    for (let i = 0; i < 3; i++) opened.push(await connect(port));
    await until(() => live.sockets.length === 3);
    // The failing worker keeps its place (its exit removes it) and holds no connection.
    expect(dispatch.openConnections()).toEqual(
      new Map([
        [1, 0],
        [2, 3],
      ]),
    );
    expect(dropped).toContain("worker 1 could not take a connection: channel closed");
    // When no worker can take it, the connection is closed.
    dispatch.remove(2);
    const client = await connect(port);
    opened.push(client);
    await new Promise((resolve) => client.once("close", resolve));
    expect(dropped.at(-1)).toBe("no worker could take it");
  });

  it("closes a connection at once when no worker serves, and says why", async () => {
    const dropped: string[] = [];
    dispatch = new ConnectionDispatch("127.0.0.1:0", SETTING, (reason) => dropped.push(reason));
    const port = await dispatch.listen();
    const client = await connect(port);
    opened.push(client);
    await new Promise((resolve) => client.once("close", resolve));
    expect(dropped).toEqual(["no serving worker"]);
  });

  it("refuses new connections once closed", async () => {
    dispatch = new ConnectionDispatch("127.0.0.1:0", SETTING);
    const port = await dispatch.listen();
    dispatch.close();
    await expect(connect(port)).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  it("names the listener, the address and the setting when the port is taken", async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", () => r()));
    const { port } = taken.address() as net.AddressInfo;
    dispatch = new ConnectionDispatch(`127.0.0.1:${port}`, SETTING);
    await expect(dispatch.listen()).rejects.toThrow(
      `cannot listen for gRPC on 127.0.0.1:${port}: address already in use — is another trustgate`,
    );
    taken.close();
    await expect(new ConnectionDispatch("nonsense", SETTING).listen()).rejects.toThrow(
      `cannot listen for gRPC: invalid listen address "nonsense" (expected host:port or unix:/path) — check ${SETTING}`,
    );
  });
});
