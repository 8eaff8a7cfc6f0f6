import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"
import * as Layer from "effect/Layer"
import { SinkError } from "../SinkError.js"

/** A SQLite file opened in WAL mode (the driver's default), its parent directory created. */
const sqliteFileLayer = (filename: string): Layer.Layer<SqlClient.SqlClient, SinkError> =>
  Layer.unwrapEffect(
    Effect.try({
      try: () => {
        if (filename !== ":memory:") fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true })
        // The driver throws (a defect) for a file that is not a database: that is an error to report.
        return SqliteClient.layer({ filename }).pipe(
          Layer.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause)
              ? Layer.failCause(cause as Cause.Cause<never>)
              : Layer.fail(sqliteOpenError(filename, Cause.squash(cause)))
          )
        )
      },
      catch: (e) => sqliteOpenError(filename, e)
    })
  )

/** A connection setting (`PRAGMA name = value`) made once the file is open. */
const pragma = (name: string, value: string): Layer.Layer<never, SinkError, SqlClient.SqlClient> =>
  Layer.effectDiscard(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`PRAGMA ${name} = ${value}`)).pipe(
      Effect.mapError((e) =>
        new SinkError({
          sink: "sqlite",
          operation: "open",
          message: `sqlite: cannot set ${name}: ${e.message}`,
          cause: e
        })
      )
    )
  )

/**
 * Every commit on a SQLite file is durable when it returns. The driver's own default depends on the
 * open: FULL for the connection that switches a new file to WAL, NORMAL (the log synced only at
 * checkpoints) for every later one, so a re-run's committed rows (and a listener's stored notification,
 * answered 202 on the strength of it) could vanish in a power loss.
 */
const durableCommits = pragma("synchronous", "FULL")

/**
 * Temporary storage in memory. A multi-row statement inside a transaction (a group commit's upsert of a
 * batch of checkpoint rows) keeps a statement journal, which SQLite spills past 64 KiB into a file it
 * creates and unlinks in the temporary folder: dozens of files and thousands of writes in a run of a few
 * thousand artifacts. In memory it stays a few pages that live as long as the statement.
 */
const tempInMemory = pragma("temp_store", "MEMORY")

/**
 * An SqlClient layer for a SQLite file (WAL, every commit synced, temporary storage in memory, parent
 * directory created).
 */
export const sqliteClientLayer = (filename: string): Layer.Layer<SqlClient.SqlClient, SinkError> =>
  Layer.provideMerge(Layer.merge(durableCommits, tempInMemory), sqliteFileLayer(filename))

const sqliteOpenError = (filename: string, e: unknown): SinkError => {
  const code = (e as { code?: string })?.code
  const why = code === "SQLITE_NOTADB"
    ? "it is not a SQLite database"
    : code === "SQLITE_CORRUPT"
    ? "the database file is damaged"
    : (e as Error)?.message ?? String(e)
  return new SinkError({
    sink: "sqlite",
    operation: "open",
    message: `sqlite: cannot open ${filename}: ${why}`,
    cause: e
  })
}

/**
 * Run migrations from a record with a dedicated bookkeeping table, one process at a time: processes
 * opening the same database together (runners of a cluster, a sync and a listen started after an upgrade)
 * wait for the one migrating and then find its migrations done. The Migrator alone does not: on SQLite a
 * second process found its bookkeeping row taken, went on with the old schema and failed on the new
 * columns; on a new Postgres database two processes both created the bookkeeping table, one failing.
 */
export const migrate = (
  table: string,
  migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>>,
  sink: string,
  /** Run under the lock before any migration is applied (not when none is due): may refuse the upgrade. */
  beforeUpgrade: Effect.Effect<void, SinkError, SqlClient.SqlClient> = Effect.void,
  /** The schema all `migrations` leave, created in one step when the database has none of `tables`. */
  fresh?: FreshSchema
): Effect.Effect<void, SinkError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => {
    const last = Math.max(0, ...Object.keys(migrations).map((k) => parseInt(k)))
    const migrator = Migrator.make({})({ loader: Migrator.fromRecord(migrations), table })
    const upgrade = Effect.flatMap(latestMigration(sql, table), (latest) =>
      Effect.zipRight(
        latest < last ? beforeUpgrade : Effect.void,
        latest === 0 && fresh !== undefined
          ? Effect.flatMap(
            existingTables(sql, fresh.tables),
            (n) => n === 0 ? createFresh(sql, table, migrations, fresh.create) : Effect.asVoid(migrator)
          )
          : Effect.asVoid(migrator)
      ))
    // Up to date (every open but the first after an upgrade): no lock, no transaction. (Its own statement
    // text: the SQLite client keeps a failed prepare, here of a missing table, for the connection's life.)
    const upToDate = sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM ${sql(table)}
      WHERE migration_id >= ${last}`.pipe(
      Effect.map((rows) => Number(rows[0]?.n ?? 0) > 0),
      Effect.orElseSucceed(() => false)
    )
    return Effect.flatMap(upToDate, (done) => done ? Effect.void : exclusively(sql, table, upgrade)).pipe(
      Effect.asVoid,
      Effect.mapError((e) =>
        e instanceof SinkError
          ? e
          : new SinkError({ sink, operation: "migrate", message: `${sink}: migration failed: ${e.message}`, cause: e })
      )
    )
  })

/** A store's final schema and the tables it creates (see `migrate`). */
export interface FreshSchema {
  readonly tables: ReadonlyArray<string>
  readonly create: Effect.Effect<void, SqlError, SqlClient.SqlClient>
}

/** How many of `tables` the database has. */
const existingTables = (sql: SqlClient.SqlClient, tables: ReadonlyArray<string>) =>
  Effect.map(
    sql.onDialectOrElse({
      pg: () =>
        sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM information_schema.tables
          WHERE table_schema = current_schema() AND ${sql.in("table_name", tables)}`,
      orElse: () =>
        sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM sqlite_master
          WHERE type = 'table' AND ${sql.in("name", tables)}`
    }),
    (rows) => Number(rows[0]?.n ?? 0)
  )

/** `create`, and every migration recorded as applied, as the Migrator records them (id and name). */
const createFresh = (
  sql: SqlClient.SqlClient,
  table: string,
  migrations: Record<string, unknown>,
  create: Effect.Effect<void, SqlError, SqlClient.SqlClient>
) =>
  Effect.zipRight(
    create,
    sql`INSERT INTO ${sql(table)} ${
      sql.insert(
        Object.keys(migrations).flatMap((key) => {
          const m = /^(\d+)_(.+)$/.exec(key)
          return m === null ? [] : [{ migration_id: Number(m[1]), name: m[2]! }]
        })
      )
    }`.pipe(Effect.asVoid)
  )

const latestMigration = (sql: SqlClient.SqlClient, table: string) =>
  Effect.map(
    sql<{ readonly latest: number | string | null }>`SELECT MAX(migration_id) AS latest FROM ${sql(table)}`,
    (rows) => Number(rows[0]?.latest ?? 0)
  )

/** How long a process waits for another one's migrations (a large store's copy takes a while). */
const MIGRATION_WAIT = Duration.minutes(10)

/**
 * `migrate` in one transaction that first takes the database's write lock (SQLite) or an advisory lock
 * named after the bookkeeping table (Postgres), so the Migrator's own transaction is a savepoint inside it.
 * The bookkeeping table is created first, in the Migrator's shape: on Postgres the Migrator finds a missing
 * one by a failing statement, which would abort the surrounding transaction.
 */
const exclusively = <A, E>(
  sql: SqlClient.SqlClient,
  table: string,
  migrator: Effect.Effect<A, E, SqlClient.SqlClient>
): Effect.Effect<A, E | SqlError, SqlClient.SqlClient> =>
  sql.onDialectOrElse({
    pg: () =>
      sql.withTransaction(
        sql`SELECT pg_advisory_xact_lock(hashtext(${`meeting-artifacts/migrate/${table}`}))`.pipe(
          Effect.zipRight(sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
            migration_id integer primary key,
            created_at timestamp with time zone not null default now(),
            name text not null
          )`),
          Effect.zipRight(migrator)
        )
      ),
    // A write as the transaction's first statement waits for the lock (busy timeout, then again here); a
    // read first would make the write fail at once if another connection writes, without waiting.
    orElse: () =>
      sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
        migration_id integer PRIMARY KEY NOT NULL,
        created_at datetime NOT NULL DEFAULT current_timestamp,
        name VARCHAR(255) NOT NULL
      )`.pipe(
        Effect.zipRight(sql.withTransaction(Effect.zipRight(sql`DELETE FROM ${sql(table)} WHERE 0`, migrator))),
        Effect.retry({
          while: isSqliteBusy,
          schedule: Schedule.spaced(Duration.millis(200)).pipe(Schedule.upTo(MIGRATION_WAIT))
        })
      )
  })

const isSqliteBusy = (e: unknown): boolean => {
  const code = (e as { cause?: { code?: unknown } })?.cause?.code
  return typeof code === "string" && code.startsWith("SQLITE_BUSY")
}

export const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))
export const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v))
