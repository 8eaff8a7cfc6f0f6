import { validateSyncOptions } from "@meeting-artifacts/pipeline"
import * as Effect from "effect/Effect"
import { resolveCredential } from "../Auth.js"
import { ExitCode } from "../CliExit.js"
import { isHttpUrl } from "@meeting-artifacts/pipeline"

export interface SyncCommandConfig {
  readonly organizers: ReadonlyArray<string>
  readonly from: string | undefined
  readonly to: string | undefined
  readonly out: string
  readonly graphUrl: string
  readonly state: string | undefined
  readonly concurrency: number
  readonly sinks: ReadonlyArray<string>
  readonly incremental: boolean
  readonly meetingIds: ReadonlyArray<string>
  readonly joinUrls: ReadonlyArray<string>
  readonly dryRun: boolean
  readonly json: boolean
}

/** Writes one line to stderr (never through Console, which the CLI shell filters while parsing). */
export const errorLine = (message: string): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stderr.write(`meeting-artifacts sync: ${message.replace(/\s*\n\s*/g, " ")}\n`)
  })

/** Runs `sync` and returns the exit code (0, 1 or 2); never fails. */
export const runSync = (config: SyncCommandConfig): Effect.Effect<number> =>
  Effect.gen(function*() {
    const validated = yield* validateSyncOptions({
      organizers: config.organizers,
      from: config.from,
      to: config.to,
      meetingIds: config.meetingIds,
      joinUrls: config.joinUrls,
      out: config.out,
      incremental: config.incremental,
      concurrency: config.concurrency,
      dryRun: config.dryRun
    }).pipe(Effect.either)
    if (validated._tag === "Left") {
      yield* errorLine(validated.left.message)
      return ExitCode.Fatal
    }
    if (!isHttpUrl(config.graphUrl)) {
      yield* errorLine(`--graph-url is not an http(s) URL: ${JSON.stringify(config.graphUrl)}`)
      return ExitCode.Fatal
    }
    const auth = yield* Effect.try(() => resolveCredential()).pipe(Effect.either)
    if (auth._tag === "Left") {
      yield* errorLine(`cannot set up authentication: ${String(auth.left)}`)
      return ExitCode.Fatal
    }
    yield* errorLine("the sync pipeline is not wired yet")
    return ExitCode.Fatal
  })
