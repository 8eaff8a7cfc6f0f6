/**
 * `--dry-run`: what would be fetched and what it would cost, with no content
 * request and nothing written (not even the state file).
 */
import { startEmulator } from "@meeting-artifacts/graph-emulator"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { cleanEnv, runCli, tempDir, syncArgs } from "./helpers.js"

const minutes = (a: { createdDateTime: string; endDateTime?: string | null | undefined }) =>
  a.endDateTime ? Math.floor((Date.parse(a.endDateTime) - Date.parse(a.createdDateTime)) / 60_000) : 0

describe("sync --dry-run", () => {
  it("prices the window without downloading or writing anything", async () => {
    const emu = await startEmulator({
      generate: { organizers: 2, meetingsPerOrganizer: 2, seed: 17, recordingBytes: 4096, cues: [2, 3] }
    })
    try {
      const root = tempDir()
      const out = path.join(root, "out")
      const r = await runCli(
        [
          ...syncArgs(emu, out),
          "--dry-run",
          "--json"
        ],
        { env: cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken }), cwd: root }
      )
      expect(r.code, r.stderr).toBe(0)
      const summary = JSON.parse(r.stdout)
      const recs = emu.fixture.meetings.flatMap((m) => m.recordings ?? [])
      const trs = emu.fixture.meetings.flatMap((m) => m.transcripts ?? [])
      expect(summary).toMatchObject({ dryRun: true, failures: 0 })
      expect(summary.recordings.downloaded).toBe(recs.length)
      expect(summary.transcripts.downloaded).toBe(trs.length)
      const rm = recs.reduce((n, a) => n + minutes(a), 0)
      const tm = trs.reduce((n, a) => n + minutes(a), 0)
      expect(summary.recordingMinutes).toBe(rm)
      expect(summary.transcriptMinutes).toBe(tm)
      expect(summary.cost.total).toBeCloseTo(rm * 0.003 + tm * 0.0022, 6)
      expect(emu.counters().contentRequests).toEqual({})
      expect(fs.readdirSync(root)).toEqual([])
    } finally {
      await emu.close()
    }
  })
})
