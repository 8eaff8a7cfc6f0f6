/**
 * Every fault the emulator injects, through the real request path, judged by
 * the emulator's own counters.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import {
  type FaultConfig,
  type FaultKind,
  generatedBytes,
  type RunningEmulator,
  startEmulator
} from "@meeting-artifacts/graph-emulator"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { GraphClient } from "../src/index.js"
import {
  ALICE,
  clientLayer,
  collectBytes,
  drainBytes,
  type Exchange,
  MEETINGS,
  meetingId,
  RECORDING_BYTES,
  recordingClientLayer,
  recordingId,
  sha256,
  tenant,
  transcriptId,
  vtt,
  WINDOW
} from "./helpers.js"

let emu: RunningEmulator

beforeAll(async () => {
  emu = await startEmulator({ fixture: tenant(), pageSize: 2 })
})
afterAll(() => emu?.close())

const only = (fault: FaultKind, extra?: Partial<FaultConfig>): FaultConfig => ({
  seed: 7,
  rules: [{ fault, probability: 1, limit: 2 }],
  maxFaultsPerRequest: 2,
  retryAfterSeconds: 1,
  ...extra
})

const allRecordingIds = Array.from({ length: MEETINGS }, (_, i) => recordingId(i)).sort()

const listAll = Effect.gen(function*() {
  const api = yield* GraphClient
  return Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllRecordings(WINDOW))).map((r) => r.id).sort()
})

describe("faults on list pages (emulator)", () => {
  for (const fault of ["429-seconds", "429-none", "500", "502", "503", "504", "emptyPage", "malformedJson"] as const) {
    it.live(`${fault}: the listing completes, the fault was really served`, () =>
      Effect.gen(function*() {
        emu.setFaults(only(fault, { rules: [{ fault, probability: 1, limit: 2, routes: ["getAllRecordings"] }] }))
        emu.resetCounters()
        const ids = yield* Effect.provide(listAll, clientLayer(emu))
        expect(ids).toEqual(allRecordingIds)
        const c = emu.counters()
        if (fault === "emptyPage") {
          // an empty page with a nextLink was followed, not taken as the end: one extra page request per fault
          expect(c.faults[fault]).toBeGreaterThanOrEqual(1)
          expect(c.byRoute["getAllRecordings"]).toBe(3 + c.faults[fault]!)
        } else {
          expect(c.faults[fault]).toBe(2)
        }
      }))
  }

  it.live("429 with Retry-After as an HTTP date: the retry is sent no earlier than that date", () =>
    Effect.gen(function*() {
      emu.setFaults(
        only("429-date", { rules: [{ fault: "429-date", probability: 1, limit: 2, routes: ["getAllRecordings"] }] })
      )
      emu.resetCounters()
      const log: Array<Exchange> = []
      const ids = yield* Effect.provide(listAll, recordingClientLayer(emu, log))
      expect(ids).toEqual(allRecordingIds)
      const throttled = log.filter((e) => e.status === 429)
      expect(throttled).toHaveLength(2)
      for (const t of throttled) {
        expect(t.retryAfter).toMatch(/GMT$/)
        const next = log.find((e) => e.sentAt >= t.sentAt && e !== t && e.url === t.url)
        expect(next).toBeDefined()
        expect(next!.sentAt).toBeGreaterThanOrEqual(Date.parse(t.retryAfter!))
      }
      expect(emu.counters().faults["429-date"]).toBe(2)
    }))

  it.live("429 with Retry-After seconds: the retry waits at least that long", () =>
    Effect.gen(function*() {
      emu.setFaults(
        only("429-seconds", {
          rules: [{ fault: "429-seconds", probability: 1, limit: 1, routes: ["getAllRecordings"] }]
        })
      )
      const log: Array<Exchange> = []
      yield* Effect.provide(listAll, recordingClientLayer(emu, log))
      const t = log.find((e) => e.status === 429)!
      const next = log.find((e) => e.sentAt >= t.sentAt && e !== t && e.url === t.url)!
      expect(next.sentAt - t.receivedAt!).toBeGreaterThanOrEqual(Number(t.retryAfter) * 1000)
    }))
})

/** Recording 1, cut twice by the emulator's resets, arrived whole and byte-exact after two resumes. */
const expectResumedTwice = (bytes: Uint8Array, stats: { readonly resumes: number }) => {
  expect(bytes.length).toBe(RECORDING_BYTES(1))
  expect(sha256(bytes)).toBe(sha256(generatedBytes(2, RECORDING_BYTES(1))))
  const c = emu.counters()
  expect(c.faults["reset"]).toBe(2)
  expect(c.byStatus["206"]).toBeGreaterThanOrEqual(1)
  expect(stats.resumes).toBe(2)
}

describe("faults on content (emulator)", () => {
  it.live("a body cut off mid-stream is resumed with Range and completed byte-exact", () =>
    Effect.gen(function*() {
      emu.setFaults(
        only("reset", { rules: [{ fault: "reset", probability: 1, limit: 2, routes: ["recordingContent"] }] })
      )
      emu.resetCounters()
      const log: Array<Exchange> = []
      const { bytes, stats } = yield* Effect.provide(
        Effect.scoped(Effect.gen(function*() {
          const api = yield* GraphClient
          const content = yield* api.recordingContent({ userId: ALICE }, meetingId(1), recordingId(1))
          const bytes = yield* collectBytes(content.stream)
          return { bytes, stats: yield* api.stats }
        })),
        recordingClientLayer(emu, log)
      )
      expectResumedTwice(bytes, stats)
      expect(log.filter((e) => e.headers["range"] !== undefined).map((e) => e.status)).toEqual([206, 206])
    }))

  // Content.drain on Node's client (GraphClient.layer): the chunks go to the consumer inside the socket's
  // reads (drainBody.ts), not through the stream; resumes must work the same.
  it.live("Content.drain: a body cut off mid-way is resumed with Range and completed byte-exact", () =>
    Effect.gen(function*() {
      emu.setFaults(
        only("reset", { rules: [{ fault: "reset", probability: 1, limit: 2, routes: ["recordingContent"] }] })
      )
      emu.resetCounters()
      const { bytes, stats } = yield* Effect.provide(
        Effect.scoped(Effect.gen(function*() {
          const api = yield* GraphClient
          const content = yield* api.recordingContent({ userId: ALICE }, meetingId(1), recordingId(1))
          const bytes = yield* drainBytes(content)
          return { bytes, stats: yield* api.stats }
        })),
        clientLayer(emu)
      )
      expectResumedTwice(bytes, stats)
    }))

  it.live("Content.drain: a consumer that holds the body back longer than the idle timeout does not cut it", () =>
    Effect.gen(function*() {
      emu.setFaults(only("reset", { rules: [] }))
      emu.resetCounters()
      let calls = 0
      const parts: Array<Uint8Array> = []
      const stats = yield* Effect.provide(
        Effect.scoped(Effect.gen(function*() {
          const api = yield* GraphClient
          const content = yield* api.recordingContent({ userId: ALICE }, meetingId(2), recordingId(2))
          yield* content.drain((chunk) => {
            parts.push(Uint8Array.from(chunk))
            // the first two chunks are held for 3x the idle timeout each
            return ++calls <= 2 ? new Promise((resolve) => setTimeout(resolve, 600)) : undefined
          })
          return yield* api.stats
        })),
        clientLayer(emu, { policy: { bodyIdleTimeoutMs: 200 } })
      )
      expect(sha256(Buffer.concat(parts))).toBe(sha256(generatedBytes(3, RECORDING_BYTES(2))))
      expect(stats.resumes).toBe(0)
      expect(emu.counters().byStatus["206"] ?? 0).toBe(0)
    }))

  it.live("Content.drain: a consumer that throws stops the body (a defect with its error) and frees the download slot", () =>
    Effect.gen(function*() {
      emu.setFaults(only("reset", { rules: [] }))
      const boom = new Error("disk full")
      const { exit, next } = yield* Effect.provide(
        Effect.scoped(Effect.gen(function*() {
          const api = yield* GraphClient
          const content = yield* api.recordingContent({ userId: ALICE }, meetingId(1), recordingId(1))
          const exit = yield* Effect.exit(content.drain(() => {
            throw boom
          }))
          // one download slot: the next download only starts if the failed one gave its slot back
          const again = yield* api.recordingContent({ userId: ALICE }, meetingId(2), recordingId(2))
          return { exit, next: yield* drainBytes(again) }
        })),
        clientLayer(emu, { policy: { maxConcurrentDownloads: 1 } })
      )
      expect(Exit.isFailure(exit) && Cause.dieOption(exit.cause)).toEqual(Option.some(boom))
      expect(next.length).toBe(RECORDING_BYTES(2))
    }))

  // Node's client (GraphClient.layer): bodies of a 200 with a small Content-Length are read whole.
  it.live("a small body (read whole) cut off mid-way is resumed with Range from the byte after what arrived", () =>
    Effect.gen(function*() {
      emu.setFaults(
        only("reset", { rules: [{ fault: "reset", probability: 1, limit: 1, routes: ["transcriptContent"] }] })
      )
      emu.resetCounters()
      const { bytes, held, stats } = yield* Effect.provide(
        Effect.scoped(Effect.gen(function*() {
          const api = yield* GraphClient
          const content = yield* api.transcriptContentStream({ userId: ALICE }, meetingId(1), transcriptId(1))
          const bytes = yield* collectBytes(content.stream)
          return { bytes, held: content.bytes, stats: yield* api.stats }
        })),
        clientLayer(emu)
      )
      expect(held).toBeUndefined()
      expect(Buffer.from(bytes).toString("utf8")).toBe(vtt(1))
      const c = emu.counters()
      expect(c.faults["reset"]).toBe(1)
      expect(c.byStatus["206"]).toBe(1)
      expect(stats.resumes).toBe(1)
      // each byte once: the half before the cut, then only the rest
      expect(c.contentBytes).toBe(Buffer.byteLength(vtt(1)))
    }))

  it.live("a small body that arrives whole is handed over in one piece (Content.bytes)", () =>
    Effect.gen(function*() {
      emu.setFaults(only("reset", { rules: [] }))
      const content = yield* Effect.provide(
        Effect.scoped(Effect.gen(function*() {
          const api = yield* GraphClient
          return yield* api.transcriptContentStream({ userId: ALICE }, meetingId(2), transcriptId(2))
        })),
        clientLayer(emu)
      )
      expect(Buffer.from(content.bytes!).toString("utf8")).toBe(vtt(2))
      expect(content.contentLength).toBe(Buffer.byteLength(vtt(2)))
    }))

  it.live("a cross-origin redirect reaches the second origin without credentials", () =>
    Effect.gen(function*() {
      emu.setFaults(
        only("redirect", {
          rules: [{ fault: "redirect", probability: 1, routes: ["recordingContent", "transcriptContent"] }]
        })
      )
      emu.resetCounters()
      const log: Array<Exchange> = []
      const { bytes, text } = yield* Effect.provide(
        Effect.gen(function*() {
          const api = yield* GraphClient
          const bytes = yield* Effect.scoped(
            Effect.flatMap(api.recordingContent({ userId: ALICE }, meetingId(2), recordingId(2)), (c) =>
              collectBytes(c.stream))
          )
          const text = yield* api.transcriptContent({ userId: ALICE }, meetingId(2), transcriptId(2))
          return { bytes, text }
        }),
        recordingClientLayer(emu, log)
      )
      expect(sha256(bytes)).toBe(sha256(generatedBytes(3, RECORDING_BYTES(2))))
      expect(text).toBe(vtt(2))
      const c = emu.counters()
      expect(c.faults["redirect"]).toBe(2)
      expect(c.secondOrigin.requests).toBe(2)
      expect(c.secondOrigin.withCredentials).toBe(0)
      // and the Graph origin did get the token on the first hop
      const graphHops = log.filter((e) =>
        e.url.startsWith(emu.origin)
      )
      expect(graphHops.every((e) => typeof e.headers["authorization"] === "string")).toBe(true)
      expect(
        log.filter((e) => e.url.startsWith(emu.secondOrigin)).every((e) => e.headers["authorization"] === undefined)
      ).toBe(true)
    }))

  it.live("transcript content sends both $format=text/vtt and Accept: text/vtt, with a fresh client-request-id each time", () =>
    Effect.gen(function*() {
      emu.setFaults("none")
      const log: Array<Exchange> = []
      yield* Effect.provide(
        Effect.gen(function*() {
          const api = yield* GraphClient
          yield* api.transcriptContent({ userId: ALICE }, meetingId(0), transcriptId(0))
          yield* api.transcriptContent({ userId: ALICE }, meetingId(0), transcriptId(0))
        }),
        recordingClientLayer(emu, log)
      )
      expect(log).toHaveLength(2)
      for (const e of log) {
        expect(e.url).toContain("$format=text%2Fvtt")
        expect(e.headers["accept"]).toBe("text/vtt")
        expect(e.headers["client-request-id"]).toMatch(/^[0-9a-f-]{36}$/)
      }
      expect(log[0]!.headers["client-request-id"]).not.toBe(log[1]!.headers["client-request-id"])
    }))
})

describe("fault profiles (emulator)", () => {
  const exportEverything = Effect.gen(function*() {
    const api = yield* GraphClient
    const recs = Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllRecordings(WINDOW)))
    const trs = Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllTranscripts(WINDOW)))
    const delta = Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllTranscriptsDelta(WINDOW)))
    const hashes: Record<string, string> = {}
    yield* Effect.forEach(
      recs,
      (r) =>
        Effect.scoped(
          Effect.flatMap(api.recordingContent({ userId: ALICE }, r.meetingId!, r.id), (c) =>
            Effect.map(collectBytes(c.stream), (b) => {
              hashes[r.id] = sha256(b)
            }))
        ),
      { concurrency: 4 }
    )
    const texts = yield* Effect.forEach(trs, (t) => api.transcriptContent({ userId: ALICE }, t.meetingId!, t.id), {
      concurrency: 4
    })
    const metas = yield* Effect.forEach(
      trs,
      (t) => api.transcriptMetadataContent({ userId: ALICE }, t.meetingId!, t.id),
      {
        concurrency: 4
      }
    )
    return { recs, trs, delta, hashes, texts, metas, stats: yield* api.stats }
  })

  for (const profile of ["throttled", "hostile"] as const) {
    it.live(`${profile}: everything is exported, byte-exact`, () =>
      Effect.gen(function*() {
        emu.setFaults(profile)
        emu.resetCounters()
        const r = yield* Effect.provide(
          exportEverything,
          clientLayer(emu, { policy: { baseDelayMs: 20, maxBackoffMs: 300 } })
        )
        expect(r.recs.map((x) => x.id).sort()).toEqual(allRecordingIds)
        expect(r.trs).toHaveLength(MEETINGS)
        expect(r.delta.filter((e) => e._tag === "Item")).toHaveLength(MEETINGS)
        expect(r.delta[r.delta.length - 1]!._tag).toBe("DeltaLink")
        for (let i = 0; i < MEETINGS; i++) {
          expect(r.hashes[recordingId(i)]).toBe(sha256(generatedBytes(i + 1, RECORDING_BYTES(i))))
        }
        expect(r.texts.slice().sort()).toEqual(Array.from({ length: MEETINGS }, (_, i) => vtt(i)).sort())
        const c = emu.counters()
        // which faults hit depends on request URLs (sealed page tokens differ per run): assert on totals
        const injected = Object.values(c.faults).reduce((a, b) => a + b, 0)
        expect(injected).toBeGreaterThanOrEqual(3)
        expect(r.stats.retries + r.stats.resumes).toBeGreaterThan(0)
        if (profile === "throttled") expect(c.throttled).toBeGreaterThan(0)
        if (profile === "hostile") expect(c.secondOrigin.withCredentials).toBe(0)
        // Every recording body was served to completion at least once (206 resumes count as bodies too).
        for (let i = 0; i < MEETINGS; i++) {
          expect(c.contentRequests[recordingId(i)]).toBeGreaterThanOrEqual(1)
        }
      }))
  }
})

describe("rate limit (emulator)", () => {
  it.effect("200 concurrent list calls through one client are paced by its one limiter: its burst at once, no more until the clock moves; zero failures", () =>
    Effect.gen(function*() {
      // The client's clock is TestClock: a request beyond the burst can only be sent once the clock has
      // moved, however fast or slow the machine. Without one limiter shared by the 200 fibers, they would
      // all fire at once.
      const burst = 10
      emu.setFaults("none")
      emu.resetCounters()
      let completed = 0
      const burstDone = yield* Deferred.make<void>()
      const results = yield* Effect.gen(function*() {
        const api = yield* GraphClient
        const calls = yield* Effect.fork(Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) =>
            Effect.map(Stream.runCollect(api.listRecordings({ userId: ALICE }, meetingId(i % MEETINGS))), Chunk.size)
              .pipe(
                Effect.tap(() => ++completed === burst ? Deferred.succeed(burstDone, undefined) : Effect.void)
              ),
          { concurrency: "unbounded" }
        ))
        yield* Deferred.await(burstDone)
        expect(emu.counters().total).toBe(burst)
        // then the clock runs (each step lets the woken requests go) until every call is answered
        const clock = yield* Effect.fork(
          Effect.forever(Effect.zipRight(
            TestClock.adjust(50),
            Effect.promise(() => new Promise((r) => setTimeout(r, 1)))
          ))
        )
        const results = yield* Fiber.join(calls)
        yield* Fiber.interrupt(clock)
        return results
      }).pipe(Effect.provide(clientLayer(emu, { policy: { requestsPerSecond: 20, burst, requestTimeoutMs: 1e9 } })))
      expect(results).toHaveLength(200)
      expect(results.every((n) => n === 1)).toBe(true)
      expect(emu.counters().total).toBe(200)
    }))
})
