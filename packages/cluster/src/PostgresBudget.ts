/**
 * A tenant's Graph budget (`GraphBudget`) held in Postgres, so every runner of a cluster draws on one
 * budget: N runners send the tenant no more requests per second than one process would.
 *
 * One row per tenant holds a GCRA schedule: the time the next request is due. Each request reserves
 * its slot with one atomic upsert (Postgres's clock, so runners' clocks do not matter) and waits until
 * its slot; a burst of `burst` requests may start at once. A throttling answer seen by any runner pauses
 * the tenant for every runner until its Retry-After has passed, and spends the saved-up burst.
 */
import type { GraphBudget } from "@meeting-artifacts/api"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

export interface BudgetOptions {
  /** The tenant (one budget per key). */
  readonly key: string
  readonly requestsPerSecond: number
  /** Requests that may start at once after a quiet period. */
  readonly burst: number
}

const NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)"

/** Creates the budget table if needed; the budget of `options.key` on it. */
export const make = (options: BudgetOptions): Effect.Effect<GraphBudget, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE IF NOT EXISTS ma_graph_budget (
      tenant TEXT PRIMARY KEY,
      next_due_ms DOUBLE PRECISION NOT NULL,
      paused_until_ms DOUBLE PRECISION NOT NULL DEFAULT 0
    )`.pipe(Effect.orDie)
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
    return { take, throttled } satisfies GraphBudget
  })
