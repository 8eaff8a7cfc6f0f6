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

/** Exit codes of `meeting-artifacts sync` (public contract). */
export const ExitCode = {
  /** Everything exported. */
  Ok: 0,
  /** Some items failed for good; they are listed in `<out>/failures.jsonl`, everything else was exported. */
  PartialFailure: 1,
  /** Fatal: bad arguments or configuration, authentication, a tenant-wide 403/402. */
  Fatal: 2
} as const
