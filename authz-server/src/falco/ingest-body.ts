/**
 * The body of `POST /v1/falco`: one alert as a JSON object (Falco http_output, Falcosidekick webhook, with or without
 * a trailing newline) or JSON Lines with one alert per line (file/program output replayed, batching forwarders).
 * All or nothing: any bad line refuses the whole body, naming the line and the field, so a half-applied batch
 * never happens. Long bodies are parsed in slices so a big batch cannot hold up Checks on the same event loop.
 */
import { isUtf8 } from "node:buffer";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { type FalcoAlert, validateAlert } from "./alert.js";

export type BodyResult =
  | { ok: true; alerts: FalcoAlert[] }
  | { ok: false; error: string; field: string; line?: number };

/** Lines parsed between yields to the event loop. */
const SLICE = 256;

function lineError(line: number, multi: boolean, field: string, error: string): BodyResult {
  return multi ? { ok: false, error: `line ${line}: ${error}`, field, line } : { ok: false, error, field };
}

export async function parseIngestBody(body: Uint8Array): Promise<BodyResult> {
  if (!isUtf8(body)) return { ok: false, error: "body is not valid UTF-8", field: "(body)" };
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
  if (text.trim() === "") return { ok: false, error: "body is empty: expected a Falco alert as JSON", field: "(body)" };

  // The common case: exactly one JSON object (it may be pretty-printed, so try the whole body first).
  let whole: unknown;
  let wholeParsed = false;
  try {
    whole = JSON.parse(text);
    wholeParsed = true;
  } catch {
    // Not a single JSON document: read it as JSON Lines below.
  }
  if (wholeParsed) {
    if (Array.isArray(whole)) {
      return {
        ok: false,
        error: "expected one JSON object per alert (send several as JSON Lines), not an array",
        field: "(body)",
      };
    }
    const result = validateAlert(whole);
    return result.ok ? { ok: true, alerts: [result.alert] } : { ok: false, error: result.error, field: result.field };
  }

  const lines = text.split("\n");
  const alerts: FalcoAlert[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (i > 0 && i % SLICE === 0) await yieldToEventLoop();
    const line = lines[i]!.trim();
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      return lineError(i + 1, true, "(json)", `not valid JSON: ${(err as Error).message}`);
    }
    const result = validateAlert(value);
    if (!result.ok) return lineError(i + 1, true, result.field, result.error);
    alerts.push(result.alert);
  }
  return { ok: true, alerts };
}
