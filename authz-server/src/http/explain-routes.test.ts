import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { browserRefusal } from "./explain-routes.js";

function request(headers: Record<string, string>, socketFile = false): IncomingMessage {
  return { headers, socket: { remoteAddress: socketFile ? undefined : "127.0.0.1" } } as unknown as IncomingMessage;
}

const json = { "content-type": "application/json" };

describe("explain on a loopback listener without a token: browserRefusal", () => {
  it("answers a local client: loopback Host (any port), application/json, no Origin or a loopback one", () => {
    for (const host of ["127.0.0.1:9192", "127.0.0.1", "localhost:9192", "LOCALHOST", "[::1]:9192", "127.1.2.3:80"]) {
      expect(browserRefusal(request({ host, ...json })), host).toBeNull();
    }
    expect(
      browserRefusal(request({ host: "127.0.0.1:9192", "content-type": "application/json; charset=utf-8" })),
    ).toBeNull();
    expect(browserRefusal(request({ host: "localhost:9192", origin: "http://localhost:9192", ...json }))).toBeNull();
    // A unix socket: no browser reaches it, whatever Host a client names.
    expect(browserRefusal(request({ host: "anything", ...json }, true))).toBeNull();
  });

  it("refuses a DNS-rebinding Host, another site's Origin and a content type a page sends without a preflight", () => {
    for (const host of ["evil.example:9192", "127.0.0.1.evil.example", "", "localhost.evil.example", "[::2]"]) {
      expect(browserRefusal(request({ host, ...json })), host).toMatch(/loopback Host/);
    }
    for (const origin of ["http://evil.example", "null", "http://127.0.0.1.evil.example:9192"]) {
      expect(browserRefusal(request({ host: "127.0.0.1:9192", origin, ...json })), origin).toMatch(/another origin/);
    }
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]) {
      const headers: Record<string, string> = { host: "127.0.0.1:9192" };
      if (type !== "") headers["content-type"] = type;
      expect(browserRefusal(request(headers)), type).toMatch(/application\/json/);
    }
  });
});
