/** One problem found by a validator: where it is (a JSON-ish path) and what is wrong. */
export interface Issue {
  path: string;
  message: string;
}

/** Appends `.key` or `[index]` to a path the way the error messages show it. */
export function childPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  const safe = /^[A-Za-z_@][\w.@-]*$/.test(key) && !key.includes("..") ? key : JSON.stringify(key);
  return path === "" ? safe : `${path}.${safe}`;
}

/** Multi-line report, one issue per line, for assertion messages and the CLI. */
export function formatIssues(issues: readonly Issue[]): string {
  return issues.map((i) => `${i.path || "<root>"}: ${i.message}`).join("\n");
}
