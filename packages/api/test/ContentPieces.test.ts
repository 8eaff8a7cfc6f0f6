/**
 * Content served in pieces: a 206 whose `Content-Range` stops before the end of the content (total `*`
 * or larger than its end) must be followed by requests for the rest, never reported as the whole body,
 * and `ContentOptions.ifRange` goes out as `If-Range`. The emulator always answers a Range to the end
 * of the content with a known total, so these use a tiny loopback server that answers in pieces.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@effect/vitest"
import { generatedBytes } from "@meeting-artifacts/graph-emulator"
import * as Effect from "effect/Effect"
import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { type ContentOptions, GraphClient } from "../src/index.js"
import { bodyBytes, clientLayer, sha256 } from "./helpers.js"

const SIZE = 10_000
const PIECE = 3000
const DATA = generatedBytes(11, SIZE)

/**
 * How the server answers a request for bytes from `start` (after the whole content, `start` = SIZE):
 * "star" `bytes S-E/*` in pieces and 416 past the end; "known-last" the same but the last piece names
 * its total; "200-at-end" pieces, and 200 with the whole body (same ETag) past the end; "stuck" always the
 * first piece; "changes" pieces whose ETag changes after the first (other content); "cut-at-end" pieces,
 * the last one's connection reset after its last byte; "lm-honours" / "lm-ignores" pieces with only a
 * Last-Modified, the content replaced after the first piece (the server honours If-Range: 200 with the new
 * content; or ignores it: a 206 of the new content); "shrinks" pieces without validators, the content cut to
 * SHRUNK bytes after the second piece (416 `bytes *` + `/SHRUNK` past it); "caller-validator" a first 206
 * (to the end, total known) without any validator, cut at CUT, then the content replaced by DATA2 with ETag
 * "v2" (honouring If-Range); "dynamic-lm" a strong ETag that never changes but a Last-Modified stamped anew
 * on every response, the first body cut at CUT.
 */
type Mode =
  | "star"
  | "known-last"
  | "200-at-end"
  | "stuck"
  | "changes"
  | "cut-at-end"
  | "lm-honours"
  | "lm-ignores"
  | "shrinks"
  | "caller-validator"
  | "dynamic-lm"

const DATA2 = generatedBytes(12, SIZE)
const SHRUNK = 5000
const CUT = 6000
const LM1 = "Mon, 01 Jan 2024 00:00:00 GMT"
const LM2 = "Tue, 02 Jan 2024 00:00:00 GMT"
let served = 0

let server: Server
let base = ""
let mode: Mode = "star"
const seen: Array<IncomingHttpHeaders> = []

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers)
    served++
    const m = /^bytes=(\d+)-$/.exec(req.headers["range"] ?? "")
    let start = m === null ? 0 : Number(m[1])
    if (mode === "stuck") start = 0
    if (mode === "lm-honours" || mode === "lm-ignores") {
      const [data, lm] = served === 1 ? [DATA, LM1] : [DATA2, LM2]
      if (mode === "lm-honours" && req.headers["if-range"] !== undefined && req.headers["if-range"] !== lm) {
        return void res.writeHead(200, { "content-length": String(SIZE), "last-modified": lm }).end(data)
      }
      const end = Math.min(start + PIECE, SIZE) - 1
      res.writeHead(206, {
        "content-length": String(end - start + 1),
        "content-range": `bytes ${start}-${end}/*`,
        "last-modified": lm
      })
      return void res.end(data.subarray(start, end + 1))
    }
    if (mode === "caller-validator" || mode === "dynamic-lm") {
      const headers = (length: number): Record<string, string> =>
        mode === "dynamic-lm"
          ? {
            "content-length": String(length),
            etag: "\"v1\"",
            "last-modified": new Date(Date.UTC(2024, 0, 1, 0, 0, served)).toUTCString()
          }
          : served === 1
          ? { "content-length": String(length) }
          : { "content-length": String(length), etag: "\"v2\"" }
      const data = mode === "caller-validator" && served > 1 ? DATA2 : DATA
      if (mode === "caller-validator" && served > 1 && req.headers["if-range"] !== "\"v2\"") {
        return void res.writeHead(200, headers(SIZE)).end(data)
      }
      res.writeHead(start > 0 ? 206 : 200, {
        ...headers(SIZE - start),
        ...(start > 0 ? { "content-range": `bytes ${start}-${SIZE - 1}/${SIZE}` } : {})
      })
      if (served === 1) {
        return void res.write(data.subarray(start, CUT), () => setTimeout(() => res.socket?.destroy(), 20))
      }
      return void res.end(data.subarray(start))
    }
    if (mode === "shrinks") {
      const size = served <= 2 ? SIZE : SHRUNK
      if (start >= size) return void res.writeHead(416, { "content-range": `bytes */${size}` }).end()
      const end = Math.min(start + PIECE, size) - 1
      res.writeHead(206, { "content-length": String(end - start + 1), "content-range": `bytes ${start}-${end}/*` })
      return void res.end(DATA.subarray(start, end + 1))
    }
    if (start >= SIZE) {
      if (mode === "200-at-end") {
        return void res.writeHead(200, { "content-length": String(SIZE), etag: "\"v1\"" }).end(DATA)
      }
      return void res.writeHead(416, { "content-range": "bytes */*" }).end()
    }
    if (mode === "cut-at-end" && start + PIECE >= SIZE) {
      // no Content-Length (chunked): the reset after the last byte is a cut body, not a complete one
      res.writeHead(206, { "content-range": `bytes ${start}-${SIZE - 1}/*`, etag: "\"v1\"" })
      res.write(DATA.subarray(start), () => setTimeout(() => res.socket?.destroy(), 20))
      return
    }
    const end = Math.min(start + PIECE, SIZE) - 1
    const total = mode === "known-last" && end === SIZE - 1 ? String(SIZE) : "*"
    const etag = mode === "changes" && start > 0 ? "\"v2\"" : "\"v1\""
    res.writeHead(206, {
      "content-length": String(end - start + 1),
      "content-range": `bytes ${start}-${end}/${total}`,
      etag
    })
    res.end(DATA.subarray(start, end + 1))
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1.0`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

/** How the body is consumed (`Content.stream` or `Content.drain`): every case runs with both. */
let how: "stream" | "drain" = "stream"

const download = (options?: ContentOptions, maxResumes = 0) =>
  Effect.provide(
    Effect.scoped(Effect.gen(function*() {
      const api = yield* GraphClient
      const content = yield* api.recordingContent({ userId: "u" }, "m", "r", options)
      const bytes = yield* bodyBytes(content, how)
      return { content, bytes, stats: yield* api.stats }
    })),
    clientLayer({ baseUrl: base, accessToken: "static-token-value" }, {
      policy: { maxAttempts: 1, maxResumes, baseDelayMs: 1 }
    })
  )

const ranges = () => seen.map((h) => h["range"] ?? null)
const use = (m: Mode) => {
  mode = m
  seen.length = 0
  served = 0
}

describe.each(["stream", "drain"] as const)(
  "a 206 that stops before the end of the content (Content.%s)",
  (consumer) => {
    beforeEach(() => {
      how = consumer
    })

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

    it.live("every continuation carries the first answer's ETag as If-Range", () =>
      Effect.gen(function*() {
        use("star")
        yield* download()
        expect(seen.map((h) => h["if-range"] ?? null)).toEqual([null, "\"v1\"", "\"v1\"", "\"v1\"", "\"v1\""])
      }))

    it.live("a connection cut right after the last byte of a piece of unknown total: the 416 of the resume ends the stream", () =>
      Effect.gen(function*() {
        use("cut-at-end")
        const r = yield* download(undefined, 2)
        expect(sha256(r.bytes)).toBe(sha256(DATA))
        expect(ranges()).toEqual([null, "bytes=3000-", "bytes=6000-", "bytes=9000-", "bytes=10000-"])
        expect(r.stats.resumes).toBe(1)
      }))

    it.live("Last-Modified only, content replaced after the first piece, If-Range honoured (200): TransportError, never spliced", () =>
      Effect.gen(function*() {
        use("lm-honours")
        const e = yield* Effect.flip(download())
        expect(e._tag).toBe("TransportError")
        expect(e.message).toMatch(
          /the content changed between requests \(Last-Modified Mon, 01 Jan 2024 00:00:00 GMT → Tue, 02 Jan 2024/
        )
        // the continuation asked with the first answer's Last-Modified
        expect(seen[1]!["if-range"]).toBe(LM1)
      }))

    it.live("Last-Modified only, content replaced after the first piece, If-Range ignored (206): TransportError, never spliced", () =>
      Effect.gen(function*() {
        use("lm-ignores")
        const e = yield* Effect.flip(download())
        expect(e._tag).toBe("TransportError")
        expect(e.message).toMatch(/Last-Modified Mon, 01 Jan 2024 00:00:00 GMT → Tue, 02 Jan 2024/)
      }))

    it.live("content that shrank while pieces were fetched (416 naming a smaller length): TransportError, not a short body", () =>
      Effect.gen(function*() {
        use("shrinks")
        const e = yield* Effect.flip(download())
        expect(e._tag).toBe("TransportError")
        expect(e.message).toMatch(/asked for bytes from 6000, answered 416 .*the content is 5000 bytes long now/)
        expect(ranges()).toEqual([null, "bytes=3000-", "bytes=6000-"])
      }))

    it.live("from an offset at the end of the content (If-Range with the ETag, 416 `bytes *` + `/*`): an empty stream at that offset, one request", () =>
      Effect.gen(function*() {
        use("star")
        const r = yield* download({ offset: SIZE, ifRange: "\"v1\"" })
        expect(r.content.offset).toBe(SIZE)
        expect(r.content.contentLength).toBe(0)
        expect(r.bytes.length).toBe(0)
        expect(ranges()).toEqual([`bytes=${SIZE}-`])
      }))

    it.live("a resume whose 206 carries no validator: the caller's If-Range stays the expected one, so new content is a TransportError", () =>
      Effect.gen(function*() {
        use("caller-validator")
        const e = yield* Effect.flip(download({ offset: 2500, ifRange: "\"v1\"" }, 2))
        expect(e._tag).toBe("TransportError")
        expect(e.message).toMatch(/the content changed between requests/)
        // the in-stream resume asked with the caller's validator
        expect(seen.map((h) => h["if-range"] ?? null)).toEqual(["\"v1\"", "\"v1\""])
      }))

    it.live("a strong ETag that holds: a Last-Modified stamped anew per response does not stop a cut body from resuming", () =>
      Effect.gen(function*() {
        use("dynamic-lm")
        const r = yield* download(undefined, 2)
        expect(sha256(r.bytes)).toBe(sha256(DATA))
        expect(ranges()).toEqual([null, `bytes=${CUT}-`])
        expect(seen[1]!["if-range"]).toBe("\"v1\"")
      }))

    it.live("an If-Range that is not a header value is a BadRequest before any request", () =>
      Effect.gen(function*() {
        seen.length = 0
        const e = yield* Effect.flip(download({ offset: 10, ifRange: "\"a\"\r\nx: y" }))
        expect(e._tag).toBe("BadRequest")
        expect(seen).toHaveLength(0)
      }))
  }
)
