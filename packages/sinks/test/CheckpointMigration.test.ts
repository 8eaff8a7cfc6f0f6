/**
 * Processes opening one checkpoint store at the same time (runners of a cluster, a sync and a listen
 * started together right after an upgrade): the store's migrations run once, in one of them, and the others
 * wait for it and go on with the migrated store. Real SQLite (child processes) and real Postgres (a pool,
 * so a session, each).
 */
import { describe, expect, inject, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { CheckpointStore } from "../src/index.js"
import * as Migrations from "../src/internal/checkpointMigrations.js"
import { migrate } from "../src/internal/sql.js"
import { tempDir } from "./support/data.js"
import { count, freshPgDatabase, openSql } from "./support/db.js"
import { useAsExport } from "./support/exportUse.js"

type Target = { readonly sqlite: string } | { readonly pg: string }

const here = path.dirname(fileURLToPath(import.meta.url))
const fixture = path.join(here, "fixtures/checkpoint-open.ts")

const openStore = (t: Target) =>
  "sqlite" in t ? CheckpointStore.makeSqlite(t.sqlite) : CheckpointStore.makePostgres(t.pg)

/** Old rows: enough that copying them into migration 6's tables takes the others a while to wait out. */
const OLD_COMPLETED = 20_000
const OLD_DEAD = 2_000

/** A store as the release before migration 6 left it, with rows of that release. */
const storeBefore6 = (t: Target) =>
  Effect.scoped(Effect.gen(function*() {
    const sql = yield* openSql(t)
    const before = Object.fromEntries(Object.entries(Migrations.migrations).filter(([k]) => parseInt(k) < 6))
    yield* migrate(Migrations.TABLE, before, "checkpoint").pipe(Effect.provideService(SqlClient.SqlClient, sql))
    for (let i = 0; i < OLD_COMPLETED; i += 500) {
      const ids = Array.from({ length: 500 }, (_, j) => `old-${i + j}`)
      yield* sql`INSERT INTO checkpoint_completed ${
        sql.insert(ids.map((id) => ({
          kind: "recording",
          artifact_id: id,
          meeting_id: "m",
          organizer_id: "o",
          path: `o/m/${id}.mp4`,
          bytes: 1,
          sha256: "a".repeat(64),
          completed_at: "2026-01-01T00:00:00.000Z"
        })))
      }`
      if (i < OLD_DEAD) {
        yield* sql`INSERT INTO checkpoint_dead_letters ${
          sql.insert(ids.map((id) => ({
            kind: "transcript",
            artifact_id: id,
            meeting_id: "m",
            organizer_id: "o",
            reason: "503",
            attempts: 1,
            at: "2026-01-01T00:00:00.000Z"
          })))
        }`
      }
    }
  })).pipe(Effect.orDie)

/** Every migration replaced by a defect: a store opened with these must not run any of them. */
const failingMigrations = Object.fromEntries(
  Object.keys(Migrations.migrations).map((k) => [k, Effect.dieMessage(`migration ${k} ran`)])
)

/** The tables, columns and indexes of a database, comparable across two databases of one dialect. */
const schemaOf = (sql: SqlClient.SqlClient) =>
  sql.onDialectOrElse({
    pg: () =>
      Effect.all({
        columns: sql`SELECT table_name, ordinal_position, column_name, data_type, is_nullable, column_default
          FROM information_schema.columns WHERE table_schema = current_schema()
          ORDER BY table_name, ordinal_position`,
        // An index's own name aside (a primary key keeps the name of the table it was created in).
        indexes: Effect.map(
          sql<{ readonly tablename: string; readonly indexdef: string }>`SELECT tablename, indexdef FROM pg_indexes
            WHERE schemaname = current_schema()`,
          (rows) => rows.map((r) => `${r.tablename}: ${r.indexdef.replace(/INDEX \S+ ON/, "INDEX ON")}`).sort()
        )
      }),
    orElse: () =>
      Effect.gen(function*() {
        const tables = yield* sql<{ readonly name: string }>`SELECT name FROM sqlite_master
          WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
        const out: Record<string, unknown> = {}
        for (const { name } of tables) {
          const indexes = yield* sql.unsafe<{ name: string; unique: number; origin: string; partial: number }>(
            `PRAGMA index_list(${name})`
          )
          out[name] = {
            columns: yield* sql.unsafe(`PRAGMA table_info(${name})`),
            indexes: (yield* Effect.forEach(indexes, (i) =>
              Effect.map(sql.unsafe<{ name: string }>(`PRAGMA index_info(${i.name})`), (cols) =>
                // Automatic (primary key) indexes are named after the table they were created in.
                `${i.origin === "c" ? i.name : i.origin} unique=${i.unique} partial=${i.partial} (${
                  cols.map((c) => c.name).join(", ")
                })`))).sort()
          }
        }
        return out
      })
  }).pipe(Effect.orDie)

const migrationRows = (sql: SqlClient.SqlClient) =>
  sql`SELECT migration_id, name FROM checkpoint_migrations ORDER BY migration_id`.pipe(
    Effect.map((rows) => rows.map((r: any) => [Number(r.migration_id), r.name])),
    Effect.orDie
  )

interface Opened {
  readonly code: number | null
  readonly result: {
    readonly ok: boolean
    readonly completed?: number
    readonly dead?: number
    readonly error?: string
  }
}

/**
 * Opens `t` once per `outs`, all at the same instant, each as its export would use it. SQLite: one child
 * process each (a connection waiting for SQLite's lock blocks its whole process). Postgres: one pool each
 * in this process (a session each, as processes would have).
 */
const openTogether = (t: Target, outs: ReadonlyArray<string>): Effect.Effect<Array<Opened>> =>
  "sqlite" in t
    ? Effect.promise(() => inChildren(t.sqlite, outs))
    : Effect.forEach(outs, (out) =>
      useAsExport(t.pg, out).pipe(
        Effect.match({
          onFailure: (e): Opened => ({ code: 1, result: { ok: false, error: e.message } }),
          onSuccess: (seen): Opened => ({ code: 0, result: { ok: true, ...seen } })
        })
      ), { concurrency: "unbounded" })

/** Starts one child per `outs`, lets them all open `state` at once, and waits for them. */
const inChildren = (state: string, outs: ReadonlyArray<string>): Promise<Array<Opened>> => {
  const children = outs.map((out) => {
    const child = spawn(process.execPath, ["--import", "tsx", fixture, state, out], {
      stdio: ["pipe", "pipe", "pipe"],
      cwd: path.resolve(here, "..")
    })
    let stdout = ""
    let stderr = ""
    const ready = new Promise<void>((resolve) =>
      child.stdout.on("data", (d) => {
        stdout += String(d)
        if (stdout.startsWith("ready\n")) resolve()
      })
    )
    child.stderr.on("data", (d) => (stderr += String(d)))
    const exited = new Promise<Opened>((resolve, reject) => {
      child.on("error", reject)
      child.on("exit", (code) => {
        const line = stdout.split("\n").find((l) => l.startsWith("{"))
        resolve({ code, result: line ? JSON.parse(line) : { ok: false, error: stderr } })
      })
    })
    return { child, ready, exited }
  })
  return Promise.all(children.map((c) => c.ready)).then(() => {
    for (const c of children) c.child.stdin.end("go\n")
    return Promise.all(children.map((c) => c.exited))
  })
}

const suite = (name: string, target: () => Effect.Effect<Target>, opts: { readonly newStore: boolean }) =>
  describe(`CheckpointStore opened by several processes at once (${name})`, () => {
    it.live(
      "a store from before migration 6: migrated once, every process goes on with it",
      () =>
        Effect.gen(function*() {
          const t = yield* target()
          yield* storeBefore6(t)
          const dir = tempDir()
          const outs = ["a", "b", "c"].map((o) => path.join(dir, o))
          const opened = yield* openTogether(t, outs)
          // Each saw the old rows (as every export does) and wrote its own.
          expect(opened.map((o) => o.result)).toEqual(outs.map(() => ({ ok: true, completed: 2, dead: OLD_DEAD })))
          expect(opened.map((o) => o.code)).toEqual([0, 0, 0])
          yield* Effect.scoped(Effect.gen(function*() {
            const sql = yield* openSql(t)
            const ran = yield* sql<{ readonly migration_id: number }>`SELECT migration_id FROM checkpoint_migrations
            ORDER BY migration_id`.pipe(Effect.orDie)
            expect(ran.map((r) => Number(r.migration_id))).toEqual(
              Object.keys(Migrations.migrations).map((k) => parseInt(k))
            )
            // Copied once: no row lost or doubled.
            expect(yield* count(sql, "checkpoint_completed")).toBe(OLD_COMPLETED + outs.length)
            expect(yield* count(sql, "checkpoint_completed", `export_scope = '${CheckpointStore.UNSCOPED}'`)).toBe(
              OLD_COMPLETED
            )
            expect(yield* count(sql, "checkpoint_dead_letters", `export_scope = '${CheckpointStore.UNSCOPED}'`)).toBe(
              OLD_DEAD
            )
          }))
        }),
      120_000
    )

    // A run of the earlier version holds the store's lock (SQLite: its row with a live lease; Postgres: the
    // session advisory lock and the row): its statements would fail on the new tables mid-run.
    it.live("a store in use by a run of an earlier version is not upgraded under it", () =>
      Effect.gen(function*() {
        const t = yield* target()
        yield* storeBefore6(t)
        const now = new Date().toISOString()
        const opened = yield* Effect.scoped(Effect.gen(function*() {
          const sql = yield* openSql(t)
          if ("pg" in t) {
            const conn = yield* Effect.orDie(sql.reserve)
            yield* conn.execute("SELECT pg_advisory_lock(hashtext('meeting-artifacts/sync'))", [], undefined).pipe(
              Effect.orDie
            )
          }
          yield* sql`INSERT INTO checkpoint_lock (name, token, pid, host, started_at, renewed_at)
            VALUES ('sync', 'earlier', ${process.pid}, ${os.hostname()}, ${now}, ${now})`.pipe(Effect.orDie)
          return yield* Effect.either(Effect.scoped(openStore(t)))
        }))
        expect(opened._tag).toBe("Left")
        expect(String((opened as any).left.message)).toContain(`pid ${process.pid} on host ${os.hostname()}`)
        yield* Effect.scoped(Effect.gen(function*() {
          const sql = yield* openSql(t)
          expect(yield* count(sql, "checkpoint_migrations")).toBe(5)
          // That run ended: the next one upgrades the store.
          yield* sql`DELETE FROM checkpoint_lock`.pipe(Effect.orDie)
        }))
        expect((yield* Effect.scoped(Effect.flatMap(openStore(t), (s) => s.listDeadLetters()))).length).toBe(OLD_DEAD)
      }), 120_000)

    // A new store (every first run into a new folder) gets the final schema in one step: no migration runs,
    // and it is the store the migrations 1..7 make one after another.
    it.live("a new store is made in one step, the same as one migrated 1..7", () =>
      Effect.gen(function*() {
        const oneStep = yield* target()
        const migrated = yield* target()
        const schemas = yield* Effect.forEach([
          { t: oneStep, migrations: failingMigrations, fresh: Migrations.fresh },
          { t: migrated, migrations: Migrations.migrations, fresh: undefined }
        ], ({ fresh, migrations, t }) =>
          Effect.scoped(Effect.gen(function*() {
            const sql = yield* openSql(t)
            yield* migrate(Migrations.TABLE, migrations, "checkpoint", Effect.void, fresh).pipe(
              Effect.provideService(SqlClient.SqlClient, sql),
              Effect.orDie
            )
            return { schema: yield* schemaOf(sql), rows: yield* migrationRows(sql) }
          })))
        expect(schemas[0]).toEqual(schemas[1])
        expect(schemas[1]!.rows.map(([id]) => id)).toEqual([1, 2, 3, 4, 5, 6, 7])
        expect(Object.keys(schemas[1]!.schema)).not.toHaveLength(0)
        // and the store works on it
        const dead = yield* Effect.scoped(Effect.flatMap(openStore(oneStep), (s) => s.listDeadLetters()))
        expect(dead).toEqual([])
      }), 120_000)

    // A database that has one of the store's tables but no migrations recorded is migrated as before.
    it.live(
      "a database with one of the store's tables is migrated, not made in one step",
      () =>
        Effect.gen(function*() {
          const t = yield* target()
          const exit = yield* Effect.scoped(Effect.gen(function*() {
            const sql = yield* openSql(t)
            yield* sql`CREATE TABLE checkpoint_runs (run_id TEXT PRIMARY KEY)`.pipe(Effect.orDie)
            return yield* Effect.exit(
              migrate(Migrations.TABLE, failingMigrations, "checkpoint", Effect.void, Migrations.fresh).pipe(
                Effect.provideService(SqlClient.SqlClient, sql)
              )
            )
          }))
          expect(String(exit)).toContain("migration 1_checkpoint ran")
        }),
      120_000
    )

    // Postgres: the Migrator's first statement on a new database is CREATE TABLE, which two sessions could
    // both run (one failed). (SQLite's CREATE TABLE IF NOT EXISTS waits for the write lock.)
    if (opts.newStore) {
      it.live("a new store: created once, every process goes on with it", () =>
        Effect.gen(function*() {
          // A few new databases: the lost race needs two sessions between the look-up and the CREATE.
          for (let round = 0; round < 4; round++) {
            const t = yield* target()
            const dir = tempDir()
            const outs = Array.from({ length: 8 }, (_, i) => path.join(dir, `out-${i}`))
            const opened = yield* openTogether(t, outs)
            expect(opened.map((o) => o.result)).toEqual(outs.map(() => ({ ok: true, completed: 0, dead: 0 })))
            yield* Effect.scoped(Effect.gen(function*() {
              const sql = yield* openSql(t)
              expect(yield* count(sql, "checkpoint_migrations")).toBe(Object.keys(Migrations.migrations).length)
              expect(yield* count(sql, "checkpoint_completed")).toBe(outs.length)
            }))
          }
        }), 120_000)
    }
  })

suite("sqlite", () => Effect.sync(() => ({ sqlite: path.join(tempDir(), "state.sqlite") })), { newStore: false })
suite("postgres", () => Effect.map(freshPgDatabase(inject("pgUrl")), (pg) => ({ pg })), { newStore: true })
