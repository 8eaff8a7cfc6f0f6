/**
 * `meeting-artifacts runner --cluster <postgres url> [--host h] [--port p]`: one runner of a
 * cluster, until stopped (SIGINT/SIGTERM). stdout carries one line, `RUNNER_READY=<host>:<port>`,
 * printed once the runner has joined.
 */
import { Command } from "@effect/cli"
import * as Effect from "effect/Effect"
import { CliExit, ExitCode } from "./CliExit.js"
import { resolveFlags } from "./internal/flags.js"
import { parsedValues, tableOptions } from "./internal/options.js"
import { runnerFlags, runnerSummary } from "./internal/runnerFlags.js"

export const runnerCommand = Command.make("runner", tableOptions(runnerFlags), (parsed) =>
  Effect.try({
    try: () => resolveFlags(runnerFlags, parsedValues<typeof runnerFlags>(parsed), process.env, undefined),
    catch: (e) =>
      new CliExit({
        code: ExitCode.Fatal,
        message: `meeting-artifacts runner: ${e instanceof Error ? e.message : String(e)}`
      })
  }).pipe(
    // Loaded on use: @effect/cluster and the Postgres driver are for runners and cluster syncs only.
    Effect.flatMap((flags) =>
      Effect.flatMap(Effect.promise(() => import("./internal/runRunner.js")), ({ runRunner }) => runRunner(flags))
    ),
    Effect.flatMap((code) => (code === ExitCode.Ok ? Effect.void : Effect.fail(new CliExit({ code }))))
  )).pipe(Command.withDescription(runnerSummary))
