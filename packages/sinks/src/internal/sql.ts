import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Migrator from "@effect/sql/Migrator"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Cause from "effect/Cause"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { redactUrlCredentials } from "@meeting-artifacts/api/GraphUrl"
import { SinkError } from "../SinkError.js"
import { loadDriver } from "./drivers.js"

/** An SqlClient layer for a SQLite file (WAL, parent directory created). */
export const sqliteClientLayer = (filename: string): Layer.Layer<SqlClient.SqlClient, SinkError> =>
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
 * An SqlClient layer for a Postgres URL (the password is kept redacted).
 * `@effect/sql-pg` (with `pg`) is an optional peer dependency, loaded here.
 */
export const pgClientLayer = (url: string | Redacted.Redacted<string>): Layer.Layer<SqlClient.SqlClient, SinkError> =>
  Layer.unwrapEffect(
    Effect.map(
      loadDriver("postgres", "@effect/sql-pg", () => import("@effect/sql-pg/PgClient")),
      (PgClient) =>
        PgClient.layer({
          url: typeof url === "string" ? Redacted.make(url) : url,
          maxConnections: 4
        }).pipe(Layer.mapError((e) => pgConnectError(typeof url === "string" ? url : Redacted.value(url), e)))
    )
  )

/** Where a Postgres URL points, for messages: `user@host:port/db` (never the password). */
const pgTarget = (url: string): string => {
  try {
    const u = new URL(url)
    return `${u.username === "" ? "" : `${decodeURIComponent(u.username)}@`}${u.hostname}:${u.port || "5432"}/${
      decodeURIComponent(u.pathname.slice(1))
    }`
  } catch {
    return "the given URL"
  }
}

/**
 * Which of the usual reasons stopped a connection (the driver reports them all as "Failed to connect"):
 * refused or unreachable port, wrong password, missing database, a timeout; the server's own words otherwise.
 */
const pgConnectError = (url: string, e: unknown): SinkError => {
  const cause = (e as { cause?: unknown })?.cause as { code?: string; message?: string } | undefined
  const code = cause?.code
  const reason = code === "ECONNREFUSED"
    ? "connection refused: is Postgres running and listening there?"
    : code === "ENOTFOUND" || code === "EAI_AGAIN"
    ? "host not found"
    : code === "28P01"
    ? "password authentication failed (wrong password for this user)"
    : code === "3D000"
    ? "that database does not exist (create it, or fix the name in the URL)"
    : code === "28000"
    ? `the server refused this user or host (${cause?.message ?? "pg_hba.conf"})`
    : /timed out/i.test(cause?.message ?? "")
    ? "no answer in time"
    : cause?.message ?? (e as Error)?.message ?? String(e)
  return new SinkError({
    sink: "postgres",
    operation: "connect",
    message: `postgres: cannot connect to ${pgTarget(url)}: ${redactUrlCredentials(reason)}`,
    cause: e
  })
}

/** Run migrations from a record with a dedicated bookkeeping table. */
export const migrate = (
  table: string,
  migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>>,
  sink: string
): Effect.Effect<void, SinkError, SqlClient.SqlClient> =>
  Migrator.make({})({ loader: Migrator.fromRecord(migrations), table }).pipe(
    Effect.asVoid,
    Effect.mapError((e) =>
      e instanceof SinkError
        ? e
        : new SinkError({ sink, operation: "migrate", message: `${sink}: migration failed: ${e.message}`, cause: e })
    )
  )

export const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))
export const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v))
