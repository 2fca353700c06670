/**
 * The configuration schema: every key, its default and its checks, in one place. Strict: an unknown key is an error,
 * so a typo can never silently leave a protection off. Checks that involve several keys are refinements here too,
 * so a configuration that parses is one the server can run with.
 */
import { z } from "zod";
import { trustDomainError } from "../identity/spiffe-id.js";
import { parsePriority } from "../model/falco-priority.js";
import { ownRecord } from "../util/own-record.js";
import { DEFAULT_YAML_LIMITS } from "../util/safe-yaml.js";

/**
 * A listen address: `host:port` (IPv6 in brackets), port 0–65535, or `unix:/path`. Checked here so that `localhost`
 * (grpc-js would pick port 443) or `:9191` fails at start with the key's name rather than as a listen error.
 */
const address = z
  .string()
  .min(1)
  .refine((a) => {
    if (a.startsWith("unix:")) return a.length > "unix:".length;
    const m = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(a);
    return m !== null && Number(m[2]) <= 65535;
  }, "expected host:port (e.g. 127.0.0.1:9191 or [::1]:9191) or unix:/path");

/**
 * A secret given inline or as a file, not both: which one is meant cannot be guessed, and the one not used would sit
 * in the configuration looking like it works.
 */
function oneSecret(inlineKey: string, fileKey: string) {
  return (o: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    if (o[inlineKey] !== "" && o[fileKey] !== "") {
      ctx.addIssue({ code: "custom", path: [inlineKey], message: `set ${inlineKey} or ${fileKey}, not both` });
    }
  };
}

/**
 * Where Redis is: `redis://[user:password@]host[:port][/db]`, `rediss://…` (TLS), or the path of a unix socket.
 * ioredis reads anything else somehow (`http://h` as a socket at "/", `localhost:6379` as a host): refused here, and
 * the error never repeats the value, which may hold a password.
 */
const redisUrl = z.string().superRefine((url, ctx) => {
  if (url === "" || url.startsWith("/")) return;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  let problem: string | null = null;
  if (scheme !== "redis" && scheme !== "rediss") {
    problem = scheme === undefined ? "it has no scheme" : `its scheme is ${JSON.stringify(scheme)}`;
  } else {
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      problem = "it does not parse as a URL";
    }
    if (parsed !== null && parsed.hostname === "") problem = "it names no host";
    else if (parsed !== null && !/^(\/\d{0,2})?$/.test(parsed.pathname)) problem = "its path is not a database number";
  }
  if (problem !== null) {
    ctx.addIssue({
      code: "custom",
      message: `expected redis://[user:password@]host[:port][/db], rediss://… (TLS) or a unix socket path; ${problem}`,
    });
  }
});

/** pino's levels; `serve --log-level` offers exactly these. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** An alert weight: bounded (as risk/event-bounds.ts MAX_WEIGHT) so that no sum of weights can overflow. */
const weight = z.number().nonnegative().max(1_000_000);

const trustDomain = z.string().superRefine((td, ctx) => {
  const error = trustDomainError(td);
  if (error !== null) ctx.addIssue({ code: "custom", message: error });
});

/** A source can be weighed from silent (0) to ten times its alerts' weight. */
const MAX_SOURCE_WEIGHT = 10;
const SOURCE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function sourceNames(weights: Record<string, number>, ctx: z.RefinementCtx): void {
  for (const name of Object.keys(weights)) {
    if (name === "internal") {
      ctx.addIssue({ code: "custom", path: [name], message: "internal alerts never add risk; remove this key" });
    } else if (name === "syscalls") {
      ctx.addIssue({ code: "custom", path: [name], message: 'the syscall source is spelled "syscall"' });
    } else if (!SOURCE_NAME.test(name)) {
      ctx.addIssue({ code: "custom", path: [name], message: "not a Falco source name (syscall, k8s_audit, …)" });
    }
  }
}

const thresholds = z
  .object({
    medium: z.number().positive().default(5),
    high: z.number().positive().default(30),
    critical: z.number().positive().default(100),
  })
  .strict()
  .prefault({})
  .superRefine((t, ctx) => {
    if (!(t.medium < t.high && t.high < t.critical)) {
      ctx.addIssue({
        code: "custom",
        message: `must rise medium < high < critical (got ${t.medium}, ${t.high}, ${t.critical})`,
      });
    }
    if (t.medium < 0.1) ctx.addIssue({ code: "custom", path: ["medium"], message: "must be at least 0.1" });
  });

const risk = z
  .object({
    halfLifeSeconds: z.number().positive().default(600),
    staleAfterSeconds: z.number().positive().default(300),
    /** Falco priority (any case) → weight; unset priorities keep the defaults of risk/scoring.ts. */
    weights: z
      .record(z.string(), weight)
      .default({})
      .superRefine((weights, ctx) => {
        for (const name of Object.keys(weights)) {
          if (parsePriority(name) === null)
            ctx.addIssue({ code: "custom", path: [name], message: "not a Falco priority" });
        }
      }),
    // Rule names and tags are the user's strings: kept off the prototype chain (`__proto__` is just a name).
    ruleWeights: ownRecord(weight).default(() => Object.create(null)),
    tagWeights: ownRecord(weight).default(() => Object.create(null)),
    /** Falco source (`syscall`, `k8s_audit`, a plugin's) → multiplier of its tag and priority weights; unset: 1. */
    sourceWeights: ownRecord(z.number().min(0).max(MAX_SOURCE_WEIGHT))
      .default(() => Object.create(null))
      .superRefine(sourceNames),
    thresholds,
    /** How long an alert counts as active (highest alert, Critical+ lift); default: one half-life. */
    activeWindowSeconds: z.number().positive().optional(),
    /** Repeats of one alert (same identity, rule, host, container) within this window add no score. */
    dedupWindowSeconds: z.number().nonnegative().default(10),
    snapshotFile: z.string().default(""),
    snapshotIntervalSeconds: z.number().positive().default(30),
    maxIdentities: z.number().int().positive().default(100_000),
  })
  .strict()
  .prefault({});

const ingest = z
  .object({
    addr: z.string().default(""),
    tls: z
      .object({ certFile: z.string(), keyFile: z.string(), clientCaFile: z.string().default("") })
      .strict()
      .optional(),
    maxBodyBytes: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
    /** Per source (client address or certificate), for alerts below Critical. */
    ratePerSecond: z.number().positive().default(2000),
    burst: z.number().int().positive().default(10_000),
    /** Per source, for Critical, Alert and Emergency alerts: a budget of their own that no flood of others uses. */
    urgentRatePerSecond: z.number().positive().default(200),
    urgentBurst: z.number().int().positive().default(1000),
  })
  .strict()
  .prefault({})
  .superRefine((i, ctx) => {
    if (i.tls !== undefined && i.addr === "") {
      ctx.addIssue({
        code: "custom",
        path: ["tls"],
        message: "needs falco.ingest.addr (TLS is served on the separate ingest listener)",
      });
    }
  });

const mapping = z
  .object({
    strategy: z.enum(["static", "kubernetes", "label"]).default("static"),
    trustDomain: z
      .string()
      .default("cluster.local")
      .superRefine((td, ctx) => {
        const error = trustDomainError(td);
        if (error !== null) ctx.addIssue({ code: "custom", message: error });
      }),
    label: z.string().default(""),
    /** kubeconfig for the kubernetes strategy; "" = KUBECONFIG, ~/.kube/config or in-cluster. */
    kubeconfig: z.string().default(""),
    maxPods: z.number().int().positive().default(100_000),
  })
  .strict()
  .prefault({})
  .superRefine((m, ctx) => {
    if (m.strategy === "label" && m.label === "") {
      ctx.addIssue({ code: "custom", path: ["label"], message: "required with strategy label" });
    }
  });

/** Limits on every YAML file trustgate reads from users: policies, policy tests, the workload inventory. */
const yamlLimits = z
  .object({
    maxFileBytes: z
      .number()
      .int()
      .positive()
      .max(64 * 1024 * 1024)
      .default(DEFAULT_YAML_LIMITS.maxFileBytes),
    maxDocuments: z.number().int().positive().default(DEFAULT_YAML_LIMITS.maxDocuments),
    // The depth walk recurses: the cap keeps it far from the stack limit.
    maxDepth: z.number().int().positive().max(1000).default(DEFAULT_YAML_LIMITS.maxDepth),
    maxAliases: z.number().int().nonnegative().default(DEFAULT_YAML_LIMITS.maxAliases),
    maxAliasExpansion: z.number().int().nonnegative().default(DEFAULT_YAML_LIMITS.maxAliasExpansion),
  })
  .strict()
  .prefault({});

/** Leader election for status writes: the Lease and client-go's timing (duration > renew deadline > retry). */
const statusWrites = z
  .object({
    write: z.boolean().default(true),
    leaseName: z.string().min(1).default("trustgate-policy-status"),
    leaseNamespace: z.string().min(1).default("trustgate-system"),
    /** Unique per replica; "" = the host (pod) name plus a random suffix. */
    identity: z.string().default(""),
    leaseDurationSeconds: z.number().positive().default(15),
    renewDeadlineSeconds: z.number().positive().default(10),
    retryPeriodSeconds: z.number().positive().default(2),
  })
  .strict()
  .prefault({})
  .superRefine((s, ctx) => {
    if (!(s.retryPeriodSeconds < s.renewDeadlineSeconds && s.renewDeadlineSeconds < s.leaseDurationSeconds)) {
      ctx.addIssue({
        code: "custom",
        message: `must rise retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds (got ${s.retryPeriodSeconds}, ${s.renewDeadlineSeconds}, ${s.leaseDurationSeconds})`,
      });
    }
  });

const kubernetesPolicies = z
  .object({
    /** kubeconfig; "" = KUBECONFIG, ~/.kube/config or in-cluster. */
    kubeconfig: z.string().default(""),
    /** Namespaces whose TrustgatePolicy objects are watched; empty = all. */
    namespaces: z.array(z.string().min(1)).default([]),
    /** Destination labels from the pod (by IP, else service account) when Envoy sends none. */
    podLabels: z.boolean().default(true),
    maxPods: z.number().int().positive().default(100_000),
    status: statusWrites,
    webhook: z
      .object({ addr: z.string().default(""), certFile: z.string().default(""), keyFile: z.string().default("") })
      .strict()
      .prefault({})
      .superRefine((w, ctx) => {
        if (w.addr !== "" && (w.certFile === "" || w.keyFile === "")) {
          ctx.addIssue({
            code: "custom",
            message: "needs certFile and keyFile (the API server calls admission webhooks over HTTPS only)",
          });
        }
      }),
  })
  .strict()
  .prefault({});

export const configSchema = z
  .object({
    grpc: z
      .object({
        addr: address.default("127.0.0.1:9191"),
        maxMessageBytes: z
          .number()
          .int()
          .positive()
          .default(1024 * 1024),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        addr: address.default("127.0.0.1:9192"),
        adminToken: z.string().default(""),
        adminTokenFile: z.string().default(""),
      })
      .strict()
      .prefault({})
      .superRefine(oneSecret("adminToken", "adminTokenFile")),
    policies: z
      .object({
        dir: z.string().min(1).default("policies"),
        /** More policy directories loaded into the same set (e.g. a deployment's overlay next to a shared library). */
        extraDirs: z.array(z.string().min(1)).default([]),
        rootNamespace: z.string().min(1).default("istio-system"),
        watch: z.boolean().default(true),
        /**
         * A changed file is read only once its size and modification time have stayed the same for this long, so a
         * file written in several steps is never loaded half-written.
         */
        watchStabilityMs: z.number().int().min(100).max(60_000).default(1000),
        /** Directories are also re-read this often, whatever the file system reports (a backstop for lost events). */
        watchPollSeconds: z.number().positive().max(3600).default(5),
        dryRun: z.boolean().default(false),
        /** Where policies come from: the directories, TrustgatePolicy objects in the Kubernetes API, or both. */
        source: z.enum(["files", "kubernetes", "both"]).default("files"),
        kubernetes: kubernetesPolicies,
      })
      .strict()
      .prefault({}),
    identity: z
      .object({
        trustDomains: z.array(trustDomain).default([]),
        trustFilterHeaders: z.boolean().default(false),
        /**
         * With trustFilterHeaders: accept the filter's SPIFFE ID when Envoy reports no peer principal. Off: on one
         * hop the filter and Envoy read the same connection, so such a header is a forgery the filter never saw.
         */
        filterIdentityWithoutPeer: z.boolean().default(false),
        /** Istio `meshConfig.trustDomain`: what `cluster.local` in policy principals stands for. */
        meshTrustDomain: trustDomain.default("cluster.local"),
        /** Istio `meshConfig.trustDomainAliases`. */
        trustDomainAliases: z.array(trustDomain).default([]),
      })
      .strict()
      .prefault({}),
    /** Verified JWT payloads forwarded by Envoy's jwt_authn filter (metadata_context_namespaces). */
    jwt: z
      .object({
        enabled: z.boolean().default(false),
        payloadKeys: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .prefault({}),
    /** How `remote.ip` / `remoteIpBlocks` pick the client from x-forwarded-for (Envoy xff_num_trusted_hops). */
    remoteIp: z
      .object({ numTrustedProxies: z.number().int().min(0).max(64).default(0) })
      .strict()
      .prefault({}),
    workloads: z
      .object({ file: z.string().default("") })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(LOG_LEVELS).default("info"),
        decisions: z.enum(["all", "deny", "none"]).default("all"),
        sampleRate: z.number().min(0).max(1).default(1),
        /** More header names whose values decision lines redact, on top of the built-in credential headers. */
        redactHeaders: z.array(z.string().min(1)).default([]),
        /** Allow lines carry the request headers too (deny lines always do). */
        allowHeaders: z.boolean().default(false),
        /** Where decision lines go besides stdout: `otlp` ships them to an OpenTelemetry collector. */
        ship: z.enum(["none", "otlp"]).default("none"),
        /** Lines waiting or in flight to the collector at most; beyond that they are dropped and counted. */
        shipQueueSize: z.number().int().positive().default(10_000),
        shipBatchSize: z.number().int().positive().default(512),
        shipIntervalMs: z.number().int().positive().default(1000),
      })
      .strict()
      .prefault({}),
    falco: z
      .object({
        token: z.string().default(""),
        tokenFile: z.string().default(""),
        ingest,
        mapping,
      })
      .strict()
      .prefault({})
      .superRefine(oneSecret("token", "tokenFile")),
    risk,
    revocations: z
      .object({
        /** Operator revocations are written here after every change; "" = memory (and Redis) only. */
        file: z.string().default(""),
      })
      .strict()
      .prefault({}),
    redis: z
      .object({
        url: redisUrl.default(""),
        /** Prefix of trustgate's Redis keys (the shared risk event stream is `<prefix>:risk:events`). */
        keyPrefix: z.string().min(1).default("trustgate"),
        /** Approximate cap on the shared event stream (what a reconnecting replica can catch up on). */
        streamMaxLen: z.number().int().positive().default(100_000),
        /** HMAC key the replicas sign shared events with; when set, unsigned or badly signed events are dropped. */
        eventKey: z.string().default(""),
        eventKeyFile: z.string().default(""),
      })
      .strict()
      .prefault({})
      .superRefine(oneSecret("eventKey", "eventKeyFile")),
    shutdownGraceSeconds: z.number().positive().default(10),
    /**
     * Processes serving Checks. `auto`: as many as this process may use CPUs (the affinity mask and the cgroup CPU
     * quota, as a Kubernetes CPU limit sets it). 1: one process does everything; more: a primary process (admin and
     * ingest listener, policies, risk) and that many workers answering Checks on the shared gRPC port.
     */
    workers: z.union([z.literal("auto"), z.number().int().min(1).max(256)]).default("auto"),
    yaml: yamlLimits,
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
