/**
 * A sync SIGKILLed in the middle of a recording body, then run again: the second run asks Graph only
 * for the bytes after what the first one wrote (`Range: bytes=<part size>-`), so the metered recording is
 * not paid for twice, and the exported file is still byte-exact. The emulator paces content
 * (`contentBytesPerSecond`) so the kill lands inside the body, and counts the bytes it served per
 * artifact and the Range headers it received. A server that ignores Range (200) makes the re-run start
 * over from byte 0, still byte-exact.
 */
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  cleanEnv,
  collect,
  expectedArtifacts,
  type ExpectedArtifact,
  syncArgs,
  readManifest,
  runCli,
  spawnCli,
  tempDir,
  verifyOutput
} from "./helpers.js"

const SIZE = 8 * 1024 * 1024
// ~4 s per body: room to kill inside it, and slow enough that a loaded client keeps up, so what sits in
// socket buffers at the kill (served, never written, fetched again) stays well under the 0.5x margin.
const PACE = 2 * 1024 * 1024

describe("sync killed in the middle of a recording body and re-run", () => {
  let emu: RunningEmulator
  let rec: ExpectedArtifact
  beforeAll(async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 1, seed: 31, mix: { recordingOnly: 1 }, recordingBytes: SIZE }
    })
    rec = [...expectedArtifacts(emu.fixture).values()].find((a) => a.kind === "recording")!
  })
  afterAll(() => emu?.close())

  const args = (out: string) => [
    ...syncArgs(emu, out)
  ]

  /** Runs the CLI and SIGKILLs it once the emulator has served `at` bytes of the recording. */
  const killAfter = async (out: string, at: number) => {
    const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    const child = spawnCli(args(out), { env })
    const result = collect(child)
    const staging = path.join(out, ".meeting-artifacts", "staging")
    // Served bytes can sit in socket buffers while a loaded machine has not run the client yet: the
    // kill waits until the part on disk holds some of them too.
    const partBytes = () => {
      try {
        const part = fs.readdirSync(staging).find((n) => n.endsWith(".part"))
        return part === undefined ? 0 : fs.statSync(path.join(staging, part)).size
      } catch {
        return 0
      }
    }
    const timer = setInterval(() => {
      if ((emu.counters().contentBytesById[rec.id] ?? 0) >= at && partBytes() > 0) child.kill("SIGKILL")
    }, 2)
    const r = await result
    clearInterval(timer)
    expect(r.signal, r.stderr).toBe("SIGKILL")
    const part = fs.readdirSync(staging).find((n) => n.endsWith(".part"))
    expect(part, "the killed run left a .part").toBeDefined()
    return fs.statSync(path.join(staging, part!)).size
  }

  it("resumes with Range: byte-exact output, and less than 1.5x the recording served over both runs", async () => {
    emu.setFaults({ contentBytesPerSecond: PACE })
    emu.resetCounters()
    const out = path.join(tempDir(), "out")
    const partBytes = await killAfter(out, 3 * 1024 * 1024)
    const servedBeforeKill = emu.counters().contentBytesById[rec.id]!
    expect(partBytes).toBeGreaterThan(0)
    expect(partBytes).toBeLessThan(SIZE)

    emu.setFaults({})
    const r = await runCli(args(out), { env: cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken }) })
    expect(r.code, r.stderr).toBe(0)
    expect(verifyOutput(out, new Map([[`recording:${rec.id}`, rec]]))).toEqual([])
    const line = readManifest(out).find((l) => l.recording?.id === rec.id)!
    expect(line.recording!.bytes).toBe(SIZE)
    expect(line.recording!.sha256).toBe(rec.sha256)

    const c = emu.counters()
    // The first request had no Range; the second asked for exactly what the .part did not hold.
    expect(c.contentRanges[rec.id]).toEqual([`bytes=${partBytes}-`])
    const served = c.contentBytesById[rec.id]!
    expect(served - servedBeforeKill).toBe(SIZE - partBytes)
    expect(served).toBeLessThan(1.5 * SIZE)
    console.info(
      `recording ${SIZE} B: killed after ${servedBeforeKill} B served (${partBytes} B on disk), re-run served ${
        served - servedBeforeKill
      } B; ` +
        `total ${served} B = ${(served / SIZE).toFixed(3)}x`
    )
  }, 120_000)

  it("a server that ignores Range (200): the re-run starts over from byte 0 and ends byte-exact", async () => {
    emu.setFaults({ contentBytesPerSecond: PACE })
    emu.resetCounters()
    const out = path.join(tempDir(), "out")
    const partBytes = await killAfter(out, 2 * 1024 * 1024)
    const servedBeforeKill = emu.counters().contentBytesById[rec.id]!

    emu.setFaults({ ignoreRange: true })
    const r = await runCli(args(out), { env: cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken }) })
    expect(r.code, r.stderr).toBe(0)
    expect(verifyOutput(out, new Map([[`recording:${rec.id}`, rec]]))).toEqual([])
    const c = emu.counters()
    expect(c.contentRanges[rec.id]).toEqual([`bytes=${partBytes}-`])
    expect(c.byStatus["206"]).toBeUndefined()
    expect(c.contentBytesById[rec.id]! - servedBeforeKill).toBe(SIZE)
  }, 120_000)
})
