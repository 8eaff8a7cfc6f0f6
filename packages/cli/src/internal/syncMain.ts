/**
 * `sync` from a plain command line (see plainArgs.ts and bin.ts), its settings already resolved: the
 * same run, exit codes and error lines as through main.ts, without loading `@effect/cli` and the other
 * commands (their parse and module loading were ~a fifth of a small sync's process time before its run
 * started).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { runMainOptions } from "./exit.js"
import { runSyncCommand } from "./runSyncCommand.js"
import type { SyncCommandConfig } from "./syncConfig.js"

export const runPlainSync = (config: SyncCommandConfig): void =>
  NodeRuntime.runMain(runSyncCommand(config), runMainOptions)
