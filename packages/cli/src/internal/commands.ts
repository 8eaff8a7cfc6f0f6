/**
 * What `--help` shows for each command: light data only (no `@effect/cli`, no Graph client), so
 * help is printed without loading the machinery of a run.
 */
import { emulatorDescription, emulatorFlags, emulatorSummary } from "./emulatorFlags.js"
import type { CommandHelp } from "./help.js"
import { listenDescription, listenFlags, listenSummary } from "./listenFlags.js"
import { runnerDescription, runnerFlags, runnerSummary } from "./runnerFlags.js"
import { syncDescription, syncFlags, syncSummary } from "./syncFlags.js"
import { verifyDescription, verifyFlags, verifySummary } from "./verifyFlags.js"
import { viewDescription, viewFlags, viewSummary } from "./viewFlags.js"

export const PROGRAM = "meeting-artifacts"
export const VERSION = "0.1.0"
export const SUMMARY = "Export Microsoft Teams meeting recordings and transcripts from Microsoft Graph"

export const commandHelp: ReadonlyArray<CommandHelp> = [
  { name: "sync", summary: syncSummary, description: syncDescription, flags: syncFlags },
  { name: "listen", summary: listenSummary, description: listenDescription, flags: listenFlags },
  { name: "verify", summary: verifySummary, description: verifyDescription, flags: verifyFlags },
  { name: "view", summary: viewSummary, description: viewDescription, flags: viewFlags },
  { name: "runner", summary: runnerSummary, description: runnerDescription, flags: runnerFlags },
  {
    name: "emulator",
    summary: emulatorSummary,
    description: emulatorDescription,
    flags: emulatorFlags,
    usage: "--fixture <tenant.json> | --generate <spec> [options]"
  }
]
