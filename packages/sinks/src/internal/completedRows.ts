/**
 * The checkpoint store's group commit of completed rows, as plain statements on the transaction's
 * connection. A sync commits a batch of a dozen rows every few milliseconds; through the `sql` template
 * each of its two statements was compiled again (a few hundred placeholders), given a span and its
 * connection looked up, which cost several times what SQLite spends on the rows. Here each batch size's
 * text is compiled once (by the client's own compiler, so placeholders follow its dialect) and the
 * values are laid out in the same order.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** A row of `checkpoint_completed`, with the export it belongs to. */
export interface CompletedRow {
  readonly kind: string
  readonly id: string
  readonly exportScope: string
  readonly meetingId: string
  readonly organizerId: string
  readonly path: string
  readonly bytes: number
  readonly sha256: string
  readonly contentType?: string | null | undefined
  readonly cues?: number | null | undefined
  readonly runId?: string | null | undefined
}

/** The columns of an upsert, in the order its values are bound. */
const COLUMNS = [
  "kind",
  "artifact_id",
  "export_scope",
  "meeting_id",
  "organizer_id",
  "path",
  "bytes",
  "sha256",
  "content_type",
  "cues",
  "run_id",
  "completed_at"
] as const

/** The upsert's and the dead-letter delete's text for `n` rows (compiled with placeholders only). */
const compileTexts = (sql: SqlClient.SqlClient, n: number): readonly [upsert: string, drop: string] => {
  const blank = Object.fromEntries(COLUMNS.map((c) => [c, null]))
  const rows = Array.from({ length: n }, () => blank)
  const [upsert] = sql`INSERT INTO checkpoint_completed ${sql.insert(rows)}
    ON CONFLICT (kind, artifact_id, export_scope) DO UPDATE SET meeting_id = excluded.meeting_id,
      organizer_id = excluded.organizer_id, path = excluded.path, bytes = excluded.bytes, sha256 = excluded.sha256,
      content_type = excluded.content_type, cues = excluded.cues, run_id = excluded.run_id,
      completed_at = excluded.completed_at`.compile()
  const [drop] = sql`DELETE FROM checkpoint_dead_letters WHERE ${
    sql.or(rows.map(() => sql`(kind = ${null} AND artifact_id = ${null} AND export_scope = ${null})`))
  }`.compile()
  return [upsert, drop]
}

/** Rows per statement (12 bound values each): well under what SQLite (32766) and Postgres (65535) accept. */
const CHUNK = 200

/**
 * `write(rows, at)`: in one transaction, upserts `rows` (at most one per export + kind + id) into
 * `checkpoint_completed` with `completed_at = at` and drops their export's dead letters; one statement of
 * each per `CHUNK` rows.
 */
export const make = (sql: SqlClient.SqlClient) => {
  const texts = new Map<number, readonly [upsert: string, drop: string]>()
  const textsFor = (n: number) => {
    let found = texts.get(n)
    if (found === undefined) {
      found = compileTexts(sql, n)
      texts.set(n, found)
    }
    return found
  }
  const writeChunk = (conn: Connection, rows: ReadonlyArray<CompletedRow>, at: string) =>
    Effect.suspend(() => {
      const [upsert, drop] = textsFor(rows.length)
      const values: Array<unknown> = []
      const keys: Array<unknown> = []
      for (const a of rows) {
        values.push(
          a.kind,
          a.id,
          a.exportScope,
          a.meetingId,
          a.organizerId,
          a.path,
          a.bytes,
          a.sha256,
          a.contentType ?? null,
          a.cues ?? null,
          a.runId ?? null,
          at
        )
        keys.push(a.kind, a.id, a.exportScope)
      }
      return Effect.zipRight(conn.execute(upsert, values, undefined), conn.execute(drop, keys, undefined))
    })
  return (rows: ReadonlyArray<CompletedRow>, at: string): Effect.Effect<void, SqlError> =>
    sql.withTransaction(Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (open) => {
      // (withTransaction always provides it; the type cannot say so)
      if (Option.isNone(open)) return Effect.dieMessage("completedRows: no transaction connection")
      const [conn] = open.value
      if (rows.length <= CHUNK) return writeChunk(conn, rows, at)
      const chunks: Array<ReadonlyArray<CompletedRow>> = []
      for (let i = 0; i < rows.length; i += CHUNK) chunks.push(rows.slice(i, i + CHUNK))
      return Effect.forEach(chunks, (chunk) => writeChunk(conn, chunk, at), { discard: true })
    }))
}
