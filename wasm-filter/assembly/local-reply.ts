// Local denies: a JSON body shaped like trustgate's own deny, sent as a local reply.
//   {"decision":"deny","reason":"…","policy":"local/<check>","rule":0,"decision_id":"…"}
// The decision id is the request's x-request-id when it is a plain token (so the deny can be found
// in Envoy's access log and traces); otherwise one is made from the host clock and a counter.
import { HeadersAction, LogLevel, MapType, Status } from "./abi";
import { noteDeny } from "./gc";
import { getHeader, HostBuffer, log, logEnabled, nowNanos, sendLocalResponse, serializePairs } from "./hostcalls";

const REQUEST_ID = String.UTF8.encode("x-request-id");
const MAX_REQUEST_ID_LENGTH: usize = 128;
const requestIdBuffer = new HostBuffer();
let counter: u32 = 0;

export const enum DenyCheck {
  RequireMtls = 0,
  TrustDomain = 1,
  Revoked = 2,
  InvalidIdentity = 3,
  FilterError = 4,
}

export function policyName(check: DenyCheck): string {
  switch (check) {
    case DenyCheck.RequireMtls:
      return "local/require-mtls";
    case DenyCheck.TrustDomain:
      return "local/trust-domain";
    case DenyCheck.Revoked:
      return "local/revoked";
    case DenyCheck.InvalidIdentity:
      return "local/invalid-identity";
    default:
      return "local/filter-error";
  }
}

/** Response code details (Envoy's %RESPONSE_CODE_DETAILS%): one token, no spaces. */
function details(check: DenyCheck): string {
  switch (check) {
    case DenyCheck.RequireMtls:
      return "trustgate_require_mtls";
    case DenyCheck.TrustDomain:
      return "trustgate_trust_domain";
    case DenyCheck.Revoked:
      return "trustgate_revoked";
    case DenyCheck.InvalidIdentity:
      return "trustgate_invalid_identity";
    default:
      return "trustgate_filter_error";
  }
}

/** 401 when no client certificate was presented at all, 503 when the filter cannot work, else 403. */
export function statusCode(check: DenyCheck): u32 {
  if (check == DenyCheck.RequireMtls) return 401;
  if (check == DenyCheck.FilterError) return 503;
  return 403;
}

function isRequestIdChar(c: u32): bool {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c == 0x2d ||
    c == 0x2e ||
    c == 0x5f ||
    c == 0x3a
  );
}

function hex(v: u64, digits: i32): string {
  let s = "";
  for (let i = digits - 1; i >= 0; i--) {
    const d = <u32>((v >> (<u64>(i * 4))) & 0xf);
    s += String.fromCharCode(d < 10 ? 0x30 + d : 0x57 + d);
  }
  return s;
}

export function decisionId(): string {
  if (getHeader(MapType.RequestHeaders, REQUEST_ID, requestIdBuffer) == Status.Ok && requestIdBuffer.len > 0) {
    let ok = requestIdBuffer.len <= MAX_REQUEST_ID_LENGTH;
    for (let i: usize = 0; ok && i < requestIdBuffer.len; i++) ok = isRequestIdChar(load<u8>(requestIdBuffer.ptr + i));
    if (ok) {
      const id = requestIdBuffer.toString();
      requestIdBuffer.release();
      return id;
    }
  }
  requestIdBuffer.release();
  counter++;
  return "tg-" + hex(nowNanos(), 16) + "-" + hex(<u64>counter, 8);
}

export function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else if (c < 0x20 || c == 0x7f || (c >= 0xd800 && c <= 0xdfff)) out += "\\u" + hex(<u64>c, 4);
    else out += String.fromCharCode(c);
  }
  return out + '"';
}

const CONTENT_TYPE_PAIRS = serializePairs(["content-type"], ["application/json"]);

/** Sends the deny; the caller returns StopIteration (Envoy stops the stream after a local reply anyway). */
export function sendDeny(check: DenyCheck, reason: string): u32 {
  noteDeny();
  const id = decisionId();
  const body = String.UTF8.encode(
    '{"decision":"deny","reason":' +
      jsonString(reason) +
      ',"policy":"' +
      policyName(check) +
      '","rule":0,"decision_id":' +
      jsonString(id) +
      "}",
  );
  const det = String.UTF8.encode(details(check));
  sendLocalResponse(statusCode(check), det, body, CONTENT_TYPE_PAIRS, -1);
  if (logEnabled(LogLevel.Debug)) {
    log(LogLevel.Debug, "trustgate: local deny " + policyName(check) + " (" + id + "): " + reason);
  }
  return HeadersAction.StopIteration;
}
