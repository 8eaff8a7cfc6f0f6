/**
 * The checkpoint store's run lock (see `CheckpointStore.lock` and `RunLock`).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { currentHolder, isStale, type LockHolder, RENEW_MS, type RunLockHeld, runLockHeld } from "../RunLock.js"
import { SinkError } from "../SinkError.js"
import { sinkError } from "./errors.js"

const NAME = "sync"
const RESOURCE = "the checkpoint store (--state)"
/** The advisory lock's key: any constant works, as long as every run uses the same one. */
const ADVISORY_KEY = "meeting-artifacts/sync"

const toHolder = (row: any): LockHolder => ({
  pid: Number(row.pid),
  host: String(row.host),
  startedAt: String(row.started_at),
  token: String(row.token)
})

const q = <A, R>(op: string, eff: Effect.Effect<A, unknown, R>) => Effect.mapError(eff, sinkError("checkpoint", op))

const writeHolderRow = (sql: SqlClient.SqlClient, h: LockHolder, onConflict: "nothing" | "replace") => {
  const now = new Date().toISOString()
  return onConflict === "nothing"
    ? sql`INSERT INTO checkpoint_lock (name, token, pid, host, started_at, renewed_at)
        VALUES (${NAME}, ${h.token}, ${h.pid}, ${h.host}, ${h.startedAt}, ${now}) ON CONFLICT (name) DO NOTHING`
    : sql`INSERT INTO checkpoint_lock (name, token, pid, host, started_at, renewed_at)
        VALUES (${NAME}, ${h.token}, ${h.pid}, ${h.host}, ${h.startedAt}, ${now})
        ON CONFLICT (name) DO UPDATE SET token = excluded.token, pid = excluded.pid, host = excluded.host,
          started_at = excluded.started_at, renewed_at = excluded.renewed_at`
}

const readHolderRow = (sql: SqlClient.SqlClient) =>
  Effect.map(sql`SELECT * FROM checkpoint_lock WHERE name = ${NAME}`, (rows) => rows[0] as any)

const releaseRow = (sql: SqlClient.SqlClient, h: LockHolder) =>
  sql`DELETE FROM checkpoint_lock WHERE name = ${NAME} AND token = ${h.token}`.pipe(Effect.ignore)

/** SQLite: a row with a lease; a stale row is deleted by its token only, so two takers cannot both win. */
const lockRow = (
  sql: SqlClient.SqlClient,
  holder: LockHolder
): Effect.Effect<void, RunLockHeld | SinkError, Scope.Scope> =>
  Effect.gen(function*() {
    for (let round = 0; round < 3; round++) {
      const row = yield* q("lock", readHolderRow(sql))
      if (row !== undefined) {
        if (row.token === holder.token) return
        const current = toHolder(row)
        if (!isStale(current, Date.parse(String(row.renewed_at)))) {
          return yield* Effect.fail(runLockHeld(RESOURCE, current))
        }
        yield* q("lock", sql`DELETE FROM checkpoint_lock WHERE name = ${NAME} AND token = ${current.token}`)
      }
      yield* q("lock", writeHolderRow(sql, holder, "nothing"))
    }
    const row = yield* q("lock", readHolderRow(sql))
    return yield* Effect.fail(runLockHeld(RESOURCE, row === undefined ? { ...holder, host: "unknown" } : toHolder(row)))
  }).pipe(
    Effect.zipRight(Effect.addFinalizer(() => releaseRow(sql, holder))),
    Effect.zipRight(
      Effect.suspend(() =>
        sql`UPDATE checkpoint_lock SET renewed_at = ${new Date().toISOString()} WHERE token = ${holder.token}`
      ).pipe(
        Effect.ignore,
        Effect.repeat(Schedule.spaced(Duration.millis(RENEW_MS))),
        Effect.interruptible,
        Effect.forkScoped
      )
    ),
    Effect.asVoid
  )

/** Postgres: a session-level advisory lock on a connection reserved for the scope; the row only names the holder. */
const lockAdvisory = (
  sql: SqlClient.SqlClient,
  holder: LockHolder
): Effect.Effect<void, RunLockHeld | SinkError, Scope.Scope> =>
  Effect.gen(function*() {
    const conn = yield* q("lock", sql.reserve)
    const rows = yield* q(
      "lock",
      conn.execute("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [ADVISORY_KEY], undefined)
    )
    if (rows[0]?.ok !== true) {
      const row = yield* q("lock", readHolderRow(sql))
      return yield* Effect.fail(
        runLockHeld(RESOURCE, row === undefined ? { ...holder, host: "unknown" } : toHolder(row))
      )
    }
    yield* Effect.addFinalizer(() =>
      conn.execute("SELECT pg_advisory_unlock(hashtext($1))", [ADVISORY_KEY], undefined).pipe(Effect.ignore)
    )
    yield* q("lock", writeHolderRow(sql, holder, "replace"))
    yield* Effect.addFinalizer(() => releaseRow(sql, holder))
  })

/**
 * Before the store's schema is upgraded: a live run holding the store's lock is one of an earlier version
 * (a run of this one upgrades the store before it takes the lock), whose statements would fail on the new
 * schema mid-run. Refused: it can be upgraded once that run ends. Postgres: the lock is tried for the
 * upgrade's transaction, so no earlier run takes it meanwhile; SQLite: the upgrade holds the write lock.
 */
export const refuseUpgradeWhileHeld = (sql: SqlClient.SqlClient): Effect.Effect<void, SinkError> =>
  Effect.gen(function*() {
    const free = yield* sql.onDialectOrElse({
      pg: () =>
        Effect.map(
          sql`SELECT pg_try_advisory_xact_lock(hashtext(${ADVISORY_KEY})) AS ok`,
          (rows) => (rows[0] as any)?.ok === true
        ),
      orElse: () =>
        Effect.flatMap(
          sql`SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'checkpoint_lock'`,
          (tables) =>
            tables.length === 0 ?
              Effect.succeed(true) :
              Effect.map(
                readHolderRow(sql),
                (row) => row === undefined || isStale(toHolder(row), Date.parse(String(row.renewed_at)))
              )
        )
    })
    if (free) return
    const row = yield* readHolderRow(sql)
    const held = runLockHeld(RESOURCE, row === undefined ? { ...currentHolder(), host: "unknown" } : toHolder(row))
    return yield* Effect.fail(
      new SinkError({
        sink: "checkpoint",
        operation: "migrate",
        message: `checkpoint: not upgraded under a run of an earlier version: ${held.message}`
      })
    )
  }).pipe(Effect.mapError((e) => e instanceof SinkError ? e : sinkError("checkpoint", "migrate")(e)))

export const lockStore = (
  sql: SqlClient.SqlClient,
  holder: LockHolder
): Effect.Effect<void, RunLockHeld | SinkError, Scope.Scope> =>
  sql.onDialectOrElse({ pg: () => lockAdvisory(sql, holder), orElse: () => lockRow(sql, holder) })
