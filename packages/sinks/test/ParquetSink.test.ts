import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import { CallTranscript } from "@meeting-artifacts/api"
import { ArtifactSet } from "@meeting-artifacts/correlate"
import { makeRecordSink, ParquetSink } from "../src/index.js"
import { runAndKill } from "./support/child.js"
import { makeSet, setWrite, tempDir } from "./support/data.js"
import { duckRows } from "./support/sinkContents.js"

/** Read the dataset back with a separate DuckDB, as a consumer would. */
const query = (sql: string) => Effect.promise(() => duckRows(sql) as Promise<Array<Record<string, any>>>)

const sets = (dir: string, extra = "") =>
  query(
    `SELECT * REPLACE (CAST(meeting_date AS VARCHAR) AS meeting_date) FROM read_parquet('${dir}/artifact_sets/*/*.parquet', hive_partitioning = true) ${extra} ORDER BY set_id`
  )
const cueCount = (dir: string) =>
  Effect.map(
    query(`SELECT COUNT(*) AS n FROM read_parquet('${dir}/transcript_cues/*/*.parquet')`),
    (r) => Number(r[0]!.n)
  )

const allFiles = (dir: string) =>
  fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort()

describe("ParquetSink", () => {
  it.scoped("writes sets and cues partitioned by meeting date; DuckDB reads the same counts back", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const sink = yield* ParquetSink.make({ dir })
      yield* sink.writeSet(setWrite(makeSet("m1", "r1", "t1", { date: "2026-03-02" }), 5))
      yield* sink.writeSet(setWrite(makeSet("m2", "r2", null, { date: "2026-03-02" })))
      yield* sink.writeSet(setWrite(makeSet("m3", null, "t3", { date: "2026-03-04" }), 7))
      const rows = yield* sets(dir)
      expect(rows).toHaveLength(3)
      expect(yield* cueCount(dir)).toBe(12)
      expect(rows.map((r) => String(r.meeting_date)).sort()).toEqual(["2026-03-02", "2026-03-02", "2026-03-04"])
      const r1 = rows.find((r) => r.recording_id === "r1")!
      expect(r1).toMatchObject({
        meeting_id: "m1",
        transcript_id: "t1",
        match: "contentCorrelationId",
        recording_path: "r/r1.mp4"
      })
      expect(Number(r1.cues)).toBe(5)
      expect(Number(r1.recording_bytes)).toBe(10)
      expect(allFiles(dir).map((f) => f.replace(/(set|cues)-.*\.parquet$/, "$1-*.parquet"))).toEqual([
        "artifact_sets/meeting_date=2026-03-02/set-*.parquet",
        "artifact_sets/meeting_date=2026-03-02/set-*.parquet",
        "artifact_sets/meeting_date=2026-03-04/set-*.parquet",
        "transcript_cues/meeting_date=2026-03-02/cues-*.parquet",
        "transcript_cues/meeting_date=2026-03-04/cues-*.parquet"
      ])
      const cue = yield* query(
        `SELECT * FROM read_parquet('${dir}/transcript_cues/*/*.parquet') WHERE transcript_id = 't1' AND seq = 1`
      )
      expect(cue[0]).toMatchObject({ cue_id: "c1", speaker: "Ana", text: "line 1" })
    }))

  // Issue 10: a tenant of paired sets plus unmatched ones (recording-only,
  // transcript-only) sharing their meeting_date partition lost the unmatched
  // rows as soon as a paired set was written after them.
  for (const disposition of ["merge", "append"] as const) {
    it.scoped(`keeps unmatched sets that share a partition with paired sets, over two runs (${disposition})`, () =>
      Effect.gen(function*() {
        const dir = tempDir()
        const date = "2026-03-02"
        const tenant = [
          makeSet("m1", null, "t-alone", { date }),
          makeSet("m2", "r2", "t2", { date }),
          makeSet("m3", "r-alone", null, { date }),
          makeSet("m4", "r4", "t4", { date }),
          makeSet("m5", "r5", "t5", { date: "2026-03-03" })
        ]
        for (const runId of ["run-1", "run-2"]) {
          const sink = yield* makeRecordSink({ _tag: "parquet", dir, disposition })
          for (const set of tenant) yield* sink.writeSet(setWrite(set, 3, { runId }))
        }
        const loads = disposition === "merge" ? [""] : ["run-1", "run-2"]
        const rows = yield* sets(dir)
        const expected = loads.flatMap((load) =>
          tenant.map((s) => [load, s.recording?.id ?? null, s.transcript?.id ?? null].join("|"))
        ).sort()
        expect(rows.map((r) => [r.load_id, r.recording_id, r.transcript_id].join("|")).sort()).toEqual(expected)
        // 4 transcripts x 3 cues per load
        expect(yield* cueCount(dir)).toBe(loads.length * 12)
      }))
  }

  it.scoped("a folder of the earlier layout (one part-0.parquet per partition) is split on open and keeps every row", () =>
    Effect.gen(function*() {
      const fresh = tempDir()
      const dir = tempDir()
      const date = "2026-03-02"
      const sink = yield* ParquetSink.make({ dir: fresh })
      yield* sink.writeSet(setWrite(makeSet("m1", "r1", "t1", { date }), 2))
      yield* sink.writeSet(setWrite(makeSet("m2", null, "t2", { date }), 3))
      yield* sink.writeRun({
        runId: "a",
        windowFrom: "f",
        windowTo: "t",
        organizers: ["o"],
        startedAt: "s",
        endedAt: null,
        status: "running",
        counts: {}
      })
      // The earlier layout: every row of a partition in part-0.parquet, the runs in runs/part-0.parquet.
      fs.mkdirSync(path.join(dir, `artifact_sets/meeting_date=${date}`), { recursive: true })
      fs.mkdirSync(path.join(dir, "runs"))
      fs.cpSync(path.join(fresh, "transcript_cues"), path.join(dir, "transcript_cues"), { recursive: true })
      yield* query(
        `COPY (SELECT * FROM read_parquet('${fresh}/artifact_sets/meeting_date=${date}/*.parquet')) TO '${dir}/artifact_sets/meeting_date=${date}/part-0.parquet' (FORMAT parquet)`
      )
      yield* query(
        `COPY (SELECT * FROM read_parquet('${fresh}/runs/*.parquet')) TO '${dir}/runs/part-0.parquet' (FORMAT parquet)`
      )
      const reopened = yield* ParquetSink.make({ dir })
      expect(allFiles(dir).filter((f) => f.endsWith("part-0.parquet"))).toEqual([])
      expect((yield* sets(dir)).map((r) => [r.recording_id, r.transcript_id])).toEqual(
        (yield* sets(fresh)).map((r) => [r.recording_id, r.transcript_id])
      )
      expect((yield* query(`SELECT run_id FROM read_parquet('${dir}/runs/*.parquet')`)).map((r) => r.run_id)).toEqual([
        "a"
      ])
      // the split rows are indexed: pairing t2 with r1 replaces both old rows
      yield* reopened.writeSet(setWrite(makeSet("m1", "r1", "t2", { date }), 3))
      expect((yield* sets(dir)).map((r) => [r.recording_id, r.transcript_id, r.match]).sort()).toEqual(
        [["r1", "t2", "contentCorrelationId"], [null, "t1", "none"]].sort()
      )
      expect(yield* cueCount(dir)).toBe(5)
    }))

  it.scoped("source is 'adhocCall' on an ad hoc call's rows; set files written before the column still re-pair", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const sink = yield* ParquetSink.make({ dir })
      const call = (rec: string | null, tr: string | null) =>
        new ArtifactSet({ ...makeSet("call-1", rec, tr, { date: "2026-03-02" }), source: "adhocCall" })
      yield* sink.writeSet(setWrite(makeSet("m1", "r1", null, { date: "2026-03-02" })))
      yield* sink.writeSet(setWrite(call("r9", null)))
      yield* sink.writeSet(setWrite(call(null, "t9")))
      // The meeting's set file as an earlier version wrote it: without the source column.
      const setsDir = path.join(dir, "artifact_sets", "meeting_date=2026-03-02")
      const files = fs.readdirSync(setsDir).map((f) => path.join(setsDir, f))
      const old = (yield* Effect.forEach(files, (f) =>
        Effect.map(
          query(`SELECT recording_id FROM read_parquet('${f}')`),
          (rows) => ({ f, r: rows[0]!.recording_id })
        ))).find((x) => x.r === "r1")!.f
      yield* query(
        `COPY (SELECT * EXCLUDE (source) FROM read_parquet('${old}', hive_partitioning = false)) TO '${old}.tmp.parquet' (FORMAT PARQUET)`
      )
      fs.renameSync(`${old}.tmp.parquet`, old)
      expect(
        (yield* query(`DESCRIBE SELECT * FROM read_parquet('${old}', hive_partitioning = false)`)).map((c) =>
          c.column_name
        )
      ).toEqual(expect.not.arrayContaining(["source", "meeting_date"]))
      // Re-pairing reads the old file and a new one together (r1 of the meeting, t9 of the call).
      yield* sink.writeSet(setWrite(makeSet("m1", "r1", "t9", { date: "2026-03-02" })))
      yield* sink.writeSet(setWrite(call("r9", "t9")))
      const rows = yield* query(
        `SELECT recording_id, transcript_id, source FROM read_parquet('${setsDir}/*.parquet', union_by_name = true)
         ORDER BY recording_id`
      )
      expect(rows.map((r) => [r.recording_id, r.transcript_id, r.source])).toEqual([
        ["r1", null, null],
        ["r9", "t9", "adhocCall"]
      ])
    }))

  it.scoped("writing the same set twice leaves one row and its cues once", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const sink = yield* ParquetSink.make({ dir })
      const w = setWrite(makeSet("m1", "r1", "t1"), 4)
      yield* sink.writeSet(w)
      yield* sink.writeSet(w)
      expect(yield* sets(dir)).toHaveLength(1)
      expect(yield* cueCount(dir)).toBe(4)
      expect(allFiles(dir).some((f) => f.endsWith(".partial"))).toBe(false)
    }))

  it.scoped("re-pairing moves artifacts (also across date partitions) and keeps each in one row", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const sink = yield* ParquetSink.make({ dir })
      // transcript first, dated a day later than the recording it will be paired with
      const late = new ArtifactSet({
        ...makeSet("m1", null, "t1"),
        transcript: new CallTranscript({ id: "t1", createdDateTime: "2026-03-03T00:10:00Z" })
      })
      yield* sink.writeSet(setWrite(late, 2))
      yield* sink.writeSet(setWrite(makeSet("m1", "r1", null, { date: "2026-03-02" })))
      expect(yield* sets(dir)).toHaveLength(2)
      const paired = new ArtifactSet({
        ...makeSet("m1", "r1", null, { date: "2026-03-02" }),
        transcript: late.transcript,
        match: "time-overlap"
      })
      yield* sink.writeSet(setWrite(paired, 2))
      let rows = yield* sets(dir)
      expect(rows.map((r) => [r.recording_id, r.transcript_id, String(r.meeting_date)])).toEqual([[
        "r1",
        "t1",
        "2026-03-02"
      ]])
      expect(yield* cueCount(dir)).toBe(2)
      expect(allFiles(dir).filter((f) => f.includes("2026-03-03"))).toEqual([])
      // r1 re-paired with t2: t1 keeps a row of its own
      yield* sink.writeSet(setWrite(makeSet("m1", "r1", "t2", { date: "2026-03-02" }), 3))
      rows = yield* sets(dir)
      expect(rows.map((r) => [r.recording_id, r.transcript_id, r.match]).sort()).toEqual(
        [["r1", "t2", "contentCorrelationId"], [null, "t1", "none"]].sort()
      )
      expect(yield* cueCount(dir)).toBe(5)
    }))

  it.scoped("append adds a row per load; runs upsert by id", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const sink = yield* makeRecordSink({ _tag: "parquet", dir, disposition: "append" })
      const set = makeSet("m1", "r1", "t1")
      yield* sink.writeSet(setWrite(set, 2, { runId: "a" }))
      yield* sink.writeSet(setWrite(set, 2, { runId: "b" }))
      yield* sink.writeSet(setWrite(set, 2, { runId: "b" }))
      expect((yield* sets(dir)).map((r) => r.load_id).sort()).toEqual(["a", "b"])
      expect(yield* cueCount(dir)).toBe(4)
      const run = {
        runId: "a",
        windowFrom: "f",
        windowTo: "t",
        organizers: ["o"],
        startedAt: "s",
        endedAt: null,
        status: "running" as const,
        counts: {}
      }
      yield* sink.writeRun(run)
      yield* sink.writeRun({ ...run, runId: "b" })
      yield* sink.writeRun({ ...run, status: "succeeded", endedAt: "e", counts: { recordings: 1 } })
      const runs = yield* query(`SELECT * FROM read_parquet('${dir}/runs/*.parquet') ORDER BY run_id`)
      expect(runs.map((r) => [r.run_id, r.status])).toEqual([["a", "succeeded"], ["b", "running"]])
      expect(JSON.parse(runs[0]!.counts)).toEqual({ recordings: 1 })
    }))

  it.scoped("new cues beside an old row (a kill between the two files) are detectable and repaired by writing the set again", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const newer = tempDir()
      const set = makeSet("m1", "r1", "t1")
      const sink = yield* ParquetSink.make({ dir })
      yield* sink.writeSet(setWrite(set, 5))
      // The state a kill after step 1 of a 7-cue write leaves: its cue file, the old row.
      yield* (yield* ParquetSink.make({ dir: newer })).writeSet(setWrite(set, 7))
      const cueFile = (d: string) => allFiles(d).find((f) => f.startsWith("transcript_cues/"))!
      fs.copyFileSync(path.join(newer, cueFile(newer)), path.join(dir, cueFile(dir)))
      const mismatched = () =>
        query(
          `SELECT s.set_id FROM read_parquet('${dir}/artifact_sets/*/*.parquet', hive_partitioning = true) s
           LEFT JOIN (SELECT transcript_id, load_id, meeting_date, COUNT(*) AS n
                      FROM read_parquet('${dir}/transcript_cues/*/*.parquet', hive_partitioning = true) GROUP BY ALL) c
             USING (transcript_id, load_id, meeting_date)
           WHERE s.cues <> coalesce(c.n, 0)`
        )
      expect((yield* mismatched()).length).toBe(1)
      yield* sink.writeSet(setWrite(set, 7))
      expect(yield* mismatched()).toEqual([])
      expect((yield* sets(dir)).map((r) => Number(r.cues))).toEqual([7])
      expect(yield* cueCount(dir)).toBe(7)
      // a transcript that loses its cues: row says 0, no cue file left
      yield* sink.writeSet(setWrite(set, 0))
      expect((yield* sets(dir)).map((r) => Number(r.cues))).toEqual([0])
      expect(allFiles(dir).filter((f) => f.startsWith("transcript_cues/"))).toEqual([])
    }))

  it.live("a process killed mid-write leaves readable partitions with whole sets", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      yield* Effect.promise(() => runAndKill(["parquet", dir, "100000"], 400))
      const rows = yield* sets(dir)
      expect(rows.length).toBeGreaterThan(2)
      const n = rows.length
      expect(rows.map((r) => r.recording_id).sort()).toEqual(Array.from({ length: n }, (_, i) => `r${i}`).sort())
      // cues are written before the set row: every row has all its cues; at
      // most the next set's cues are there without their row yet
      const cues = yield* cueCount(dir)
      expect([n * 50, (n + 1) * 50]).toContain(cues)
      const mismatched = yield* query(
        `SELECT s.set_id FROM read_parquet('${dir}/artifact_sets/*/*.parquet', hive_partitioning = true) s
         LEFT JOIN (SELECT transcript_id, load_id, meeting_date, COUNT(*) AS n
                    FROM read_parquet('${dir}/transcript_cues/*/*.parquet', hive_partitioning = true) GROUP BY ALL) c
           USING (transcript_id, load_id, meeting_date)
         WHERE s.cues <> coalesce(c.n, 0)`
      )
      expect(mismatched).toEqual([])
      expect(allFiles(dir).filter((f) => !f.endsWith(".partial")).every((f) => f.endsWith(".parquet"))).toBe(true)
    }), 60_000)
})
