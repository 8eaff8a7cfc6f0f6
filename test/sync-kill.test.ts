/**
 * Resumability: a sync killed with SIGKILL at random moments (while it talks
 * to Graph) and re-run ends with exactly the output of an uninterrupted run:
 * no duplicate manifest lines, no partial files, and content that was
 * completed before a kill is never downloaded again (the emulator counts
 * every content body it serves completely).
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  cleanEnv,
  collect,
  expectedArtifacts,
  syncArgs,
  readManifest,
  runCli,
  spawnCli,
  tempDir,
  verifyOutput
} from "./helpers.js"

const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Rows of the SQLite record sink: counts and ids per table. */
const readRows = (file: string) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const recordings = yield* sql<{ id: string }>`SELECT id FROM recordings`
      const transcripts = yield* sql<{ id: string }>`SELECT id FROM transcripts`
      const sets = yield* sql<
        { recording_id: string | null; transcript_id: string | null }
      >`SELECT recording_id, transcript_id FROM artifact_sets`
      return { recordings: recordings.map((r) => r.id), transcripts: transcripts.map((t) => t.id), sets }
    }).pipe(Effect.provide(SqliteClient.layer({ filename: file })))
  )

const sortedLines = (out: string) =>
  fs.readFileSync(path.join(out, "manifest.jsonl"), "utf8").split("\n").filter(Boolean).sort()

describe("sync killed with SIGKILL and re-run", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({
      generate: {
        organizers: 2,
        meetingsPerOrganizer: 6,
        seed: 23,
        recordingBytes: [64 * 1024, 512 * 1024],
        cues: [3, 10]
      },
      // Latency spreads requests out so kills land in the middle of bodies, not only between them.
      faults: { latencyMs: { min: 5, max: 40 } }
    })
  })
  afterAll(() => emu?.close())

  it(
    "ends with the uninterrupted run's output, no duplicates, no partial files, no completed content fetched twice",
    async () => {
      const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
      // Record rows go to a SQLite sink beside the files (outside --out, as a data platform would have it).
      const args = (out: string) => [
        ...syncArgs(emu, out),
        "--concurrency",
        "3",
        "--sink",
        `sqlite:${out}.sqlite`
      ]
      const expected = expectedArtifacts(emu.fixture)

      // The reference: one uninterrupted run.
      const reference = path.join(tempDir(), "out")
      const ref = await runCli(args(reference), { env })
      expect(ref.code, ref.stderr).toBe(0)
      expect(verifyOutput(reference, expected)).toEqual([])
      // Requests a run makes before and besides content (discovery pages), from the reference run.
      const refCounters = emu.counters()
      const overhead = refCounters.total - Object.values(refCounters.contentRequests).reduce((a, b) => a + b, 0)
      emu.resetCounters()

      const out = path.join(tempDir(), "out")
      const rand = mulberry32(20240115)
      const kills: Array<{ completed: Set<string>; contentRequests: Record<string, number> }> = []
      let finishedEarly = 0
      for (let attempt = 0; kills.length < 10 && attempt < 30; attempt++) {
        const done = new Set(
          readManifest(out).flatMap((l) => [l.recording?.id, l.transcript?.id].filter((x): x is string => !!x))
        )
        const remaining = expected.size - done.size
        const base = emu.counters().total
        // Kill after a random number of requests of this run: during discovery or during the first
        // downloads, so that work is left for later kills. (Downloads start while listings still page, up to
        // --concurrency of them before any set is formed: the window reaches past those.) Once everything is
        // exported a run makes its listing requests only: the kill lands among those (a target past them is
        // never reached, and such runs, a third of them, left 8 kills after 30 runs under load).
        const window = remaining === 0 ? overhead : overhead + Math.max(2, Math.min(10, remaining))
        const target = base + 1 + Math.floor(rand() * window)
        // Every other run is killed right after its first new manifest line instead: mid-export for sure
        // (downloads start during discovery, so a count of requests alone rarely lands between two sets).
        // With nothing left to export there is no new line to wait for: that run is killed by count.
        const manifestFile = path.join(out, "manifest.jsonl")
        const manifestBytes = () => (fs.existsSync(manifestFile) ? fs.statSync(manifestFile).size : 0)
        const manifestBefore = attempt % 2 === 1 && remaining > 0 ? manifestBytes() : null
        const due = () => manifestBefore === null ? emu.counters().total >= target : manifestBytes() > manifestBefore
        const child = spawnCli(args(out), { env })
        const result = collect(child)
        let killed = false
        const timer = setInterval(() => {
          if (!killed && due()) {
            killed = true
            child.kill("SIGKILL")
          }
        }, 2)
        const r = await result
        clearInterval(timer)
        if (killed && r.signal === "SIGKILL") {
          const completed = new Set(
            readManifest(out).flatMap((l) => [l.recording?.id, l.transcript?.id].filter((x): x is string => !!x))
          )
          kills.push({ completed, contentRequests: { ...emu.counters().contentRequests } })
        } else {
          expect(r.code, r.stderr).toBe(0)
          finishedEarly++
        }
      }
      expect(kills.length).toBeGreaterThanOrEqual(10)
      // Kills hit while content was being exported, not only before or after.
      expect(kills.some((k) => k.completed.size > 0 && k.completed.size < expected.size)).toBe(true)

      const final = await runCli(args(out), { env })
      expect(final.code, final.stderr).toBe(0)

      expect(verifyOutput(out, expected)).toEqual([])
      expect(sortedLines(out)).toEqual(sortedLines(reference))
      // No duplicate rows either: one row per artifact, one set row per manifest line, like the reference.
      const rows = await readRows(`${out}.sqlite`)
      const refRows = await readRows(`${reference}.sqlite`)
      const kindsIn = (kind: "recording" | "transcript") =>
        [...expected.values()].filter((a) => a.kind === kind).map((a) => a.id).sort()
      expect(rows.recordings.sort()).toEqual(kindsIn("recording"))
      expect(rows.transcripts.sort()).toEqual(kindsIn("transcript"))
      const setKey = (s: { recording_id: string | null; transcript_id: string | null }) =>
        `${s.recording_id}|${s.transcript_id}`
      expect(rows.sets.map(setKey).sort()).toEqual(refRows.sets.map(setKey).sort())
      expect(rows.sets).toHaveLength(sortedLines(out).length)

      const counts = emu.counters().contentRequests
      for (const k of kills) {
        for (const id of k.completed) {
          expect(counts[id] ?? 0, `content of ${id} fetched again after it was completed`).toBe(
            k.contentRequests[id] ?? 0
          )
        }
      }
      // In-flight downloads cut by a kill may be fetched again; nothing else is.
      const total = Object.values(counts).reduce((a, b) => a + b, 0)
      console.info(
        `${kills.length} kills, ${finishedEarly} runs finished before their kill; ${total} content bodies served for ${expected.size} artifacts`
      )
      expect(total).toBeLessThanOrEqual(expected.size + kills.length * 3)
      for (const a of expected.values()) expect(counts[a.id] ?? 0, a.id).toBeGreaterThanOrEqual(1)
    },
    240_000
  )
})
