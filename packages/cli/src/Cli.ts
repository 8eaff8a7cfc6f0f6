/**
 * The `meeting-artifacts` command tree.
 */
import { Command } from "@effect/cli"
import * as Effect from "effect/Effect"
import { emulatorCommand } from "./EmulatorCommand.js"
import { listenCommand } from "./ListenCommand.js"
import { PROGRAM, SUMMARY, VERSION } from "./internal/commands.js"
import { runnerCommand } from "./RunnerCommand.js"
import { syncCommand } from "./SyncCommand.js"
import { verifyCommand } from "./VerifyCommand.js"
import { viewCommand } from "./ViewCommand.js"

// @effect/cli prints parse errors (and nothing else) through Console.error
// before any handler runs; bin.ts holds those back to print one line instead.
// Once a handler starts, Console.error is the command's own and passes through.
let handlerStarted = false
/** @internal */
export const hasHandlerStarted = (): boolean => handlerStarted
const markStarted = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.zipRight(
    Effect.sync(() => {
      handlerStarted = true
    }),
    effect
  )

export const rootCommand = Command.make(PROGRAM).pipe(
  Command.withDescription(SUMMARY),
  Command.withSubcommands([
    syncCommand.pipe(Command.transformHandler(markStarted)),
    listenCommand.pipe(Command.transformHandler(markStarted)),
    emulatorCommand.pipe(Command.transformHandler(markStarted)),
    verifyCommand.pipe(Command.transformHandler(markStarted)),
    viewCommand.pipe(Command.transformHandler(markStarted)),
    runnerCommand.pipe(Command.transformHandler(markStarted))
  ])
)

export const run = Command.run(rootCommand, { name: PROGRAM, version: VERSION })
