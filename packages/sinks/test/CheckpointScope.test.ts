/**
 * Exports into different folders sharing one checkpoint store: completed artifacts and dead letters are
 * each export's own (`forExport`), and a store created before they were (migration 6) keeps working for
 * the export that wrote its rows. Real SQLite and real Postgres.
 */
import { describe, expect, inject, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as path from "node:path"
import { CheckpointStore } from "../src/index.js"
import * as Migrations from "../src/internal/checkpointMigrations.js"
import { migrate } from "../src/internal/sql.js"
import { tempDir } from "./support/data.js"
import { freshPgDatabase, openSql } from "./support/db.js"

type Target = { readonly sqlite: string } | { readonly pg: string }

const openStore = (target: Target) =>
  "sqlite" in target ? CheckpointStore.makeSqlite(target.sqlite) : CheckpointStore.makePostgres(target.pg)

const completed = (id: string, organizerId: string, p: string) => ({
  kind: "recording" as const,
  id,
  meetingId: "m",
  organizerId,
  path: p,
  bytes: 10,
  sha256: "a".repeat(64)
})

const deadIds = (store: CheckpointStore.CheckpointStoreService, prefix: string) =>
  Effect.map(store.listDeadLetters(), (all) => all.filter((d) => d.id.startsWith(prefix)).map((d) => d.id))

const suite = (name: string, target: () => Effect.Effect<Target>) =>
  describe(`CheckpointStore shared by exports into other folders (${name})`, () => {
    it.scoped("each export keeps its own completed artifacts and dead letters", () =>
      Effect.gen(function*() {
        const store = yield* openStore(yield* target())
        const dir = tempDir()
        const a = store.forExport(CheckpointStore.exportScope(path.join(dir, "a")))
        const b = store.forExport(CheckpointStore.exportScope(path.join(dir, "b")))
        const id = `x-${Math.random()}`
        const orgB = `org-b-${Math.random()}`

        // A failed it, B exported it: A's dead letter stays A's to retry.
        yield* a.addDeadLetter({ kind: "recording", id, meetingId: "m", organizerId: "o", reason: "404", status: 404 })
        yield* b.markCompleted(completed(id, orgB, "o/m/b.mp4"))
        expect(yield* deadIds(a, id)).toEqual([id])
        expect(yield* deadIds(b, id)).toEqual([])
        expect(yield* a.getCompleted("recording", id)).toEqual(Option.none())
        expect((yield* a.getCompletedMany("recording", [id])).size).toBe(0)
        expect((yield* a.listCompleted({ meetingId: "m" })).some((c) => c.id === id)).toBe(false)
        expect(yield* a.listCompletedOrganizers).not.toContain(orgB)
        expect(yield* b.listCompletedOrganizers).toContain(orgB)
        // Listen: what B completed is new work for A.
        expect(yield* a.enqueuePending({ ...completed(id, "o", ""), subscriptionId: "s", resource: "r" }, 100))
          .toBe("queued")
        expect(yield* b.enqueuePending({ ...completed(id, "o", ""), subscriptionId: "s", resource: "r" }, 100))
          .toBe("completed")
        yield* a.removePending("recording", id)

        // A exports it too: its dead letter goes, each export keeps the facts of its own file.
        yield* a.markCompleted(completed(id, "o", "o/m/a.mp4"))
        expect(yield* deadIds(a, id)).toEqual([])
        expect(Option.getOrThrow(yield* a.getCompleted("recording", id)).path).toBe("o/m/a.mp4")
        expect(Option.getOrThrow(yield* b.getCompleted("recording", id)).path).toBe("o/m/b.mp4")

        // B failing it later neither counts A's attempts nor touches A's row.
        yield* b.addDeadLetter({ kind: "recording", id, meetingId: "m", organizerId: "o", reason: "503", status: 503 })
        expect((yield* b.listDeadLetters()).find((d) => d.id === id)?.attempts).toBe(1)
        yield* b.removeDeadLetter("recording", id)
        yield* a.addDeadLetter({ kind: "recording", id, meetingId: "m", organizerId: "o", reason: "503", status: 503 })
        expect(yield* deadIds(b, id)).toEqual([])
        expect((yield* a.listDeadLetters()).find((d) => d.id === id)?.attempts).toBe(1)
        // By run: the export's own dead letters of that run only.
        yield* a.addDeadLetter({ kind: "transcript", id, reason: "500", runId: `run-${id}` })
        yield* b.addDeadLetter({ kind: "recording", id: `${id}-b`, reason: "500", runId: `run-${id}` })
        expect((yield* a.listDeadLetters({ runId: `run-${id}` })).map((d) => [d.kind, d.id])).toEqual([
          ["transcript", id]
        ])
      }))

    it.scoped("listen's pending work is each export's own: another listener sharing the store neither takes nor hides it", () =>
      Effect.gen(function*() {
        const store = yield* openStore(yield* target())
        const dir = tempDir()
        const a = store.forExport(CheckpointStore.exportScope(path.join(dir, "a")))
        const b = store.forExport(CheckpointStore.exportScope(path.join(dir, "b")))
        const announced = (id: string) => ({ ...completed(id, "o", ""), subscriptionId: "s", resource: "r" })
        const pendingIds = (view: CheckpointStore.CheckpointStoreService) =>
          Effect.map(view.listPending(100), (all) => all.map((p) => p.id))

        yield* a.enqueuePending(announced("x"), 100)
        yield* a.deferPending("recording", "x", { notBefore: "2026-01-01T00:00:00.000Z", tries: 2, refusals: 1 })
        // B's listener does not see A's work, so its worker neither exports it into B nor removes it.
        expect(yield* pendingIds(b)).toEqual([])
        yield* b.removePending("recording", "x")
        yield* b.deferPending("recording", "x", { notBefore: "2026-02-01T00:00:00.000Z", tries: 9, refusals: 9 })
        // The same artifact announced to B is B's own work, not a duplicate of A's; each queue has its limit.
        expect(yield* b.enqueuePending(announced("x"), 100)).toBe("queued")
        expect(yield* b.enqueuePending(announced("y"), 1)).toBe("full")
        expect(yield* a.enqueuePending(announced("x"), 100)).toBe("duplicate")
        expect((yield* a.listPending(100)).map((p) => [p.id, p.tries, p.refusals, p.notBefore])).toEqual([
          ["x", 2, 1, "2026-01-01T00:00:00.000Z"]
        ])
        expect((yield* b.listPending(100)).map((p) => [p.id, p.tries])).toEqual([["x", 0]])
        yield* a.removePending("recording", "x")
        expect(yield* pendingIds(a)).toEqual([])
        expect(yield* pendingIds(b)).toEqual(["x"])
      }))

    it.scoped("a store created before exports had scopes: its rows keep working for the export that wrote them", () =>
      Effect.gen(function*() {
        const t = yield* target()
        // The schema as released before migration 6, with rows written by that version.
        yield* Effect.scoped(Effect.gen(function*() {
          const sql = yield* openSql(t)
          const before = Object.fromEntries(Object.entries(Migrations.migrations).filter(([k]) => parseInt(k) < 6))
          yield* migrate(Migrations.TABLE, before, "checkpoint").pipe(Effect.provideService(SqlClient.SqlClient, sql))
          yield* sql`INSERT INTO checkpoint_completed (kind, artifact_id, meeting_id, organizer_id, path, bytes, sha256,
              content_type, cues, run_id, completed_at)
            VALUES ('recording', 'done', 'm', 'org-old', 'org-old/m/done.mp4', 5368709127, ${"b".repeat(64)},
              'video/mp4', NULL, 'run-old', '2026-01-01T00:00:00.000Z')`.pipe(Effect.orDie)
          yield* sql`INSERT INTO listen_pending (kind, artifact_id, meeting_id, organizer_id, subscription_id, resource,
              received_at, not_before, tries, refusals)
            VALUES ('transcript', 'announced', 'm', 'org-old', 's', 'r', '2026-01-01T00:00:00.000Z', NULL, 2, 1)`
            .pipe(Effect.orDie)
          for (const id of ["failed", "failed-too"]) {
            yield* sql`INSERT INTO checkpoint_dead_letters (kind, artifact_id, meeting_id, source, organizer_id, reason,
                status, code, request_id, run_id, attempts, at)
              VALUES ('transcript', ${id}, 'call', 'adhocCall', 'org-old', '404', 404, 'NotFound', 'q', 'run-old', 3,
                '2026-01-01T00:00:00.000Z')`.pipe(Effect.orDie)
          }
        }))

        const store = yield* openStore(t)
        const a = store.forExport(CheckpointStore.exportScope("/exports/a"))
        const b = store.forExport(CheckpointStore.exportScope("/exports/b"))
        // Every field survived the copy; the export that wrote them (whichever it was) sees them as its own.
        for (const view of [store, a]) {
          expect(Option.getOrThrow(yield* view.getCompleted("recording", "done"))).toMatchObject({
            meetingId: "m",
            organizerId: "org-old",
            path: "org-old/m/done.mp4",
            bytes: 5368709127,
            contentType: "video/mp4",
            runId: "run-old",
            completedAt: "2026-01-01T00:00:00.000Z"
          })
          expect((yield* view.listDeadLetters()).find((d) => d.id === "failed")).toMatchObject({
            kind: "transcript",
            meetingId: "call",
            source: "adhocCall",
            organizerId: "org-old",
            status: 404,
            code: "NotFound",
            attempts: 3
          })
          expect(yield* view.listCompletedOrganizers).toContain("org-old")
        }

        // A notification for an artifact with only an old completed row is work (the row may be another
        // folder's; the worker skips it when the folder has the file), not dropped as exported.
        expect(yield* a.enqueuePending({ ...completed("done", "org-old", ""), subscriptionId: "s", resource: "r" }, 10))
          .toBe("queued")
        yield* a.removePending("recording", "done")
        // Pending work from before is any listener's to take (one listener used the store), once.
        expect((yield* a.listPending(10)).map((p) => [p.id, p.tries, p.refusals])).toEqual([["announced", 2, 1]])
        // A listener told of it again claims it (not a "duplicate" another listener could then take away):
        // it is B's own from here, listed once with its retries, and A neither lists nor removes it.
        const announced = { ...completed("announced", "o", ""), kind: "transcript" as const, subscriptionId: "s" }
        expect(yield* b.enqueuePending({ ...announced, resource: "r" }, 10)).toBe("queued")
        expect(yield* a.listPending(10)).toEqual([])
        yield* a.removePending("transcript", "announced")
        expect((yield* b.listPending(10)).map((p) => [p.id, p.tries, p.refusals])).toEqual([["announced", 2, 1]])
        expect(yield* b.enqueuePending({ ...announced, resource: "r" }, 10)).toBe("duplicate")
        yield* b.removePending("transcript", "announced")
        expect(yield* b.listPending(10)).toEqual([])

        // B exporting an old dead letter does not drop it for the others (A may be the one that failed it).
        yield* b.markCompleted({ ...completed("failed", "org-old", "b.vtt"), kind: "transcript" })
        expect(yield* deadIds(b, "failed")).toEqual(["failed-too"])
        expect(yield* deadIds(a, "failed")).toEqual(["failed", "failed-too"])
        // A exporting it ends A's retries of it; A failing the other again counts A's own attempts from here.
        yield* a.markCompleted({ ...completed("failed", "org-old", "a.vtt"), kind: "transcript" })
        yield* a.addDeadLetter({ kind: "transcript", id: "failed-too", meetingId: "call", reason: "503" })
        const left = (yield* a.listDeadLetters()).filter((d) => d.id.startsWith("failed"))
        expect(left.map((d) => [d.id, d.attempts, d.reason])).toEqual([["failed-too", 1, "503"]])
        // A store opened again does not migrate twice.
        const again = yield* openStore(t)
        expect(yield* deadIds(again.forExport(CheckpointStore.exportScope("/exports/a")), "failed")).toEqual([
          "failed-too"
        ])
      }))
  })

suite("sqlite", () => Effect.sync(() => ({ sqlite: path.join(tempDir(), "state.sqlite") })))
suite("postgres", () => Effect.map(freshPgDatabase(inject("pgUrl")), (pg) => ({ pg })))

describe("CheckpointStore.exportScope", () => {
  it("names one folder however its path is written, and another folder otherwise", () => {
    const dir = tempDir()
    const scope = CheckpointStore.exportScope(path.join(dir, "a"))
    expect(CheckpointStore.exportScope(`${dir}/b/../a/`)).toBe(scope)
    expect(CheckpointStore.exportScope(path.relative(process.cwd(), path.join(dir, "a")))).toBe(scope)
    expect(CheckpointStore.exportScope(path.join(dir, "b"))).not.toBe(scope)
    expect(scope).not.toBe(CheckpointStore.UNSCOPED)
  })
})
