/**
 * `meeting-artifacts sync`: exports recordings and transcripts of a window of meetings. Flags,
 * environment, exit codes and the manifest are a public contract (see the package README); the
 * flags themselves are the table in `internal/syncFlags.ts`.
 */
import { Command } from "@effect/cli"
import { DEFAULT_BASE_URL } from "@meeting-artifacts/api/GraphUrl"
import { parsedValues, tableOptions } from "./internal/options.js"
import { syncFlags, syncSummary } from "./internal/syncFlags.js"
import { syncHandler } from "./internal/syncHandler.js"

/** Graph's v1.0 endpoint, the default of `--graph-url` (`GRAPH_BASE_URL`). */
export const DEFAULT_GRAPH_URL = DEFAULT_BASE_URL

export const syncCommand = Command.make(
  "sync",
  tableOptions(syncFlags),
  (flags) => syncHandler(parsedValues<typeof syncFlags>(flags))
).pipe(Command.withDescription(syncSummary))
