/**
 * A tenant's Graph budget shared beyond one process: several processes exporting the same tenant (the
 * runners of a cluster) together must not send Graph more than one process would. The client's own
 * limiter still paces its process; a `GraphBudget` given to `GraphClient.make` is consulted as well,
 * once per request attempt, at the request loop. With `requestSlot`, the budget also bounds the requests
 * in flight across those processes (content bodies included, for as long as they stream).
 */
import type * as Effect from "effect/Effect"

export interface GraphBudget {
  /** Waits until the shared budget allows one more request (called before every attempt is sent). */
  readonly take: Effect.Effect<void>
  /** Graph answered with a throttling wait until `untilMs` (epoch ms): every sharer should wait too. */
  readonly throttled: (untilMs: number) => Effect.Effect<void>
  /**
   * Waits for one of the tenant's request slots shared with the other processes (taken after the
   * process's own slot), and returns what gives it back. Absent: only each process's own limit holds.
   */
  readonly requestSlot?: Effect.Effect<Effect.Effect<void>> | undefined
}
