/**
 * A SQLite file's commits are synced in every run, not only in the one that created it (the driver's
 * default is FULL for the connection that switched a new file to WAL and NORMAL for every later one).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { sqliteClientLayer } from "../src/internal/sql.js"

const pragmas = (file: string) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
      yield* sql.unsafe("INSERT INTO t VALUES (1)")
      const [mode] = yield* sql.unsafe<{ journal_mode: string }>("PRAGMA journal_mode")
      const [sync] = yield* sql.unsafe<{ synchronous: number }>("PRAGMA synchronous")
      return { journal: mode!.journal_mode, synchronous: sync!.synchronous }
    }).pipe(Effect.provide(sqliteClientLayer(file)), Effect.scoped)
  )

describe("a SQLite file", () => {
  it("syncs each commit (synchronous FULL, WAL) when it is created and on every later open", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ma-sqlite-durable-"))
    try {
      const file = path.join(dir, "state.sqlite")
      const FULL = 2
      expect(await pragmas(file)).toEqual({ journal: "wal", synchronous: FULL })
      expect(await pragmas(file)).toEqual({ journal: "wal", synchronous: FULL })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
