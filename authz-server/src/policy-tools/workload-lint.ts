/**
 * Warnings about the workload inventory itself, for the Falco `static` mapping: container names, pod-name prefixes
 * and images are chosen by whoever writes a pod spec, so when two workloads' names overlap, an alert about one can be
 * pinned on the other (or on nobody). Each overlap is reported once, naming both workloads.
 */
import type { Workload } from "../workloads/workload-inventory.js";
import type { LintWarning } from "./lint.js";

function warning(file: string, code: string, a: Workload, b: Workload, message: string, fix: string): LintWarning {
  return { code, file, line: 0, policy: `workloads ${a.name} and ${b.name}`, rule: null, message, fix };
}

export function lintWorkloads(workloads: readonly Workload[], file: string): LintWarning[] {
  const out: LintWarning[] = [];
  for (let i = 0; i < workloads.length; i++) {
    for (let j = i + 1; j < workloads.length; j++) {
      const a = workloads[i]!;
      const b = workloads[j]!;
      if (a.spiffeId === b.spiffeId) continue;
      for (const name of a.containers) {
        if (b.containers.includes(name)) {
          out.push(
            warning(
              file,
              "workload-container-overlap",
              a,
              b,
              `both declare container name "${name}": alerts from such a container are attributed to neither (ambiguous), and either workload's author can pick that name`,
              "give each workload container names of its own, or map alerts with the kubernetes strategy",
            ),
          );
        }
      }
      for (const p of a.podPrefixes) {
        for (const q of b.podPrefixes) {
          if (!p.startsWith(q) && !q.startsWith(p)) continue;
          const [short, long] = p.length <= q.length ? [p, q] : [q, p];
          out.push(
            warning(
              file,
              "workload-prefix-overlap",
              a,
              b,
              short === long
                ? `both declare pod-name prefix "${p}": such pods are attributed to neither (ambiguous)`
                : `pod-name prefix "${short}" is a prefix of "${long}": a pod named "${long}…" matches both (the longer prefix wins), and a pod of "${short}" named "${long}…" has its alerts pinned on the other workload`,
              "use prefixes that cannot be prefixes of each other (e.g. end them with the ReplicaSet's '-'), or map alerts with the kubernetes strategy",
            ),
          );
        }
      }
      for (const image of a.images) {
        if (b.images.includes(image)) {
          out.push(
            warning(
              file,
              "workload-image-overlap",
              a,
              b,
              `both declare image "${image}": alerts from it are attributed to neither (ambiguous)`,
              "declare images per workload only when each image belongs to one workload",
            ),
          );
        }
      }
    }
  }
  return out;
}
