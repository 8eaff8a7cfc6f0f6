import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import {
  backoffDelay,
  decideRetry,
  defaultPolicy,
  isRetryableStatus,
  makePolicy,
  parseRetryAfter,
  policyValueProblem,
  RETRY_AFTER_MARGIN_MS,
  retryDelay
} from "../src/GraphPolicy.js"
import { parseContentRange } from "../src/internal/content.js"
import { stripCredentials } from "../src/internal/request.js"
import { describeCause, errorFromResponse, parseErrorBody } from "../src/internal/errors.js"
import { BUDGET_MEMORY_MS, limiterFor, SPENT_MIN_THROTTLED } from "../src/internal/limiter.js"

const now = Date.parse("2026-01-01T00:00:00Z")

describe("Retry-After", () => {
  it("parses delay-seconds", () => {
    expect(parseRetryAfter("7", now)).toBe(7000)
    expect(parseRetryAfter(" 0 ", now)).toBe(0)
  })

  it("parses an HTTP date relative to now, never negative", () => {
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:03 GMT", now)).toBe(3000)
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:59:00 GMT", now)).toBe(0)
  })

  it("uses the response's Date when our clock runs ahead, so we never retry early", () => {
    // Our clock says 00:00:02, the server said 00:00:00 and asks for 00:00:03: wait 3 s, not 1 s.
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:03 GMT", now + 2000, "Thu, 01 Jan 2026 00:00:00 GMT")).toBe(3000)
  })

  it("a date within the second the response's Date names waits from that second's start: never early", () => {
    // The server stamped its Date somewhere in 00:00:00.xxx; ours says 00:00:00.600 and may be 0.6 s ahead:
    // wait the 2 s from the Date (at most a second too long), not 1.4 s.
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:02 GMT", now + 600, "Thu, 01 Jan 2026 00:00:00 GMT")).toBe(2000)
    // a clock behind the server's waits the longer wait it measures
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:02 GMT", now - 500, "Thu, 01 Jan 2026 00:00:00 GMT")).toBe(2500)
  })

  it("a slow answer from a server our clock runs ahead of is not cut short", () => {
    // Our clock 3 s ahead: the request leaves at 00:00:00.500 by it (truly 23:59:57.500), the server stamps
    // its 429 truly at 00:00:00.500 (Date 00:00:00, retry at 00:00:10), the answer arrives truly at
    // 00:00:02.500, 00:00:05.500 by our clock: 7.5 s truly remain, our clock alone says 4.5 s. Clocks that
    // agree with a slower answer look the same from here, so the wait is the 10 s from the Date.
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now + 5500, "Thu, 01 Jan 2026 00:00:00 GMT")).toBe(10_000)
  })

  it("ignores garbage and absence", () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
    expect(parseRetryAfter("", now)).toBeUndefined()
    expect(parseRetryAfter("soon", now)).toBeUndefined()
    expect(parseRetryAfter("-5", now)).toBeUndefined()
  })
})

describe("backoff", () => {
  it("grows exponentially within [d/2, d] and respects the cap (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.double({ min: 0, max: 0.9999, noNaN: true }), (attempt, r) => {
        const d = backoffDelay(attempt, defaultPolicy, r)
        const exp = Math.min(defaultPolicy.maxBackoffMs, defaultPolicy.baseDelayMs * 2 ** (attempt - 1))
        expect(d).toBeGreaterThanOrEqual(Math.floor(exp / 2))
        expect(d).toBeLessThanOrEqual(exp)
      })
    )
  })

  it("never waits less than Retry-After asked (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 600_000 }), fc.double({ min: 0, max: 0.9999, noNaN: true }), (ra, r) => {
        expect(retryDelay(3, ra, defaultPolicy, r)).toBeGreaterThanOrEqual(ra)
      })
    )
  })

  it("waits out Retry-After with a few ms on top, not a share of it (property)", () => {
    // a sporadic 429's request is the slowest of its run: every ms over what the server asked is lost
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 600_000 }), fc.double({ min: 0, max: 0.9999, noNaN: true }), (ra, r) => {
        expect(retryDelay(1, ra, defaultPolicy, r)).toBeLessThanOrEqual(ra + RETRY_AFTER_MARGIN_MS)
      })
    )
  })
})

describe("decideRetry", () => {
  const policy = makePolicy({ maxAttempts: 4, maxSingleWaitMs: 5_000, maxTotalRetryMs: 8_000 })
  it("retries within the budget", () => {
    expect(decideRetry({ attempts: 1, retryAfterMs: 1000, waitedMs: 0, policy, random: 0 })).toEqual({
      _tag: "Retry",
      delayMs: 1005
    })
  })
  it("gives up on attempts, on a single wait over the cap, and on total time", () => {
    expect(decideRetry({ attempts: 4, retryAfterMs: undefined, waitedMs: 0, policy, random: 0 })).toEqual({
      _tag: "GiveUp",
      why: "attempts"
    })
    expect(decideRetry({ attempts: 1, retryAfterMs: 6000, waitedMs: 0, policy, random: 0 })).toEqual({
      _tag: "GiveUp",
      why: "singleWait"
    })
    expect(decideRetry({ attempts: 2, retryAfterMs: 4000, waitedMs: 5000, policy, random: 0 })).toEqual({
      _tag: "GiveUp",
      why: "totalTime"
    })
  })
  it("retries exactly the transient statuses", () => {
    expect([408, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true)
    expect([400, 401, 402, 403, 404, 409, 501].some(isRetryableStatus)).toBe(false)
  })
  it("rejects nonsense policies with a clear message", () => {
    expect(() => makePolicy({ requestsPerSecond: 0 })).toThrow(/requestsPerSecond must be a positive number/)
  })
  it("checks every knob against its one bound: downloads 1-64 integers, requests positive integers, rates finite", () => {
    expect(() => makePolicy({ maxConcurrentDownloads: 65 })).toThrow(
      "GraphPolicy.maxConcurrentDownloads must be an integer from 1 to 64; got 65"
    )
    expect(() => makePolicy({ maxConcurrentRequests: 2.5 })).toThrow(
      "GraphPolicy.maxConcurrentRequests must be a positive integer; got 2.5"
    )
    expect(() => makePolicy({ requestsPerSecond: Infinity })).toThrow(/requestsPerSecond must be a positive number/)
    expect(() => makePolicy({ maxRedirects: -1 })).toThrow(/maxRedirects must be a non-negative number/)
    expect(policyValueProblem("requestsPerSecond", 0.5)).toBeUndefined()
    expect(policyValueProblem("maxConcurrentDownloads", 64)).toBeUndefined()
    expect(policyValueProblem("maxConcurrentDownloads", "4")).toBe("must be an integer from 1 to 64")
  })
  it("requests in flight: unset, they follow downloads above the default; set below downloads, refused", () => {
    expect(makePolicy({ maxConcurrentDownloads: 32 }).maxConcurrentRequests).toBe(32)
    expect(makePolicy({ maxConcurrentDownloads: 2 }).maxConcurrentRequests).toBe(defaultPolicy.maxConcurrentRequests)
    expect(makePolicy({ maxConcurrentDownloads: 8, maxConcurrentRequests: 8 }).maxConcurrentRequests).toBe(8)
    expect(() => makePolicy({ maxConcurrentDownloads: 16, maxConcurrentRequests: 12 })).toThrow(
      "GraphPolicy.maxConcurrentRequests (12) is below maxConcurrentDownloads (16)"
    )
  })
})

describe("redirect credential strip", () => {
  it("removes Authorization, Cookie and Proxy-Authorization whatever their case", () => {
    const out = stripCredentials({
      Authorization: "Bearer x",
      authorization: "Bearer y",
      AUTHORIZATION: "z",
      CooKie: "a=b",
      "proxy-Authorization": "Basic q",
      "client-request-id": "c",
      Range: "bytes=5-"
    })
    expect(out).toEqual({ "client-request-id": "c", Range: "bytes=5-" })
  })
  it("parses Content-Range", () => {
    expect(parseContentRange("bytes 100-199/1000")).toEqual({ start: 100, end: 199, total: 1000 })
    expect(parseContentRange("bytes 0-0/*")).toEqual({ start: 0, end: 0, total: null })
    expect(parseContentRange("items 1-2/3")).toBeUndefined()
  })
})

describe("error mapping", () => {
  const ctx = {
    method: "GET",
    route: "/users/{userId}/onlineMeetings/{meetingId}/transcripts",
    clientRequestId: "crid",
    attempts: 1
  }
  it("tells the admin which PowerShell commands grant the access policy", () => {
    const body = parseErrorBody(
      JSON.stringify({ error: { code: "Forbidden", message: "No application access policy found for this app." } }),
      "rid"
    )
    const e = errorFromResponse(403, body, ctx, undefined)
    expect(e._tag).toBe("Forbidden")
    if (e._tag !== "Forbidden") throw e
    expect(e.reason).toBe("NoApplicationAccessPolicy")
    expect(e.message).toContain("New-CsApplicationAccessPolicy")
    expect(e.message).toContain("Grant-CsApplicationAccessPolicy")
    expect(e.requestId).toBe("rid")
    expect(e.clientRequestId).toBe("crid")
  })
  it("branches on innerError.code for disabled transcripts and reads request-id from innerError", () => {
    const body = parseErrorBody(
      JSON.stringify({
        error: {
          code: "Forbidden",
          message: "x",
          innerError: { code: "GraphAccessToTranscriptsDisabled", "request-id": "inner" }
        }
      }),
      null
    )
    const e = errorFromResponse(403, body, ctx, undefined)
    expect(e._tag === "Forbidden" && e.reason).toBe("TranscriptAccessDisabled")
    expect(e.requestId).toBe("inner")
    expect(e.innerCode).toBe("GraphAccessToTranscriptsDisabled")
  })
  it("says billing for 402 and keeps non-JSON bodies as the message, redacting bearer tokens", () => {
    expect(errorFromResponse(402, parseErrorBody("{}", null), ctx, undefined).message).toMatch(/billing/)
    const e = errorFromResponse(400, parseErrorBody("gateway said Bearer eyJabc.def.ghi no", null), ctx, undefined)
    expect(e._tag).toBe("BadRequest")
    expect(e.message).not.toContain("eyJabc")
  })
})

describe("limiter", () => {
  it("is one per tenantKey across clients, and one per client without a key", () => {
    const p = makePolicy({ tenantKey: "tenant-a" })
    expect(limiterFor(p)).toBe(limiterFor(makePolicy({ tenantKey: "tenant-a" })))
    expect(limiterFor(p)).not.toBe(limiterFor(makePolicy({ tenantKey: "tenant-b" })))
    expect(limiterFor(makePolicy())).not.toBe(limiterFor(makePolicy()))
  })
  it.effect("lowers its rate on evidence of a spent budget and wins it back on successes, within bounds", () =>
    Effect.gen(function*() {
      const l = limiterFor(makePolicy({ requestsPerSecond: 40 }))
      const spentBudget = Effect.forEach(
        Array.from({ length: SPENT_MIN_THROTTLED }, (_, i) => i),
        (request) => l.throttled(0, request),
        { discard: true }
      )
      yield* spentBudget
      expect(l.currentRate()).toBe(20)
      for (let i = 0; i < 10; i++) yield* spentBudget
      expect(l.currentRate()).toBe(4) // floor: a tenth of the configured rate
      // near the known budget the rate climbs slowly...
      for (let i = 0; i < 100; i++) yield* l.success()
      expect(l.currentRate()).toBeLessThan(4.5)
      // ...a minute later at the usual pace
      yield* TestClock.adjust(BUDGET_MEMORY_MS)
      for (let i = 0; i < 1000; i++) yield* l.success()
      expect(l.currentRate()).toBe(40)
    }))
})

describe("transport error text", () => {
  it("names the host of a URL, never its path or query (a redirect's Location may be pre-signed)", () => {
    const signed = "https://files.example.net/content/abc123?sig=s3cr3t&se=2030-01-01"
    const error = new Error(`Transport error (GET ${signed})`, {
      cause: Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" })
    })
    const text = describeCause(error)
    expect(text).toBe("Transport error (GET <url at files.example.net>) <- UND_ERR_SOCKET other side closed")
    expect(text).not.toContain("sig=")
  })
})
