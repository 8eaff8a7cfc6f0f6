import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { parseRetryAfter } from "../src/GraphPolicy.js"
import { FRONT_END_SKEW_MS, SERVER_CLOCK_MEMORY_MS, ServerClock } from "../src/internal/serverClock.js"

/** The HTTP date (whole seconds, rounded down as servers stamp them) of server time `ms`. */
const httpDate = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toUTCString()

/**
 * One answer of a server whose clock is `offset` ms ahead of ours: sent at `sentAt` (our clock), made
 * `beforeMs` later, received `afterMs` after that. Returns its Date header and when it was received.
 */
const answer = (clock: ServerClock, offset: number, sentAt: number, beforeMs: number, afterMs: number) => {
  const madeAt = sentAt + beforeMs
  const date = httpDate(madeAt + offset)
  const receivedAt = madeAt + afterMs
  clock.observe(date, sentAt, receivedAt)
  return { date, receivedAt }
}

const t0 = Date.parse("2026-01-01T00:00:00Z")

describe("ServerClock: Retry-After dates waited out on the server's clock", () => {
  it("is never early for any true offset consistent with the answers seen (property)", () => {
    fc.assert(
      fc.property(
        // the server's clock against ours: up to ten minutes either way
        fc.integer({ min: -600_000, max: 600_000 }),
        // answers: gap since the previous send, time to the server, time back
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 3000 }),
            fc.integer({ min: 0, max: 400 }),
            fc.integer({ min: 0, max: 400 })
          ),
          {
            minLength: 1,
            maxLength: 30
          }
        ),
        // the 429: asks for a server second 0-5 s ahead; we read it this long after receiving it
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 50 }),
        (offset, answers, secondsAhead, readAfter) => {
          const clock = new ServerClock()
          let sentAt = t0
          let last = { date: "", receivedAt: 0, madeAt: 0 }
          for (const [gap, before, after] of answers) {
            sentAt += gap
            const a = answer(clock, offset, sentAt, before, after)
            last = { ...a, madeAt: sentAt + before }
          }
          const at = (Math.floor((last.madeAt + offset) / 1000) + secondsAhead) * 1000
          const now = last.receivedAt + readAfter
          const wait = parseRetryAfter(new Date(at).toUTCString(), now, last.date, clock.serverTimeAtLeast(now))!
          const remaining = at - (now + offset)
          expect(wait).toBeGreaterThanOrEqual(remaining)
        }
      ),
      { numRuns: 500 }
    )
  })

  it("is tight after answers that land across a server second, whichever way our clock is off (minutes)", () => {
    for (const offset of [-180_000 - 337, -2_500, 0, 420, 180_000 + 613]) {
      const clock = new ServerClock()
      // answers 37 ms apart over two seconds (one lands within 37 ms after a server second began), 3 ms each way
      let a = { date: "", receivedAt: 0 }
      for (let i = 0; i < 55; i++) a = answer(clock, offset, t0 + i * 37, 3, 3)
      const now = a.receivedAt
      const at = (Math.floor((now + offset) / 1000) + 2) * 1000
      const wait = parseRetryAfter(new Date(at).toUTCString(), now, a.date, clock.serverTimeAtLeast(now))!
      const remaining = at - (now + offset)
      expect(wait).toBeGreaterThanOrEqual(remaining)
      // within that spacing, the answer's way back and the front-end allowance (the Date alone: up to 1 s long)
      expect(wait - remaining).toBeLessThanOrEqual(37 + 3 + FRONT_END_SKEW_MS + 1)
    }
  })

  it("one answer alone waits as the Date alone says (a second long at most)", () => {
    const clock = new ServerClock()
    // server 0.6 s into its second when it answers; our clock agrees
    const a = answer(clock, 0, t0 + 600, 0, 0)
    const wait = parseRetryAfter(
      "Thu, 01 Jan 2026 00:00:02 GMT",
      a.receivedAt,
      a.date,
      clock.serverTimeAtLeast(a.receivedAt)
    )
    expect(wait).toBe(2000 + FRONT_END_SKEW_MS)
  })

  it("without any answer seen, falls back to the Date rule", () => {
    const clock = new ServerClock()
    expect(clock.serverTimeAtLeast(t0)).toBeNull()
    clock.observe(undefined, t0, t0)
    clock.observe("not a date", t0, t0)
    expect(clock.serverTimeAtLeast(t0)).toBeNull()
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:02 GMT", t0 + 600, "Thu, 01 Jan 2026 00:00:00 GMT", null)).toBe(2000)
  })

  it("forgets old answers, and starts over when the server's clock is stepped", () => {
    const clock = new ServerClock()
    for (let i = 0; i < 10; i++) answer(clock, 0, t0 + i * 130, 3, 3)
    const later = t0 + SERVER_CLOCK_MEMORY_MS + 10_000
    expect(clock.serverTimeAtLeast(later)).toBeNull()

    // stepped back by 5 s: the first answer after the step is at odds with the bounds, which start over
    const stepped = new ServerClock()
    for (let i = 0; i < 10; i++) answer(stepped, 0, t0 + i * 130, 3, 3)
    const a = answer(stepped, -5000, t0 + 2000, 3, 3)
    const now = a.receivedAt
    const at = (Math.floor((now - 5000) / 1000) + 2) * 1000
    const wait = parseRetryAfter(new Date(at).toUTCString(), now, a.date, stepped.serverTimeAtLeast(now))!
    expect(wait).toBeGreaterThanOrEqual(at - (now - 5000))
  })
})

describe("ServerClock: clocks that run at different rates", () => {
  it("is never early over three hours with our clock 50 ppm fast (answers every 2.1 s)", () => {
    const clock = new ServerClock()
    // the server's clock: ours slowed by 50 ppm, 1.234 s ahead at the start
    const server = (t: number) => t0 + 1234 + (t - t0) * (1 - 50e-6)
    let worst = Number.POSITIVE_INFINITY
    for (let sentAt = t0; sentAt < t0 + 3 * 3600_000; sentAt += 2100) {
      const madeAt = sentAt + 15
      const receivedAt = sentAt + 30
      clock.observe(httpDate(server(madeAt)), sentAt, receivedAt)
      // a 429 made then, asking for the next whole server second plus two
      const at = Math.floor(server(madeAt) / 1000) * 1000 + 3000
      const wait = parseRetryAfter(
        new Date(at).toUTCString(),
        receivedAt,
        httpDate(server(madeAt)),
        clock.serverTimeAtLeast(receivedAt)
      )!
      // our ms until the server's clock reads `at`
      const remaining = (at - server(receivedAt)) / (1 - 50e-6)
      worst = Math.min(worst, wait - remaining)
    }
    expect(worst).toBeGreaterThanOrEqual(0)
    // and still tight: the drift allowance only adds what two seconds of drift can be, plus the skew allowance
    expect(worst).toBeLessThan(FRONT_END_SKEW_MS + 50)
  })
})
