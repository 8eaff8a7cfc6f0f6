/**
 * Incremental sync: after artifacts are added to the running emulator, a
 * second `--incremental` run (resuming from the stored delta links) fetches
 * only those, re-pairs a transcript that arrived after its recording, and a
 * third run with nothing new fetches nothing.
 */
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  cleanEnv,
  addLaterMeetingArtifacts,
  expectedArtifacts,
  type MutableFixture,
  readManifest,
  runCli,
  syncArgs,
  tempDir,
  verifyOutput
} from "./helpers.js"

describe("sync --incremental", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({
      generate: {
        organizers: 2,
        meetingsPerOrganizer: 3,
        seed: 31,
        recordingBytes: [4096, 32 * 1024],
        cues: [2, 5],
        mix: { paired: 0.5, recordingOnly: 0.5 }
      },
      pageSize: 2
    })
  })
  afterAll(() => emu?.close())

  it("fetches only what was added since the previous run", async () => {
    const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    const out = path.join(tempDir(), "out")
    const args = [
      ...syncArgs(emu, out),
      "--incremental",
      "--json"
    ]
    const first = await runCli(args, { env })
    expect(first.code, first.stderr).toBe(0)
    expect(verifyOutput(out, expectedArtifacts(emu.fixture))).toEqual([])

    const fixture = structuredClone(emu.fixture) as MutableFixture
    const { lonelyRecording: rec, recording, transcript } = addLaterMeetingArtifacts(emu, fixture, {
      transcript: "added/transcript+1==",
      recording: "added/recording+2==",
      seed: 99
    })

    emu.resetCounters()
    const second = await runCli(args, { env })
    expect(second.code, second.stderr).toBe(0)
    expect(Object.keys(emu.counters().contentRequests).sort()).toEqual([recording.id, transcript.id].sort())
    expect(verifyOutput(out, expectedArtifacts(fixture))).toEqual([])
    // The late transcript joined its recording's line.
    const line = readManifest(out).find((l) => l.transcript?.id === transcript.id)
    expect(line?.recording?.id).toBe(rec.id)
    expect(line?.match).toBe("contentCorrelationId")
    const summary = JSON.parse(second.stdout)
    expect(summary.recordings.downloaded + summary.transcripts.downloaded).toBe(2)

    emu.resetCounters()
    const third = await runCli(args, { env })
    expect(third.code, third.stderr).toBe(0)
    expect(emu.counters().contentRequests).toEqual({})
    expect(verifyOutput(out, expectedArtifacts(fixture))).toEqual([])
  })
})
