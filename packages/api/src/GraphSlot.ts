/**
 * Slots a caller holds around its Graph requests (a permit of its own semaphore, e.g. a limit on
 * concurrent downloads), given back while a request waits to be retried: a request told to wait (a
 * Retry-After, a backoff) holds no connection, so it keeps no other work from the slot either. It takes
 * the slot again before its next attempt (the wait may then last longer than asked, never shorter).
 *
 * Like `handleRetries`, the slot is fiber-local (a `FiberRef`): it reaches every request the wrapped
 * effect makes, streams and forked fibers included. Make those requests one at a time: the permit is
 * given back when one of them waits, even while others made concurrently under it are still in flight,
 * so another holder may then start beside them.
 */
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import { heldSlot } from "./internal/heldSlots.js"

/**
 * Runs `self` holding one permit of `slots`, which its Graph requests give back while they wait to be
 * retried.
 *
 * ```ts
 * const slots = yield* Effect.makeSemaphore(2)
 * // at most two listings at a time; one waiting out a 429 lets another run meanwhile
 * const recordings = yield* Stream.runCollect(client.getAllRecordings(window)).pipe(holdingSlot(slots))
 * ```
 */
export const holdingSlot: {
  (slots: Effect.Semaphore): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, slots: Effect.Semaphore): Effect.Effect<A, E, R>
} = dual(2, <A, E, R>(self: Effect.Effect<A, E, R>, slots: Effect.Semaphore) => heldSlot(self, slots))
