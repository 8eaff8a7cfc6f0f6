/**
 * The checkpoint store's schema, one migration per change (see `CheckpointStore`).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as ListenTables from "./listenTables.js"
import { UNSCOPED } from "./unscoped.js"

/** The migrations' bookkeeping table. */
export const TABLE = "checkpoint_migrations"

export { UNSCOPED } from "./unscoped.js"

const progressTable = (sql: SqlClient.SqlClient) =>
  sql`CREATE TABLE IF NOT EXISTS checkpoint_progress (
    organizer_id TEXT NOT NULL,
    window_from TEXT NOT NULL,
    window_to TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    delta_link TEXT,
    items BIGINT NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (organizer_id, window_from, window_to, kind)
  )`

const runsTable = (sql: SqlClient.SqlClient) =>
  sql`CREATE TABLE IF NOT EXISTS checkpoint_runs (
    run_id TEXT PRIMARY KEY,
    window_from TEXT NOT NULL,
    window_to TEXT NOT NULL,
    organizers TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL,
    counts TEXT NOT NULL
  )`

const lockTable = (sql: SqlClient.SqlClient) =>
  sql`CREATE TABLE IF NOT EXISTS checkpoint_lock (
    name TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    pid BIGINT NOT NULL,
    host TEXT NOT NULL,
    started_at TEXT NOT NULL,
    renewed_at TEXT NOT NULL
  )`

const completedIndex = (sql: SqlClient.SqlClient) =>
  sql`CREATE INDEX IF NOT EXISTS checkpoint_completed_meeting ON checkpoint_completed (meeting_id)`

/** checkpoint_completed as migration 6 made it (created under `name`). */
const scopedCompletedTable = (sql: SqlClient.SqlClient, name: string) =>
  sql`CREATE TABLE ${sql(name)} (
    kind TEXT NOT NULL,
    artifact_id TEXT NOT NULL,
    export_scope TEXT NOT NULL,
    meeting_id TEXT NOT NULL,
    organizer_id TEXT NOT NULL,
    path TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT,
    cues BIGINT,
    run_id TEXT,
    completed_at TEXT NOT NULL,
    PRIMARY KEY (kind, artifact_id, export_scope)
  )`

/** checkpoint_dead_letters as migration 6 made it (created under `name`). */
const scopedDeadLettersTable = (sql: SqlClient.SqlClient, name: string) =>
  sql`CREATE TABLE ${sql(name)} (
    kind TEXT NOT NULL,
    artifact_id TEXT NOT NULL,
    export_scope TEXT NOT NULL,
    meeting_id TEXT,
    source TEXT,
    organizer_id TEXT,
    reason TEXT NOT NULL,
    status BIGINT,
    code TEXT,
    request_id TEXT,
    run_id TEXT,
    attempts BIGINT NOT NULL DEFAULT 1,
    at TEXT NOT NULL,
    PRIMARY KEY (kind, artifact_id, export_scope)
  )`

export const migrations = {
  "1_checkpoint": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* progressTable(sql)
    yield* sql`CREATE TABLE IF NOT EXISTS checkpoint_completed (
      kind TEXT NOT NULL,
      artifact_id TEXT NOT NULL,
      meeting_id TEXT NOT NULL,
      organizer_id TEXT NOT NULL,
      path TEXT NOT NULL,
      bytes BIGINT NOT NULL,
      sha256 TEXT NOT NULL,
      content_type TEXT,
      cues BIGINT,
      run_id TEXT,
      completed_at TEXT NOT NULL,
      PRIMARY KEY (kind, artifact_id)
    )`
    yield* completedIndex(sql)
    yield* sql`CREATE TABLE IF NOT EXISTS checkpoint_dead_letters (
      kind TEXT NOT NULL,
      artifact_id TEXT NOT NULL,
      meeting_id TEXT,
      organizer_id TEXT,
      reason TEXT NOT NULL,
      status BIGINT,
      code TEXT,
      request_id TEXT,
      run_id TEXT,
      attempts BIGINT NOT NULL DEFAULT 1,
      at TEXT NOT NULL,
      PRIMARY KEY (kind, artifact_id)
    )`
    yield* runsTable(sql)
  }),
  "2_lock": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* lockTable(sql)
  }),
  // Dead letters of ad hoc calls are fetched again through /adhocCalls/{id}, not /onlineMeetings/{id}.
  "3_dead_letter_source": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE checkpoint_dead_letters ADD COLUMN source TEXT`
  }),
  "4_listen": Effect.flatMap(SqlClient.SqlClient, ListenTables.migration),
  // Retries of announced artifacts survive a restart and are counted across restarts.
  "5_listen_retry": Effect.flatMap(SqlClient.SqlClient, ListenTables.retryMigration),
  // Completed artifacts and dead letters per export (see `forExport`); rows from before are UNSCOPED.
  // SQLite cannot change a primary key in place: both tables are copied into their new shape.
  "6_export_scope": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* scopedCompletedTable(sql, "checkpoint_completed_scoped")
    yield* sql`INSERT INTO checkpoint_completed_scoped (kind, artifact_id, export_scope, meeting_id, organizer_id,
        path, bytes, sha256, content_type, cues, run_id, completed_at)
      SELECT kind, artifact_id, ${UNSCOPED}, meeting_id, organizer_id, path, bytes, sha256, content_type, cues,
        run_id, completed_at FROM checkpoint_completed`
    yield* sql`DROP TABLE checkpoint_completed`
    yield* sql`ALTER TABLE checkpoint_completed_scoped RENAME TO checkpoint_completed`
    yield* completedIndex(sql)
    yield* scopedDeadLettersTable(sql, "checkpoint_dead_letters_scoped")
    yield* sql`INSERT INTO checkpoint_dead_letters_scoped (kind, artifact_id, export_scope, meeting_id, source,
        organizer_id, reason, status, code, request_id, run_id, attempts, at)
      SELECT kind, artifact_id, ${UNSCOPED}, meeting_id, source, organizer_id, reason, status, code, request_id,
        run_id, attempts, at FROM checkpoint_dead_letters`
    yield* sql`DROP TABLE checkpoint_dead_letters`
    yield* sql`ALTER TABLE checkpoint_dead_letters_scoped RENAME TO checkpoint_dead_letters`
  }),
  // listen's pending work per export too: a listener into another folder sharing the store must not take it.
  "7_listen_pending_scope": Effect.flatMap(SqlClient.SqlClient, (sql) => ListenTables.scopeMigration(sql, UNSCOPED))
}

/**
 * The schema `migrations` leave, made in one step for a store that has none of its tables yet (a new
 * `--state`/`--out`: every sync-bulk round and first run), instead of seven migrations one after another.
 * Same tables, columns and indexes (CheckpointMigration.test compares them); a store with any table runs
 * the migrations as before.
 */
export const fresh = {
  tables: [
    "checkpoint_progress",
    "checkpoint_completed",
    "checkpoint_dead_letters",
    "checkpoint_runs",
    "checkpoint_lock",
    ...ListenTables.TABLES
  ],
  create: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* progressTable(sql)
    yield* scopedCompletedTable(sql, "checkpoint_completed")
    yield* completedIndex(sql)
    yield* scopedDeadLettersTable(sql, "checkpoint_dead_letters")
    yield* runsTable(sql)
    yield* lockTable(sql)
    yield* ListenTables.finalSchema(sql)
  })
}
