import { defineProject, mergeConfig } from "vitest/config"
import { shared } from "../vitest.shared.js"

export default mergeConfig(
  shared,
  defineProject({
    test: {
      name: "e2e",
      globalSetup: ["../packages/cli/scripts/build-bin.mjs"],
      include: ["**/*.test.ts"],
      exclude: ["node_modules/**"]
    }
  })
)
