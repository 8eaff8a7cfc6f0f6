/**
 * `--dry-run`: what would be fetched and what it would cost, with no content
 * request and nothing written (not even the state file): a folder exported
 * before is left byte for byte as it was, its store too when its schema is
 * older than this release's (it is read as the upgrade would leave it).
 */
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, fetched, runCli, syncArgs, tempDir } from "./helpers.js"
import { asBeforeExportScopes } from "./stateFile.js"

const minutes = (a: { createdDateTime: string; endDateTime?: string | null | undefined }) =>
  a.endDateTime ? Math.floor((Date.parse(a.endDateTime) - Date.parse(a.createdDateTime)) / 60_000) : 0

/** Every entry under `dir` (folders too) with its size, mtime and, for files, sha256: any write changes it. */
const snapshot = (dir: string): Array<string> => {
  const entries: Array<string> = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      const st = fs.statSync(p)
      const hash = e.isDirectory() ? "dir" : createHash("sha256").update(fs.readFileSync(p)).digest("hex")
      entries.push(`${path.relative(dir, p)} ${st.size} ${st.mtimeMs} ${hash}`)
      if (e.isDirectory()) walk(p)
    }
  }
  entries.push(`. ${fs.statSync(dir).mtimeMs}`)
  walk(dir)
  return entries.sort()
}

describe("sync --dry-run", () => {
  let emu: RunningEmulator
  beforeAll(async () => {
    emu = await startEmulator({
      generate: { organizers: 2, meetingsPerOrganizer: 2, seed: 17, recordingBytes: 4096, cues: [2, 3] }
    })
  })
  afterAll(() => emu?.close())
  const env = () => cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
  const artifacts = () => emu.fixture.meetings.flatMap((m) => [...(m.recordings ?? []), ...(m.transcripts ?? [])])

  it("prices the window without downloading or writing anything", async () => {
    const root = tempDir()
    const out = path.join(root, "out")
    emu.resetCounters()
    // (a record sink named too: no file for it either)
    const records = path.join(root, "records.sqlite")
    const r = await runCli([...syncArgs(emu, out), "--sink", `sqlite:${records}`, "--dry-run", "--json"], {
      env: env(),
      cwd: root
    })
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
  })

  /** A dry run into `out` (exported before) that changes nothing there, and what it planned. */
  const dryRunLeavesAlone = async (out: string) => {
    const before = snapshot(out)
    emu.resetCounters()
    const r = await runCli([...syncArgs(emu, out), "--dry-run", "--json"], { env: env() })
    expect(r.code, r.stderr).toBe(0)
    expect(emu.counters().contentRequests).toEqual({})
    expect(snapshot(out)).toEqual(before)
    return fetched(r)
  }

  it("leaves a folder exported before exactly as it was, and plans nothing for it", async () => {
    const out = path.join(tempDir(), "out")
    const first = await runCli(syncArgs(emu, out), { env: env() })
    expect(first.code, first.stderr).toBe(0)
    expect(await dryRunLeavesAlone(out)).toEqual({ downloaded: 0, skipped: artifacts().length })
  })

  it("reads a store from before export scopes as the upgrade would, without upgrading it", async () => {
    const out = path.join(tempDir(), "out")
    const first = await runCli(syncArgs(emu, out), { env: env() })
    expect(first.code, first.stderr).toBe(0)
    await asBeforeExportScopes(path.join(out, ".meeting-artifacts", "state.sqlite"))
    // The old rows count as this folder's (its files are there): nothing to fetch.
    expect(await dryRunLeavesAlone(out)).toEqual({ downloaded: 0, skipped: artifacts().length })
  })
})
