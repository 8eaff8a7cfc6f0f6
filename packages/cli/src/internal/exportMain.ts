/**
 * One export from a plain `sync` line (no --tenants, no --cluster; see bin.ts), its settings already
 * resolved: the entry of the code-cached CommonJS script (scripts/build-bin.mjs). It imports nothing
 * loaded on demand, so the bundler leaves its modules unwrapped and drops what the run never uses (the
 * cluster, the tenants file and what only they import: half the script).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { runMainOptions } from "./exit.js"
import { runExport } from "./runSync.js"
import type { SyncCommandConfig } from "./syncConfig.js"

export const runPlainExport = (config: SyncCommandConfig): void =>
  NodeRuntime.runMain(runExport(config), runMainOptions)
