/**
 * The dependency rule of authz-server/src (see authz-server/README.md): one direction, enforced by `npm run lint`.
 *
 *   A folder imports only folders to its right: cli → app → config → grpc → http → kube → policy-tools → engine
 *   → extauthz → policy → falco → workloads → risk → identity → observability → model → util
 *
 * LAYERS lists, for every folder, the folders it may import besides itself. Anything else is an error, and so is
 * any import cycle, between folders or files.
 */
const LAYERS = {
  model: [],
  util: [],
  observability: ["model", "util"],
  identity: ["model", "util"],
  policy: ["identity", "model", "util"],
  workloads: ["identity", "model", "util"],
  risk: ["identity", "observability", "model", "util"],
  falco: ["risk", "workloads", "identity", "observability", "model", "util"],
  extauthz: ["identity", "model", "util"],
  engine: ["extauthz", "policy", "identity", "observability", "model", "util"],
  "policy-tools": ["engine", "extauthz", "policy", "workloads", "identity", "model", "util"],
  kube: ["policy-tools", "policy", "falco", "observability", "model", "util"],
  grpc: ["engine", "extauthz", "observability", "model", "util"],
  http: ["kube", "policy-tools", "engine", "policy", "falco", "risk", "identity", "observability", "model", "util"],
  config: ["identity", "model", "util"],
  app: [
    "config",
    "grpc",
    "http",
    "kube",
    "policy-tools",
    "engine",
    "extauthz",
    "policy",
    "workloads",
    "falco",
    "risk",
    "identity",
    "observability",
    "model",
    "util",
  ],
  cli: [
    "app",
    "config",
    "grpc",
    "policy-tools",
    "engine",
    "extauthz",
    "policy",
    "workloads",
    "identity",
    "observability",
    "model",
    "util",
  ],
};

const SRC = "^authz-server/src/";
const layerRules = Object.entries(LAYERS).map(([layer, allowed]) => ({
  name: `layer-${layer}`,
  comment: `${layer}/ may import only: ${allowed.length ? allowed.join(", ") : "nothing else in src"}`,
  severity: "error",
  from: { path: `${SRC}${layer}/`, pathNot: "\\.test\\.ts$" },
  to: { path: SRC, pathNot: `${SRC}(${[layer, ...allowed].join("|")})/` },
}));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "import cycles make the layers meaningless",
      severity: "error",
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only"] } },
    },
    {
      name: "src-is-layered",
      comment: "every file of authz-server/src lives in one of the layer folders",
      severity: "error",
      from: { path: SRC, pathNot: `${SRC}(${Object.keys(LAYERS).join("|")})/` },
      to: {},
    },
    {
      name: "no-tests-in-production-code",
      comment: "production code never imports test code or test support",
      severity: "error",
      from: { path: SRC, pathNot: "\\.test\\.ts$" },
      to: { path: ["^authz-server/test/", "^test/", "\\.test\\.ts$"] },
    },
    {
      name: "fuzz-oracle-is-independent",
      comment: "the fuzzer judges trustgate from outside: it never imports trustgate's code",
      severity: "error",
      from: { path: "^test/fuzz/" },
      to: { path: "^authz-server/" },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
    exclude: { path: ["node_modules", "authz-server/dist"] },
  },
};
