/**
 * `meeting-artifacts listen`: exports recordings and transcripts as Graph's change notifications announce
 * them. The flags are the table in `internal/listenFlags.ts`; stdout carries one line,
 * `LISTEN_URL=<local url>`, once the endpoint serves; SIGTERM/SIGINT stop it with exit code 0.
 */
import { Command } from "@effect/cli"
import * as Effect from "effect/Effect"
import { listenFlags, listenSummary } from "./internal/listenFlags.js"
import { parsedValues, tableOptions } from "./internal/options.js"
import { resolveExportConfig } from "./internal/syncConfig.js"
import { resolveThenRun } from "./internal/syncHandler.js"

export const listenCommand = Command.make("listen", tableOptions(listenFlags), (flags) =>
  resolveThenRun(
    "listen",
    () => resolveExportConfig(listenFlags, parsedValues<typeof listenFlags>(flags), process.env),
    // Loaded on use: the server, Graph client and sinks are not needed for --help or a bad flag.
    (config) =>
      Effect.flatMap(Effect.promise(() => import("./internal/runListen.js")), ({ runListen }) => runListen(config))
  )).pipe(Command.withDescription(listenSummary))
