/**
 * `meeting-artifacts sync`: exports recordings and transcripts of a window of meetings. Flags,
 * environment, exit codes and the manifest are a public contract (see the package README); the
 * flags themselves are the table in `internal/syncFlags.ts`.
 */
import { Command } from "@effect/cli"
import { DEFAULT_BASE_URL } from "@meeting-artifacts/api/GraphUrl"
import * as Effect from "effect/Effect"
import { CliExit, ExitCode } from "./CliExit.js"
import { FlagError } from "./internal/flags.js"
import { parsedValues, tableOptions } from "./internal/options.js"
import { resolveSyncConfig } from "./internal/syncConfig.js"
import { syncFlags, syncSummary } from "./internal/syncFlags.js"

/** Graph's v1.0 endpoint, the default of `--graph-url` (`GRAPH_BASE_URL`). */
export const DEFAULT_GRAPH_URL = DEFAULT_BASE_URL

export const syncCommand = Command.make("sync", tableOptions(syncFlags), (flags) =>
  Effect.tryPromise({
    try: () => resolveSyncConfig(parsedValues<typeof syncFlags>(flags), process.env),
    catch: (e) =>
      new CliExit({
        code: ExitCode.Fatal,
        message: `meeting-artifacts sync: ${
          e instanceof FlagError ? e.message : `cannot read the configuration: ${String(e)}`
        }`
      })
  }).pipe(
    // Loaded on use: the Graph client, sinks and their drivers are not needed for --help or a bad flag.
    Effect.flatMap((config) =>
      Effect.flatMap(Effect.promise(() => import("./internal/runSync.js")), ({ runSync }) => runSync(config))
    ),
    Effect.flatMap((code) => code === ExitCode.Ok ? Effect.void : Effect.fail(new CliExit({ code })))
  )).pipe(Command.withDescription(syncSummary))
