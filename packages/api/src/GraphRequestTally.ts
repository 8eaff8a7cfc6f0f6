/**
 * The Graph requests one effect makes, counted apart from the client's own totals (`GraphClient.stats`
 * counts every request of the client, whoever made it). A process that runs several jobs' steps on one
 * client, like a cluster runner, reports each step's requests with it.
 *
 * Like `handleRetries`, the tally is fiber-local (a `FiberRef`): it counts every request the wrapped
 * effect makes, streams and forked fibers included.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"

/** What one effect's requests did. */
export interface GraphRequestTally {
  /** HTTP requests sent (attempts and redirect hops included). */
  readonly requests: number
  /** Attempts that were retries. */
  readonly retries: number
  /** Answers with status 429. */
  readonly throttled: number
  /** Time (ms) its requests waited because the server asked them to, summed over its requests. */
  readonly throttleWaitMs: number
}

export type MutableGraphRequestTally = { -readonly [K in keyof GraphRequestTally]: GraphRequestTally[K] }

/** The tally the current fiber's requests add to (null: none). */
export const currentRequestTally: FiberRef.FiberRef<MutableGraphRequestTally | null> = globalValue(
  Symbol.for("@meeting-artifacts/api/GraphRequestTally/currentRequestTally"),
  () => FiberRef.unsafeMake<MutableGraphRequestTally | null>(null)
)

/**
 * Runs `self` and returns its result with the tally of the Graph requests it made.
 *
 * ```ts
 * const [recordings, tally] = yield* tallyRequests(Stream.runCollect(client.getAllRecordings(window)))
 * ```
 */
export const tallyRequests = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<[A, GraphRequestTally], E, R> =>
  Effect.suspend(() => {
    const tally: MutableGraphRequestTally = { requests: 0, retries: 0, throttled: 0, throttleWaitMs: 0 }
    return Effect.map(
      Effect.locally(self, currentRequestTally, tally),
      (a): [A, GraphRequestTally] => [a, { ...tally }]
    )
  })
