/**
 * Cluster throughput: `sync --cluster` on 1, 2 and 3 `runner` processes (fresh ones for each count,
 * submitted to once their shards are settled) sharing a Postgres.
 *
 * - bandwidth: a bandwidth-bound tenant. The emulator paces every content body to `--link` bytes/s
 *   (a token bucket per response stream, as a WAN link to Graph would be) and each runner downloads at
 *   most `--concurrency` bodies at once, so a runner's throughput is about concurrency x link, and CPU
 *   stays low (each runner's CPU share of the run is printed: the bottleneck must be the link).
 *   Throughput is the tenant's content bytes over the wall time of the whole `sync --cluster` process
 *   (submission, discovery, workflows, manifest included); beside it, the time from the process start
 *   to the first content request (the cluster's fixed cost) and the run's own elapsed time. Goal: three
 *   runners >= 2.5x one runner (whole process), in the same run.
 * - rate: a rate-bound tenant (the emulator's token bucket at `--tenant-rate` requests/s, the sync told
 *   the same `--rate`), many tiny artifacts: three runners take about as long as one (the budget is
 *   shared in Postgres, not multiplied) and are served no more 429s.
 * - leases: the cost of the cluster-wide request slots (PostgresBudget): a lease and its give-back,
 *   from `--concurrency` x 3 fibers at once, next to the content body they guard.
 *
 *   pnpm bench cluster [--only bandwidth|rate|leases] [--recordings 480] [--bytes 196608]
 *     [--link 262144] [--concurrency 4] [--meetings 25] [--tenant-rate 10]
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { PostgresBudget } from "@meeting-artifacts/cluster"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as NodeChild from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { startPostgres } from "../packages/sinks/test/support/servers.js"
import { buildCliIfStale, cleanEnv, cliBin, runBench, runMeasured, verdict } from "./internal/cli.js"
import { argValue } from "./internal/tenant.js"

const ONLY = argValue("--only")
const RECORDINGS = Number(argValue("--recordings") ?? 480)
const BYTES = Number(argValue("--bytes") ?? 192 * 1024)
const LINK = Number(argValue("--link") ?? 256 * 1024)
const CONCURRENCY = Number(argValue("--concurrency") ?? 4)
const MEETINGS = Number(argValue("--meetings") ?? 25)
const TENANT_RATE = Number(argValue("--tenant-rate") ?? 10)
const ORGANIZERS = 3
const GOAL = 2.5
/** @effect/cluster's shards per group (its default, which the runners use). */
const SHARDS = 300
const WINDOW = ["--from", "2024-01-01T00:00:00Z", "--to", "2024-03-01T00:00:00Z"]

/** Starts a runner; resolves once it printed its ready line. */
const startRunner = (cluster: string, env: NodeJS.ProcessEnv) =>
  new Promise<NodeChild.ChildProcess>((resolve, reject) => {
    const child = NodeChild.spawn(process.execPath, [cliBin, "runner", "--cluster", cluster], {
      env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    child.stdout!.on("data", (d) => {
      out += String(d)
      if (/^RUNNER_READY=/m.test(out)) resolve(child)
    })
    child.stderr!.on("data", (d) => (err += String(d)))
    child.once("exit", (code) => reject(new Error(`runner exited (${code}): ${err}`)))
  })

const stopRunner = (child: NodeChild.ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
  })

/** User + system CPU seconds of a live process so far (Linux /proc; NaN elsewhere). */
const cpuSeconds = (pid: number): number => {
  try {
    const fields = NodeFs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return NaN
  }
}

const psql = (url: string, query: string): string =>
  NodeChild.execFileSync("psql", [url, "-At", "-c", query], { encoding: "utf8" }).trim()

/**
 * Waits until the runners hold every shard between them (advisory locks, one lock connection each), so
 * the measurement starts from a settled cluster, not in the middle of the shards moving to newcomers.
 */
const waitSettled = async (url: string, runners: number) => {
  const deadline = Date.now() + 120_000
  for (;;) {
    const [holders, locks] = psql(
      url,
      "SELECT count(DISTINCT pid), count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    ).split("|").map(Number)
    if (holders === runners && locks === SHARDS) return
    if (Date.now() > deadline) throw new Error(`shards not settled: ${locks} locks held by ${holders} runner(s)`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

interface Measured {
  readonly runners: number
  readonly seconds: number
  readonly runSeconds: number
  readonly firstContentSeconds: number
  /** each runner's CPU over the process's wall time, percent */
  readonly runnerCpu: ReadonlyArray<number>
  /** the emulator's (this process's) CPU over the same time, percent */
  readonly emulatorCpu: number
  /** CPU seconds of the `sync --cluster` process itself */
  readonly clientCpuSeconds: number
  readonly throttled: number
}

const load = () => `load ${NodeOs.loadavg().map((l) => l.toFixed(2)).join(" ")}`

/** One `sync --cluster` per runner count (1, 2, 3) on fresh runners, against `emu`. */
const measureCounts = async (
  emu: Awaited<ReturnType<typeof import("@meeting-artifacts/graph-emulator").startEmulator>>,
  firstContent: { at: number | null },
  pgUrl: string,
  work: string,
  label: string,
  extra: ReadonlyArray<string>,
  counts: ReadonlyArray<number>
) => {
  const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
  const organizers = emu.fixture.users.flatMap((u) => ["--organizer", u.id])
  const results: Array<Measured> = []
  for (const runners of counts) {
    const children = await Promise.all(Array.from({ length: runners }, () => startRunner(pgUrl, env)))
    try {
      await waitSettled(pgUrl, runners)
      const cpuBefore = children.map((c) => cpuSeconds(c.pid!))
      const emulatorBefore = process.cpuUsage()
      emu.resetCounters()
      firstContent.at = null
      const started = Date.now()
      const out = NodePath.join(work, `${label}-${runners}`)
      const run = await runMeasured(process.execPath, [
        cliBin,
        "sync",
        ...organizers,
        ...WINDOW,
        "--out",
        out,
        "--graph-url",
        emu.baseUrl,
        ...extra,
        "--cluster",
        pgUrl,
        "--json"
      ], { env })
      if (run.code !== 0) throw new Error(`sync --cluster with ${runners} runner(s) exited ${run.code}: ${run.stderr}`)
      const summary = JSON.parse(run.stdout) as { elapsedMs: number }
      results.push({
        runners,
        seconds: run.seconds,
        runSeconds: summary.elapsedMs / 1000,
        firstContentSeconds: firstContent.at === null ? NaN : (firstContent.at - started) / 1000,
        runnerCpu: children.map((c, i) => (100 * (cpuSeconds(c.pid!) - cpuBefore[i]!)) / run.seconds),
        emulatorCpu: (() => {
          const used = process.cpuUsage(emulatorBefore)
          return (used.user + used.system) / 1e4 / run.seconds
        })(),
        clientCpuSeconds: run.cpuSeconds,
        throttled: emu.counters().throttled
      })
    } finally {
      await Promise.all(children.map(stopRunner))
    }
  }
  return results
}

const printCounts = (results: ReadonlyArray<Measured>, unit: string, amount: number) => {
  const one = results[0]!
  for (const r of results) {
    console.log(
      `  ${r.runners} runner(s): process ${r.seconds.toFixed(1)} s = ${(amount / r.seconds).toFixed(2)} ${unit} = ${
        (one.seconds / r.seconds).toFixed(2)
      }x one runner; first content request ${r.firstContentSeconds.toFixed(1)} s after start; run ${
        r.runSeconds.toFixed(1)
      } s = ${(one.runSeconds / r.runSeconds).toFixed(2)}x; 429s ${r.throttled}; CPU: runners ${
        r.runnerCpu.map((c) => `${c.toFixed(0)}%`).join(" ")
      }, emulator ${r.emulatorCpu.toFixed(0)}%, sync --cluster ${r.clientCpuSeconds.toFixed(1)} s`
    )
  }
}

const bandwidth = async (pgUrl: string, work: string) => {
  const { startEmulator } = await import("@meeting-artifacts/graph-emulator")
  const firstContent = { at: null as number | null }
  const emu = await startEmulator({
    generate: {
      organizers: ORGANIZERS,
      meetingsPerOrganizer: Math.ceil(RECORDINGS / ORGANIZERS),
      seed: 5,
      mix: { recordingOnly: 1 },
      recordingBytes: [BYTES, BYTES]
    },
    faults: { contentBytesPerSecond: LINK },
    onRequest: (r) => {
      if (firstContent.at === null && r.route === "recordingContent") firstContent.at = Date.now()
    }
  })
  try {
    const recordings = emu.fixture.meetings.reduce((n, m) => n + (m.recordings?.length ?? 0), 0)
    const mib = (recordings * BYTES) / 1024 ** 2
    // Neither the rate nor the cluster's request slots may be the limit here: the link is.
    const results = await measureCounts(emu, firstContent, pgUrl, work, "bandwidth", [
      "--concurrency",
      String(CONCURRENCY),
      "--max-requests",
      String(3 * CONCURRENCY + 4),
      "--rate",
      "200"
    ], [1, 2, 3])
    console.log(
      `bandwidth-bound tenant: ${recordings} recordings x ${(BYTES / 1024).toFixed(0)} KiB = ${
        mib.toFixed(0)
      } MiB, link ${
        (LINK / 1024).toFixed(0)
      } KiB/s per connection, --concurrency ${CONCURRENCY} per runner, --max-requests ${
        3 * CONCURRENCY + 4
      } (one runner's ceiling ${((CONCURRENCY * LINK) / 1024 ** 2).toFixed(2)} MiB/s); ${load()}`
    )
    printCounts(results, "MiB/s", mib)
    const ratio = results[0]!.seconds / results[2]!.seconds
    console.log(
      `  three runners: ${results[0]!.seconds.toFixed(1)} s / ${results[2]!.seconds.toFixed(1)} s = ${
        ratio.toFixed(2)
      }x one runner (whole process), goal >= ${GOAL}x`
    )
    return ratio >= GOAL
  } finally {
    await emu.close()
  }
}

const rate = async (pgUrl: string, work: string) => {
  const { startEmulator } = await import("@meeting-artifacts/graph-emulator")
  const emu = await startEmulator({
    generate: {
      organizers: ORGANIZERS,
      meetingsPerOrganizer: MEETINGS,
      seed: 9,
      recordingBytes: [2 * 1024, 4 * 1024],
      cues: [2, 4]
    },
    faults: { rateLimit: { requestsPerSecond: TENANT_RATE, burst: TENANT_RATE } }
  })
  try {
    const results = await measureCounts(emu, { at: null }, pgUrl, work, "rate", ["--rate", String(TENANT_RATE)], [
      1,
      3
    ])
    console.log(
      `rate-bound tenant: ${emu.fixture.meetings.length} meetings, emulator budget ${TENANT_RATE} requests/s, --rate ${TENANT_RATE}; ${load()}`
    )
    const sets = emu.fixture.meetings.length
    printCounts(results, "sets/s", sets)
    const [one, three] = [results[0]!, results[1]!]
    const sameSpeed = three.seconds <= one.seconds * 1.1 && three.seconds >= one.seconds * 0.7
    const no429 = three.throttled <= Math.max(one.throttled * 1.1, one.throttled + 2)
    console.log(
      `  three runners: ${
        (one.seconds / three.seconds).toFixed(2)
      }x one runner's throughput (goal about 1x), 429s ${three.throttled} vs ${one.throttled}`
    )
    return sameSpeed && no429
  } finally {
    await emu.close()
  }
}

/** Lease + give-back of a cluster-wide request slot, `fibers` at once, as the runners do per request. */
const leases = async (pgUrl: string) => {
  const fibers = CONCURRENCY * 3
  const rounds = 200
  const [ms, plainMs] = await Effect.runPromise(
    Effect.scoped(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const timed = (each: Effect.Effect<unknown, unknown>) =>
        Effect.gen(function*() {
          const started = performance.now()
          yield* Effect.forEach(Array.from({ length: fibers }), () => Effect.repeatN(each, rounds - 1), {
            concurrency: "unbounded",
            discard: true
          })
          return (performance.now() - started) / rounds
        })
      // the baseline: the same two round trips as plain queries
      const plain = yield* timed(Effect.zipRight(sql`SELECT 1`, sql`SELECT 1`)).pipe(Effect.orDie)
      const budget = yield* PostgresBudget.make({
        key: "bench-leases",
        requestsPerSecond: 1e6,
        burst: 1e6,
        maxConcurrentRequests: fibers
      })
      const leased = yield* timed(Effect.flatMap(budget.requestSlot!, (giveBack) => giveBack))
      return [leased, plain] as const
    })).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(pgUrl) })))
  )
  const bodyMs = (BYTES / LINK) * 1000
  console.log(
    `leases: ${fibers} fibers x ${rounds} lease + give-back of a request slot: ${ms.toFixed(1)} ms each (wall) vs ${
      plainMs.toFixed(1)
    } ms for two plain queries (SELECT 1) = ${(ms / plainMs).toFixed(2)}x; a ${
      (BYTES / 1024).toFixed(0)
    } KiB body at the link takes ${bodyMs.toFixed(0)} ms: ${
      ((100 * ms) / bodyMs).toFixed(1)
    } % added per body; ${load()}`
  )
}

const main = async () => {
  // the CLI runs from its bundle: measure the sources as they are, not a bundle built before a change
  await buildCliIfStale()
  const pg = await startPostgres()
  const work = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "bench-cluster-"))
  try {
    let ok = true
    if (ONLY === undefined || ONLY === "leases") await leases(pg.url)
    if (ONLY === undefined || ONLY === "bandwidth") ok = (await bandwidth(pg.url, work)) && ok
    if (ONLY === undefined || ONLY === "rate") ok = (await rate(pg.url, work)) && ok
    verdict(ok)
  } finally {
    NodeFs.rmSync(work, { recursive: true, force: true })
    await pg.stop()
  }
}

runBench(main)
