import { Mesh } from "../mesh/mesh.js";

const mesh = await Mesh.start({ halfLifeSeconds: 4, revocationPollMs: 1000 });
await mesh.call("web", "api", "/api/products", "GET");
let go = true;
const loop = (async () => {
  while (go) await mesh.call("web", "api", "/api/products", "GET").catch(() => undefined);
})();
const loop2 = (async () => {
  while (go) await mesh.call("order", "payment", "/api/v1/payment/1", "POST").catch(() => undefined);
})();
await new Promise((r) => setTimeout(r, 1500));
const tg = mesh.trustgate;
const t1 = Date.now();
tg.process.child.kill("SIGTERM");
const code = await tg.process.exited;
const lines = tg.process.output.stdout
  .split("\n")
  .filter((l) => l.includes('"stopped"') || l.includes("shutting down"));
console.log(
  "trustgate exit",
  code,
  Date.now() - t1,
  "ms",
  lines.map((l) => JSON.parse(l).time),
  new Date().toISOString(),
);
go = false;
await loop;
await loop2;
await mesh.stop();
