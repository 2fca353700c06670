// trustgate demo app: one tiny HTTP service per workload of the local mesh (plain node:http, no dependencies).
// Also reused by the Node end-to-end tests, so this interface is a contract:
//
//   GET /health                                  -> 200 {"status":"ok","service":"<SERVICE_NAME>"}
//   GET /call?to=<service>&path=<p>[&method=<M>] -> calls <service> through this workload's sidecar:
//        the request goes to the base URL in env OUTBOUND_<SERVICE> (e.g. OUTBOUND_ORDER=http://127.0.0.1:15001)
//        with `Host: <service>` (the sidecar's outbound listener routes on it), and the answer is
//        200 {"status":<upstream status>,"body":<upstream body, parsed when JSON>}
//        or 502 {"status":0,"body":null,"error":"<why>"} when the call could not be made at all,
//        or 400 {"error":"<why>"} for a malformed /call request.
//   GET|POST|… <any other path>                  -> 200 {"service":"<SERVICE_NAME>","method":…,"path":…,"headers":{…}}
//        so a caller can see the x-trustgate-* headers the sidecar's filter added.
//
// Environment: SERVICE_NAME (required), PORT (default 8080), HOST (default 127.0.0.1: only the sidecar,
// which shares the network namespace, can reach the app), OUTBOUND_<SERVICE> per destination,
// CALL_TIMEOUT_MS (default 5000).
import http from "node:http";

const serviceName = process.env.SERVICE_NAME;
if (!serviceName) {
  console.error("SERVICE_NAME is required");
  process.exit(1);
}
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? "127.0.0.1";
const callTimeoutMs = Number(process.env.CALL_TIMEOUT_MS ?? 5000);
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function parseBody(text, contentType) {
  if (contentType?.includes("json")) {
    try {
      return JSON.parse(text);
    } catch {
      // not JSON after all: hand back the text
    }
  }
  return text;
}

/** Makes one call through the sidecar and resolves with {status, body} or rejects with an Error. */
function callThroughSidecar(base, to, path, method) {
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    const req = http.request(
      url,
      { method, headers: { host: to, accept: "application/json" }, timeout: callTimeoutMs },
      (upstream) => {
        const chunks = [];
        upstream.on("data", (c) => chunks.push(c));
        upstream.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: upstream.statusCode ?? 0, body: parseBody(text, upstream.headers["content-type"]) });
        });
        upstream.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${callTimeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

async function handleCall(url, res) {
  const to = url.searchParams.get("to") ?? "";
  const path = url.searchParams.get("path") ?? "/";
  const method = (url.searchParams.get("method") ?? "GET").toUpperCase();
  if (!/^[a-z0-9][a-z0-9-]*$/.test(to)) return send(res, 400, { error: "`to` must be a service name" });
  if (!path.startsWith("/")) return send(res, 400, { error: "`path` must start with /" });
  if (!METHODS.has(method)) return send(res, 400, { error: `unsupported method ${method}` });
  const envName = `OUTBOUND_${to.toUpperCase().replaceAll("-", "_")}`;
  const base = process.env[envName];
  if (!base) return send(res, 400, { error: `no ${envName} configured for destination ${to}` });
  try {
    const result = await callThroughSidecar(base, to, path, method);
    send(res, 200, result);
  } catch (err) {
    send(res, 502, { status: 0, body: null, error: err instanceof Error ? err.message : String(err) });
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://app.invalid");
  req.resume(); // bodies are not used; drain them
  req.on("end", () => {
    if (req.method === "GET" && url.pathname === "/health")
      return send(res, 200, { status: "ok", service: serviceName });
    if (req.method === "GET" && url.pathname === "/call") return void handleCall(url, res);
    send(res, 200, { service: serviceName, method: req.method, path: req.url, headers: req.headers });
  });
});

server.listen(port, host, () => console.log(`${serviceName} listening on ${host}:${port}`));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
