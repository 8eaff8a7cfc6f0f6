/**
 * Ad hoc calls (1:1, group and PSTN calls, not online meetings): `sync --adhoc-calls` exports every
 * call of each organizer in the window next to the meetings, incrementally through the ad hoc delta
 * functions; `sync --adhoc-call <id>` exports listed calls. Their manifest lines carry the call id as
 * meetingId and `"source": "adhocCall"`; meeting lines stay as they were.
 */
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import { Manifest } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  addAdhocCallWithRecording,
  cleanEnv,
  collect,
  expectedArtifacts,
  expectRerunFetchesNothing,
  lateTranscriptOf,
  listFiles,
  type MutableFixture,
  readFailures,
  readManifest,
  runCli,
  spawnCli,
  syncArgs,
  tempDir,
  verifyOutput,
  WINDOW_ARGS
} from "./helpers.js"

/** Cues of a WebVTT text: its timing lines. */
const cuesOf = (vtt: string) => vtt.split("\n").filter((l) => l.includes("-->")).length

const rawLines = (out: string) => fs.readFileSync(path.join(out, "manifest.jsonl"), "utf8").split("\n").filter(Boolean)

const contentOf = (emu: RunningEmulator) => {
  const byRoute = emu.counters().byRoute
  return Object.fromEntries(Object.entries(byRoute).filter(([route]) => /^adhoc.*Content$/.test(route)))
}

describe("sync of ad hoc calls", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({
      generate: {
        organizers: 2,
        meetingsPerOrganizer: 2,
        adhocCallsPerOrganizer: 4,
        seed: 77,
        recordingBytes: [4096, 24 * 1024],
        cues: [2, 6],
        mix: { paired: 0.5, restarted: 0.2, recordingOnly: 0.3 }
      },
      pageSize: 2
    })
  })
  afterAll(() => emu?.close())

  it("--adhoc-calls exports every call with the meetings, then only what delta reports new", async () => {
    const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    const out = path.join(tempDir(), "out")
    const args = [...syncArgs(emu, out), "--adhoc-calls", "--incremental", "--json"]
    const calls = emu.fixture.adhocCalls ?? []
    expect(calls.length).toBe(8)

    const first = await runCli(args, { env })
    expect(first.code, first.stderr).toBe(0)
    expect(verifyOutput(out, expectedArtifacts(emu.fixture))).toEqual([])
    const lines = readManifest(out)
    const callLines = lines.filter((l) => l.source === "adhocCall")
    for (const call of calls) {
      const mine = callLines.filter((l) => l.meetingId === call.id)
      expect(mine.length, `lines of call ${call.id}`).toBeGreaterThan(0)
      for (const l of mine) expect(l.organizerId).toBe(call.userId)
      // Generated pairs share a contentCorrelationId: each recording with a transcript is joined to it.
      for (const r of call.recordings ?? []) {
        const t = (call.transcripts ?? []).find((x) => x.contentCorrelationId === r.contentCorrelationId)
        const line = mine.find((l) => l.recording?.id === r.id)
        expect(line?.transcript?.id ?? null).toBe(t?.id ?? null)
        if (t !== undefined) expect(line?.match).toBe("contentCorrelationId")
      }
      for (const t of call.transcripts ?? []) {
        const line = mine.find((l) => l.transcript?.id === t.id)
        expect(line?.transcript?.cues).toBe(cuesOf((t.content as { text: string }).text))
      }
    }
    // Meeting lines carry no source key at all; call lines carry it right after meetingId.
    for (const raw of rawLines(out)) {
      const line = JSON.parse(raw)
      if (calls.some((c) => c.id === line.meetingId)) {
        expect(Object.keys(line).slice(0, 3)).toEqual(["meetingId", "source", "organizerId"])
      } else expect(Object.keys(line)).not.toContain("source")
    }
    expect(lines.filter((l) => l.source === undefined).length).toBeGreaterThan(0)
    // Discovery went through the ad hoc delta functions, content through /adhocCalls/{id}/….
    expect(emu.counters().byRoute.getAllAdhocRecordingsDelta).toBeGreaterThan(0)
    expect(emu.counters().byRoute.getAllAdhocTranscriptsDelta).toBeGreaterThan(0)
    expect(Object.keys(contentOf(emu)).sort()).toEqual(["adhocRecordingContent", "adhocTranscriptContent"])

    // Later: a transcript for a call that so far had only a recording (same contentCorrelationId),
    // and a new call with a recording.
    const fixture = structuredClone(emu.fixture) as MutableFixture
    const lonely = fixture.adhocCalls.find((c: any) =>
      (c.recordings ?? []).length === 1 && (c.transcripts ?? []).length === 0
    )
    expect(lonely).toBeDefined()
    const rec = lonely.recordings[0]
    const transcript = lateTranscriptOf(rec, "late/adhoc+transcript==", "<v Chen Wei>Added later.</v>")
    emu.addAdhocTranscript(lonely.id, transcript)
    lonely.transcripts = [transcript]
    const newCall = addAdhocCallWithRecording(emu, fixture, {
      id: "3c0ffee0-0000-4000-8000-00000000ad0c",
      userId: fixture.users[1].id,
      recordingId: "new/adhoc+recording=="
    })

    emu.resetCounters()
    const second = await runCli(args, { env })
    expect(second.code, second.stderr).toBe(0)
    expect(Object.keys(emu.counters().contentRequests).sort()).toEqual(
      [transcript.id, newCall.recordings[0]!.id].sort()
    )
    // Incremental through the stored delta links: no full listing of the window.
    expect(emu.counters().byRoute.getAllAdhocRecordings ?? 0).toBe(0)
    expect(emu.counters().byRoute.getAllAdhocTranscripts ?? 0).toBe(0)
    expect(verifyOutput(out, expectedArtifacts(fixture))).toEqual([])
    // The late transcript joined the line of its call's recording exported by the first run.
    const joined = readManifest(out).find((l) => l.transcript?.id === transcript.id)
    expect(joined).toMatchObject({
      meetingId: lonely.id,
      source: "adhocCall",
      match: "contentCorrelationId",
      recording: { id: rec.id }
    })
    const summary = JSON.parse(second.stdout)
    expect(summary.recordings.downloaded + summary.transcripts.downloaded).toBe(2)

    await expectRerunFetchesNothing(emu, args, env, out, fixture)
  })

  it("--adhoc-call exports only the listed calls; a call nobody has is a failure", async () => {
    const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    const out = path.join(tempDir(), "out")
    // (calls the first test added nothing to)
    const [a, b] = (emu.fixture.adhocCalls ?? []).filter((c) =>
      (c.recordings ?? []).length > 0 && (c.transcripts ?? []).length > 0
    )
    const organizers = emu.fixture.users.flatMap((u) => ["--organizer", u.id])
    const r = await runCli([
      "sync",
      ...organizers,
      "--out",
      out,
      "--graph-url",
      emu.baseUrl,
      "--adhoc-call",
      a!.id,
      "--adhoc-call",
      b!.id,
      "--adhoc-call",
      "no-such-call"
    ], { env })
    expect(r.code, r.stderr).toBe(1)
    const only = { ...emu.fixture, meetings: [], adhocCalls: [a!, b!] }
    expect(verifyOutput(out, expectedArtifacts(only))).toEqual([])
    expect(readFailures(out)).toMatchObject([{ kind: "meeting", id: "no-such-call", source: "adhocCall" }])
  })

  it("a hostile call id stays inside --out", async () => {
    const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    const root = tempDir()
    const out = path.join(root, "out")
    const call = {
      id: "../../../escape/..\\..\\x:*?\n<end>",
      userId: emu.fixture.users[0]!.id,
      recordings: [{
        id: "../hostile/recording",
        createdDateTime: "2024-02-05T10:00:00.0000000Z",
        endDateTime: "2024-02-05T10:01:00.0000000Z",
        content: { bytes: 1234, seed: 9 }
      }]
    }
    emu.addAdhocCall(call)
    const r = await runCli([
      "sync",
      "--organizer",
      call.userId,
      ...WINDOW_ARGS,
      "--out",
      out,
      "--graph-url",
      emu.baseUrl,
      "--adhoc-call",
      call.id
    ], { env })
    expect(r.code, r.stderr).toBe(0)
    const only = { ...emu.fixture, meetings: [], adhocCalls: [call] }
    expect(verifyOutput(out, expectedArtifacts(only))).toEqual([])
    expect(readManifest(out)[0]).toMatchObject({ meetingId: call.id, source: "adhocCall" })
    // Nothing beside out in its parent.
    expect(listFiles(root).every((f) => f.startsWith("out/"))).toBe(true)
  })
})

describe("sync --adhoc-calls killed with SIGKILL and re-run", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({
      generate: {
        organizers: 1,
        meetingsPerOrganizer: 0,
        adhocCallsPerOrganizer: 8,
        seed: 5,
        recordingBytes: [64 * 1024, 128 * 1024],
        cues: [2, 4],
        mix: { paired: 1 }
      },
      faults: { latencyMs: { min: 5, max: 30 } }
    })
  })
  afterAll(() => emu?.close())

  it("finishes the export without fetching completed content again", async () => {
    const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    const out = path.join(tempDir(), "out")
    const args = [...syncArgs(emu, out), "--adhoc-calls", "--incremental", "--concurrency", "1"]
    const child = spawnCli(args, { env })
    const result = collect(child)
    // Kill once the first set is in the manifest (its first write creates manifest.jsonl), with most
    // downloads still to come (one at a time, each delayed by the emulator's latency).
    const manifestFile = path.join(out, "manifest.jsonl")
    const timer = setInterval(() => {
      if (fs.existsSync(manifestFile)) child.kill("SIGKILL")
    }, 2)
    const killed = await result
    clearInterval(timer)
    expect(killed.signal).toBe("SIGKILL")
    // What the killed run exported: manifest.jsonl plus the journal of upserts it had not folded in yet.
    const lines = await Effect.runPromise(Manifest.read(out))
    const before = lines.flatMap((l) => [l.recording?.id, l.transcript?.id]).filter(Boolean)
    expect(before.length).toBeGreaterThan(0)
    expect(before.length).toBeLessThan(16)

    const again = await runCli(args, { env })
    expect(again.code, again.stderr).toBe(0)
    expect(verifyOutput(out, expectedArtifacts(emu.fixture))).toEqual([])
    const counts = emu.counters().contentRequests
    for (const id of before) expect(counts[id!], `content of ${id} fetched again`).toBe(1)
  })
})
