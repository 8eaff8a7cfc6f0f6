/**
 * Incremental sync: after artifacts are added to the running emulator, a
 * second `--incremental` run (resuming from the stored delta links) fetches
 * only those, re-pairs a transcript that arrived after its recording, and a
 * third run with nothing new fetches nothing. Delta links are the output
 * folder's own: a run into another folder sharing the `--state` lists in full.
 */
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  cleanEnv,
  addLaterMeetingArtifacts,
  expectedArtifacts,
  expectRerunFetchesNothing,
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

    await expectRerunFetchesNothing(emu, args, env, out, fixture)
  })
})

describe("sync --incremental into two folders sharing one --state", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 3, seed: 37, recordingBytes: [2048, 8192], cues: [2, 3] },
      pageSize: 2
    })
  })
  afterAll(() => emu?.close())

  it("lists the second folder in full instead of resuming from the first folder's delta links", async () => {
    const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    const dir = tempDir()
    const state = path.join(dir, "shared-state.sqlite")
    const into = (out: string) => [...syncArgs(emu, out), "--incremental", "--state", state, "--json"]
    const expected = expectedArtifacts(emu.fixture)

    const a = await runCli(into(path.join(dir, "a")), { env })
    expect(a.code, a.stderr).toBe(0)
    expect(verifyOutput(path.join(dir, "a"), expected)).toEqual([])

    // Folder B has none of it yet: delta from A's links would report nothing new.
    const b = await runCli(into(path.join(dir, "b")), { env })
    expect(b.code, b.stderr).toBe(0)
    expect(verifyOutput(path.join(dir, "b"), expected)).toEqual([])
    expect(JSON.parse(b.stdout).sets).toBe(JSON.parse(a.stdout).sets)
  })
})
