/**
 * SQLite (`@effect/sql-sqlite-node`) and Postgres (`@effect/sql-pg`) record
 * sinks. Migrations (bookkeeping table `meeting_artifacts_migrations`) create:
 *
 * - `recordings` (id, load_id, meeting_id, organizer_id, call_id, content_correlation_id,
 *   created_date_time, end_date_time, path, bytes, sha256, content_type, metadata, written_at)
 * - `transcripts` (same columns plus cues, metadata_content; no content_type)
 * - `artifact_sets` (set_id, load_id, meeting_id, organizer_id, content_correlation_id, match,
 *   recording_id, transcript_id, meeting_date, run_id, written_at, source): `source` is 'adhocCall'
 *   when meeting_id is an ad hoc call's id, NULL for online meetings (added by migration 2_source)
 * - `transcript_cues` (transcript_id, load_id, seq, cue_id, start_ms, end_ms, speaker, text)
 * - `runs` (run_id, window_from, window_to, organizers, started_at, ended_at, status, counts,
 *   recordings, transcripts, failed)
 *
 * Keys are (id, load_id): `merge` writes load_id '' and upserts, `append`
 * writes load_id = run id (or a fresh id) so each write adds rows. One
 * transaction per artifact set.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Redacted from "effect/Redacted"
import { randomUUID } from "node:crypto"
import type { RunRecord } from "./CheckpointStore.js"
import { migrate, sqliteClientLayer } from "./internal/sql.js"
import * as PostgresClient from "./PostgresClient.js"
import {
  type ArtifactSetWrite,
  artifactSetId,
  meetingDate,
  setIdOf,
  type RecordSinkService,
  type WriteDisposition
} from "./RecordSink.js"
import type { SinkError } from "./SinkError.js"
import { sinkError } from "./internal/errors.js"

export const MIGRATIONS_TABLE = "meeting_artifacts_migrations"

const migrations = {
  "1_tables": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const json = sql.onDialectOrElse({ pg: () => sql.literal("JSONB"), orElse: () => sql.literal("TEXT") })
    yield* sql`CREATE TABLE IF NOT EXISTS recordings (
      id TEXT NOT NULL,
      load_id TEXT NOT NULL DEFAULT '',
      meeting_id TEXT NOT NULL,
      organizer_id TEXT NOT NULL,
      call_id TEXT,
      content_correlation_id TEXT,
      created_date_time TEXT,
      end_date_time TEXT,
      path TEXT,
      bytes BIGINT,
      sha256 TEXT,
      content_type TEXT,
      metadata ${json},
      written_at TEXT NOT NULL,
      PRIMARY KEY (id, load_id)
    )`
    yield* sql`CREATE TABLE IF NOT EXISTS transcripts (
      id TEXT NOT NULL,
      load_id TEXT NOT NULL DEFAULT '',
      meeting_id TEXT NOT NULL,
      organizer_id TEXT NOT NULL,
      call_id TEXT,
      content_correlation_id TEXT,
      created_date_time TEXT,
      end_date_time TEXT,
      path TEXT,
      bytes BIGINT,
      sha256 TEXT,
      cues BIGINT,
      metadata ${json},
      metadata_content ${json},
      written_at TEXT NOT NULL,
      PRIMARY KEY (id, load_id)
    )`
    yield* sql`CREATE TABLE IF NOT EXISTS artifact_sets (
      set_id TEXT NOT NULL,
      load_id TEXT NOT NULL DEFAULT '',
      meeting_id TEXT NOT NULL,
      organizer_id TEXT NOT NULL,
      content_correlation_id TEXT,
      match TEXT NOT NULL,
      recording_id TEXT,
      transcript_id TEXT,
      meeting_date TEXT NOT NULL,
      run_id TEXT,
      written_at TEXT NOT NULL,
      PRIMARY KEY (set_id, load_id)
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS artifact_sets_recording ON artifact_sets (recording_id)`
    yield* sql`CREATE INDEX IF NOT EXISTS artifact_sets_transcript ON artifact_sets (transcript_id)`
    yield* sql`CREATE TABLE IF NOT EXISTS transcript_cues (
      transcript_id TEXT NOT NULL,
      load_id TEXT NOT NULL DEFAULT '',
      seq BIGINT NOT NULL,
      cue_id TEXT,
      start_ms BIGINT NOT NULL,
      end_ms BIGINT NOT NULL,
      speaker TEXT,
      text TEXT NOT NULL,
      PRIMARY KEY (transcript_id, load_id, seq)
    )`
    yield* sql`CREATE TABLE IF NOT EXISTS runs (
      run_id TEXT PRIMARY KEY,
      window_from TEXT NOT NULL,
      window_to TEXT NOT NULL,
      organizers TEXT NOT NULL,
      started_at TEXT NOT NULL,
      ended_at TEXT,
      status TEXT NOT NULL,
      counts TEXT NOT NULL,
      recordings BIGINT NOT NULL DEFAULT 0,
      transcripts BIGINT NOT NULL DEFAULT 0,
      failed BIGINT NOT NULL DEFAULT 0
    )`
  }),
  "2_source": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE artifact_sets ADD COLUMN source TEXT`
  })
}

const CUE_BATCH = 200

interface OldSet {
  readonly set_id: string
  readonly meeting_id: string
  readonly organizer_id: string
  readonly content_correlation_id: string | null
  readonly recording_id: string | null
  readonly transcript_id: string | null
  readonly meeting_date: string
  readonly run_id: string | null
  readonly source: string | null
}

const toJson = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v))

export interface SqlRecordSinkOptions {
  readonly disposition?: WriteDisposition | undefined
  /** Shown in errors and as `name`. */
  readonly name?: string | undefined
}

/** A record sink on the SqlClient in context (runs the migrations first). */
export const make = (
  options: SqlRecordSinkOptions = {}
): Effect.Effect<RecordSinkService, SinkError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const sinkName = sql.onDialectOrElse({ pg: () => "postgres", sqlite: () => "sqlite", orElse: () => "sql" })
    yield* migrate(MIGRATIONS_TABLE, migrations, sinkName)
    const disposition = options.disposition ?? "merge"

    const writeSet = (w: ArtifactSetWrite) =>
      Effect.gen(function*() {
        const { set } = w
        const loadId = disposition === "merge" ? "" : (w.runId ?? randomUUID())
        const writtenAt = new Date().toISOString()
        const setId = artifactSetId(set)
        const rid = set.recording?.id ?? null
        const tid = set.transcript?.id ?? null

        if (disposition === "merge") {
          // Sets that hold one of our artifacts are replaced; their other artifact keeps a set of its own.
          const olds = yield* sql<OldSet>`
            SELECT set_id, meeting_id, organizer_id, content_correlation_id, recording_id, transcript_id,
              meeting_date, run_id, source FROM artifact_sets WHERE load_id = '' AND (
              ${rid === null ? sql`1 = 0` : sql`recording_id = ${rid}`} OR
              ${tid === null ? sql`1 = 0` : sql`transcript_id = ${tid}`} OR set_id = ${setId})`
          for (const old of olds) {
            yield* sql`DELETE FROM artifact_sets WHERE set_id = ${old.set_id} AND load_id = ''`
            const residuals: Array<[string | null, string | null]> = []
            if (old.recording_id !== null && old.recording_id !== rid) residuals.push([old.recording_id, null])
            if (old.transcript_id !== null && old.transcript_id !== tid) residuals.push([null, old.transcript_id])
            for (const [r, t] of residuals) {
              yield* sql`INSERT INTO artifact_sets (set_id, load_id, meeting_id, organizer_id, content_correlation_id,
                  match, recording_id, transcript_id, meeting_date, run_id, written_at, source)
                VALUES (${setIdOf(r, t, old.meeting_id)}, '', ${old.meeting_id}, ${old.organizer_id},
                  ${old.content_correlation_id}, 'none', ${r}, ${t}, ${old.meeting_date}, ${old.run_id}, ${writtenAt},
                  ${old.source})
                ON CONFLICT (set_id, load_id) DO NOTHING`
            }
          }
        }

        if (set.recording) {
          const r = set.recording
          const f = w.recording
          yield* sql`INSERT INTO recordings (id, load_id, meeting_id, organizer_id, call_id, content_correlation_id,
              created_date_time, end_date_time, path, bytes, sha256, content_type, metadata, written_at)
            VALUES (${r.id}, ${loadId}, ${set.meetingId}, ${set.organizerId}, ${r.callId ?? null},
              ${r.contentCorrelationId ?? null}, ${r.createdDateTime ?? null}, ${r.endDateTime ?? null},
              ${f?.path ?? null}, ${f?.bytes ?? null}, ${f?.sha256 ?? null}, ${f?.contentType ?? null},
              ${toJson(r)}, ${writtenAt})
            ON CONFLICT (id, load_id) DO UPDATE SET meeting_id = excluded.meeting_id,
              organizer_id = excluded.organizer_id, call_id = excluded.call_id,
              content_correlation_id = excluded.content_correlation_id, created_date_time = excluded.created_date_time,
              end_date_time = excluded.end_date_time, path = excluded.path, bytes = excluded.bytes,
              sha256 = excluded.sha256, content_type = excluded.content_type, metadata = excluded.metadata,
              written_at = excluded.written_at`
        }
        if (set.transcript) {
          const t = set.transcript
          const f = w.transcript
          yield* sql`INSERT INTO transcripts (id, load_id, meeting_id, organizer_id, call_id, content_correlation_id,
              created_date_time, end_date_time, path, bytes, sha256, cues, metadata, metadata_content, written_at)
            VALUES (${t.id}, ${loadId}, ${set.meetingId}, ${set.organizerId}, ${t.callId ?? null},
              ${t.contentCorrelationId ?? null}, ${t.createdDateTime ?? null}, ${t.endDateTime ?? null},
              ${f?.path ?? null}, ${f?.bytes ?? null}, ${f?.sha256 ?? null}, ${w.cues.length},
              ${toJson(t)}, ${toJson(w.transcriptMetadata)}, ${writtenAt})
            ON CONFLICT (id, load_id) DO UPDATE SET meeting_id = excluded.meeting_id,
              organizer_id = excluded.organizer_id, call_id = excluded.call_id,
              content_correlation_id = excluded.content_correlation_id, created_date_time = excluded.created_date_time,
              end_date_time = excluded.end_date_time, path = excluded.path, bytes = excluded.bytes,
              sha256 = excluded.sha256, cues = excluded.cues, metadata = excluded.metadata,
              metadata_content = excluded.metadata_content, written_at = excluded.written_at`
          yield* sql`DELETE FROM transcript_cues WHERE transcript_id = ${t.id} AND load_id = ${loadId}`
          for (let i = 0; i < w.cues.length; i += CUE_BATCH) {
            const rows = w.cues.slice(i, i + CUE_BATCH).map((c, j) => ({
              transcript_id: t.id,
              load_id: loadId,
              seq: i + j,
              cue_id: c.id,
              start_ms: Math.round(c.startMs),
              end_ms: Math.round(c.endMs),
              speaker: c.speaker,
              text: c.text
            }))
            yield* sql`INSERT INTO transcript_cues ${sql.insert(rows)}`
          }
        }
        yield* sql`INSERT INTO artifact_sets (set_id, load_id, meeting_id, organizer_id, content_correlation_id, match,
            recording_id, transcript_id, meeting_date, run_id, written_at, source)
          VALUES (${setId}, ${loadId}, ${set.meetingId}, ${set.organizerId}, ${set.contentCorrelationId}, ${set.match},
            ${rid}, ${tid}, ${meetingDate(set)}, ${w.runId ?? null}, ${writtenAt}, ${set.source ?? null})
          ON CONFLICT (set_id, load_id) DO UPDATE SET meeting_id = excluded.meeting_id, source = excluded.source,
            organizer_id = excluded.organizer_id, content_correlation_id = excluded.content_correlation_id,
            match = excluded.match, recording_id = excluded.recording_id, transcript_id = excluded.transcript_id,
            meeting_date = excluded.meeting_date, run_id = excluded.run_id, written_at = excluded.written_at`
      }).pipe(sql.withTransaction, Effect.mapError(sinkError(sinkName, "writeSet")))

    const writeRun = (run: RunRecord) =>
      sql`INSERT INTO runs (run_id, window_from, window_to, organizers, started_at, ended_at, status, counts,
          recordings, transcripts, failed)
        VALUES (${run.runId}, ${run.windowFrom}, ${run.windowTo}, ${JSON.stringify(run.organizers)}, ${run.startedAt},
          ${run.endedAt}, ${run.status}, ${JSON.stringify(run.counts)}, ${run.counts["recordings"] ?? 0},
          ${run.counts["transcripts"] ?? 0}, ${run.counts["failed"] ?? 0})
        ON CONFLICT (run_id) DO UPDATE SET window_from = excluded.window_from, window_to = excluded.window_to,
          organizers = excluded.organizers, started_at = excluded.started_at, ended_at = excluded.ended_at,
          status = excluded.status, counts = excluded.counts, recordings = excluded.recordings,
          transcripts = excluded.transcripts, failed = excluded.failed`.pipe(
        Effect.asVoid,
        Effect.mapError(sinkError(sinkName, "writeRun"))
      )

    return { name: options.name ?? sinkName, disposition, writeSet, writeRun } satisfies RecordSinkService
  })

/** A SQLite record sink in `filename` (created with its folder when missing). */
export const makeSqlite = (
  filename: string,
  options: SqlRecordSinkOptions = {}
): Effect.Effect<RecordSinkService, SinkError, Scope.Scope> =>
  Layer.build(sqliteClientLayer(filename)).pipe(
    Effect.flatMap((ctx) => Effect.provide(make({ name: `sqlite:${filename}`, ...options }), ctx))
  )

/** A Postgres record sink. */
export const makePostgres = (
  url: string | Redacted.Redacted<string>,
  options: SqlRecordSinkOptions = {}
): Effect.Effect<RecordSinkService, SinkError, Scope.Scope> =>
  Layer.build(PostgresClient.layer(url)).pipe(
    Effect.flatMap((ctx) => Effect.provide(make({ name: "postgres", ...options }), ctx))
  )
