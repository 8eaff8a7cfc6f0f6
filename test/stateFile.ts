/**
 * A sync's SQLite state file, read or rewritten directly by a test (as an older release left it, or to
 * look at its rows).
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

export const withStateFile = <A>(file: string, body: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(
    Effect.flatMap(SqlClient.SqlClient, body).pipe(Effect.provide(SqliteClient.layer({ filename: file })))
  )

/**
 * Puts a state file back into the shape the release before export scopes (migration 6) left on disk, with
 * its rows, so that the next run upgrades it: completed artifacts, dead letters and listen's pending work
 * without `export_scope`.
 */
export const asBeforeExportScopes = (file: string) =>
  withStateFile(file, (sql) =>
    Effect.gen(function*() {
      const columns = (table: string) =>
        Effect.map(
          sql<{ readonly name: string }>`SELECT name FROM pragma_table_info(${table})`,
          (rows) => rows.map((r) => r.name).filter((n) => n !== "export_scope").join(", ")
        )
      for (const table of ["checkpoint_completed", "checkpoint_dead_letters", "listen_pending"]) {
        const cols = yield* columns(table)
        yield* sql.unsafe(`CREATE TABLE ${table}_before AS SELECT ${cols} FROM ${table}`)
        yield* sql.unsafe(`DROP TABLE ${table}`)
        yield* sql.unsafe(`ALTER TABLE ${table}_before RENAME TO ${table}`)
      }
      yield* sql`DELETE FROM checkpoint_migrations WHERE migration_id >= 6`
    }))
