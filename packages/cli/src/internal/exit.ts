/**
 * How the process ends, whichever way the command line was read (main.ts through `@effect/cli`,
 * syncMain.ts for a plain `sync` line): a `CliExit`'s message as one line on stderr and its code; a
 * defect as one line without a stack; 130 (or 0 while serving) when a signal interrupted the run.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { type CliExit, ExitCode } from "../CliExit.js"
import { interruptedExitCode } from "./serving.js"
import { escapeControl } from "./terminal.js"

const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "")

/** Text as one line: ANSI styles dropped, whitespace runs (newlines too) made one space. */
export const oneLine = (text: string): string => stripAnsi(text).replace(/\s+/g, " ").trim()

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

/** `NodeRuntime.runMain`'s options for a program that returns the exit code. */
export const runMainOptions = {
  // stdout carries the summary (one JSON object with --json) and nothing else: a defect is reported
  // below, on stderr, as one line without a stack trace.
  disableErrorReporting: true,
  teardown: (exit: Exit.Exit<unknown, unknown>, onExit: (code: number) => void) => {
    if (Exit.isSuccess(exit)) return onExit(exit.value as number)
    if (Cause.isInterruptedOnly(exit.cause)) return onExit(interruptedExitCode())
    process.stderr.write(`meeting-artifacts: unexpected failure: ${describeDefect(Cause.squash(exit.cause))}\n`)
    return onExit(ExitCode.Fatal)
  }
}
