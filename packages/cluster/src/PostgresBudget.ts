/**
 * A tenant's Graph budget (`GraphBudget`) held in Postgres, so every runner of a cluster draws on one
 * budget: N runners send the tenant no more requests per second, and have no more requests in flight,
 * than one process would.
 *
 * Rate: one row per tenant holds a GCRA schedule: the time the next request is due. Each request reserves
 * its slot with one atomic upsert (Postgres's clock, so runners' clocks do not matter) and waits until
 * its slot; a burst of `burst` requests may start at once. A throttling answer seen by any runner pauses
 * the tenant for every runner until its Retry-After has passed, and spends the saved-up burst.
 *
 * Concurrency: the tenant has `maxConcurrentRequests` request slots, one row each. A request (a content
 * body for as long as it streams) leases a free slot with one atomic update and gives it back when it
 * ends. A lease expires `leaseTtl` after it was taken or last renewed; the process renews the leases of
 * its requests in flight, so the slots of a killed runner, or of a give-back that failed, come back once
 * their leases expire.
 */
import type { GraphBudget } from "@meeting-artifacts/api"
import * as SqlClient from "@effect/sql/SqlClient"
import { randomUUID } from "node:crypto"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"

export interface BudgetOptions {
  /** The tenant (one budget per key). */
  readonly key: string
  readonly requestsPerSecond: number
  /** Requests that may start at once after a quiet period. */
  readonly burst: number
  /** Requests in flight cluster-wide (content bodies included); absent: only each process's own limit. */
  readonly maxConcurrentRequests?: number | undefined
  /**
   * How long a lease outlives the last sign of its process (default 30 s): a killed runner's slots are
   * free again after at most this long. Renewed every third of it.
   */
  readonly leaseTtl?: Duration.DurationInput | undefined
}

const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)"
const DEFAULT_LEASE_TTL = Duration.seconds(30)
/** How often a process waiting for a slot asks again, at most (it starts at a tenth of this). */
const SLOT_POLL_MAX_MS = 100
/** A give-back that failed (a database blip) is tried again a few times before its lease is left to expire. */
const GIVE_BACK_RETRY = Schedule.exponential(Duration.millis(50)).pipe(Schedule.intersect(Schedule.recurs(4)))

/**
 * Runners starting their first job together create the tables together: Postgres's CREATE TABLE IF NOT
 * EXISTS can still fail on the loser's side of that race (a unique violation in its catalog); again, it
 * sees the table.
 */
const createRace = <A, E, R>(create: Effect.Effect<A, E, R>) => Effect.retry(create, { times: 3 })

/**
 * Creates the budget tables if needed; the budget of `options.key` on them. The scope keeps this
 * process's leases alive (renewed); closing it lets them expire.
 */
export const make = (
  options: BudgetOptions
): Effect.Effect<GraphBudget, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE IF NOT EXISTS ma_graph_budget (
      tenant TEXT PRIMARY KEY,
      next_due_ms DOUBLE PRECISION NOT NULL,
      paused_until_ms DOUBLE PRECISION NOT NULL DEFAULT 0
    )`.pipe(createRace, Effect.orDie)
    const intervalMs = 1000 / options.requestsPerSecond
    const toleranceMs = Math.max(0, options.burst - 1) * intervalMs
    const now = sql.literal(NOW_MS)
    const reserve = sql<{ due: number; paused: number; now: number }>`
      INSERT INTO ma_graph_budget AS b (tenant, next_due_ms, paused_until_ms)
      VALUES (${options.key}, ${now} + ${intervalMs}, 0)
      ON CONFLICT (tenant) DO UPDATE SET next_due_ms = GREATEST(b.next_due_ms, ${now}) + ${intervalMs}
      RETURNING next_due_ms - ${intervalMs} AS due, paused_until_ms AS paused, ${now} AS now`
    const take = Effect.flatMap(reserve, (rows) => {
      const row = rows[0]!
      const waitMs = Math.max(Number(row.due) - toleranceMs - Number(row.now), Number(row.paused) - Number(row.now), 0)
      return waitMs > 0 ? Effect.sleep(Duration.millis(waitMs)) : Effect.void
    }).pipe(
      // The budget is a courtesy to Graph, not a reason to fail a download: without the database, the
      // process's own limiter still paces it.
      Effect.catchAll(() => Effect.void)
    )
    // After the pause, requests resume one interval apart: no burst is saved up while paused.
    const throttled = (untilMs: number) =>
      Effect.suspend(() => {
        const pauseMs = Math.max(0, untilMs - Date.now())
        return sql`UPDATE ma_graph_budget SET
          paused_until_ms = GREATEST(paused_until_ms, ${now} + ${pauseMs}),
          next_due_ms = GREATEST(next_due_ms, ${now} + ${pauseMs + toleranceMs})
          WHERE tenant = ${options.key}`
      }).pipe(Effect.asVoid, Effect.catchAll(() => Effect.void))
    const requestSlot = options.maxConcurrentRequests === undefined
      ? undefined
      : yield* makeRequestSlots(sql, options.key, options.maxConcurrentRequests, options.leaseTtl ?? DEFAULT_LEASE_TTL)
    return { take, throttled, requestSlot } satisfies GraphBudget
  })

/**
 * The tenant's `max` request slots: `requestSlot` leases a free one (waiting, polled, until one is)
 * and returns what gives it back. A request that finds none free queues in its process behind the one
 * fiber that polls, so waiting costs the database one query per poll per process, not per request.
 */
const makeRequestSlots = (
  sql: SqlClient.SqlClient,
  tenant: string,
  max: number,
  leaseTtl: Duration.DurationInput
) =>
  Effect.gen(function*() {
    yield* sql`CREATE TABLE IF NOT EXISTS ma_graph_request_slots (
      tenant TEXT NOT NULL,
      slot INTEGER NOT NULL,
      holder TEXT,
      expires_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
      PRIMARY KEY (tenant, slot)
    )`.pipe(createRace, Effect.orDie)
    yield* sql`INSERT INTO ma_graph_request_slots (tenant, slot)
      SELECT ${tenant}, s FROM generate_series(0, ${max - 1}) AS s
      ON CONFLICT DO NOTHING`.pipe(Effect.orDie)
    // Each lease is `<process id>/<n>`: a lease given back never frees a slot the process has leased
    // again since. `live`: the leases of the requests in flight, the only ones renewed, so a lease whose
    // give-back failed (after its retries) expires `leaseTtl` later instead of being renewed for good.
    const processId = randomUUID()
    let leases = 0
    const live = new Set<string>()
    const ttlMs = Duration.toMillis(leaseTtl)
    const now = sql.literal(NOW_MS)
    const lease = (holder: string) =>
      sql<{ slot: number }>`
      UPDATE ma_graph_request_slots SET holder = ${holder}, expires_ms = ${now} + ${ttlMs}
      WHERE tenant = ${tenant} AND slot = (
        SELECT slot FROM ma_graph_request_slots
        WHERE tenant = ${tenant} AND slot < ${max} AND expires_ms < ${now}
        ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED
      )
      RETURNING slot`
    const giveBack = (slot: number, holder: string) =>
      Effect.suspend(() => {
        live.delete(holder)
        return sql`UPDATE ma_graph_request_slots SET holder = NULL, expires_ms = 0
          WHERE tenant = ${tenant} AND slot = ${slot} AND holder = ${holder}`
      }).pipe(
        Effect.retry(GIVE_BACK_RETRY),
        Effect.ignore
      )
    yield* Effect.suspend(() =>
      live.size === 0 ? Effect.void : sql`UPDATE ma_graph_request_slots SET expires_ms = ${now} + ${ttlMs}
        WHERE tenant = ${tenant} AND holder IN ${sql.in([...live])} AND expires_ms > 0`
    ).pipe(
      Effect.ignore,
      Effect.repeat(Schedule.spaced(Duration.millis(ttlMs / 3))),
      Effect.forkScoped
    )
    const polling = yield* Effect.makeSemaphore(1)
    return Effect.suspend(() => {
      // The give-back of a lease granted but not yet handed to the caller (see the interruption below).
      let granted: Effect.Effect<void> | null = null
      // One try, uninterruptible: a lease the database granted is always registered for its give-back.
      const tryLease = Effect.uninterruptible(Effect.suspend(() => {
        const holder = `${processId}/${++leases}`
        return Effect.map(lease(holder), (rows) => {
          if (rows.length === 0) return null
          live.add(holder)
          return granted = giveBack(Number(rows[0]!.slot), holder)
        })
      }))
      const poll = (waitMs: number): Effect.Effect<Effect.Effect<void>, unknown> =>
        Effect.flatMap(tryLease, (got) =>
          got !== null
            ? Effect.succeed(got)
            : Effect.zipRight(
              Effect.sleep(Duration.millis(waitMs * (0.5 + Math.random()))),
              Effect.suspend(() => poll(Math.min(SLOT_POLL_MAX_MS, waitMs * 2)))
            ))
      // A free slot is leased at once; only waiting goes through the one poller of the process.
      const leaseOrWait = Effect.flatMap(
        tryLease,
        (got) => got !== null ? Effect.succeed(got) : polling.withPermits(1)(poll(SLOT_POLL_MAX_MS / 10))
      )
      // Waiting can be interrupted (SIGTERM, a shard moving away) even inside a caller's uninterruptible
      // acquire; a lease granted just before the interruption is given back.
      return Effect.interruptible(leaseOrWait).pipe(Effect.onInterrupt(() => granted ?? Effect.void))
    }).pipe(
      // Like the rate, a courtesy: without the database, the process's own limit still holds.
      Effect.orElseSucceed(() => Effect.void)
    )
  })
