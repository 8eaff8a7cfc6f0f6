/**
 * `sync` from a plain command line (see plainArgs.ts and bin.ts): the same handler, exit codes and
 * error lines as through main.ts, without loading `@effect/cli` and the other commands (their parse
 * and module loading were ~a fifth of a small sync's process time before its run started).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import { ExitCode } from "../CliExit.js"
import { cliExitCode, runMainOptions } from "./exit.js"
import type { Parsed } from "./flags.js"
import { syncHandler } from "./syncHandler.js"
import type { syncFlags } from "./syncFlags.js"

export const runPlainSync = (parsed: { readonly [K in keyof typeof syncFlags]?: Parsed }): void =>
  syncHandler(parsed).pipe(
    Effect.as(ExitCode.Ok as number),
    Effect.catchAll(cliExitCode),
    NodeRuntime.runMain(runMainOptions)
  )
