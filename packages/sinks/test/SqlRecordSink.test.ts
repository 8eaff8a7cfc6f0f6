import { describe, expect, inject, it } from "@effect/vitest"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import type * as SqlClient from "@effect/sql/SqlClient"
import { artifactSetId, makeRecordSink, type RecordSinkService, SqlRecordSink } from "../src/index.js"
import { ArtifactSet } from "@meeting-artifacts/correlate"
import { runAndKill } from "./support/child.js"
import { makeSet, setWrite, tempDir } from "./support/data.js"
import { count, freshPgDatabase, openSql } from "./support/db.js"

type Target = { readonly sqlite: string } | { readonly pg: string }

const suite = (name: string, target: Effect.Effect<Target>) =>
  describe(`SqlRecordSink (${name})`, () => {
    const open = (disposition: "merge" | "append" = "merge") =>
      Effect.gen(function*() {
        const t = yield* target
        const sink: RecordSinkService = "sqlite" in t
          ? yield* SqlRecordSink.makeSqlite(t.sqlite, { disposition })
          : yield* SqlRecordSink.makePostgres(t.pg, { disposition })
        const sql = yield* openSql(t)
        return { sink, sql }
      })

    it.scoped("writing the same set twice leaves one row per table and the cues once", () =>
      Effect.gen(function*() {
        const { sink, sql } = yield* open()
        const w = setWrite(makeSet("m1", "r1", "t1"), 5)
        yield* sink.writeSet(w)
        yield* sink.writeSet(w)
        expect(yield* count(sql, "recordings")).toBe(1)
        expect(yield* count(sql, "transcripts")).toBe(1)
        expect(yield* count(sql, "artifact_sets")).toBe(1)
        expect(yield* count(sql, "transcript_cues")).toBe(5)
        const rows = yield* sql<any>`SELECT * FROM artifact_sets`
        expect(rows[0]).toMatchObject({
          set_id: artifactSetId(w.set),
          meeting_id: "m1",
          recording_id: "r1",
          transcript_id: "t1",
          match: "contentCorrelationId",
          meeting_date: "2026-03-02",
          load_id: ""
        })
        const rec = (yield* sql<any>`SELECT * FROM recordings`)[0]
        expect(rec).toMatchObject({ id: "r1", path: "r/r1.mp4", sha256: "0".repeat(64), content_type: "video/mp4" })
        expect(Number(rec.bytes)).toBe(10)
        const meta = typeof rec.metadata === "string" ? JSON.parse(rec.metadata) : rec.metadata
        expect(meta.createdDateTime).toBe("2026-03-02T10:00:00.1234567Z")
        const cue = (yield* sql<any>`SELECT * FROM transcript_cues WHERE seq = 1`)[0]
        expect(cue).toMatchObject({ transcript_id: "t1", cue_id: "c1", speaker: "Ana", text: "line 1" })
        expect(Number(cue.start_ms)).toBe(1000)
        // fewer cues on a rewrite replace the old ones
        yield* sink.writeSet(setWrite(makeSet("m1", "r1", "t1"), 2))
        expect(yield* count(sql, "transcript_cues")).toBe(2)
      }))

    it.scoped("re-pairing keeps each recording and transcript in exactly one set", () =>
      Effect.gen(function*() {
        const { sink, sql } = yield* open()
        yield* sink.writeSet(setWrite(makeSet("m1", "r1", null)))
        yield* sink.writeSet(setWrite(makeSet("m1", null, "t1")))
        yield* sink.writeSet(setWrite(makeSet("m2", "r2", "t2")))
        expect(yield* count(sql, "artifact_sets")).toBe(3)
        yield* sink.writeSet(setWrite(makeSet("m1", "r1", "t1")))
        expect(yield* count(sql, "artifact_sets")).toBe(2)
        expect(yield* count(sql, "artifact_sets", "recording_id = 'r1' AND transcript_id = 't1'")).toBe(1)
        // r2 now pairs with t3: t2 keeps a set of its own
        yield* sink.writeSet(setWrite(makeSet("m2", "r2", "t3")))
        expect(yield* count(sql, "artifact_sets", "transcript_id = 't2' AND recording_id IS NULL AND match = 'none'"))
          .toBe(1)
        for (const id of ["r1", "r2"]) expect(yield* count(sql, "artifact_sets", `recording_id = '${id}'`)).toBe(1)
        for (const id of ["t1", "t2", "t3"]) {
          expect(yield* count(sql, "artifact_sets", `transcript_id = '${id}'`)).toBe(1)
        }
      }))

    it.scoped("an ad hoc call's sets say so in source, also when re-pairing leaves a residual; meetings' are NULL", () =>
      Effect.gen(function*() {
        const { sink, sql } = yield* open()
        const call = (rec: string | null, tr: string | null) =>
          new ArtifactSet({ ...makeSet("call-9", rec, tr), source: "adhocCall" })
        yield* sink.writeSet(setWrite(makeSet("m1", "r1", "t1")))
        yield* sink.writeSet(setWrite(call("r9", "t9")))
        // t9 re-pairs with another recording: r9 keeps a set of its own, still the call's
        yield* sink.writeSet(setWrite(call("r10", "t9")))
        const rows = yield* sql<
          any
        >`SELECT recording_id, transcript_id, source FROM artifact_sets ORDER BY recording_id`
        expect(rows.map((r: any) => [r.recording_id, r.transcript_id, r.source])).toEqual([
          ["r1", "t1", null],
          ["r10", "t9", "adhocCall"],
          ["r9", null, "adhocCall"]
        ])
      }))

    it.scoped("append adds rows per load and runs upsert by id", () =>
      Effect.gen(function*() {
        const { sink, sql } = yield* open("append")
        const set = makeSet("m1", "r1", "t1")
        yield* sink.writeSet(setWrite(set, 3, { runId: "run-a" }))
        yield* sink.writeSet(setWrite(set, 3, { runId: "run-b" }))
        yield* sink.writeSet(setWrite(set, 3, { runId: "run-b" })) // same load again: still one
        expect(yield* count(sql, "artifact_sets")).toBe(2)
        expect(yield* count(sql, "recordings")).toBe(2)
        expect(yield* count(sql, "transcript_cues")).toBe(6)
        const run = {
          runId: "run-a",
          windowFrom: "a",
          windowTo: "b",
          organizers: ["o"],
          startedAt: "s",
          endedAt: null,
          status: "running" as const,
          counts: {}
        }
        yield* sink.writeRun(run)
        yield* sink.writeRun({
          ...run,
          endedAt: "e",
          status: "succeeded",
          counts: { recordings: 4, transcripts: 2, failed: 1 }
        })
        const runs = yield* sql<any>`SELECT * FROM runs`
        expect(runs).toHaveLength(1)
        expect(runs[0]).toMatchObject({ run_id: "run-a", ended_at: "e", status: "succeeded" })
        expect([Number(runs[0].recordings), Number(runs[0].transcripts), Number(runs[0].failed)]).toEqual([4, 2, 1])
      }))
  })

suite("sqlite", Effect.sync(() => ({ sqlite: path.join(tempDir(), "records.sqlite") })))
suite("postgres", Effect.map(Effect.suspend(() => freshPgDatabase(inject("pgUrl"))), (pg) => ({ pg })))

describe("SqlRecordSink via specs", () => {
  it.scoped("makeRecordSink opens sqlite: and postgres: specs", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "x", "spec.sqlite")
      const s1 = yield* makeRecordSink({ _tag: "sqlite", path: file, disposition: "merge" })
      yield* s1.writeSet(setWrite(makeSet("m", "r", null)))
      const sql = yield* openSql({ sqlite: file })
      expect(yield* count(sql, "recordings")).toBe(1)
      expect(s1.name).toBe(`sqlite:${file}`)
    }))

  for (const kind of ["sqlite", "postgres"] as const) {
    it.live(`a process killed mid-write leaves whole transactions (${kind})`, () =>
      Effect.gen(function*() {
        const target: Target = kind === "sqlite"
          ? { sqlite: path.join(tempDir(), "kill.sqlite") }
          : { pg: yield* freshPgDatabase(inject("pgUrl")) }
        yield* Effect.promise(() =>
          runAndKill("sqlite" in target ? ["sql", target.sqlite, "100000"] : ["pg", target.pg, "100000"], 300)
        )
        const check = (sql: SqlClient.SqlClient) =>
          Effect.gen(function*() {
            const sets = yield* count(sql, "artifact_sets")
            expect(sets).toBeGreaterThan(2)
            expect(yield* count(sql, "recordings")).toBe(sets)
            expect(yield* count(sql, "transcripts")).toBe(sets)
            expect(yield* count(sql, "transcript_cues")).toBe(sets * 400)
          })
        yield* Effect.scoped(Effect.flatMap(openSql(target), check))
      }), 60_000)
  }
})
