/**
 * Real processes for the cluster tests: `runner` processes on a Postgres, and what the tests compare
 * between a cluster run and a single-process sync (manifest lines, files, record-sink rows).
 */
import { CheckpointStore } from "@meeting-artifacts/sinks"
import type { ChildProcess } from "node:child_process"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { openSql } from "../packages/sinks/test/support/db.js"
import { listFiles, sha256, spawnCli } from "./helpers.js"

export const sortedLines = (out: string) =>
  fs.readFileSync(path.join(out, "manifest.jsonl"), "utf8").split("\n").filter(Boolean).sort()

/** Every exported file (state folder, manifest and failures.jsonl, whose lines hold times, aside) with its sha256. */
export const fileHashes = (out: string) =>
  listFiles(out)
    .filter((f) => !f.startsWith(".meeting-artifacts") && f !== "manifest.jsonl" && f !== "failures.jsonl")
    .sort()
    .map((f) => `${f} ${sha256(fs.readFileSync(path.join(out, f)))}`)

const runnerLogs = new WeakMap<ChildProcess, { stderr: string }>()

/** What a runner started by `startRunner` wrote on stderr so far (its log lines). */
export const runnerStderr = (child: ChildProcess): string => runnerLogs.get(child)?.stderr ?? ""

/** Starts a runner and resolves once it printed its ready line. */
export const startRunner = (cluster: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = spawnCli(["runner", "--cluster", cluster], { env })
    let stdout = ""
    const log = { stderr: "" }
    runnerLogs.set(child, log)
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString()
      if (/^RUNNER_READY=\S+:\d+$/m.test(stdout)) resolve(child)
    })
    child.stderr!.on("data", (d: Buffer) => {
      log.stderr += d.toString()
    })
    child.once("exit", (code) => reject(new Error(`runner exited (${code}) before it was ready: ${log.stderr}`)))
  })

/** SIGTERM (how a runner is meant to stop); resolves with its exit code (null when it was killed by a signal). */
export const stopRunner = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode)
    child.once("exit", (code) => resolve(code))
    child.kill("SIGTERM")
  })

/** Starts `n` runners; when one fails to start, stops the others and rejects. */
export const startRunners = async (n: number, cluster: string, env: NodeJS.ProcessEnv) => {
  const started = await Promise.allSettled(Array.from({ length: n }, () => startRunner(cluster, env)))
  const runners = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []))
  const failed = started.find((r) => r.status === "rejected")
  if (failed !== undefined) {
    await Promise.all(runners.map(stopRunner))
    throw failed.reason
  }
  return runners
}

/** The ids of the artifacts completed into `out` in the cluster's checkpoint store, with their runs. */
export const completedIds = (url: string, out: string) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(CheckpointStore.makePostgres(url), (store) =>
        Effect.map(
          store.forExport(CheckpointStore.exportScope(out)).listCompleted(),
          (rows) => rows.map((r) => ({ id: r.id, runId: r.runId }))
        ))
    )
  )

/** What a run's own identity changes in a record-sink row: left out of the comparison. */
const RUN_COLUMNS = new Set(["written_at", "run_id"])

/**
 * Every row of a `postgres:` record sink's artifact tables, each as JSON without its run's identity
 * (write time, run id), sorted: two exports of the same artifacts compare equal.
 */
export const sinkRows = (url: string): Promise<Record<string, Array<string>>> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const sql = yield* openSql({ pg: url })
    const tables: Record<string, Array<string>> = {}
    for (const table of ["recordings", "transcripts", "artifact_sets", "transcript_cues"]) {
      const rows = yield* sql.unsafe<Record<string, unknown>>(`SELECT * FROM ${table}`).pipe(Effect.orDie)
      tables[table] = rows
        .map((row) => JSON.stringify(Object.entries(row).filter(([k]) => !RUN_COLUMNS.has(k))))
        .sort()
    }
    return tables
  })))
