/**
 * Wiring of the Kubernetes mode (`policies.source: kubernetes | both`): the TrustgatePolicy source handed to the
 * policy loader, Lease-based leader election and status writing, the admission webhook listener, and destination
 * labels from the pod directory. Each piece exists only when configured; `start` runs them, `stop` takes them down.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Registry } from "prom-client";
import type { Config } from "../config/schema.js";
import type { WorkloadMapper } from "../falco/mapping/workload-mapper.js";
import { WebhookListener } from "../http/webhook-listener.js";
import { kubeApi } from "../kube/kube-api.js";
import { loadKubeConfig } from "../kube/kube-config.js";
import { registerKubeMetrics } from "../kube/kube-metrics.js";
import { KubernetesMapper } from "../kube/kubernetes-mapper.js";
import { KubernetesPolicySource, type SourceChange } from "../kube/kubernetes-policy-source.js";
import { LeaderElector } from "../kube/leader-election.js";
import { PodDirectory, type PodObserver } from "../kube/pod-directory.js";
import { type Labels, PodLabelIndex } from "../kube/pod-labels.js";
import { StatusReporter } from "../kube/status-reporter.js";
import type { Logger } from "../observability/logger.js";
import type { CompileOptions } from "../policy/compile-policy.js";
import type { PolicyHolder } from "../policy/policy-holder.js";
import type { PolicySet } from "../policy/policy-set.js";
import type { LintContext, LintWarning } from "../policy-tools/lint.js";

export interface KubernetesPoliciesDeps {
  readonly config: Config;
  readonly holder: PolicyHolder;
  readonly registry: Registry;
  readonly logger: Logger;
  /** The set's lint warnings, for the objects' status (slow for large sets: in slices, see util/time-slices.ts). */
  readonly lint: (set: PolicySet) => Promise<LintWarning[]>;
  readonly trustDomains: readonly string[];
  /** The loader's compile options: objects compile (and the webhook judges) exactly as files do. */
  readonly compile: CompileOptions;
  /** What the proxy forwards, for lint. */
  readonly request?: LintContext["request"];
  /** The policy loader's last error (the status of a compiled object that is not in force says why). */
  readonly loadError: () => string | null;
}

export interface KubernetesPolicies {
  /** The policy source for the loader, when policies come from the cluster. */
  readonly source: KubernetesPolicySource | null;
  readonly elector: LeaderElector | null;
  readonly status: StatusReporter | null;
  readonly webhook: WebhookListener | null;
  readonly podLabels: PodLabelIndex | null;
  /** For the Authorizer: destination labels from the cluster. */
  readonly clusterLabelsOf?: (namespace: string, serviceAccount: string, ip: string) => Labels | undefined;
  webhookAddress(): string | null;
  /** Shares the Falco mapping's pod watch when there is one (call before the mapper starts). */
  attachPods(mapper: WorkloadMapper): void;
  /** Another observer of the pods behind the cluster labels (worker processes get them this way); after attachPods. */
  observePods(observer: PodObserver): void;
  /** `reload` is the policy loader's. */
  start(reload: (trigger: string) => Promise<unknown>): Promise<void>;
  stop(): Promise<void>;
}

export function usesKubernetes(config: Config): boolean {
  return config.policies.source !== "files";
}

export function createKubernetesPolicies(deps: KubernetesPoliciesDeps): KubernetesPolicies {
  const { config, holder, logger } = deps;
  const settings = config.policies.kubernetes;
  const fromCluster = usesKubernetes(config);
  let kubeConfig: KubeConfig | null = null;
  const cluster = (): KubeConfig => {
    kubeConfig ??= loadKubeConfig(settings.kubeconfig, `policies.source ${config.policies.source}`);
    return kubeConfig;
  };

  let reload: ((trigger: string) => Promise<unknown>) | null = null;
  let status: StatusReporter | null = null;
  let reloading = 0;
  const onChange = (change: SourceChange) => {
    if (change.policiesChanged && reload) {
      reloading += 1;
      void reload(change.trigger).finally(() => {
        reloading -= 1;
        status?.request();
      });
    } else status?.request();
  };
  const api = fromCluster ? kubeApi(cluster()) : null;
  const source =
    api !== null
      ? new KubernetesPolicySource({
          kubeConfig: cluster(),
          api,
          namespaces: settings.namespaces,
          compile: deps.compile,
          logger,
          onChange,
        })
      : null;

  const elector =
    api !== null && settings.status.write
      ? new LeaderElector({
          api,
          namespace: settings.status.leaseNamespace,
          name: settings.status.leaseName,
          identity: settings.status.identity || `${hostname()}_${randomUUID().slice(0, 8)}`,
          leaseDurationMs: settings.status.leaseDurationSeconds * 1000,
          renewDeadlineMs: settings.status.renewDeadlineSeconds * 1000,
          retryPeriodMs: settings.status.retryPeriodSeconds * 1000,
          logger,
          onLeadershipChange: (leader) => {
            if (leader) status?.request();
          },
        })
      : null;
  status =
    api !== null && source !== null && elector !== null
      ? new StatusReporter({
          api,
          source,
          currentSet: () => holder.current,
          loadError: deps.loadError,
          lint: deps.lint,
          isLeader: () => elector.isLeader,
          busy: () => reloading > 0,
          logger,
        })
      : null;
  if (status) holder.onSwap(() => status?.request());

  const webhook =
    settings.webhook.addr !== ""
      ? new WebhookListener(
          {
            rootNamespace: config.policies.rootNamespace,
            trustDomains: deps.trustDomains,
            compile: deps.compile,
            request: deps.request,
          },
          logger,
        )
      : null;
  let webhookAddress: string | null = null;

  const podLabels = fromCluster && settings.podLabels ? new PodLabelIndex() : null;
  let ownPods: PodDirectory | null = null;
  let podFeed: PodDirectory | null = null;

  registerKubeMetrics(deps.registry, {
    policies: () =>
      source === null ? null : { total: source.size, invalid: source.invalidCount, ready: source.ready() },
    watches: () => source?.watchStats() ?? [],
    watchFailingSince: () => (source === null ? undefined : source.watchHealth().failingSince),
    leader: () => (elector === null ? null : elector.isLeader),
    statusWrites: () => (status === null ? null : status.stats),
    reviews: () => (webhook === null ? null : webhook.stats),
  });

  if (fromCluster && settings.namespaces.length > 0 && !settings.namespaces.includes(config.policies.rootNamespace)) {
    logger.warn(
      { event: "root namespace not watched", root_namespace: config.policies.rootNamespace },
      `policies.kubernetes.namespaces does not include the root namespace ${config.policies.rootNamespace}: mesh-wide TrustgatePolicy objects there are not read`,
    );
  }

  return {
    source,
    elector,
    status,
    webhook,
    podLabels,
    clusterLabelsOf: podLabels ? (ns, sa, ip) => podLabels.labelsFor(ns, sa, ip) : undefined,
    webhookAddress: () => webhookAddress,

    attachPods(mapper) {
      if (podLabels === null) return;
      if (mapper instanceof KubernetesMapper && config.falco.mapping.kubeconfig === settings.kubeconfig) {
        podFeed = mapper.pods; // one pod watch serves both
      } else {
        ownPods = new PodDirectory({ kubeConfig: cluster(), maxPods: settings.maxPods, logger });
        podFeed = ownPods;
      }
      podFeed.observe(podLabels);
    },

    observePods(observer) {
      podFeed?.observe(observer);
    },

    async start(loaderReload) {
      reload = loaderReload;
      if (webhook) {
        const bound = await webhook.listen(settings.webhook.addr, settings.webhook);
        webhookAddress = typeof bound === "string" ? bound : `${bound.address}:${bound.port}`;
      }
      source?.start();
      elector?.start();
      // The pod watch fills in destination labels. Until its first list, selectors meet unknown labels and fail
      // closed, so SERVING waits for that list (at most the pod directory's initial-sync timeout, 5 s).
      await ownPods?.start();
      if (source) {
        logger.info(
          {
            event: "kubernetes policy source started",
            namespaces: settings.namespaces.length === 0 ? "all" : settings.namespaces,
            status_writes: elector !== null,
            webhook: webhookAddress ?? "off",
            pod_labels: podLabels !== null,
          },
          "watching TrustgatePolicy objects; no policy set is served before the first complete list",
        );
      }
    },

    async stop() {
      await webhook?.close();
      await status?.stop();
      await elector?.stop();
      await source?.stop();
      await ownPods?.stop();
    },
  };
}
