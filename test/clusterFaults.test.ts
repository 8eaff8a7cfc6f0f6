/**
 * Cluster mode through faults, with real processes (Postgres, the emulator, two `runner` processes and
 * `sync --cluster`), the runners shared by the cases:
 * - the cluster's Postgres restarted while downloads are in flight, down while they finish: the steps
 *   whose writes meet no database are retried (not recorded as failed items), the runners and the waiting
 *   `sync --cluster` reconnect, and the run finishes with a single-process sync's output and sink rows;
 *   meanwhile `sync --cluster` prints the run's progress, and its summary the steps' Graph requests;
 * - `sync --cluster` on a cluster no runner has joined says so on stderr, and waits.
 */
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import type { ChildProcess } from "node:child_process"
import * as Effect from "effect/Effect"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshPgDatabase } from "../packages/sinks/test/support/db.js"
import { type RunningPostgres, startPostgres } from "../packages/sinks/test/support/servers.js"
import { fileHashes, runnerStderr, sinkRows, sortedLines, startRunners, stopRunner } from "./clusterHelpers.js"
import {
  cleanEnv,
  collect,
  ContentGate,
  expectedArtifacts,
  runCli,
  spawnCli,
  syncArgs,
  tempDir,
  verifyOutput,
  waitFor
} from "./helpers.js"

describe("sync --cluster through faults", () => {
  const gate = new ContentGate()
  let emu: RunningEmulator
  let pg: RunningPostgres
  let runners: ReadonlyArray<ChildProcess> = []
  /** The cases' `sync --cluster` children: one a timed-out case leaves behind is killed, not left running. */
  const syncs: Array<ChildProcess> = []
  const spawnSync = (...args: Parameters<typeof spawnCli>) => {
    const child = spawnCli(...args)
    syncs.push(child)
    return child
  }
  let env: NodeJS.ProcessEnv
  beforeAll(async () => {
    emu = await startEmulator({
      generate: {
        organizers: 2,
        meetingsPerOrganizer: 4,
        seed: 23,
        recordingBytes: [16 * 1024, 64 * 1024],
        cues: [2, 6]
      },
      onRequest: gate.onRequest
    })
    pg = await startPostgres()
    env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    runners = await startRunners(2, pg.url, env)
  }, 120_000)
  afterAll(async () => {
    for (const child of syncs) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    gate.release()
    const codes = await Promise.all(runners.map(stopRunner))
    await emu?.close()
    await pg?.stop()
    // SIGTERM is how a runner is meant to stop: exit 0, whatever the cases put them through.
    expect(codes).toEqual(runners.map(() => 0))
  }, 120_000)

  it(
    "a Postgres restart while downloads are in flight: runners and sync reconnect, nothing lost or duplicated",
    async () => {
      const expected = expectedArtifacts(emu.fixture)
      const [referenceSink, clusterSink] = await Promise.all(
        [1, 2].map(() => Effect.runPromise(freshPgDatabase(pg.url)))
      )
      const reference = path.join(tempDir(), "out")
      const single = await runCli([...syncArgs(emu, reference), "--sink", `postgres:${referenceSink}`], { env })
      expect(single.code, single.stderr).toBe(0)

      emu.resetCounters()
      const out = path.join(tempDir(), "out")
      gate.close()
      const child = spawnSync([...syncArgs(emu, out), "--sink", `postgres:${clusterSink}`, "--cluster", pg.url], {
        env
      })
      const result = collect(child)
      await Promise.race([gate.reached, result.then((r) => Promise.reject(new Error(`sync ended early: ${r.stderr}`)))])
      // Down while the held downloads finish: their checkpoint and sink writes meet no database, and their
      // steps are retried (a runner says so) until it is back.
      await pg.restart(async () => {
        gate.release()
        await waitFor(
          "a runner retrying a step",
          () => runners.some((c) => runnerStderr(c).includes("step failed; retrying it")) ? true : undefined
        )
      })
      const r = await result
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/, 0 failed\n.*, 0 failed\n/)
      const sets = sortedLines(reference).length
      expect(r.stderr).toContain(`progress: ${sets}/${sets} set(s) exported`)
      // The steps' requests (each step counts its own, its last attempt's), not 0.
      expect(Number(/; (\d+) requests,/.exec(r.stdout)?.[1])).toBeGreaterThan(0)
      expect(verifyOutput(out, expected)).toEqual([])
      expect(sortedLines(out)).toEqual(sortedLines(reference))
      expect(fileHashes(out)).toEqual(fileHashes(reference))
      expect(await sinkRows(clusterSink!)).toEqual(await sinkRows(referenceSink!))
      expect(Object.keys(emu.counters().contentRequests)).toHaveLength(expected.size)
    },
    240_000
  )

  it("on a cluster no runner has joined, sync --cluster says so on stderr and waits", async () => {
    const empty = await Effect.runPromise(freshPgDatabase(pg.url))
    const child = spawnSync([...syncArgs(emu, path.join(tempDir(), "out")), "--cluster", empty], { env })
    let stderr = ""
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()))
    const result = collect(child)
    await waitFor("the hint", () => (stderr.includes("no runner has joined the cluster yet") ? true : undefined))
    expect(stderr).toContain(`meeting-artifacts runner --cluster ${empty}`)
    expect(child.exitCode).toBe(null)
    child.kill("SIGTERM")
    await result
  }, 120_000)
})
