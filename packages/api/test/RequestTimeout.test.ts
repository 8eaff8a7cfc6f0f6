/**
 * `policy.requestTimeoutMs`: an attempt that gets no answer in time is given up (its request closed, not
 * left hanging) and retried. A loopback server that answers every request but the first, which it holds.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { GraphClient } from "../src/index.js"
import { collectBytes, WINDOW } from "./helpers.js"

const TIMEOUT_MS = 300

/** Holds the first request of each path (never answers it) and answers the others. */
const holdFirst = () => {
  const seen = new Map<string, number>()
  const held: Array<{ closed: boolean }> = []
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0]!
    const n = (seen.get(path) ?? 0) + 1
    seen.set(path, n)
    if (n === 1) {
      const h = { closed: false }
      held.push(h)
      res.on("close", () => (h.closed = true))
      // the transcripts listing: headers and part of the body come, the rest never does
      if (path.includes("getAllTranscripts")) {
        res.writeHead(200, { "content-type": "application/json" })
        res.write("{\"value\": [")
      }
      return
    }
    if (path.endsWith("/content")) {
      res.writeHead(200, { "content-type": "video/mp4", "content-length": "3" })
      res.end("abc")
    } else {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ value: [] }))
    }
  })
  return { server, seen, held }
}

describe("request timeout", () => {
  const target = holdFirst()
  let baseUrl = ""
  beforeAll(async () => {
    await new Promise<void>((resolve) => target.server.listen(0, "127.0.0.1", resolve))
    baseUrl = `http://127.0.0.1:${(target.server.address() as AddressInfo).port}/v1.0`
  })
  afterAll(async () => {
    target.server.closeAllConnections()
    await new Promise((resolve) => target.server.close(resolve))
  })

  it.live("listing pages (no answer; half a body) and content requests (both transports) that get no answer are closed after requestTimeoutMs and retried", () =>
    Effect.gen(function*() {
      const api = yield* GraphClient
      const items = yield* Stream.runCollect(api.getAllRecordings(WINDOW))
      // a page whose body stops half-way is given up the same way
      const transcripts = yield* Stream.runCollect(api.getAllTranscripts(WINDOW))
      // a recording goes on the client's own connections, a transcript through Node's agent: each keeps the time limit
      const recording = yield* Effect.scoped(
        Effect.flatMap(api.recordingContent({ userId: "u1" }, "m1", "r1"), (c) => collectBytes(c.stream))
      )
      const transcript = yield* Effect.scoped(
        Effect.flatMap(api.transcriptContentStream({ userId: "u1" }, "m1", "t1"), (c) => collectBytes(c.stream))
      )
      expect(Chunk.size(items)).toBe(0)
      expect(Chunk.size(transcripts)).toBe(0)
      expect(Buffer.from(recording).toString()).toBe("abc")
      expect(Buffer.from(transcript).toString()).toBe("abc")
      expect([...target.seen.values()]).toEqual([2, 2, 2, 2])
      const stats = yield* api.stats
      expect(stats.retries).toBe(4)
      // the held requests were given up by the client, not left open (their close reaches the server soon after)
      yield* Effect.promise(() => until(() => target.held.every((h) => h.closed), 10_000))
      expect(target.held.map((h) => h.closed)).toEqual([true, true, true, true])
    }).pipe(
      Effect.provide(clientOn(baseUrl))
    ))
})

/** Resolves once `done()` holds, or after `limitMs` (the assertion after it then says what is missing). */
const until = async (done: () => boolean, limitMs: number) => {
  for (const start = Date.now(); !done() && Date.now() - start < limitMs;) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const clientOn = (baseUrl: string) =>
  GraphClient.layer({
    baseUrl,
    credential: Redacted.make("token"),
    policy: { requestTimeoutMs: TIMEOUT_MS, baseDelayMs: 10, maxBackoffMs: 20 }
  })

describe("request timeout beyond what a Node timer holds", () => {
  // setTimeout fires a delay over 2^31 - 1 ms after 1 ms: such a deadline must mean none, not an instant one
  const server = http.createServer((req, res) => {
    setTimeout(() => {
      if ((req.url ?? "").split("?")[0]!.endsWith("/content")) {
        res.writeHead(200, { "content-type": "video/mp4", "content-length": "3" })
        res.end("abc")
        return
      }
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ value: [] }))
    }, 50)
  })
  let baseUrl = ""
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1.0`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it.live("requestTimeoutMs of 3e9 ms waits for a 50 ms answer without a retry (listing, both content transports)", () =>
    Effect.gen(function*() {
      const api = yield* GraphClient
      const items = yield* Stream.runCollect(api.getAllRecordings(WINDOW))
      const recording = yield* Effect.scoped(
        Effect.flatMap(api.recordingContent({ userId: "u1" }, "m1", "r1"), (c) => collectBytes(c.stream))
      )
      const transcript = yield* Effect.scoped(
        Effect.flatMap(api.transcriptContentStream({ userId: "u1" }, "m1", "t1"), (c) => collectBytes(c.stream))
      )
      expect(Chunk.size(items)).toBe(0)
      expect(Buffer.from(recording).toString()).toBe("abc")
      expect(Buffer.from(transcript).toString()).toBe("abc")
      expect((yield* api.stats).retries).toBe(0)
    }).pipe(
      Effect.provide(GraphClient.layer({
        baseUrl,
        credential: Redacted.make("token"),
        policy: { requestTimeoutMs: 3_000_000_000, baseDelayMs: 10, maxBackoffMs: 20 }
      }))
    ))
})
