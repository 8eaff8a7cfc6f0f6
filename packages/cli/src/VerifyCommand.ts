/**
 * `meeting-artifacts verify --out <dir>`: checks an export against its
 * manifest (every named file present, complete, with its cue count; every id
 * in one line) without touching Graph or writing anything.
 *
 * Exit codes: 0 everything the manifest names is intact; 1 problems found
 * (listed); 2 nothing to verify (no such directory, no manifest) or a
 * manifest that cannot be read.
 */
import { Command, HelpDoc, Options } from "@effect/cli"
import * as Effect from "effect/Effect"
import { CliExit, ExitCode } from "./CliExit.js"

const out = Options.text("out").pipe(
  Options.withPseudoName("dir"),
  Options.withDescription("The output directory of a sync (holds manifest.jsonl).")
)
const json = Options.boolean("json").pipe(
  Options.withDescription("Print the report as one JSON object on stdout.")
)

const description = HelpDoc.blocks([
  HelpDoc.p(
    "Check an export against <out>/manifest.jsonl: every recording and transcript file a line names exists with the " +
      "recorded size and sha256, every transcript has the recorded number of cues, and every id is in exactly one line. " +
      "Reads only; no Graph calls."
  ),
  HelpDoc.p("Exit codes: 0 intact; 1 problems found (listed); 2 nothing to verify (no directory or no manifest.jsonl) or an unreadable manifest.")
])

export const verifyCommand = Command.make("verify", { out, json }, (flags) =>
  // Loaded on use, like sync: --help needs none of it.
  Effect.promise(() => import("./internal/runVerify.js")).pipe(
    Effect.flatMap(({ runVerify }) => runVerify(flags.out, flags.json)),
    Effect.flatMap((code) => (code === ExitCode.Ok ? Effect.void : Effect.fail(new CliExit({ code }))))
  )).pipe(Command.withDescription(description))
