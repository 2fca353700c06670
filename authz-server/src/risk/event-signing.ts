/**
 * HMAC-SHA256 over each event replicas share through Redis, with a key only the replicas hold (`redis.eventKey` /
 * `redis.eventKeyFile`). With a key, an event without a valid signature is dropped: whoever else can write to Redis
 * cannot add alerts, clears, heartbeats or revocations the replicas would believe. Without a key nothing is signed
 * and Redis itself is trusted.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export type Verdict = "ok" | "unsigned" | "bad_signature";

export class EventSigner {
  private readonly key: Buffer | null;

  constructor(key: string) {
    this.key = key === "" ? null : Buffer.from(key, "utf8");
  }

  get enabled(): boolean {
    return this.key !== null;
  }

  /** The signature of `payload` (base64url), or "" without a key. */
  sign(payload: string): string {
    return this.key === null ? "" : createHmac("sha256", this.key).update(payload).digest("base64url");
  }

  verify(payload: string, signature: string | undefined): Verdict {
    if (this.key === null) return "ok";
    if (signature === undefined || signature === "") return "unsigned";
    const expected = createHmac("sha256", this.key).update(payload).digest();
    const given = Buffer.from(signature, "base64url");
    return given.length === expected.length && timingSafeEqual(given, expected) ? "ok" : "bad_signature";
  }

  /** `<signature>.<payload>`: one string carrying both (a Redis hash value). */
  seal(payload: string): string {
    return `${this.sign(payload)}.${payload}`;
  }

  /** The payload of a sealed string and whether its signature holds. */
  unseal(sealed: string): { payload: string; verdict: Verdict } {
    const dot = sealed.indexOf(".");
    if (dot < 0) return { payload: sealed, verdict: this.verify(sealed, undefined) };
    const payload = sealed.slice(dot + 1);
    return { payload, verdict: this.verify(payload, sealed.slice(0, dot)) };
  }
}
