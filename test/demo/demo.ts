/**
 * `npm run demo`: the e-commerce mesh on this machine — trustgate as a real process with the example policies, and
 * per workload the demo app behind a sidecar stand-in (real mTLS, the compiled Wasm filter, ext_authz Check) — and
 * a table of calls before, during and after a Falco alert about order. Ends by itself with a summary; exit code 0
 * when every decision was the one the example policies intend.
 */
import { type InboundLogEntry, now } from "../mesh/access-log.js";
import { waitUntil } from "../mesh/child-processes.js";
import { terminalShellAlert } from "../mesh/falco-alert.js";
import { Mesh } from "../mesh/mesh.js";
import { WORKLOAD_NAMES, WORKLOADS } from "../mesh/workloads.js";
import { type DemoCall, TRAFFIC } from "./calls.js";
import {
  columns,
  formatRow,
  heading,
  labelled,
  note,
  paragraph,
  type Row,
  shortReason,
  terminalWidth,
  useColor,
} from "./table.js";

const HALF_LIFE_SECONDS = 4;
const POLL_MS = 1000;
const DEADLINE_MS = 55_000;
const ORDER = WORKLOADS.order.spiffeId;

const style = { color: useColor(process.stdout, process.env), width: terminalWidth(process.stdout, process.env) };
/** Set when a signal stops the demo: nothing more is printed, and the unfinished run is not reported as a failure. */
let stoppedBy: NodeJS.Signals | null = null;
const print = (line: string) => {
  if (stoppedBy === null) process.stdout.write(`${line}\n`);
};
const tally = { calls: 0, allowed: 0, denied: 0, unexpected: 0 };
let mesh: Mesh | undefined;
let ingressCounter = 0;

/** A note for a row, given the decision's time and which layer made it (access-log `decidedBy`). */
type NoteFor = (row: Row, decidedAt: number, decidedBy: string) => string;

async function run(call: DemoCall, intended: boolean, extraNote?: NoteFor): Promise<Row> {
  let status: number;
  let body: unknown;
  let entry: InboundLogEntry | undefined;
  const m = mesh!;
  if (call.from === "ingress") {
    const requestId = `demo-ingress-${++ingressCounter}`;
    const r = await m.ingress(call.to, call.path, call.method, [["x-request-id", requestId]]);
    status = r.ok ? r.status : 0;
    body = r.ok ? r.json : r.error;
    entry = m.sidecar(call.to).accessLog.find((e) => e.requestId === requestId);
  } else {
    const r = await m.call(call.from, call.to, call.path, call.method);
    status = r.status;
    body = r.body;
    entry = r.entry;
  }
  const allowed = entry ? entry.allowed : status >= 200 && status < 400;
  const denyBody = (body ?? {}) as Record<string, unknown>;
  const reason = entry
    ? entry.allowed
      ? entry.policy || entry.decidedBy
      : shortReason(entry.policy, entry.reason)
    : shortReason(String(denyBody.policy ?? ""), String(denyBody.reason ?? `HTTP ${status}`));
  const row: Row = {
    caller: call.from,
    callee: call.to,
    method: call.method,
    path: call.path,
    allowed,
    reason,
    unexpected: allowed !== intended,
  };
  const withNote = extraNote && entry ? { ...row, note: extraNote(row, entry.decidedAt, entry.decidedBy) } : row;
  print(formatRow(style, withNote));
  tally.calls++;
  if (allowed) tally.allowed++;
  else tally.denied++;
  if (withNote.unexpected) tally.unexpected++;
  return withNote;
}

async function main(): Promise<number> {
  print(style.color ? "\u001b[1mtrustgate demo\u001b[0m" : "trustgate demo");
  print(
    paragraph(
      style,
      "The e-commerce mesh on real mTLS, on this machine: trustgate (real process, policies/), and per workload the " +
        "demo app behind a sidecar stand-in running the compiled Wasm filter and calling trustgate's Check.",
    ),
  );
  const bootStarted = now();
  mesh = await Mesh.start({ halfLifeSeconds: HALF_LIFE_SECONDS, revocationPollMs: POLL_MS });
  print(
    note(
      style,
      `trustgate pid ${mesh.trustgate.process.child.pid} (gRPC ${mesh.trustgate.grpcAddress}, admin ${mesh.trustgate.adminUrl}); ` +
        `${WORKLOAD_NAMES.length} workloads up in ${((now() - bootStarted) / 1000).toFixed(1)} s`,
    ),
  );

  print(heading(style, "1. normal traffic"));
  print(columns(style));
  for (const call of TRAFFIC) await run(call, call.allowed);

  print(heading(style, "2. attack: Falco alert about order"));
  // payment's filter polls the revocation list on its own timer; held back until the first call below, so the table
  // always shows both layers in order: trustgate's Check at once, then the filter's local deny after its next poll.
  const payment = mesh.sidecar("payment");
  await payment.filter.setTicking(false);
  const alert = terminalShellAlert("order");
  const ingest = await mesh.postFalco(alert);
  print(
    note(
      style,
      `Falco → POST /v1/falco (HTTP ${ingest.status}): ${alert.priority} "${alert.rule}" in container ${alert.container} ` +
        `(sh -i) at ${alert.time}`,
    ),
  );
  print(columns(style));
  // First the call the alert is about, at once; then the rest of the traffic.
  const orderToPayment = TRAFFIC.find((c) => c.from === "order" && c.to === "payment")!;
  let firstDeny = "none";
  await run(orderToPayment, false, (row, decidedAt, decidedBy) => {
    if (row.allowed) return "";
    const ms = (decidedAt - ingest.respondedAt).toFixed(0);
    firstDeny = `${ms} ms (${decidedBy === "filter" ? "payment's filter" : "trustgate's Check"})`;
    return `${ms} ms after the alert was ingested`;
  });
  void payment.filter.setTicking(true);
  for (const call of TRAFFIC) if (call !== orderToPayment) await run(call, call.underAttack ?? call.allowed);
  print(
    note(
      style,
      `payment's Wasm filter polls trustgate's revocation list every ${POLL_MS} ms; order is on it while critical:`,
    ),
  );
  await waitUntil(
    async () => payment.filter.metric("trustgate_filter_revocation_list_entries") >= 1n,
    5000,
    "payment's filter receiving the revocation list",
  );
  const revokedAt = now();
  await run(orderToPayment, false, (_row, _at, decidedBy) =>
    decidedBy === "filter" ? "decided in the sidecar, no Check" : "",
  );

  print(heading(style, "3. after the risk decays"));
  print(note(style, `waiting for order's alert to age out (risk half-life ${HALF_LIFE_SECONDS} s) …`));
  const backAt = await waitForAccess();
  const risk = (await mesh.risk(ORDER)).identity as { level?: string; score?: number } | undefined;
  print(
    note(
      style,
      `order → payment allowed again ${((backAt - ingest.respondedAt) / 1000).toFixed(1)} s after the alert; ` +
        `order's risk now ${risk?.level ?? "?"} (score ${risk?.score ?? "?"})`,
    ),
  );
  // Each sidecar's filter lifts the revocation on its own next poll (up to POLL_MS later than trustgate).
  await waitUntil(
    async () =>
      [...mesh!.sidecars.values()].every((s) => s.filter.metric("trustgate_filter_revocation_list_entries") === 0n),
    5000,
    "every sidecar's filter polling the shortened revocation list",
  );
  print(note(style, "every sidecar's filter has polled the revocation list without order"));
  print(columns(style));
  for (const call of TRAFFIC) await run(call, call.allowed);

  const seconds = (at: number) => `${((at - ingest.respondedAt) / 1000).toFixed(1)} s`;
  print("");
  print(
    labelled(
      style,
      "summary: ",
      `${tally.calls} calls, ${tally.allowed} allowed, ${tally.denied} denied` +
        (tally.unexpected === 0
          ? ", every decision as the example policies intend"
          : `, ${tally.unexpected} NOT as the example policies intend`),
    ),
  );
  print(
    labelled(
      style,
      "         ",
      `Falco alert → first deny of order → payment: ${firstDeny}; ` +
        `payment's filter holding the revocation after ${seconds(revokedAt)}; access back after ${seconds(backAt)}`,
    ),
  );
  return tally.unexpected === 0 ? 0 : 1;
}

/** Polls order → payment (not printed) until it is allowed again; returns when. */
async function waitForAccess(): Promise<number> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const r = await mesh!.call("order", "payment", "/api/v1/payment/42", "POST");
    if (r.status === 200) return r.entry?.decidedAt ?? now();
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error("order → payment was not allowed again within 20 s");
}

let shuttingDown: Promise<never> | null = null;

/** Stops every process of the mesh (trustgate included), then exits: once, however many reasons arrive. */
function shutdown(code: number): Promise<never> {
  shuttingDown ??= (async () => {
    await mesh?.stop().catch(() => undefined);
    process.exit(code);
  })();
  return shuttingDown;
}

const watchdog = setTimeout(() => {
  print(`demo: not finished after ${DEADLINE_MS / 1000} s; stopping`);
  void shutdown(1);
}, DEADLINE_MS);
watchdog.unref();
// A signal ends the demo at once: the calls in flight fail as the mesh goes away, which is not a demo failure.
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    print(`demo: stopped by ${signal}`);
    stoppedBy = signal;
    void shutdown(SIGNAL_EXIT[signal]);
  });
}

main().then(
  (code) => shutdown(code),
  (err: unknown) => {
    print(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    return shutdown(1);
  },
);
