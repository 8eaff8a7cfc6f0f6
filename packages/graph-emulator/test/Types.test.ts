/**
 * Served payloads fit @microsoft/microsoft-graph-types: statically (the payload types are assignable
 * to CallRecording / CallTranscript) and at runtime (served JSON has only those types' keys).
 */
import type { CallRecording, CallTranscript } from "@microsoft/microsoft-graph-types"
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest"
import {
  type CallRecordingPayload,
  callRecordingKeys,
  type CallTranscriptPayload,
  callTranscriptKeys,
  type RunningEmulator,
  startEmulator
} from "../src/index.js"
import { getJson } from "./helpers.js"

describe("payload types", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({ generate: { organizers: 1, meetingsPerOrganizer: 8, seed: 2 } })
  })
  afterAll(() => emu.close())

  it("CallRecordingPayload / CallTranscriptPayload are assignable to the graph-types interfaces", () => {
    expectTypeOf<CallRecordingPayload>().toMatchTypeOf<CallRecording>()
    expectTypeOf<CallTranscriptPayload>().toMatchTypeOf<CallTranscript>()
    // and the key lists used below cover only properties graph-types knows
    expectTypeOf<(typeof callRecordingKeys)[number]>().toMatchTypeOf<keyof CallRecording>()
    expectTypeOf<(typeof callTranscriptKeys)[number]>().toMatchTypeOf<keyof CallTranscript>()
  })

  it("served JSON carries only CallRecording / CallTranscript properties, with the right value types", async () => {
    const org = emu.fixture.users[0]!.id
    for (const kind of ["Recordings", "Transcripts"] as const) {
      const { body } = await getJson(
        emu,
        `/users/${org}/onlineMeetings/getAll${kind}(meetingOrganizerUserId='${org}')?$top=100`
      )
      const keys: ReadonlyArray<string> = kind === "Recordings" ? callRecordingKeys : callTranscriptKeys
      expect(body.value.length).toBeGreaterThan(0)
      for (const item of body.value as Array<Record<string, unknown>>) {
        for (const k of Object.keys(item)) expect(keys).toContain(k)
        const typed: CallRecording & CallTranscript = item
        expect(typeof typed.id).toBe("string")
        expect(typeof typed.createdDateTime).toBe("string")
        expect(typed.meetingOrganizer?.user?.id).toBe(org)
      }
    }
  })
})
