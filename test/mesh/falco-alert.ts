/**
 * Falco alerts in the exact form Falco (>= 0.41, `json_output: true`) posts them with http_output: one JSON object,
 * keys in alphabetical order, no whitespace, `time` in RFC 3339 with nanoseconds and `evt.time` as an integer of
 * nanoseconds since the epoch (beyond JavaScript's safe integers, so it is written as raw digits). Pure.
 */

export interface FalcoAlert {
  /** The request body for POST /v1/falco. */
  readonly json: string;
  readonly rule: string;
  readonly priority: string;
  readonly time: string;
  readonly container: string;
}

/** RFC 3339 with nanoseconds, as Falco writes `time`; and the same instant as integer nanoseconds. */
export function falcoTime(ms: number): { rfc3339: string; nanos: string } {
  const whole = Math.floor(ms);
  const subMs = String(Math.min(999_999, Math.round((ms - whole) * 1e6))).padStart(6, "0");
  const iso = new Date(whole).toISOString(); // 2026-11-28T10:00:00.123Z
  const rfc3339 = `${iso.slice(0, 23)}${subMs}Z`;
  const nanos = `${BigInt(whole) * 1_000_000n + BigInt(subMs)}`;
  return { rfc3339, nanos };
}

function sortedJson(value: Record<string, unknown>, raw: Record<string, string> = {}): string {
  const keys = Object.keys({ ...value, ...raw }).sort();
  return `{${keys
    .map((k) => `${JSON.stringify(k)}:${Object.hasOwn(raw, k) ? raw[k] : JSON.stringify(value[k])}`)
    .join(",")}}`;
}

/** Falco's stock rule "Terminal shell in container" (Critical) firing in `container` (a compose container name). */
export function terminalShellAlert(container: string, atMs: number = Date.now(), hostname = "node-a"): FalcoAlert {
  const { rfc3339, nanos } = falcoTime(atMs);
  const containerId = Buffer.from(container).toString("hex").padEnd(12, "0").slice(0, 12);
  const rule = "Terminal shell in container";
  const priority = "Critical";
  const clock = rfc3339.slice(11, -1);
  const output =
    `${clock}: ${priority} A shell was spawned in a container with an attached terminal | evt_type=execve ` +
    `user=root user_uid=0 user_loginuid=-1 process=sh proc_exepath=/bin/sh parent=runc command=sh -i terminal=34816 ` +
    `exe_flags=EXE_WRITABLE container_id=${containerId} container_name=${container} ` +
    `container_image_repository=trustgate-demo-app container_image_tag=latest k8s_pod_name=<NA> k8s_ns_name=<NA>`;
  const outputFields = sortedJson(
    {
      "container.id": containerId,
      "container.image.repository": "trustgate-demo-app",
      "container.image.tag": "latest",
      "container.name": container,
      "evt.arg.flags": "EXE_WRITABLE",
      "evt.type": "execve",
      "k8s.ns.name": null,
      "k8s.pod.name": null,
      "proc.cmdline": "sh -i",
      "proc.exepath": "/bin/sh",
      "proc.name": "sh",
      "proc.pname": "runc",
      "proc.tty": 34816,
      "user.loginuid": -1,
      "user.name": "root",
      "user.uid": 0,
    },
    { "evt.time": nanos },
  );
  const json = sortedJson(
    {
      hostname,
      output,
      priority,
      rule,
      source: "syscall",
      tags: ["T1059", "container", "maturity_stable", "mitre_execution", "shell"],
      time: rfc3339,
    },
    { output_fields: outputFields },
  );
  return { json, rule, priority, time: rfc3339, container };
}
