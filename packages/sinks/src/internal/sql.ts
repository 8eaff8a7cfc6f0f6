import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Migrator from "@effect/sql/Migrator"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { SinkError } from "../SinkError.js"
import { sinkError } from "./errors.js"

/** An SqlClient layer for a SQLite file (WAL, parent directory created). */
export const sqliteClientLayer = (filename: string): Layer.Layer<SqlClient.SqlClient, SinkError> =>
  Layer.unwrapEffect(
    Effect.try({
      try: () => {
        if (filename !== ":memory:") fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true })
        return SqliteClient.layer({ filename }).pipe(Layer.mapError(sinkError("sqlite", "open")))
      },
      catch: sinkError("sqlite", "open")
    })
  )

/** An SqlClient layer for a Postgres URL (the password is kept redacted). */
export const pgClientLayer = (url: string | Redacted.Redacted<string>): Layer.Layer<SqlClient.SqlClient, SinkError> =>
  PgClient.layer({
    url: typeof url === "string" ? Redacted.make(url) : url,
    maxConnections: 4
  }).pipe(Layer.mapError(sinkError("postgres", "connect")))

/** Run migrations from a record with a dedicated bookkeeping table. */
export const migrate = (
  table: string,
  migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>>,
  sink: string
): Effect.Effect<void, SinkError, SqlClient.SqlClient> =>
  Migrator.make({})({ loader: Migrator.fromRecord(migrations), table }).pipe(
    Effect.asVoid,
    Effect.mapError((e) =>
      e instanceof SinkError ? e : new SinkError({ sink, operation: "migrate", message: `${sink}: migration failed: ${e.message}`, cause: e })
    )
  )

export const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))
export const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v))
