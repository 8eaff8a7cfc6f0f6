/**
 * The `listen` job's tables in the checkpoint store: pending notification work (durable before the 202),
 * the job's subscriptions, and a few named settings.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type {
  EnqueueOutcome,
  ListenSubscription,
  PendingArtifact,
  PendingInput,
  PendingRetry
} from "../CheckpointStore.js"
import type { SinkError } from "../SinkError.js"
import { UNSCOPED } from "./unscoped.js"
import { str } from "./sql.js"

type Query = <A>(op: string, eff: Effect.Effect<A, unknown>) => Effect.Effect<A, SinkError>

const subscriptionsTable = (sql: SqlClient.SqlClient) =>
  sql`CREATE TABLE IF NOT EXISTS listen_subscriptions (
    subscription_id TEXT PRIMARY KEY,
    resource TEXT NOT NULL,
    client_state TEXT NOT NULL,
    expiration_date_time TEXT NOT NULL,
    notification_url TEXT NOT NULL,
    lifecycle_notification_url TEXT,
    certificate_id TEXT NOT NULL,
    created_at TEXT NOT NULL
  )`

const settingsTable = (sql: SqlClient.SqlClient) =>
  sql`CREATE TABLE IF NOT EXISTS listen_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
  )`

/** listen_pending as `scopeMigration` made it (created under `name`). */
const scopedPendingTable = (sql: SqlClient.SqlClient, name: string) =>
  sql`CREATE TABLE ${sql(name)} (
    kind TEXT NOT NULL,
    artifact_id TEXT NOT NULL,
    export_scope TEXT NOT NULL,
    meeting_id TEXT NOT NULL,
    organizer_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    received_at TEXT NOT NULL,
    not_before TEXT,
    tries INTEGER NOT NULL DEFAULT 0,
    refusals INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, artifact_id, export_scope)
  )`

export const migration = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    yield* sql`CREATE TABLE IF NOT EXISTS listen_pending (
      kind TEXT NOT NULL,
      artifact_id TEXT NOT NULL,
      meeting_id TEXT NOT NULL,
      organizer_id TEXT NOT NULL,
      subscription_id TEXT NOT NULL,
      resource TEXT NOT NULL,
      received_at TEXT NOT NULL,
      PRIMARY KEY (kind, artifact_id)
    )`
    yield* subscriptionsTable(sql)
    yield* settingsTable(sql)
  })

export const retryMigration = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    yield* sql`ALTER TABLE listen_pending ADD COLUMN not_before TEXT`
    yield* sql`ALTER TABLE listen_pending ADD COLUMN tries INTEGER NOT NULL DEFAULT 0`
    yield* sql`ALTER TABLE listen_pending ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0`
  })

/** Pending work belongs to the export whose listener stored it (rows from before: `unscoped`). */
export const scopeMigration = (sql: SqlClient.SqlClient, unscoped: string) =>
  Effect.gen(function*() {
    yield* scopedPendingTable(sql, "listen_pending_scoped")
    yield* sql`INSERT INTO listen_pending_scoped (kind, artifact_id, export_scope, meeting_id, organizer_id,
        subscription_id, resource, received_at, not_before, tries, refusals)
      SELECT kind, artifact_id, ${unscoped}, meeting_id, organizer_id, subscription_id, resource, received_at,
        not_before, tries, refusals FROM listen_pending`
    yield* sql`DROP TABLE listen_pending`
    yield* sql`ALTER TABLE listen_pending_scoped RENAME TO listen_pending`
  })

/** The tables as the migrations above leave them, for a store that has none yet. */
export const finalSchema = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    yield* scopedPendingTable(sql, "listen_pending")
    yield* subscriptionsTable(sql)
    yield* settingsTable(sql)
  })

/** The tables `finalSchema` creates. */
export const TABLES = ["listen_pending", "listen_subscriptions", "listen_settings"] as const

const toPending = (r: any): PendingArtifact => ({
  kind: r.kind,
  id: r.artifact_id,
  meetingId: r.meeting_id,
  organizerId: r.organizer_id,
  subscriptionId: r.subscription_id,
  resource: r.resource,
  receivedAt: r.received_at,
  tries: Number(r.tries),
  refusals: Number(r.refusals),
  notBefore: str(r.not_before)
})

const toSubscription = (r: any): ListenSubscription => ({
  id: r.subscription_id,
  resource: r.resource,
  clientState: r.client_state,
  expirationDateTime: r.expiration_date_time,
  notificationUrl: r.notification_url,
  lifecycleNotificationUrl: str(r.lifecycle_notification_url),
  certificateId: r.certificate_id,
  createdAt: r.created_at
})

/**
 * The tables as the export of `scope` sees them. `visible`: the rows it reads as its own (its scope's and
 * those from before scopes): the pending work it takes (a listener into another folder sharing the store
 * leaves it alone, having its own). An artifact counts as exported only by the export's own completed row:
 * a row from before scopes may be another folder's, and a notification dropped here is not looked at again
 * until a catch-up, while the worker skips it anyway when the folder has the file.
 */
export const make = (sql: SqlClient.SqlClient, q: Query, scope: string, visible: Statement.Fragment) => {
  /**
   * One transaction: an artifact already completed or already pending is a no-op (a duplicate or replayed
   * notification), a full queue refuses, anything else is inserted and committed before this returns.
   */
  const enqueuePending = (item: PendingInput, limit: number): Effect.Effect<EnqueueOutcome, SinkError> =>
    q(
      "enqueuePending",
      sql.withTransaction(Effect.gen(function*() {
        const done = yield* sql`SELECT 1 AS x FROM checkpoint_completed WHERE kind = ${item.kind}
          AND artifact_id = ${item.id} AND export_scope = ${scope}`
        if (done.length > 0) return "completed" as const
        const pending = yield* sql`SELECT 1 AS x FROM listen_pending WHERE kind = ${item.kind}
          AND artifact_id = ${item.id} AND export_scope = ${scope}`
        if (pending.length > 0) return "duplicate" as const
        // Work stored before export scopes (any listener's to take, once) becomes this export's: its
        // notification is served by that row, which another listener sharing the store no longer takes.
        const claimed = yield* sql`UPDATE listen_pending SET export_scope = ${scope} WHERE kind = ${item.kind}
          AND artifact_id = ${item.id} AND export_scope = ${UNSCOPED} RETURNING 1 AS x`
        if (claimed.length > 0) return "queued" as const
        const count = yield* sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM listen_pending
          WHERE ${visible}`
        if (Number(count[0]?.n ?? 0) >= limit) return "full" as const
        yield* sql`INSERT INTO listen_pending (kind, artifact_id, export_scope, meeting_id, organizer_id,
            subscription_id, resource, received_at)
          VALUES (${item.kind}, ${item.id}, ${scope}, ${item.meetingId}, ${item.organizerId}, ${item.subscriptionId},
            ${item.resource}, ${new Date().toISOString()})
          ON CONFLICT (kind, artifact_id, export_scope) DO NOTHING`
        return "queued" as const
      }))
    )

  return {
    enqueuePending,
    listPending: (limit: number, dueAt?: string) =>
      q(
        "listPending",
        dueAt === undefined
          ? sql`SELECT * FROM listen_pending WHERE ${visible} ORDER BY received_at, kind, artifact_id LIMIT ${limit}`
          : sql`SELECT * FROM listen_pending WHERE ${visible} AND (not_before IS NULL OR not_before <= ${dueAt})
              ORDER BY received_at, kind, artifact_id LIMIT ${limit}`
      ).pipe(Effect.map((rows) => rows.map(toPending))),
    deferPending: (kind: string, id: string, retry: PendingRetry) =>
      q(
        "deferPending",
        sql`UPDATE listen_pending SET not_before = ${retry.notBefore}, tries = ${retry.tries},
            refusals = ${retry.refusals}
          WHERE kind = ${kind} AND artifact_id = ${id} AND ${visible}`
      ).pipe(Effect.asVoid),
    removePending: (kind: string, id: string) =>
      q(
        "removePending",
        sql`DELETE FROM listen_pending WHERE kind = ${kind} AND artifact_id = ${id} AND ${visible}`
      ).pipe(Effect.asVoid),
    putSubscription: (s: ListenSubscription) =>
      q(
        "putSubscription",
        sql`INSERT INTO listen_subscriptions (subscription_id, resource, client_state, expiration_date_time,
            notification_url, lifecycle_notification_url, certificate_id, created_at)
          VALUES (${s.id}, ${s.resource}, ${s.clientState}, ${s.expirationDateTime}, ${s.notificationUrl},
            ${s.lifecycleNotificationUrl}, ${s.certificateId}, ${s.createdAt})
          ON CONFLICT (subscription_id) DO UPDATE SET resource = excluded.resource,
            client_state = excluded.client_state, expiration_date_time = excluded.expiration_date_time,
            notification_url = excluded.notification_url,
            lifecycle_notification_url = excluded.lifecycle_notification_url,
            certificate_id = excluded.certificate_id`
      ).pipe(Effect.asVoid),
    listSubscriptions: q("listSubscriptions", sql`SELECT * FROM listen_subscriptions ORDER BY created_at`).pipe(
      Effect.map((rows) => rows.map(toSubscription))
    ),
    removeSubscription: (id: string) =>
      q("removeSubscription", sql`DELETE FROM listen_subscriptions WHERE subscription_id = ${id}`).pipe(
        Effect.asVoid
      ),
    getSetting: (name: string) =>
      q("getSetting", sql`SELECT value FROM listen_settings WHERE name = ${name}`).pipe(
        Effect.map((rows) => Option.fromNullable(str((rows[0] as any)?.value)))
      ),
    setSetting: (name: string, value: string) =>
      q(
        "setSetting",
        sql`INSERT INTO listen_settings (name, value) VALUES (${name}, ${value})
          ON CONFLICT (name) DO UPDATE SET value = excluded.value`
      ).pipe(Effect.asVoid)
  }
}
