/** The flags of `meeting-artifacts verify`. */
import { envName, flag } from "./flags.js"

export const verifyFlags = {
  out: flag("text", {
    name: "out",
    // The same variable as sync's --out: a scheduled job verifies what it exported.
    env: envName("out"),
    pseudo: "dir",
    description: "The output directory of a sync (holds manifest.jsonl).",
    required: "required"
  }),
  json: flag("boolean", {
    name: "json",
    env: envName("json"),
    description: "Print the report as one JSON object on stdout."
  })
} as const

export const verifySummary = "Check an export against its manifest, without calling Graph"

export const verifyDescription: ReadonlyArray<string> = [
  "Checks an export against <out>/manifest.jsonl: every recording and transcript file a line names exists with the " +
  "recorded size and sha256, every transcript has the recorded number of cues, and every id is in exactly one line. " +
  "Reads only; no Graph calls.",
  "Exit codes: 0 intact; 1 problems found (listed); 2 nothing to verify (no directory or no manifest.jsonl), an unreadable manifest, or a sync running on --out."
]
