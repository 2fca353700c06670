/**
 * Allow responses are nearly the same bytes every time: for one deciding rule, one policy set version and one caller,
 * only the decision id differs (always 36 ASCII characters, a UUID). So the encoded response is kept as a template
 * with the id's two places marked, and a Check copies the template and writes its id in: no response object built,
 * nothing measured, one copy. Anything else (denies, forged headers to remove, dry-run shadows, an id of another
 * shape) is written the general way. Templates hang off the Decision objects (allow decisions are built once per rule)
 * and are bounded per decision.
 */
import type { Decision } from "../model/decision.js";
import { writeCheckResponse } from "./response-writer.js";
import { type ResponseContext, toCheckResponse } from "./to-check-response.js";

const ID_LENGTH = 36;
/** Stands in for the id while a template is made: DEL cannot occur in anything else the response carries. */
const MARK = "\u007f".repeat(ID_LENGTH);
const MARK_BYTE = 0x7f;
const MAX_PER_DECISION = 1024;

interface Template {
  readonly bytes: Buffer;
  readonly at: readonly number[];
}

function template(d: Decision, policyVersion: string, caller: string): Template | null {
  const bytes = writeCheckResponse(
    toCheckResponse(d, { decisionId: MARK, caller, policyVersion, removeHeaders: null, shadow: null }),
  );
  const at: number[] = [];
  for (let i = bytes.indexOf(MARK_BYTE); i !== -1; i = bytes.indexOf(MARK_BYTE, i + ID_LENGTH)) {
    for (let k = 1; k < ID_LENGTH; k++) if (bytes[i + k] !== MARK_BYTE) return null;
    at.push(i);
  }
  return at.length === 2 ? { bytes, at } : null;
}

function isAsciiId(id: string): boolean {
  if (id.length !== ID_LENGTH) return false;
  for (let i = 0; i < ID_LENGTH; i++) if (id.charCodeAt(i) > 0x7e) return false;
  return true;
}

export class ResponseTemplates {
  /** Decision → policy version → caller → template. */
  private readonly byDecision = new WeakMap<Decision, Map<string, Map<string, Template | null>>>();
  private readonly sizes = new WeakMap<Decision, { n: number }>();

  encode(d: Decision, ctx: ResponseContext): Buffer {
    if (!d.allowed || ctx.removeHeaders !== null || ctx.shadow !== null || !isAsciiId(ctx.decisionId)) {
      return writeCheckResponse(toCheckResponse(d, ctx));
    }
    let byVersion = this.byDecision.get(d);
    if (byVersion === undefined) {
      byVersion = new Map();
      this.byDecision.set(d, byVersion);
      this.sizes.set(d, { n: 0 });
    }
    let byCaller = byVersion.get(ctx.policyVersion);
    if (byCaller === undefined) {
      byCaller = new Map();
      byVersion.set(ctx.policyVersion, byCaller);
    }
    let t = byCaller.get(ctx.caller);
    if (t === undefined) {
      const size = this.sizes.get(d)!;
      if (size.n >= MAX_PER_DECISION) {
        byVersion.clear();
        size.n = 0;
        byCaller = new Map();
        byVersion.set(ctx.policyVersion, byCaller);
      }
      t = template(d, ctx.policyVersion, ctx.caller);
      byCaller.set(ctx.caller, t);
      size.n += 1;
    }
    if (t === null) return writeCheckResponse(toCheckResponse(d, ctx));
    const out = Buffer.allocUnsafe(t.bytes.length);
    t.bytes.copy(out);
    const id = ctx.decisionId;
    for (const start of t.at) for (let i = 0; i < ID_LENGTH; i++) out[start + i] = id.charCodeAt(i);
    return out;
  }
}
