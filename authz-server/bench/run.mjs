#!/usr/bin/env node
// trustgate benchmark: `npm run bench`.
//
// Drives the real trustgate process (started the way a user starts it, with 50 policies and default decision logging)
// and, in the same run, a no-op Check server in the same runtime (Node + @grpc/grpc-js + the same codec) with h2load
// over real gRPC (h2c) on 127.0.0.1, and reports requests/s and p50/p99 latency for both, and their ratios. Then it
// measures Check latency while a burst of 10,000 Falco alerts is ingested, and while a policy file of the largest
// allowed size (yaml.maxFileBytes) is reloaded over and over. `--reload-only` runs just that last part.
//
// Needs h2load (Debian: `apt-get install nghttp2-client`). Not a test: numbers depend on the machine.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net, { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CHECK_PATH, framedBenchRequest } from "./check-request.mjs";
import { BENCH_POLICY_COUNT, benchPolicies, largePolicyFile } from "./policies.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const quick = process.argv.includes("--quick");
const reloadOnly = process.argv.includes("--reload-only");
// The default yaml.maxFileBytes: the largest policy file trustgate accepts without a configuration change.
const LARGEST_POLICY_FILE = 1024 * 1024;
const THROUGHPUT_REQUESTS = quick ? 20_000 : 30_000;
const LATENCY_REQUESTS = quick ? 3_000 : 10_000;
const ROUNDS = quick ? 1 : 7;
const ALERTS = 10_000;
const TOKEN = "bench-ingest-token";

if (spawnSync("h2load", ["--version"]).error) {
  console.error("h2load not found: install it with `apt-get install -y nghttp2-client` (Debian/Ubuntu) and run again.");
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), "trustgate-bench-"));
const requestFile = join(work, "check-request.bin");
writeFileSync(requestFile, framedBenchRequest());
const policyDir = join(work, "policies");
spawnSync("mkdir", ["-p", policyDir]);
writeFileSync(join(policyDir, "bench.yaml"), benchPolicies());
writeFileSync(
  join(work, "workloads.yaml"),
  "workloads:\n  - {name: billing, namespace: services, serviceAccount: billing, labels: {app: billing}, containers: [billing]}\n",
);

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, child, name) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode})`);
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} did not listen on ${port}`);
}

// The servers run on CPU 1 and h2load on CPU 0 when taskset exists: on a 2-core machine this keeps the load
// generator and the server under test from trading places, which is most of the run-to-run noise.
// BENCH_NO_PIN=1 lets the processes float (trustgate's policy worker thread can then use the other CPU).
const PIN = !process.env.BENCH_NO_PIN && !spawnSync("taskset", ["-V"]).error;
function pinned(cpu, command, args) {
  return PIN ? ["taskset", ["-c", String(cpu), command, ...args]] : [command, args];
}

/** h2load arguments for gRPC Check calls with the benchmark request (`seconds`: a timed run instead of a count). */
function h2loadArgs(port, { requests, seconds, clients, streams, logFile }) {
  const amount = seconds === undefined ? ["-n", String(requests)] : ["-D", String(seconds)];
  const args = [...amount, "-c", String(clients), "-m", String(streams), "-t", "1", "-d", requestFile];
  args.push("-H", "content-type: application/grpc", "-H", "te: trailers");
  if (logFile) args.push("--log-file", logFile);
  args.push(`http://127.0.0.1:${port}${CHECK_PATH}`);
  return args;
}

function h2load(port, options) {
  const args = h2loadArgs(port, options);
  const [command, commandArgs] = pinned(0, "h2load", args);
  const run = spawnSync(command, commandArgs, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const rps = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(run.stdout);
  const done = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(run.stdout);
  if (!rps || !done || Number(done[3]) > 0) throw new Error(`h2load failed:\n${run.stdout}\n${run.stderr}`);
  return Number(rps[1]);
}

function percentiles(logFile) {
  // h2load log: <start time µs>\t<status>\t<duration µs>
  const durations = readFileSync(logFile, "utf8")
    .trim()
    .split("\n")
    .map((l) => Number(l.split("\t")[2]))
    .sort((a, b) => a - b);
  const at = (q) => durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] / 1000;
  return { p50: at(0.5), p99: at(0.99), n: durations.length };
}

function latency(port, name) {
  const logFile = join(work, `${name}-latency.log`);
  h2load(port, { requests: LATENCY_REQUESTS, clients: 1, streams: 1, logFile });
  return percentiles(logFile);
}

/** CPU time (user + system) a process has used, in µs, from /proc (Linux). */
function cpuMicros(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return Number.NaN;
  }
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function falcoAlert(i) {
  return JSON.stringify({
    hostname: "node-1",
    output: `Notice A shell was spawned in a container with an attached terminal (container=billing n=${i})`,
    output_fields: {
      "container.id": "0123456789ab",
      "container.name": "billing",
      "evt.time": 1795000000000000000 + i,
      "proc.name": "sh",
    },
    priority: "Notice",
    rule: "Terminal shell in container",
    source: "syscall",
    tags: ["container", "shell"],
    time: new Date().toISOString().replace("Z", "000000Z"),
  });
}

/**
 * Posts `count` alerts one per request, as Falcosidekick does, over `connections` keep-alive connections, to
 * trustgate's /v1/falco or to a sink that only reads and answers (the control).
 */
async function postAlerts(port, count, connections = 4) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const post = (body) =>
    new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port,
          path: "/v1/falco",
          method: "POST",
          agent,
          headers: {
            authorization: `Bearer ${TOKEN}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const first = await post(falcoAlert(0));
  if (first === 404) return { skipped: "POST /v1/falco not available in this build" };
  let next = 1;
  let accepted = first === 200 ? 1 : 0;
  let refused = first === 200 ? 0 : 1;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < count) {
        const status = await post(falcoAlert(next++));
        if (status === 200) accepted++;
        else refused++;
      }
    }),
  );
  agent.destroy();
  return { accepted, refused, seconds: (performance.now() - started) / 1000 };
}

/** Check latency (1 in flight) while `during` runs. */
async function latencyDuring(port, name, during) {
  const logFile = join(work, `${name}.log`);
  const measured = new Promise((resolve, reject) => {
    const [command, commandArgs] = pinned(
      0,
      "h2load",
      h2loadArgs(port, { requests: LATENCY_REQUESTS, clients: 1, streams: 1, logFile }),
    );
    const child = spawn(command, commandArgs, { stdio: "ignore" });
    child.on("exit", (code) =>
      code === 0 ? resolve(percentiles(logFile)) : reject(new Error(`h2load exited ${code}`)),
    );
  });
  const [result, other] = await Promise.all([measured, during()]);
  return { ...result, other };
}

function startTrustgate(grpcPort, httpPort, extraEnv = {}) {
  const [command, args] = pinned(1, process.execPath, [join(repo, "authz-server", "bin", "trustgate.js"), "serve"]);
  return spawn(command, args, {
    cwd: repo,
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      TRUSTGATE_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
      TRUSTGATE_HTTP_ADDR: `127.0.0.1:${httpPort}`,
      TRUSTGATE_POLICY_DIR: policyDir,
      TRUSTGATE_POLICY_WATCH: "false",
      TRUSTGATE_TRUST_DOMAINS: "cluster.local",
      TRUSTGATE_TRUST_FILTER_HEADERS: "true",
      TRUSTGATE_WORKLOADS_FILE: join(work, "workloads.yaml"),
      TRUSTGATE_FALCO_TOKEN: TOKEN,
      ...extraEnv,
    },
  });
}

async function assertDecidedAllTheWay(grpcPort) {
  // The numbers only mean something if the request is decided the whole way: check it is allowed by the rule the
  // benchmark means to reach (deep in its namespace, after every DENY in scope).
  const { CheckClient } = await import("../dist/grpc/check-client.js");
  const { benchRequest } = await import("./check-request.mjs");
  const client = new CheckClient(`127.0.0.1:${grpcPort}`);
  const sample = await client.check(benchRequest());
  client.close();
  const fields = sample.dynamicMetadata?.fields ?? {};
  const decided = `${fields.policy?.stringValue} rule ${fields.rule?.numberValue}`;
  if (sample.status.code !== 0 || decided !== "services/payment-allow rule 1") {
    throw new Error(
      `the benchmark request was not allowed by services/payment-allow rule 1: ${JSON.stringify(sample)}`,
    );
  }
}

async function policyVersion(httpPort) {
  const response = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
  const body = await response.json();
  if (body.lastReloadError) throw new Error(`the policy reload failed: ${body.lastReloadError}`);
  return body.policySet.version;
}

/** Writes revision `n` of the large policy file (temp file + rename), signals a reload, and waits until it is active. */
async function reloadLarge(child, httpPort, n) {
  const before = await policyVersion(httpPort);
  const file = join(policyDir, "large.yaml");
  writeFileSync(`${file}.tmp`, largePolicyFile(LARGEST_POLICY_FILE, n));
  const { renameSync } = await import("node:fs");
  renameSync(`${file}.tmp`, file);
  const started = performance.now();
  process.kill(child.pid, "SIGHUP");
  for (;;) {
    await new Promise((r) => setTimeout(r, 20));
    if ((await policyVersion(httpPort)) !== before) return performance.now() - started;
    if (performance.now() - started > 120_000) throw new Error("the policy reload did not finish within 120 s");
  }
}

/**
 * Check latency (1 in flight) for RELOAD_SECONDS with no reload, then for as long while the largest allowed policy
 * file is reloaded back to back: every Check of the second run is answered during a reload, and the run spans several
 * whole reloads (the worker's part and the compile on the Check thread).
 */
const RELOAD_SECONDS = quick ? 8 : 20;

function timedLatency(port, name) {
  const logFile = join(work, `${name}.log`);
  const [command, commandArgs] = pinned(
    0,
    "h2load",
    h2loadArgs(port, { seconds: RELOAD_SECONDS, clients: 1, streams: 1, logFile }),
  );
  const run = spawnSync(command, commandArgs, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`h2load failed:\n${run.stdout}\n${run.stderr}`);
  return percentiles(logFile);
}

async function reloadUnderLoad(child, grpcPort, httpPort) {
  await reloadLarge(child, httpPort, 0);
  const quiet = timedLatency(grpcPort, "before-reload");
  const logFile = join(work, "during-reload.log");
  let running = true;
  const measured = new Promise((resolve, reject) => {
    const [command, commandArgs] = pinned(
      0,
      "h2load",
      h2loadArgs(grpcPort, { seconds: RELOAD_SECONDS, clients: 1, streams: 1, logFile }),
    );
    spawn(command, commandArgs, { stdio: "ignore" }).on("exit", (code) => {
      running = false;
      code === 0 ? resolve(percentiles(logFile)) : reject(new Error(`h2load exited ${code}`));
    });
  });
  const times = [];
  for (let n = 1; running; n++) {
    const ms = await reloadLarge(child, httpPort, n);
    // Only reloads that finished inside the measured run count.
    if (running) times.push(ms);
  }
  const during = await measured;
  const text = largePolicyFile(LARGEST_POLICY_FILE, 1);
  const policies = (text.match(/^kind: AuthorizationPolicy$/gm) ?? []).length;
  const rules = (text.split("name: p0")[0].match(/^ {2}- from:/gm) ?? []).length;
  console.log(
    `\nPolicy reload under load: a ${(Buffer.byteLength(text) / 1024).toFixed(0)} KiB policy file (the default yaml.maxFileBytes limit is ${LARGEST_POLICY_FILE / 1024} KiB; ${policies} policies, one with ${rules} rules) reloaded back to back: ${times.length} reloads completed during the run, SIGHUP → active in ${(median(times) / 1000).toFixed(2)} s (median)`,
  );
  console.log(`Check latency, 1 in flight, ${RELOAD_SECONDS} s each:  p50        p99    Checks`);
  for (const [name, l] of [
    ["no reload", quiet],
    ["reloading", during],
  ]) {
    console.log(
      `  ${name.padEnd(30)}${l.p50.toFixed(3).padStart(8)} ${l.p99.toFixed(3).padStart(10)} ms ${String(l.n).padStart(8)}`,
    );
  }
  console.log(`p99 ratio: reloading / no reload = ${(during.p99 / quiet.p99).toFixed(2)}× (target ≤ 2×)`);
}

async function main() {
  const [grpcPort, httpPort, denyLogGrpc, denyLogHttp, noopPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const trustgate = startTrustgate(grpcPort, httpPort);
  const trustgateDenyLog = startTrustgate(denyLogGrpc, denyLogHttp, { TRUSTGATE_DECISION_LOG: "deny" });
  const [noopCommand, noopArgs] = pinned(1, process.execPath, [join(here, "noop-server.mjs"), String(noopPort)]);
  const noop = spawn(noopCommand, noopArgs, { stdio: ["ignore", "ignore", "inherit"] });
  const servers = [
    { name: "no-op Check server", port: noopPort, child: noop },
    { name: "trustgate", port: grpcPort, child: trustgate },
    { name: "trustgate, deny log only", port: denyLogGrpc, child: trustgateDenyLog },
  ];
  try {
    for (const s of servers) await waitForPort(s.port, s.child, s.name);
    await assertDecidedAllTheWay(grpcPort);
    if (reloadOnly) {
      h2load(grpcPort, { requests: 20_000, clients: 4, streams: 32 });
      await reloadUnderLoad(trustgate, grpcPort, httpPort);
      await assertDecidedAllTheWay(grpcPort);
      return;
    }
    await assertDecidedAllTheWay(denyLogGrpc);
    console.log(`trustgate benchmark — ${BENCH_POLICY_COUNT} policies, h2load over h2c (gRPC), 127.0.0.1`);
    console.log(
      `node ${process.version}, ${(await import("node:os")).cpus().length} CPUs${PIN ? ", servers on CPU 1, h2load on CPU 0" : ""}`,
    );
    console.log(
      "decision logs: every decision (the default) → stdout → /dev/null; 'deny log only' = log.decisions: deny\n",
    );

    // Warm everything up (JIT, connection pools) before measuring, then alternate servers round by round.
    for (const s of servers) h2load(s.port, { requests: 20_000, clients: 4, streams: 32 });
    for (const s of servers) {
      s.rps = [];
      s.cpu = [];
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of servers) {
        const before = cpuMicros(s.child.pid);
        s.rps.push(h2load(s.port, { requests: THROUGHPUT_REQUESTS, clients: 4, streams: 32 }));
        s.cpu.push((cpuMicros(s.child.pid) - before) / THROUGHPUT_REQUESTS);
      }
    }
    for (const s of servers) s.lat = latency(s.port, s.name.replaceAll(/\W+/g, "-"));

    // Throughput on this kind of machine drifts by tens of percent over a minute (shared CPUs), so each round's ratio
    // is taken against the no-op server measured right before it, and the median of those ratios is reported. The
    // server's own CPU time per Check (from /proc) drifts far less: it is the steadier measure of what trustgate adds.
    const base = servers[0];
    const header = [
      "",
      "req/s (median)",
      "× no-op (median, range)",
      "CPU µs/Check",
      "p50 (1 in flight)",
      "p99 (1 in flight)",
    ];
    const widths = [26, 15, 25, 14, 19, 19];
    const format = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("");
    console.log(format(header));
    for (const s of servers) {
      const ratios = s.rps.map((rps, r) => rps / base.rps[r]);
      const range = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
      console.log(
        format([
          s.name,
          median(s.rps).toFixed(0),
          s === base ? "1.00×" : `${median(ratios).toFixed(2)}× (${range})`,
          median(s.cpu).toFixed(1),
          `${s.lat.p50.toFixed(3)} ms`,
          `${s.lat.p99.toFixed(3)} ms`,
        ]),
      );
    }
    console.log(`\nthroughput per round (${ROUNDS} rounds × ${THROUGHPUT_REQUESTS} requests, servers alternating):`);
    for (const s of servers) console.log(`  ${s.name.padEnd(26)} ${s.rps.map((x) => x.toFixed(0)).join(", ")}`);
    const cpuRatio = (s) => median(base.cpu) / median(s.cpu);
    console.log(
      `capacity from CPU per Check (no-op CPU ÷ trustgate CPU): trustgate ${cpuRatio(servers[1]).toFixed(2)}×, deny log only ${cpuRatio(servers[2]).toFixed(2)}×`,
    );
    const tgLat = servers[1].lat;

    // Falco alert burst: Check latency (1 in flight) while 10,000 alerts are posted. On a 2-core machine the poster,
    // h2load and trustgate compete for CPU, so the same burst is also sent to a sink process that only reads and
    // answers: that run shows what the machine does to Check latency by itself, the trustgate run what ingest adds.
    const sink = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => res.end('{"accepted":1}'));
    });
    await new Promise((resolve) => sink.listen(0, "127.0.0.1", resolve));
    const sinkPort = sink.address().port;
    const control = await latencyDuring(grpcPort, "burst-to-sink", () => postAlerts(sinkPort, ALERTS));
    sink.close();
    const burst = await latencyDuring(grpcPort, "burst-to-trustgate", () => postAlerts(httpPort, ALERTS));
    if (burst.other.skipped) {
      console.log(`\nFalco burst: skipped (${burst.other.skipped})`);
    } else {
      console.log(
        `\nFalco burst: ${burst.other.accepted} alerts accepted (${burst.other.refused} refused) in ${burst.other.seconds.toFixed(1)} s, 4 keep-alive connections, one alert per POST`,
      );
      console.log(`Check latency, 1 in flight:            p50        p99`);
      console.log(
        `  no burst                        ${tgLat.p50.toFixed(3).padStart(8)} ${tgLat.p99.toFixed(3).padStart(10)} ms`,
      );
      console.log(
        `  burst to a sink (control)       ${control.p50.toFixed(3).padStart(8)} ${control.p99.toFixed(3).padStart(10)} ms`,
      );
      console.log(
        `  burst to trustgate              ${burst.p50.toFixed(3).padStart(8)} ${burst.p99.toFixed(3).padStart(10)} ms`,
      );
      console.log(
        `p99 ratio: burst to trustgate / no burst = ${(burst.p99 / tgLat.p99).toFixed(2)}×; burst to trustgate / same burst to the sink = ${(burst.p99 / control.p99).toFixed(2)}× (target ≤ 2×)`,
      );
    }
    await reloadUnderLoad(trustgate, grpcPort, httpPort);
    await assertDecidedAllTheWay(grpcPort);
  } finally {
    for (const s of servers) s.child.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
