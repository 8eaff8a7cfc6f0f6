/**
 * The `meeting-artifacts` command tree.
 */
import { Command } from "@effect/cli"
import { emulatorCommand } from "./EmulatorCommand.js"
import { syncCommand } from "./SyncCommand.js"

export const rootCommand = Command.make("meeting-artifacts").pipe(
  Command.withDescription("Export Microsoft Teams meeting recordings and transcripts from Microsoft Graph"),
  Command.withSubcommands([syncCommand, emulatorCommand])
)

export const run = Command.run(rootCommand, { name: "meeting-artifacts", version: "0.1.0" })
