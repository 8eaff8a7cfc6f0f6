/**
 * `meeting-artifacts view --out <dir> [--port 0] [--state <sqlite file>] [--open]`: a local,
 * read-only web page over an export, on 127.0.0.1 only, until stopped
 * (SIGINT/SIGTERM). stdout carries exactly one line,
 * `VIEW_URL=http://127.0.0.1:<port>/`, printed once the page is served.
 *
 * Exit codes: 2 when there is nothing to show (no such folder; no manifest,
 * failures.jsonl or state store; an unreadable manifest) or the port cannot be bound.
 */
import { Command } from "@effect/cli"
import * as Effect from "effect/Effect"
import { CliExit, ExitCode } from "./CliExit.js"
import { resolveFlags } from "./internal/flags.js"
import { parsedValues, tableOptions } from "./internal/options.js"
import { viewFlags, viewSummary } from "./internal/viewFlags.js"

export const viewCommand = Command.make("view", tableOptions(viewFlags), (parsed) =>
  Effect.try({
    try: () => resolveFlags(viewFlags, parsedValues<typeof viewFlags>(parsed), process.env, undefined),
    catch: (e) =>
      new CliExit({
        code: ExitCode.Fatal,
        message: `meeting-artifacts view: ${e instanceof Error ? e.message : String(e)}`
      })
  }).pipe(
    // Loaded on use: --help needs none of the server, the index or SQLite.
    Effect.flatMap((flags) =>
      Effect.flatMap(Effect.promise(() => import("./internal/runView.js")), ({ runView }) => runView(flags))
    ),
    Effect.flatMap((code) => (code === ExitCode.Ok ? Effect.void : Effect.fail(new CliExit({ code }))))
  )).pipe(Command.withDescription(viewSummary))
