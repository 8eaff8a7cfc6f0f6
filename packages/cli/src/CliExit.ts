/**
 * How a command asks for a non-zero exit code: it fails with `CliExit` after
 * printing whatever it had to say. `bin.ts` turns it into `process.exitCode`.
 */
import * as Data from "effect/Data"

export class CliExit extends Data.TaggedError("CliExit")<{
  readonly code: number
  /** A one-line message for stderr, already printed when undefined. */
  readonly message?: string
}> {}

export { ExitCode } from "./ExitCode.js"
