import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "authz-server/src/**/*.test.ts",
      "authz-server/test/**/*.test.ts",
      "wasm-filter/test/**/*.test.ts",
      "policies/**/*.test.ts",
      "envoy-configs/**/*.test.ts",
      "test/**/*.test.ts",
    ],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start real servers and processes; two cores are all CI has.
    maxWorkers: 2,
  },
});
