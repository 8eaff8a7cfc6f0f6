/**
 * The viewer's index on real SQLite files: set list paging, sorting and
 * filters, FTS5 search, and when the index is (not) built again.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import { ExportIndex, RunHistory } from "../src/index.js"
import { recordRuns, tempDir, writeExport } from "./exportFixture.js"

const vtt = (...cues: Array<[number, number, string, string]>) =>
  "WEBVTT\n\n" +
  cues.map(([a, b, who, text]) =>
    `00:00:${String(a).padStart(2, "0")}.000 --> 00:00:${String(b).padStart(2, "0")}.000\n<v ${who}>${text}</v>\n`
  )
    .join("\n")

const exportOf = (n: number) => {
  const out = tempDir()
  writeExport(
    out,
    Array.from({ length: n }, (_, i) => ({
      meetingId: `meeting-${String(i).padStart(3, "0")}`,
      organizerId: `organizer-${i % 3}`,
      recording: i % 4 === 3 ? null : { id: `rec-${i}`, data: Buffer.alloc(100 + i) },
      transcript: i % 5 === 4 ? null : {
        id: `tr-${i}`,
        vtt: vtt([1, 3, "Adele Vance", `Agenda item ${i}: the budget`], [
          4,
          6,
          "Alex Wilber",
          i === 7 ? "Ünïcode façade" : "noted"
        ])
      }
    })),
    [{
      kind: "recording",
      id: "rec-x",
      meetingId: "meeting-002",
      organizerId: "organizer-2",
      reason: "Forbidden",
      status: 403,
      code: "Forbidden",
      requestId: "r-1",
      at: "2026-03-02T10:00:00Z"
    }]
  )
  return out
}

const open = (out: string, builds: Array<number> = []) =>
  Effect.runPromise(ExportIndex.openIndex(out, { onBuild: (n) => builds.push(n) }))

describe("ExportIndex", () => {
  it("pages, sorts and filters the set list on the server", async () => {
    const out = exportOf(120)
    const index = await open(out)
    try {
      const first = index.sets({ limit: 50, sort: "meeting", descending: false })
      expect(first.total).toBe(120)
      expect(first.items.map((r) => r.meetingId).slice(0, 2)).toEqual(["meeting-000", "meeting-001"])
      const third = index.sets({ limit: 50, offset: 100, sort: "meeting", descending: false })
      expect(third.items.length).toBe(20)
      expect(third.items[0]!.meetingId).toBe("meeting-100")
      const byBytes = index.sets({ limit: 3, sort: "bytes", descending: true }).items.map((r) => r.bytes)
      expect(byBytes).toEqual([...byBytes].sort((a, b) => b - a))
      expect(index.sets({ text: "organizer-1" }).total).toBe(40)
      expect(
        index.sets({ has: "transcriptOnly" }).items.every((r) => r.recordingMs === null && r.transcriptMs !== null)
      ).toBe(true)
      // i % 4 === 3 has no recording, i % 5 === 4 no transcript; i % 20 === 19 neither.
      expect(index.sets({ has: "transcriptOnly" }).total).toBe(30 - 6)
      expect(index.sets({ has: "recordingOnly" }).total).toBe(18)
      expect(index.sets({ match: "none" }).total).toBe(24 + 18 + 6)
      const failing = index.sets({ sort: "failures", limit: 1 }).items[0]!
      expect([failing.meetingId, failing.failures]).toEqual(["meeting-002", 1])
      // Metered cost: a 6-second recording and transcript round down to 0 whole minutes.
      expect(index.sets({ limit: 1 }).items[0]!.cost).toBe(0)
    } finally {
      index.close()
    }
  })

  it("finds cues by words and word prefixes, diacritics folded, with the moment they were said", async () => {
    const out = exportOf(12)
    const index = await open(out)
    try {
      const hits = index.search("budg", { limit: 5 })
      expect(hits.total).toBe(10)
      expect(hits.items.length).toBe(5)
      expect(hits.more).toBe(true)
      expect(hits.items[0]!.startMs).toBe(1000)
      expect(hits.items[0]!.snippet).toContain(`${ExportIndex.MARK_START}budget${ExportIndex.MARK_END}`)
      const folded = index.search("facade", {})
      expect(folded.items.map((h) => h.meetingId)).toEqual(["meeting-007"])
      expect(folded.items[0]!.speaker).toBe("Alex Wilber")
      // FTS syntax in the input is just text, never an error.
      expect(index.search("\"budget OR NEAR(( *", {}).total).toBe(0)
      expect(index.search("   ", {}).total).toBe(0)
    } finally {
      index.close()
    }
  })

  it("is built once, reused while the manifest is unchanged, and built again when it changed", async () => {
    const out = exportOf(5)
    const builds: Array<number> = []
    ;(await open(out, builds)).close()
    const file = path.join(out, ".meeting-artifacts", ExportIndex.INDEX_FILE)
    const mtime = fs.statSync(file).mtimeMs
    ;(await open(out, builds)).close()
    expect(builds).toEqual([5])
    expect(fs.statSync(file).mtimeMs).toBe(mtime)
    // Touched but the same (a sync that changed nothing): the contents decide, no build.
    const manifest = path.join(out, "manifest.jsonl")
    fs.utimesSync(manifest, new Date(), new Date(Date.now() + 5_000))
    ;(await open(out, builds)).close()
    expect(builds).toEqual([5])
    // A sync adds a set.
    const lines = fs.readFileSync(manifest, "utf8").trim().split("\n")
    fs.writeFileSync(
      manifest,
      [
        ...lines,
        lines[0]!.replaceAll("meeting-000", "meeting-new").replaceAll("rec-0", "rec-new").replaceAll("tr-0", "tr-new")
      ].join("\n") + "\n"
    )
    const index = await open(out, builds)
    try {
      expect(builds).toEqual([5, 6])
      expect(index.sets({ text: "meeting-new" }).total).toBe(1)
      // No temp file of the build is left behind.
      expect(fs.readdirSync(path.dirname(file)).filter((f) => f.includes(".tmp"))).toEqual([])
    } finally {
      index.close()
    }
  })

  it("opens an export where everything failed (failures.jsonl, no manifest): no sets, the failures listed", async () => {
    const out = tempDir()
    writeExport(out, [], [
      {
        kind: "organizer",
        id: "o-1",
        meetingId: null,
        organizerId: "o-1",
        reason: "Forbidden",
        status: 403,
        code: "Forbidden",
        requestId: "r-9",
        at: "2026-03-02T10:00:00Z"
      }
    ])
    fs.rmSync(path.join(out, "manifest.jsonl"))
    const index = await open(out)
    try {
      expect(index.sets({}).total).toBe(0)
      expect(index.failures().map((f) => f.requestId)).toEqual(["r-9"])
    } finally {
      index.close()
    }
  })

  it("refuses a folder without a manifest, writing nothing there", async () => {
    const out = tempDir()
    const exit = await Effect.runPromiseExit(ExportIndex.openIndex(out))
    expect(exit._tag).toBe("Failure")
    expect(JSON.stringify(exit)).toContain("holds no manifest.jsonl")
    expect(fs.readdirSync(out)).toEqual([])
  })

  it("reads the run history from the checkpoint store without writing to it", async () => {
    const out = exportOf(1)
    expect(RunHistory.readRuns(out)).toEqual([])
    await recordRuns(out, [{ counts: { requests: 7, throttled: 2 } }, { counts: { requests: 3 }, status: "partial" }])
    const state = path.join(out, ".meeting-artifacts", "state.sqlite")
    const before = fs.statSync(state).mtimeMs
    const runs = RunHistory.readRuns(out)
    expect(runs.map((r) => [r.status, r.counts.requests])).toEqual([["succeeded", 7], ["partial", 3]])
    expect(runs[0]!.durationMs).toBeGreaterThanOrEqual(0)
    expect(fs.statSync(state).mtimeMs).toBe(before)
    // A sync given --state elsewhere: read from there.
    const elsewhere = path.join(tempDir(), "state.sqlite")
    await recordRuns(out, [{ counts: { requests: 11 } }], elsewhere)
    expect(RunHistory.readRuns(out, elsewhere).map((r) => r.counts.requests)).toEqual([11])
    expect(RunHistory.readRuns(out).length).toBe(2)
  })
})
