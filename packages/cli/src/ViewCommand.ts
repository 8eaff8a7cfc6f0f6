/**
 * `meeting-artifacts view --out <dir> [--port 0] [--state <sqlite file>] [--open]`: a local,
 * read-only web page over an export, on 127.0.0.1 only, until stopped
 * (SIGINT/SIGTERM). stdout carries exactly one line,
 * `VIEW_URL=http://127.0.0.1:<port>/`, printed once the page is served.
 *
 * Exit codes: 2 when there is nothing to show (no such folder; no manifest,
 * failures.jsonl or state store; an unreadable manifest) or the port cannot be bound.
 */
import { Command, HelpDoc, Options } from "@effect/cli"
import * as Effect from "effect/Effect"
import { CliExit, ExitCode } from "./CliExit.js"

const out = Options.text("out").pipe(
  Options.withPseudoName("dir"),
  Options.withDescription("The output directory of a sync (holds manifest.jsonl).")
)
const port = Options.integer("port").pipe(
  Options.withDescription("Port on 127.0.0.1 (0: any free port)."),
  Options.withDefault(0)
)
const state = Options.text("state").pipe(
  Options.withPseudoName("path"),
  Options.withDescription(
    "The SQLite checkpoint store the syncs used, if not the default <out>/.meeting-artifacts/state.sqlite (for the run history)."
  ),
  Options.optional
)
const open = Options.boolean("open").pipe(
  Options.withDescription("Open the page in the default browser.")
)

const description = HelpDoc.blocks([
  HelpDoc.p(
    "Serve a read-only web page over an export on 127.0.0.1: every set (sortable, filterable), one meeting with its " +
      "recording, synced transcript and talk time per speaker, search across every transcript, run history and failures. " +
      "Works offline. The search index is built once into <out>/.meeting-artifacts/view-index.sqlite and rebuilt when the manifest changes."
  ),
  HelpDoc.p("Prints VIEW_URL=http://127.0.0.1:<port>/ on stdout once it serves; stops on Ctrl-C or SIGTERM.")
])

export const viewCommand = Command.make("view", { out, port, state, open }, (flags) =>
  // Loaded on use: --help needs none of the server, the index or SQLite.
  Effect.promise(() => import("./internal/runView.js")).pipe(
    Effect.flatMap(({ runView }) => runView(flags)),
    Effect.flatMap((code) => (code === ExitCode.Ok ? Effect.void : Effect.fail(new CliExit({ code }))))
  )).pipe(Command.withDescription(description))
