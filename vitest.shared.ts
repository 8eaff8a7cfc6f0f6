import { defineConfig } from "vitest/config"

// One place for the settings every package's tests share.
export const shared = defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fakeTimers: { toFake: undefined },
    sequence: { concurrent: false }
  }
})
