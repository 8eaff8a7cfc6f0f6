/**
 * `meeting-artifacts emulator`: serves the bundled Graph emulator until stopped (SIGINT/SIGTERM).
 * stdout carries only `KEY=value` lines (GRAPH_BASE_URL, GRAPH_ACCESS_TOKEN, the AZURE_* settings with
 * --token-endpoint, NODE_EXTRA_CA_CERTS with --tls or --token-endpoint) so scripts can source them; the
 * human summary goes to stderr.
 */
import { Command } from "@effect/cli"
import * as Effect from "effect/Effect"
import { CliExit, ExitCode } from "./CliExit.js"
import { emulatorFlags, emulatorSummary } from "./internal/emulatorFlags.js"
import { resolveFlags } from "./internal/flags.js"
import { parsedValues, tableOptions } from "./internal/options.js"

const fatal = (message: string) =>
  new CliExit({ code: ExitCode.Fatal, message: `meeting-artifacts emulator: ${message}` })

export const emulatorCommand = Command.make(
  "emulator",
  tableOptions(emulatorFlags),
  (parsed) =>
    Effect.try({
      try: () => resolveFlags(emulatorFlags, parsedValues<typeof emulatorFlags>(parsed), {}, undefined),
      catch: (e) => fatal(e instanceof Error ? e.message : String(e))
    }).pipe(
      // Loaded on use: --help and a bad flag need none of the emulator.
      Effect.flatMap((args) =>
        Effect.flatMap(
          Effect.promise(() => import("./internal/runEmulator.js")),
          ({ runEmulator }) => runEmulator(args)
        )
      )
    )
).pipe(Command.withDescription(emulatorSummary))
