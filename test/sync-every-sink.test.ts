/**
 * The real CLI with every record sink at once (SQLite, Postgres, Parquet,
 * Azure Blob on Azurite; merge and append) and the checkpoint store on
 * Postgres, against the emulator's `hostile` profile: after each of two runs
 * over the same window every sink holds exactly the manifest's sets, with
 * their artifact ids and cue counts (append sinks: once per run). The tenant
 * has paired, time-overlap, restarted, recording-only and transcript-only
 * meetings on two days, so unmatched sets share date partitions with paired
 * ones (the case that lost Parquet rows in issue 10).
 */
import { type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { compareSinks, everySink, sharedPartitionTenant, type SinkServers, startSinkServers } from "./everySink.js"
import { cleanEnv, expectedArtifacts, syncArgs, readManifest, runCli, tempDir, verifyOutput } from "./helpers.js"

describe("sync with every sink", () => {
  let emu: RunningEmulator
  let servers: SinkServers
  beforeAll(async () => {
    servers = await startSinkServers()
    emu = await startEmulator(sharedPartitionTenant(7))
  })
  afterAll(async () => {
    await emu?.close()
    await servers?.stop()
  })

  it("every sink holds the manifest's sets, artifact ids and cue counts after each of two runs", async () => {
    const base = tempDir()
    const out = path.join(base, "out")
    const sinks = await everySink(base, servers)
    const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken, ...sinks.env })
    const args = [
      ...syncArgs(emu, out),
      "--json",
      ...sinks.args
    ]
    const lines = () => readManifest(out)
    const runs: Array<string> = []
    for (let i = 0; i < 2; i++) {
      const result = await runCli(args, { env })
      expect(result.code, result.stderr).toBe(0)
      runs.push(JSON.parse(result.stdout).runId)
      expect(verifyOutput(out, expectedArtifacts(emu.fixture))).toEqual([])
      expect(await compareSinks(out, sinks, runs, servers.azureConnectionString)).toEqual([])
    }
    // The tenant has the shapes that matter: unmatched sets on a date that also has a paired set.
    const dateOf = (l: ReturnType<typeof lines>[number]) =>
      [l.recording?.createdDateTime, l.transcript?.createdDateTime].filter((t) => t != null).sort()[0]!.slice(0, 10)
    const paired = new Set(lines().filter((l) => l.recording && l.transcript).map(dateOf))
    const unmatched = lines().filter((l) => l.match === "none")
    expect(unmatched.some((l) => l.recording === null && paired.has(dateOf(l)))).toBe(true)
    expect(unmatched.some((l) => l.transcript === null && paired.has(dateOf(l)))).toBe(true)
    expect(lines().some((l) => l.match === "time-overlap")).toBe(true)
  }, 300_000) // two hostile runs spend ~10 s each in Retry-After waits, more on a loaded machine
})
