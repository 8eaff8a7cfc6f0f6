/**
 * One sync at a time: a second `sync` on the same `--out` (or the same
 * `--state`) while one runs exits 2 with one line naming the holder and
 * writes nothing; `verify` during a sync says a sync is running; a holder
 * killed with SIGKILL does not block the next run. Real CLI processes; the
 * emulator holds the first run's first content request until the test lets
 * it go, so "while one runs" is a known point, not a race.
 */
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  cleanEnv,
  collect,
  ContentGate,
  expectedArtifacts,
  runCli,
  spawnCli,
  syncArgs,
  tempDir,
  verifyOutput
} from "./helpers.js"

const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "")

describe("two syncs at once", () => {
  let emu: RunningEmulator
  const gate = new ContentGate()
  beforeAll(async () => {
    emu = await startEmulator({
      generate: {
        organizers: 1,
        meetingsPerOrganizer: 3,
        seed: 5,
        recordingBytes: [16 * 1024, 64 * 1024],
        cues: [2, 4]
      },
      onRequest: gate.onRequest
    })
  })
  afterAll(() => emu?.close())

  const args = (out: string, extra: Array<string> = []) => [
    ...syncArgs(emu, out),
    ...extra
  ]
  const env = () => cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })

  /** Starts a sync and waits until it is downloading (so it holds its locks). */
  const startHeld = async (cliArgs: Array<string>) => {
    gate.close()
    const child = spawnCli(cliArgs, { env: env() })
    const done = collect(child)
    await Promise.race([
      gate.reached,
      done.then((r) => Promise.reject(new Error(`first sync ended early: ${r.stderr}`)))
    ])
    return { child, done }
  }

  it("same --out: the second exits 2 naming the holder, writes nothing; verify says a sync is running; the first ends intact", async () => {
    const out = path.join(tempDir(), "out")
    const first = await startHeld(args(out))
    const filesBefore = fs.readdirSync(path.join(out, ".meeting-artifacts")).sort()

    const second = await runCli(args(out), { env: env() })
    expect(second.code, second.stderr).toBe(2)
    expect(second.stdout).toBe("")
    expect(lines(second.stderr)).toHaveLength(1)
    expect(second.stderr).toContain(
      `another sync holds --out ${out} (pid ${first.child.pid} on host ${os.hostname()}, started 20`
    )
    expect(fs.readdirSync(path.join(out, ".meeting-artifacts")).sort()).toEqual(filesBefore)

    const verify = await runCli(["verify", "--out", out], { env: env() })
    expect(verify.code, verify.stdout + verify.stderr).toBe(2)
    expect(verify.stdout).toBe("")
    expect(verify.stderr).toContain(`a sync is running on ${out} (pid ${first.child.pid}`)

    emu.resetCounters()
    gate.release()
    const r = await first.done
    expect(r.code, r.stderr).toBe(0)
    expect(verifyOutput(out, expectedArtifacts(emu.fixture)).filter((p) => !/sync\.lock/.test(p))).toEqual([])
    expect(fs.existsSync(path.join(out, ".meeting-artifacts", "sync.lock"))).toBe(false)
    // the process ended after its store was closed: SQLite removes the WAL and shared-memory files then
    for (const f of ["state.sqlite-wal", "state.sqlite-shm"]) {
      expect(fs.existsSync(path.join(out, ".meeting-artifacts", f)), f).toBe(false)
    }
    // every content body was served once: the second run fetched nothing
    for (const [id, n] of Object.entries(emu.counters().contentRequests)) expect(n, id).toBe(1)
    const after = await runCli(["verify", "--out", out], { env: env() })
    expect(after.code, after.stderr).toBe(0)
  })

  it("same --state, different --out: the second exits 2 naming the checkpoint store", async () => {
    const root = tempDir()
    const state = path.join(root, "shared-state.sqlite")
    const first = await startHeld(args(path.join(root, "a"), ["--state", state]))
    const second = await runCli(args(path.join(root, "b"), ["--state", state]), { env: env() })
    expect(second.code, second.stderr).toBe(2)
    expect(second.stdout).toBe("")
    expect(lines(second.stderr)).toHaveLength(1)
    expect(second.stderr).toContain(
      `another sync holds the checkpoint store (--state) (pid ${first.child.pid} on host ${os.hostname()}`
    )
    expect(fs.existsSync(path.join(root, "b", "manifest.jsonl"))).toBe(false)
    gate.release()
    expect((await first.done).code).toBe(0)
  })

  it("a holder killed with SIGKILL does not block the next run, which ends intact", async () => {
    const out = path.join(tempDir(), "out")
    const first = await startHeld(args(out))
    expect(fs.existsSync(path.join(out, ".meeting-artifacts", "sync.lock"))).toBe(true)
    first.child.kill("SIGKILL")
    expect((await first.done).signal).toBe("SIGKILL")
    gate.release()
    const r = await runCli(args(out), { env: env() })
    expect(r.code, r.stderr).toBe(0)
    expect(verifyOutput(out, expectedArtifacts(emu.fixture))).toEqual([])
  })
})
