/**
 * One listed item that does not decode (the emulator serves a fixture recording whose
 * createdDateTime is a number, another whose id is not a string): by default it fails its
 * page; inside `handleInvalidItems` it goes to the handler and the listing goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { GraphClient, handleInvalidItems, type InvalidItem } from "../src/index.js"
import { clientLayer, makeMeeting, MEETINGS, meetingId, recordingId, tenant, WINDOW } from "./helpers.js"

let emu: RunningEmulator

beforeAll(async () => {
  const fixture = tenant()
  // Meeting 1's recording: a number where Graph sends a timestamp; meeting 3's: an id that is not a string.
  const bad = (i: number, extra: Record<string, unknown>) => {
    const m = makeMeeting(i)
    return { ...m, recordings: [{ ...m.recordings![0]!, extra }] }
  }
  const meetings = fixture.meetings!.map((m, i) =>
    i === 1 ? bad(1, { createdDateTime: 1705395601 }) : i === 3 ? bad(3, { id: 42 }) : m
  )
  emu = await startEmulator({ fixture: { ...fixture, meetings }, pageSize: 2 })
})
afterAll(() => emu?.close())

const run = <A, E>(effect: Effect.Effect<A, E, GraphClient>) => Effect.provide(effect, clientLayer(emu))

describe("listed items that do not decode", () => {
  it.live("fail their page by default, naming the item and the field", () =>
    run(Effect.gen(function*() {
      const api = yield* GraphClient
      const error = yield* Effect.flip(Stream.runCollect(api.getAllRecordings(WINDOW)))
      expect(error._tag).toBe("DecodeError")
      if (error._tag !== "DecodeError") return
      expect(error.payload).toBe("CallRecording page")
      expect(error.field).toBe("value[1].createdDateTime")
      expect(error.message).toContain("value[1].createdDateTime")
    })))

  it.live("inside handleInvalidItems go to the handler, and every other item of every page is listed", () =>
    run(Effect.gen(function*() {
      const api = yield* GraphClient
      const invalid: Array<InvalidItem> = []
      const listed = yield* Stream.runCollect(api.getAllRecordings(WINDOW)).pipe(
        Effect.map(Chunk.toReadonlyArray),
        handleInvalidItems((item) => Effect.sync(() => void invalid.push(item)))
      )
      expect(listed.map((r) => r.id).sort()).toEqual([0, 2, 4].map(recordingId).sort())
      expect(invalid.map((i) => [i.id, i.index, i.error.field, i.payload])).toEqual([
        [recordingId(1), 1, "value[1].createdDateTime", "CallRecording page"],
        [null, 1, "value[1].id", "CallRecording page"]
      ])
      expect(invalid.every((i) => i.route.includes("getAllRecordings") && i.resource === "CallRecording")).toBe(true)
      // with id and meetingId, a caller can fetch the item again by id later
      expect(invalid.map((i) => i.meetingId)).toEqual([meetingId(1), meetingId(3)])
      expect(invalid[0]!.error.requestId).not.toBeNull()
      // the handler stays scoped to the wrapped effect: outside it, the page fails again
      expect((yield* Effect.flip(Stream.runCollect(api.getAllRecordings(WINDOW))))._tag).toBe("DecodeError")
      // a listing with nothing wrong is unchanged inside the handler
      const transcripts = yield* Stream.runCollect(api.getAllTranscripts(WINDOW)).pipe(
        handleInvalidItems(() => Effect.die("no transcript is malformed"))
      )
      expect(transcripts.length).toBe(MEETINGS)
    })))
})
