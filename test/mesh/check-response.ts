/**
 * How Envoy applies a decoded CheckResponse (ext_authz_grpc_impl.cc, ext_authz.cc): status code 0 is OK (an empty
 * response too) and its header mutations apply to the request — `append: true` only appends to a header that
 * exists, anything else sets/overwrites; `headers_to_remove` skips pseudo-headers and host; `response_headers_to_add`
 * go on the upstream's response. Any other code is a deny: a local reply with `denied_response` (status 403 when
 * unset), its headers and body. Query-parameter mutations and route-cache clearing are not modelled. Pure.
 */

export type HeaderList = Array<[string, string]>;

export interface AuthzAllowed {
  readonly kind: "ok";
  readonly set: HeaderList;
  readonly append: HeaderList;
  readonly remove: readonly string[];
  /** Response headers: [name, value, append]. */
  readonly responseHeaders: ReadonlyArray<readonly [string, string, boolean]>;
  readonly metadata: Readonly<Record<string, string | number | boolean>>;
}

export interface AuthzDenied {
  readonly kind: "denied";
  readonly status: number;
  readonly headers: HeaderList;
  readonly body: string;
  readonly grpcCode: number;
  readonly metadata: Readonly<Record<string, string | number | boolean>>;
}

export type AuthzOutcome = AuthzAllowed | AuthzDenied;

interface HeaderValueOption {
  header?: { key?: string; value?: string; rawValue?: Uint8Array };
  append?: { value?: boolean };
  appendAction?: number;
}

interface DecodedCheckResponse {
  status?: { code?: number; message?: string };
  deniedResponse?: { status?: { code?: number }; headers?: HeaderValueOption[]; body?: string };
  okResponse?: {
    headers?: HeaderValueOption[];
    headersToRemove?: string[];
    responseHeadersToAdd?: HeaderValueOption[];
  };
  dynamicMetadata?: { fields?: Record<string, Record<string, unknown>> };
}

function headerOf(option: HeaderValueOption): [string, string] {
  const h = option.header ?? {};
  const value = h.rawValue && h.rawValue.length > 0 ? Buffer.from(h.rawValue).toString("utf8") : (h.value ?? "");
  return [(h.key ?? "").toLowerCase(), value];
}

/** google.protobuf.Struct → plain scalars (what an access log would print). */
function metadataOf(response: DecodedCheckResponse): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(response.dynamicMetadata?.fields ?? {})) {
    const scalar = v.stringValue ?? v.numberValue ?? v.boolValue;
    if (typeof scalar === "string" || typeof scalar === "number" || typeof scalar === "boolean") out[k] = scalar;
  }
  return out;
}

/** `response` as decoded by the upstream type with `{ longs: Number, enums: Number, defaults: false }`. */
export function interpretCheckResponse(response: DecodedCheckResponse): AuthzOutcome {
  const metadata = metadataOf(response);
  const code = response.status?.code ?? 0;
  if (code !== 0) {
    const denied = response.deniedResponse ?? {};
    const status = denied.status?.code ?? 0;
    return {
      kind: "denied",
      status: status > 0 ? status : 403,
      headers: (denied.headers ?? []).map(headerOf),
      body: denied.body ?? "",
      grpcCode: code,
      metadata,
    };
  }
  const ok = response.okResponse ?? {};
  const set: HeaderList = [];
  const append: HeaderList = [];
  for (const option of ok.headers ?? []) (option.append?.value === true ? append : set).push(headerOf(option));
  const remove = (ok.headersToRemove ?? [])
    .map((h) => h.toLowerCase())
    .filter((h) => !h.startsWith(":") && h !== "host");
  const responseHeaders = (ok.responseHeadersToAdd ?? []).map((option) => {
    const [k, v] = headerOf(option);
    // append set: true = add, false = set; unset: append_action (0 APPEND_IF_EXISTS_OR_ADD = add, 3 = set).
    const add = option.append !== undefined ? option.append.value === true : (option.appendAction ?? 0) === 0;
    return [k, v, add] as const;
  });
  return { kind: "ok", set, append, remove, responseHeaders, metadata };
}

/** Applies an OK response's request-header mutations to a header list (lower-case names). */
export function applyRequestMutations(headers: HeaderList, outcome: AuthzAllowed): HeaderList {
  let out = headers.map(([k, v]) => [k, v] as [string, string]);
  for (const [k, v] of outcome.set) {
    const first = out.findIndex(([name]) => name === k);
    if (first < 0) {
      out.push([k, v]);
      continue;
    }
    out[first] = [k, v];
    out = out.filter(([name], i) => name !== k || i === first);
  }
  for (const [k, v] of outcome.append) {
    const entry = out.find(([name]) => name === k);
    if (entry) entry[1] = `${entry[1]},${v}`;
  }
  return out.filter(([k]) => !outcome.remove.includes(k));
}

/** A denied reply's headers: each named header is first removed, then every entry added (Set-Cookie may repeat). */
export function deniedReplyHeaders(base: HeaderList, denied: AuthzDenied): HeaderList {
  const names = new Set(denied.headers.map(([k]) => k));
  return [...base.filter(([k]) => !names.has(k)), ...denied.headers];
}
