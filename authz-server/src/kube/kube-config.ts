/** The kubeconfig trustgate talks to the Kubernetes API with: a given file, or the standard places. */
import { KubeConfig } from "@kubernetes/client-node";

/**
 * `file` "" = the standard places (KUBECONFIG, ~/.kube/config, the in-cluster service account). `what` names the
 * setting that asked for a cluster, for the error.
 */
export function loadKubeConfig(file: string, what = "falco.mapping.strategy kubernetes"): KubeConfig {
  const kc = new KubeConfig();
  if (file === "") kc.loadFromDefault();
  else kc.loadFromFile(file);
  const cluster = kc.getCurrentCluster();
  // With nothing found, the client library falls back to an unauthenticated http://localhost:8080: refuse instead.
  if (!cluster || (file === "" && cluster.name === "cluster" && cluster.server === "http://localhost:8080")) {
    throw new Error(
      `${what}: no Kubernetes cluster in ${file || "the default kubeconfig or in-cluster configuration"}`,
    );
  }
  return kc;
}
