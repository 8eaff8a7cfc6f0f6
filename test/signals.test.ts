/**
 * How the CLI ends on SIGINT/SIGTERM. A command that serves until stopped (emulator, view) is stopped by
 * the signal as designed: exit 0. A sync interrupted by a signal did not finish: exit 130, no manifest
 * line for the artifact it was downloading, and the next run completes the export. The emulator holds
 * the sync's content requests, so "mid-run" is a known point, not a race.
 */
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  cleanEnv,
  collect,
  ContentGate,
  expectedArtifacts,
  firstLine,
  readManifest,
  runCli,
  spawnCli,
  syncArgs,
  tempDir,
  verifyOutput
} from "./helpers.js"

describe("signals", () => {
  let emu: RunningEmulator
  const gate = new ContentGate()
  beforeAll(async () => {
    emu = await startEmulator({
      generate: {
        organizers: 1,
        meetingsPerOrganizer: 3,
        seed: 11,
        recordingBytes: [8 * 1024, 32 * 1024],
        cues: [2, 4]
      },
      onRequest: gate.onRequest
    })
  })
  afterAll(() => emu?.close())

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`the emulator command serving until stopped ends with 0 on ${signal}`, async () => {
      const child = spawnCli(["emulator", "--generate", "organizers=1,meetings=2,seed=3,bytes=1024", "--port", "0"])
      const done = collect(child)
      expect(await firstLine(child)).toMatch(/^GRAPH_BASE_URL=http:\/\/127\.0\.0\.1:\d+\//)
      child.kill(signal)
      const r = await done
      expect(r.signal, r.stderr).toBe(null)
      expect(r.code, r.stderr).toBe(0)
    })
  }

  it("a sync interrupted mid-download ends with 130 and leaves nothing half-listed; the next run finishes", async () => {
    const out = path.join(tempDir(), "out")
    const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    gate.close()
    const child = spawnCli(syncArgs(emu, out), { env })
    const done = collect(child)
    await Promise.race([gate.reached, done.then((r) => Promise.reject(new Error(`sync ended early: ${r.stderr}`)))])
    child.kill("SIGINT")
    const r = await done
    gate.release()
    expect(r.code, r.stderr).toBe(130)
    // The held download was not finished: its artifact is in no manifest line yet.
    const expected = expectedArtifacts(emu.fixture)
    const manifest = path.join(out, "manifest.jsonl")
    const listed = fs.existsSync(manifest)
      ? readManifest(out).flatMap((l) => [l.recording, l.transcript].filter((a) => a !== null))
      : []
    expect(listed.length).toBeLessThan(expected.size)

    const again = await runCli(syncArgs(emu, out), { env })
    expect(again.code, again.stderr).toBe(0)
    expect(verifyOutput(out, expected)).toEqual([])
  })
})
