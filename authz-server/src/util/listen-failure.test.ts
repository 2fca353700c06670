import { describe, expect, it } from "vitest";
import { listenFailureMessage, systemErrorCode } from "./listen-failure.js";

describe("listen failures", () => {
  it("finds the system error code on the error or in gRPC's message", () => {
    expect(systemErrorCode(Object.assign(new Error("x"), { code: "EADDRINUSE" }))).toBe("EADDRINUSE");
    expect(
      systemErrorCode(
        new Error(
          "No address added out of total 1 resolved errors: [listen EADDRINUSE: address already in use 127.0.0.1:9191]",
        ),
      ),
    ).toBe("EADDRINUSE");
    expect(systemErrorCode(new Error("getaddrinfo EAI_AGAIN nowhere"))).toBe("EAI_AGAIN");
    expect(systemErrorCode(new Error("something else"))).toBeNull();
  });

  it("says which listener, which address and what to do, in one line", () => {
    const busy = Object.assign(new Error("listen EADDRINUSE"), { code: "EADDRINUSE" });
    const line = listenFailureMessage("gRPC", "127.0.0.1:9191", busy, "--grpc-addr (TRUSTGATE_GRPC_ADDR)");
    expect(line).toBe(
      "cannot listen for gRPC on 127.0.0.1:9191: address already in use — is another trustgate (or another program) listening there? Stop it, or choose another address with --grpc-addr (TRUSTGATE_GRPC_ADDR)",
    );
    expect(line).not.toContain("\n");
    expect(listenFailureMessage("admin HTTP", "10.9.9.9:1", new Error("listen EADDRNOTAVAIL"), "--http-addr")).toMatch(
      /no such address — use 127\.0\.0\.1, 0\.0\.0\.0 or one of this host's addresses with --http-addr$/,
    );
    expect(listenFailureMessage("admin HTTP", "x", new Error("odd failure"), "--http-addr")).toBe(
      "cannot listen for admin HTTP on x: odd failure — check --http-addr",
    );
  });
});
