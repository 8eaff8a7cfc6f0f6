/**
 * A Graph URL nobody answers on (a closed loopback port): the client says what it retries, gives up after
 * `connectRetryMs` of waiting, and does not count those waits as throttling. The waits run on TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as net from "node:net"
import { GraphClient, type GraphRetry, handleRetries } from "../src/index.js"
import { WINDOW } from "./helpers.js"

/** A loopback port that was free a moment ago and is closed now. */
const closedPort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

describe("unreachable server", () => {
  it.effect("connection refused: every retry announced, a TransportError after connectRetryMs, no throttle wait", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(closedPort)
      const retries: Array<GraphRetry> = []
      const result = yield* Effect.gen(function*() {
        const api = yield* GraphClient
        const listing = yield* Effect.fork(
          Effect.either(Stream.runCollect(api.getAllRecordings(WINDOW))).pipe(
            handleRetries((r) => Effect.sync(() => void retries.push(r)))
          )
        )
        // the waits are on TestClock: move it on (a step at a time, letting each refused attempt happen)
        const clock = yield* Effect.fork(
          Effect.forever(Effect.zipRight(
            TestClock.adjust(100),
            Effect.promise(() => new Promise((r) => setTimeout(r, 1)))
          ))
        )
        const outcome = yield* Fiber.join(listing)
        yield* Fiber.interrupt(clock)
        return { outcome, stats: yield* api.stats }
      }).pipe(
        Effect.provide(GraphClient.layer({
          baseUrl: `http://127.0.0.1:${port}/v1.0`,
          credential: Redacted.make("token"),
          policy: { connectRetryMs: 3_000, baseDelayMs: 200, maxBackoffMs: 1_000 }
        }))
      )
      expect(result.outcome._tag).toBe("Left")
      if (result.outcome._tag !== "Left") return
      const error = result.outcome.left
      expect(error._tag).toBe("TransportError")
      expect(error.message).toMatch(/could not reach the server .*ECONNREFUSED.*connectRetryMs 3000/)
      expect(retries.length).toBeGreaterThan(1)
      for (const r of retries) {
        expect(r.reason).toMatch(/ECONNREFUSED/)
        expect(r.throttled).toBe(false)
      }
      const waited = retries.reduce((n, r) => n + r.delayMs, 0)
      expect(waited).toBeLessThanOrEqual(3_000)
      expect(result.stats.throttleWaitMs).toBe(0)
      expect(result.stats.retryWaitMs).toBe(waited)
    }))
})
