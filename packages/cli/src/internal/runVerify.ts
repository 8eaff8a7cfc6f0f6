import { noSyncRunning, verify, type VerifyReport } from "@meeting-artifacts/pipeline"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { ExitCode } from "../CliExit.js"
import { formatBytes } from "./render.js"
import { escapeControl } from "./terminal.js"

const fatal = (message: string) =>
  Effect.sync(() => {
    process.stderr.write(`meeting-artifacts verify: ${escapeControl(message.replace(/\s*\n\s*/g, " "))}\n`)
    return ExitCode.Fatal as number
  })

/** The human report printed on stdout. */
export const formatReport = (r: VerifyReport): string => {
  const lines = [
    `${r.out}: ${r.sets} sets (${r.byMatch.contentCorrelationId} by contentCorrelationId, ${
      r.byMatch["time-overlap"]
    } by time overlap, ` +
    `${r.byMatch.none} unpaired), ${r.recordings} recordings, ${r.transcripts} transcripts, ${formatBytes(r.bytes)}`
  ]
  if (r.problems.length === 0) lines.push("intact: every file the manifest names is complete")
  else {
    lines.push(`${r.problems.length} problem${r.problems.length === 1 ? "" : "s"}:`)
    for (const p of r.problems) {
      lines.push(`  ${p.problem.padEnd(9)} ${p.kind}${p.id === "" ? "" : ` ${p.id}`}: ${p.detail}`)
    }
  }
  if (r.failures > 0) {
    lines.push(
      `${r.failures} artifact${r.failures === 1 ? "" : "s"} failed for good and ${
        r.failures === 1 ? "is" : "are"
      } not exported: see failures.jsonl`
    )
  }
  if (r.leftovers.length > 0) {
    lines.push(
      `${r.leftovers.length} temp file${
        r.leftovers.length === 1 ? "" : "s"
      } of a killed run (the next sync removes them)`
    )
  }
  // Ids and paths come from the manifest, which anyone could have edited.
  return lines.map(escapeControl).join("\n")
}

export const runVerify = (out: string, json: boolean): Effect.Effect<number> =>
  Effect.gen(function*() {
    const dir = nodePath.resolve(out)
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return yield* fatal(`--out ${out}: no such directory`)
    const running = yield* Effect.either(noSyncRunning(dir))
    if (running._tag === "Left") return yield* fatal(running.left.message)
    const manifest = nodePath.join(dir, "manifest.jsonl")
    if (!fs.existsSync(manifest)) return yield* fatal(`--out ${out}: no manifest.jsonl there, nothing to verify`)
    if (!fs.statSync(manifest).isFile()) {
      return yield* fatal(`--out ${out}: manifest.jsonl is not a file, nothing to verify`)
    }
    const report = yield* Effect.either(verify(dir))
    if (report._tag === "Left") return yield* fatal(report.left.message)
    yield* Effect.sync(() =>
      process.stdout.write(`${json ? JSON.stringify(report.right) : formatReport(report.right)}\n`)
    )
    return report.right.problems.length === 0 ? ExitCode.Ok : ExitCode.PartialFailure
  })
