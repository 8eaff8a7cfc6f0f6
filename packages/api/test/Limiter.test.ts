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
import { EVIDENCE_MIN_THROTTLED, EVIDENCE_WINDOW_MS, makeLimiter, ThrottleEvidence } from "../src/internal/limiter.js"
import { ALICE, clientLayer, MEETINGS, meetingId, recordingId, tenant, WINDOW } from "./helpers.js"

describe("throttle evidence", () => {
  it("a few 429s among successes are no evidence; most answers of the window throttled are", () => {
    const e = new ThrottleEvidence()
    // sporadic: every third answer a 429, over a long run
    for (let t = 0; t < 300; t++) expect(e.record(t * 10, t % 3 === 0 ? t * 10 + 1000 : null)).toBeNull()
    // a spent budget: every answer throttled
    const f = new ThrottleEvidence()
    const deadlines = [5000, 9000, 7000, 6000]
    const verdicts = deadlines.map((d, i) => f.record(i, d))
    expect(verdicts.slice(0, EVIDENCE_MIN_THROTTLED - 1)).toEqual([null, null, null])
    // overlapping waits overlap: the latest deadline, not their sum
    expect(verdicts[EVIDENCE_MIN_THROTTLED - 1]).toBe(9000)
  })

  it("answers older than the window do not count", () => {
    const e = new ThrottleEvidence()
    for (let i = 0; i < EVIDENCE_MIN_THROTTLED - 1; i++) e.record(i, 2000)
    expect(e.record(EVIDENCE_WINDOW_MS + 10, 3000)).toBeNull()
  })
})

describe("limiter (TestClock)", () => {
  it.effect("one throttling answer does not hold back the tenant's other requests", () =>
    Effect.gen(function*() {
      const l = makeLimiter(makePolicy({ requestsPerSecond: 10, burst: 5 }))
      yield* l.throttled(60_000)
      expect(l.pausedUntil()).toBe(0)
      expect(l.currentRate()).toBe(10)
      // the burst goes out without the clock moving
      const burst = yield* Effect.fork(Effect.all(Array.from({ length: 5 }, () => l.take)))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
      expect(Option.isSome(yield* Fiber.poll(burst))).toBe(true)
    }))

  it.effect("a spent budget holds every request until the latest deadline, to the ms, and halves the rate", () =>
    Effect.gen(function*() {
      const l = makeLimiter(makePolicy({ requestsPerSecond: 10, burst: 5 }))
      for (const d of [3000, 4000, 2500, 3500]) yield* l.throttled(d)
      expect(l.pausedUntil()).toBe(4000)
      expect(l.currentRate()).toBe(5)
      // a later, earlier-ending wait does not shorten it
      for (const d of [1000, 1500, 1200, 1100]) yield* l.throttled(d)
      expect(l.pausedUntil()).toBe(4000)
      const take = yield* Effect.fork(l.take)
      yield* TestClock.adjust(3999)
      expect(Option.isNone(yield* Fiber.poll(take))).toBe(true)
      yield* TestClock.adjust(1)
      yield* Fiber.join(take)
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
