/**
 * Falco alerts built from the upstream sources (shapes, field names, value types), about the example mesh's workloads
 * (the inventory in authz-server/test/support/risk-server.ts: order and payment in namespace `services`, web in
 * `frontend`, …). Each payload names the upstream file it was built from. Upstream revisions read for this suite:
 *   falcosecurity/falco        1307474 (2026-07-31)
 *   falcosecurity/falcosidekick 8807ab7 (2026-08-17)
 *   falcosecurity/rules        c72713e (2026-06-18)
 *   falcosecurity/plugins      0b3cbd8 (2026-08-04)
 *
 * What those sources say about the wire format:
 *  - falco userspace/engine/formats.cpp (format_event, OF_JSON branch): the alert is a nlohmann::json object, so the
 *    keys come out sorted and compact; `time` is strftime("%FT%T") + ".%09luZ" (always nine fractional digits, UTC);
 *    `priority` is falco_common::format_priority (Title case: "Critical", "Informational"), `source`, `hostname`,
 *    `output`, `tags` (a std::set: sorted, [] for a rule without tags), `output_fields` holding the rule's fields with
 *    their JSON types (numbers for uid/tty/ports/timestamps, null for a field without a value) plus the prefix's
 *    `evt.time` (nanoseconds, a number beyond 2^53). Invalid UTF-8 is replaced with U+FFFD.
 *  - falco userspace/falco/falco_outputs.cpp (handle_msg): Falco's own messages have `source: "internal"` and no tags.
 *  - falco userspace/falco/stats_writer.cpp: the metrics snapshot is rule "Falco internal: metrics snapshot",
 *    Informational, through handle_msg.
 *  - falco userspace/falco/outputs_http.cpp: one POST per alert, Content-Type application/json, no header control
 *    other than the URL (hence `?token=`).
 *  - falco userspace/falco/app/actions/init_falco_engine.cpp + falco.yaml `append_output: [suggested_output: true]`
 *    and plugins/container/src/caps/extract/extract.cpp: since Falco 0.41 the rules' outputs carry no container
 *    fields; the container plugin's suggested fields are appended: container.id, container.name,
 *    container.image.repository, container.image.tag, k8s.pod.name, k8s.ns.name. A host process has container.id and
 *    container.name "host".
 *  - rules/falco_rules.yaml: the rule names, priorities (written upper case in the file), tags and output fields.
 *  - falcosidekick types/types.go FalcoPayload + handlers.go newFalcoPayload + outputs/client.go sendRequest: the
 *    webhook body is Go's json.Encoder output of the struct: key order uuid, output, priority, rule, time,
 *    output_fields (map: keys sorted), source, tags (omitempty, sorted), hostname (omitempty); HTML characters escaped
 *    (`<NA>` becomes `\u003cNA\u003e`); `time` in RFC3339Nano (trailing zeros trimmed); a trailing newline; a new
 *    random uuid per alert; source "" becomes "syscalls"; rule "Test rule" becomes source "internal".
 */

export type Alert = {
  hostname?: string;
  output: string;
  output_fields: Record<string, unknown>;
  priority: string;
  rule: string;
  source?: string;
  tags?: string[];
  time: string;
  uuid?: string;
};

/** A Falco-style time now (nine fractional digits), optionally shifted. */
export function falcoTime(offsetMs = 0, nanos = "482913"): string {
  return new Date(Date.now() + offsetMs).toISOString().replace(/Z$/, `${nanos}Z`);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** Falco's http_output body: nlohmann::json dump (sorted keys, compact, raw UTF-8), no trailing newline. */
export function falcoBody(alert: Alert): string {
  const { uuid: _ignored, ...rest } = alert;
  return JSON.stringify(sortKeys(rest));
}

/** Go's RFC3339Nano re-encoding of a Falco time: trailing zeros of the fraction trimmed, the fraction dropped if 0. */
export function rfc3339Nano(time: string): string {
  return time.replace(/\.(\d+)Z$/, (_m, f: string) => {
    const trimmed = f.replace(/0+$/, "");
    return trimmed === "" ? "Z" : `.${trimmed}Z`;
  });
}

/** Go encoding/json escapes <, >, & and U+2028/U+2029 in strings (Encoder.SetEscapeHTML defaults to true). */
function goEscape(json: string): string {
  return json
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** Falcosidekick's webhook body for an alert it received from Falco (see the header comment). */
export function sidekickBody(alert: Alert, uuid: string): string {
  let source = alert.source ?? "";
  if (alert.rule === "Test rule") source = "internal";
  if (source === "") source = "syscalls";
  const body: Record<string, unknown> = {
    uuid,
    output: alert.output,
    priority: alert.priority,
    rule: alert.rule,
    time: rfc3339Nano(alert.time),
    output_fields: sortKeys(alert.output_fields),
    source,
  };
  if (alert.tags !== undefined && alert.tags.length > 0) body.tags = [...alert.tags].sort();
  if (alert.hostname !== undefined && alert.hostname !== "") body.hostname = alert.hostname;
  return `${goEscape(JSON.stringify(body))}\n`;
}

export function withTime<T extends Alert>(alert: T, time: string, extra: Partial<Alert> = {}): T {
  return { ...alert, time, ...extra };
}

export function withFields<T extends Alert>(alert: T, fields: Record<string, unknown>, extra: Partial<Alert> = {}): T {
  return { ...alert, ...extra, output_fields: { ...alert.output_fields, ...fields } };
}

/* ------------------------------------------------------------------------------------------------------------------ */

/**
 * rules/falco_rules.yaml "Drop and execute new binary in container" (CRITICAL, tags maturity_stable, container,
 * process, mitre_persistence, TA0003, PCI_DSS_11.5.1), its output fields, plus the container plugin's suggested
 * fields (plugins/container/src/caps/extract/extract.cpp), as Falco >= 0.41 writes it (falco formats.cpp).
 * About order's pod in namespace services.
 */
export const DROP_EXEC_IN_ORDER: Alert = {
  hostname: "ip-10-0-3-17",
  output:
    "09:14:02.118200482: Critical Executing binary not part of base image | proc_exe=/tmp/x proc_sname=sh gparent=containerd-shim evt_type=execve user=root user_uid=0 user_loginuid=-1 process=x proc_exepath=/tmp/x parent=sh command=x -c 10.9.8.7 terminal=0 exe_flags=EXE_WRITABLE|EXE_UPPER_LAYER container_id=0c1d2e3f4a5b container_name=order container_image_repository=registry.example/shop/order container_image_tag=1.4.2 k8s_pod_name=order-7c9f8d6b5-x2x4q k8s_ns_name=services",
  output_fields: {
    "container.id": "0c1d2e3f4a5b",
    "container.image.repository": "registry.example/shop/order",
    "container.image.tag": "1.4.2",
    "container.name": "order",
    "container.start_ts": 1795850000000000000,
    "evt.arg.flags": "EXE_WRITABLE|EXE_UPPER_LAYER",
    // Falco writes nanoseconds as a JSON number; a JS literal rounds it (irrelevant here).
    "evt.time": 1795860842118200300,
    "evt.type": "execve",
    "k8s.ns.name": "services",
    "k8s.pod.name": "order-7c9f8d6b5-x2x4q",
    "proc.aname[2]": "containerd-shim",
    "proc.cmdline": "x -c 10.9.8.7",
    "proc.cwd": "/tmp/",
    "proc.exe": "/tmp/x",
    "proc.exe_ino.ctime": 1795860840000000000,
    "proc.exe_ino.ctime_duration_proc_start": 2118200482,
    "proc.exe_ino.mtime": 1795860840000000000,
    "proc.exepath": "/tmp/x",
    "proc.name": "x",
    "proc.pname": "sh",
    "proc.sname": "sh",
    "proc.tty": 0,
    "user.loginuid": -1,
    "user.name": "root",
    "user.uid": 0,
  },
  priority: "Critical",
  rule: "Drop and execute new binary in container",
  source: "syscall",
  tags: ["PCI_DSS_11.5.1", "TA0003", "container", "maturity_stable", "mitre_persistence", "process"],
  time: "2026-11-28T09:14:02.118200482Z",
};

/**
 * rules/falco_rules.yaml "Redirect STDOUT/STDIN to Network Connection in Container" (NOTICE), about payment: a reverse
 * shell. Fields as the rule outputs them: fd.lport/fd.rport are numbers; a field without a value is null in JSON, and
 * some string fields carry the libs' "<NA>" placeholder.
 */
export const REVERSE_SHELL_IN_PAYMENT: Alert = {
  hostname: "ip-10-0-3-18",
  output:
    "09:14:05.000000001: Notice Redirect stdout/stdin to network connection | gparent=<NA> ggparent=<NA> gggparent=<NA> fd.sip=203.0.113.9 connection=10.1.2.3:41822->203.0.113.9:4444 lport=41822 rport=4444 fd_type=ipv4 fd_proto=tcp evt_type=dup2 user=app user_uid=1000 user_loginuid=-1 process=bash proc_exepath=/bin/bash parent=python3 command=bash -i terminal=0 container_id=9a8b7c6d5e4f container_name=payment k8s_pod_name=payment-6d5c4b3a2-k9j8h k8s_ns_name=services",
  output_fields: {
    "container.id": "9a8b7c6d5e4f",
    "container.image.repository": "registry.example/shop/payment",
    "container.image.tag": "2.0.0",
    "container.name": "payment",
    "evt.time": 1795860845000000000,
    "evt.type": "dup2",
    "fd.l4proto": "tcp",
    "fd.lport": 41822,
    "fd.name": "10.1.2.3:41822->203.0.113.9:4444",
    "fd.rport": 4444,
    "fd.sip": "203.0.113.9",
    "fd.type": "ipv4",
    "k8s.ns.name": "services",
    "k8s.pod.name": "payment-6d5c4b3a2-k9j8h",
    "proc.aname[2]": "<NA>",
    "proc.aname[3]": null,
    "proc.aname[4]": null,
    "proc.cmdline": "bash -i",
    "proc.exepath": "/bin/bash",
    "proc.name": "bash",
    "proc.pname": "python3",
    "proc.tty": 0,
    "user.loginuid": -1,
    "user.name": "app",
    "user.uid": 1000,
  },
  priority: "Notice",
  rule: "Redirect STDOUT/STDIN to Network Connection in Container",
  source: "syscall",
  tags: ["T1059", "container", "maturity_stable", "mitre_execution", "network", "process"],
  time: "2026-11-28T09:14:05.000000001Z",
};

/**
 * rules/falco_rules.yaml "Fileless execution via memfd_create" (CRITICAL, tags include `host`) on a host process:
 * the container plugin reports container.id and container.name "host" and nothing Kubernetes
 * (plugins/container/src/caps/extract/extract.cpp field descriptions).
 */
export const MEMFD_ON_HOST: Alert = {
  hostname: "ip-10-0-3-17",
  output:
    "09:15:00.000000000: Critical Fileless execution via memfd_create | container_start_ts=<NA> proc_cwd=/ evt_res=SUCCESS process=.runc container_id=host container_name=host",
  output_fields: {
    "container.id": "host",
    "container.image.repository": null,
    "container.image.tag": null,
    "container.name": "host",
    "container.start_ts": null,
    "evt.res": "SUCCESS",
    "evt.time": 1795860900000000000,
    "evt.type": "execve",
    "k8s.ns.name": null,
    "k8s.pod.name": null,
    "proc.cwd": "/",
    "proc.name": ".runc",
    "user.name": "root",
    "user.uid": 0,
  },
  priority: "Critical",
  rule: "Fileless execution via memfd_create",
  source: "syscall",
  tags: ["T1620", "container", "host", "maturity_stable", "mitre_defense_evasion", "process"],
  time: "2026-11-28T09:15:00.000000000Z",
};

/**
 * Falco 0.3x (before the container plugin; before 0.30 without `source`, before 0.31 without `hostname`): the rules'
 * `%container.info` expanded to container_id/container_name and `-pk` appended k8s.ns.name/k8s.pod.name
 * (falcosecurity/falco-website docs "alerts/formatting"). Rule "Terminal shell in container" from
 * rules/falco_rules.yaml (NOTICE there; operators commonly raised it).
 */
export const LEGACY_SHELL_IN_ORDER: Alert = {
  output:
    "09:16:00.100000000: Warning A shell was spawned in a container with an attached terminal (user=root order (id=0c1d2e3f4a5b) shell=sh parent=runc cmdline=sh terminal=34816 container_id=0c1d2e3f4a5b image=registry.example/shop/order) k8s.ns=services k8s.pod=order-7c9f8d6b5-x2x4q container=0c1d2e3f4a5b",
  output_fields: {
    "container.id": "0c1d2e3f4a5b",
    "container.image.repository": "registry.example/shop/order",
    "container.name": "order",
    "evt.time": 1795860960100000000,
    "k8s.ns.name": "services",
    "k8s.pod.name": "order-7c9f8d6b5-x2x4q",
    "proc.cmdline": "sh",
    "proc.name": "sh",
    "proc.pname": "runc",
    "proc.tty": 34816,
    "user.name": "root",
  },
  priority: "Warning",
  rule: "Terminal shell in container",
  tags: ["container", "mitre_execution", "shell"],
  time: "2026-11-28T09:16:00.100000000Z",
};

/** falco userspace/falco/stats_writer.cpp → falco_outputs.cpp handle_msg: the metrics snapshot (source internal). */
export const METRICS_SNAPSHOT: Alert = {
  hostname: "ip-10-0-3-17",
  output: "Falco metrics snapshot",
  output_fields: {
    "evt.hostname": "ip-10-0-3-17",
    "evt.source": "syscall",
    "evt.time": 1795861000000000000,
    "falco.duration_sec": 3600,
    "falco.host_num_cpus": 4,
    "falco.num_evts": 91234567,
    "falco.outputs_queue_num_drops": 0,
    "falco.version": "0.44.0",
  },
  priority: "Informational",
  rule: "Falco internal: metrics snapshot",
  source: "internal",
  time: "2026-11-28T09:16:40.000000000Z",
};

/**
 * falco_outputs.cpp handle_msg for another internal message (the syscall event drop alert), Critical: internal
 * messages are about Falco itself, never a workload (even if fields happened to name a container).
 */
export const INTERNAL_DROPS: Alert = {
  hostname: "ip-10-0-3-17",
  output: "Falco internal: syscall event drop. 1204 system calls dropped in last second.",
  output_fields: {
    "container.name": "order",
    ebpf_enabled: "1",
    n_drops: "1204",
    n_drops_buffer_total: "1204",
    n_evts: "91234",
  },
  priority: "Critical",
  rule: "Falco internal: syscall event drop",
  source: "internal",
  time: "2026-11-28T09:16:41.000000000Z",
};

/**
 * A plugin source alert: plugins/cloudtrail rules (aws_cloudtrail), fields ct.* only; nothing about a workload.
 */
export const CLOUDTRAIL_CONSOLE_LOGIN: Alert = {
  hostname: "falco-cloudtrail-0",
  output:
    "09:17:00.000000000: Notice Detected a console login without MFA (requesting user=alice, requesting IP=198.51.100.4, AWS region=eu-west-1)",
  output_fields: {
    "ct.region": "eu-west-1",
    "ct.srcip": "198.51.100.4",
    "ct.user": "alice",
    "evt.time": 1795861020000000000,
  },
  priority: "Critical",
  rule: "Console Login Without MFA",
  source: "aws_cloudtrail",
  tags: ["aws", "cloud", "mitre_initial_access"],
  time: "2026-11-28T09:17:00.000000000Z",
};

/**
 * plugins/k8saudit/rules/k8s_audit_rules.yaml "Create Privileged Pod" (WARNING): a list field
 * (`ka.req.pod.containers.image`) is a JSON array in output_fields; `ka.response.code` is a string
 * (plugins/k8saudit/pkg/k8saudit/fields.go). The caller is payment's service account.
 */
export const PRIVILEGED_POD_BY_PAYMENT: Alert = {
  hostname: "falco-k8saudit-7d9c6b5f4-m2x8p",
  output:
    "09:18:00.000000000: Warning Pod started with privileged container (user=system:serviceaccount:services:payment pod=debug-x ns=services images=[busybox:1.36])",
  output_fields: {
    "evt.time": 1795861080000000000,
    "ka.req.pod.containers.image": ["busybox:1.36"],
    "ka.resp.name": "debug-x",
    "ka.response.code": "201",
    "ka.target.namespace": "services",
    "ka.user.name": "system:serviceaccount:services:payment",
  },
  priority: "Warning",
  rule: "Create Privileged Pod",
  source: "k8s_audit",
  tags: ["k8s"],
  time: "2026-11-28T09:18:00.000000000Z",
};
