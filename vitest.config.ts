import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: ["packages/*", "test"],
    // Vitest's default on a 2-core machine is one worker; most files wait on child processes and
    // servers, so two files at a time halve the wall time without starving either.
    maxWorkers: 2,
    // CI also writes a JSON report, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI ? ["default", "json"] : ["default"],
    ...(process.env.CI ? { outputFile: { json: ".tmp/vitest-report.json" } } : {})
  }
})
