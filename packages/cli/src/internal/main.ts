/**
 * The command line beyond help and --version (see ../bin.ts): @effect/cli parses it and runs the
 * command; the exit code and every error line are decided here.
 */
import { HelpDoc, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { hasHandlerStarted, run } from "../Cli.js"
import { CliExit, ExitCode } from "../CliExit.js"
import { cliExitCode, runMainOptions } from "./exit.js"
import { oneLine } from "./terminal.js"

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
      if (error instanceof CliExit) return cliExitCode(error)
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

main.pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain(runMainOptions))
