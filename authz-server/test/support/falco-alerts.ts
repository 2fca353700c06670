/**
 * Falco alerts for tests, in the exact shapes Falco (>= 0.41, `json_output: true`) and Falcosidekick produce, about
 * the workloads of the example mesh. Falco's own JSON has keys in alphabetical order and no spaces; Falcosidekick's
 * webhook re-encodes it in Go struct order, adds `uuid` and a trailing newline.
 */

export const SHELL_IN_ORDER = {
  hostname: "node-a",
  output:
    "10:00:00.123456789: Critical A shell was spawned in a container with an attached terminal | evt_type=execve user=root process=sh parent=runc command=sh terminal=34816 container_id=5f1e2d3c4b5a container_name=order container_image_repository=registry.example/shop/order container_image_tag=1.4.2 k8s_pod_name=order-7c9f8d6b5-x2x4q k8s_ns_name=services",
  output_fields: {
    "container.id": "5f1e2d3c4b5a",
    "container.image.repository": "registry.example/shop/order",
    "container.image.tag": "1.4.2",
    "container.name": "order",
    "evt.time": 1795860000123456800,
    "evt.type": "execve",
    "k8s.ns.name": "services",
    "k8s.pod.name": "order-7c9f8d6b5-x2x4q",
    "proc.cmdline": "sh",
    "proc.name": "sh",
    "proc.pname": "runc",
    "proc.tty": 34816,
    "user.loginuid": -1,
    "user.name": "root",
  },
  priority: "Critical",
  rule: "Terminal shell in container",
  source: "syscall",
  tags: ["T1059", "container", "maturity_stable", "mitre_execution", "shell"],
  time: "2026-11-28T10:00:00.123456789Z",
};

export const SHADOW_READ_IN_PAYMENT = {
  hostname: "node-b",
  output:
    "10:00:05.000000001: Warning Sensitive file opened for reading by non-trusted program | file=/etc/shadow process=cat command=cat /etc/shadow container_id=9a8b7c6d5e4f container_name=payment k8s_pod_name=payment-6d5c4b3a2-k9j8h k8s_ns_name=services",
  output_fields: {
    "container.id": "9a8b7c6d5e4f",
    "container.image.repository": "registry.example/shop/payment",
    "container.image.tag": "2.0.0",
    "container.name": "payment",
    "evt.time": 1795860005000000000,
    "evt.type": "openat",
    "fd.name": "/etc/shadow",
    "k8s.ns.name": "services",
    "k8s.pod.name": "payment-6d5c4b3a2-k9j8h",
    "proc.aname[2]": "<NA>",
    "proc.cmdline": "cat /etc/shadow",
    "proc.name": "cat",
    "user.name": "root",
  },
  priority: "Warning",
  rule: "Read sensitive file untrusted",
  source: "syscall",
  tags: ["T1555", "container", "filesystem", "host", "maturity_stable", "mitre_credential_access"],
  time: "2026-11-28T10:00:05.000000001Z",
};

/** A host process: container.id "host", no Kubernetes fields. */
export const HOST_ALERT = {
  hostname: "node-a",
  output: "10:00:07.5: Critical Fileless execution via memfd_create | process=.runc container_id=host",
  output_fields: {
    "container.id": "host",
    "container.image.repository": null,
    "container.image.tag": null,
    "container.name": "host",
    "evt.time": 1795860007500000000,
    "k8s.ns.name": null,
    "k8s.pod.name": null,
    "proc.name": ".runc",
  },
  priority: "Critical",
  rule: "Fileless execution via memfd_create",
  source: "syscall",
  tags: ["T1620", "container", "host", "maturity_stable", "mitre_defense_evasion", "process"],
  time: "2026-11-28T10:00:07.500000000Z",
};

/** Falco's metrics snapshot (`metrics.output_rule: true`): internal, no tags, the feed's heartbeat. */
export const METRICS_SNAPSHOT = {
  hostname: "node-a",
  output: "Falco metrics snapshot",
  output_fields: {
    "evt.hostname": "node-a",
    "evt.source": "syscall",
    "evt.time": 1795860010000000000,
    "falco.duration_sec": 600,
    "falco.num_evts": 1234567,
    "falco.outputs_queue_num_drops": 0,
    "falco.version": "0.44.1",
  },
  priority: "Informational",
  rule: "Falco internal: metrics snapshot",
  source: "internal",
  time: "2026-11-28T10:00:10.000000000Z",
};

/** Falco's own one-line JSON (alphabetical keys, no spaces), as http_output posts it. */
export function falcoJson(alert: object): string {
  const sorted = Object.fromEntries(Object.entries(alert).sort(([a], [b]) => a.localeCompare(b)));
  return JSON.stringify(sorted);
}

/** Falcosidekick's webhook body: Go struct order, `uuid` first, `time` in RFC3339Nano, trailing newline. */
export function sidekickJson(alert: Record<string, unknown>, uuid: string): string {
  const { output, priority, rule, time, output_fields, source, tags, hostname } = alert;
  return `${JSON.stringify({ uuid, output, priority, rule, time, output_fields, source, tags, hostname })}\n`;
}

/** The same alert at another time (and optionally another rule/priority/container). */
export function at(alert: Record<string, unknown>, time: string, extra: Record<string, unknown> = {}) {
  return { ...alert, time, ...extra };
}
