/**
 * `meeting-artifacts emulator`: serves the bundled Graph emulator.
 */
import { Command } from "@effect/cli"
import * as Console from "effect/Console"

export const emulatorCommand = Command.make("emulator", {}, () => Console.log("not yet implemented")).pipe(
  Command.withDescription("Serve a local Microsoft Graph emulator loaded from a fixture or a generator")
)
