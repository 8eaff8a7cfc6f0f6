/**
 * Ad hoc calls in `sync`: which call an artifact belongs to, and dead letters fetched again under
 * `/adhocCalls/{id}` (not `/onlineMeetings/{id}`).
 */
import { type FixtureAdhocCall, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { readManifest, runSync, tempOut, WINDOW } from "./support.js"

const USER = "1273a016-0000-4000-8000-00000000a11c"
/** An emulator whose tenant has one user and these ad hoc calls of theirs. */
const emulatorWith = (adhocCalls: ReadonlyArray<Omit<FixtureAdhocCall, "userId">>) =>
  startEmulator({
    fixture: {
      tenantId: "2432b57b-0abd-43db-aa7b-16eadd115d34",
      users: [{ id: USER, displayName: "Ana" }],
      meetings: [],
      adhocCalls: adhocCalls.map((c) => ({ ...c, userId: USER }))
    }
  })

const vtt = "WEBVTT\n\nx/1-0\n00:00:01.000 --> 00:00:02.000\n<v Ana>Hello.</v>\n"

describe("sync of ad hoc calls", () => {
  it("files an artifact without a callId under the call its content URL names", async () => {
    const emu = await emulatorWith([{
      id: "call-A",
      recordings: [{
        id: "rec-1",
        // older payloads carry no callId
        callId: null,
        contentCorrelationId: "cc-1",
        createdDateTime: "2024-02-01T10:00:00.0000000Z",
        endDateTime: "2024-02-01T10:10:00.0000000Z",
        content: { bytes: 2048, seed: 3 }
      }],
      transcripts: [{
        id: "tr-1",
        contentCorrelationId: "cc-1",
        createdDateTime: "2024-02-01T10:00:05.0000000Z",
        endDateTime: "2024-02-01T10:10:00.0000000Z",
        content: { text: vtt }
      }]
    }])
    try {
      // listed by id, and every call of the window
      for (const options of [{ adhocCallIds: ["call-A"] }, { ...WINDOW, adhocCalls: true }]) {
        emu.resetCounters()
        const out = tempOut()
        const { summary } = await runSync(emu.baseUrl, emu.accessToken, { organizers: [USER], out, ...options })
        expect(summary.failures).toBe(0)
        expect(readManifest(out)).toMatchObject([{
          meetingId: "call-A",
          source: "adhocCall",
          match: "contentCorrelationId",
          recording: { id: "rec-1", bytes: 2048 },
          transcript: { id: "tr-1", cues: 1 }
        }])
        expect(emu.counters().byRoute).toMatchObject({ adhocRecordingContent: 1, adhocTranscriptContent: 1 })
      }
    } finally {
      await emu.close()
    }
  })

  it("retries a dead-lettered ad hoc artifact under its call on the next incremental run", async () => {
    const emu = await emulatorWith([{
      id: "call-B",
      recordings: [{
        id: "rec-late",
        createdDateTime: "2024-02-02T10:00:00.0000000Z",
        endDateTime: "2024-02-02T10:05:00.0000000Z",
        content: { bytes: 1024, seed: 4 },
        // Graph still processes it: the first content request is a 404
        notReady: { requests: 1 }
      }]
    }])
    try {
      const out = tempOut()
      const options = { organizers: [USER], ...WINDOW, out, adhocCalls: true, incremental: true }
      const first = await runSync(emu.baseUrl, emu.accessToken, options)
      expect(first.summary.failures).toBe(1)
      const failures = fs.readFileSync(path.join(out, "failures.jsonl"), "utf8")
      expect(JSON.parse(failures)).toMatchObject({
        kind: "recording",
        id: "rec-late",
        meetingId: "call-B",
        source: "adhocCall"
      })

      emu.resetCounters()
      const second = await runSync(emu.baseUrl, emu.accessToken, options)
      expect(second.summary.failures).toBe(0)
      expect(second.summary.recordings.downloaded).toBe(1)
      // fetched again by id under the call, never under onlineMeetings
      expect(emu.counters().byRoute).toMatchObject({ adhocRecording: 1, adhocRecordingContent: 1 })
      expect(emu.counters().byRoute.recording ?? 0).toBe(0)
      expect(fs.existsSync(path.join(out, "failures.jsonl"))).toBe(false)
      expect(readManifest(out)).toMatchObject([{
        meetingId: "call-B",
        source: "adhocCall",
        recording: { id: "rec-late" }
      }])
    } finally {
      await emu.close()
    }
  })
})
