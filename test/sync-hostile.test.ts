/**
 * The main promise: against the emulator's `hostile` profile (429s of every
 * kind, 5xx, connection resets mid-body, redirects to a second origin that
 * rejects Authorization, empty pages with nextLink, a malformed JSON page,
 * latency) one sync exports every artifact exactly once, byte-exact and
 * correctly paired, and exits 0.
 */
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, expectedArtifacts, syncArgs, readManifest, runCli, tempDir, verifyOutput } from "./helpers.js"

describe("sync against the hostile profile", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({
      generate: {
        organizers: 2,
        meetingsPerOrganizer: 4,
        seed: 11,
        recordingBytes: [8 * 1024, 96 * 1024],
        cues: [3, 8]
      },
      faults: "hostile",
      pageSize: 2
    })
  })
  afterAll(() => emu?.close())

  it("exports every artifact exactly once, byte-exact, correctly paired, exit 0", async () => {
    const out = path.join(tempDir(), "out")
    const result = await runCli(
      [
        ...syncArgs(emu, out),
        "--json"
      ],
      { env: cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken }) }
    )
    expect(result.stderr).not.toContain(emu.accessToken)
    expect(result.stdout).not.toContain(emu.accessToken)
    expect(result.code, result.stderr).toBe(0)
    const expected = expectedArtifacts(emu.fixture)
    expect(expected.size).toBeGreaterThan(8)
    expect(verifyOutput(out, expected)).toEqual([])
    const summary = JSON.parse(result.stdout)
    expect(summary.failures).toBe(0)
    expect(summary.recordings.downloaded + summary.transcripts.downloaded).toBe(expected.size)
    // The profile really was hostile: faults were injected and retried through.
    const counters = emu.counters()
    expect(Object.values(counters.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    expect(counters.secondOrigin.withCredentials).toBe(0)
    // Exactly one completed body per artifact: nothing downloaded twice.
    for (const a of expected.values()) expect(counters.contentRequests[a.id] ?? 0, a.id).toBe(1)
    // Sets sharing a contentCorrelationId are paired by it.
    const paired = readManifest(out).filter((l) => l.recording !== null && l.transcript !== null)
    expect(paired.length).toBeGreaterThan(0)
  })
})
