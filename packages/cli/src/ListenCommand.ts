/**
 * `meeting-artifacts listen`: exports recordings and transcripts as Graph's change notifications announce
 * them. The flags are the table in `internal/listenFlags.ts`; stdout carries one line,
 * `LISTEN_URL=<local url>`, once the endpoint serves; SIGTERM/SIGINT stop it with exit code 0.
 */
import { Command } from "@effect/cli"
import * as Effect from "effect/Effect"
import { CliExit, ExitCode } from "./CliExit.js"
import { FlagError } from "./internal/flags.js"
import { listenFlags, listenSummary } from "./internal/listenFlags.js"
import { parsedValues, tableOptions } from "./internal/options.js"
import { resolveExportConfig } from "./internal/syncConfig.js"

export const listenCommand = Command.make("listen", tableOptions(listenFlags), (flags) =>
  Effect.tryPromise({
    try: () => resolveExportConfig(listenFlags, parsedValues<typeof listenFlags>(flags), process.env),
    catch: (e) =>
      new CliExit({
        code: ExitCode.Fatal,
        message: `meeting-artifacts listen: ${
          e instanceof FlagError ? e.message : `cannot read the configuration: ${String(e)}`
        }`
      })
  }).pipe(
    // Loaded on use: the server, Graph client and sinks are not needed for --help or a bad flag.
    Effect.flatMap((config) =>
      Effect.flatMap(Effect.promise(() => import("./internal/runListen.js")), ({ runListen }) => runListen(config))
    ),
    Effect.flatMap((code) => code === ExitCode.Ok ? Effect.void : Effect.fail(new CliExit({ code })))
  )).pipe(Command.withDescription(listenSummary))
