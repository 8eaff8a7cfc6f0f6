/**
 * Content served in pieces: a 206 whose `Content-Range` stops before the end of the content (total `*`
 * or larger than its end) must be followed by requests for the rest, never reported as the whole body,
 * and `ContentOptions.ifRange` goes out as `If-Range`. The emulator always answers a Range to the end
 * of the content with a known total, so these use a tiny loopback server that answers in pieces.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { generatedBytes } from "@meeting-artifacts/graph-emulator"
import * as Effect from "effect/Effect"
import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { type ContentOptions, GraphClient } from "../src/index.js"
import { clientLayer, collectBytes, sha256 } from "./helpers.js"

const SIZE = 10_000
const PIECE = 3000
const DATA = generatedBytes(11, SIZE)

/**
 * How the server answers a request for bytes from `start` (after the whole content, `start` = SIZE):
 * "star" `bytes S-E/*` in pieces and 416 past the end; "known-last" the same but the last piece names
 * its total; "200-at-end" pieces, and 200 with the whole body past the end; "stuck" always the first piece;
 * "changes" pieces whose ETag changes after the first (other content).
 */
type Mode = "star" | "known-last" | "200-at-end" | "stuck" | "changes"

let server: Server
let base = ""
let mode: Mode = "star"
const seen: Array<IncomingHttpHeaders> = []

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers)
    const m = /^bytes=(\d+)-$/.exec(req.headers["range"] ?? "")
    let start = m === null ? 0 : Number(m[1])
    if (mode === "stuck") start = 0
    if (start >= SIZE) {
      if (mode === "200-at-end") return void res.writeHead(200, { "content-length": String(SIZE) }).end(DATA)
      return void res.writeHead(416, { "content-range": "bytes */*" }).end()
    }
    const end = Math.min(start + PIECE, SIZE) - 1
    const total = mode === "known-last" && end === SIZE - 1 ? String(SIZE) : "*"
    const etag = mode === "changes" && start > 0 ? "\"v2\"" : "\"v1\""
    res.writeHead(206, { "content-length": String(end - start + 1), "content-range": `bytes ${start}-${end}/${total}`, etag })
    res.end(DATA.subarray(start, end + 1))
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1.0`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

const download = (options?: ContentOptions) =>
  Effect.provide(
    Effect.scoped(Effect.gen(function*() {
      const api = yield* GraphClient
      const content = yield* api.recordingContent({ userId: "u" }, "m", "r", options)
      const bytes = yield* collectBytes(content.stream)
      return { content, bytes, stats: yield* api.stats }
    })),
    clientLayer({ baseUrl: base, accessToken: "static-token-value" }, { policy: { maxAttempts: 1, maxResumes: 0 } })
  )

const ranges = () => seen.map((h) => h["range"] ?? null)

describe("a 206 that stops before the end of the content", () => {
  it.live("`bytes S-E/*` pieces: the next range is asked for until a 416 says the content ended; byte-exact", () =>
    Effect.gen(function*() {
      mode = "star"
      seen.length = 0
      const r = yield* download()
      expect(r.content.contentLength).toBeNull()
      expect(r.bytes.length).toBe(SIZE)
      expect(sha256(r.bytes)).toBe(sha256(DATA))
      expect(ranges()).toEqual([null, "bytes=3000-", "bytes=6000-", "bytes=9000-", "bytes=10000-"])
      // continuing after a piece that ended where it said is not a resume (maxResumes is 0 here)
      expect(r.stats.resumes).toBe(0)
    }))

  it.live("the last piece names its total: no request after it", () =>
    Effect.gen(function*() {
      mode = "known-last"
      seen.length = 0
      const r = yield* download()
      expect(sha256(r.bytes)).toBe(sha256(DATA))
      expect(ranges()).toEqual([null, "bytes=3000-", "bytes=6000-", "bytes=9000-"])
    }))

  it.live("a 200 past the end: what the consumer has is skipped and the stream ends byte-exact", () =>
    Effect.gen(function*() {
      mode = "200-at-end"
      seen.length = 0
      const r = yield* download()
      expect(sha256(r.bytes)).toBe(sha256(DATA))
      expect(ranges()).toEqual([null, "bytes=3000-", "bytes=6000-", "bytes=9000-", "bytes=10000-"])
    }))

  it.live("from an offset: the stream holds the rest in pieces, counted as one cross-run resume; If-Range goes out", () =>
    Effect.gen(function*() {
      mode = "star"
      seen.length = 0
      const r = yield* download({ offset: 2500, ifRange: "\"v1\"" })
      expect(r.content.offset).toBe(2500)
      expect(r.content.etag).toBe("\"v1\"")
      expect(sha256(r.bytes)).toBe(sha256(DATA.subarray(2500)))
      expect(ranges()).toEqual(["bytes=2500-", "bytes=5500-", "bytes=8500-", "bytes=10000-"])
      expect(seen[0]!["if-range"]).toBe("\"v1\"")
      expect(r.stats.resumes).toBe(1)
    }))

  it.live("an answer that makes no progress is a TransportError, never a short body reported complete", () =>
    Effect.gen(function*() {
      mode = "stuck"
      seen.length = 0
      const e = yield* Effect.flip(download())
      expect(e._tag).toBe("TransportError")
      expect(e.message).toMatch(/asked for bytes from 3000, answered with Content-Range bytes 0-2999\/\*/)
    }))

  it.live("a piece with another ETag than the first answer is a TransportError (never bytes of two versions)", () =>
    Effect.gen(function*() {
      mode = "changes"
      seen.length = 0
      const e = yield* Effect.flip(download())
      expect(e._tag).toBe("TransportError")
      expect(e.message).toMatch(/the content changed between requests \(ETag "v1" → "v2"\)/)
    }))

  it.live("an If-Range that is not a header value is a BadRequest before any request", () =>
    Effect.gen(function*() {
      seen.length = 0
      const e = yield* Effect.flip(download({ offset: 10, ifRange: "\"a\"\r\nx: y" }))
      expect(e._tag).toBe("BadRequest")
      expect(seen).toHaveLength(0)
    }))
})
