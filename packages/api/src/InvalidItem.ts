/**
 * Items of a Graph listing that do not decode.
 *
 * By default one malformed item fails its whole page with a `DecodeError`, and
 * the listing stops there: a caller cannot tell the good items of that page
 * (and of every later page) from the bad one. Inside `handleInvalidItems`, each
 * item that does not decode goes to the handler instead, and the listing goes
 * on with the rest; a page that is not a page at all (no `value` array, bad
 * links) still fails as before.
 *
 * The handler is fiber-local (a `FiberRef`), so it reaches every listing the
 * wrapped effect runs, streams and forked fibers included, without a parameter
 * on every method.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import { globalValue } from "effect/GlobalValue"
import type { DecodeError } from "./GraphError.js"

export interface InvalidItem {
  /** The route template of the listing, e.g. `/users/{userId}/onlineMeetings/getAllRecordings(...)`. */
  readonly route: string
  /** What was being listed, e.g. `CallRecording page`. */
  readonly payload: string
  /** The kind of resource the item should have been. */
  readonly resource: "CallRecording" | "CallTranscript" | "OnlineMeeting" | "Subscription"
  /** The item's position in its page. */
  readonly index: number
  /** The item's `id` when it has a string one (else null). */
  readonly id: string | null
  /** The item's `meetingId` when it has a string one (else null): with `id`, enough to fetch it again by id. */
  readonly meetingId: string | null
  /** Why it does not decode: `field` is the path inside the page, e.g. `value[3].createdDateTime`. */
  readonly error: DecodeError
}

export type InvalidItemHandler = (item: InvalidItem) => Effect.Effect<void>

/** The handler in effect for the current fiber (null: a malformed item fails its page). */
export const currentInvalidItemHandler: FiberRef.FiberRef<InvalidItemHandler | null> = globalValue(
  Symbol.for("@meeting-artifacts/api/InvalidItem/currentInvalidItemHandler"),
  () => FiberRef.unsafeMake<InvalidItemHandler | null>(null)
)

/**
 * Runs `self` with `handler` receiving every listed item that does not decode
 * (the listings skip those items and go on).
 *
 * ```ts
 * const recordings = Stream.runCollect(client.getAllRecordings(window)).pipe(
 *   handleInvalidItems((bad) => Effect.logWarning(`skipped ${bad.id}: ${bad.error.message}`))
 * )
 * ```
 */
export const handleInvalidItems: {
  (handler: InvalidItemHandler): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, handler: InvalidItemHandler): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, handler: InvalidItemHandler): Effect.Effect<A, E, R> =>
    Effect.locally(self, currentInvalidItemHandler, handler)
)
