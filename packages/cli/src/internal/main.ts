/**
 * The command line beyond help and --version (see ../bin.ts): @effect/cli parses it and runs the
 * command; the exit code and every error line are decided here.
 */
import { HelpDoc, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { hasHandlerStarted, run } from "../Cli.js"
import { CliExit, ExitCode } from "../CliExit.js"
import { interruptedExitCode } from "./serving.js"
import { escapeControl } from "./terminal.js"

const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "")
const oneLine = (text: string) => stripAnsi(text).replace(/\s+/g, " ").trim()

/** A defect in one line: its name and message, without the stack, control characters escaped. */
const describeDefect = (defect: unknown): string => {
  const text = defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect)
  return escapeControl(oneLine(text)).slice(0, 500)
}

// Parse errors become one line on stderr and exit code 2 (not a help dump and 1).
const main = Effect.gen(function*() {
  const real = yield* Effect.console
  const parseErrors: Array<string> = []
  const filtered: Console.Console = {
    ...real,
    error: (...args: ReadonlyArray<any>) =>
      hasHandlerStarted() ? real.error(...args) : Effect.sync(() => {
        parseErrors.push(args.map(String).join(" "))
      })
  }
  return yield* run(process.argv).pipe(
    Effect.withConsole(filtered),
    Effect.as(ExitCode.Ok as number),
    Effect.catchAll((error) => {
      if (error instanceof CliExit) {
        return error.message === undefined || error.message === ""
          ? Effect.succeed(error.code)
          : Effect.as(Effect.sync(() => process.stderr.write(`${oneLine(error.message!)}\n`)), error.code)
      }
      if (ValidationError.isValidationError(error)) {
        const text = oneLine(HelpDoc.toAnsiText(error.error)) || oneLine(parseErrors.join(" ")) || "invalid arguments"
        return Effect.as(
          Effect.sync(() => process.stderr.write(`meeting-artifacts: ${text} (see --help)\n`)),
          ExitCode.Fatal as number
        )
      }
      return Effect.as(
        Effect.sync(() => process.stderr.write(`meeting-artifacts: ${oneLine(String(error))}\n`)),
        ExitCode.Fatal as number
      )
    })
  )
})

main.pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({
    // stdout carries the summary (one JSON object with --json) and nothing else: a defect is reported
    // below, on stderr, as one line without a stack trace.
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      if (Exit.isSuccess(exit)) return onExit(exit.value as number)
      if (Cause.isInterruptedOnly(exit.cause)) return onExit(interruptedExitCode())
      process.stderr.write(`meeting-artifacts: unexpected failure: ${describeDefect(Cause.squash(exit.cause))}\n`)
      return onExit(ExitCode.Fatal)
    }
  })
)
