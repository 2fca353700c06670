// One-shot registration of the local mesh's workloads with the SPIRE server (the spire-register service).
// Reads entries.json (rendered from the workload inventory) and creates each entry that does not exist yet,
// so running `docker compose up` again is harmless. Talks to the server through its admin socket with the
// spire-server CLI.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

const socket = process.env.SPIRE_SERVER_SOCKET ?? "/run/spire/server/private/api.sock";
const entriesFile = process.env.SPIRE_ENTRIES ?? "/register/entries.json";
const deadline = Date.now() + Number(process.env.SPIRE_WAIT_MS ?? 120_000);

function spire(args) {
  const run = spawnSync("spire-server", [...args, "-socketPath", socket], { encoding: "utf8" });
  return { ok: run.status === 0, out: `${run.stdout ?? ""}${run.stderr ?? ""}`.trim() };
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

while (!spire(["healthcheck"]).ok) {
  if (Date.now() > deadline) {
    console.error(`SPIRE server not healthy on ${socket}; giving up`);
    process.exit(1);
  }
  await sleep(1000);
}

const { entries } = JSON.parse(readFileSync(entriesFile, "utf8"));
let failed = 0;
for (const e of entries) {
  const selectors = e.selectors.flatMap((s) => ["-selector", `${s.type}:${s.value}`]);
  const shown = spire(["entry", "show", "-spiffeID", e.spiffe_id, ...selectors]);
  if (shown.ok && !/Found 0 entr/.test(shown.out)) {
    console.log(`exists   ${e.spiffe_id}`);
    continue;
  }
  const created = spire([
    "entry",
    "create",
    "-parentID",
    e.parent_id,
    "-spiffeID",
    e.spiffe_id,
    ...selectors,
    "-x509SVIDTTL",
    String(e.x509_svid_ttl),
    "-hint",
    e.hint,
  ]);
  if (created.ok) console.log(`created  ${e.spiffe_id}`);
  else {
    failed++;
    console.error(`FAILED   ${e.spiffe_id}: ${created.out}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
