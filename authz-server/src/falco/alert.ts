/**
 * One Falco alert as trustgate accepts it: the JSON Falco writes with `json_output: true` (http_output, file or
 * program output) and Falcosidekick's webhook payload (the same schema plus `uuid`). Validation is strict on the
 * fields risk depends on and ignores keys it does not use (`output`, `message`, …): key order never matters.
 */

import { parsePriority } from "../model/falco-priority.js";
import type { FalcoPriority } from "../model/risk-view.js";
import { ownField } from "../util/own-record.js";
import { parseFalcoTime } from "./falco-time.js";

export interface FalcoAlert {
  readonly rule: string;
  readonly priority: FalcoPriority;
  /** The event time exactly as received (named in deny reasons). */
  readonly time: string;
  readonly timeMs: number;
  /** `syscall`, `k8s_audit`, a plugin source, `internal`; "" when absent (Falco before 0.30). */
  readonly source: string;
  /** The Falco host (in Kubernetes, the node name); "" when absent. */
  readonly hostname: string;
  readonly tags: readonly string[];
  /** Falcosidekick's per-alert UUID; "" for Falco's own http_output. */
  readonly uuid: string;
  readonly outputFields: Readonly<Record<string, unknown>>;
}

export type AlertResult = { ok: true; alert: FalcoAlert } | { ok: false; field: string; error: string };

const MAX_RULE_LENGTH = 1024;
const MAX_TAGS = 128;
const MAX_SHORT_STRING = 512;

function fail(field: string, error: string): AlertResult {
  return { ok: false, field, error: `${field}: ${error}` };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalString(body: Record<string, unknown>, field: string): string | AlertResult {
  const value = ownField(body, field);
  if (value === undefined) return "";
  if (typeof value !== "string") return fail(field, "must be a string");
  if (value.length > MAX_SHORT_STRING) return fail(field, `longer than ${MAX_SHORT_STRING} characters`);
  return value;
}

/** Validates one decoded JSON value as a Falco alert; the error names the first offending field. */
export function validateAlert(value: unknown): AlertResult {
  if (!isObject(value)) return fail("(alert)", "expected a JSON object");
  // Only the alert's own fields count (never anything inherited, whatever a key is called).
  const rule = ownField(value, "rule");
  const priority = ownField(value, "priority");
  const time = ownField(value, "time");
  const outputFields = ownField(value, "output_fields");
  const tags = ownField(value, "tags");

  if (rule === undefined) return fail("rule", "is required");
  if (typeof rule !== "string" || rule.trim() === "") return fail("rule", "must be a non-empty string");
  if (rule.length > MAX_RULE_LENGTH) return fail("rule", `longer than ${MAX_RULE_LENGTH} characters`);

  if (priority === undefined) return fail("priority", "is required");
  if (typeof priority !== "string") return fail("priority", "must be a string");
  const parsedPriority = parsePriority(priority);
  if (parsedPriority === null) {
    return fail(
      "priority",
      `"${priority.slice(0, 40)}" is not a Falco priority (Emergency, Alert, Critical, Error, Warning, Notice, Informational or Info, Debug)`,
    );
  }

  if (time === undefined) return fail("time", "is required");
  if (typeof time !== "string")
    return fail("time", "must be an RFC 3339 string such as 2026-11-28T10:00:00.123456789Z");
  const timeMs = parseFalcoTime(time);
  if (timeMs === null) {
    return fail("time", `"${time.slice(0, 64)}" is not an RFC 3339 time such as 2026-11-28T10:00:00.123456789Z`);
  }

  if (outputFields === undefined) return fail("output_fields", "is required");
  if (!isObject(outputFields)) return fail("output_fields", "must be a JSON object");

  let tagList: string[] = [];
  if (tags !== undefined && tags !== null) {
    if (!Array.isArray(tags)) return fail("tags", "must be an array of strings");
    if (tags.length > MAX_TAGS) return fail("tags", `more than ${MAX_TAGS} tags`);
    for (const tag of tags) if (typeof tag !== "string") return fail("tags", "must be an array of strings");
    tagList = tags as string[];
  }

  const source = optionalString(value, "source");
  if (typeof source !== "string") return source;
  const hostname = optionalString(value, "hostname");
  if (typeof hostname !== "string") return hostname;
  const uuid = optionalString(value, "uuid");
  if (typeof uuid !== "string") return uuid;

  return {
    ok: true,
    alert: { rule, priority: parsedPriority, time, timeMs, source, hostname, tags: tagList, uuid, outputFields },
  };
}
