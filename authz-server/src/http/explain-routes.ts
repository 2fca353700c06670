/**
 * `POST /v1/explain`: explain a decision against the live policy set and live risk, in the request format of policy
 * unit tests. It reveals policy contents and risk state, so it needs the admin token — always when one is configured,
 * and whenever the admin listener is reachable from other hosts. Only a loopback-only listener without a token
 * answers loopback clients without one. (A client's loopback address proves nothing on a reachable listener: behind
 * a sidecar every client connects from 127.0.0.1.)
 *
 * A web page in the operator's browser can reach a loopback listener too: a cross-site "simple" POST (text/plain, no
 * preflight) or, to read the answer, a DNS-rebinding page whose requests carry its own host name. So in that mode a
 * request must also name a loopback host (`localhost`, `127.x.x.x`, `[::1]`, any port; not checked on a unix socket,
 * which no browser reaches), carry no Origin other than a loopback one, and be `application/json`.
 */
import type { IncomingMessage } from "node:http";
import type { RevocationLookup } from "../identity/caller-identity.js";
import type { RiskView } from "../model/risk-view.js";
import type { PolicyHolder } from "../policy/policy-holder.js";
import { type ExplainOptions, explain, explanationJson, formatExplanation } from "../policy-tools/explain.js";
import { requestDescriptionSchema } from "../policy-tools/request-description.js";
import { firstIssue } from "../util/format-issues.js";
import { checkAdminToken } from "./admin-auth.js";
import { BodyTooLarge, type Router, readBody, sendJson } from "./router.js";

export interface ExplainDeps {
  readonly policies: PolicyHolder;
  readonly risk: RiskView;
  readonly trustDomains: readonly string[];
  /** Operator revocations: explain refuses a revoked caller as a live Check does. */
  readonly revocations?: RevocationLookup;
  readonly labelsOf?: (spiffeId: string) => Readonly<Record<string, string>> | undefined;
  readonly request?: ExplainOptions["request"];
  readonly dryRun: boolean;
  readonly adminToken: string;
  /** The admin listener accepts connections from this host only (loopback address or unix socket). */
  readonly loopbackOnly: boolean;
}

function isLoopback(req: IncomingMessage): boolean {
  const address = req.socket.remoteAddress ?? "";
  return address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1" || address === "";
}

/** `localhost`, `*.localhost`, `127.x.x.x` or `[::1]`, with or without a port. */
const LOOPBACK_HOST =
  /^(?:localhost|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.localhost|127(?:\.\d{1,3}){3}|\[::1\])\.?(?::\d{1,5})?$/i;

function loopbackOrigin(origin: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // "null" (a sandboxed page, a file) or garbage
  }
  return (url.protocol === "http:" || url.protocol === "https:") && LOOPBACK_HOST.test(url.host);
}

/**
 * Why a tokenless loopback explain request is refused as possibly a browser page's, or null when it is a local
 * client's (the CLI sends Host 127.0.0.1 or localhost, application/json, no Origin).
 */
export function browserRefusal(req: IncomingMessage): string | null {
  const onSocketFile = (req.socket.remoteAddress ?? "") === "";
  const host = req.headers.host ?? "";
  if (!onSocketFile && !LOOPBACK_HOST.test(host)) {
    return `explain without http.adminToken needs a loopback Host (localhost, 127.0.0.1, [::1]); got ${JSON.stringify(host.slice(0, 100))} (a DNS-rebinding page?)`;
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !loopbackOrigin(origin)) {
    return `explain without http.adminToken refuses requests from another origin (${JSON.stringify(origin.slice(0, 100))}): a web page cannot ask it`;
  }
  const type = (req.headers["content-type"] ?? "").split(";", 1)[0]!.trim().toLowerCase();
  if (type !== "application/json") {
    return "explain without http.adminToken needs Content-Type: application/json (a web page can send other types without a preflight)";
  }
  return null;
}

export function registerExplainRoutes(router: Router, deps: ExplainDeps): void {
  router.on("POST", "/v1/explain", async (req, res) => {
    if (deps.adminToken !== "" || !deps.loopbackOnly) {
      const auth = checkAdminToken(req, deps.adminToken);
      if (!auth.ok) {
        const error =
          deps.adminToken === ""
            ? "explain needs http.adminToken (TRUSTGATE_ADMIN_TOKEN) when the admin listener is not loopback-only"
            : auth.error;
        return sendJson(res, auth.status, { error });
      }
    } else if (!isLoopback(req)) {
      return sendJson(res, 403, { error: "explain is only answered on loopback unless http.adminToken is set" });
    } else {
      const refusal = browserRefusal(req);
      if (refusal !== null) return sendJson(res, 403, { error: refusal });
    }
    let raw: unknown;
    try {
      raw = JSON.parse((await readBody(req, 256 * 1024)).toString("utf8"));
    } catch (err) {
      return sendJson(res, err instanceof BodyTooLarge ? 413 : 400, {
        error: `invalid JSON body: ${(err as Error).message}`,
      });
    }
    const parsed = requestDescriptionSchema.safeParse(raw);
    if (!parsed.success) {
      return sendJson(res, 400, { error: firstIssue(parsed.error) });
    }
    const set = deps.policies.current;
    if (set === null) return sendJson(res, 503, { error: "no policy set is loaded" });
    const result = explain(parsed.data, set, {
      risk: deps.risk,
      trustDomains: deps.trustDomains,
      revocations: deps.revocations,
      labelsOf: deps.labelsOf,
      request: deps.request,
      dryRun: deps.dryRun,
    });
    if ((req.headers.accept ?? "").includes("text/plain")) {
      const text = formatExplanation(result);
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    sendJson(res, 200, explanationJson(result));
  });
}
