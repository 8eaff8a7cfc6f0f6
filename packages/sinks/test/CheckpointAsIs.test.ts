/**
 * `layerPostgresAsIs`, a dry run's Postgres store: read as it is, nothing created or upgraded (real Postgres).
 */
import { describe, expect, inject, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { CheckpointStore } from "../src/index.js"
import * as Migrations from "../src/internal/checkpointMigrations.js"
import { migrate } from "../src/internal/sql.js"
import { freshPgDatabase, openSql } from "./support/db.js"

const asIs = (pg: string) =>
  Effect.map(Layer.build(CheckpointStore.layerPostgresAsIs(pg)), Context.get(CheckpointStore.CheckpointStore))

/** The store's migrations the database has run (none without the bookkeeping table). */
const migrationsRun = (pg: string) =>
  Effect.scoped(Effect.gen(function*() {
    const sql = yield* openSql({ pg })
    const [row] = yield* sql<{ readonly t: string | null }>`SELECT to_regclass('checkpoint_migrations') AS t`
    if (row?.t == null) return []
    const ran = yield* sql<{ readonly id: number }>`SELECT migration_id AS id FROM checkpoint_migrations ORDER BY 1`
    return ran.map((r) => Number(r.id))
  })).pipe(Effect.orDie)

const done = {
  kind: "recording" as const,
  id: "r1",
  meetingId: "m",
  organizerId: "o",
  path: "o/m/r1.mp4",
  bytes: 5,
  sha256: "a".repeat(64)
}

describe("CheckpointStore.layerPostgresAsIs", () => {
  it.live("reads a database no run has used as an empty store, and creates nothing in it", () =>
    Effect.gen(function*() {
      const pg = yield* freshPgDatabase(inject("pgUrl"))
      const found = yield* Effect.scoped(Effect.flatMap(asIs(pg), (store) => store.getCompleted("recording", "r1")))
      expect(Option.isNone(found)).toBe(true)
      expect(yield* migrationsRun(pg)).toEqual([])
    }))

  it.live("refuses a store from before export scopes (upgrading it is a write), and leaves it as it was", () =>
    Effect.gen(function*() {
      const pg = yield* freshPgDatabase(inject("pgUrl"))
      const before = Object.fromEntries(Object.entries(Migrations.migrations).filter(([k]) => parseInt(k) < 6))
      yield* Effect.scoped(Effect.flatMap(
        openSql({ pg }),
        (sql) => migrate(Migrations.TABLE, before, "checkpoint").pipe(Effect.provideService(SqlClient.SqlClient, sql))
      ))
      const opened = yield* Effect.scoped(asIs(pg)).pipe(Effect.flip)
      expect(opened._tag).toBe("SinkError")
      expect(opened.message).toMatch(/older than this release's \(5 of \d+ migrations\).*run once without --dry-run/)
      expect(yield* migrationsRun(pg)).toEqual([1, 2, 3, 4, 5])
    }))

  it.live("reads a current store", () =>
    Effect.gen(function*() {
      const pg = yield* freshPgDatabase(inject("pgUrl"))
      yield* Effect.scoped(Effect.flatMap(CheckpointStore.makePostgres(pg), (store) => store.markCompleted(done)))
      const found = yield* Effect.scoped(Effect.flatMap(asIs(pg), (store) => store.getCompleted("recording", "r1")))
      expect(Option.map(found, (a) => a.path)).toEqual(Option.some(done.path))
    }))
})
