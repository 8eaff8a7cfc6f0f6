/**
 * One request-rate limiter and concurrency limits per tenant, shared by every fiber using a client (and
 * by every client given the same tenantKey).
 *
 * The rate is GCRA-style (a burst, then one request per interval); fibers queue for slots instead of
 * stampeding. A throttling answer (429, or 503 with Retry-After) delays its own request only. The tenant
 * as a whole slows down only on evidence, read from its answers of the last two seconds (429s only: a
 * 503 is the service's trouble, not the tenant's budget):
 * - a budget spent outright (nearly every answer a 429, to several requests): every request waits
 *   until the latest of those deadlines (overlapping waits overlap, never add up) and the rate halves;
 * - a rate above the budget (throttled answers keep coming for a second or more, several per second, a
 *   fair share of all answers, while others succeed): the server accepts about as many requests per
 *   second as succeeded since the first refusal, so the rate drops a little below that, without a wait;
 *   unless requests sent together were refused and let through side by side, which a budget of that
 *   rate does not do (see OVER_BUDGET_CONTRADICTIONS).
 * - a budget emptied by a burst (the requests sent after it refused together, told to come back at
 *   about one moment): provisionally, the rate drops to what went through, spread until they may come
 *   back, so that their retries and the requests after them do not empty it again; the first refusal of
 *   a request sent after the cut and after that moment says those were sporadic 429s after all, and undoes
 *   it. A Retry-After over EMPTIED_MAX_WAIT_MS away is a pause, not a refill rate: no cut is read from it.
 * Sporadic 429s (occasional, interleaved with successes) are none of these. After such evidence the budget is
 * known to be near the current rate: for a minute each further wave of 429s lowers it a little more and
 * successes win it back slowly, so a server limit below the configured rate costs a few 429s, not a
 * steady trickle (AIMD). A cut is also an experiment, read on the answers to requests sent after it:
 * when throttling goes on among them at least as often as before, it does not follow our rate (faults,
 * however many), and the rate goes back up at once; when it goes on less often, it followed our rate down
 * and the cut was not deep enough: the rate is cut further, by the share still refused.
 *
 * Times are read from Effect's Clock, so the behaviour is testable with TestClock.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { GraphPolicy } from "../GraphPolicy.js"
import { ServerClock } from "./serverClock.js"
import { Slots } from "./slots.js"

/** How far back answers count as evidence. */
export const EVIDENCE_WINDOW_MS = 2000
/**
 * A budget spent outright: throttled answers to at least this many different requests in the window (one
 * or two requests refused again and again are unlucky, not a budget)...
 */
export const SPENT_MIN_THROTTLED = 4
/** ...and at least this share of the window's answers. */
export const SPENT_MIN_SHARE = 0.8
/**
 * A rate above the budget: this many throttled answers in the window (a spent budget answers several
 * per second however few requests are in flight: each throttled request waits, the next one is
 * throttled in turn)...
 */
export const OVER_BUDGET_MIN_THROTTLED = 6
/** ...to at least this many different requests... */
export const OVER_BUDGET_MIN_REQUESTS = 4
/** ...and at least this share of the window's answers (a large tenant's occasional 429 is no evidence). */
export const OVER_BUDGET_MIN_SHARE = 0.25
/**
 * ...unless the refusals contradict a budget of the rate that went through: a budget refusing a request
 * sent at t has less than a token left then, so of the requests sent in the next 1/rate at most one goes
 * through. When at least this many refusals were each followed by two or more successes that soon
 * (requests sent together, some refused and the others not), the 429s are sporadic, not a budget.
 */
export const OVER_BUDGET_CONTRADICTIONS = 2
/**
 * After evidence the tenant is known to have a budget near its current rate: for this long each further
 * wave of 429s lowers the rate a little and the recovery is slow, so it does not climb back over the
 * budget into a steady trickle of 429s.
 */
export const BUDGET_MEMORY_MS = 60_000
/** The rate's step down on a wave of 429s while the budget is known... */
const BUDGET_STEP_DOWN = 0.9
/** ...once per this long: the 429s of requests that were in flight together are one wave. */
export const BUDGET_STEP_INTERVAL_MS = 1000

/**
 * A budget emptied by a burst (see `Emptied`): throttled answers to at least this many different requests...
 */
export const EMPTIED_MIN_REQUESTS = 3
/** ...nearly every answer since the first of them (a budget's refill lets the odd one through)... */
export const EMPTIED_MIN_SHARE = 0.75
/**
 * ...told to come back within this long of each other (a budget emptied by a burst refuses everything
 * sent after it until about one moment; sporadic 429s name scattered times)...
 */
export const EMPTIED_DEADLINE_SPREAD_MS = 250
/** ...after at least this many successes in the window (the burst that emptied it)... */
export const EMPTIED_MIN_ACCEPTED = 4
/**
 * ...and told to come back within this long of the last answer: a longer Retry-After is a pause, not a
 * refill rate (what went through, spread over it, would cut the rate to a crawl for minutes).
 */
export const EMPTIED_MAX_WAIT_MS = 2000
/**
 * A provisional cut (on `Emptied`) stands once this many answers to requests sent after it, and after
 * the refused may come back, went through.
 */
export const PROVISIONAL_ANSWERS = 6

/** What a tenant's recent answers say. */
export type Verdict =
  /** Nearly everything was throttled: wait until `until` (the latest deadline), all of the tenant. */
  | { readonly _tag: "Spent"; readonly until: number }
  /**
   * Throttled steadily (`share` of the window's answers) while `acceptedPerSecond` requests a second went
   * through: the budget.
   */
  | { readonly _tag: "OverBudget"; readonly acceptedPerSecond: number; readonly share: number }

/**
 * The latest answers refused several requests in a row until about one moment: a budget emptied by a
 * burst, or a coincidence of sporadic 429s. `acceptedPerSecond`: what went through before the refusals,
 * spread until the refused may come back.
 */
export interface Emptied {
  readonly acceptedPerSecond: number
  /** When the refused may come back (the latest of their deadlines): the budget refuses until then. */
  readonly until: number
}

/** Old answers are dropped from the window once this many (and half of it) are old. */
const STALE_BATCH = 256

/**
 * The recent answers of a tenant and the rules that read a spent budget from them. Pure: the caller
 * passes the times.
 */
export class ThrottleEvidence {
  private answers: Array<
    {
      readonly at: number
      readonly retryAt: number | null
      readonly request: unknown
      readonly sentAt: number | undefined
    }
  > = []
  /** Answers before the window (the first `stale` of `answers`) not yet dropped. */
  private stale = 0

  /**
   * Records an answer at `at` (retryAt: when its request may be retried, for a throttling answer; null
   * for a success; `request`: what identifies the request, the same for its retries; `sentAt`: when it
   * was sent, if known). Returns what the window now shows, or null for nothing. Evidence is used once.
   */
  record(at: number, retryAt: number | null, request?: unknown, sentAt?: number): Verdict | null {
    const from = at - EVIDENCE_WINDOW_MS
    while (this.stale < this.answers.length && this.answers[this.stale]!.at <= from) this.stale++
    this.answers.push({ at, retryAt, request, sentAt })
    if (retryAt === null) {
      // a success reads nothing: the window's old answers are dropped in batches (a copy of the window per
      // answer cost more than the rest of a tiny request's limiter work, and garbage as large as the window)
      if (this.stale >= STALE_BATCH && this.stale * 2 >= this.answers.length) this.dropStale()
      return null
    }
    this.dropStale()
    let throttled = 0
    let latest = 0
    const requests = new Set<unknown>()
    for (const a of this.answers) {
      if (a.retryAt !== null) {
        throttled++
        requests.add(a.request)
        if (a.retryAt > latest) latest = a.retryAt
      }
    }
    const share = throttled / this.answers.length
    let verdict: Verdict | null = null
    if (requests.size >= SPENT_MIN_THROTTLED && share >= SPENT_MIN_SHARE) {
      verdict = { _tag: "Spent", until: latest }
    } else if (
      throttled >= OVER_BUDGET_MIN_THROTTLED && requests.size >= OVER_BUDGET_MIN_REQUESTS &&
      share >= OVER_BUDGET_MIN_SHARE
    ) {
      // refusals over at least half the window: what a budget refills shows only over time
      const first = this.answers.findIndex((a) => a.retryAt !== null)
      const seconds = (at - this.answers[first]!.at) / 1000
      const acceptedPerSecond = this.successesAfter(first) / seconds
      if (
        seconds >= EVIDENCE_WINDOW_MS / 2000 &&
        this.contradictions(first, 1000 / acceptedPerSecond) < OVER_BUDGET_CONTRADICTIONS
      ) {
        verdict = { _tag: "OverBudget", acceptedPerSecond, share }
      }
    }
    if (verdict !== null) this.answers = []
    return verdict
  }

  private dropStale(): void {
    if (this.stale === 0) return
    this.answers = this.answers.slice(this.stale)
    this.stale = 0
  }

  /** An emptied budget (see `Emptied`) at the end of the window, or null; its answers stay evidence for `record`. */
  emptied(): Emptied | null {
    this.dropStale()
    // the longest run of latest answers refused nearly throughout, from a refusal on
    let from = -1
    let refused = 0
    for (let i = this.answers.length - 1; i >= 0; i--) {
      if (this.answers[i]!.retryAt === null) continue
      refused++
      if (refused / (this.answers.length - i) >= EMPTIED_MIN_SHARE) from = i
    }
    if (from < 0) return null
    const requests = new Set<unknown>()
    let earliest = Number.POSITIVE_INFINITY
    let latest = Number.NEGATIVE_INFINITY
    for (let i = from; i < this.answers.length; i++) {
      const a = this.answers[i]!
      if (a.retryAt === null) continue
      requests.add(a.request)
      earliest = Math.min(earliest, a.retryAt)
      latest = Math.max(latest, a.retryAt)
    }
    if (requests.size < EMPTIED_MIN_REQUESTS || latest - earliest > EMPTIED_DEADLINE_SPREAD_MS) return null
    if (latest - this.answers[this.answers.length - 1]!.at > EMPTIED_MAX_WAIT_MS) return null
    // what went through in the window: the burst before the refusals and the odd refill among them
    let accepted = 0
    for (const a of this.answers) if (a.retryAt === null) accepted++
    if (accepted < EMPTIED_MIN_ACCEPTED) return null
    return { acceptedPerSecond: accepted / ((latest - this.answers[0]!.at) / 1000), until: latest }
  }

  /** Different requests refused in the window. */
  throttledRequests(): number {
    this.dropStale()
    const requests = new Set<unknown>()
    for (const a of this.answers) if (a.retryAt !== null) requests.add(a.request)
    return requests.size
  }

  /**
   * Refusals from the answer at `index` on that were each followed, within `spanMs` of their sending, by
   * at least two successes sent after them (see OVER_BUDGET_CONTRADICTIONS); answers of unknown sending
   * time say nothing.
   */
  private contradictions(index: number, spanMs: number): number {
    let n = 0
    for (let i = index; i < this.answers.length; i++) {
      const refused = this.answers[i]!
      if (refused.retryAt === null || refused.sentAt === undefined) continue
      let through = 0
      for (const a of this.answers) {
        if (
          a.retryAt === null && a.sentAt !== undefined && a.sentAt > refused.sentAt &&
          a.sentAt - refused.sentAt <= spanMs
        ) {
          through++
        }
      }
      if (through >= 2) n++
    }
    return n
  }

  /**
   * Successes after the answer at `index`. From a first refusal on, a budget is empty: what still goes
   * through is what it refills (earlier successes may have been its burst).
   */
  private successesAfter(index: number): number {
    let n = 0
    for (let i = index + 1; i < this.answers.length; i++) if (this.answers[i]!.retryAt === null) n++
    return n
  }
}

export interface Limiter {
  /** Waits for a request slot (the rate, and any tenant-wide wait); yields when it was granted (Clock ms). */
  readonly take: Effect.Effect<number>
  /**
   * A 429 whose request (`request` identifies it, the same for its retries) may be retried at `retryAt`
   * (Clock ms); `sentAt`: when its slot was granted (`take`). May slow the tenant down.
   */
  readonly throttled: (retryAt: number, request: unknown, sentAt?: number) => Effect.Effect<void>
  /** A successful answer to a request whose slot was granted at `sentAt`. */
  readonly success: (sentAt?: number) => Effect.Effect<void>
  readonly requests: Slots
  readonly downloads: Slots
  /** Current rate (requests/s), for tests and diagnostics. */
  readonly currentRate: () => number
  /** Until when (Clock ms) every request of the tenant waits; 0 when none has. */
  readonly pausedUntil: () => number
  /** The Graph origin's clock as its answers tell (Retry-After dates are its clock's). */
  readonly serverClock: ServerClock
}

/** Different requests refused within the evidence window after which the burst allowance is spent. */
export const BURST_SPENT_AFTER = 2

/** The lowest rate evidence brings a tenant to: a tenth of the configured one (at most that, at least 0.5/s). */
export const minimumRate = (requestsPerSecond: number): number =>
  Math.min(requestsPerSecond, Math.max(0.5, requestsPerSecond / 10))

/**
 * After a cut is undone (throttling did not follow our rate: sporadic faults, however many), verdicts of
 * a rate above the budget are not believed for this long.
 */
export const DISTRUST_MS = 20_000
/**
 * Near a known budget, after this long without a 429 the rate probes upward (PROBE_PER_SECOND): a pace
 * a step below the budget would otherwise cap what goes through at that step.
 */
export const PROBE_AFTER_MS = 5000
/** How much the rate grows per second of probing (a budget a step above is found in about ten seconds). */
export const PROBE_PER_SECOND = 0.01
/**
 * A cut for a rate above the budget is read on the first this-many answers to requests sent after it:
 * throttled at least as often as before the cut (and at least EXPERIMENT_MIN_THROTTLED times), throttling
 * does not follow our rate and the cut is undone at once; throttled less often but still that many times,
 * the cut was right but too shallow and the rate is cut further; otherwise it stands.
 */
export const EXPERIMENT_ANSWERS = 12
/**
 * Throttled answers among them that say more than "a little above the budget" (which still gets the odd
 * 429): undoing a right cut would send a tenant back over its budget for DISTRUST_MS.
 */
export const EXPERIMENT_MIN_THROTTLED = 3
/** The most time one success credits to the upward probe: a long silence (streaming downloads) is no sign the budget grew. */
export const PROBE_MAX_CREDIT_MS = 1000

/** A cut being read on the answers to requests sent after it (at `at`); `share`: throttled before it. */
interface Experiment {
  readonly at: number
  readonly share: number
  answers: number
  throttled: number
}

/**
 * The tenant's rate and what its answers taught about the budget (AIMD). Pure: the caller passes the
 * times and the verdicts of `ThrottleEvidence`.
 */
export class RateControl {
  rate: number
  private readonly minRate: number
  private budgetSeenAt = Number.NEGATIVE_INFINITY
  private steppedAt = Number.NEGATIVE_INFINITY
  /** At the last cut for a rate above the budget: the throttled share then, and the rate before the cuts. */
  private lastCut: { readonly share: number; readonly rateBefore: number } | null = null
  /** The last cut being read on the answers to requests sent after it (at `at`). */
  private experiment: Experiment | null = null
  private distrustUntil = Number.NEGATIVE_INFINITY
  private throttledAt = Number.NEGATIVE_INFINITY
  private probedAt = Number.NEGATIVE_INFINITY
  /** A cut on an emptied budget (see `Emptied`), until PROVISIONAL_ANSWERS answers sent after it confirm it. */
  private provisional:
    | { readonly at: number; readonly until: number; readonly rateBefore: number; answers: number }
    | null = null

  constructor(private readonly maxRate: number) {
    this.rate = maxRate
    this.minRate = minimumRate(maxRate)
  }

  /** Whether a budget near the current rate is known (answers of the last BUDGET_MEMORY_MS said so). */
  budgetKnown(now: number): boolean {
    return now - this.budgetSeenAt < BUDGET_MEMORY_MS
  }

  /**
   * A throttling answer at `now` to a request sent at `sentAt` (its rate slot; unknown: before any cut),
   * with what the evidence made of it.
   */
  throttled(now: number, verdict: Verdict | null, sentAt = Number.NEGATIVE_INFINITY): void {
    this.throttledAt = now
    if (verdict?._tag === "Spent") {
      // the strongest evidence: halve from where the rate is, provisional cut or not
      this.experiment = null
      this.provisional = null
      return this.cut(now, this.rate / 2)
    }
    const p = this.provisional
    if (p !== null && sentAt >= Math.max(p.at, p.until)) {
      // refused again though sent at the provisional rate after the emptied budget's deadline (refusals of
      // requests sent before it are what an emptied budget does): those were sporadic 429s (or the budget
      // is lower still, which the rules below find as before): back to the rate before it
      this.provisional = null
      this.rate = Math.max(this.rate, p.rateBefore)
      this.budgetSeenAt = Number.NEGATIVE_INFINITY
      this.steppedAt = Number.NEGATIVE_INFINITY
    }
    if (now < this.distrustUntil) return
    const e = this.experiment
    if (e !== null && sentAt >= e.at) {
      // sent at the cut rate: data for the experiment, not a reason to cut further
      e.answers++
      e.throttled++
      // as often as before the cut or more: the 429s did not follow our rate down
      if (e.throttled >= EXPERIMENT_MIN_THROTTLED && e.throttled >= e.share * e.answers) this.undo(now)
      else if (e.answers >= EXPERIMENT_ANSWERS) this.readExperiment(now, e)
      return
    }
    if (verdict === null) {
      // one more wave of 429s near a known budget: a small step down, once per wave
      if (this.budgetKnown(now) && now - this.steppedAt >= BUDGET_STEP_INTERVAL_MS) {
        this.cut(now, this.rate * BUDGET_STEP_DOWN)
      }
      return
    }
    const last = this.budgetKnown(now) ? this.lastCut : null
    // a second verdict, throttled at least as often as at the last cut: it did not follow our rate
    if (last !== null && verdict.share >= last.share) return this.undo(now)
    // a little below what went through: exactly at a budget, timing noise alone gets requests refused
    this.experimentalCut(now, verdict.share, BUDGET_STEP_DOWN * Math.min(this.rate, verdict.acceptedPerSecond))
  }

  /**
   * An emptied budget at `now` (its last answer already told to `throttled`): with nothing known of the
   * budget yet, a provisional cut to what went through (see `Emptied`), undone by the first refusal of a
   * request sent after it and after the refused may come back. Returns whether the rate was cut.
   */
  emptied(now: number, emptied: Emptied): boolean {
    if (this.budgetKnown(now) || now < this.distrustUntil || this.experiment !== null || this.provisional !== null) {
      return false
    }
    if (emptied.acceptedPerSecond >= this.rate) return false
    this.provisional = { at: now, until: emptied.until, rateBefore: this.rate, answers: 0 }
    this.cut(now, emptied.acceptedPerSecond)
    return true
  }

  /**
   * A successful answer at `now` to a request sent at `sentAt`: additive recovery, slow near a known
   * budget (a thousand successes to double).
   */
  success(now: number, sentAt = Number.NEGATIVE_INFINITY): void {
    const p = this.provisional
    // (read on the same requests as its undoing: those sent once the refused may come back)
    if (p !== null && sentAt >= Math.max(p.at, p.until) && ++p.answers >= PROVISIONAL_ANSWERS) this.provisional = null
    const e = this.experiment
    if (e !== null && sentAt >= e.at && ++e.answers >= EXPERIMENT_ANSWERS) this.readExperiment(now, e)
    if (this.rate >= this.maxRate) return
    if (!this.budgetKnown(now)) {
      this.rate = Math.min(this.maxRate, this.rate + this.maxRate / 500)
      return
    }
    let rate = this.rate + this.rate / 1000
    // quiet for a while: probe upward, in proportion to the time since the quiet began or the last probe
    const probeFrom = Math.max(this.throttledAt, this.steppedAt) + PROBE_AFTER_MS
    if (now > probeFrom) {
      const since = Math.max(probeFrom, this.probedAt)
      rate *= 1 + (PROBE_PER_SECOND * Math.min(now - since, PROBE_MAX_CREDIT_MS)) / 1000
      this.probedAt = now
    }
    this.rate = Math.min(this.maxRate, rate)
  }

  /** Whether a cut is being read (see EXPERIMENT_ANSWERS). */
  experimenting(): boolean {
    return this.experiment !== null
  }

  /** A cut for a rate above the budget (throttled `share` of the answers before it), read as an experiment. */
  private experimentalCut(now: number, share: number, to: number): void {
    const last = this.budgetKnown(now) ? this.lastCut : null
    this.lastCut = { share, rateBefore: last?.rateBefore ?? this.rate }
    this.experiment = { at: now, share, answers: 0, throttled: 0 }
    this.cut(now, to)
  }

  /**
   * All answers of experiment `e` are in, throttled less often than before its cut (else it was undone).
   * Still throttled a few times: throttling followed our rate down but the cut was too shallow (the
   * verdict overestimated what went through); the rate goes a little below what the share refused leaves.
   */
  private readExperiment(now: number, e: Experiment): void {
    this.experiment = null
    if (e.throttled < EXPERIMENT_MIN_THROTTLED) return
    const share = e.throttled / e.answers
    this.experimentalCut(now, share, BUDGET_STEP_DOWN * this.rate * (1 - share))
  }

  /** The throttling did not follow our rate: back to the rate before the cuts, and such verdicts are not believed for a while. */
  private undo(now: number): void {
    if (this.lastCut !== null) this.rate = Math.max(this.rate, this.lastCut.rateBefore)
    this.lastCut = null
    this.experiment = null
    this.budgetSeenAt = Number.NEGATIVE_INFINITY
    this.distrustUntil = now + DISTRUST_MS
  }

  private cut(now: number, to: number): void {
    this.budgetSeenAt = now
    this.steppedAt = now
    this.rate = Math.max(this.minRate, Math.min(this.rate, to))
  }
}

export const makeLimiter = (policy: GraphPolicy): Limiter => {
  const evidence = new ThrottleEvidence()
  const control = new RateControl(policy.requestsPerSecond)
  // -Infinity: a fresh limiter has its whole burst (also when the clock starts at 0, as TestClock does)
  let nextFree = Number.NEGATIVE_INFINITY
  let pausedUntil = Number.NEGATIVE_INFINITY
  // One fiber at a time waits for the next slot, re-checking rate and pause when it wakes: a slot
  // reserved before the tenant slowed down must not fire at the old rate.
  const gate = Effect.unsafeMakeSemaphore(1)
  /** When the next slot starts, seen at `now` (granted if not later than `now`). */
  const slotStart = (now: number): number => {
    // at most `burst` requests back to back: the first of them at now - (burst - 1) intervals; near a
    // known budget two at most, a tolerance of one interval for late timers (a burst is what a spent
    // budget refuses first)
    const burst = control.budgetKnown(now) ? Math.min(2, policy.burst) : policy.burst
    return Math.max(nextFree, now - (burst - 1) * (1000 / control.rate), pausedUntil)
  }
  /** Takes the slot starting at `start` if it has started by `now`. */
  const grant = (now: number, start: number): boolean => {
    if (start > now) return false
    nextFree = start + 1000 / control.rate
    return true
  }
  const attempt: Effect.Effect<number> = Effect.clockWith((clock) => {
    const now = clock.unsafeCurrentTimeMillis()
    const start = slotStart(now)
    if (grant(now, start)) return Effect.succeed(now)
    return Effect.zipRight(Effect.sleep(Math.max(1, Math.ceil(start - now))), Effect.suspend(() => attempt))
  })
  // fibers in the gate or waiting for it: while there are any, a request queues behind them
  let gated = 0
  const leaveGate = Effect.sync(() => {
    gated--
  })
  const throughGate = Effect.suspend(() => {
    gated++
    return Effect.ensuring(gate.withPermits(1)(attempt), leaveGate)
  })
  return {
    // a slot free now, with nobody waiting for one, is granted without the gate (one step, not a dozen)
    take: Effect.clockWith((clock) => {
      const now = clock.unsafeCurrentTimeMillis()
      return gated === 0 && grant(now, slotStart(now)) ? Effect.succeed(now) : throughGate
    }),
    throttled: (retryAt, request, sentAt) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const verdict = evidence.record(now, retryAt, request, sentAt)
        // refusals of two requests in the window spend the burst allowance: the requests after them go at
        // the rate, two back to back at most as near a known budget (a refused request gives its slots
        // back at once, and a budget just emptied would refuse a burst whole); one refusal alone leaves it
        const tolerance = now - 1000 / control.rate
        if (nextFree < tolerance && evidence.throttledRequests() >= BURST_SPENT_AFTER) nextFree = tolerance
        if (verdict?._tag === "Spent") {
          if (verdict.until > pausedUntil) pausedUntil = verdict.until
          // After a pause, start from an empty burst allowance.
          if (nextFree < pausedUntil) nextFree = pausedUntil
        }
        control.throttled(now, verdict, sentAt)
        const emptied = verdict === null ? evidence.emptied() : null
        if (emptied !== null && control.emptied(now, emptied)) {
          // the budget is empty now: the next request goes an interval after the cut, not in a burst
          nextFree = Math.max(nextFree, now + 1000 / control.rate)
        }
      }),
    success: (sentAt) =>
      Effect.clockWith((clock) => {
        const now = clock.unsafeCurrentTimeMillis()
        evidence.record(now, null, undefined, sentAt)
        control.success(now, sentAt)
        return Effect.void
      }),
    requests: new Slots(policy.maxConcurrentRequests),
    downloads: new Slots(policy.maxConcurrentDownloads),
    currentRate: () => control.rate,
    pausedUntil: () => Math.max(0, pausedUntil),
    serverClock: new ServerClock()
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
