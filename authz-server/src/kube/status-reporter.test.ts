import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../observability/logger.js";
import type { PolicySet } from "../policy/policy-set.js";
import type { LintWarning } from "../policy-tools/lint.js";
import type { KubeApi } from "./kube-api.js";
import type { KubernetesPolicySource, ObjectVerdict } from "./kubernetes-policy-source.js";
import { StatusReporter } from "./status-reporter.js";

const quiet = createLogger("info", new Writable({ write: (_c, _e, done) => done() }));

/** A source with one object whose verdict names the set it was computed for. */
function sourceOf(): KubernetesPolicySource {
  return {
    settling: false,
    verdicts: (set: PolicySet): ObjectVerdict[] => [
      {
        namespace: "services",
        name: "p",
        uid: "u1",
        object: { apiVersion: "trustgate.dev/v1alpha1", kind: "TrustgatePolicy", metadata: { uid: "u1" } },
        verdict: {
          generation: 1,
          accepted: { status: "True", reason: "Accepted", message: `in force in ${set.version}` },
          warnings: { status: "False", reason: "NoWarnings", message: "" },
        },
      },
    ],
    observeWritten: () => {},
  } as unknown as KubernetesPolicySource;
}

describe("StatusReporter", () => {
  it("writes nothing from a pass whose set was replaced while it linted, and then reports the new set", async () => {
    const [first, second] = [{ version: "v1" }, { version: "v2" }] as unknown as PolicySet[];
    let current = first!;
    const written: string[] = [];
    const api: KubeApi = {
      request: async <T>(_method: string, _path: string, options?: { body?: unknown }) => {
        const body = options?.body as { status: { conditions: Array<{ message: string }> } };
        written.push(body.status.conditions[0]!.message);
        return { metadata: { uid: "u1" } } as T;
      },
    };
    const reporter = new StatusReporter({
      api,
      source: sourceOf(),
      currentSet: () => current,
      loadError: () => null,
      // A reload lands while the first set is being linted.
      lint: async (set: PolicySet): Promise<LintWarning[]> => {
        await new Promise((r) => setImmediate(r));
        if (set === first) current = second!;
        return [];
      },
      isLeader: () => true,
      logger: quiet,
      debounceMs: 0,
    });
    reporter.request();
    await new Promise((r) => setTimeout(r, 20));
    await reporter.idle();
    await reporter.stop();
    expect(written).toEqual(["in force in v2"]);
  });
});
