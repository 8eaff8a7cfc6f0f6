import { describe, expect, inject, it } from "@effect/vitest"
import * as path from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as os from "node:os"
import * as Schedule from "effect/Schedule"
import { CheckpointStore, RunLock } from "../src/index.js"
import { runAndKill } from "./support/child.js"
import { tempDir } from "./support/data.js"
import { openSql } from "./support/db.js"
import { freePort } from "./support/servers.js"

const key = {
  organizerId: "org-1",
  windowFrom: "2026-01-01T00:00:00Z",
  windowTo: "2026-02-01T00:00:00Z",
  kind: "recordings"
}

const suite = (name: string, layer: () => Layer.Layer<CheckpointStore.CheckpointStore, unknown>) =>
  describe(`CheckpointStore (${name})`, () => {
    it.scoped("progress and delta links per organizer + window + kind", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore.CheckpointStore
        const k = { ...key, organizerId: `org-${Math.random()}` }
        expect(yield* store.getProgress(k)).toEqual(Option.none())
        yield* store.setProgress(k, { status: "running", items: 3 })
        yield* store.setDeltaLink(k, "https://graph/delta?token=1")
        yield* store.setProgress({ ...k, kind: "transcripts" }, { status: "done" })
        const p = Option.getOrThrow(yield* store.getProgress(k))
        expect(p).toMatchObject({ ...k, status: "running", items: 3, deltaLink: "https://graph/delta?token=1" })
        expect(yield* store.getDeltaLink(k)).toEqual(Option.some("https://graph/delta?token=1"))
        expect(yield* store.getDeltaLink({ ...k, kind: "transcripts" })).toEqual(Option.none())
        expect(yield* store.getDeltaLink({ ...k, windowTo: "2026-03-01T00:00:00Z" })).toEqual(Option.none())
        yield* store.setProgress(k, { status: "done" })
        expect(Option.getOrThrow(yield* store.getProgress(k)).deltaLink).toBe("https://graph/delta?token=1")
      }).pipe(Effect.provide(layer())))

    it.scoped("marks committed together: one row per artifact (the last mark wins), their dead letters dropped", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore.CheckpointStore
        const prefix = `batch-${Math.random()}-`
        const ids = Array.from({ length: 450 }, (_, i) => `${prefix}${i}`)
        // dead letters of every third artifact, and one of an artifact that stays failed
        for (const id of [...ids.filter((_, i) => i % 3 === 0), `${prefix}failed`]) {
          yield* store.addDeadLetter({ kind: "transcript", id, meetingId: "m", reason: "503", status: 503 })
        }
        // every column its own value, so a value bound to the wrong column shows
        const mark = (id: string, path: string) =>
          store.markCompleted({
            kind: "transcript",
            id,
            meetingId: `m-${id}`,
            organizerId: `o-${id}`,
            path,
            bytes: id.length,
            sha256: `s-${id}`,
            contentType: `t-${id}`,
            cues: id.length + 1,
            runId: `run-${id}`
          })
        // Started in one go: they share transactions, more rows than one statement takes, and the same
        // artifact twice (a multi-row upsert that touched a row twice would fail on Postgres).
        yield* Effect.all(
          ids.flatMap((id, i) => i === 7 ? [mark(id, `first/${id}`), mark(id, "again/7")] : [mark(id, `first/${id}`)]),
          { concurrency: "unbounded", discard: true }
        )
        const rows = yield* store.getCompletedMany("transcript", ids)
        expect(rows.size).toBe(ids.length)
        expect(rows.get(ids[7]!)?.path).toBe("again/7")
        const eighth = ids[8]!
        expect(rows.get(eighth)).toEqual({
          kind: "transcript",
          id: eighth,
          meetingId: `m-${eighth}`,
          organizerId: `o-${eighth}`,
          path: `first/${eighth}`,
          bytes: eighth.length,
          sha256: `s-${eighth}`,
          contentType: `t-${eighth}`,
          cues: eighth.length + 1,
          runId: `run-${eighth}`,
          completedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/)
        })
        const dead = (yield* store.listDeadLetters()).filter((d) => d.id.startsWith(prefix)).map((d) => d.id)
        expect(dead).toEqual([`${prefix}failed`])
      }).pipe(Effect.provide(layer())))

    it.scoped("completed artifacts with their file, dead letters, runs", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore.CheckpointStore
        const id = `r-${Math.random()}`
        yield* store.addDeadLetter({
          kind: "recording",
          id,
          meetingId: "m",
          reason: "503",
          status: 503,
          code: "x",
          requestId: "q1"
        })
        yield* store.addDeadLetter({
          kind: "recording",
          id,
          meetingId: "m",
          reason: "503 again",
          status: 503,
          requestId: "q2"
        })
        // An ad hoc call's dead letter remembers that its meetingId is a call id.
        yield* store.addDeadLetter({
          kind: "transcript",
          id: `${id}-call`,
          meetingId: "call",
          source: "adhocCall",
          reason: "404"
        })
        expect((yield* store.listDeadLetters()).find((d) => d.id === `${id}-call`)).toMatchObject({
          meetingId: "call",
          source: "adhocCall"
        })
        const dl = (yield* store.listDeadLetters()).find((d) => d.id === id)!
        expect(dl).toMatchObject({
          kind: "recording",
          source: null,
          reason: "503 again",
          status: 503,
          code: null,
          requestId: "q2",
          attempts: 2
        })
        const big = 5 * 1024 * 1024 * 1024 + 7
        const completed = {
          kind: "recording",
          id,
          meetingId: "m",
          organizerId: "o",
          path: "o/m/r.mp4",
          bytes: big,
          sha256: "f".repeat(64),
          contentType: "video/mp4",
          runId: "run-1"
        } as const
        // Twice: marking an artifact completed again is idempotent.
        yield* store.markCompleted(completed)
        yield* store.markCompleted(completed)
        const c = Option.getOrThrow(yield* store.getCompleted("recording", id))
        expect(c).toMatchObject({
          id,
          path: "o/m/r.mp4",
          bytes: big,
          contentType: "video/mp4",
          cues: null,
          runId: "run-1"
        })
        expect((yield* store.listCompleted({ meetingId: "m" })).filter((x) => x.id === id)).toHaveLength(1)
        expect((yield* store.listDeadLetters()).some((d) => d.id === id)).toBe(false)
        expect(yield* store.getCompleted("transcript", id)).toEqual(Option.none())

        // Concurrent marks share commits; each returns once its row is committed. Look-ups by many ids
        // (more than one query's worth) find exactly the completed ones.
        const prefix = `many-${Math.random()}-`
        const ids = Array.from({ length: 1200 }, (_, i) => `${prefix}${i}`)
        yield* Effect.forEach(ids.filter((_, i) => i % 2 === 0), (mid) =>
          Effect.flatMap(
            store.markCompleted({ ...completed, kind: "transcript", id: mid, path: `o/m/${mid}.vtt` }),
            () => store.getCompleted("transcript", mid)
          ).pipe(Effect.map((row) => expect(Option.getOrThrow(row).path).toBe(`o/m/${mid}.vtt`))), {
          concurrency: 40,
          discard: true
        })
        const many = yield* store.getCompletedMany("transcript", [...ids, ids[0]!])
        expect([...many.keys()].sort()).toEqual(ids.filter((_, i) => i % 2 === 0).sort())
        expect(many.get(ids[0]!)).toMatchObject({ kind: "transcript", id: ids[0], path: `o/m/${ids[0]}.vtt` })
        expect((yield* store.getCompletedMany("recording", ids)).size).toBe(0)
        expect((yield* store.getCompletedMany("transcript", [])).size).toBe(0)

        const runId = `run-${Math.random()}`
        const run = yield* store.startRun({
          runId,
          windowFrom: key.windowFrom,
          windowTo: key.windowTo,
          organizers: ["a", "b"]
        })
        expect(run.status).toBe("running")
        yield* store.finishRun(runId, { status: "partial", counts: { recordings: 3, failed: 1 } })
        const done = Option.getOrThrow(yield* store.getRun(runId))
        expect(done).toMatchObject({
          runId,
          organizers: ["a", "b"],
          status: "partial",
          counts: { recordings: 3, failed: 1 }
        })
        expect(done.endedAt).not.toBeNull()
        expect((yield* store.listRuns).some((r) => r.runId === runId)).toBe(true)
      }).pipe(Effect.provide(layer())))

    it.scoped("listen: pending work is deduplicated by artifact, bounded, and skipped once completed", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore.CheckpointStore
        const tag = Math.random().toString(36).slice(2)
        const item = (id: string) => ({
          kind: "recording" as const,
          id: `${tag}-${id}`,
          meetingId: "m",
          organizerId: "o",
          subscriptionId: "s",
          resource: `communications/onlineMeetings/getAllRecordings`
        })
        const before = (yield* store.listPending(1000)).length
        expect(yield* store.enqueuePending(item("a"), before + 2)).toBe("queued")
        expect(yield* store.enqueuePending(item("a"), before + 2)).toBe("duplicate")
        expect(yield* store.enqueuePending(item("b"), before + 2)).toBe("queued")
        expect(yield* store.enqueuePending(item("c"), before + 2)).toBe("full")
        const mine = (yield* store.listPending(1000)).filter((p) => p.id.startsWith(tag))
        expect(mine.map((p) => p.id).sort()).toEqual([`${tag}-a`, `${tag}-b`])
        expect(mine[0]).toMatchObject({ kind: "recording", meetingId: "m", organizerId: "o", subscriptionId: "s" })
        yield* store.markCompleted({
          kind: "recording",
          id: `${tag}-c`,
          meetingId: "m",
          organizerId: "o",
          path: "x",
          bytes: 1,
          sha256: "h"
        })
        expect(yield* store.enqueuePending(item("c"), 1_000_000)).toBe("completed")
        yield* store.removePending("recording", `${tag}-a`)
        yield* store.removePending("recording", `${tag}-b`)
        expect((yield* store.listPending(1000)).filter((p) => p.id.startsWith(tag))).toEqual([])
      }).pipe(Effect.provide(layer())))

    it.scoped("the organizers with completed artifacts, each once", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore.CheckpointStore
        const tag = Math.random().toString(36).slice(2)
        const done = (id: string, organizerId: string) =>
          store.markCompleted({
            kind: "recording",
            id: `${tag}-${id}`,
            meetingId: "m",
            organizerId,
            path: "x",
            bytes: 1,
            sha256: "h"
          })
        yield* done("1", `${tag}-org-b`)
        yield* done("2", `${tag}-org-a`)
        yield* done("3", `${tag}-org-b`)
        const organizers = (yield* store.listCompletedOrganizers).filter((o) => o.startsWith(tag))
        expect(organizers).toEqual([`${tag}-org-a`, `${tag}-org-b`])
      }).pipe(Effect.provide(layer())))

    it.scoped("listen: a deferred artifact keeps its attempts and is listed again only once due", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore.CheckpointStore
        const tag = Math.random().toString(36).slice(2)
        const item = (id: string) => ({
          kind: "transcript" as const,
          id: `${tag}-${id}`,
          meetingId: "m",
          organizerId: "o",
          subscriptionId: "s",
          resource: `communications/onlineMeetings/getAllTranscripts`
        })
        yield* store.enqueuePending(item("old"), 1_000_000)
        yield* store.enqueuePending(item("new"), 1_000_000)
        yield* store.deferPending("transcript", `${tag}-old`, {
          notBefore: "2030-01-01T00:00:10.000Z",
          tries: 3,
          refusals: 2
        })
        const mine = (dueAt?: string) =>
          Effect.map(store.listPending(1000, dueAt), (ps) => ps.filter((p) => p.id.startsWith(tag)))
        // Before it is due, the deferred (older) artifact is not listed; the newer one is.
        expect((yield* mine("2030-01-01T00:00:09.999Z")).map((p) => p.id)).toEqual([`${tag}-new`])
        // (both may carry the same received_at millisecond: the order between them is not the point here)
        const due = yield* mine("2030-01-01T00:00:10.000Z")
        expect(due.map((p) => p.id).sort()).toEqual([`${tag}-new`, `${tag}-old`])
        expect(due.find((p) => p.id === `${tag}-old`)).toMatchObject({
          tries: 3,
          refusals: 2,
          notBefore: "2030-01-01T00:00:10.000Z"
        })
        expect(due.find((p) => p.id === `${tag}-new`)).toMatchObject({ tries: 0, refusals: 0, notBefore: null })
        // Without a time, everything pending is listed (the queue's size and the endpoint's view).
        expect((yield* mine()).length).toBe(2)
        yield* store.removePending("transcript", `${tag}-old`)
        yield* store.removePending("transcript", `${tag}-new`)
      }).pipe(Effect.provide(layer())))

    it.scoped("listen: subscriptions and settings", () =>
      Effect.gen(function*() {
        const store = yield* CheckpointStore.CheckpointStore
        const id = `sub-${Math.random()}`
        const sub = {
          id,
          resource: "communications/onlineMeetings/getAllTranscripts",
          clientState: "secret",
          expirationDateTime: "2026-01-01T01:00:00Z",
          notificationUrl: "https://example.test/n",
          lifecycleNotificationUrl: null,
          certificateId: "cert-1",
          createdAt: "2026-01-01T00:00:00Z"
        }
        yield* store.putSubscription(sub)
        yield* store.putSubscription({ ...sub, expirationDateTime: "2026-01-01T02:00:00Z" })
        expect((yield* store.listSubscriptions).filter((s) => s.id === id)).toEqual([
          { ...sub, expirationDateTime: "2026-01-01T02:00:00Z" }
        ])
        yield* store.removeSubscription(id)
        expect((yield* store.listSubscriptions).some((s) => s.id === id)).toBe(false)
        const name = `setting-${Math.random()}`
        expect(yield* store.getSetting(name)).toEqual(Option.none())
        yield* store.setSetting(name, "1")
        yield* store.setSetting(name, "2")
        expect(yield* store.getSetting(name)).toEqual(Option.some("2"))
      }).pipe(Effect.provide(layer())))
  })

suite("sqlite", () => CheckpointStore.layerSqlite(path.join(tempDir(), "nested", "state.sqlite")))
suite("postgres", () => CheckpointStore.layerPostgres(inject("pgUrl")))

/** Holds the lock of a store opened on its own connection(s), as another process would. */
const tryLock = (state: string) =>
  Effect.scoped(
    Effect.gen(function*() {
      const store =
        yield* (state.startsWith("postgres") ? CheckpointStore.makePostgres(state) : CheckpointStore.makeSqlite(state))
      return yield* Effect.either(store.lock())
    })
  )

const lockSuite = (name: string, state: () => string) =>
  describe(`CheckpointStore run lock (${name})`, () => {
    it.live("a second holder fails naming the first; the lock is free again once the first scope closes", () =>
      Effect.gen(function*() {
        const url = state()
        yield* Effect.scoped(Effect.gen(function*() {
          const store =
            yield* (url.startsWith("postgres") ? CheckpointStore.makePostgres(url) : CheckpointStore.makeSqlite(url))
          const holder = { ...RunLock.currentHolder(), startedAt: "2026-12-05T08:00:00.000Z" }
          yield* store.lock(holder)
          const second = yield* tryLock(url)
          expect(second._tag).toBe("Left")
          if (second._tag === "Left") {
            expect(second.left).toMatchObject({
              _tag: "RunLockHeld",
              pid: process.pid,
              host: os.hostname(),
              startedAt: holder.startedAt
            })
            expect(second.left.message).toContain(
              `pid ${process.pid} on host ${os.hostname()}, started 2026-12-05T08:00:00.000Z`
            )
          }
        }))
        expect((yield* tryLock(url))._tag).toBe("Right")
      }), 60_000)

    it.live("a holder killed with SIGKILL does not block the next run", () =>
      Effect.gen(function*() {
        const url = state()
        yield* Effect.promise(() =>
          runAndKill(["lock", url], 0)
        )
        // Postgres frees a dead session's advisory lock once the server has seen the connection close:
        // wait for that condition (bounded), not for a fixed time.
        const taken = yield* tryLock(url).pipe(
          Effect.flatMap((r) => (r._tag === "Right" ? Effect.succeed(r) : Effect.fail(r.left))),
          Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 200 }),
          Effect.either
        )
        expect(taken._tag).toBe("Right")
      }), 60_000)
  })
describe("CheckpointStore on Postgres: why a connection failed", () => {
  const openError = (url: string) =>
    Effect.scoped(CheckpointStore.makePostgres(url)).pipe(
      Effect.flip,
      Effect.map((e) => e.message)
    )

  it.live(
    "a closed port, a missing database and a wrong password each say which, without the password",
    () =>
      Effect.gen(function*() {
        const server = new URL(inject("pgUrl"))
        const port = yield* Effect.promise(() => freePort())
        const closed = yield* openError(`postgres://postgres:hunter2@127.0.0.1:${port}/postgres`)
        expect(closed).toContain(`127.0.0.1:${port}/postgres: connection refused`)
        expect(closed).not.toContain("hunter2")

        const missing = new URL(server)
        missing.pathname = "/no_such_database_here"
        expect(yield* openError(missing.toString())).toContain("no_such_database_here: that database does not exist")

        // The test cluster trusts every local user; this one role must give its password.
        const role = `ma_pw_${process.pid}`
        yield* Effect.scoped(Effect.gen(function*() {
          const sql = yield* openSql({ pg: server.toString() })
          yield* sql.unsafe(`DROP ROLE IF EXISTS ${role}`)
          yield* sql.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'right-one'`)
          const [{ hba_file }] = yield* sql.unsafe<{ hba_file: string }>("SHOW hba_file")
          const hba = fs.readFileSync(hba_file, "utf8")
          if (!hba.includes(role)) fs.writeFileSync(hba_file, `host all ${role} 127.0.0.1/32 scram-sha-256\n${hba}`)
          yield* sql.unsafe("SELECT pg_reload_conf()")
        }))
        const wrong = new URL(server)
        wrong.username = role
        wrong.password = "wrong-one"
        // The reload is asynchronous in the server: wait until the new rule answers (bounded).
        const message = yield* openError(wrong.toString()).pipe(
          Effect.flatMap((m) => (/password/.test(m) ? Effect.succeed(m) : Effect.fail(m))),
          Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100 })
        )
        expect(message).toContain(`${role}@127.0.0.1:${server.port}/`)
        expect(message).toContain("password authentication failed")
        expect(message).not.toContain("wrong-one")
      }),
    60_000
  )
})

lockSuite("sqlite", () => path.join(tempDir(), "state.sqlite"))
lockSuite("postgres", () => inject("pgUrl"))

describe("CheckpointStore durability", () => {
  it.scoped("reopening the default store sees what was written", () =>
    Effect.gen(function*() {
      const out = tempDir()
      yield* Effect.scoped(
        Effect.gen(function*() {
          const s = yield* CheckpointStore.CheckpointStore
          yield* s.setDeltaLink(key, "d1")
        }).pipe(Effect.provide(CheckpointStore.layerDefault(out)))
      )
      const s2 = yield* Effect.map(
        Layer.build(CheckpointStore.layerDefault(out)),
        Context.get(CheckpointStore.CheckpointStore)
      )
      expect(yield* s2.getDeltaLink(key)).toEqual(Option.some("d1"))
    }))

  it.live(
    "a process killed (SIGKILL) mid-transactions leaves every committed row and no half row",
    () =>
      Effect.gen(function*() {
        const file = path.join(tempDir(), "state.sqlite")
        yield* Effect.promise(() => runAndKill(["checkpoint", file, "1000000"], 200))
        const rows = yield* Effect.scoped(
          Effect.flatMap(CheckpointStore.CheckpointStore, (s) => s.listCompleted({ kind: "recording" })).pipe(
            Effect.provide(CheckpointStore.layerSqlite(file))
          )
        )
        expect(rows.length).toBeGreaterThan(5)
        // ids r0..r(n-1), each complete
        const ns = rows.map((r) => Number(r.id.slice(1))).sort((a, b) => a - b)
        expect(ns).toEqual(ns.map((_, i) => i))
        for (const r of rows) {
          expect(r).toMatchObject({ path: `p/${r.id.slice(1)}`, bytes: Number(r.id.slice(1)), sha256: "s".repeat(64) })
        }
      }),
    60_000
  )
})
