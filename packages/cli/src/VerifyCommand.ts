/**
 * `meeting-artifacts verify --out <dir>`: checks an export against its
 * manifest (every named file present, complete, with its cue count; every id
 * in one line) without touching Graph or writing anything.
 *
 * Exit codes: 0 everything the manifest names is intact; 1 problems found
 * (listed); 2 nothing to verify (no such directory, no manifest) or a
 * manifest that cannot be read.
 */
import { Command } from "@effect/cli"
import * as Effect from "effect/Effect"
import { CliExit, ExitCode } from "./CliExit.js"
import { resolveFlags } from "./internal/flags.js"
import { parsedValues, tableOptions } from "./internal/options.js"
import { verifyFlags, verifySummary } from "./internal/verifyFlags.js"

export const verifyCommand = Command.make("verify", tableOptions(verifyFlags), (parsed) =>
  Effect.try({
    try: () => resolveFlags(verifyFlags, parsedValues<typeof verifyFlags>(parsed), process.env, undefined),
    catch: (e) =>
      new CliExit({
        code: ExitCode.Fatal,
        message: `meeting-artifacts verify: ${e instanceof Error ? e.message : String(e)}`
      })
  }).pipe(
    // Loaded on use, like sync: --help needs none of it.
    Effect.flatMap((flags) =>
      Effect.flatMap(Effect.promise(() => import("./internal/runVerify.js")), ({ runVerify }) =>
        runVerify(flags.out, flags.json))
    ),
    Effect.flatMap((code) => (code === ExitCode.Ok ? Effect.void : Effect.fail(new CliExit({ code }))))
  )).pipe(Command.withDescription(verifySummary))
