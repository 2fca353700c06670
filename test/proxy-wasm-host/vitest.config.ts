// Lets `npm test` run this package's own tests from this folder, here or lifted out; without it,
// vitest would pick up the configuration of an enclosing project. The repository's root run
// (`npx vitest run` at the root) uses the root configuration and does not read this file.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
  },
});
