import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Migrator from "@effect/sql/Migrator"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Cause from "effect/Cause"
import * as Layer from "effect/Layer"
import { SinkError } from "../SinkError.js"

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
