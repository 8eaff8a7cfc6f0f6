/**
 * What an exporting command does once its flags are parsed (by `@effect/cli`, or for a plain `sync`
 * line by `plainArgs` in syncMain.ts): resolves its settings, then runs; fails with `CliExit` for a
 * non-zero exit code.
 */
import * as Effect from "effect/Effect"
import { CliExit, ExitCode } from "../CliExit.js"
import { type Parsed, settingsErrorLine } from "./flags.js"
import { resolveSyncConfig } from "./syncConfig.js"
import type { syncFlags } from "./syncFlags.js"

/** Settings from `resolve` (a bad value: one line naming `command`, exit 2), then `run`'s exit code. */
export const resolveThenRun = <C>(
  command: string,
  resolve: () => Promise<C>,
  run: (config: C) => Effect.Effect<number>
): Effect.Effect<void, CliExit> =>
  Effect.tryPromise({
    try: resolve,
    catch: (e) => new CliExit({ code: ExitCode.Fatal, message: settingsErrorLine(command, e) })
  }).pipe(
    Effect.flatMap(run),
    Effect.flatMap((code) => code === ExitCode.Ok ? Effect.void : Effect.fail(new CliExit({ code })))
  )

export const syncHandler = (
  parsed: { readonly [K in keyof typeof syncFlags]?: Parsed }
): Effect.Effect<void, CliExit> =>
  resolveThenRun(
    "sync",
    () => resolveSyncConfig(parsed, process.env),
    // Loaded on use: the Graph client, sinks and their drivers are not needed for --help or a bad flag.
    (config) =>
      Effect.flatMap(
        Effect.promise(() => import("./runSyncCommand.js")),
        ({ runSyncCommand }) => runSyncCommand(config)
      )
  )
