/**
 * `ContentOptions.offset`: resuming a download another process started. Against the emulator over
 * loopback (206, a server that ignores Range, 416, a cut inside the resumed body) and, for an answer the
 * emulator never gives (a 206 that starts after the asked offset), a tiny loopback server.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { generatedBytes, type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { type ContentOptions, GraphClient } from "../src/index.js"
import {
  ALICE,
  clientLayer,
  collectBytes,
  meetingId,
  RECORDING_BYTES,
  recordingId,
  sha256,
  tenant,
  transcriptId,
  vtt
} from "./helpers.js"

let emu: RunningEmulator
beforeAll(async () => {
  emu = await startEmulator({ fixture: tenant() })
})
afterAll(() => emu?.close())

const SIZE = RECORDING_BYTES(2)
const DATA = generatedBytes(3, SIZE)

/** Opens recording 2 from `options` and reads it all: what the Content said and the bytes it delivered. */
const download = (options?: ContentOptions) =>
  Effect.provide(
    Effect.scoped(Effect.gen(function*() {
      const api = yield* GraphClient
      const content = yield* api.recordingContent({ userId: ALICE }, meetingId(2), recordingId(2), options)
      const bytes = yield* collectBytes(content.stream)
      return {
        offset: content.offset,
        contentLength: content.contentLength,
        etag: content.etag,
        bytes,
        stats: yield* api.stats
      }
    })),
    clientLayer(emu)
  )

describe("content from an offset (emulator)", () => {
  it.live("206: the stream starts at the offset and holds exactly the rest", () =>
    Effect.gen(function*() {
      emu.setFaults({})
      emu.resetCounters()
      const r = yield* download({ offset: 100_000 })
      expect(r.offset).toBe(100_000)
      expect(r.contentLength).toBe(SIZE - 100_000)
      expect(r.stats.resumes).toBe(1)
      expect(r.bytes.length).toBe(SIZE - 100_000)
      expect(sha256(r.bytes)).toBe(sha256(DATA.subarray(100_000)))
      const c = emu.counters()
      expect(c.contentRanges[recordingId(2)]).toEqual(["bytes=100000-"])
      // The server sent only the rest: nothing before the offset was paid for again.
      expect(c.contentBytesById[recordingId(2)]).toBe(SIZE - 100_000)
    }))

  it.live("without an offset: offset 0, no Range header, the whole body", () =>
    Effect.gen(function*() {
      emu.setFaults({})
      emu.resetCounters()
      const r = yield* download()
      expect(r.offset).toBe(0)
      expect(r.contentLength).toBe(SIZE)
      expect(sha256(r.bytes)).toBe(sha256(DATA))
      expect(emu.counters().contentRanges[recordingId(2)]).toBeUndefined()
    }))

  it.live("200 (the server ignores Range): offset reported 0 and the stream is the whole body from byte 0", () =>
    Effect.gen(function*() {
      emu.setFaults({ ignoreRange: true })
      emu.resetCounters()
      const r = yield* download({ offset: 100_000 })
      expect(r.offset).toBe(0)
      expect(r.contentLength).toBe(SIZE)
      expect(sha256(r.bytes)).toBe(sha256(DATA))
      expect(emu.counters().contentRanges[recordingId(2)]).toEqual(["bytes=100000-"])
    }))

  it.live("416 (offset at or past the end): started over without Range, offset 0", () =>
    Effect.gen(function*() {
      emu.setFaults({})
      emu.resetCounters()
      const r = yield* download({ offset: SIZE + 10 })
      expect(r.offset).toBe(0)
      expect(sha256(r.bytes)).toBe(sha256(DATA))
      expect(emu.counters().byStatus["416"]).toBe(1)
      expect(emu.counters().contentRanges[recordingId(2)]).toEqual([`bytes=${SIZE + 10}-`])
    }))

  it.live("416 at exactly the end with the content's ETag as If-Range (Content-Range bytes */SIZE): an empty stream at SIZE, nothing downloaded again", () =>
    Effect.gen(function*() {
      emu.setFaults({})
      const { etag } = yield* download()
      expect(etag).not.toBeNull()
      emu.resetCounters()
      const r = yield* download({ offset: SIZE, ifRange: etag! })
      expect(r.offset).toBe(SIZE)
      expect(r.contentLength).toBe(0)
      expect(r.bytes.length).toBe(0)
      const c = emu.counters()
      expect(c.byStatus["416"]).toBe(1)
      expect(c.contentRanges[recordingId(2)]).toEqual([`bytes=${SIZE}-`])
      expect(c.contentBytesById[recordingId(2)]).toBeUndefined()
      expect(c.byRoute["recordingContent"]).toBe(1)
    }))

  it.live("a body resumed from an offset and cut again resumes at offset + delivered", () =>
    Effect.gen(function*() {
      emu.setFaults({
        seed: 3,
        rules: [{ fault: "reset", probability: 1, limit: 1, routes: ["recordingContent"] }],
        maxFaultsPerRequest: 1
      })
      emu.resetCounters()
      const r = yield* download({ offset: 50_000 })
      expect(r.offset).toBe(50_000)
      expect(r.bytes.length).toBe(SIZE - 50_000)
      expect(sha256(r.bytes)).toBe(sha256(DATA.subarray(50_000)))
      // the cross-run resume (the first answer a 206 to the offset) and the one after the cut
      expect(r.stats.resumes).toBe(2)
      const ranges = emu.counters().contentRanges[recordingId(2)]!
      expect(ranges).toHaveLength(2)
      expect(ranges[0]).toBe("bytes=50000-")
      // The second request asks for an absolute position after the first one's delivered bytes.
      const second = Number(/^bytes=(\d+)-$/.exec(ranges[1]!)![1])
      expect(second).toBeGreaterThan(50_000)
      expect(second).toBeLessThan(SIZE)
    }))

  it.live("transcriptContentStream takes an offset too", () =>
    Effect.gen(function*() {
      emu.setFaults({})
      const text = Buffer.from(vtt(1), "utf8")
      const r = yield* Effect.provide(
        Effect.scoped(Effect.gen(function*() {
          const api = yield* GraphClient
          const content = yield* api.transcriptContentStream({ userId: ALICE }, meetingId(1), transcriptId(1), {
            offset: 10
          })
          return { offset: content.offset, bytes: yield* collectBytes(content.stream) }
        })),
        clientLayer(emu)
      )
      expect(r.offset).toBe(10)
      expect(Buffer.from(r.bytes).equals(text.subarray(10))).toBe(true)
    }))

  it.live("a negative or fractional offset is a BadRequest before any request", () =>
    Effect.gen(function*() {
      emu.resetCounters()
      for (const offset of [-1, 1.5, Number.NaN]) {
        const e = yield* Effect.flip(download({ offset }))
        expect(e._tag).toBe("BadRequest")
        expect((e as { code: string | null }).code).toBe("InvalidArgument")
      }
      expect(emu.counters().total).toBe(0)
    }))
})

describe("content from an offset (tiny loopback server)", () => {
  let server: Server
  let base = ""
  beforeAll(async () => {
    const body = generatedBytes(5, 1000)
    server = createServer((req, res) => {
      // Answers any Range with a range that starts 100 bytes after what was asked: a gap.
      const m = /^bytes=(\d+)-$/.exec(req.headers["range"] ?? "")
      if (m === null) return void res.writeHead(200, { "content-length": "1000" }).end(body)
      const start = Number(m[1]) + 100
      res.writeHead(206, { "content-length": String(1000 - start), "content-range": `bytes ${start}-999/1000` })
      res.end(body.subarray(start))
    })
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1.0`
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  it.live("a 206 that starts after the asked offset is a TransportError, never bytes with a gap", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Effect.provide(
        Effect.scoped(
          Effect.flatMap(
            GraphClient,
            (api) =>
              Effect.flatMap(
                api.recordingContent({ userId: "u" }, "m", "r", { offset: 200 }),
                (c) => Stream.runDrain(c.stream)
              )
          )
        ),
        clientLayer({ baseUrl: base, accessToken: "static-token-value" }, { policy: { maxAttempts: 1 } })
      ))
      expect(e._tag).toBe("TransportError")
      expect(e.message).toMatch(/asked for bytes from 200, answered with Content-Range bytes 300-999\/1000/)
    }))
})
