/**
 * Cluster throughput: `sync --cluster` on 1, 2 and 3 `runner` processes (fresh ones for each count)
 * sharing a Postgres, on a bandwidth-bound tenant: the emulator paces every content body to
 * `--link` bytes/s per connection, as a WAN link to Graph would, and each runner downloads at most
 * `--concurrency` bodies at once. Throughput is the tenant's content bytes over the wall time of the
 * whole `sync --cluster` process (submission, discovery, workflows, manifest included), and beside it
 * over the run's own elapsed time (its first step to its last, from the `--json` summary). Goal: three
 * runners >= 2.5x one runner (whole process), measured in the same run.
 *
 *   pnpm bench cluster [--recordings 24] [--bytes 2097152] [--link 524288] [--concurrency 2]
 */
import * as NodeChild from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { startPostgres } from "../packages/sinks/test/support/servers.js"
import { cleanEnv, cliBin, runBench, runMeasured, verdict } from "./internal/cli.js"
import { argValue } from "./internal/tenant.js"

const RECORDINGS = Number(argValue("--recordings") ?? 24)
const BYTES = Number(argValue("--bytes") ?? 2 * 1024 ** 2)
const LINK = Number(argValue("--link") ?? 512 * 1024)
const CONCURRENCY = Number(argValue("--concurrency") ?? 2)
const ORGANIZERS = 3
const GOAL = 2.5

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

const main = async () => {
  const { startEmulator } = await import("@meeting-artifacts/graph-emulator")
  const perOrganizer = Math.ceil(RECORDINGS / ORGANIZERS)
  const emu = await startEmulator({
    generate: {
      organizers: ORGANIZERS,
      meetingsPerOrganizer: perOrganizer,
      seed: 5,
      recordingBytes: [BYTES, BYTES],
      cues: [2, 4]
    },
    faults: { contentBytesPerSecond: LINK }
  })
  const pg = await startPostgres()
  const work = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "bench-cluster-"))
  const env = cleanEnv({ GRAPH_ACCESS_TOKEN: emu.accessToken })
  const organizers = emu.fixture.users.flatMap((u) => ["--organizer", u.id])
  const recordings = emu.fixture.meetings.reduce((n, m) => n + (m.recordings?.length ?? 0), 0)
  const total = recordings * BYTES
  try {
    const results: Array<{ runners: number; seconds: number; runSeconds: number }> = []
    for (const runners of [1, 2, 3]) {
      const children = await Promise.all(Array.from({ length: runners }, () => startRunner(pg.url, env)))
      try {
        const out = NodePath.join(work, `out-${runners}`)
        const run = await runMeasured(process.execPath, [
          cliBin,
          "sync",
          ...organizers,
          "--from",
          "2024-01-01T00:00:00Z",
          "--to",
          "2024-03-01T00:00:00Z",
          "--out",
          out,
          "--graph-url",
          emu.baseUrl,
          "--concurrency",
          String(CONCURRENCY),
          "--cluster",
          pg.url,
          "--json"
        ], { env })
        if (run.code !== 0) {
          throw new Error(`sync --cluster with ${runners} runner(s) exited ${run.code}: ${run.stderr}`)
        }
        const summary = JSON.parse(run.stdout) as { elapsedMs: number }
        results.push({ runners, seconds: run.seconds, runSeconds: summary.elapsedMs / 1000 })
      } finally {
        await Promise.all(children.map(stopRunner))
      }
    }
    const mibps = (s: number) => total / 1024 ** 2 / s
    console.log(
      `cluster: ${recordings} recordings x ${(BYTES / 1024 ** 2).toFixed(1)} MiB, link ${
        (LINK / 1024).toFixed(0)
      } KiB/s per connection, --concurrency ${CONCURRENCY} per runner; load: ${
        NodeOs.loadavg().map((l) => l.toFixed(2)).join(" ")
      }`
    )
    const one = results[0]!
    for (const r of results) {
      console.log(
        `  ${r.runners} runner(s): process ${r.seconds.toFixed(1)} s, ${mibps(r.seconds).toFixed(2)} MiB/s = ${
          (one.seconds / r.seconds).toFixed(2)
        }x one runner; run (first step to last) ${r.runSeconds.toFixed(1)} s, ${
          mibps(r.runSeconds).toFixed(2)
        } MiB/s = ${(one.runSeconds / r.runSeconds).toFixed(2)}x`
      )
    }
    const ratio = one.seconds / results[2]!.seconds
    console.log(`  three runners: ${ratio.toFixed(2)}x one runner (whole process), goal >= ${GOAL}x`)
    verdict(ratio >= GOAL)
  } finally {
    NodeFs.rmSync(work, { recursive: true, force: true })
    await emu.close()
    await pg.stop()
  }
}

runBench(main)
