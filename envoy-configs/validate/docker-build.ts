/**
 * What `docker build` would see, without Docker: the Dockerfile's instructions and stages, and the build context
 * (the files of the context directory a fresh clone has, minus what `.dockerignore` excludes, matched the way Docker
 * matches it, by @balena/dockerignore, a port of Docker's own matcher). Used to check that every COPY source is in
 * the context, and to run an image's build stage in a scratch directory.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import dockerignore, { type Ignore } from "@balena/dockerignore";

// A CommonJS module whose typings declare an ES default export: the function is `default` of what Node imports.
const ignore = (dockerignore as unknown as { default: () => Ignore }).default;

export interface Instruction {
  readonly line: number;
  readonly keyword: string;
  readonly args: string;
}

/** Instructions with `\` continuations joined; comments and blank lines dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  let start = 0;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) return;
    if (pending !== "" && line.startsWith("#")) return; // comments inside a continued instruction
    if (pending === "") start = i + 1;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1).trimEnd()} `;
      return;
    }
    const full = `${pending}${line}`.trim();
    pending = "";
    const space = full.search(/\s/);
    out.push({
      line: start,
      keyword: (space < 0 ? full : full.slice(0, space)).toUpperCase(),
      args: space < 0 ? "" : full.slice(space + 1).trim(),
    });
  });
  return out;
}

export interface Stage {
  readonly index: number;
  readonly name: string;
  readonly base: string;
  readonly instructions: Instruction[];
}

export function stagesOf(instructions: readonly Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const [base = "", as, name] = instruction.args.split(/\s+/);
      const index = stages.length;
      stages.push({ index, name: as?.toUpperCase() === "AS" && name ? name : String(index), base, instructions: [] });
    } else stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

export interface Copy {
  readonly line: number;
  /** `--from=<stage or image>`, when the sources come from there instead of the build context. */
  readonly from: string | null;
  readonly sources: string[];
  readonly dest: string;
}

/** A COPY or ADD instruction's flags, sources and destination (shell or JSON form). */
export function copyOf(instruction: Instruction): Copy {
  const words: string[] = [];
  let rest = instruction.args;
  let from: string | null = null;
  for (const m of rest.matchAll(/--([a-z-]+)=(\S+)\s*/g)) if (m[1] === "from") from = m[2]!;
  rest = rest.replace(/--[a-z-]+=\S+\s*/g, "").trim();
  if (rest.startsWith("[")) words.push(...(JSON.parse(rest) as string[]));
  else words.push(...rest.split(/\s+/));
  return { line: instruction.line, from, sources: words.slice(0, -1), dest: words.at(-1) ?? "" };
}

/**
 * The files (relative paths) `docker build <contextDir>` sends: those a clone has (git's tracked and untracked,
 * not ignored, files), minus the context's .dockerignore — or the Dockerfile's own `<Dockerfile>.dockerignore`,
 * which BuildKit prefers when it exists.
 */
export function buildContext(contextDir: string, dockerfile: string): string[] {
  const listed = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "."], {
    cwd: contextDir,
    encoding: "utf8",
  })
    .split("\0")
    .filter((f) => f !== "" && existsSync(join(contextDir, f)));
  const own = `${dockerfile}.dockerignore`;
  const ignoreFile = existsSync(own) ? own : join(contextDir, ".dockerignore");
  const rules = existsSync(ignoreFile) ? readFileSync(ignoreFile, "utf8").split("\n") : [];
  return ignore().add(rules).filter(listed);
}

/** Context files a COPY source names: the file itself, or everything under the directory. */
export function filesForSource(context: readonly string[], source: string): string[] {
  const path = source.replace(/^\.\//, "").replace(/\/$/, "");
  if (path === "" || path === ".") return [...context];
  return context.filter((f) => f === path || f.startsWith(`${path}/`));
}

/** `path` relative to the context directory, for messages. */
export function contextPath(contextDir: string, path: string): string {
  return relative(contextDir, path) || ".";
}
