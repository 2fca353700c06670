import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { authenticateIngest, ingestConfigured } from "./ingest-auth.js";

function request(headers: Record<string, string> = {}): IncomingMessage {
  return { headers, socket: {} } as unknown as IncomingMessage;
}

describe("authenticateIngest", () => {
  it("treats a whitespace-only token as no token: nothing, not even the same whitespace, is accepted", () => {
    const credentials = { token: "\n", clientCertificates: false };
    expect(ingestConfigured(credentials)).toBe(false);
    for (const url of ["http://x/v1/falco?token=%0A", "http://x/v1/falco?token=", "http://x/v1/falco"]) {
      const result = authenticateIngest(request(), new URL(url), credentials);
      expect(result, url).toMatchObject({ ok: false, reason: "not_configured" });
    }
    expect(authenticateIngest(request({ authorization: "Bearer \n" }), new URL("http://x/"), credentials).ok).toBe(
      false,
    );
  });

  it("accepts the token as a bearer token or ?token=, and refuses a blank or wrong one", () => {
    const credentials = { token: "s3cret", clientCertificates: false };
    const query = (q: string) => authenticateIngest(request(), new URL(`http://x/v1/falco?token=${q}`), credentials);
    expect(query("s3cret")).toEqual({ ok: true, method: "query" });
    expect(query("s3cret%0A")).toEqual({ ok: true, method: "query" });
    expect(query("%20").ok).toBe(false);
    expect(query("wrong").ok).toBe(false);
    const bearer = authenticateIngest(request({ authorization: "Bearer s3cret" }), new URL("http://x/"), credentials);
    expect(bearer).toEqual({ ok: true, method: "bearer" });
  });
});
