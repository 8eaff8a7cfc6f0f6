/**
 * A run's progress in the cluster's Postgres (table `ma_run_progress`), for `sync --cluster` to follow
 * and for anyone to query: one row per finished step of a run (an organizer's discovery, a set's
 * export) with what it counted and the Graph requests it made, plus the run's plan (how many sets it
 * exports) once its discovery is done. A step retried or replayed overwrites its own row, so the sums
 * count each step once.
 */
import type { GraphRequestTally } from "@meeting-artifacts/api"
import { failureCount, type StepCounts } from "@meeting-artifacts/pipeline"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"

/** A run's progress so far: the sums over its finished steps. */
export interface RunProgress {
  /** Sets the run exports (null until its discovery is done). */
  readonly plannedSets: number | null
  /** Sets exported so far (failed items included). */
  readonly setsDone: number
  readonly bytes: number
  /** Items failed for good so far. */
  readonly failures: number
  readonly requests: number
  readonly retries: number
  /** 429 answers. */
  readonly throttled: number
  /** Time requests waited on throttling answers, summed over the steps. */
  readonly throttleWaitMs: number
}

/** The step key of a run's plan row. */
const PLAN_STEP = "plan"

/** Creates the progress table if needed (runners and `sync --cluster` both do, whichever comes first). */
export const ensureTable = (sql: SqlClient.SqlClient): Effect.Effect<void, SqlError> =>
  sql`CREATE TABLE IF NOT EXISTS ma_run_progress (
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    sets BIGINT NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0,
    failures BIGINT NOT NULL DEFAULT 0,
    requests BIGINT NOT NULL DEFAULT 0,
    retries BIGINT NOT NULL DEFAULT 0,
    throttled BIGINT NOT NULL DEFAULT 0,
    throttle_wait_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, step)
  )`.pipe(
    // Two processes creating it at once: one of them loses the race on the catalog, and the table exists.
    Effect.catchAll((e) =>
      Effect.flatMap(sql`SELECT 1 FROM ma_run_progress LIMIT 0`, () => Effect.void).pipe(
        Effect.orElse(() => Effect.fail(e))
      )
    ),
    Effect.asVoid
  )

/** Records (or overwrites) what step `step` of run `runId` counted. */
export const recordStep = (
  sql: SqlClient.SqlClient,
  runId: string,
  step: string,
  counts: StepCounts,
  tally: GraphRequestTally
): Effect.Effect<void, SqlError> =>
  sql`INSERT INTO ma_run_progress (run_id, step, sets, bytes, failures, requests, retries, throttled, throttle_wait_ms)
    VALUES (${runId}, ${step}, ${counts.sets}, ${counts.bytes}, ${failureCount(counts)}, ${tally.requests},
      ${tally.retries}, ${tally.throttled}, ${tally.throttleWaitMs})
    ON CONFLICT (run_id, step) DO UPDATE SET sets = EXCLUDED.sets, bytes = EXCLUDED.bytes,
      failures = EXCLUDED.failures, requests = EXCLUDED.requests, retries = EXCLUDED.retries,
      throttled = EXCLUDED.throttled, throttle_wait_ms = EXCLUDED.throttle_wait_ms, updated_at = now()`.pipe(
    Effect.asVoid
  )

/** Records how many sets run `runId` exports (once its discovery is done). */
export const recordPlan = (sql: SqlClient.SqlClient, runId: string, sets: number): Effect.Effect<void, SqlError> =>
  sql`INSERT INTO ma_run_progress (run_id, step, sets) VALUES (${runId}, ${PLAN_STEP}, ${sets})
    ON CONFLICT (run_id, step) DO UPDATE SET sets = EXCLUDED.sets, updated_at = now()`.pipe(Effect.asVoid)

/** The sums over run `runId`'s finished steps. */
export const read = (sql: SqlClient.SqlClient, runId: string): Effect.Effect<RunProgress, SqlError> =>
  Effect.map(
    sql<Record<string, string | number | null>>`SELECT
      max(sets) FILTER (WHERE step = ${PLAN_STEP}) AS planned,
      coalesce(sum(sets) FILTER (WHERE step <> ${PLAN_STEP}), 0) AS sets,
      coalesce(sum(bytes), 0) AS bytes,
      coalesce(sum(failures), 0) AS failures,
      coalesce(sum(requests), 0) AS requests,
      coalesce(sum(retries), 0) AS retries,
      coalesce(sum(throttled), 0) AS throttled,
      coalesce(sum(throttle_wait_ms), 0) AS throttle_wait_ms
      FROM ma_run_progress WHERE run_id = ${runId}`,
    (rows) => {
      const r = rows[0] ?? {}
      return {
        plannedSets: r.planned === null || r.planned === undefined ? null : Number(r.planned),
        setsDone: Number(r.sets ?? 0),
        bytes: Number(r.bytes ?? 0),
        failures: Number(r.failures ?? 0),
        requests: Number(r.requests ?? 0),
        retries: Number(r.retries ?? 0),
        throttled: Number(r.throttled ?? 0),
        throttleWaitMs: Number(r.throttle_wait_ms ?? 0)
      }
    }
  )

/** Runners registered with the cluster and not known to be unhealthy (0 before any runner ever joined). */
export const liveRunners = (sql: SqlClient.SqlClient): Effect.Effect<number> =>
  sql<{ n: string | number }>`SELECT count(*) AS n FROM cluster_runners WHERE healthy`.pipe(
    Effect.map((rows) => Number(rows[0]?.n ?? 0)),
    Effect.orElseSucceed(() => 0)
  )
