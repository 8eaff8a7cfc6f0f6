/**
 * The tenant limiter: a throttling answer delays its own request; the tenant waits only on evidence of a
 * spent budget, until the latest deadline (never a sum); Retry-After is never cut short. Time is Effect's
 * TestClock, so nothing here depends on how fast the machine is: a request that must wait cannot be sent
 * before the clock is moved past its deadline.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { GraphClient, type GraphRetry, handleRetries, makePolicy } from "../src/index.js"
import {
  BUDGET_MEMORY_MS,
  BUDGET_STEP_INTERVAL_MS,
  BURST_SPENT_AFTER,
  DISTRUST_MS,
  EMPTIED_DEADLINE_SPREAD_MS,
  EMPTIED_MAX_WAIT_MS,
  EMPTIED_MIN_ACCEPTED,
  EVIDENCE_WINDOW_MS,
  EXPERIMENT_ANSWERS,
  makeLimiter,
  OVER_BUDGET_MIN_THROTTLED,
  PROBE_AFTER_MS,
  PROBE_MAX_CREDIT_MS,
  PROVISIONAL_ANSWERS,
  RateControl,
  SPENT_MIN_THROTTLED,
  ThrottleEvidence,
  type Verdict
} from "../src/internal/limiter.js"
import { ALICE, clientLayer, MEETINGS, meetingId, recordingId, tenant, WINDOW } from "./helpers.js"

/**
 * A client sending every `everyMs` to a per-tenant token bucket of `rate`/s and `burst` tokens, each
 * refused request retried after 1 s: the answers a spent budget gives, fed to the evidence. Returns the
 * first verdict (and when), or null.
 */
const againstBucket = (rate: number, burst: number, everyMs: number, untilMs: number, together = 1) => {
  const e = new ThrottleEvidence()
  let tokens = burst
  let refilledAt = 0
  for (let t = 0; t < untilMs; t += everyMs) {
    // `together` requests sent 2 ms apart, each answered 20 ms after it was sent
    for (let k = 0; k < together; k++) {
      const sent = t + 2 * k
      tokens = Math.min(burst, tokens + ((sent - refilledAt) / 1000) * rate)
      refilledAt = sent
      const ok = tokens >= 1
      if (ok) tokens -= 1
      const verdict = e.record(sent + 20, ok ? null : sent + 1000, sent, sent)
      if (verdict !== null) return { at: sent + 20, verdict }
    }
  }
  return null
}

describe("throttle evidence", () => {
  it("sporadic 429s among successes are no evidence, even a third of the answers at a few a second", () => {
    const e = new ThrottleEvidence()
    // about 7 answers a second for a minute, 3 of every 10 throttled
    for (let i = 0; i < 400; i++) {
      const t = i * 150
      expect(e.record(t, [0, 3, 7].includes(i % 10) ? t + 1000 : null, i)).toBeNull()
    }
  })

  it("a budget refusing nearly every answer is spent: everyone waits until the latest deadline, never the sum", () => {
    const f = new ThrottleEvidence()
    const deadlines = [5000, 9000, 7000, 6000]
    const verdicts = deadlines.map((d, i) => f.record(i, d, i))
    expect(verdicts.slice(0, SPENT_MIN_THROTTLED - 1)).toEqual([null, null, null])
    expect(verdicts[SPENT_MIN_THROTTLED - 1]).toEqual({ _tag: "Spent", until: 9000 })
  })

  it("one or two requests refused again and again are no evidence, however few other answers there are", () => {
    const e = new ThrottleEvidence()
    // two listings, each throttled three times in a row while nothing else is in flight
    for (let i = 0; i < 6; i++) {
      expect(e.record(i * 300, i * 300 + 1000, i % 2 === 0 ? "recordings" : "transcripts")).toBeNull()
    }
    // and among successes, retried requests alone are no budget either
    const f = new ThrottleEvidence()
    for (let i = 0; i < 30; i++) {
      expect(f.record(i * 60, i % 3 === 0 ? i * 60 + 1000 : null, `page ${i % 2}`)).toBeNull()
    }
  })

  it("a rate above a token bucket is read as such, with the bucket's rate as what it accepts", () => {
    // 20 requests a second against 5 a second (burst 5)
    const found = againstBucket(5, 5, 50, 10_000)
    expect(found?.verdict._tag).toBe("OverBudget")
    const accepted = (found!.verdict as Extract<Verdict, { _tag: "OverBudget" }>).acceptedPerSecond
    expect(accepted).toBeGreaterThan(4)
    expect(accepted).toBeLessThan(6.5)
    // within the first two seconds: before many more 429s than the rule needs
    expect(found!.at).toBeLessThan(2000)
    // a client within the budget gets no verdict
    expect(againstBucket(5, 5, 210, 60_000)).toBeNull()
  })

  it("a rate above a token bucket is read as such also when requests go out several at a time", () => {
    // 4 requests together every 400 ms against 5 a second: the bucket lets the first of each group through
    expect(againstBucket(5, 5, 400, 10_000, 4)?.verdict._tag).toBe("OverBudget")
  })

  it("429s to requests sent together with requests let through are sporadic, not a rate above a budget", () => {
    // 3 requests together every 200 ms, the first of each refused (a third of all answers, 5 a second):
    // a budget refusing the first would not let the next two, sent 2 and 4 ms later, through
    const e = new ThrottleEvidence()
    for (let t = 0; t < 10_000; t += 200) {
      for (let k = 0; k < 3; k++) {
        const sent = t + 2 * k
        expect(e.record(sent + 20, k === 0 ? sent + 1000 : null, sent, sent)).toBeNull()
      }
    }
    // the same answers without their sending times are still read as a budget (the rule the above is an
    // exception to)
    const f = new ThrottleEvidence()
    const verdicts: Array<Verdict | null> = []
    for (let t = 0; t < 2000; t += 200) {
      for (let k = 0; k < 3; k++) verdicts.push(f.record(t + 2 * k + 20, k === 0 ? t + 1000 : null, t + 2 * k))
    }
    expect(verdicts.some((v) => v?._tag === "OverBudget")).toBe(true)
  })

  it("answers older than the window do not count", () => {
    const e = new ThrottleEvidence()
    for (let i = 0; i < SPENT_MIN_THROTTLED - 1; i++) e.record(i, 2000, i)
    expect(e.record(EVIDENCE_WINDOW_MS + 10, 3000, "late")).toBeNull()
    const g = new ThrottleEvidence()
    for (let i = 0; i < OVER_BUDGET_MIN_THROTTLED - 1; i++) g.record(i * 10, 2000, i)
    for (let i = 0; i < 10; i++) g.record(100 + i, null)
    expect(g.record(EVIDENCE_WINDOW_MS + 10, 5000, "late")).toBeNull()
  })
})

describe("rate control", () => {
  const overBudget = (acceptedPerSecond: number, share: number): Verdict => ({
    _tag: "OverBudget",
    acceptedPerSecond,
    share
  })

  it("drops to the rate the budget accepts, steps down once per wave of 429s, and climbs back slowly", () => {
    const c = new RateControl(20)
    c.throttled(0, null) // a sporadic 429: nothing known yet
    expect(c.rate).toBe(20)
    // a little below what went through
    c.throttled(1000, overBudget(5, 0.4))
    expect(c.rate).toBeCloseTo(4.5, 6)
    // a wave: the 429s of requests in flight together lower the rate once
    c.throttled(1500, null)
    expect(c.rate).toBeCloseTo(4.5, 6)
    c.throttled(1000 + BUDGET_STEP_INTERVAL_MS, null)
    c.throttled(1010 + BUDGET_STEP_INTERVAL_MS, null)
    expect(c.rate).toBeCloseTo(4.05, 6)
    // near the budget: a hundred successes win back about a tenth
    for (let i = 0; i < 100; i++) c.success(3000 + i)
    expect(c.rate).toBeGreaterThan(4.4)
    expect(c.rate).toBeLessThan(4.55)
    // a minute without news: back to full speed within a few hundred successes
    for (let i = 0; i < 400; i++) c.success(2000 + BUDGET_MEMORY_MS + i)
    expect(c.rate).toBe(20)
  })

  it("a cut after which throttling goes on as often is undone: it did not follow our rate", () => {
    const c = new RateControl(20)
    c.throttled(0, overBudget(14, 0.3))
    expect(c.rate).toBeCloseTo(12.6, 6)
    c.throttled(1000, null)
    expect(c.rate).toBeCloseTo(11.34, 6)
    c.throttled(2500, overBudget(9, 0.3))
    expect(c.rate).toBe(20)
    // and for a while further verdicts of that kind are not believed
    c.throttled(5000, overBudget(9, 0.3))
    c.throttled(6500, null)
    expect(c.rate).toBe(20)
    // a throttling that did become rarer after the cut is a budget: the second cut stands
    const d = new RateControl(20)
    d.throttled(0, overBudget(7, 0.45))
    d.throttled(3000, overBudget(5, 0.3))
    expect(d.rate).toBeCloseTo(4.5, 6)
    // distrust ends
    c.throttled(5000 + DISTRUST_MS, overBudget(9, 0.3))
    expect(c.rate).toBeCloseTo(8.1, 6)
  })

  it("a cut is read on the requests sent after it: throttled about as often as before, it is undone at once", () => {
    const c = new RateControl(20)
    // sporadic faults: a third of the answers throttled, read as a rate above the budget
    c.throttled(1000, overBudget(5, 0.4), 950)
    expect(c.rate).toBeCloseTo(4.5, 6)
    expect(c.experimenting()).toBe(true)
    // answers to requests sent before the cut say nothing of it
    for (let i = 0; i < 5; i++) c.throttled(1010 + i, null, 990)
    expect(c.rate).toBeCloseTo(4.5, 6)
    // sent at the new rate: a success, then throttled again and again (faults do not follow our rate)
    c.success(1300, 1250)
    c.throttled(1500, null, 1450)
    c.throttled(2600, null, 2550)
    expect(c.rate).toBeLessThan(4.6)
    c.throttled(2800, null, 2750)
    expect(c.rate).toBe(20)
    expect(c.experimenting()).toBe(false)
    // and such verdicts are not believed for a while
    c.throttled(3000, overBudget(5, 0.4), 2900)
    expect(c.rate).toBe(20)
  })

  it("a cut after which requests sent at the new rate are seldom throttled stands, and 429s then step it down", () => {
    const c = new RateControl(20)
    c.throttled(1000, overBudget(5, 0.4), 950)
    c.throttled(1400, null, 1300)
    for (let i = 1; i < EXPERIMENT_ANSWERS; i++) c.success(1400 + 200 * i, 1300 + 200 * i)
    expect(c.experimenting()).toBe(false)
    expect(c.rate).toBeGreaterThan(4.5)
    expect(c.rate).toBeLessThan(4.6)
    const before = c.rate
    c.throttled(4000, null, 3900)
    expect(c.rate).toBeCloseTo(0.9 * before, 6)
  })

  it("a cut that made throttling rarer but not rare enough is cut further, not undone", () => {
    // configured 20/s, budget 5/s: the first verdict overestimates what went through (8/s)
    const c = new RateControl(20)
    c.throttled(1000, overBudget(8, 0.4), 950)
    expect(c.rate).toBeCloseTo(7.2, 6)
    // at 7.2/s a third of the answers are still refused (1 - 5/7.2): rarer than the 0.4 before the cut
    let t = 1100
    const answersAtTheCutRate = (throttledEvery: number | null) => {
      for (let i = 1; i <= EXPERIMENT_ANSWERS; i++, t += 150) {
        if (throttledEvery !== null && i % throttledEvery === 0) c.throttled(t, null, t - 100)
        else c.success(t, t - 100)
      }
    }
    answersAtTheCutRate(3)
    // the throttling followed our rate down: a little below what the third still refused leaves (0.9 of
    // 7.2 * 2/3, plus what the successes won back)
    expect(c.rate).toBeGreaterThan(4.32)
    expect(c.rate).toBeLessThan(4.4)
    expect(c.experimenting()).toBe(true)
    // that cut is read in turn: seldom throttled, it stands
    answersAtTheCutRate(null)
    expect(c.experimenting()).toBe(false)
    expect(c.rate).toBeGreaterThan(4.32)
    expect(c.rate).toBeLessThan(4.45)
    // and evidence of a rate above the budget is still believed, not distrusted
    const before = c.rate
    c.throttled(t, overBudget(4, 0.25), t - 100)
    expect(c.rate).toBeCloseTo(0.9 * Math.min(before, 4), 6)
  })

  it("a long silence near a known budget credits the upward probe one step, not a jump", () => {
    const c = new RateControl(20)
    c.throttled(0, overBudget(5, 0.4), -50)
    for (let t = 100; t <= 2500; t += 200) c.success(t, t - 50)
    expect(c.experimenting()).toBe(false)
    const before = c.rate
    // no answer for ~55 s (fibers streaming content), still within the budget's memory
    c.success(BUDGET_MEMORY_MS - 4000, BUDGET_MEMORY_MS - 4100)
    expect(c.rate).toBeGreaterThan(before)
    expect(c.rate).toBeLessThanOrEqual(before * 1.001 * (1 + (0.01 * PROBE_MAX_CREDIT_MS) / 1000) + 1e-9)
  })

  it("near a known budget a quiet while probes upward; a 429 steps back and starts the quiet again", () => {
    const c = new RateControl(20)
    c.throttled(0, overBudget(5, 0.4), -50)
    expect(c.rate).toBeCloseTo(4.5, 6)
    // a success every 200 ms, no 429
    let t = 0
    const successesUntil = (end: number) => {
      for (; t < end; t += 200) c.success(t, t - 50)
    }
    successesUntil(PROBE_AFTER_MS)
    expect(c.rate).toBeLessThan(4.65)
    successesUntil(PROBE_AFTER_MS + 10_000)
    // ten seconds of probing: about a tenth more than the successes alone win back
    expect(c.rate).toBeGreaterThan(5.2)
    expect(c.rate).toBeLessThan(5.6)
    const probed = c.rate
    c.throttled(t, null, t - 50)
    expect(c.rate).toBeCloseTo(0.9 * probed, 6)
    const stepped = c.rate
    successesUntil(t + PROBE_AFTER_MS - 200)
    expect(c.rate).toBeLessThan(stepped * 1.03)
  })

  it("a spent budget halves the rate, down to a tenth of the configured one", () => {
    const c = new RateControl(40)
    c.throttled(0, { _tag: "Spent", until: 1000 })
    expect(c.rate).toBe(20)
    for (let i = 1; i < 10; i++) c.throttled(i, { _tag: "Spent", until: 1000 })
    expect(c.rate).toBe(4)
  })
})

describe("a budget emptied by a burst", () => {
  /** Seven answers in the first 420 ms went through (a bucket's burst and refill), then requests refused. */
  const afterBurst = () => {
    const e = new ThrottleEvidence()
    for (let i = 0; i < 7; i++) expect(e.record(i * 70, null)).toBeNull()
    return e
  }

  it("is read at the third request refused, told to come back at about one moment, with what went through", () => {
    const e = afterBurst()
    expect(e.record(440, 1445, "a")).toBeNull()
    expect(e.emptied()).toBeNull()
    expect(e.record(455, 1470, "b")).toBeNull()
    expect(e.emptied()).toBeNull()
    expect(e.record(470, 1500, "c")).toBeNull()
    // seven through, spread from the first answer until the refused may come back
    expect(e.emptied()?.acceptedPerSecond).toBeCloseTo(7 / 1.5, 6)
    // a refill's odd success among the refusals does not hide it, and counts as gone through
    const f = afterBurst()
    f.record(440, 1445, "a")
    f.record(450, 1450, "b")
    f.record(460, null)
    f.record(470, 1475, "c")
    f.record(480, 1490, "d")
    expect(f.emptied()?.acceptedPerSecond).toBeCloseTo(8 / 1.49, 6)
  })

  it("is not read from sporadic 429s, nor from refusals told scattered times, nor without a burst before", () => {
    // about 7 answers a second, 3 of every 10 throttled, each told 1 s (as in the test of sporadic 429s)
    const e = new ThrottleEvidence()
    for (let i = 0; i < 400; i++) {
      const t = i * 150
      e.record(t, [0, 3, 7].includes(i % 10) ? t + 1000 : null, i)
      expect(e.emptied()).toBeNull()
    }
    // three refusals in a row after a burst, told 1 s, a date 1.7 s away, and nothing (backoff)
    const f = afterBurst()
    f.record(440, 1440, "a")
    f.record(450, 2150, "b")
    f.record(460, 460 + EMPTIED_DEADLINE_SPREAD_MS, "c")
    expect(f.emptied()).toBeNull()
    // refusals with too few answers through before them: a budget may be spent, not emptied by our burst
    const g = new ThrottleEvidence()
    for (let i = 0; i < EMPTIED_MIN_ACCEPTED - 1; i++) g.record(i * 70, null)
    for (const r of ["a", "b", "c"]) g.record(400, 1400, r)
    expect(g.emptied()).toBeNull()
    // one request refused again and again is no wave of refusals
    const h = afterBurst()
    for (let i = 0; i < 4; i++) h.record(440 + i, 1440 + i, "same")
    expect(h.emptied()).toBeNull()
  })

  it("cuts the rate provisionally; a refusal of a request sent after the cut undoes it", () => {
    const c = new RateControl(20)
    expect(c.emptied(500, { acceptedPerSecond: 4.7, until: 500 })).toBe(true)
    expect(c.rate).toBeCloseTo(4.7, 6)
    expect(c.budgetKnown(500)).toBe(true)
    // answers to requests sent before the cut say nothing of it
    c.throttled(510, null, 450)
    expect(c.rate).toBeCloseTo(4.7, 6)
    c.success(520, 460)
    // refused though sent at the cut rate: those were sporadic 429s, back to the rate before, nothing known
    c.throttled(900, null, 800)
    expect(c.rate).toBe(20)
    expect(c.budgetKnown(900)).toBe(false)
    // the next emptied budget is read again (no distrust: a real one must still be found at once)
    expect(c.emptied(1500, { acceptedPerSecond: 6, until: 1500 })).toBe(true)
    expect(c.rate).toBeCloseTo(6, 6)
  })

  it("refusals of requests sent before the emptied budget's deadline do not undo the cut; a spent budget halves it", () => {
    const c = new RateControl(20)
    expect(c.emptied(500, { acceptedPerSecond: 4.7, until: 1500 })).toBe(true)
    // sent after the cut but before the refused may come back: what an emptied budget does
    c.throttled(900, null, 705)
    c.throttled(1200, null, 950)
    expect(c.rate).toBeCloseTo(4.7, 6)
    // sent after it and refused: sporadic after all
    c.throttled(1800, null, 1550)
    expect(c.rate).toBe(20)
    // successes of requests sent before the refused may come back do not confirm a cut: a refusal after does undo it
    const e = new RateControl(20)
    e.emptied(500, { acceptedPerSecond: 5, until: 1500 })
    for (let i = 0; i < PROVISIONAL_ANSWERS; i++) e.success(700 + 100 * i, 650 + 100 * i)
    e.throttled(1700, null, 1600)
    expect(e.rate).toBe(20)
    // Spent on a provisional cut halves the provisional rate, never raises it
    const d = new RateControl(20)
    d.emptied(500, { acceptedPerSecond: 5, until: 1500 })
    d.throttled(1700, { _tag: "Spent", until: 2700 }, 1600)
    expect(d.rate).toBeCloseTo(2.5, 6)
  })

  it("a Retry-After far away is a pause, not a refill rate: no emptied budget is read from it", () => {
    const e = afterBurst()
    e.record(440, 30_440, "a")
    e.record(455, 30_455, "b")
    e.record(470, 30_470, "c")
    expect(e.emptied()).toBeNull()
    const f = afterBurst()
    f.record(440, 440 + EMPTIED_MAX_WAIT_MS, "a")
    f.record(455, 455 + EMPTIED_MAX_WAIT_MS, "b")
    f.record(470, 470 + EMPTIED_MAX_WAIT_MS, "c")
    expect(f.emptied()?.until).toBe(470 + EMPTIED_MAX_WAIT_MS)
  })

  it("a provisional cut stands once answers sent after it went through; 429s then step it down as near a budget", () => {
    const c = new RateControl(20)
    c.emptied(500, { acceptedPerSecond: 5, until: 500 })
    for (let i = 1; i <= PROVISIONAL_ANSWERS; i++) c.success(500 + 200 * i, 450 + 200 * i)
    const stood = c.rate
    expect(stood).toBeGreaterThan(5)
    expect(stood).toBeLessThan(5.05)
    c.throttled(2000, null, 1950)
    expect(c.rate).toBeCloseTo(0.9 * stood, 6)
    expect(c.budgetKnown(2000)).toBe(true)
  })

  it("no provisional cut near a known budget, while distrusted, or to a rate not below the current one", () => {
    const c = new RateControl(20)
    c.throttled(0, { _tag: "OverBudget", acceptedPerSecond: 5, share: 0.4 })
    expect(c.emptied(100, { acceptedPerSecond: 2, until: 100 })).toBe(false)
    expect(c.rate).toBeCloseTo(4.5, 6)
    const d = new RateControl(20)
    expect(d.emptied(0, { acceptedPerSecond: 25, until: 0 })).toBe(false)
    expect(d.rate).toBe(20)
    // distrusted: a cut whose throttling went on as often was undone
    d.throttled(0, { _tag: "OverBudget", acceptedPerSecond: 14, share: 0.3 })
    d.throttled(1500, { _tag: "OverBudget", acceptedPerSecond: 9, share: 0.3 })
    expect(d.rate).toBe(20)
    expect(d.emptied(2000, { acceptedPerSecond: 4, until: 2000 })).toBe(false)
    expect(d.emptied(2000 + DISTRUST_MS, { acceptedPerSecond: 4, until: 2000 + DISTRUST_MS })).toBe(true)
  })
})

describe("limiter (TestClock)", () => {
  it.effect("one throttling answer does not hold back the tenant's other requests", () =>
    Effect.gen(function*() {
      const l = makeLimiter(makePolicy({ requestsPerSecond: 10, burst: 5 }))
      yield* l.throttled(60_000, "listing")
      expect(l.pausedUntil()).toBe(0)
      expect(l.currentRate()).toBe(10)
      // the burst goes out without the clock moving
      const burst = yield* Effect.fork(Effect.all(Array.from({ length: 5 }, () => l.take)))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      expect(Option.isSome(yield* Fiber.poll(burst))).toBe(true)
    }))

  it.effect("refusals of two requests spend the burst allowance: the next requests go at the rate, two back to back at most", () =>
    Effect.gen(function*() {
      const l = makeLimiter(makePolicy({ requestsPerSecond: 10, burst: 5 }))
      for (let i = 0; i < BURST_SPENT_AFTER; i++) yield* l.throttled(60_000, `request ${i}`)
      // no wait and no cut: only the burst is gone
      expect(l.pausedUntil()).toBe(0)
      expect(l.currentRate()).toBe(10)
      const takes = yield* Effect.fork(Effect.all(Array.from({ length: 3 }, () => l.take)))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      expect(Option.isNone(yield* Fiber.poll(takes))).toBe(true)
      // the third an interval (100 ms) after the first two
      yield* TestClock.adjust(99)
      expect(Option.isNone(yield* Fiber.poll(takes))).toBe(true)
      yield* TestClock.adjust(1)
      expect(yield* Fiber.join(takes)).toEqual([0, 0, 100])
    }))

  it.effect("a spent budget holds every request until the latest deadline, to the ms, and halves the rate", () =>
    Effect.gen(function*() {
      const l = makeLimiter(makePolicy({ requestsPerSecond: 10, burst: 5 }))
      for (const d of [3000, 4000, 2500, 3500]) yield* l.throttled(d, d)
      expect(l.pausedUntil()).toBe(4000)
      expect(l.currentRate()).toBe(5)
      // a later, earlier-ending wait does not shorten it
      for (const d of [1000, 1500, 1200, 1100]) yield* l.throttled(d, d)
      expect(l.pausedUntil()).toBe(4000)
      const take = yield* Effect.fork(l.take)
      yield* TestClock.adjust(3999)
      expect(Option.isNone(yield* Fiber.poll(take))).toBe(true)
      yield* TestClock.adjust(1)
      yield* Fiber.join(take)
    }))
})

describe("limiter after a burst emptied the budget (TestClock)", () => {
  it.effect("the requests that follow go at what went through, one interval apart, not in a burst", () =>
    Effect.gen(function*() {
      const l = makeLimiter(makePolicy({ requestsPerSecond: 20, burst: 10 }))
      // the burst: seven requests through (one every 70 ms), then three sent together refused, told 1 s
      for (let i = 0; i < 7; i++) {
        const sentAt = yield* l.take
        yield* TestClock.adjust(70)
        yield* l.success(sentAt)
      }
      const refused = yield* Effect.all([l.take, l.take, l.take])
      yield* TestClock.adjust(10)
      for (const [i, sentAt] of refused.entries()) yield* l.throttled(1500 + i, `refused ${i}`, sentAt)
      // seven through from the first answer (70 ms) until the latest deadline (1502 ms)
      const rate = 7 / ((1502 - 70) / 1000)
      expect(l.currentRate()).toBeCloseTo(rate, 6)
      expect(l.pausedUntil()).toBe(0)
      // the next request an interval after the cut (not at once, though the burst allowance had room)
      const interval = 1000 / rate
      const takes = yield* Effect.fork(Effect.all([l.take, l.take]))
      yield* TestClock.adjust(Math.ceil(interval) - 1)
      expect(Option.isNone(yield* Fiber.poll(takes))).toBe(true)
      yield* TestClock.adjust(Math.ceil(interval) + 1)
      const [first, second] = yield* Fiber.join(takes)
      expect(first).toBe(500 + Math.ceil(interval))
      expect(second - first).toBeGreaterThanOrEqual(interval - 1)
    }))
})

describe("limiter near a known budget (TestClock)", () => {
  /**
   * A limiter of 20/s that was answered 100 ms apart, every other answer throttled (requests sent
   * before the clock moved): after the first refusal 5 successes a second, read as a budget.
   */
  const overBudgetAt5PerSecond = Effect.gen(function*() {
    const l = makeLimiter(makePolicy({ requestsPerSecond: 20, burst: 10 }))
    for (let i = 0; i < 2 * OVER_BUDGET_MIN_THROTTLED; i++) {
      yield* TestClock.adjust(100)
      yield* i % 2 === 1 ? l.throttled(10_000, i, 0) : l.success(0)
    }
    return l
  })

  it.effect("paces requests a little below the rate the budget accepted, without a burst", () =>
    Effect.gen(function*() {
      const l = yield* overBudgetAt5PerSecond
      expect(l.currentRate()).toBeCloseTo(4.5, 6)
      expect(l.pausedUntil()).toBe(0)
      // three requests: two back to back at most (a timer's lateness made up), the third an interval
      // (1000/4.5 ms) later, not in a burst of ten
      const takes = yield* Effect.fork(Effect.all([l.take, l.take, l.take]))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      expect(Option.isNone(yield* Fiber.poll(takes))).toBe(true)
      yield* TestClock.adjust(222)
      expect(Option.isNone(yield* Fiber.poll(takes))).toBe(true)
      yield* TestClock.adjust(1)
      yield* Fiber.join(takes)
    }))

  it.effect("answers to requests whose slots were granted after a cut undo it when throttled as before", () =>
    Effect.gen(function*() {
      const l = yield* overBudgetAt5PerSecond
      expect(l.currentRate()).toBeCloseTo(4.5, 6)
      // the slots granted from now on are sent at the new rate: their 429s undo the cut
      for (let i = 0; i < 3; i++) {
        const slot = yield* Effect.fork(l.take)
        yield* TestClock.adjust(300)
        const sentAt = yield* Fiber.join(slot)
        expect(l.currentRate()).toBeLessThan(5)
        yield* l.throttled(20_000, `after ${i}`, sentAt)
      }
      expect(l.currentRate()).toBe(20)
    }))
})

describe("throttling through the client (emulator, TestClock)", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({ fixture: tenant(), pageSize: 2 })
  })
  afterAll(() => emu?.close())

  it.effect("a 429 delays its own request by its Retry-After, never less, while the other requests go on", () =>
    Effect.gen(function*() {
      emu.setFaults({
        seed: 1,
        rules: [{ fault: "429-seconds", probability: 1, limit: 1, routes: ["getAllRecordings"] }],
        retryAfterSeconds: 30
      })
      emu.resetCounters()
      const retried = yield* Deferred.make<GraphRetry>()
      const result = yield* Effect.gen(function*() {
        const api = yield* GraphClient
        const listing = yield* Effect.fork(
          Stream.runCollect(api.getAllRecordings(WINDOW)).pipe(handleRetries((r) => Deferred.succeed(retried, r)))
        )
        const retry = yield* Deferred.await(retried)
        // the clock has not moved: every other request of the tenant is answered meanwhile
        const others = yield* Effect.forEach(
          Array.from({ length: MEETINGS }, (_, i) => i),
          (i) => api.getRecording({ userId: ALICE }, meetingId(i), recordingId(i)),
          { concurrency: "unbounded" }
        )
        expect(Option.isNone(yield* Fiber.poll(listing))).toBe(true)
        // one ms short of the Retry-After, the listing has still not been sent again
        yield* TestClock.adjust(29_999)
        expect(Option.isNone(yield* Fiber.poll(listing))).toBe(true)
        expect(emu.counters().byRoute["getAllRecordings"]).toBe(1)
        yield* TestClock.adjust(1_000)
        const ids = Chunk.toReadonlyArray(yield* Fiber.join(listing)).map((r) => r.id)
        return { retry, others, ids }
      }).pipe(Effect.provide(clientLayer(emu)))
      expect(result.retry).toMatchObject({
        route: expect.stringContaining("getAllRecordings"),
        attempt: 1,
        reason: "HTTP 429",
        throttled: true
      })
      expect(result.retry.delayMs).toBeGreaterThanOrEqual(30_000)
      expect(result.others.map((r) => r.id)).toEqual(Array.from({ length: MEETINGS }, (_, i) => recordingId(i)))
      expect(result.ids.sort()).toEqual(Array.from({ length: MEETINGS }, (_, i) => recordingId(i)).sort())
      expect(emu.counters().throttled).toBe(1)
    }))
})
