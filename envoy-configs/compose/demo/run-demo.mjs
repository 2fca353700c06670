// Runs inside the network namespace of one demo app (docker run --network container:<app>), so its calls
// leave through that workload's sidecar with that workload's SPIFFE identity. Used by demo.sh.
//   node run-demo.mjs wait                      wait until this workload's sidecar can reach the mesh
//   node run-demo.mjs call <to> <path> [method] one call; prints the decision
//   node run-demo.mjs risk                      trustgate's current risk table
const app = process.env.DEMO_APP ?? "http://127.0.0.1:8080";
const admin = process.env.TRUSTGATE_ADMIN ?? "http://trustgate:9192";
const caller = process.env.CALLER ?? "?";
const [mode, ...args] = process.argv.slice(2);

async function call(to, path, method = "GET") {
  const url = `${app}/call?to=${encodeURIComponent(to)}&path=${encodeURIComponent(path)}&method=${method}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return res.json();
}

function explain(result) {
  const { status, body, error } = result;
  if (error) return `no answer (${error})`;
  if (status >= 200 && status < 300) return `${status} allow`;
  if (body && typeof body === "object" && body.decision === "deny") {
    return `${status} deny: ${body.reason} [policy ${body.policy}, rule ${body.rule}, decision ${body.decision_id}]`;
  }
  return `${status} ${typeof body === "string" ? body.slice(0, 120) : JSON.stringify(body)}`;
}

if (mode === "wait") {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      const r = await call(args[0] ?? "api", "/health");
      // 503 with "no healthy upstream" or a TLS failure means SPIRE/Envoy are not ready yet.
      if (r.status && r.status !== 503 && !(typeof r.body === "string" && r.body.includes("upstream"))) break;
    } catch {
      // app not up yet
    }
    if (Date.now() > deadline) {
      console.error("the mesh did not become ready within 180 s: docker compose logs spire-agent envoy-web trustgate");
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  console.log("mesh ready");
} else if (mode === "call") {
  const [to, path, method] = args;
  console.log(
    `${caller.padEnd(8)} -> ${to.padEnd(8)} ${(method ?? "GET").padEnd(5)} ${path.padEnd(22)} ${explain(await call(to, path, method))}`,
  );
} else if (mode === "risk") {
  const res = await fetch(`${admin}/v1/risk`, { signal: AbortSignal.timeout(5000) });
  console.log(`trustgate /v1/risk (${res.status}):`);
  console.log(JSON.stringify(await res.json().catch(() => null), null, 2));
} else {
  console.error("usage: run-demo.mjs wait|call <to> <path> [method]|risk");
  process.exit(2);
}
