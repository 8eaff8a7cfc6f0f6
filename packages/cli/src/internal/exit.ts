/**
 * How the process ends, whichever way the command line was read (main.ts through `@effect/cli`,
 * syncMain.ts and exportMain.ts for a plain `sync` line): a `CliExit`'s message as one line on stderr and its code; a
 * defect as one line without a stack; 130 (or 0 while serving) when a signal interrupted the run.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { type CliExit, ExitCode } from "../CliExit.js"
import { interruptedExitCode } from "./serving.js"
import { escapeControl, oneLine } from "./terminal.js"

/** A defect in one line: its name and message, without the stack, control characters escaped. */
const describeDefect = (defect: unknown): string => {
  const text = defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect)
  return escapeControl(oneLine(text)).slice(0, 500)
}

/** The exit code a `CliExit` asks for, after writing its message (when it has one) to stderr. */
export const cliExitCode = (error: CliExit): Effect.Effect<number> =>
  error.message === undefined || error.message === ""
    ? Effect.succeed(error.code)
    : Effect.as(Effect.sync(() => process.stderr.write(`${oneLine(error.message!)}\n`)), error.code)

/**
 * Ends the process with `code` once what was written to stdout and stderr has been handed over. Called when
 * the command's effect has ended: its scopes are closed, so whatever it wrote is durable (fsynced) and its
 * locks are released. Left to itself, Node would first wait for the event loop to empty and then free the
 * whole heap, ~40-90 ms after a bulk sync that nothing needs (and a leaked timer or socket would keep the
 * process alive).
 */
export const exitWhenFlushed = (code: number): void => {
  let pending = 2
  const flushed = () => {
    if (--pending === 0) process.exit(code)
  }
  process.stdout.write("", flushed)
  process.stderr.write("", flushed)
}

/** The exit code of a command's effect that ended with `exit` (a defect is written to stderr first). */
const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return exit.value as number
  if (Cause.isInterruptedOnly(exit.cause)) return interruptedExitCode()
  process.stderr.write(`meeting-artifacts: unexpected failure: ${describeDefect(Cause.squash(exit.cause))}\n`)
  return ExitCode.Fatal
}

/** `NodeRuntime.runMain`'s options for a program that returns the exit code. */
export const runMainOptions = {
  // stdout carries the summary (one JSON object with --json) and nothing else: a defect is reported
  // below, on stderr, as one line without a stack trace.
  disableErrorReporting: true,
  // Not runMain's own exit, which for code 0 waits for the event loop (see exitWhenFlushed).
  teardown: (exit: Exit.Exit<unknown, unknown>) => exitWhenFlushed(exitCodeOf(exit))
}
