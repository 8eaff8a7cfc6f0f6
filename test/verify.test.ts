/**
 * `meeting-artifacts verify`: an export synced from the emulator verifies
 * intact; each kind of damage is reported on its own, with exit 1; a
 * directory without a manifest is exit 2.
 */
import { startEmulator } from "@meeting-artifacts/graph-emulator"
import { Manifest } from "@meeting-artifacts/sinks"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, runCli, tempDir, syncArgs } from "./helpers.js"

type Line = {
  meetingId: string
  match: string
  recording: { id: string; path: string; bytes: number } | null
  transcript: { id: string; path: string; bytes: number; cues: number } | null
}

describe("verify", () => {
  let source: string
  let lines: Array<Line>
  beforeAll(async () => {
    const emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 4, seed: 23, recordingBytes: [2048, 8192], cues: [2, 5] }
    })
    try {
      source = path.join(tempDir(), "out")
      const r = await runCli(
        [
          ...syncArgs(emu, source)
        ],
        { env: cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken }) }
      )
      expect(r.code, r.stderr).toBe(0)
      lines = fs.readFileSync(path.join(source, "manifest.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    } finally {
      await emu.close()
    }
  }, 60_000)

  // Each case damages its own copy of the export.
  const copy = () => {
    const out = path.join(tempDir(), "out")
    fs.cpSync(source, out, { recursive: true })
    return out
  }
  const verify = (out: string) => runCli(["verify", "--out", out, "--json"], { env: cleanEnv({}) })

  it("an intact export: exit 0 and counts that match the manifest", async () => {
    const out = copy()
    const r = await verify(out)
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.problems).toEqual([])
    expect(report.sets).toBe(lines.length)
    expect(report.recordings).toBe(lines.filter((l) => l.recording).length)
    expect(report.transcripts).toBe(lines.filter((l) => l.transcript).length)
    expect(report.bytes).toBe(lines.reduce((n, l) => n + (l.recording?.bytes ?? 0) + (l.transcript?.bytes ?? 0), 0))
    expect(report.byMatch.contentCorrelationId).toBe(lines.filter((l) => l.match === "contentCorrelationId").length)
  })

  it("reports a changed, a missing and a miscounted file, a duplicated line and temp leftovers; exit 1", async () => {
    const out = copy()
    const withRec = lines.filter((l) => l.recording)
    const withTr = lines.filter((l) => l.transcript)
    const changed = withRec[0]!.recording!
    const missing = withTr[0]!.transcript!
    const miscounted = withTr[1]!.transcript!
    fs.appendFileSync(path.join(out, changed.path), "x")
    fs.rmSync(path.join(out, missing.path))
    fs.writeFileSync(path.join(out, ".leftover.mp4.abc123.partial"), "half")
    const manifest = fs.readFileSync(path.join(out, "manifest.jsonl"), "utf8").trim().split("\n").map((l) =>
      JSON.parse(l) as Line
    )
    const edited = manifest.map((l) =>
      l.transcript?.id === miscounted.id ? { ...l, transcript: { ...l.transcript, cues: l.transcript.cues + 1 } } : l
    )
    const dup = withRec[1]!
    fs.writeFileSync(path.join(out, "manifest.jsonl"), [...edited, dup].map((l) => JSON.stringify(l) + "\n").join(""))

    const r = await verify(out)
    expect(r.code, r.stderr).toBe(1)
    const report = JSON.parse(r.stdout)
    const found = report.problems.map((p: { problem: string; id: string }) => [p.problem, p.id]).sort()
    const expected = [
      ["changed", changed.id],
      ["missing", missing.id],
      ["cues", miscounted.id],
      ["duplicate", dup.recording!.id],
      ...(dup.transcript ? [["duplicate", dup.transcript.id]] : [])
    ].sort()
    expect(found).toEqual(expected)
    expect(report.leftovers).toEqual([".leftover.mp4.abc123.partial"])
    // the human report names the damaged file
    const human = await runCli(["verify", "--out", out], { env: cleanEnv({}) })
    expect(human.code).toBe(1)
    expect(human.stdout).toContain(changed.path)
  })

  it("a manifest cut short, and journaled lines an interrupted run did not merge, are problems", async () => {
    const out = copy()
    const file = path.join(out, "manifest.jsonl")
    const text = fs.readFileSync(file, "utf8")
    // what an interrupted run leaves: upserts in the journal that names this manifest
    fs.writeFileSync(
      Manifest.journalPath(out),
      `${JSON.stringify({ manifestSha256: createHash("sha256").update(text).digest("hex") })}\n${text.split("\n")[0]}\n`
    )
    let r = await verify(out)
    expect(r.code, r.stderr).toBe(1)
    expect(JSON.parse(r.stdout).problems).toMatchObject([{ problem: "unflushed", kind: "manifest" }])
    // a copy of the export cut in the middle of its last line
    fs.rmSync(Manifest.journalPath(out))
    fs.writeFileSync(file, text.slice(0, text.length - 20))
    r = await verify(out)
    expect(r.code, r.stderr).toBe(1)
    const report = JSON.parse(r.stdout)
    expect(report.problems).toMatchObject([{ problem: "invalid", kind: "manifest" }])
    expect(report.problems[0].detail).toContain(`line ${lines.length}`)
    expect(report.sets).toBe(lines.length - 1)
  })

  it("a directory without a manifest is nothing to verify: exit 2, one line", async () => {
    const r = await runCli(["verify", "--out", tempDir()], { env: cleanEnv({}) })
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split("\n")).toHaveLength(1)
    expect(r.stderr).toContain("manifest.jsonl")
  })
})
