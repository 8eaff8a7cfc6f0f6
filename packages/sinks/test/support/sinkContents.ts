/**
 * What each record sink holds, read back the way a consumer would (SQL, DuckDB
 * over the Parquet files, blob listing), in one comparable shape: one row per
 * set with its artifact ids, load and cue count. Used by the sink model test,
 * the CLI end-to-end test and the soak scripts.
 */
import { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api"
import { BlobServiceClient } from "@azure/storage-blob"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { Layout, Manifest, type SinkSpec } from "../../src/index.js"
import { openSql } from "./db.js"

/**
 * A set as a sink holds it. `cues` is the number of cue rows stored for its
 * transcript (null without one); when the row's own count disagrees with the
 * stored cues it is a string saying so, so it can never equal an expected count.
 */
export interface SinkSet {
  readonly load: string
  readonly recordingId: string | null
  readonly transcriptId: string | null
  readonly cues: number | string | null
}

export const formatSet = (s: SinkSet): string =>
  `${s.load === "" ? "" : s.load + " "}${s.recordingId ?? "-"} + ${s.transcriptId ?? "-"} (cues ${s.cues ?? "-"})`

/** Sorted, printable: what tests compare. */
export const formatSets = (sets: ReadonlyArray<SinkSet>): Array<string> => sets.map(formatSet).sort()

const cueCount = (declared: unknown, stored: unknown, transcriptId: unknown): number | string | null => {
  if (transcriptId === null || transcriptId === undefined) return null
  const d = declared === null || declared === undefined ? null : Number(declared)
  const s = Number(stored ?? 0)
  return d === s ? s : `declared ${d} != stored ${s}`
}

/** The sets of a manifest (`<out>/manifest.jsonl` plus its journal), as merge sinks must hold them. */
export const manifestSets = (out: string, load = ""): Promise<Array<SinkSet>> =>
  Effect.runPromise(Manifest.read(out)).then((entries) =>
    entries.map((e) => ({
      load,
      recordingId: e.recording?.id ?? null,
      transcriptId: e.transcript?.id ?? null,
      cues: e.transcript === null ? null : e.transcript.cues
    }))
  )

/** SQLite or Postgres record sink tables (none before the sink first opened). */
export const sqlSets = (target: { readonly sqlite: string } | { readonly pg: string }): Promise<Array<SinkSet>> =>
  "sqlite" in target && !fs.existsSync(target.sqlite) ?
    Promise.resolve([]) :
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const sql = yield* openSql(target)
      const tables = yield* sql.onDialectOrElse({
        pg: () => sql.unsafe(`SELECT 1 FROM information_schema.tables WHERE table_name = 'artifact_sets'`),
        orElse: () => sql.unsafe(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'artifact_sets'`)
      }).pipe(Effect.orDie)
      if (tables.length === 0) return []
      const rows = yield* sql.unsafe<Record<string, unknown>>(
        `SELECT s.load_id, s.recording_id, s.transcript_id, t.cues AS declared,
         (SELECT COUNT(*) FROM transcript_cues c WHERE c.transcript_id = s.transcript_id AND c.load_id = s.load_id) AS stored
       FROM artifact_sets s LEFT JOIN transcripts t ON t.id = s.transcript_id AND t.load_id = s.load_id`
      ).pipe(Effect.orDie)
      return rows.map((r) => ({
        load: String(r["load_id"]),
        recordingId: (r["recording_id"] ?? null) as string | null,
        transcriptId: (r["transcript_id"] ?? null) as string | null,
        cues: cueCount(r["declared"], r["stored"], r["transcript_id"])
      }))
    })))

/** Rows of a query in a fresh DuckDB, as a consumer of the Parquet files would run it. */
export const duckRows = async (sql: string): Promise<Array<Record<string, unknown>>> => {
  const instance = await DuckDBInstance.create(":memory:")
  const c = await DuckDBConnection.create(instance)
  try {
    return (await c.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>
  } finally {
    c.closeSync()
    instance.closeSync()
  }
}

const hasParquet = (dir: string) =>
  fs.existsSync(dir) &&
  fs.readdirSync(dir, { recursive: true, withFileTypes: true }).some((e) => e.isFile() && e.name.endsWith(".parquet"))

/**
 * A Parquet sink folder read with DuckDB over the documented globs. Cues
 * stored for a transcript, load and date that no row points at come back as
 * a row of their own (`recordingId: "orphan cues"`), so they fail a comparison too.
 */
export const parquetSets = async (dir: string): Promise<Array<SinkSet>> => {
  const setsGlob = `'${dir}/artifact_sets/*/*.parquet'`
  const cues = hasParquet(nodePath.join(dir, "transcript_cues"))
    ? `SELECT transcript_id, load_id, CAST(meeting_date AS VARCHAR) AS meeting_date, COUNT(*) AS n
       FROM read_parquet('${dir}/transcript_cues/*/*.parquet', hive_partitioning = true) GROUP BY ALL`
    : `SELECT NULL::VARCHAR AS transcript_id, NULL::VARCHAR AS load_id, NULL::VARCHAR AS meeting_date, 0 AS n WHERE false`
  const sets = hasParquet(nodePath.join(dir, "artifact_sets"))
    ? `SELECT load_id, recording_id, transcript_id, cues, CAST(meeting_date AS VARCHAR) AS meeting_date
       FROM read_parquet(${setsGlob}, hive_partitioning = true)`
    : `SELECT NULL::VARCHAR AS load_id, NULL::VARCHAR AS recording_id, NULL::VARCHAR AS transcript_id, NULL::BIGINT AS cues,
         NULL::VARCHAR AS meeting_date WHERE false`
  const rows = await duckRows(
    `WITH s AS (${sets}), c AS (${cues})
     SELECT s.load_id, s.recording_id, s.transcript_id, s.cues AS declared, c.n AS stored
     FROM s LEFT JOIN c USING (transcript_id, load_id, meeting_date)
     UNION ALL
     SELECT c.load_id, 'orphan cues', c.transcript_id, NULL, c.n FROM c
     WHERE NOT EXISTS (SELECT 1 FROM s WHERE s.transcript_id = c.transcript_id AND s.load_id = c.load_id
       AND s.meeting_date = c.meeting_date)`
  )
  return rows.map((r) => ({
    load: String(r["load_id"]),
    recordingId: (r["recording_id"] ?? null) as string | null,
    transcriptId: (r["transcript_id"] ?? null) as string | null,
    cues: cueCount(r["declared"], r["stored"], r["transcript_id"])
  }))
}

/**
 * An Azure Blob sink container: `set-*.json` blobs (the load is the
 * `Layout.segment` of the run id in an append blob's name) and each
 * transcript's `cues` against the length of its `.cues.json`.
 */
export const blobSets = async (connectionString: string, container: string, prefix = ""): Promise<Array<SinkSet>> => {
  const client = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container)
  if (!(await client.exists())) return []
  const read = async (name: string) =>
    JSON.parse((await client.getBlockBlobClient(name).downloadToBuffer()).toString("utf8"))
  const setBlobs: Array<{ name: string; load: string }> = []
  const transcripts = new Map<string, number | string>()
  for await (const b of client.listBlobsFlat({ prefix })) {
    const base = b.name.slice(b.name.lastIndexOf("/") + 1)
    const set = /^set-[0-9a-f]{32}(?:\.(.+))?\.json$/.exec(base)
    if (set) setBlobs.push({ name: b.name, load: set[1] ?? "" })
    else if (/^transcript-.*\.json$/.test(base) && !base.endsWith(".cues.json")) {
      const body = await read(b.name)
      const stored = (await read(b.name.replace(/\.json$/, ".cues.json")).catch(() => [])) as Array<unknown>
      transcripts.set(String(body.transcript.id), cueCount(body.cues, stored.length, body.transcript.id)!)
    }
  }
  return Promise.all(setBlobs.map(async ({ load, name }) => {
    const body = await read(name)
    const tid = (body.transcriptId ?? null) as string | null
    return {
      load,
      recordingId: (body.recordingId ?? null) as string | null,
      transcriptId: tid,
      cues: tid === null ? null : (transcripts.get(tid) ?? "no transcript blob")
    }
  }))
}

let containers = 0

/**
 * `--sink` specs of every kind in fresh places: under `dir`, in the Postgres
 * database `pgDatabaseUrl` and a new blob container; SQLite, Parquet and Azure
 * Blob also in `+append`.
 */
export const everySinkSpec = (dir: string, pgDatabaseUrl: string): Array<string> => {
  const container = `sinks-${process.pid}-${++containers}`
  return [
    `sqlite:${nodePath.join(dir, "sink.sqlite")}`,
    `sqlite+append:${nodePath.join(dir, "history.sqlite")}`,
    `postgres:${pgDatabaseUrl}`,
    `parquet:${nodePath.join(dir, "parquet")}`,
    `parquet+append:${nodePath.join(dir, "parquet-history")}`,
    `azure-blob:${container}/merge/`,
    `azure-blob+append:${container}/history/`
  ]
}

/** What the sink a spec names holds (blob sinks need the Azurite connection string). */
export const sinkSets = (spec: SinkSpec, azureConnectionString?: string): Promise<Array<SinkSet>> => {
  switch (spec._tag) {
    case "sqlite":
      return sqlSets({ sqlite: spec.path })
    case "postgres":
      return sqlSets({ pg: Redacted.value(spec.url) })
    case "parquet":
      return parquetSets(spec.dir)
    case "azure-blob":
      return blobSets(
        azureConnectionString ?? process.env.AZURE_STORAGE_CONNECTION_STRING ?? "",
        spec.container,
        spec.prefix
      )
  }
}

/** The load a sink shows for a run id (blob names carry its layout segment). */
export const loadOf = (spec: SinkSpec, runId: string): string =>
  spec.disposition === "merge" ? "" : spec._tag === "azure-blob" ? Layout.segment(runId) : runId
