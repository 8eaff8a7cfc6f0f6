/**
 * `meeting-artifacts sync`: exports recordings and transcripts of a window of meetings.
 */
import { Command } from "@effect/cli"
import * as Console from "effect/Console"

export const syncCommand = Command.make("sync", {}, () => Console.log("not yet implemented")).pipe(
  Command.withDescription("Export Teams meeting recordings and transcripts, joined by contentCorrelationId")
)
