/**
 * Parquet sink through DuckDB (`@duckdb/node-api`): Hive-partitioned by
 * meeting date, readable by DuckDB, Spark, Fabric:
 *
 * ```
 * <dir>/artifact_sets/meeting_date=YYYY-MM-DD/part-0.parquet
 * <dir>/transcript_cues/meeting_date=YYYY-MM-DD/cues-<transcript>.parquet   (one file per transcript)
 * <dir>/runs/part-0.parquet
 * ```
 *
 * Each write rewrites the `artifact_sets` partitions it touches and the
 * transcript's own cue file: every new file is written beside the old one,
 * fsynced and renamed over it, so a reader or a kill sees the old file or the
 * new one. Order: the cue file first, then the set row, then stale cue files
 * are removed; so a set row always finds its cues (`cues` = the number of its
 * transcript's rows in `transcript_cues` with the same `load_id` and
 * `meeting_date`). A kill between the two leaves new cues beside the old row
 * (or no row): the count check shows it, and writing the set again (a re-run
 * does, as the set was not checkpointed) repairs it. `merge` replaces the rows of the set's
 * artifacts (re-pairing keeps a displaced artifact alone, match "none");
 * `append` adds rows tagged with a `load_id`.
 *
 * `artifact_sets` columns: set_id, load_id, meeting_id, organizer_id,
 * content_correlation_id, match, recording_id, recording_created_date_time,
 * recording_end_date_time, recording_path, recording_bytes, recording_sha256,
 * recording_content_type, transcript_id, transcript_created_date_time,
 * transcript_end_date_time, transcript_path, transcript_bytes,
 * transcript_sha256, cues, run_id (+ partition column meeting_date).
 * `transcript_cues`: transcript_id, load_id, meeting_id, seq, cue_id,
 * start_ms, end_ms, speaker, text (+ meeting_date).
 * `runs`: run_id, window_from, window_to, organizers, started_at, ended_at,
 * status, counts (JSON text).
 */
import { DuckDBConnection, DuckDBInstance, type DuckDBValue } from "@duckdb/node-api"
import { randomBytes, randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { RunRecord } from "./CheckpointStore.js"
import { fsyncDir } from "./internal/atomic.js"
import { segment } from "./Layout.js"
import { type ArtifactSetWrite, artifactSetId, meetingDate, type RecordSinkService, setIdOf, type WriteDisposition } from "./RecordSink.js"
import type { SinkError } from "./SinkError.js"
import { sinkError } from "./internal/errors.js"

const SINK = "parquet"

export interface ParquetOptions {
  readonly dir: string
  readonly disposition?: WriteDisposition | undefined
}

const SET_COLUMNS = [
  ["set_id", "VARCHAR"],
  ["load_id", "VARCHAR"],
  ["meeting_id", "VARCHAR"],
  ["organizer_id", "VARCHAR"],
  ["content_correlation_id", "VARCHAR"],
  ["match", "VARCHAR"],
  ["recording_id", "VARCHAR"],
  ["recording_created_date_time", "VARCHAR"],
  ["recording_end_date_time", "VARCHAR"],
  ["recording_path", "VARCHAR"],
  ["recording_bytes", "BIGINT"],
  ["recording_sha256", "VARCHAR"],
  ["recording_content_type", "VARCHAR"],
  ["transcript_id", "VARCHAR"],
  ["transcript_created_date_time", "VARCHAR"],
  ["transcript_end_date_time", "VARCHAR"],
  ["transcript_path", "VARCHAR"],
  ["transcript_bytes", "BIGINT"],
  ["transcript_sha256", "VARCHAR"],
  ["cues", "BIGINT"],
  ["run_id", "VARCHAR"]
] as const

const CUE_COLUMNS = [
  ["transcript_id", "VARCHAR"],
  ["load_id", "VARCHAR"],
  ["meeting_id", "VARCHAR"],
  ["seq", "BIGINT"],
  ["cue_id", "VARCHAR"],
  ["start_ms", "BIGINT"],
  ["end_ms", "BIGINT"],
  ["speaker", "VARCHAR"],
  ["text", "VARCHAR"]
] as const

const RUN_COLUMNS = [
  ["run_id", "VARCHAR"],
  ["window_from", "VARCHAR"],
  ["window_to", "VARCHAR"],
  ["organizers", "VARCHAR"],
  ["started_at", "VARCHAR"],
  ["ended_at", "VARCHAR"],
  ["status", "VARCHAR"],
  ["counts", "VARCHAR"]
] as const

type Columns = ReadonlyArray<readonly [string, string]>

const ddl = (cols: Columns) => cols.map(([n, t]) => `${n} ${t}`).join(", ")
const names = (cols: Columns) => cols.map(([n]) => n).join(", ")
const lit = (s: string) => `'${s.replace(/'/g, "''")}'`
const PART = "part-0.parquet"

const sanitizeDate = (d: string) => (/^\d{4}-\d{2}-\d{2}$/.test(d) ? d : "unknown")

export const make = (options: ParquetOptions): Effect.Effect<RecordSinkService, SinkError, Scope.Scope> =>
  Effect.gen(function*() {
    const root = nodePath.resolve(options.dir)
    const disposition = options.disposition ?? "merge"
    const conn = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          await fsp.mkdir(root, { recursive: true })
          const instance = await DuckDBInstance.create(":memory:", { threads: "1" })
          const c = await DuckDBConnection.create(instance)
          return { instance, c }
        },
        catch: sinkError(SINK, "open")
      }),
      ({ c, instance }) =>
        Effect.sync(() => {
          c.closeSync()
          instance.closeSync()
        })
    ).pipe(Effect.map((x) => x.c))
    const lock = yield* Effect.makeSemaphore(1)

    const run = (sql: string, values?: Array<DuckDBValue>) => conn.run(sql, values)
    const rows = async (sql: string, values?: Array<DuckDBValue>) =>
      (await conn.runAndReadAll(sql, values)).getRowObjectsJS() as Array<Record<string, any>>

    const insert = async (table: string, cols: Columns, data: Array<Array<DuckDBValue>>) => {
      const width = cols.length
      for (let i = 0; i < data.length; i += 300) {
        const batch = data.slice(i, i + 300)
        const placeholders = batch.map(() => `(${Array.from({ length: width }, () => "?").join(", ")})`).join(", ")
        await run(`INSERT INTO ${table} (${names(cols)}) VALUES ${placeholders}`, batch.flat())
      }
    }

    const partDir = (table: string, date: string) => nodePath.join(root, table, `meeting_date=${sanitizeDate(date)}`)

    /** Partition dates of `table` that exist on disk. */
    const datesOf = async (table: string): Promise<Array<string>> => {
      const dir = nodePath.join(root, table)
      const entries = await fsp.readdir(dir).catch(() => [] as Array<string>)
      return entries.filter((e) => e.startsWith("meeting_date=") && fs.existsSync(nodePath.join(dir, e, PART)))
        .map((e) => e.slice("meeting_date=".length))
    }

    /** Dates of `table` partitions holding rows matching `where` (merge rows only). */
    const datesWhere = async (table: string, where: string, values: Array<DuckDBValue>) => {
      const dates = await datesOf(table)
      if (dates.length === 0) return []
      const files = dates.map((d) => lit(nodePath.join(partDir(table, d), PART))).join(", ")
      const r = await rows(
        `SELECT DISTINCT meeting_date FROM read_parquet([${files}], hive_partitioning = true, hive_types = {'meeting_date': VARCHAR})
         WHERE ${where}`,
        values
      )
      return r.map((x) => String(x["meeting_date"]))
    }

    /**
     * Rewrite partition `date` of `table` as: its rows not matching `drop`,
     * plus the rows of temp table `add` for that date; atomically.
     */
    const rewrite = async (table: string, cols: Columns, date: string, drop: string, dropValues: Array<DuckDBValue>, add: string) => {
      const dir = partDir(table, date)
      const file = nodePath.join(dir, PART)
      const exists = fs.existsSync(file)
      const old = exists
        ? `SELECT ${names(cols)} FROM read_parquet(${lit(file)}, hive_partitioning = false) WHERE NOT (${drop})`
        : `SELECT ${names(cols)} FROM ${add} WHERE 1 = 0`
      const query = `${old} UNION ALL SELECT ${names(cols)} FROM ${add} WHERE meeting_date = ${lit(date)}`
      const values = exists ? dropValues : []
      const count = Number((await rows(`SELECT COUNT(*) AS n FROM (${query})`, values))[0]!["n"])
      if (count === 0) {
        await fsp.rm(file, { force: true })
        return
      }
      await fsp.mkdir(dir, { recursive: true })
      const temp = nodePath.join(dir, `.${PART}.${randomBytes(6).toString("hex")}.partial`)
      try {
        // Materialise first: COPY does not take bound parameters.
        await run(`CREATE OR REPLACE TEMP TABLE rewrite_rows AS ${query}`, values)
        await run(`COPY (SELECT * FROM rewrite_rows ORDER BY ALL) TO ${lit(temp)} (FORMAT parquet)`)
        const h = await fsp.open(temp, "r+")
        await h.sync().finally(() => h.close())
        await fsp.rename(temp, file)
        await fsyncDir(dir)
      } finally {
        await fsp.rm(temp, { force: true }).catch(() => undefined)
        await run(`DROP TABLE IF EXISTS rewrite_rows`)
      }
    }

    /**
     * The cues of one transcript (one load) are one file of their own in the
     * date partition, replaced atomically, so writing a transcript never
     * rewrites other transcripts' cues. Written BEFORE the set row (see
     * `writeSetNow`): a set row on disk always has its cue file.
     */
    const cueFileName = (tid: string, loadId: string) =>
      `cues-${segment(tid)}${loadId === "" ? "" : "." + segment(loadId)}.parquet`

    /** Step 1: write the new cue file (an empty cue list is removed only after the set row, in `finishCues`). */
    const writeCues = async (tid: string, loadId: string, date: string) => {
      const dir = partDir("transcript_cues", date)
      const file = nodePath.join(dir, cueFileName(tid, loadId))
      const n = Number((await rows(`SELECT COUNT(*) AS n FROM new_cues`))[0]!["n"])
      if (n === 0) return
      await fsp.mkdir(dir, { recursive: true })
      await copyAtomic(`SELECT ${names(CUE_COLUMNS)} FROM new_cues ORDER BY seq`, dir, file)
    }

    /**
     * Step 3, after the set row: drop the cue file when the transcript now has
     * no cues, and copies under other dates (the set moved on a re-pair).
     */
    const finishCues = async (tid: string, loadId: string, date: string, cueCount: number) => {
      const name = cueFileName(tid, loadId)
      if (cueCount === 0) await fsp.rm(nodePath.join(partDir("transcript_cues", date), name), { force: true })
      const tableDir = nodePath.join(root, "transcript_cues")
      for (const d of await fsp.readdir(tableDir).catch(() => [] as Array<string>)) {
        if (d === `meeting_date=${date}`) continue
        await fsp.rm(nodePath.join(tableDir, d, name), { force: true })
      }
    }

    /** COPY a query to `file` through a temp file beside it: fsync, rename, fsync dir. */
    const copyAtomic = async (query: string, dir: string, file: string) => {
      const temp = nodePath.join(dir, `.${nodePath.basename(file)}.${randomBytes(6).toString("hex")}.partial`)
      try {
        await run(`COPY (${query}) TO ${lit(temp)} (FORMAT parquet)`)
        const h = await fsp.open(temp, "r+")
        await h.sync().finally(() => h.close())
        await fsp.rename(temp, file)
        await fsyncDir(dir)
      } finally {
        await fsp.rm(temp, { force: true }).catch(() => undefined)
      }
    }

    const writeSetNow = async (w: ArtifactSetWrite) => {
      const { set } = w
      const loadId = disposition === "merge" ? "" : (w.runId ?? randomUUID())
      const date = sanitizeDate(meetingDate(set))
      const rid = set.recording?.id ?? null
      const tid = set.transcript?.id ?? null
      const setId = artifactSetId(set)
      await run(`CREATE OR REPLACE TEMP TABLE new_sets (${ddl(SET_COLUMNS)}, meeting_date VARCHAR)`)
      await run(`CREATE OR REPLACE TEMP TABLE new_cues (${ddl(CUE_COLUMNS)}, meeting_date VARCHAR)`)
      const setRow = (s: {
        setId: string
        match: string
        cc: string | null
        rec: boolean
        tr: boolean
        recordingId?: string | null
        transcriptId?: string | null
      }, d: string): Array<DuckDBValue> => [
        s.setId, loadId, set.meetingId, set.organizerId, s.cc, s.match,
        s.rec ? rid : (s.recordingId ?? null),
        s.rec ? (set.recording?.createdDateTime ?? null) : null,
        s.rec ? (set.recording?.endDateTime ?? null) : null,
        s.rec ? (w.recording?.path ?? null) : null,
        s.rec && w.recording ? w.recording.bytes : null,
        s.rec ? (w.recording?.sha256 ?? null) : null,
        s.rec ? (w.recording?.contentType ?? null) : null,
        s.tr ? tid : (s.transcriptId ?? null),
        s.tr ? (set.transcript?.createdDateTime ?? null) : null,
        s.tr ? (set.transcript?.endDateTime ?? null) : null,
        s.tr ? (w.transcript?.path ?? null) : null,
        s.tr && w.transcript ? w.transcript.bytes : null,
        s.tr ? (w.transcript?.sha256 ?? null) : null,
        s.tr && set.transcript ? w.cues.length : null,
        w.runId ?? null,
        d
      ]
      await insert("new_sets", [...SET_COLUMNS, ["meeting_date", "VARCHAR"]], [
        setRow({ setId, match: set.match, cc: set.contentCorrelationId, rec: rid !== null, tr: tid !== null }, date)
      ])
      if (tid !== null) {
        await insert(
          "new_cues",
          [...CUE_COLUMNS, ["meeting_date", "VARCHAR"]],
          w.cues.map((c, i) => [
            tid, loadId, set.meetingId, i, c.id, Math.round(c.startMs), Math.round(c.endMs), c.speaker, c.text, date
          ])
        )
      }

      if (disposition === "append") {
        const dropSet = `set_id = ? AND load_id = ?`
        if (tid !== null) await writeCues(tid, loadId, date)
        await rewrite("artifact_sets", SET_COLUMNS, date, dropSet, [setId, loadId], "new_sets")
        if (tid !== null) await finishCues(tid, loadId, date, w.cues.length)
        return
      }

      // merge: every partition holding one of our artifacts (or this set id) is rewritten.
      const hit = `load_id = '' AND (set_id = ?${rid !== null ? " OR recording_id = ?" : ""}${
        tid !== null ? " OR transcript_id = ?" : ""
      })`
      const hitValues: Array<DuckDBValue> = [setId, ...(rid !== null ? [rid] : []), ...(tid !== null ? [tid] : [])]
      const dates = new Set([date, ...(await datesWhere("artifact_sets", hit, hitValues))])
      // Cues first, set row second: a kill in between leaves the old row (or
      // none) beside new cues, never a row whose cues are missing.
      if (tid !== null) await writeCues(tid, "", date)
      for (const d of dates) {
        const file = nodePath.join(partDir("artifact_sets", d), PART)
        if (fs.existsSync(file)) {
          const olds = await rows(
            `SELECT * FROM read_parquet(${lit(file)}, hive_partitioning = false) WHERE ${hit}`,
            hitValues
          )
          const residuals: Array<Array<DuckDBValue>> = []
          for (const o of olds) {
            const keep: Array<[string | null, string | null]> = []
            if (o["recording_id"] !== null && o["recording_id"] !== rid) keep.push([o["recording_id"], null])
            if (o["transcript_id"] !== null && o["transcript_id"] !== tid) keep.push([null, o["transcript_id"]])
            for (const [r, t] of keep) {
              const row = SET_COLUMNS.map(([n]) => {
                if (r === null && n.startsWith("recording_")) return null
                if (t === null && (n.startsWith("transcript_") || n === "cues")) return null
                return o[n] === undefined ? null : (typeof o[n] === "bigint" ? Number(o[n]) : o[n])
              }) as Array<DuckDBValue>
              row[0] = setIdOf(r, t, String(o["meeting_id"]))
              row[5] = "none"
              residuals.push([...row, d])
            }
          }
          if (residuals.length > 0) await insert("new_sets", [...SET_COLUMNS, ["meeting_date", "VARCHAR"]], residuals)
        }
        await rewrite("artifact_sets", SET_COLUMNS, d, hit, hitValues, "new_sets")
      }
      if (tid !== null) await finishCues(tid, "", date, w.cues.length)
    }

    const writeRunNow = async (r: RunRecord) => {
      await run(`CREATE OR REPLACE TEMP TABLE new_runs (${ddl(RUN_COLUMNS)})`)
      await insert("new_runs", RUN_COLUMNS, [[
        r.runId, r.windowFrom, r.windowTo, JSON.stringify(r.organizers), r.startedAt, r.endedAt, r.status,
        JSON.stringify(r.counts)
      ]])
      const dir = nodePath.join(root, "runs")
      const file = nodePath.join(dir, PART)
      await fsp.mkdir(dir, { recursive: true })
      const old = fs.existsSync(file)
        ? `SELECT ${names(RUN_COLUMNS)} FROM read_parquet(${lit(file)}) WHERE run_id <> ? UNION ALL `
        : ""
      const temp = nodePath.join(dir, `.${PART}.${randomBytes(6).toString("hex")}.partial`)
      try {
        await run(`CREATE OR REPLACE TEMP TABLE rewrite_rows AS ${old}SELECT * FROM new_runs`, old ? [r.runId] : [])
        await run(`COPY (SELECT * FROM rewrite_rows ORDER BY run_id) TO ${lit(temp)} (FORMAT parquet)`)
        const h = await fsp.open(temp, "r+")
        await h.sync().finally(() => h.close())
        await fsp.rename(temp, file)
        await fsyncDir(dir)
      } finally {
        await fsp.rm(temp, { force: true }).catch(() => undefined)
      }
    }

    return {
      name: `parquet:${options.dir}`,
      disposition,
      writeSet: (w) =>
        lock.withPermits(1)(Effect.tryPromise({ try: () => writeSetNow(w), catch: sinkError(SINK, "writeSet") })),
      writeRun: (r) =>
        lock.withPermits(1)(Effect.tryPromise({ try: () => writeRunNow(r), catch: sinkError(SINK, "writeRun") }))
    } satisfies RecordSinkService
  })
