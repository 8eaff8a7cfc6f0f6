/**
 * Retries as they happen, for progress displays: each time a request is about to be sent again (after a
 * throttling answer, a server error, a refused or cut connection, a malformed page), the handler hears
 * which route, why, and how long the request will wait.
 *
 * Like `handleInvalidItems`, the handler is fiber-local (a `FiberRef`): it reaches every request the
 * wrapped effect makes, streams and forked fibers included.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import { globalValue } from "effect/GlobalValue"

export interface GraphRetry {
  /** The route template, e.g. `/users/{userId}/onlineMeetings/getAllRecordings(...)`. */
  readonly route: string
  /** Attempts made so far (1: the first attempt failed). */
  readonly attempt: number
  /** How long this request waits before the next attempt (ms). */
  readonly delayMs: number
  /** Why, in a few words: `HTTP 429`, `HTTP 503`, `connection refused (ECONNREFUSED)`, ... */
  readonly reason: string
  /** Whether the server asked for the wait (a 429, or Retry-After): throttling rather than a fault. */
  readonly throttled: boolean
}

export type GraphRetryHandler = (retry: GraphRetry) => Effect.Effect<void>

/** The handler in effect for the current fiber (null: retries are silent). */
export const currentRetryHandler: FiberRef.FiberRef<GraphRetryHandler | null> = globalValue(
  Symbol.for("@meeting-artifacts/api/GraphRetry/currentRetryHandler"),
  () => FiberRef.unsafeMake<GraphRetryHandler | null>(null)
)

/**
 * Runs `self` with `handler` hearing of every retry its Graph requests make.
 *
 * ```ts
 * const recordings = Stream.runCollect(client.getAllRecordings(window)).pipe(
 *   handleRetries((r) => Effect.logInfo(`retrying ${r.route} in ${r.delayMs} ms: ${r.reason}`))
 * )
 * ```
 */
export const handleRetries: {
  (handler: GraphRetryHandler): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, handler: GraphRetryHandler): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, handler: GraphRetryHandler): Effect.Effect<A, E, R> =>
    Effect.locally(self, currentRetryHandler, handler)
)
