/**
 * Ad hoc calls (1:1, group, PSTN calls) against the emulator over loopback HTTP: the organizer-wide
 * functions (and their delta), per-call lists with `{ adhocCallId }`, content; and a listed artifact
 * whose content is not ready yet (404 → NotFound).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import {
  generatedBytes,
  type RunningEmulator,
  startEmulator,
  type TenantFixture
} from "@meeting-artifacts/graph-emulator"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { GraphClient, type GraphError } from "../src/index.js"
import { ALICE, BOB, clientLayer, collectBytes, metadataVtt, sha256, vtt } from "./helpers.js"

// ids as Graph's: opaque, with / + = (percent-encoded in paths by the client)
const callId = (i: number) => `adhoc/${i}+Y2FsbA==`
const recId = (i: number) => `YWRob2MvcmVj/${i}+=`
const trId = (i: number) => `YWRob2MvdHI/${i}+==`
const CALLS = 3
const WINDOW = { userId: ALICE, startDateTime: "2024-02-01T00:00:00Z", endDateTime: "2024-03-01T00:00:00Z" }

const adhocTenant = (): TenantFixture => ({
  tenantId: "7e57e57e-0000-4000-8000-00000000ad0c",
  users: [{ id: ALICE, displayName: "Okonkwo, Adaeze" }, { id: BOB, displayName: "Bob" }],
  meetings: [{
    id: "bWVldGluZy0x",
    organizerId: ALICE,
    recordings: [{ id: "meeting/rec=", createdDateTime: "2024-02-10T09:00:00Z", content: { bytes: 100, seed: 1 } }]
  }],
  adhocCalls: [
    ...Array.from({ length: CALLS }, (_, i) => ({
      id: callId(i),
      userId: ALICE,
      recordings: [{
        id: recId(i),
        contentCorrelationId: `ad000000-0000-4000-8000-00000000000${i}`,
        createdDateTime: `2024-02-0${i + 2}T10:00:00.1234567Z`,
        endDateTime: `2024-02-0${i + 2}T10:20:00.1234567Z`,
        content: { bytes: 120_000 + i * 1000, seed: 20 + i }
      }],
      transcripts: [{
        id: trId(i),
        contentCorrelationId: `ad000000-0000-4000-8000-00000000000${i}`,
        createdDateTime: `2024-02-0${i + 2}T10:00:01.1234567Z`,
        content: { text: vtt(i) },
        metadataContent: { text: metadataVtt(i) }
      }]
    })),
    // outside the window
    {
      id: "adhoc-march",
      userId: ALICE,
      recordings: [{ id: "march/rec=", createdDateTime: "2024-03-05T00:00:00Z", content: { bytes: 5, seed: 2 } }]
    },
    // another user's call
    {
      id: "adhoc-bob",
      userId: BOB,
      recordings: [{ id: "bob/rec=", createdDateTime: "2024-02-05T00:00:00Z", content: { bytes: 5, seed: 3 } }]
    },
    // listed at once, content not ready for the first 2 requests
    {
      id: "adhoc-processing",
      userId: BOB,
      recordings: [{
        id: "processing/rec=",
        createdDateTime: "2024-02-06T00:00:00Z",
        content: { bytes: 4096, seed: 4 },
        notReady: { requests: 2 }
      }],
      transcripts: [{
        id: "processing/tr=",
        createdDateTime: "2024-02-06T00:00:00Z",
        content: { text: "WEBVTT\n\n" },
        notReady: { requests: 1 }
      }]
    }
  ]
})

let emu: RunningEmulator

beforeAll(async () => {
  emu = await startEmulator({ fixture: adhocTenant(), pageSize: 2 })
})
afterAll(() => emu?.close())

const run = <A, E>(effect: Effect.Effect<A, E, GraphClient>) => Effect.provide(effect, clientLayer(emu))
const ids = (items: ReadonlyArray<{ readonly id: string }>) => items.map((x) => x.id).sort()

describe("ad hoc calls (emulator, no faults)", () => {
  it.live("getAllAdhocRecordings / getAllAdhocTranscripts page through a user's window, ad hoc artifacts only", () =>
    run(Effect.gen(function*() {
      const api = yield* GraphClient
      emu.resetCounters()
      const recs = Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllAdhocRecordings(WINDOW)))
      const trs = Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllAdhocTranscripts(WINDOW)))
      expect(ids(recs)).toEqual(Array.from({ length: CALLS }, (_, i) => recId(i)).sort())
      expect(ids(trs)).toEqual(Array.from({ length: CALLS }, (_, i) => trId(i)).sort())
      const r0 = recs.find((r) => r.id === recId(0))!
      expect(r0.callId).toBe(callId(0))
      expect(r0.meetingId).toBeUndefined()
      expect(r0.createdDateTime).toBe("2024-02-02T10:00:00.1234567Z")
      // 3 items at page size 2: 2 pages each, served by the ad hoc routes
      const c = emu.counters()
      expect(c.byRoute["getAllAdhocRecordings"]).toBe(2)
      expect(c.byRoute["getAllAdhocTranscripts"]).toBe(2)
      expect(c.byRoute["getAllRecordings"]).toBeUndefined()
      // without a window: everything the user started, nothing of other users or of meetings
      const all = Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllAdhocRecordings({ userId: ALICE })))
      expect(ids(all)).toEqual([...Array.from({ length: CALLS }, (_, i) => recId(i)), "march/rec="].sort())
    })))

  it.live("lists, filters and gets a call's artifacts with { adhocCallId }, and downloads their content", () =>
    run(Effect.scoped(Effect.gen(function*() {
      const api = yield* GraphClient
      const user = { userId: ALICE }
      const call = { adhocCallId: callId(1) }
      const recs = Chunk.toReadonlyArray(yield* Stream.runCollect(api.listRecordings(user, call)))
      expect(ids(recs)).toEqual([recId(1)])
      const filtered = Chunk.toReadonlyArray(
        yield* Stream.runCollect(
          api.listTranscripts(user, call, { contentCorrelationId: recs[0]!.contentCorrelationId! })
        )
      )
      expect(ids(filtered)).toEqual([trId(1)])
      const none = Chunk.toReadonlyArray(
        yield* Stream.runCollect(api.listTranscripts(user, call, { contentCorrelationId: "no-such-id" }))
      )
      expect(none).toHaveLength(0)
      expect((yield* api.getRecording(user, call, recId(1))).endDateTime).toBe("2024-02-03T10:20:00.1234567Z")
      expect((yield* api.getTranscript(user, call, trId(1))).callId).toBe(callId(1))

      const content = yield* api.recordingContent(user, call, recId(1))
      expect(content.contentType).toBe("video/mp4")
      expect(content.contentLength).toBe(121_000)
      expect(sha256(yield* collectBytes(content.stream))).toBe(sha256(generatedBytes(21, 121_000)))
      expect(yield* api.transcriptContent(user, call, trId(1))).toBe(vtt(1))
      expect(yield* api.transcriptMetadataContent(user, call, trId(1))).toBe(metadataVtt(1))
      const c = emu.counters()
      expect(c.contentRequests[recId(1)]).toBe(1)
      expect(c.contentRequests[trId(1)]).toBe(1)
      expect(c.contentRequests[`${trId(1)}#metadataContent`]).toBe(1)
    }))))

  it.live("delta yields items then a deltaLink; replaying it returns only artifacts added since", () =>
    run(Effect.gen(function*() {
      const api = yield* GraphClient
      const first = Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllAdhocRecordingsDelta(WINDOW)))
      expect(first.filter((e) => e._tag === "Item")).toHaveLength(CALLS)
      const last = first[first.length - 1]!
      if (last._tag !== "DeltaLink") throw new Error("the delta stream must end with its deltaLink")
      expect(last.deltaLink).toContain("/adhocCalls/getAllRecordings(")

      emu.addAdhocRecording(callId(2), {
        id: "adhoc/new+1=",
        createdDateTime: "2024-02-20T00:00:00Z",
        content: { bytes: 7, seed: 5 }
      })
      // an ad hoc call added later shows up too; a meeting recording does not
      emu.addAdhocCall({
        id: "adhoc-late",
        userId: ALICE,
        recordings: [{ id: "late/rec=", createdDateTime: "2024-02-21T00:00:00Z", content: { bytes: 7, seed: 6 } }]
      })
      emu.addRecording("bWVldGluZy0x", {
        id: "meeting/new=",
        createdDateTime: "2024-02-22T00:00:00Z",
        content: { bytes: 7, seed: 7 }
      })
      const second = Chunk.toReadonlyArray(
        yield* Stream.runCollect(api.getAllAdhocRecordingsDelta({ deltaLink: last.deltaLink }))
      )
      expect(second.flatMap((e) => (e._tag === "Item" ? [e.item.id] : [])).sort()).toEqual(
        ["adhoc/new+1=", "late/rec="].sort()
      )
      expect(second[second.length - 1]!._tag).toBe("DeltaLink")

      const trs = Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllAdhocTranscriptsDelta(WINDOW)))
      expect(trs.filter((e) => e._tag === "Item")).toHaveLength(CALLS)
    })))

  it.live("another user's call → NotFound naming the ad hoc route template", () =>
    run(Effect.gen(function*() {
      const api = yield* GraphClient
      const e = yield* Effect.flip(
        Stream.runCollect(api.listRecordings({ userId: ALICE }, { adhocCallId: "adhoc-bob" }))
      )
      expect(e._tag).toBe("NotFound")
      expect(e.status).toBe(404)
      expect(e.route).toBe("/users/{userId}/adhocCalls/{callId}/recordings")
      const ok = Chunk.toReadonlyArray(
        yield* Stream.runCollect(api.listRecordings({ userId: BOB }, { adhocCallId: "adhoc-bob" }))
      )
      expect(ids(ok)).toEqual(["bob/rec="])
    })))
})

describe("content not ready yet", () => {
  it.live("a listed recording whose content is still processing → NotFound (not retried), then the bytes once ready", () =>
    run(Effect.gen(function*() {
      const api = yield* GraphClient
      const user = { userId: BOB }
      const call = { adhocCallId: "adhoc-processing" }
      // it is listed...
      const listed = Chunk.toReadonlyArray(yield* Stream.runCollect(api.listRecordings(user, call)))
      expect(ids(listed)).toEqual(["processing/rec="])
      const before = emu.counters().notReady
      // ...but its content is not there yet: a typed NotFound with Graph's details, after one request
      const download = Effect.scoped(
        Effect.flatMap(api.recordingContent(user, call, "processing/rec="), (c) => collectBytes(c.stream))
      )
      const e: GraphError = yield* Effect.flip(download)
      expect(e._tag).toBe("NotFound")
      expect(e.status).toBe(404)
      expect(e.code).toBe("NotFound")
      expect(e.message).toMatch(/not available yet/)
      expect(e.requestId).not.toBeNull()
      expect(e.route).toBe("/users/{userId}/adhocCalls/{callId}/recordings/{recordingId}/content")
      expect(emu.counters().notReady - before).toBe(1)
      expect((yield* Effect.flip(download))._tag).toBe("NotFound")
      // the third request finds it ready
      const bytes = yield* download
      expect(sha256(bytes)).toBe(sha256(generatedBytes(4, 4096)))
      expect(emu.counters().notReady - before).toBe(2)

      const t = yield* Effect.flip(api.transcriptContent(user, call, "processing/tr="))
      expect(t._tag).toBe("NotFound")
      expect(yield* api.transcriptContent(user, call, "processing/tr=")).toBe("WEBVTT\n\n")
    })))
})

describe("ad hoc calls under the hostile profile", () => {
  it.live("every ad hoc recording and transcript arrives byte-exact through 429s, 5xx, resets, redirects and empty pages", () =>
    Effect.gen(function*() {
      const hostile = yield* Effect.acquireRelease(
        Effect.promise(() => startEmulator({ fixture: adhocTenant(), pageSize: 1, faults: "hostile", seed: 11 })),
        (e) => Effect.promise(() => e.close())
      )
      yield* Effect.gen(function*() {
        const api = yield* GraphClient
        const recs = Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllAdhocRecordings(WINDOW)))
        expect(ids(recs)).toEqual(Array.from({ length: CALLS }, (_, i) => recId(i)).sort())
        for (let i = 0; i < CALLS; i++) {
          const call = { adhocCallId: recs.find((r) => r.id === recId(i))!.callId! }
          const bytes = yield* Effect.scoped(
            Effect.flatMap(api.recordingContent({ userId: ALICE }, call, recId(i)), (c) => collectBytes(c.stream))
          )
          expect(sha256(bytes)).toBe(sha256(generatedBytes(20 + i, 120_000 + i * 1000)))
          expect(yield* api.transcriptContent({ userId: ALICE }, call, trId(i))).toBe(vtt(i))
        }
        const c = hostile.counters()
        const injected = Object.entries(c.faults).filter(([k]) => k !== "latency").reduce((n, [, v]) => n + v, 0)
        expect(injected).toBeGreaterThan(0)
        expect(c.secondOrigin.withCredentials).toBe(0)
      }).pipe(Effect.provide(clientLayer(hostile)))
    }).pipe(Effect.scoped))
})
