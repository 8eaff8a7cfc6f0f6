/**
 * Parquet sink through DuckDB: Hive-partitioned by meeting date, one small
 * file per set (and per transcript's cues, and per run), readable by DuckDB,
 * Spark, Fabric with a glob:
 *
 * ```
 * <dir>/artifact_sets/meeting_date=YYYY-MM-DD/set-<setId>.parquet            merge (append: set-<setId>.<load>.parquet)
 * <dir>/transcript_cues/meeting_date=YYYY-MM-DD/cues-<transcript>.parquet    merge (append: cues-<transcript>.<load>.parquet)
 * <dir>/runs/run-<runId>.parquet
 * ```
 *
 * A write creates or replaces whole files of its own set and never rewrites
 * a file holding another set's row (the partition rewrite this replaces lost
 * every unmatched set sharing a partition with a paired one: a `NOT (... =
 * NULL)` filter is NULL, so their rows were dropped). Each file is written
 * beside its final name, fsynced and renamed, so a reader or a kill sees the
 * old file or the new one. The order of a write keeps every artifact in at
 * least one row at every instant and every row's cues on disk; see the
 * package README ("Parquet") for the argument. A kill can leave an artifact
 * in two rows or cues without their row; writing the set again (a re-run
 * does) removes them.
 *
 * `artifact_sets` columns: set_id, load_id, meeting_id, organizer_id,
 * content_correlation_id, match, recording_id, recording_created_date_time,
 * recording_end_date_time, recording_path, recording_bytes, recording_sha256,
 * recording_content_type, transcript_id, transcript_created_date_time,
 * transcript_end_date_time, transcript_path, transcript_bytes,
 * transcript_sha256, cues, run_id, source ('adhocCall' when meeting_id is an ad hoc call's id, else
 * NULL; files written before it existed lack the column: read with `union_by_name = true`)
 * (+ partition column meeting_date).
 * `transcript_cues`: transcript_id, load_id, meeting_id, seq, cue_id,
 * start_ms, end_ms, speaker, text (+ meeting_date).
 * `runs`: run_id, window_from, window_to, organizers, started_at, ended_at,
 * status, counts (JSON text).
 */
import { randomUUID } from "node:crypto"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { RunRecord } from "./CheckpointStore.js"
import { removeTempFiles } from "./internal/atomic.js"
import { loadDriver } from "./internal/drivers.js"
import {
  type Columns,
  type Duck,
  type DuckDriver,
  openDuck,
  readParquetFiles,
  type Value,
  writeParquet
} from "./internal/duckdb.js"
import { sinkError } from "./internal/errors.js"
import { type IndexedSet, Locations, SetIndex } from "./internal/parquetIndex.js"
import { segment } from "./Layout.js"
import {
  type ArtifactSetWrite,
  artifactSetId,
  meetingDate,
  type RecordSinkService,
  setIdOf,
  type WriteDisposition
} from "./RecordSink.js"
import type { SinkError } from "./SinkError.js"

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
  ["run_id", "VARCHAR"],
  ["source", "VARCHAR"]
] as const satisfies Columns

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
] as const satisfies Columns

const RUN_COLUMNS = [
  ["run_id", "VARCHAR"],
  ["window_from", "VARCHAR"],
  ["window_to", "VARCHAR"],
  ["organizers", "VARCHAR"],
  ["started_at", "VARCHAR"],
  ["ended_at", "VARCHAR"],
  ["status", "VARCHAR"],
  ["counts", "VARCHAR"]
] as const satisfies Columns

const SETS = "artifact_sets"
const CUES = "transcript_cues"
const RUNS = "runs"
/** The single file per partition (and of `runs`) of the earlier layout, split into per-set files on open. */
const LEGACY_PART = "part-0.parquet"
const PARTITION = "meeting_date="
const MERGE_SET_FILE = /^set-[0-9a-f]{32}\.parquet$/

const sanitizeDate = (d: string) => (/^\d{4}-\d{2}-\d{2}$/.test(d) ? d : "unknown")
const loadSuffix = (loadId: string) => (loadId === "" ? "" : "." + segment(loadId))
const setFileName = (setId: string, loadId: string) => `set-${setId}${loadSuffix(loadId)}.parquet`
const cueFileName = (transcriptId: string, loadId: string) =>
  `cues-${segment(transcriptId)}${loadSuffix(loadId)}.parquet`
const runFileName = (runId: string) => `run-${segment(runId)}.parquet`

/** The open sink's state: one DuckDB, the index of the folder, one write at a time. */
interface Ctx {
  readonly root: string
  readonly disposition: WriteDisposition
  readonly duck: Duck
  readonly sets: SetIndex
  readonly setFiles: Locations
  readonly cueFiles: Locations
}

const partDir = (root: string, table: string, date: string) => nodePath.join(root, table, `${PARTITION}${date}`)
const dateOfFile = (file: string) => nodePath.basename(nodePath.dirname(file)).slice(PARTITION.length)

/** The `*.parquet` files of a table's date partitions. */
const listPartitions = async (root: string, table: string): Promise<Array<{ date: string; name: string }>> => {
  const found: Array<{ date: string; name: string }> = []
  const dirs = await fsp.readdir(nodePath.join(root, table)).catch(() => [] as Array<string>)
  for (const d of dirs.filter((d) => d.startsWith(PARTITION)).sort()) {
    const names = await fsp.readdir(nodePath.join(root, table, d)).catch(() => [] as Array<string>)
    for (const name of names) {
      if (name.endsWith(".parquet") && !name.startsWith(".")) found.push({ date: d.slice(PARTITION.length), name })
    }
  }
  return found
}

/** Rows read back from Parquet hold BIGINTs as bigint; write them back as they came. */
const rowValues = (row: Record<string, unknown>, cols: Columns): Array<Value> =>
  cols.map(([n]) => (row[n] ?? null) as Value)

/**
 * Split files of the earlier layout (one `part-0.parquet` per partition, and
 * one for `runs`) into one file per row, then remove them. A kill in between
 * leaves rows twice (the old file and the new ones); the next open finishes.
 */
const migrateLegacy = async (duck: Duck, root: string) => {
  for (const { date, name } of await listPartitions(root, SETS)) {
    if (name !== LEGACY_PART) continue
    const legacy = nodePath.join(partDir(root, SETS, date), name)
    for (const row of await readParquetFiles(duck, [legacy], "*")) {
      const file = nodePath.join(partDir(root, SETS, date), setFileName(String(row["set_id"]), String(row["load_id"])))
      await writeParquet(duck, file, SET_COLUMNS, [rowValues(row, SET_COLUMNS)], "set_id")
    }
    await fsp.rm(legacy)
  }
  const legacyRuns = nodePath.join(root, RUNS, LEGACY_PART)
  const hasLegacyRuns = await fsp.access(legacyRuns).then(() => true, () => false)
  for (const row of hasLegacyRuns ? await readParquetFiles(duck, [legacyRuns], "*") : []) {
    await writeParquet(duck, nodePath.join(root, RUNS, runFileName(String(row["run_id"]))), RUN_COLUMNS, [
      rowValues(row, RUN_COLUMNS)
    ], "run_id")
  }
  await fsp.rm(legacyRuns, { force: true })
}

/** Index the folder: every merge set file's ids (read in batches), every file name's dates. */
const loadIndex = async (ctx: Ctx) => {
  const merge: Array<string> = []
  for (const { date, name } of await listPartitions(ctx.root, SETS)) {
    ctx.setFiles.put(name, date)
    if (MERGE_SET_FILE.test(name)) merge.push(nodePath.join(partDir(ctx.root, SETS, date), name))
  }
  for (const { date, name } of await listPartitions(ctx.root, CUES)) ctx.cueFiles.put(name, date)
  for (let i = 0; i < merge.length; i += 500) {
    const rows = await readParquetFiles(ctx.duck, merge.slice(i, i + 500), "set_id, recording_id, transcript_id")
    for (const r of rows) {
      ctx.sets.put({
        file: String(r["filename"]),
        setId: String(r["set_id"]),
        recordingId: (r["recording_id"] ?? null) as string | null,
        transcriptId: (r["transcript_id"] ?? null) as string | null
      })
    }
  }
}

/** The `artifact_sets` row of a write. */
const setRow = (w: ArtifactSetWrite, loadId: string): Array<Value> => {
  const { set } = w
  const r = set.recording
  const t = set.transcript
  return [
    artifactSetId(set),
    loadId,
    set.meetingId,
    set.organizerId,
    set.contentCorrelationId,
    set.match,
    r?.id ?? null,
    r?.createdDateTime ?? null,
    r?.endDateTime ?? null,
    r ? (w.recording?.path ?? null) : null,
    r ? (w.recording?.bytes ?? null) : null,
    r ? (w.recording?.sha256 ?? null) : null,
    r ? (w.recording?.contentType ?? null) : null,
    t?.id ?? null,
    t?.createdDateTime ?? null,
    t?.endDateTime ?? null,
    t ? (w.transcript?.path ?? null) : null,
    t ? (w.transcript?.bytes ?? null) : null,
    t ? (w.transcript?.sha256 ?? null) : null,
    t ? w.cues.length : null,
    w.runId ?? null,
    set.source ?? null
  ]
}

/** The row an artifact displaced from `old` keeps on its own (match "none", `old`'s date and facts). */
const residualRow = (old: Record<string, unknown>, keep: "recording" | "transcript"): Array<Value> =>
  SET_COLUMNS.map(([n]) => {
    if (n === "set_id") {
      const id = (k: "recording" | "transcript") => (keep === k ? String(old[`${k}_id`]) : null)
      return setIdOf(id("recording"), id("transcript"), String(old["meeting_id"]))
    }
    if (n === "match") return "none"
    if (keep === "recording" && (n.startsWith("transcript_") || n === "cues")) return null
    if (keep === "transcript" && n.startsWith("recording_")) return null
    return (old[n] ?? null) as Value
  })

const column = (name: (typeof SET_COLUMNS)[number][0]) => SET_COLUMNS.findIndex(([n]) => n === name)
const SET_ID = column("set_id")
const LOAD_ID = column("load_id")
const RECORDING_ID = column("recording_id")
const TRANSCRIPT_ID = column("transcript_id")

/** Write (or replace) one set file and record it in the index. */
const putSetFile = async (ctx: Ctx, file: string, row: Array<Value>) => {
  await writeParquet(ctx.duck, file, SET_COLUMNS, [row], "set_id")
  ctx.setFiles.put(nodePath.basename(file), dateOfFile(file))
  if (row[LOAD_ID] === "") {
    ctx.sets.put({
      file,
      setId: String(row[SET_ID]),
      recordingId: row[RECORDING_ID] as string | null,
      transcriptId: row[TRANSCRIPT_ID] as string | null
    })
  }
}

const removeSetFile = async (ctx: Ctx, file: string) => {
  await fsp.rm(file, { force: true })
  ctx.setFiles.remove(nodePath.basename(file), dateOfFile(file))
  ctx.sets.remove(file)
}

/** Before the set row: the transcript's cue file (none for no cues; `finishCues` removes an old one after the row). */
const writeCues = async (ctx: Ctx, w: ArtifactSetWrite, tid: string, loadId: string, date: string) => {
  if (w.cues.length === 0) return
  const name = cueFileName(tid, loadId)
  await writeParquet(
    ctx.duck,
    nodePath.join(partDir(ctx.root, CUES, date), name),
    CUE_COLUMNS,
    w.cues.map((c, i) => [
      tid,
      loadId,
      w.set.meetingId,
      i,
      c.id,
      Math.round(c.startMs),
      Math.round(c.endMs),
      c.speaker,
      c.text
    ]),
    "seq"
  )
  ctx.cueFiles.put(name, date)
}

/** After the set row: drop the transcript's cue file when it has no cues, and its copies under other dates. */
const finishCues = async (ctx: Ctx, tid: string, loadId: string, date: string, cueCount: number) => {
  const name = cueFileName(tid, loadId)
  for (const d of ctx.cueFiles.datesOf(name)) {
    if (d === date && cueCount > 0) continue
    await fsp.rm(nodePath.join(partDir(ctx.root, CUES, d), name), { force: true })
    ctx.cueFiles.remove(name, d)
  }
}

/** Files holding the same name as `file` under other dates (the set moved; a kill left the old one). */
const sameNameElsewhere = (ctx: Ctx, file: string) =>
  ctx.setFiles.datesOf(nodePath.basename(file)).filter((d) => d !== dateOfFile(file))
    .map((d) => nodePath.join(partDir(ctx.root, SETS, d), nodePath.basename(file)))

const writeAppend = async (ctx: Ctx, w: ArtifactSetWrite) => {
  const loadId = w.runId ?? randomUUID()
  const date = sanitizeDate(meetingDate(w.set))
  const tid = w.set.transcript?.id ?? null
  const file = nodePath.join(partDir(ctx.root, SETS, date), setFileName(artifactSetId(w.set), loadId))
  if (tid !== null) await writeCues(ctx, w, tid, loadId, date)
  await putSetFile(ctx, file, setRow(w, loadId))
  for (const other of sameNameElsewhere(ctx, file)) await removeSetFile(ctx, other)
  if (tid !== null) await finishCues(ctx, tid, loadId, date, w.cues.length)
}

/**
 * Merge: the set's file replaces every file holding its recording or
 * transcript; an artifact those held that this set does not carry keeps a
 * row of its own. Order (each step one atomic file), so that every artifact
 * is in at least one row at every instant and a row's cues are on disk:
 * 1. the transcript's cue file;
 * 2. rows of displaced artifacts that go to new files;
 * 3. the set's own file;
 * 4. rows of displaced artifacts that replace a file that held this set's artifacts;
 * 5. removal of the other files that held them, and of stale cue files.
 */
const writeMerge = async (ctx: Ctx, w: ArtifactSetWrite) => {
  const { set } = w
  const date = sanitizeDate(meetingDate(set))
  const setId = artifactSetId(set)
  const rid = set.recording?.id ?? null
  const tid = set.transcript?.id ?? null
  const target = nodePath.join(partDir(ctx.root, SETS, date), setFileName(setId, ""))
  const hits: Array<IndexedSet> = ctx.sets.holding(setId, rid, tid)
  const hitFiles = new Set(hits.map((h) => h.file))
  const residuals = new Map<string, Array<Value>>()
  for (const old of await readParquetFiles(ctx.duck, hits.map((h) => h.file), "*")) {
    if (old["load_id"] !== "") continue
    const dir = nodePath.dirname(String(old["filename"]))
    for (const keep of ["recording", "transcript"] as const) {
      const id = old[`${keep}_id`] ?? null
      if (id === null || id === (keep === "recording" ? rid : tid)) continue
      const row = residualRow(old, keep)
      residuals.set(nodePath.join(dir, setFileName(String(row[SET_ID]), "")), row)
    }
  }
  if (tid !== null) await writeCues(ctx, w, tid, "", date)
  for (const [file, row] of residuals) if (!hitFiles.has(file) && file !== target) await putSetFile(ctx, file, row)
  await putSetFile(ctx, target, setRow(w, ""))
  for (const [file, row] of residuals) if (hitFiles.has(file) && file !== target) await putSetFile(ctx, file, row)
  for (const file of [...hitFiles, ...sameNameElsewhere(ctx, target)]) {
    if (file !== target && !residuals.has(file)) await removeSetFile(ctx, file)
  }
  if (tid !== null) await finishCues(ctx, tid, "", date, w.cues.length)
}

const writeRunNow = (ctx: Ctx, r: RunRecord) =>
  writeParquet(ctx.duck, nodePath.join(ctx.root, RUNS, runFileName(r.runId)), RUN_COLUMNS, [[
    r.runId,
    r.windowFrom,
    r.windowTo,
    JSON.stringify(r.organizers),
    r.startedAt,
    r.endedAt,
    r.status,
    JSON.stringify(r.counts)
  ]], "run_id")

/** Open the folder (created when missing): temp files of a killed writer removed, earlier layout split, index built. */
const open = async (driver: DuckDriver, root: string, disposition: WriteDisposition): Promise<Ctx> => {
  await fsp.mkdir(root, { recursive: true })
  const duck = await openDuck(driver)
  try {
    await Effect.runPromise(removeTempFiles(root, SINK))
    await migrateLegacy(duck, root)
    const ctx: Ctx = {
      root,
      disposition,
      duck,
      sets: new SetIndex(),
      setFiles: new Locations(),
      cueFiles: new Locations()
    }
    await loadIndex(ctx)
    return ctx
  } catch (e) {
    duck.close()
    throw e
  }
}

/**
 * A Parquet record sink in `options.dir`. One writer per folder at a time
 * (the index of the folder lives in this process).
 */
export const make = (options: ParquetOptions): Effect.Effect<RecordSinkService, SinkError, Scope.Scope> =>
  Effect.gen(function*() {
    const disposition = options.disposition ?? "merge"
    const driver = yield* loadDriver(SINK, "@duckdb/node-api", () => import("@duckdb/node-api"))
    const ctx = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => open(driver, nodePath.resolve(options.dir), disposition),
        catch: sinkError(SINK, "open")
      }),
      (c) => Effect.sync(() => c.duck.close())
    )
    const lock = yield* Effect.makeSemaphore(1)
    const serial = <A>(op: string, f: () => Promise<A>) =>
      lock.withPermits(1)(Effect.tryPromise({ try: f, catch: sinkError(SINK, op) }))
    return {
      name: `parquet:${options.dir}`,
      disposition,
      writeSet: (w) => serial("writeSet", () => (disposition === "merge" ? writeMerge(ctx, w) : writeAppend(ctx, w))),
      writeRun: (r) => serial("writeRun", () => writeRunNow(ctx, r))
    } satisfies RecordSinkService
  })
