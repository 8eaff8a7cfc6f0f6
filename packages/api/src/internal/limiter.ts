/**
 * One request-rate limiter and concurrency limits per tenant, shared by every fiber using a client (and
 * by every client given the same tenantKey).
 *
 * The rate is GCRA-style (a burst, then one request per interval); fibers queue for slots instead of
 * stampeding. A throttling answer (429, or 503 with Retry-After) delays its own request only. The tenant
 * as a whole waits only on evidence that its budget is spent: most answers of the last second throttled,
 * from several requests (sporadic 429s are interleaved with successes; a spent budget rejects everyone).
 * Then every request waits until the latest of those deadlines (overlapping waits overlap, never add up)
 * and the rate is halved; for a minute after, each further 429 lowers it a little more (a budget near the
 * current rate is known); successes win it back slowly (AIMD), so a server limit below the configured
 * rate costs a few 429s, not a storm.
 *
 * Times are read from Effect's Clock, so the behaviour is testable with TestClock.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { GraphPolicy } from "../GraphPolicy.js"

/** How far back answers count as evidence of a spent budget. */
export const EVIDENCE_WINDOW_MS = 1000
/** Throttled answers (from different requests) in the window before the tenant slows down... */
export const EVIDENCE_MIN_THROTTLED = 4
/** ...and the share of the window's answers they must be at least. */
export const EVIDENCE_MIN_SHARE = 0.5
/**
 * After such evidence the tenant is known to have a budget near its current rate: for this long every
 * further 429 lowers the rate a little (without a tenant-wide wait), so the slow recovery does not climb
 * back over the budget into a steady trickle of 429s.
 */
export const BUDGET_MEMORY_MS = 60_000
const BUDGET_STEP_DOWN = 0.8

/**
 * The recent answers of a tenant and the rule that reads a spent budget from them. Pure: the caller
 * passes the times.
 */
export class ThrottleEvidence {
  private answers: Array<{ readonly at: number; readonly retryAt: number | null }> = []

  /**
   * Records an answer at `at` (retryAt: when its request may be retried, for a throttling answer; null
   * for a success). Returns the time until which the whole tenant should wait when the window now shows
   * a spent budget (the latest deadline of its throttled answers), else null. Evidence is used once.
   */
  record(at: number, retryAt: number | null): number | null {
    const from = at - EVIDENCE_WINDOW_MS
    let keep = 0
    while (keep < this.answers.length && this.answers[keep]!.at < from) keep++
    if (keep > 0) this.answers = this.answers.slice(keep)
    this.answers.push({ at, retryAt })
    if (retryAt === null) return null
    let throttled = 0
    let latest = 0
    for (const a of this.answers) {
      if (a.retryAt !== null) {
        throttled++
        if (a.retryAt > latest) latest = a.retryAt
      }
    }
    if (throttled < EVIDENCE_MIN_THROTTLED || throttled < EVIDENCE_MIN_SHARE * this.answers.length) return null
    this.answers = []
    return latest
  }
}

export interface Limiter {
  /** Waits for a request slot: the rate, and any tenant-wide wait. */
  readonly take: Effect.Effect<void>
  /** A throttling answer whose request may be retried at `retryAt` (Clock ms); may slow the tenant down. */
  readonly throttled: (retryAt: number) => Effect.Effect<void>
  /** A successful answer. */
  readonly success: Effect.Effect<void>
  readonly requests: Effect.Semaphore
  readonly downloads: Effect.Semaphore
  /** Current rate (requests/s), for tests and diagnostics. */
  readonly currentRate: () => number
  /** Until when (Clock ms) every request of the tenant waits; 0 when none has. */
  readonly pausedUntil: () => number
}

export const makeLimiter = (policy: GraphPolicy): Limiter => {
  const maxRate = policy.requestsPerSecond
  const minRate = Math.min(maxRate, Math.max(0.5, maxRate / 4))
  const evidence = new ThrottleEvidence()
  let rate = maxRate
  // -Infinity: a fresh limiter has its whole burst (also when the clock starts at 0, as TestClock does)
  let nextFree = Number.NEGATIVE_INFINITY
  let pausedUntil = Number.NEGATIVE_INFINITY
  let budgetSeenAt = Number.NEGATIVE_INFINITY
  // One fiber at a time waits for the next slot, re-checking rate and pause when it wakes: a slot
  // reserved before the tenant slowed down must not fire at the old rate.
  const gate = Effect.unsafeMakeSemaphore(1)
  const attempt: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const interval = 1000 / rate
    // at most `burst` requests back to back: the first of them at now - (burst - 1) intervals
    const start = Math.max(nextFree, now - (policy.burst - 1) * interval, pausedUntil)
    if (start <= now) {
      nextFree = start + interval
      return Effect.void
    }
    return Effect.zipRight(Effect.sleep(Math.max(1, Math.ceil(start - now))), Effect.suspend(() => attempt))
  })
  return {
    take: gate.withPermits(1)(attempt),
    throttled: (retryAt) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const until = evidence.record(now, retryAt)
        if (until === null) {
          if (now - budgetSeenAt < BUDGET_MEMORY_MS) rate = Math.max(minRate, rate * BUDGET_STEP_DOWN)
          return
        }
        budgetSeenAt = now
        if (until > pausedUntil) pausedUntil = until
        // After a pause, start from an empty burst allowance.
        if (nextFree < pausedUntil) nextFree = pausedUntil
        rate = Math.max(minRate, rate / 2)
      }),
    success: Effect.map(Clock.currentTimeMillis, (now) => {
      evidence.record(now, null)
      // Slow additive recovery: a few hundred successes back to full speed.
      if (rate < maxRate) rate = Math.min(maxRate, rate + maxRate / 500)
    }),
    requests: Effect.unsafeMakeSemaphore(policy.maxConcurrentRequests),
    downloads: Effect.unsafeMakeSemaphore(policy.maxConcurrentDownloads),
    currentRate: () => rate,
    pausedUntil: () => Math.max(0, pausedUntil)
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
