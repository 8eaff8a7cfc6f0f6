/** The flags of `meeting-artifacts view`. */
import { envName, flag } from "./flags.js"

export const viewFlags = {
  out: flag("text", {
    name: "out",
    // The same variable as sync's --out: a scheduled export can be looked at with no flag at all.
    env: envName("out"),
    pseudo: "dir",
    description: "The output directory of a sync (holds manifest.jsonl).",
    required: "required"
  }),
  port: flag("integer", {
    name: "port",
    pseudo: "port",
    description: "Port on 127.0.0.1 (0: any free port).",
    default: 0
  }),
  state: flag("text", {
    name: "state",
    pseudo: "path",
    description:
      "The SQLite checkpoint store the syncs used, if not <out>/.meeting-artifacts/state.sqlite (run history)."
  }),
  open: flag("boolean", {
    name: "open",
    description: "Open the page in the default browser."
  })
} as const

export const viewSummary = "Serve a read-only web page over an export, on 127.0.0.1"

export const viewDescription: ReadonlyArray<string> = [
  "Serves every set (sortable, filterable), one meeting with its recording, synced transcript and talk time per " +
  "speaker, search across every transcript, run history and failures. Works offline. The search index is built once " +
  "into <out>/.meeting-artifacts/view-index.sqlite and rebuilt when the manifest changes.",
  "Prints VIEW_URL=http://127.0.0.1:<port>/ on stdout once it serves; stops on Ctrl-C or SIGTERM.",
  "Exit codes: 2 nothing to show (no such folder; no manifest, failures.jsonl or state store; an unreadable manifest), " +
  "a Postgres --state, or a port that cannot be bound."
]
