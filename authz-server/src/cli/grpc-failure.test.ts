import { describe, expect, it } from "vitest";
import { describeGrpcFailure } from "./grpc-failure.js";

describe("gRPC failures in words", () => {
  it("replaces grpc-js's raw UNAVAILABLE text, empty resolution note included, with one actionable line", () => {
    const refused = {
      code: 14,
      details: "No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ",
    };
    const line = describeGrpcFailure(refused, "127.0.0.1:1", 1000);
    expect(line).toBe(
      "cannot reach trustgate at 127.0.0.1:1: connection refused — is `trustgate serve` running there? If not there, give its address with --addr (or TRUSTGATE_GRPC_ADDR)",
    );
    expect(line).not.toContain("Resolution note");
    expect(describeGrpcFailure({ code: 14, details: "Name resolution failed for target dns:x:1" }, "x:1", 1)).toContain(
      "the host name does not resolve",
    );
    expect(
      describeGrpcFailure(
        { code: 14, details: "No connection established. Last error: Protocol error (t). Resolution note: " },
        "a:9192",
        1,
      ),
    ).toContain("it does not speak gRPC — is that the admin HTTP port?");
  });

  it("names the deadline and the flag that sets it", () => {
    expect(describeGrpcFailure({ code: 4, details: "Deadline exceeded" }, "a:1", 250)).toMatch(
      /^no answer from a:1 within 250 ms — .*--timeout-ms/,
    );
  });
});
