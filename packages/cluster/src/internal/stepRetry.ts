/**
 * How a runner retries a step that failed for a reason that may pass. Steps are idempotent (the
 * checkpoint skips content a previous attempt completed; rows are upserts), so running one again is safe.
 */
import type { SyncFatalError } from "@meeting-artifacts/pipeline"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import { RUNNER_SETUP_CODE, setupFatal } from "./jobResources.js"

/**
 * Every 0.5 s, 1 s, 2 s ... up to 10 s apart, for up to 5 minutes: longer than a database restart or
 * failover, short enough that a broken configuration still ends the run.
 */
const STEP_RETRY = Schedule.exponential("500 millis").pipe(
  Schedule.union(Schedule.spaced("10 seconds")),
  Schedule.upTo("5 minutes")
)

/** Whether a step that failed may succeed if run again (see `retryStep`). */
const mayPass = (e: SyncFatalError) => e.status === null && e.code !== RUNNER_SETUP_CODE

/**
 * Fatal errors of storage (the cluster's Postgres or a sink unreachable, a connection cut: no HTTP status)
 * may pass and are retried; Graph's fatal answers (a rejected token, a missing permission: with a
 * status) are not, nor is a runner's own set-up (a credential variable it lacks: its environment does not
 * change). A defect (a bug, or a driver that died instead of failing) becomes a fatal error, so
 * it ends the run (closed as failed) rather than leaving it running, after the same retries.
 */
export const retryStep = <A, R>(
  step: string,
  effect: Effect.Effect<A, SyncFatalError, R>
): Effect.Effect<A, SyncFatalError, R> =>
  effect.pipe(
    Effect.catchAllDefect((defect) =>
      Effect.fail(setupFatal(`${step}: unexpected error: ${Cause.pretty(Cause.die(defect)).split("\n")[0]}`))
    ),
    Effect.tapError((e) =>
      mayPass(e)
        ? Effect.logWarning("step failed; retrying it (steps are idempotent)").pipe(
          Effect.annotateLogs({ step, reason: e.message })
        )
        : Effect.void
    ),
    Effect.retry({ schedule: STEP_RETRY, while: mayPass })
  )

/**
 * Whether a cause is only the cluster's storage failing. The workflow engine turns a `PersistenceError`
 * (a message or reply it could not save or read: Postgres restarting, a connection cut) into a defect.
 */
const isStorageOutage = (cause: Cause.Cause<unknown>): boolean => {
  const defects = Chunk.toReadonlyArray(Cause.defects(cause))
  return defects.length > 0 && Chunk.isEmpty(Cause.failures(cause)) && !Cause.isInterrupted(cause) &&
    defects.every((d) => Predicate.isTagged(d, "PersistenceError"))
}

/**
 * Sends a workflow message (a run, a child workflow, an activity) again while the cluster's storage
 * cannot take it, on the step schedule: a database restart must not fail a run that only waited on it.
 * Sending again is safe: a message's id comes from its payload, and the storage keeps one of each.
 */
export const throughStorageOutage = <A, E, R>(
  what: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  effect.pipe(
    Effect.sandbox,
    Effect.tapError((cause) =>
      isStorageOutage(cause)
        ? Effect.logWarning("the cluster's storage is unreachable; sending again").pipe(
          Effect.annotateLogs({ message: what, reason: Cause.pretty(cause).split("\n")[0] })
        )
        : Effect.void
    ),
    Effect.retry({ schedule: STEP_RETRY, while: isStorageOutage }),
    Effect.unsandbox
  )
