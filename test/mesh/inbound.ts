/**
 * One inbound request through the stand-in, in Envoy's filter order on the inbound listener:
 * HCM (x-request-id generated if absent, XFCC sanitised) → trustgate Wasm filter (one stream per request; a local
 * reply ends the request there) → ext_authz Check on the post-filter headers (OK: header mutations and forward;
 * denied: local reply; RPC error: status_on_error, or forward with x-envoy-auth-failure-mode-allowed when
 * failure_mode_allow) → router to the app on 127.0.0.1. Response callbacks are not delivered to the Wasm VM (the
 * trustgate filter implements none).
 */
import { randomBytes } from "node:crypto";
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { type DecidedBy, type InboundLogEntry, now } from "./access-log.js";
import { buildCheckRequest } from "./check-request.js";
import { applyRequestMutations, deniedReplyHeaders } from "./check-response.js";
import {
  downstreamHeaders,
  ensureRequestId,
  getHeader,
  type HeaderList,
  hasRequestBody,
  relayableResponseHeaders,
  toOutgoing,
} from "./http-headers.js";
import type { Sidecar } from "./sidecar.js";

interface Verdict {
  readonly allowed: boolean;
  readonly decidedBy: DecidedBy;
  readonly policy: string;
  readonly reason: string;
  readonly decisionId: string;
}

function streamId(): string {
  return randomBytes(8).readBigUInt64BE().toString();
}

/** policy/reason/decision_id from a JSON deny body (trustgate's and the filter's share one shape). */
function denyFacts(body: string): { policy: string; reason: string; decisionId: string } {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    return {
      policy: String(parsed.policy ?? ""),
      reason: String(parsed.reason ?? ""),
      decisionId: String(parsed.decision_id ?? ""),
    };
  } catch {
    return { policy: "", reason: body, decisionId: "" };
  }
}

function localReply(res: ServerResponse, status: number, headers: HeaderList, body: string | Uint8Array): void {
  const out = toOutgoing(headers.filter(([k]) => k !== "content-length"));
  const bytes = typeof body === "string" ? Buffer.from(body) : Buffer.from(body);
  if (bytes.length > 0 && out["content-type"] === undefined) out["content-type"] = "text/plain";
  out["content-length"] = String(bytes.length);
  res.writeHead(status, out);
  res.end(bytes);
}

export async function handleInbound(sidecar: Sidecar, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const receivedAt = now();
  const connection = sidecar.connections.get(req.socket as TLSSocket);
  if (!connection) {
    req.socket.destroy(); // refused at the handshake: no request is served on it
    return;
  }
  const headers = downstreamHeaders(req, "https");
  const requestId = ensureRequestId(headers);
  const xfcc = headers.findIndex(([k]) => k === "x-forwarded-client-cert");
  if (xfcc >= 0) headers.splice(xfcc, 1); // forward_client_cert_details: SANITIZE
  headers.push(["x-forwarded-proto", "https"]);

  const log = (status: number, verdict: Verdict, decidedAt: number): void => {
    const entry: InboundLogEntry = {
      receivedAt,
      decidedAt,
      requestId,
      peer: connection.peer?.uriSans[0] ?? "",
      peerFingerprint: connection.peer ? `sha256:${connection.peer.sha256}` : "",
      method: req.method ?? "",
      path: req.url ?? "",
      status,
      ...verdict,
    };
    sidecar.accessLog.push(entry);
  };

  // 1. The trustgate Wasm filter.
  const filtered = sidecar.filter.requestHeaders(headers, connection.properties, !hasRequestBody(req));
  if (filtered.localResponse) {
    const local = filtered.localResponse;
    const body = Buffer.from(local.body).toString("utf8");
    sidecar.count("wasm.local_reply");
    log(local.statusCode, { allowed: false, decidedBy: "filter", ...denyFacts(body) }, now());
    req.resume();
    localReply(res, local.statusCode, local.headers.pairs(), local.body);
    filtered.complete();
    return;
  }

  // 2. ext_authz on the headers the filter left.
  const { extAuthz } = sidecar.config;
  const checkRequest = buildCheckRequest({
    connection,
    headers: filtered.headers,
    streamId: streamId(),
    startedAtMs: receivedAt,
    includePeerCertificate: extAuthz.includePeerCertificate ?? true,
    labels: sidecar.config.workload.labels,
    contextExtensions: { "trustgate.namespace": sidecar.config.workload.namespace },
    protocol: `HTTP/${req.httpVersion}`,
  });
  const result = await sidecar.authz.check(checkRequest, extAuthz.timeoutMs ?? 250);
  const decidedAt = now();
  let forwardHeaders: HeaderList;
  let responseHeaders: ReadonlyArray<readonly [string, string, boolean]> = [];
  let verdict: Verdict;
  if (!result.ok) {
    sidecar.count("ext_authz.error");
    if (!sidecar.failureModeAllow) {
      const status = extAuthz.statusOnError ?? 403;
      log(
        status,
        { allowed: false, decidedBy: "ext_authz_error", policy: "", reason: result.error, decisionId: "" },
        decidedAt,
      );
      req.resume();
      localReply(res, status, [], "");
      filtered.complete();
      return;
    }
    sidecar.count("ext_authz.failure_mode_allowed");
    forwardHeaders = [...filtered.headers, ["x-envoy-auth-failure-mode-allowed", "true"]];
    verdict = { allowed: true, decidedBy: "failure_mode_allowed", policy: "", reason: result.error, decisionId: "" };
  } else if (result.outcome.kind === "denied") {
    const denied = result.outcome;
    sidecar.count("ext_authz.denied");
    log(denied.status, { allowed: false, decidedBy: "ext_authz", ...denyFacts(denied.body) }, decidedAt);
    req.resume();
    localReply(res, denied.status, deniedReplyHeaders([], denied), denied.body);
    filtered.complete();
    return;
  } else {
    const ok = result.outcome;
    sidecar.count("ext_authz.ok");
    forwardHeaders = applyRequestMutations(filtered.headers, ok);
    responseHeaders = ok.responseHeaders;
    verdict = {
      allowed: true,
      decidedBy: "ext_authz",
      policy: String(ok.metadata.policy ?? ""),
      reason: "",
      decisionId: String(ok.metadata.decision_id ?? getHeader(forwardHeaders, "x-trustgate-decision-id") ?? ""),
    };
  }

  // 3. Router: forward to the app.
  const outgoing: OutgoingHttpHeaders = {
    ...toOutgoing(forwardHeaders),
    host: getHeader(forwardHeaders, ":authority"),
  };
  const upstream = http.request({
    host: "127.0.0.1",
    port: sidecar.config.appPort,
    method: getHeader(forwardHeaders, ":method"),
    path: getHeader(forwardHeaders, ":path"),
    headers: outgoing,
    agent: sidecar.appAgent,
  });
  upstream.on("response", (appRes) => {
    const out = relayableResponseHeaders(appRes.headers);
    for (const [k, v, add] of responseHeaders) {
      const prev = out[k];
      out[k] = add && prev !== undefined ? [...(Array.isArray(prev) ? prev : [String(prev)]), v] : v;
    }
    log(appRes.statusCode ?? 0, verdict, decidedAt);
    res.writeHead(appRes.statusCode ?? 502, out);
    appRes.pipe(res);
    res.on("close", () => filtered.complete());
  });
  upstream.on("error", (err) => {
    filtered.complete();
    if (res.headersSent) {
      res.destroy();
      return;
    }
    log(503, { ...verdict, allowed: false, decidedBy: "upstream_error", reason: err.message }, decidedAt);
    localReply(
      res,
      503,
      [],
      "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
    );
  });
  req.pipe(upstream);
}
