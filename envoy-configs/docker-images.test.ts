/**
 * The images built from this repository, checked as far as possible without a Docker engine: every COPY source is
 * in the build context that `docker build` would send (the clone's files minus .dockerignore, matched with Docker's
 * rules), and the wasm filter's OCI image is built for real up to its last step — its build stage runs in a scratch
 * directory holding only what the Dockerfile copies from the context, and the module the final stage copies exists
 * there and is valid WebAssembly. Not run here: `docker build` itself, the base images, `npm ci` inside the image
 * (the repository's installed node_modules, from the same lockfile, stand in for it), and a push to a registry.
 */
import { execSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, posix } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { buildContext, copyOf, filesForSource, parseDockerfile, stagesOf } from "./validate/docker-build.js";

const repo = join(import.meta.dirname, "..");
const text = (rel: string) => readFileSync(join(repo, rel), "utf8");

/** Every image a user builds from the repository: Dockerfile and build context. */
function images(): Array<{ dockerfile: string; context: string }> {
  const compose = YAML.parse(text("docker-compose.yml"), { merge: true }) as {
    services: Record<string, { build?: unknown }>;
  };
  const fromCompose = Object.values(compose.services).flatMap((s) => {
    if (typeof s.build === "string") return [{ dockerfile: join(s.build, "Dockerfile"), context: s.build }];
    if (s.build && typeof s.build === "object") {
      const b = s.build as { context?: string; dockerfile?: string };
      return [{ dockerfile: join(b.context ?? ".", b.dockerfile ?? "Dockerfile"), context: b.context ?? "." }];
    }
    return [];
  });
  const all = [...fromCompose, { dockerfile: "wasm-filter/Dockerfile", context: "." }];
  return [
    ...new Map(
      all.map((i) => [posix.normalize(i.dockerfile), { ...i, dockerfile: posix.normalize(i.dockerfile) }]),
    ).values(),
  ];
}

describe("Dockerfile parsing", () => {
  it("reads stages, continuations and COPY in both forms", () => {
    const instructions = parseDockerfile(
      'FROM node:20 AS build\n# note\nRUN a \\\n  && b\nCOPY --chown=1:1 x y ./\nFROM scratch\nCOPY ["--from=build", "/app/a", "./b"]\nCOPY --from=build /app/c ./d\n',
    );
    expect(instructions.map((i) => i.keyword)).toEqual(["FROM", "RUN", "COPY", "FROM", "COPY", "COPY"]);
    expect(instructions[1]).toEqual({ line: 3, keyword: "RUN", args: "a && b" });
    const stages = stagesOf(instructions);
    expect(stages.map((s) => [s.name, s.base])).toEqual([
      ["build", "node:20"],
      ["1", "scratch"],
    ]);
    expect(copyOf(instructions[2]!)).toEqual({ line: 5, from: null, sources: ["x", "y"], dest: "./" });
    expect(copyOf(instructions[5]!)).toEqual({ line: 8, from: "build", sources: ["/app/c"], dest: "./d" });
  });
});

describe("build contexts", () => {
  for (const image of images()) {
    it(`${image.dockerfile}: every COPY source is in the context ${image.context}`, () => {
      const contextDir = join(repo, image.context);
      const context = buildContext(contextDir, join(repo, image.dockerfile));
      const stages = stagesOf(parseDockerfile(text(image.dockerfile)));
      let copies = 0;
      for (const stage of stages) {
        for (const instruction of stage.instructions) {
          if (instruction.keyword !== "COPY" && instruction.keyword !== "ADD") continue;
          const copy = copyOf(instruction);
          copies++;
          if (copy.from !== null) {
            // an earlier stage, or an image
            const earlier = stages.slice(0, stage.index).some((s) => s.name === copy.from);
            expect(earlier || /[:/]/.test(copy.from), `line ${copy.line}: --from=${copy.from}`).toBe(true);
            continue;
          }
          for (const source of copy.sources) {
            expect(filesForSource(context, source), `${image.dockerfile}:${copy.line}: COPY ${source}`).not.toEqual([]);
          }
        }
      }
      expect(copies).toBeGreaterThan(0);
    });
  }

  it("catches the recipe that could not build: wasm-filter/build is a local output, not in the context", () => {
    const context = buildContext(repo, join(repo, "wasm-filter/Dockerfile"));
    expect(filesForSource(context, "wasm-filter/build/trustgate_filter.wasm")).toEqual([]);
    expect(filesForSource(context, "wasm-filter/assembly").length).toBeGreaterThan(5);
    // Docker's rules, not git's: node_modules at any depth and .env are never sent
    expect(context.some((f) => f.split("/").includes("node_modules"))).toBe(false);
    expect(context).not.toContain(".env");
  });
});

describe("the wasm filter's OCI image", () => {
  const dockerfile = "wasm-filter/Dockerfile";
  let scratch = "";
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("the README and the Dockerfile give the same build command, from the repository root", () => {
    const command = "docker build -f wasm-filter/Dockerfile -t <registry>/trustgate-filter:<tag> .";
    expect(text(dockerfile)).toContain(command);
    expect(text("envoy-configs/README.md")).toContain(command);
    expect(text("envoy-configs/istio/wasm-oci/wasmplugin.yaml")).toContain("wasm-filter/Dockerfile");
  });

  it("builds: the build stage runs on the context's files only, and the final stage's module is valid wasm", () => {
    const contextFiles = buildContext(repo, join(repo, dockerfile));
    const [build, final] = stagesOf(parseDockerfile(text(dockerfile)));
    expect(build!.base).toMatch(/^node:20\./);
    expect(final!.base).toBe("scratch");
    scratch = mkdtempSync(join(tmpdir(), "trustgate-wasm-image-"));
    let workdir = "/";
    const local = (path: string) => join(scratch, isAbsolute(path) ? path : join(workdir, path));
    for (const instruction of build!.instructions) {
      if (instruction.keyword === "WORKDIR") {
        workdir = posix.resolve(workdir, instruction.args);
        mkdirSync(local(workdir), { recursive: true });
      } else if (instruction.keyword === "COPY") {
        const copy = copyOf(instruction);
        for (const source of copy.sources) {
          const prefix = source.replace(/\/$/, "");
          for (const file of filesForSource(contextFiles, source)) {
            const target =
              copy.dest.endsWith("/") && file === prefix
                ? join(local(copy.dest), posix.basename(file))
                : join(local(copy.dest), file === prefix ? "" : file.slice(prefix.length + 1));
            mkdirSync(dirname(target), { recursive: true });
            cpSync(join(repo, file), target);
          }
        }
      } else if (instruction.keyword === "RUN") {
        if (/^npm ci\b/.test(instruction.args)) {
          // Stand-in for `npm ci`: the same lockfile, already installed in the repository.
          expect(readFileSync(local("package-lock.json"), "utf8")).toBe(text("package-lock.json"));
          symlinkSync(join(repo, "node_modules"), local("node_modules"));
        } else {
          execSync(instruction.args, { cwd: local("."), stdio: "pipe" });
        }
      } else {
        throw new Error(`${dockerfile}:${instruction.line}: ${instruction.keyword} is not emulated here`);
      }
    }
    const last = final!.instructions.map(copyOf);
    expect(last).toHaveLength(1);
    expect(last[0]).toMatchObject({ from: "build", dest: "./plugin.wasm" });
    const bytes = readFileSync(join(scratch, last[0]!.sources[0]!));
    // Compiling it validates it (a malformed module throws).
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(bytes)).map((e) => e.name);
    expect(exports).toContain("proxy_on_context_create");
  }, 120_000);
});
