/**
 * How `sync --cluster` notices that the cluster's Postgres is gone for good. Waiting for a run's
 * summary reads it from Postgres; the cluster's client retries those reads for ever, quietly, so without
 * this a submission whose database never came back would wait silently for ever.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** How often the database is asked whether it answers. */
const PROBE_INTERVAL = Duration.seconds(2)

/**
 * Never succeeds: fails with `lost()` once the database has not answered a query for `limit` (each
 * probe waits at most that long), and keeps probing while it answers.
 */
export const failWhenUnreachable = <E>(
  sql: SqlClient.SqlClient,
  limit: Duration.DurationInput,
  lost: () => E
): Effect.Effect<never, E> =>
  Effect.gen(function*() {
    const limitMs = Duration.toMillis(limit)
    let answeredAt = yield* Clock.currentTimeMillis
    for (;;) {
      const probe = yield* sql`SELECT 1`.pipe(Effect.timeout(limit), Effect.exit)
      const now = yield* Clock.currentTimeMillis
      if (probe._tag === "Success") answeredAt = now
      else if (now - answeredAt >= limitMs) return yield* Effect.fail(lost())
      yield* Effect.sleep(PROBE_INTERVAL)
    }
  })
