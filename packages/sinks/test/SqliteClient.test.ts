/**
 * The SQLite client the checkpoint store and the SQL record sink open: a real database file.
 */
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as path from "node:path"
import { sqliteClientLayer } from "../src/internal/sql.js"
import { tempDir } from "./support/data.js"

describe("sqliteClientLayer", () => {
  // A group commit's multi-row upsert keeps a statement journal; kept on disk, SQLite spills it past
  // 64 KiB into a temporary file of its own (created, unlinked, written page by page) per commit.
  it.scoped("keeps temporary storage, statement journals included, in memory", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "state.sqlite")
      const sql = Context.get(yield* Layer.build(sqliteClientLayer(file)), SqlClient.SqlClient)
      const rows = yield* sql.unsafe<{ readonly temp_store: number }>("PRAGMA temp_store")
      // 2: MEMORY (0, the default, leaves it to the build, whose default is a file)
      expect(rows[0]?.temp_store).toBe(2)
    }))

  // The driver's default: FULL for the connection that switched a new file to WAL, NORMAL for every later one.
  it.scoped("syncs each commit (synchronous FULL, WAL) when it creates the file and on every later open", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "state.sqlite")
      const FULL = 2
      for (let open = 0; open < 2; open++) {
        const settings = yield* Effect.scoped(Effect.gen(function*() {
          const sql = Context.get(yield* Layer.build(sqliteClientLayer(file)), SqlClient.SqlClient)
          yield* sql.unsafe("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
          yield* sql.unsafe("INSERT INTO t VALUES (1)")
          const [mode] = yield* sql.unsafe<{ readonly journal_mode: string }>("PRAGMA journal_mode")
          const [sync] = yield* sql.unsafe<{ readonly synchronous: number }>("PRAGMA synchronous")
          return { journal: mode?.journal_mode, synchronous: sync?.synchronous }
        }))
        expect(settings).toEqual({ journal: "wal", synchronous: FULL })
      }
    }))
})
