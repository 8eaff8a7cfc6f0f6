/**
 * The exit codes, apart from `CliExit` (which loads Effect): bin.ts sets one for a refused `sync` line
 * before anything heavy is loaded.
 */

/** Exit codes of `meeting-artifacts sync` (public contract). */
export const ExitCode = {
  /** Everything exported. */
  Ok: 0,
  /** Some items failed for good; they are listed in `<out>/failures.jsonl`, everything else was exported. */
  PartialFailure: 1,
  /** Fatal: bad arguments or configuration, authentication, a tenant-wide 403/402. */
  Fatal: 2
} as const
