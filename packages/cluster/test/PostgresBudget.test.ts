/**
 * The cluster-wide request slots of `PostgresBudget` on a real Postgres: two budgets of the same tenant
 * stand for two runners. A slot held by one is not handed to the other until it is given back, and the
 * slots of a runner that stops renewing its leases (killed) come back once they expire.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startPostgres } from "../../sinks/test/support/servers.js"
import * as PostgresBudget from "../src/PostgresBudget.js"

let pg: RunningServer
beforeAll(async () => {
  pg = await startPostgres()
}, 120_000)
afterAll(async () => {
  await pg?.stop()
})

/** Runs `f` with a Postgres client of the test's server. */
const withSql = <A, E>(f: Effect.Effect<A, E, SqlClient.SqlClient | Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(Effect.provide(f, PgClient.layer({ url: Redacted.make(pg.url) }))))

/** A runner's budget for `key` in its own scope (closing it stops the lease renewals, as a kill would). */
const runnerBudget = (key: string, leaseTtl?: Duration.DurationInput) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const budget = yield* PostgresBudget.make({
      key,
      requestsPerSecond: 1000,
      burst: 1000,
      maxConcurrentRequests: 2,
      leaseTtl
    }).pipe(Scope.extend(scope))
    return { scope, slot: budget.requestSlot! }
  })

describe("PostgresBudget request slots", () => {
  it("a slot held by one runner is another's only once it is given back", async () => {
    await withSql(Effect.gen(function*() {
      const a = yield* runnerBudget("tenant-a")
      const b = yield* runnerBudget("tenant-a")
      const giveBack = yield* a.slot
      yield* a.slot
      const waiting = yield* Effect.fork(b.slot)
      // b polls while a holds both slots; it is still waiting after several of its polls
      yield* Effect.sleep("500 millis")
      expect((yield* Fiber.poll(waiting))._tag).toBe("None")
      yield* giveBack
      const bGiveBack = yield* Fiber.join(waiting)
      // both slots are held again (one by a, one by b): a third request waits
      const third = yield* Effect.fork(a.slot)
      yield* Effect.sleep("300 millis")
      expect((yield* Fiber.poll(third))._tag).toBe("None")
      yield* bGiveBack
      const thirdGiveBack = yield* Fiber.join(third)
      // a give-back run twice frees nothing the second time, though the process leased that slot again
      yield* thirdGiveBack
      const again = yield* a.slot
      yield* thirdGiveBack
      const fourth = yield* Effect.fork(b.slot)
      yield* Effect.sleep("300 millis")
      expect((yield* Fiber.poll(fourth))._tag).toBe("None")
      yield* again
      yield* Fiber.join(fourth)
      yield* Scope.close(a.scope, Exit.void)
      yield* Scope.close(b.scope, Exit.void)
    }))
  })

  it("the slots of a runner that stopped renewing its leases come back when they expire", async () => {
    await withSql(Effect.gen(function*() {
      const killed = yield* runnerBudget("tenant-b", "1 second")
      yield* killed.slot
      yield* killed.slot
      // never given back: the runner is gone (its renewals stop with its scope)
      yield* Scope.close(killed.scope, Exit.void)
      const other = yield* runnerBudget("tenant-b", "1 second")
      // without expiry this waits forever (the test times out)
      yield* other.slot
      yield* other.slot
      yield* Scope.close(other.scope, Exit.void)
    }))
  }, 30_000)

  it("a runner that lives keeps its slots past the lease time (renewed)", async () => {
    await withSql(Effect.gen(function*() {
      const alive = yield* runnerBudget("tenant-c", "3 seconds")
      yield* alive.slot
      yield* alive.slot
      const other = yield* runnerBudget("tenant-c", "3 seconds")
      const waiting = yield* Effect.fork(other.slot)
      // past the lease time: without renewal both slots would have expired and been taken
      yield* Effect.sleep("4 seconds")
      expect((yield* Fiber.poll(waiting))._tag).toBe("None")
      yield* Fiber.interrupt(waiting)
      yield* Scope.close(alive.scope, Exit.void)
      yield* Scope.close(other.scope, Exit.void)
    }))
  }, 30_000)

  it("a give-back that failed does not keep its slot past the lease time", async () => {
    await withSql(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const alive = yield* runnerBudget("tenant-d", "1 second")
      const giveBack = yield* alive.slot
      yield* alive.slot
      // A database blip for the give-back (and its retries): every update freeing a slot fails meanwhile.
      yield* sql.unsafe(`CREATE FUNCTION ma_test_blip() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'blip'; END $$`)
      yield* sql.unsafe(`CREATE TRIGGER ma_test_blip BEFORE UPDATE ON ma_graph_request_slots
        FOR EACH ROW WHEN (NEW.holder IS NULL) EXECUTE FUNCTION ma_test_blip()`)
      yield* giveBack
      yield* sql.unsafe("DROP TRIGGER ma_test_blip ON ma_graph_request_slots")
      yield* sql.unsafe("DROP FUNCTION ma_test_blip()")
      // The runner lives on (renewing the lease of its request in flight, not the one given back): the
      // slot comes back once its lease expires; renewed for good, this times out.
      const other = yield* runnerBudget("tenant-d", "1 second")
      const got = yield* other.slot.pipe(Effect.timeout("15 seconds"), Effect.exit)
      expect(Exit.isSuccess(got)).toBe(true)
      yield* Scope.close(alive.scope, Exit.void)
      yield* Scope.close(other.scope, Exit.void)
    }))
  }, 60_000)

  it("a request waiting for a slot can be interrupted, and leases nothing", async () => {
    await withSql(Effect.gen(function*() {
      const holder = yield* runnerBudget("tenant-e")
      const giveBacks = [yield* holder.slot, yield* holder.slot]
      const other = yield* runnerBudget("tenant-e")
      // As the Graph client holds a slot: acquired in acquireUseRelease's uninterruptible acquire.
      const waiting = yield* Effect.fork(
        Effect.acquireUseRelease(other.slot, () => Effect.never, (giveBack) => giveBack)
      )
      yield* Effect.sleep("300 millis")
      // Uninterruptible while waiting, this returns only once a slot frees (none does): a timeout.
      const interrupted = yield* Fiber.interrupt(waiting).pipe(Effect.timeout("10 seconds"), Effect.exit)
      expect(Exit.isSuccess(interrupted)).toBe(true)
      // The interrupted request holds no slot: both come back to the holder's give-backs.
      for (const giveBack of giveBacks) yield* giveBack
      yield* other.slot
      yield* other.slot
      yield* Scope.close(holder.scope, Exit.void)
      yield* Scope.close(other.scope, Exit.void)
    }))
  }, 60_000)
})
