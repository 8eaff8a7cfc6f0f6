/**
 * Every endpoint against the emulator over loopback HTTP, no faults.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { generatedBytes, type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import { GraphClient } from "../src/index.js"
import {
  ALICE,
  BOB,
  clientLayer,
  collectBytes,
  makeMeeting,
  MEETINGS,
  meetingId,
  metadataVtt,
  RECORDING_BYTES,
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

const run = <A, E>(effect: Effect.Effect<A, E, GraphClient>) => Effect.provide(effect, clientLayer(emu))

describe("endpoints (emulator, no faults)", () => {
  it.live("getAllRecordings / getAllTranscripts page through an organizer's window", () =>
    run(Effect.gen(function*() {
      const api = yield* GraphClient
      const recs = Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllRecordings(WINDOW)))
      const trs = Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllTranscripts(WINDOW)))
      expect(recs.map((r) => r.id).sort()).toEqual(Array.from({ length: MEETINGS }, (_, i) => recordingId(i)).sort())
      expect(trs.map((t) => t.id).sort()).toEqual(Array.from({ length: MEETINGS }, (_, i) => transcriptId(i)).sort())
      // Graph's 7-digit timestamps survive unchanged.
      expect(recs.find((r) => r.id === recordingId(0))?.createdDateTime).toBe("2024-01-16T09:00:01.1234567Z")
      expect(recs.every((r) => r.meetingOrganizer?.user?.id === ALICE)).toBe(true)
      // 5 items at page size 2: 3 pages each.
      const c = emu.counters()
      expect(c.byRoute["getAllRecordings"]).toBe(3)
      expect(c.byRoute["getAllTranscripts"]).toBe(3)
    })))

  it.live("lists, filters and gets recordings and transcripts of a meeting, for /users/{id} and /me", () =>
    run(Effect.gen(function*() {
      const api = yield* GraphClient
      const m = meetingId(2)
      const asUser = Chunk.toReadonlyArray(yield* Stream.runCollect(api.listRecordings({ userId: ALICE }, m)))
      const asMe = Chunk.toReadonlyArray(yield* Stream.runCollect(api.listRecordings("me", m)))
      expect(asUser.map((r) => r.id)).toEqual([recordingId(2)])
      expect(asMe.map((r) => r.id)).toEqual([recordingId(2)])
      const filtered = Chunk.toReadonlyArray(
        yield* Stream.runCollect(
          api.listTranscripts({ userId: ALICE }, { meetingId: m }, {
            contentCorrelationId: asUser[0]!.contentCorrelationId!
          })
        )
      )
      expect(filtered.map((t) => t.id)).toEqual([transcriptId(2)])
      const rec = yield* api.getRecording({ userId: ALICE }, m, recordingId(2))
      expect(rec.contentCorrelationId).toBe(asUser[0]!.contentCorrelationId)
      const tr = yield* api.getTranscript("me", m, transcriptId(2))
      expect(tr.id).toBe(transcriptId(2))
    })))

  it.live("streams recording content byte-exact with type and length", () =>
    run(Effect.scoped(Effect.gen(function*() {
      const api = yield* GraphClient
      const content = yield* api.recordingContent({ userId: ALICE }, meetingId(3), recordingId(3))
      expect(content.contentType).toBe("video/mp4")
      expect(content.contentLength).toBe(RECORDING_BYTES(3))
      const bytes = yield* collectBytes(content.stream)
      expect(sha256(bytes)).toBe(sha256(generatedBytes(4, RECORDING_BYTES(3))))
      const stats = yield* api.stats
      expect(stats.bytes).toBeGreaterThanOrEqual(RECORDING_BYTES(3))
    }))))

  it.live("gets transcript VTT (byte-exact, CRLF kept) and metadataContent", () =>
    run(Effect.gen(function*() {
      const api = yield* GraphClient
      const text = yield* api.transcriptContent({ userId: ALICE }, meetingId(1), transcriptId(1))
      expect(text).toBe(vtt(1))
      const streamed = yield* Effect.scoped(
        Effect.flatMap(api.transcriptContentStream("me", meetingId(1), transcriptId(1)), (c) => collectBytes(c.stream))
      )
      expect(Buffer.from(streamed).toString("utf8")).toBe(vtt(1))
      const meta = yield* api.transcriptMetadataContent({ userId: ALICE }, meetingId(1), transcriptId(1))
      expect(meta).toBe(metadataVtt(1))
    })))

  it.live("looks meetings up by id and by join URL", () =>
    run(Effect.gen(function*() {
      const api = yield* GraphClient
      const m = yield* api.getMeeting({ userId: ALICE }, meetingId(4))
      expect(m.subject).toBe("Meeting 4")
      const byUrl = yield* api.getMeetingByJoinUrl({ userId: ALICE }, makeMeeting(4).joinWebUrl!)
      expect(byUrl.id).toBe(meetingId(4))
      const none = yield* Effect.flip(
        api.getMeetingByJoinUrl({ userId: ALICE }, "https://teams.microsoft.com/l/meetup-join/nope")
      )
      expect(none._tag).toBe("NotFound")
    })))

  it.live("delta yields items then a deltaLink; replaying it returns only new artifacts", () =>
    run(Effect.gen(function*() {
      const api = yield* GraphClient
      const first = Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllRecordingsDelta(WINDOW)))
      const items = first.filter((e) => e._tag === "Item")
      const links = first.filter((e) => e._tag === "DeltaLink")
      expect(items).toHaveLength(MEETINGS)
      expect(links).toHaveLength(1)
      expect(first[first.length - 1]!._tag).toBe("DeltaLink")
      const deltaLink = links[0]!._tag === "DeltaLink" ? links[0]!.deltaLink : ""

      emu.addRecording(meetingId(0), {
        id: "rec/new+1=",
        contentCorrelationId: "cc000000-0000-4000-8000-0000000000ff-0",
        createdDateTime: "2024-01-16T11:00:00.0000001Z",
        endDateTime: "2024-01-16T11:30:00.0000001Z",
        content: { bytes: 10, seed: 9 }
      })
      const second = Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllRecordingsDelta({ deltaLink })))
      const newItems = second.flatMap((e) => (e._tag === "Item" ? [e.item.id] : []))
      expect(newItems).toEqual(["rec/new+1="])
      expect(second[second.length - 1]!._tag).toBe("DeltaLink")

      const trs = Chunk.toReadonlyArray(yield* Stream.runCollect(api.getAllTranscriptsDelta(WINDOW)))
      expect(trs.filter((e) => e._tag === "Item")).toHaveLength(MEETINGS)
    })))

  it.live("works the same against the beta endpoint", () =>
    Effect.provide(
      Effect.gen(function*() {
        const api = yield* GraphClient
        expect(api.baseUrl).toBe(emu.betaBaseUrl)
        const m = yield* api.getMeeting({ userId: ALICE }, meetingId(1))
        expect(m.id).toBe(meetingId(1))
        expect(Chunk.size(yield* Stream.runCollect(api.getAllTranscripts(WINDOW)))).toBe(MEETINGS)
      }),
      clientLayer({ baseUrl: emu.betaBaseUrl, accessToken: emu.accessToken })
    ))

  it.live("another user's meetings are empty, not an error", () =>
    run(Effect.gen(function*() {
      const api = yield* GraphClient
      const recs = yield* Stream.runCollect(api.getAllRecordings({ ...WINDOW, organizerId: BOB }))
      expect(Chunk.size(recs)).toBe(0)
    })))

  it.live("metrics: requests by route template, content bytes", () =>
    run(Effect.gen(function*() {
      const api = yield* GraphClient
      const value = (name: string, route?: string) =>
        Effect.map(Metric.snapshot, (pairs) =>
          pairs
            .filter((p) =>
              p.metricKey.name === name &&
              (route === undefined || p.metricKey.tags.some((t) => t.key === "route" && t.value === route))
            )
            .reduce((n, p) => n + Number((p.metricState as unknown as { count: number }).count), 0))
      const route = "/users/{userId}/onlineMeetings/{meetingId}/recordings/{recordingId}/content"
      const before = yield* value("graph_requests_total", route)
      const bytesBefore = yield* value("graph_content_bytes_total")
      yield* Effect.scoped(Effect.flatMap(api.recordingContent({ userId: ALICE }, meetingId(0), recordingId(0)), (c) =>
        Stream.runDrain(c.stream)))
      expect((yield* value("graph_requests_total", route)) - before).toBe(1)
      expect((yield* value("graph_content_bytes_total")) - bytesBefore).toBe(RECORDING_BYTES(0))
      // route tags never carry ids
      const routes = (yield* Metric.snapshot).flatMap((p) =>
        p.metricKey.tags.filter((t) =>
          t.key === "route"
        ).map((t) => t.value)
      )
      expect(routes.some((r) => r.includes(ALICE) || r.includes(encodeURIComponent(meetingId(0))))).toBe(false)
    })))

  it.live("stats count one request per page", () =>
    run(Effect.gen(function*() {
      const api = yield* GraphClient
      const before = (yield* api.stats).requests
      yield* Stream.runDrain(api.getAllTranscripts(WINDOW))
      expect((yield* api.stats).requests - before).toBe(3)
    })))
})
