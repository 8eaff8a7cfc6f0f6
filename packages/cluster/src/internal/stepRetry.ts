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
 * What a lost or refused connection to Postgres says somewhere down a cause chain: the driver's words for
 * a connection cut or not made, Node's socket errors, and the server's SQLSTATE classes 08 (connection
 * exception) and 57P01-57P03 (shutting down, crashed, cannot connect now).
 */
const CONNECTION_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Connection timed out|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|the database system is (starting up|shutting down|in recovery mode)/i
const CONNECTION_SQLSTATE = /^(08...|57P0[123])$/

/** Whether `error`, or an error it was caused by, is a lost or refused connection (see above). */
const isConnectionError = (error: unknown): boolean => {
  let e = error
  for (let depth = 0; depth < 8 && typeof e === "object" && e !== null; depth++) {
    const { cause, code, message } = e as { cause?: unknown; code?: unknown; message?: unknown }
    if (typeof code === "string" && (CONNECTION_SQLSTATE.test(code) || CONNECTION_MESSAGE.test(code))) return true
    if (typeof message === "string" && CONNECTION_MESSAGE.test(message)) return true
    e = cause
  }
  return false
}

/**
 * Whether a cause is only the cluster's storage being out of reach. The workflow engine turns a
 * `PersistenceError` (a message or reply it could not save or read) into a defect; only one caused by a
 * lost or refused connection (Postgres restarting, a failover, a cut) may pass by itself: a full disk, a
 * missing table or a permission does not, and is reported at once.
 */
const isStorageOutage = (cause: Cause.Cause<unknown>): boolean => {
  const defects = Chunk.toReadonlyArray(Cause.defects(cause))
  return defects.length > 0 && Chunk.isEmpty(Cause.failures(cause)) && !Cause.isInterrupted(cause) &&
    defects.every((d) => Predicate.isTagged(d, "PersistenceError") && isConnectionError(d))
}

/**
 * Sends a workflow message (a run, a child workflow, an activity) again while the cluster's storage
 * cannot take it, on the step schedule: a database restart must not fail a run that only waited on it.
 * Sending again is safe: a message's id comes from what it is (a workflow's payload; an activity's name
 * and attempt), and the storage keeps one of each.
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
