/**
 * Cluster mode with real processes: Postgres, the emulator, three `runner`
 * processes and `sync --cluster`. (a) The output equals a single-process
 * sync's (manifest lines, files and their hashes, `postgres:` record-sink
 * rows); a second submission of
 * the same export attaches to the run instead of starting another. (b) A runner killed with
 * SIGKILL in the middle of the run: another takes its shards over, the run
 * ends with the same output, and no content completed before the kill is
 * fetched again (the emulator counts every body it serves completely).
 * (modes) Incremental runs (with ad hoc calls), a targeted run and a dry run
 * end as the single-process sync's do; another folder's incremental run on the
 * same cluster gets everything (delta links are each folder's own).
 */
import { type EmulatorOptions, type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import * as fs from "node:fs"
import { type ChildProcess, execFileSync } from "node:child_process"
import * as Effect from "effect/Effect"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freshPgDatabase } from "../packages/sinks/test/support/db.js"
import { type RunningServer, startPostgres } from "../packages/sinks/test/support/servers.js"
import { completedIds, fileHashes, sinkRows, sortedLines, startRunners, stopRunner } from "./clusterHelpers.js"
import {
  addAdhocCallWithRecording,
  addLaterMeetingArtifacts,
  cleanEnv,
  collect,
  expectedArtifacts,
  listFiles,
  type MutableFixture,
  organizerArgs,
  readFailures,
  runCli,
  spawnCli,
  syncArgs,
  tempDir,
  verifyOutput,
  WINDOW_ARGS
} from "./helpers.js"

/** An emulator (from `options`) and a throwaway Postgres for the tests of a describe block. */
const clusterServers = (options: EmulatorOptions) => {
  const servers: { emu?: RunningEmulator; pg?: RunningServer } = {}
  beforeAll(async () => {
    servers.emu = await startEmulator(options)
    servers.pg = await startPostgres()
  }, 120_000)
  afterAll(async () => {
    await servers.emu?.close()
    await servers.pg?.stop()
  })
  return { emu: () => servers.emu!, pg: () => servers.pg! }
}

/** Runs `f` with `count` (default three) runners on `cluster`, stopped (SIGTERM, exit 0) afterwards. */
const withRunners = async (
  cluster: string,
  env: NodeJS.ProcessEnv,
  f: (runners: ReadonlyArray<ChildProcess>) => Promise<void>,
  count = 3
) => {
  const runners = await startRunners(count, cluster, env)
  let done = false
  try {
    await f(runners)
    done = true
  } finally {
    const codes = await Promise.all(runners.map(stopRunner))
    // SIGTERM is how a runner is meant to stop: exit 0 (a runner a test SIGKILLed has no code).
    if (done) expect(codes.filter((c) => c !== null).every((c) => c === 0), `runner exit codes ${codes}`).toBe(true)
  }
}

describe("sync --cluster on three runners", () => {
  const servers = clusterServers({
    generate: {
      organizers: 3,
      meetingsPerOrganizer: 5,
      seed: 41,
      recordingBytes: [64 * 1024, 256 * 1024],
      cues: [3, 10]
    },
    // Bandwidth-bound under a tenant budget, as the cluster tests ask: every body paced per
    // connection and a token bucket; latency spreads the work out, so a kill lands while content is in flight.
    faults: {
      latencyMs: { min: 20, max: 60 },
      contentBytesPerSecond: 512 * 1024,
      rateLimit: { requestsPerSecond: 40, burst: 20 }
    }
  })

  it("(a) writes what a single-process sync writes; (b) survives a runner killed mid-run", async () => {
    const emu = servers.emu()
    const pg = servers.pg()
    const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    const expected = expectedArtifacts(emu.fixture)

    // A postgres: record sink per export (no password in its URL, as --cluster requires).
    const [referenceSink, sinkA, sinkB] = await Promise.all(
      [1, 2, 3].map(() => Effect.runPromise(freshPgDatabase(pg.url)))
    )
    const reference = path.join(tempDir(), "out")
    const single = await runCli([...syncArgs(emu, reference), "--sink", `postgres:${referenceSink}`], { env })
    expect(single.code, single.stderr).toBe(0)
    expect(verifyOutput(reference, expected)).toEqual([])
    const referenceRows = await sinkRows(referenceSink!)
    expect(referenceRows.artifact_sets).toHaveLength(sortedLines(reference).length)

    await withRunners(pg.url, env, async (runners) => {
      // (a)
      emu.resetCounters()
      const out = path.join(tempDir(), "out")
      // Two submissions of the same export at once: the second attaches to the first's run.
      const [clustered, attached] = await Promise.all([
        runCli([...syncArgs(emu, out), "--sink", `postgres:${sinkA}`, "--cluster", pg.url], { env }),
        runCli([...syncArgs(emu, out), "--sink", `postgres:${sinkA}`, "--cluster", pg.url], { env })
      ])
      expect(clustered.code, clustered.stderr).toBe(0)
      expect(attached.code, attached.stderr).toBe(0)
      expect(/run (\S+) submitted/.exec(attached.stderr)?.[1]).toBe(/run (\S+) submitted/.exec(clustered.stderr)?.[1])
      expect(attached.stdout).toBe(clustered.stdout)
      expect(clustered.stdout).toContain(`Exported ${sortedLines(reference).length} set(s)`)
      expect(verifyOutput(out, expected)).toEqual([])
      expect(sortedLines(out)).toEqual(sortedLines(reference))
      expect(fileHashes(out)).toEqual(fileHashes(reference))
      expect(await sinkRows(sinkA!)).toEqual(referenceRows)
      // The summary's requests are the steps' own, summed in Postgres: every request the emulator answered
      // (Graph's and the content origin's), and those a retry followed without an answer (a cut connection).
      const answered = Object.values(emu.counters().byStatus).reduce((a, b) => a + b, 0)
      const [, requests, retries] = /; (\d+) requests, (\d+) retries/.exec(clustered.stdout)!.map(Number)
      expect(requests).toBeGreaterThanOrEqual(answered)
      expect(requests).toBeLessThanOrEqual(answered + retries!)
      // Each artifact's content served once.
      expect(Object.values(emu.counters().contentRequests).every((n) => n === 1)).toBe(true)
      expect(Object.keys(emu.counters().contentRequests)).toHaveLength(expected.size)

      // (b) a new output folder (a new window key, so a new run); kill a runner once some content is done.
      emu.resetCounters()
      const out2 = path.join(tempDir(), "out")
      const child = spawnCli([...syncArgs(emu, out2), "--sink", `postgres:${sinkB}`, "--cluster", pg.url], { env })
      const result = collect(child)
      const victim = runners[0]!
      // Completed by this run into its folder ((a)'s completions are (a)'s folder's).
      const completedNow = async () => (await completedIds(pg.url, out2)).map((c) => c.id)
      // The kill waits for a first checkpointed completion (not for served bodies, which a loaded machine
      // may not have checkpointed yet), so the no-refetch check below always has something to check.
      while (child.exitCode === null && (await completedNow()).length === 0) await new Promise((r) => setTimeout(r, 50))
      victim.kill("SIGKILL")
      // Read before the counters, so every id in it was served by the time they are read.
      const completed = await completedNow()
      const atKill = { completed, contentRequests: { ...emu.counters().contentRequests } }
      const r = await result
      expect(r.code, r.stderr).toBe(0)
      expect(verifyOutput(out2, expected)).toEqual([])
      expect(sortedLines(out2)).toEqual(sortedLines(reference))
      expect(fileHashes(out2)).toEqual(fileHashes(reference))
      expect(await sinkRows(sinkB!)).toEqual(referenceRows)
      const counts = emu.counters().contentRequests
      // Content completed (checkpointed) when the runner died is not served again.
      expect(atKill.completed.length).toBeGreaterThan(0)
      for (const id of atKill.completed) {
        expect(counts[id], `content of ${id} fetched again`).toBe(atKill.contentRequests[id])
      }
    })
  }, 300_000)
})

describe("sync --cluster and the tenant's Graph budget", () => {
  const servers = clusterServers({
    generate: {
      organizers: 3,
      meetingsPerOrganizer: 16,
      seed: 7,
      recordingBytes: [4 * 1024, 16 * 1024],
      cues: [2, 4]
    },
    // The tenant's budget: 5 requests/s. Each process is told 4/s (--rate): alone it stays under the
    // budget; three runners each sending 4/s would not. The bucket holds more than the clients' own burst
    // (6; it was 10): right after a burst of 10 an empty bucket turned one late timer among three processes into a
    // 429 (1 vs 0 in CI), which says nothing about the shared budget.
    faults: { rateLimit: { requestsPerSecond: 5, burst: 20 } }
  })

  it("(c) three runners are throttled no more than one process (429s <= 1.1x)", async () => {
    const emu = servers.emu()
    const pg = servers.pg()
    const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    const args = (out: string) => [...syncArgs(emu, out), "--rate", "4"]
    emu.resetCounters()
    const single = await runCli(args(path.join(tempDir(), "out")), { env })
    expect(single.code, single.stderr).toBe(0)
    const singleCounters = emu.counters()

    await withRunners(pg.url, env, async () => {
      emu.resetCounters()
      const out = path.join(tempDir(), "out")
      const clustered = await runCli([...args(out), "--cluster", pg.url], { env })
      expect(clustered.code, clustered.stderr).toBe(0)
      const clusterCounters = emu.counters()
      console.info(
        `429s: single process ${singleCounters.throttled} of ${singleCounters.total} requests, ` +
          `three runners ${clusterCounters.throttled} of ${clusterCounters.total}; ${single.stdout.split("\n")[3]} vs ${
            clustered.stdout.split("\n")[3]
          }`
      )
      expect(clusterCounters.throttled).toBeLessThanOrEqual(Math.floor(singleCounters.throttled * 1.1))
      expect(Object.keys(clusterCounters.contentRequests)).toHaveLength(expectedArtifacts(emu.fixture).size)
    })
  }, 300_000)
})

const runIdOf = (stderr: string) => /run (\S+) submitted/.exec(stderr)?.[1]

/** Summary fields that differ between any two runs (ids, times, paths, per-process request counts). */
const RUN_SPECIFIC = [
  "runId",
  "startedAt",
  "finishedAt",
  "elapsedMs",
  "out",
  "manifest",
  "failuresFile",
  "requests",
  "retries",
  "throttleWaits",
  "throttleWaitMs"
]

/** A JSON summary without its run-specific fields. */
const comparable = (stdout: string) =>
  Object.fromEntries(Object.entries(JSON.parse(stdout)).filter(([k]) => !RUN_SPECIFIC.includes(k)))

const failuresOf = (out: string) => readFailures(out).map(({ at, ...rest }) => rest)

describe("sync --cluster modes: incremental, ad hoc calls, targeted, dry run", () => {
  const servers = clusterServers({
    generate: {
      organizers: 2,
      meetingsPerOrganizer: 3,
      adhocCallsPerOrganizer: 2,
      seed: 53,
      recordingBytes: [4 * 1024, 32 * 1024],
      cues: [2, 5],
      mix: { paired: 0.5, recordingOnly: 0.5 }
    },
    pageSize: 2
  })

  it("each ends as a single-process sync of the same flags does", async () => {
    const emu = servers.emu()
    const pg = servers.pg()
    const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    // An open window (no --to: everything since --from), whose run id must not depend on "now".
    const incremental = (out: string) => [
      "sync",
      ...organizerArgs(emu.fixture),
      "--from",
      "2024-01-01T00:00:00Z",
      "--out",
      out,
      "--graph-url",
      emu.baseUrl,
      "--incremental",
      "--adhoc-calls",
      "--json"
    ]
    const reference = path.join(tempDir(), "out")
    const out = path.join(tempDir(), "out")
    const fixture = structuredClone(emu.fixture) as MutableFixture

    await withRunners(pg.url, env, async () => {
      // First incremental run: everything. Two submissions at once attach to one run.
      const single1 = await runCli(incremental(reference), { env })
      expect(single1.code, single1.stderr).toBe(0)
      const [first, attached] = await Promise.all([
        runCli([...incremental(out), "--cluster", pg.url], { env }),
        runCli([...incremental(out), "--cluster", pg.url], { env })
      ])
      expect(first.code, first.stderr).toBe(0)
      expect(attached.code, attached.stderr).toBe(0)
      expect(runIdOf(attached.stderr)).toBe(runIdOf(first.stderr))
      expect(verifyOutput(out, expectedArtifacts(emu.fixture))).toEqual([])
      expect(sortedLines(out)).toEqual(sortedLines(reference))
      expect(fileHashes(out)).toEqual(fileHashes(reference))
      expect(comparable(first.stdout)).toEqual(comparable(single1.stdout))
      expect(JSON.parse(first.stdout).incremental).toBe(true)

      // Later: a transcript for a meeting that had only its recording, a recording in another meeting,
      // a new ad hoc call.
      const { recording, transcript } = addLaterMeetingArtifacts(emu, fixture, {
        transcript: "late/modes+transcript==",
        recording: "added/modes+recording==",
        seed: 98
      })
      const call = addAdhocCallWithRecording(emu, fixture, {
        id: "3c0ffee0-0000-4000-8000-00000000d0c5",
        userId: fixture.users[1].id,
        recordingId: "added/modes+adhoc=="
      })
      const added = [transcript.id, recording.id, call.recordings[0]!.id].sort()

      const single2 = await runCli(incremental(reference), { env })
      expect(single2.code, single2.stderr).toBe(0)
      emu.resetCounters()
      const second = await runCli([...incremental(out), "--cluster", pg.url], { env })
      expect(second.code, second.stderr).toBe(0)
      // The first run closed: this is the next one, resumed from the delta links the first one stored.
      expect(runIdOf(second.stderr)).not.toBe(runIdOf(first.stderr))
      expect(Object.keys(emu.counters().contentRequests).sort()).toEqual(added)
      expect(emu.counters().byRoute.getAllRecordings ?? 0).toBe(0)
      expect(emu.counters().byRoute.getAllAdhocRecordings ?? 0).toBe(0)
      expect(verifyOutput(out, expectedArtifacts(fixture))).toEqual([])
      expect(sortedLines(out)).toEqual(sortedLines(reference))
      expect(fileHashes(out)).toEqual(fileHashes(reference))
      // Resumed from the stored links: only the new artifacts and the exported ones they pair with are listed.
      expect(comparable(second.stdout)).toEqual(comparable(single2.stdout))
      const listed = (o: string) => JSON.parse(o).recordings.discovered + JSON.parse(o).transcripts.discovered
      expect(listed(second.stdout)).toBeLessThan(listed(first.stdout))
      // Another folder on the same cluster resumes from no link of `out`'s: it lists and exports everything.
      const otherOut = path.join(tempDir(), "out")
      const other = await runCli([...incremental(otherOut), "--cluster", pg.url], { env })
      expect(other.code, other.stderr).toBe(0)
      expect(verifyOutput(otherOut, expectedArtifacts(fixture))).toEqual([])

      // Targeted: a meeting by id, one by join URL, an ad hoc call, and a call nobody has (exit 1).
      const [byId, byUrl] = fixture.meetings.filter((m: any) => (m.recordings ?? []).length > 0)
      const targeted = (o: string) => [
        "sync",
        ...organizerArgs(emu.fixture),
        "--out",
        o,
        "--graph-url",
        emu.baseUrl,
        "--meeting",
        byId.id,
        "--join-url",
        byUrl.joinWebUrl,
        "--adhoc-call",
        call.id,
        "--adhoc-call",
        "no-such-call",
        "--json"
      ]
      const targetedReference = path.join(tempDir(), "out")
      const targetedOut = path.join(tempDir(), "out")
      const single3 = await runCli(targeted(targetedReference), { env })
      expect(single3.code, single3.stderr).toBe(1)
      const third = await runCli([...targeted(targetedOut), "--cluster", pg.url], { env })
      expect(third.code, third.stderr).toBe(1)
      const only = { ...fixture, meetings: [byId, byUrl], adhocCalls: [call] }
      expect(verifyOutput(targetedOut, expectedArtifacts(only))).toEqual([])
      expect(sortedLines(targetedOut)).toEqual(sortedLines(targetedReference))
      expect(fileHashes(targetedOut)).toEqual(fileHashes(targetedReference))
      expect(failuresOf(targetedOut)).toEqual(failuresOf(targetedReference))
      expect(failuresOf(targetedOut)).toMatchObject([{ kind: "meeting", id: "no-such-call", source: "adhocCall" }])
      expect(comparable(third.stdout)).toEqual(comparable(single3.stdout))
    })

    // A dry run needs no runner (all stopped now): it checks the window against the cluster's checkpoint,
    // where everything is complete, so nothing would be downloaded; nothing is fetched or written.
    emu.resetCounters()
    const before = listFiles(out)
    const dry = await runCli([...syncArgs(emu, out), "--adhoc-calls", "--dry-run", "--json", "--cluster", pg.url], {
      env
    })
    expect(dry.code, dry.stderr).toBe(0)
    const summary = JSON.parse(dry.stdout)
    expect(summary).toMatchObject({ dryRun: true, failures: 0 })
    expect(summary.recordings.discovered + summary.transcripts.discovered).toBe(expectedArtifacts(fixture).size)
    expect(summary.recordings.downloaded + summary.transcripts.downloaded).toBe(0)
    expect(emu.counters().contentRequests).toEqual({})
    expect(listFiles(out)).toEqual(before)
  }, 300_000)
})

describe("sync --cluster refuses what a cluster cannot run", () => {
  const cluster = "postgres://postgres@127.0.0.1:9/none"
  const base = [
    "sync",
    "--organizer",
    "u1",
    "--from",
    "2024-01-01",
    "--to",
    "2024-02-01",
    "--out",
    "/tmp/ma-cluster-refused",
    "--cluster",
    cluster
  ]
  it.each([
    [["--state", "/tmp/state.sqlite"], "--state cannot be used with --cluster"],
    [["--sink", "sqlite:/tmp/x.sqlite"], "--sink sqlite: only one process can write it"],
    [["--sink", "parquet:/tmp/p"], "--sink parquet: only one process can write it"],
    [["--sink", "postgres:postgres://exporter:s3cret@127.0.0.1:9/db"], "must not carry a password"]
  ])("%j: exit 2 before anything is submitted", async (extra, message) => {
    const r = await runCli([...base, ...extra], { env: cleanEnv({ GRAPH_ACCESS_TOKEN: "t" }) })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(message)
    expect(r.stderr).not.toContain("s3cret")
    expect(r.stdout).toBe("")
  })

  it("runner without --cluster: exit 2 naming the flag", async () => {
    const r = await runCli(["runner"], { env: cleanEnv({ GRAPH_ACCESS_TOKEN: "t" }) })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("--cluster")
  })
})

describe("sync --cluster and the tenant's requests in flight", () => {
  const servers = clusterServers({
    generate: {
      organizers: 3,
      meetingsPerOrganizer: 4,
      seed: 11,
      recordingBytes: [160 * 1024, 256 * 1024],
      cues: [2, 4]
    },
    // The tenant's ceiling: 3 requests in flight (over it: a 429 counted as "concurrency"), one above the
    // cluster's --max-requests 2: a body's last bytes reach the client a moment before the emulator counts
    // it done, and the next lease may be quicker than that. Bodies are paced to 1-2 s each, so
    // the runners' downloads overlap.
    faults: { maxConcurrency: 3, contentBytesPerSecond: 128 * 1024 }
  })

  it("(d) three runners together have no more requests in flight than --max-requests", async () => {
    const emu = servers.emu()
    const pg = servers.pg()
    const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
    await withRunners(pg.url, env, async () => {
      emu.resetCounters()
      const out = path.join(tempDir(), "out")
      // Each runner alone may have 2 requests (downloads) in flight: three of them, 6.
      const clustered = await runCli(
        [...syncArgs(emu, out), "--concurrency", "2", "--max-requests", "2", "--cluster", pg.url],
        { env }
      )
      expect(clustered.code, clustered.stderr).toBe(0)
      const counters = emu.counters()
      expect(Object.keys(counters.contentRequests)).toHaveLength(expectedArtifacts(emu.fixture).size)
      expect(counters.faults["concurrency"] ?? 0, `concurrency 429s; faults ${JSON.stringify(counters.faults)}`).toBe(0)
    })
  }, 300_000)
})

describe("sync --tenants: two tenants, each with its own credential, folder and Graph budget", () => {
  const tenant = (seed: number): EmulatorOptions => ({
    generate: { organizers: 2, meetingsPerOrganizer: 3, seed, recordingBytes: [16 * 1024, 64 * 1024], cues: [2, 5] }
  })
  const servers = clusterServers(tenant(5))
  const refs: { emuB?: RunningEmulator; a?: string; b?: string } = {}
  const emus = () => ({ a: servers.emu(), b: refs.emuB! })
  // Each tenant's token in its own variable; "wrong" is tenant b's Graph with tenant a's token.
  const tokens = () => ({ TOKEN_A: emus().a.accessToken, TOKEN_B: emus().b.accessToken })

  beforeAll(async () => {
    refs.emuB = await startEmulator(tenant(6))
    // The reference: a single-process sync of each tenant alone.
    const [a, b] = [path.join(tempDir(), "out"), path.join(tempDir(), "out")]
    const results = await Promise.all([
      runCli(syncArgs(emus().a, a), { env: cleanEnv({ GRAPH_ACCESS_TOKEN: tokens().TOKEN_A }) }),
      runCli(syncArgs(emus().b, b), { env: cleanEnv({ GRAPH_ACCESS_TOKEN: tokens().TOKEN_B }) })
    ])
    for (const r of results) expect(r.code, r.stderr).toBe(0)
    Object.assign(refs, { a, b })
  }, 120_000)
  afterAll(async () => {
    await refs.emuB?.close()
  })

  const entry = (name: string, emu: RunningEmulator, tokenEnv: string, clientId: string) => ({
    name,
    tenantId: emu.tenantId,
    clientId,
    credential: { accessTokenEnv: tokenEnv },
    graphUrl: emu.baseUrl,
    organizers: emu.fixture.users.map((u) => u.id)
  })
  const writeTenants = (tenants: ReadonlyArray<ReturnType<typeof entry>>) => {
    const file = path.join(tempDir(), "tenants.json")
    fs.writeFileSync(file, JSON.stringify({ tenants }))
    return file
  }

  /** A tenants file in a new folder; the tenants' folders are <--out>/<name>. */
  const tenantsFile = () => {
    const { a, b } = emus()
    return writeTenants([
      entry("a", a, "TOKEN_A", "00000000-0000-4000-8000-00000000000a"),
      entry("b", b, "TOKEN_B", "00000000-0000-4000-8000-00000000000b"),
      entry("wrong", b, "TOKEN_A", "00000000-0000-4000-8000-0000000000ff")
    ])
  }

  const expectTenantOutputs = (base: string, result: { code: number | null; stdout: string; stderr: string }) => {
    // The worst tenant's exit code; the other two exported in full, exactly as alone.
    expect(result.code, result.stderr).toBe(2)
    for (const [name, reference] of [["a", refs.a!], ["b", refs.b!]] as const) {
      const out = path.join(base, name)
      expect(sortedLines(out), name).toEqual(sortedLines(reference))
      expect(fileHashes(out), name).toEqual(fileHashes(reference))
      expect(result.stdout).toContain(`[${name}] Exported ${sortedLines(reference).length} set(s) into ${out}`)
    }
    expect(result.stdout).toMatch(/^\[wrong\] failed: .*401/m)
    expect(result.stdout).toContain("Tenants: 2 exported, 0 with failed items, 1 failed (exit 2)")
    expect(result.stderr).toMatch(/tenant wrong: .*401/)
    expect(result.stderr).not.toContain(emus().a.accessToken)
  }

  it(
    "in one process: each tenant's folder equals its own sync; a wrong credential fails that tenant only",
    async () => {
      const base = tempDir()
      const r = await runCli(["sync", "--tenants", tenantsFile(), ...WINDOW_ARGS, "--out", base], {
        env: cleanEnv(tokens())
      })
      expectTenantOutputs(base, r)
    },
    120_000
  )

  it("on the cluster: one run per tenant, credentials resolved on the runners, one budget per tenant", async () => {
    const pg = servers.pg()
    await withRunners(pg.url, cleanEnv(tokens()), async () => {
      const base = tempDir()
      // The submitter holds no secret: the runners resolve each tenant's credential reference.
      const r = await runCli(["sync", "--cluster", pg.url, "--tenants", tenantsFile(), ...WINDOW_ARGS, "--out", base], {
        env: cleanEnv()
      })
      expectTenantOutputs(base, r)
      expect(r.stderr.match(/run \S+ submitted/g)).toHaveLength(3)
      const budgets = execFileSync("psql", [pg.url, "-At", "-c", "SELECT tenant FROM ma_graph_budget ORDER BY 1"], {
        encoding: "utf8"
      }).split("\n").filter(Boolean)
      const key = (emu: RunningEmulator, clientId: string) =>
        `tenant:${new URL(emu.baseUrl).host}/${emu.tenantId}/${clientId}`
      expect(budgets).toEqual(expect.arrayContaining([
        key(emus().a, "00000000-0000-4000-8000-00000000000a"),
        key(emus().b, "00000000-0000-4000-8000-00000000000b")
      ]))
      expect(budgets).not.toContain(emus().a.baseUrl)
    }, 2)
  }, 180_000)

  it(
    "on the cluster: a run that failed before its record existed (no credential on the runner) is re-run once the runner has it",
    async () => {
      const pg = servers.pg()
      const base = tempDir()
      // The run fails on the runner before its run record is written (the credential is set up first).
      const file = writeTenants([entry("a", emus().a, "TOKEN_A", "00000000-0000-4000-8000-00000000000a")])
      const submit = () =>
        runCli(["sync", "--cluster", pg.url, "--tenants", file, ...WINDOW_ARGS, "--out", base], { env: cleanEnv() })
      const runIds = (stderr: string) => [...stderr.matchAll(/run (\S+) submitted/g)].map((m) => m[1])
      let first: Array<string | undefined> = []
      // A runner without TOKEN_A: the run fails at once (exit 2), and is closed as failed.
      await withRunners(pg.url, cleanEnv({ TOKEN_B: tokens().TOKEN_B }), async () => {
        const r = await submit()
        expect(r.code, r.stderr).toBe(2)
        expect(r.stderr).toContain("give every runner the variables")
        first = runIds(r.stderr)
        expect(first).toHaveLength(1)
      }, 1)
      // Given the variable, as the error advises, the resubmission starts a new run (not the failed one).
      await withRunners(pg.url, cleanEnv(tokens()), async () => {
        const r = await submit()
        expect(r.code, r.stderr).toBe(0)
        const second = runIds(r.stderr)
        expect(second).toHaveLength(1)
        expect(second[0]).not.toBe(first[0])
        expect(sortedLines(path.join(base, "a"))).toEqual(sortedLines(refs.a!))
      }, 1)
    },
    180_000
  )
})
