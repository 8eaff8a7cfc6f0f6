/**
 * What `sync` does once its flags are parsed (by `@effect/cli` in SyncCommand.ts, or by `plainArgs` in
 * syncMain.ts): resolves the settings, then runs; fails with `CliExit` for a non-zero exit code.
 */
import * as Effect from "effect/Effect"
import { CliExit, ExitCode } from "../CliExit.js"
import { FlagError, type Parsed } from "./flags.js"
import { resolveSyncConfig } from "./syncConfig.js"
import type { syncFlags } from "./syncFlags.js"

export const syncHandler = (
  parsed: { readonly [K in keyof typeof syncFlags]?: Parsed }
): Effect.Effect<void, CliExit> =>
  Effect.tryPromise({
    try: () => resolveSyncConfig(parsed, process.env),
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
      Effect.flatMap(Effect.promise(() => import("./runSync.js")), ({ runSync }) => runSync(config))
    ),
    Effect.flatMap((code) => code === ExitCode.Ok ? Effect.void : Effect.fail(new CliExit({ code })))
  )
