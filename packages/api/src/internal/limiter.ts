/**
 * One request-rate limiter and concurrency limits per tenant, shared by every
 * fiber using a client (and by every client given the same tenantKey).
 *
 * The rate is GCRA-style (a burst, then one request per interval); fibers
 * queue for slots instead of stampeding. A 429 anywhere pauses everyone until
 * the asked wait is over and lowers the rate; successes win it back (AIMD), so
 * a server limit below the configured rate costs a few 429s, not a storm.
 */
import * as Effect from "effect/Effect"
import type { GraphPolicy } from "../GraphPolicy.js"

export interface Limiter {
  /** Waits for a request slot (rate and any pause). */
  readonly take: Effect.Effect<void>
  /** Everyone waits until `untilMs` (epoch ms); `throttled` also lowers the rate. */
  readonly pause: (untilMs: number, throttled: boolean) => void
  readonly success: () => void
  readonly requests: Effect.Semaphore
  readonly downloads: Effect.Semaphore
  /** Current rate (requests/s), for tests and diagnostics. */
  readonly currentRate: () => number
}

export const makeLimiter = (policy: GraphPolicy): Limiter => {
  const maxRate = policy.requestsPerSecond
  const minRate = Math.min(maxRate, Math.max(0.5, maxRate / 4))
  let rate = maxRate
  let nextFree = 0
  let pausedUntil = 0
  // One fiber at a time waits for the next slot, re-checking rate and pause when it wakes: a slot
  // reserved before a 429 must not fire at the old rate.
  const gate = Effect.unsafeMakeSemaphore(1)
  const attempt = (): Effect.Effect<void> => {
    const now = Date.now()
    const interval = 1000 / rate
    const start = Math.max(nextFree, now - policy.burst * interval, pausedUntil)
    if (start <= now) {
      nextFree = start + interval
      return Effect.void
    }
    return Effect.flatMap(Effect.sleep(Math.max(1, Math.ceil(start - now))), () => Effect.suspend(attempt))
  }
  const take: Effect.Effect<void> = gate.withPermits(1)(Effect.suspend(attempt))
  return {
    take,
    pause: (untilMs, throttled) => {
      if (untilMs > pausedUntil) pausedUntil = untilMs
      // After a pause, start from an empty burst allowance.
      if (nextFree < pausedUntil) nextFree = pausedUntil
      if (throttled) rate = Math.max(minRate, rate / 2)
    },
    success: () => {
      // Slow additive recovery: a few hundred successes back to full speed.
      if (rate < maxRate) rate = Math.min(maxRate, rate + maxRate / 500)
    },
    requests: Effect.unsafeMakeSemaphore(policy.maxConcurrentRequests),
    downloads: Effect.unsafeMakeSemaphore(policy.maxConcurrentDownloads),
    currentRate: () => rate
  }
}

const shared = new Map<string, Limiter>()

/** The limiter for a tenant key (process-wide), or a fresh one for the client. */
export const limiterFor = (policy: GraphPolicy): Limiter => {
  if (policy.tenantKey === undefined) return makeLimiter(policy)
  let l = shared.get(policy.tenantKey)
  if (l === undefined) {
    l = makeLimiter(policy)
    shared.set(policy.tenantKey, l)
  }
  return l
}
