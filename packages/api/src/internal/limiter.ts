/**
 * One request-rate limiter and concurrency limits per tenant, shared by every
 * fiber using a client (and by every client given the same tenantKey).
 *
 * The rate is a GCRA-style slot reservation: each request reserves the next
 * free slot, so parallel fibers queue instead of stampeding. A 429 anywhere
 * pauses everyone until the asked wait is over and halves the rate; successes
 * win it back slowly (AIMD), so a server limit lower than the configured rate
 * costs a few 429s, not a storm.
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
  const minRate = Math.min(maxRate, 0.5)
  let rate = maxRate
  let nextFree = 0
  let pausedUntil = 0
  const reserve = (): number => {
    const now = Date.now()
    const interval = 1000 / rate
    const start = Math.max(nextFree, now - policy.burst * interval, pausedUntil)
    nextFree = start + interval
    return Math.max(0, start - now)
  }
  const take: Effect.Effect<void> = Effect.suspend(() => {
    const wait = reserve()
    return wait > 0 ? Effect.sleep(wait) : Effect.void
  })
  return {
    take,
    pause: (untilMs, throttled) => {
      if (untilMs > pausedUntil) pausedUntil = untilMs
      // Slots reserved before the pause must not all fire at its end.
      if (nextFree < pausedUntil) nextFree = pausedUntil
      if (throttled) rate = Math.max(minRate, rate / 2)
    },
    success: () => {
      if (rate < maxRate) rate = Math.min(maxRate, rate + maxRate / 50)
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
