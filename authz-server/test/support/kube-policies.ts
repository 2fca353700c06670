/**
 * Helpers for tests of the Kubernetes mode: TrustgatePolicy objects, polling, gRPC health, and the configuration
 * that points trustgate at the fake API server with short Lease timings.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath } from "grpc-health-check";

// biome-ignore lint/suspicious/noExplicitAny: objects are free-form JSON, as in the API server
export type Obj = Record<string, any>;

export function tgp(namespace: string, name: string, spec: Obj, annotations?: Record<string, string>): Obj {
  return {
    apiVersion: "trustgate.dev/v1alpha1",
    kind: "TrustgatePolicy",
    metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
    spec,
  };
}

/** ALLOW GET on one path for callers of the services namespace (the policy tests use for routes). */
export function allowPath(name: string, path: string, namespace = "services"): Obj {
  return tgp(namespace, name, {
    action: "ALLOW",
    rules: [{ from: [{ source: { namespaces: ["services"] } }], to: [{ operation: { paths: [path] } }] }],
  });
}

/** DENY `/admin` on the workloads labelled `app: <app>` of the namespace (the pod-label tests' policy). */
export function denyAdminOn(namespace: string, app: string): Obj {
  return tgp(namespace, "deny-admin", {
    action: "DENY",
    selector: { matchLabels: { app } },
    rules: [{ to: [{ operation: { paths: ["/admin"] } }] }],
  });
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function condition(o: Obj | undefined, type: string): Obj | undefined {
  return (o?.status?.conditions as Obj[] | undefined)?.find((c) => c.type === type);
}

/** Configuration of the Kubernetes mode against the fake API (Lease timings short enough for tests). */
export function kubeConfig(kubeconfig: string, extra: Obj = {}): Obj {
  return {
    policies: {
      source: "kubernetes",
      kubernetes: {
        kubeconfig,
        ...extra,
        status: {
          leaseNamespace: "trustgate-system",
          leaseDurationSeconds: 1.5,
          renewDeadlineSeconds: 1,
          retryPeriodSeconds: 0.2,
          ...(extra.status ?? {}),
        },
      },
    },
  };
}

export async function healthStatus(address: string): Promise<string> {
  const definition = protoLoader.loadSync(protoPath, { enums: String });
  const proto = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: {
      health: {
        v1: {
          Health: new (
            addr: string,
            creds: grpc.ChannelCredentials,
          ) => grpc.Client & {
            check(
              r: { service: string },
              o: grpc.CallOptions,
              cb: (e: grpc.ServiceError | null, r?: { status: string }) => void,
            ): void;
          };
        };
      };
    };
  };
  const client = new proto.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  try {
    return await new Promise<string>((resolve, reject) =>
      client.check({ service: "" }, { deadline: Date.now() + 3000 }, (err, r) =>
        err ? reject(err) : resolve(r?.status ?? "UNKNOWN"),
      ),
    );
  } finally {
    client.close();
  }
}
