/**
 * The checkpoint store: what a sync has done, so a re-run (or a run after a
 * kill) resumes instead of starting over.
 *
 * - progress per organizer + window + kind (status, delta link, item count)
 * - completed artifact ids with the file they were written to
 * - dead letters (reason, HTTP status, Graph code, request-id)
 * - runs (id, window, organizers, counts, started/ended)
 * - for `listen`: pending notification work, the job's subscriptions, settings
 *
 * SQLite (default, `<out>/.meeting-artifacts/state.sqlite`, WAL: every call is
 * one transaction, so a kill at any instant leaves the state before or after
 * it) or Postgres. `markCompleted` calls of one event-loop turn, and those that
 * arrive while one is committing, share a transaction (one commit, one fsync,
 * for all of them); each returns only once its own row is committed. Tables are prefixed `checkpoint_` so the store can share a
 * database with the SQL record sinks.
 *
 * Exports into different folders may share one store (`--state`, a cluster's Postgres): completed
 * artifacts and dead letters belong to the export that wrote them (`forExport(exportScope(out))`), since
 * both describe one folder's content: a file written there, an item still missing there.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import * as nodePath from "node:path"
import { defaultStatePath } from "./Layout.js"
import * as CompletedRows from "./internal/completedRows.js"
import * as GroupCommit from "./internal/groupCommit.js"
import { migrate, num, sqliteClientLayer, str } from "./internal/sql.js"
import { copyToTemp } from "./internal/sqliteCopy.js"
import * as PostgresClient from "./PostgresClient.js"
import * as ListenTables from "./internal/listenTables.js"
import * as Migrations from "./internal/checkpointMigrations.js"
import { lockStore, refuseUpgradeWhileHeld } from "./internal/storeLock.js"
import { currentHolder, type LockHolder, type RunLockHeld } from "./RunLock.js"
import { SinkError } from "./SinkError.js"
import { sinkError } from "./internal/errors.js"

const SINK = "checkpoint"

/** Which listing a progress row tracks, e.g. "recordings" / "transcripts" (free-form). */
export type ProgressKind = string

export interface ProgressKey {
  readonly organizerId: string
  /** Window start, ISO (as given on the command line). */
  readonly windowFrom: string
  /** Window end, ISO. */
  readonly windowTo: string
  readonly kind: ProgressKind
}

export type ProgressStatus = "pending" | "running" | "done"

export interface Progress extends ProgressKey {
  readonly status: ProgressStatus
  /** The last `@odata.deltaLink` received, to resume incrementally. */
  readonly deltaLink: string | null
  /** Items seen so far in this window. */
  readonly items: number
  readonly updatedAt: string
}

export interface ProgressUpdate {
  readonly status?: ProgressStatus | undefined
  readonly deltaLink?: string | null | undefined
  readonly items?: number | undefined
}

export type CompletedKind = "recording" | "transcript" | "transcriptMetadata"

/** An artifact that was written completely, with the facts of its file. */
export interface CompletedArtifact {
  readonly kind: CompletedKind
  readonly id: string
  readonly meetingId: string
  readonly organizerId: string
  /** Path relative to `<out>`. */
  readonly path: string
  readonly bytes: number
  readonly sha256: string
  readonly contentType: string | null
  /** Transcripts: number of cues. */
  readonly cues: number | null
  readonly runId: string | null
  readonly completedAt: string
}

export type CompletedInput = Omit<CompletedArtifact, "completedAt" | "contentType" | "cues" | "runId"> & {
  readonly contentType?: string | null | undefined
  readonly cues?: number | null | undefined
  readonly runId?: string | null | undefined
}

export interface DeadLetter {
  readonly kind: string
  readonly id: string
  readonly meetingId: string | null
  /** "adhocCall" when `meetingId` is an ad hoc call's id (null: an online meeting). */
  readonly source: string | null
  readonly organizerId: string | null
  readonly reason: string
  readonly status: number | null
  readonly code: string | null
  readonly requestId: string | null
  readonly runId: string | null
  /** How many times this artifact was dead-lettered (incremented on each add). */
  readonly attempts: number
  readonly at: string
}

export type DeadLetterInput =
  & Omit<
    DeadLetter,
    "attempts" | "at" | "runId" | "meetingId" | "source" | "organizerId" | "status" | "code" | "requestId"
  >
  & {
    readonly meetingId?: string | null | undefined
    readonly source?: string | null | undefined
    readonly organizerId?: string | null | undefined
    readonly status?: number | null | undefined
    readonly code?: string | null | undefined
    readonly requestId?: string | null | undefined
    readonly runId?: string | null | undefined
  }

export type RunStatus = "running" | "succeeded" | "partial" | "failed"

export interface RunRecord {
  readonly runId: string
  readonly windowFrom: string
  readonly windowTo: string
  readonly organizers: ReadonlyArray<string>
  readonly startedAt: string
  readonly endedAt: string | null
  readonly status: RunStatus
  readonly counts: Readonly<Record<string, number>>
}

export interface RunStart {
  readonly runId?: string | undefined
  readonly windowFrom: string
  readonly windowTo: string
  readonly organizers: ReadonlyArray<string>
}

/** An artifact a change notification announced, stored before the notification is acknowledged. */
export interface PendingArtifact {
  readonly kind: "recording" | "transcript"
  readonly id: string
  readonly meetingId: string
  readonly organizerId: string
  readonly subscriptionId: string
  /** The notification's `resource` path, as Graph sent it. */
  readonly resource: string
  readonly receivedAt: string
  /** Earlier attempts to export it, and how many of them Graph answered by refusing the artifact itself. */
  readonly tries: number
  readonly refusals: number
  /** Not to be tried again before this time (ISO 8601), or null: due now. */
  readonly notBefore: string | null
}

export type PendingInput = Omit<PendingArtifact, "receivedAt" | "tries" | "refusals" | "notBefore">

/** When a pending artifact is tried again, and what its attempts so far were. */
export interface PendingRetry {
  readonly notBefore: string
  readonly tries: number
  readonly refusals: number
}

/**
 * What storing a pending artifact did: `queued` (new work), `duplicate` (already pending), `completed`
 * (already exported: nothing to do), `full` (the queue is at its limit: try again later).
 */
export type EnqueueOutcome = "queued" | "duplicate" | "completed" | "full"

/** A subscription `listen` created, with the secret clientState Graph echoes in each notification. */
export interface ListenSubscription {
  readonly id: string
  readonly resource: string
  readonly clientState: string
  readonly expirationDateTime: string
  readonly notificationUrl: string
  readonly lifecycleNotificationUrl: string | null
  readonly certificateId: string
  readonly createdAt: string
}

/**
 * The scope of rows written before the store kept them per export (and of a store used without
 * `forExport`). Every export reads them as its own until it writes its own row for the artifact; none
 * drops them, since which export wrote them is not known.
 */
export const UNSCOPED = Migrations.UNSCOPED

/**
 * The scope of the export into `out`: its absolute path, hashed to a short fixed-width key. The path as
 * given (made absolute), not as symlinks resolve it: every runner of a cluster run gets the same string
 * but may reach the folder through other links, and the pipeline's delta links are scoped by it too.
 */
export const exportScope = (out: string): string =>
  `out:${createHash("sha256").update(nodePath.resolve(out)).digest("hex").slice(0, 16)}`

export interface CheckpointStoreService {
  /**
   * The same store as one export sees it (`exportScope(out)`): the completed artifacts, dead letters and
   * listen's pending work are that export's own, plus the `UNSCOPED` rows written before (except for the
   * completed check of `enqueuePending`: own rows only); the rest is shared. Marking an artifact completed
   * drops only this export's dead letter.
   */
  readonly forExport: (scope: string) => CheckpointStoreService
  readonly getProgress: (key: ProgressKey) => Effect.Effect<Option.Option<Progress>, SinkError>
  /** Create or update the progress row; omitted fields keep their value. */
  readonly setProgress: (key: ProgressKey, update: ProgressUpdate) => Effect.Effect<void, SinkError>
  readonly getDeltaLink: (key: ProgressKey) => Effect.Effect<Option.Option<string>, SinkError>
  readonly setDeltaLink: (key: ProgressKey, deltaLink: string | null) => Effect.Effect<void, SinkError>
  /** Record a completed artifact (upsert by kind + id) and drop its dead letter, in one transaction. */
  readonly markCompleted: (artifact: CompletedInput) => Effect.Effect<void, SinkError>
  readonly getCompleted: (kind: CompletedKind, id: string) => Effect.Effect<Option.Option<CompletedArtifact>, SinkError>
  /** The completed artifacts among `ids` of one kind, by id (absent ids are not completed): one query per few hundred ids. */
  readonly getCompletedMany: (
    kind: CompletedKind,
    ids: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyMap<string, CompletedArtifact>, SinkError>
  readonly listCompleted: (filter?: { readonly kind?: CompletedKind; readonly meetingId?: string }) => Effect.Effect<
    ReadonlyArray<CompletedArtifact>,
    SinkError
  >
  /** The organizers with at least one completed artifact (one query, however many artifacts), sorted. */
  readonly listCompletedOrganizers: Effect.Effect<ReadonlyArray<string>, SinkError>
  /** Upsert by kind + id, incrementing `attempts`. */
  readonly addDeadLetter: (dl: DeadLetterInput) => Effect.Effect<void, SinkError>
  readonly removeDeadLetter: (kind: string, id: string) => Effect.Effect<void, SinkError>
  readonly listDeadLetters: (
    filter?: { readonly runId?: string }
  ) => Effect.Effect<ReadonlyArray<DeadLetter>, SinkError>
  readonly startRun: (run: RunStart) => Effect.Effect<RunRecord, SinkError>
  readonly finishRun: (
    runId: string,
    result: { readonly status: RunStatus; readonly counts: Readonly<Record<string, number>> }
  ) => Effect.Effect<void, SinkError>
  readonly getRun: (runId: string) => Effect.Effect<Option.Option<RunRecord>, SinkError>
  readonly listRuns: Effect.Effect<ReadonlyArray<RunRecord>, SinkError>
  /**
   * Holds the store's run lock for the scope (see `RunLock`): fails with
   * `RunLockHeld` naming the holder when another live run holds it. SQLite: a
   * row with a lease renewed while the scope is open, taken over when its
   * holder's pid is gone (same host) or its lease expired. Postgres: a
   * session-level advisory lock on a connection held for the scope, which the
   * server frees when the holder's session ends (a crash on any host), plus
   * a row naming the holder for the message.
   */
  readonly lock: (holder?: LockHolder) => Effect.Effect<void, RunLockHeld | SinkError, Scope.Scope>
  /** Stores an announced artifact durably unless it is pending or completed already, or `limit` are pending. */
  readonly enqueuePending: (item: PendingInput, limit: number) => Effect.Effect<EnqueueOutcome, SinkError>
  /**
   * The oldest pending artifacts first; with `dueAt` (ISO 8601) only those not deferred past it, so artifacts
   * waiting for a retry never hide newer work behind the limit.
   */
  readonly listPending: (limit: number, dueAt?: string) => Effect.Effect<ReadonlyArray<PendingArtifact>, SinkError>
  /** Records a failed attempt: the artifact stays pending, due again at `retry.notBefore`. */
  readonly deferPending: (kind: string, id: string, retry: PendingRetry) => Effect.Effect<void, SinkError>
  readonly removePending: (kind: string, id: string) => Effect.Effect<void, SinkError>
  readonly putSubscription: (subscription: ListenSubscription) => Effect.Effect<void, SinkError>
  readonly listSubscriptions: Effect.Effect<ReadonlyArray<ListenSubscription>, SinkError>
  readonly removeSubscription: (id: string) => Effect.Effect<void, SinkError>
  readonly getSetting: (name: string) => Effect.Effect<Option.Option<string>, SinkError>
  readonly setSetting: (name: string, value: string) => Effect.Effect<void, SinkError>
}

export class CheckpointStore extends Context.Tag("@meeting-artifacts/sinks/CheckpointStore")<
  CheckpointStore,
  CheckpointStoreService
>() {}

const now = () => new Date().toISOString()

/** Ids per look-up query: well under the bound variables SQLite (32766) and Postgres (65535) accept. */
const LOOKUP_CHUNK = 500

const chunksOf = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

const toProgress = (r: any): Progress => ({
  organizerId: r.organizer_id,
  windowFrom: r.window_from,
  windowTo: r.window_to,
  kind: r.kind,
  status: r.status,
  deltaLink: str(r.delta_link),
  items: Number(r.items),
  updatedAt: r.updated_at
})

const toCompleted = (r: any): CompletedArtifact => ({
  kind: r.kind,
  id: r.artifact_id,
  meetingId: r.meeting_id,
  organizerId: r.organizer_id,
  path: r.path,
  bytes: Number(r.bytes),
  sha256: r.sha256,
  contentType: str(r.content_type),
  cues: num(r.cues),
  runId: str(r.run_id),
  completedAt: r.completed_at
})

const toDeadLetter = (r: any): DeadLetter => ({
  kind: r.kind,
  id: r.artifact_id,
  meetingId: str(r.meeting_id),
  source: str(r.source),
  organizerId: str(r.organizer_id),
  reason: r.reason,
  status: num(r.status),
  code: str(r.code),
  requestId: str(r.request_id),
  runId: str(r.run_id),
  attempts: Number(r.attempts),
  at: r.at
})

const toRun = (r: any): RunRecord => ({
  runId: r.run_id,
  windowFrom: r.window_from,
  windowTo: r.window_to,
  organizers: JSON.parse(r.organizers),
  startedAt: r.started_at,
  endedAt: str(r.ended_at),
  status: r.status,
  counts: JSON.parse(r.counts)
})

/** A completed row to commit, with the export it belongs to. */
type ScopedCompleted = CompletedInput & { readonly exportScope: string }

/**
 * The rows of an export's view (its own and UNSCOPED ones), one per kind + id: its own row wins. Keeps the
 * order of the first row of each artifact.
 */
const ownFirst = (scope: string, rows: ReadonlyArray<any>): Array<any> => {
  const byKey = new Map<string, any>()
  for (const r of rows) {
    const key = `${r.kind}\u0000${r.artifact_id}`
    if (r.export_scope === scope || !byKey.has(key)) byKey.set(key, r)
  }
  return [...byKey.values()]
}

/** Build the store on the SqlClient in context (SQLite or Postgres), running its migrations first. */
export const make: Effect.Effect<CheckpointStoreService, SinkError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* migrate(Migrations.TABLE, Migrations.migrations, SINK, refuseUpgradeWhileHeld(sql), Migrations.fresh)
  const q = <A>(op: string, eff: Effect.Effect<A, unknown>) => Effect.mapError(eff, sinkError(SINK, op))
  /** Rows an export reads: its own and the UNSCOPED ones. */
  const visibleTo = (scope: string) => sql.in("export_scope", [...new Set([scope, UNSCOPED])])

  const getProgress = (k: ProgressKey) =>
    q(
      "getProgress",
      sql`SELECT * FROM checkpoint_progress WHERE organizer_id = ${k.organizerId} AND window_from = ${k.windowFrom}
        AND window_to = ${k.windowTo} AND kind = ${k.kind}`
    ).pipe(Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toProgress)))

  const setProgress = (k: ProgressKey, u: ProgressUpdate) =>
    q(
      "setProgress",
      sql.withTransaction(Effect.gen(function*() {
        const rows = yield* sql`SELECT * FROM checkpoint_progress WHERE organizer_id = ${k.organizerId}
          AND window_from = ${k.windowFrom} AND window_to = ${k.windowTo} AND kind = ${k.kind}`
        const old = rows[0] ? toProgress(rows[0]) : undefined
        const status = u.status ?? old?.status ?? "pending"
        const deltaLink = u.deltaLink !== undefined ? u.deltaLink : (old?.deltaLink ?? null)
        const items = u.items ?? old?.items ?? 0
        yield* sql`INSERT INTO checkpoint_progress (organizer_id, window_from, window_to, kind, status, delta_link, items, updated_at)
          VALUES (${k.organizerId}, ${k.windowFrom}, ${k.windowTo}, ${k.kind}, ${status}, ${deltaLink}, ${items}, ${now()})
          ON CONFLICT (organizer_id, window_from, window_to, kind) DO UPDATE SET status = excluded.status,
          delta_link = excluded.delta_link, items = excluded.items, updated_at = excluded.updated_at`
      }))
    )

  /**
   * Upserts completed rows and drops their export's dead letters, in one transaction (see
   * `CompletedRows`). One row per export + kind + id (the last one given): a multi-row upsert may not touch
   * a row twice (Postgres refuses it).
   */
  const writeCompleted = CompletedRows.make(sql)
  const insertCompleted = (rows: ReadonlyArray<ScopedCompleted>, at: string) => {
    const byKey = new Map<string, ScopedCompleted>()
    for (const a of rows) byKey.set(`${a.exportScope}\u0000${a.kind}\u0000${a.id}`, a)
    return writeCompleted([...byKey.values()], at)
  }

  // Rows waiting for the next commit (of every export's view: they share commits). A failed commit puts its
  // rows back, so a caller waiting on a later commit never returns before its row is in one.
  let queued: Array<ScopedCompleted> = []
  const commitQueued = GroupCommit.make(
    Effect.suspend(() => {
      const batch = queued
      queued = []
      if (batch.length === 0) return Effect.void
      const at = now()
      return q(
        "markCompleted",
        insertCompleted(batch, at)
      ).pipe(Effect.tapError(() => Effect.sync(() => (queued = [...batch, ...queued]))))
    }),
    GroupCommit.nextTurn
  )

  const getRun = (runId: string) =>
    q("getRun", sql`SELECT * FROM checkpoint_runs WHERE run_id = ${runId}`).pipe(
      Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toRun))
    )

  const shared = {
    getProgress,
    setProgress,
    getDeltaLink: (k: ProgressKey) =>
      Effect.map(getProgress(k), Option.flatMap((p) => Option.fromNullable(p.deltaLink))),
    setDeltaLink: (k: ProgressKey, deltaLink: string | null) => setProgress(k, { deltaLink }),
    startRun: (r: RunStart) =>
      Effect.gen(function*() {
        const run: RunRecord = {
          runId: r.runId ?? `${now()}-${Math.random().toString(36).slice(2, 10)}`,
          windowFrom: r.windowFrom,
          windowTo: r.windowTo,
          organizers: [...r.organizers],
          startedAt: now(),
          endedAt: null,
          status: "running",
          counts: {}
        }
        yield* q(
          "startRun",
          sql`INSERT INTO checkpoint_runs (run_id, window_from, window_to, organizers, started_at, ended_at, status, counts)
            VALUES (${run.runId}, ${run.windowFrom}, ${run.windowTo}, ${
            JSON.stringify(run.organizers)
          }, ${run.startedAt},
              NULL, 'running', '{}')
            ON CONFLICT (run_id) DO UPDATE SET started_at = excluded.started_at, status = 'running', ended_at = NULL`
        )
        return run
      }),
    finishRun: (
      runId: string,
      result: { readonly status: RunStatus; readonly counts: Readonly<Record<string, number>> }
    ) =>
      q(
        "finishRun",
        sql`UPDATE checkpoint_runs SET ended_at = ${now()}, status = ${result.status},
          counts = ${JSON.stringify(result.counts)} WHERE run_id = ${runId}`
      ).pipe(Effect.asVoid),
    getRun,
    listRuns: q("listRuns", sql`SELECT * FROM checkpoint_runs ORDER BY started_at, run_id`).pipe(
      Effect.map((rows) => rows.map(toRun))
    ),
    lock: (holder: LockHolder = currentHolder()) => lockStore(sql, holder)
  }

  /** The completed artifacts and dead letters of one export; the rest is shared. */
  const serviceFor = (scope: string): CheckpointStoreService => ({
    ...shared,
    ...ListenTables.make(sql, q, scope, visibleTo(scope)),
    forExport: serviceFor,
    markCompleted: (a) =>
      Effect.suspend(() => {
        queued.push({ ...a, exportScope: scope })
        return commitQueued.commit
      }),
    getCompletedMany: (kind, ids) =>
      Effect.reduce(
        chunksOf([...new Set(ids)], LOOKUP_CHUNK),
        new Map<string, CompletedArtifact>(),
        (found, chunk) =>
          q(
            "getCompletedMany",
            sql`SELECT * FROM checkpoint_completed WHERE kind = ${kind} AND ${sql.in("artifact_id", chunk)}
              AND ${visibleTo(scope)}`
          ).pipe(Effect.map((rows) => {
            for (const r of ownFirst(scope, rows)) found.set(r.artifact_id as string, toCompleted(r))
            return found
          }))
      ),
    getCompleted: (kind, id) =>
      q(
        "getCompleted",
        sql`SELECT * FROM checkpoint_completed WHERE kind = ${kind} AND artifact_id = ${id} AND ${visibleTo(scope)}`
      ).pipe(Effect.map((rows) => Option.map(Option.fromNullable(ownFirst(scope, rows)[0]), toCompleted))),
    listCompleted: (filter) =>
      q(
        "listCompleted",
        sql`SELECT * FROM checkpoint_completed WHERE ${
          sql.and([
            visibleTo(scope),
            ...(filter?.kind ? [sql`kind = ${filter.kind}`] : []),
            ...(filter?.meetingId ? [sql`meeting_id = ${filter.meetingId}`] : [])
          ])
        } ORDER BY kind, artifact_id`
      ).pipe(Effect.map((rows) => ownFirst(scope, rows).map(toCompleted))),
    listCompletedOrganizers: q(
      "listCompletedOrganizers",
      sql<{ readonly organizer_id: string }>`SELECT DISTINCT organizer_id FROM checkpoint_completed
        WHERE ${visibleTo(scope)} ORDER BY organizer_id`
    ).pipe(Effect.map((rows) => rows.map((r) => r.organizer_id))),
    addDeadLetter: (d) =>
      q(
        "addDeadLetter",
        sql`INSERT INTO checkpoint_dead_letters (kind, artifact_id, export_scope, meeting_id, source, organizer_id,
            reason, status, code, request_id, run_id, attempts, at)
          VALUES (${d.kind}, ${d.id}, ${scope}, ${d.meetingId ?? null}, ${d.source ?? null}, ${
          d.organizerId ?? null
        }, ${d.reason}, ${d.status ?? null},
            ${d.code ?? null}, ${d.requestId ?? null}, ${d.runId ?? null}, 1, ${now()})
          ON CONFLICT (kind, artifact_id, export_scope) DO UPDATE SET meeting_id = excluded.meeting_id,
            source = excluded.source, organizer_id = excluded.organizer_id, reason = excluded.reason,
            status = excluded.status, code = excluded.code, request_id = excluded.request_id,
            run_id = excluded.run_id, attempts = checkpoint_dead_letters.attempts + 1, at = excluded.at`
      ).pipe(Effect.asVoid),
    removeDeadLetter: (kind, id) =>
      q(
        "removeDeadLetter",
        sql`DELETE FROM checkpoint_dead_letters WHERE kind = ${kind} AND artifact_id = ${id}
          AND export_scope = ${scope}`
      ).pipe(Effect.asVoid),
    // The export's own dead letters, and the UNSCOPED ones it has neither completed nor failed itself since.
    listDeadLetters: (filter) =>
      q(
        "listDeadLetters",
        sql`SELECT * FROM checkpoint_dead_letters d WHERE (d.export_scope = ${scope} OR (d.export_scope = ${UNSCOPED}
            AND NOT EXISTS (SELECT 1 FROM checkpoint_dead_letters o WHERE o.export_scope = ${scope}
              AND o.kind = d.kind AND o.artifact_id = d.artifact_id)
            AND NOT EXISTS (SELECT 1 FROM checkpoint_completed c WHERE c.export_scope = ${scope}
              AND c.kind = d.kind AND c.artifact_id = d.artifact_id)))
          ${filter?.runId ? sql`AND d.run_id = ${filter.runId}` : sql.literal("")}
          ORDER BY d.kind, d.artifact_id`
      ).pipe(Effect.map((rows) => rows.map(toDeadLetter)))
  })

  return serviceFor(UNSCOPED)
})

/** The store on the SqlClient in context. */
export const layer: Layer.Layer<CheckpointStore, SinkError, SqlClient.SqlClient> = Layer.effect(CheckpointStore, make)

/** The store in a SQLite file (created with its folder when missing). */
export const layerSqlite = (filename: string): Layer.Layer<CheckpointStore, SinkError> =>
  layer.pipe(Layer.provide(sqliteClientLayer(filename)))

/**
 * The store in a private copy of a SQLite file (taken when the layer is built, removed with it): what the
 * file holds, upgraded to this release's schema in the copy, and nothing written to the file or its folder
 * (a dry run).
 */
export const layerSqliteCopy = (filename: string): Layer.Layer<CheckpointStore, SinkError> =>
  Layer.unwrapScoped(Effect.map(copyToTemp(filename), layerSqlite))

/** The default: `<out>/.meeting-artifacts/state.sqlite`. */
export const layerDefault = (out: string): Layer.Layer<CheckpointStore, SinkError> => layerSqlite(defaultStatePath(out))

/** The store in Postgres (tables `checkpoint_*`). */
export const layerPostgres = (url: string | Redacted.Redacted<string>): Layer.Layer<CheckpointStore, SinkError> =>
  layer.pipe(Layer.provide(PostgresClient.layer(url)))

/**
 * The store in Postgres as it is, for reading only (a dry run): nothing is created or upgraded. A database
 * without the store's tables reads as an empty store; one whose schema is older than this release's is
 * refused, since upgrading it is a write.
 */
export const layerPostgresAsIs = (url: string | Redacted.Redacted<string>): Layer.Layer<CheckpointStore, SinkError> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const client = yield* Layer.build(PostgresClient.layer(url))
    const sql = Context.get(client, SqlClient.SqlClient)
    const latest = yield* sql<{ readonly latest: number | string | null }>`SELECT MAX(migration_id) AS latest
      FROM ${sql(Migrations.TABLE)}`.pipe(
      Effect.map((rows) => Number(rows[0]?.latest ?? 0)),
      // 42P01: no such table (a database no run has used yet)
      Effect.catchIf((e) => (e.cause as { code?: unknown } | undefined)?.code === "42P01", () => Effect.succeed(0)),
      Effect.mapError(sinkError(SINK, "open"))
    )
    if (latest === 0) return layerSqlite(":memory:")
    const release = Math.max(...Object.keys(Migrations.migrations).map((k) => parseInt(k)))
    if (latest < release) {
      return Layer.fail(
        new SinkError({
          sink: SINK,
          operation: "open",
          message: `${SINK}: the store's schema is older than this release's (${latest} of ${release} migrations) ` +
            "and reading it as it is would need the upgrade, a write: run once without --dry-run to upgrade it"
        })
      )
    }
    return layer.pipe(Layer.provide(Layer.succeedContext(client)))
  }))

/** The SQLite store as a scoped value (the database closes with the scope). */
export const makeSqlite = (filename: string): Effect.Effect<CheckpointStoreService, SinkError, Scope.Scope> =>
  Effect.map(Layer.build(layerSqlite(filename)), Context.get(CheckpointStore))

/** The Postgres store as a scoped value (the pool closes with the scope). */
export const makePostgres = (
  url: string | Redacted.Redacted<string>
): Effect.Effect<CheckpointStoreService, SinkError, Scope.Scope> =>
  Effect.map(Layer.build(layerPostgres(url)), Context.get(CheckpointStore))
