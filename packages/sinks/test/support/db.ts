import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"

/** A fresh Postgres database on the test server; returns its URL. */
export const freshPgDatabase = (serverUrl: string) =>
  Effect.scoped(
    Effect.gen(function*() {
      const ctx = yield* Layer.build(PgClient.layer({ url: Redacted.make(serverUrl) }))
      const sql = Context.get(ctx, SqlClient.SqlClient)
      const name = `ma_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`
      yield* sql.unsafe(`CREATE DATABASE ${name}`)
      const u = new URL(serverUrl)
      u.pathname = `/${name}`
      return u.toString()
    })
  ).pipe(Effect.orDie)

/** An SqlClient to inspect a database (scoped). */
export const openSql = (target: { readonly sqlite: string } | { readonly pg: string }) =>
  Effect.map(
    Layer.build(
      "sqlite" in target
        ? (SqliteClient.layer({ filename: target.sqlite }) as Layer.Layer<SqlClient.SqlClient, unknown>)
        : (PgClient.layer({ url: Redacted.make(target.pg) }) as Layer.Layer<SqlClient.SqlClient, unknown>)
    ),
    Context.get(SqlClient.SqlClient)
  ).pipe(Effect.orDie)

export const count = (sql: SqlClient.SqlClient, table: string, where = "1 = 1") =>
  Effect.map(
    sql.unsafe<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`),
    (r) => Number(r[0]!.n)
  )
    .pipe(Effect.orDie)
