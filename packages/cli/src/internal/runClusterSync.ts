/**
 * `sync --cluster <postgres url>`: the same run as `sync`, spread over the cluster's runners. Checks
 * what a cluster cannot do (state elsewhere than its Postgres, a record sink only one process can
 * write) before submitting anything. A dry run fetches and writes nothing, so it needs no runners: it
 * runs here, reading the cluster's checkpoint state.
 */
import { redactUrlCredentials } from "@meeting-artifacts/api"
import { clusterSync, type JobTenant, type RunProgress } from "@meeting-artifacts/cluster"
import { isHttpUrl, SyncFatalError, validateSyncOptions } from "@meeting-artifacts/pipeline"
import { parseSinkSpecs } from "@meeting-artifacts/sinks"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import { ExitCode } from "../CliExit.js"
import { maxConcurrentRequestsFor } from "@meeting-artifacts/api/GraphPolicy"
import { jsonLine } from "./jsonLog.js"
import { formatBytes } from "./render.js"
import {
  envCredential,
  errorLine,
  exportOnce,
  type ExportConfig,
  type ExportOutcome,
  fatalLine,
  fatalOutcome,
  printSummary,
  syncOptionsOf,
  tenantCredential
} from "./runSync.js"
import type { LogFormat, SyncCommandConfig } from "./syncConfig.js"

/** Record sinks every runner can write at once (a database, a blob container); the others are one process's. */
const SHARED_SINK_KINDS: ReadonlySet<string> = new Set(["postgres", "azure-blob"])

/** Why this configuration cannot run on a cluster, or undefined. */
export const clusterProblem = (config: SyncCommandConfig, cluster: string): string | undefined => {
  if (!/^postgres(ql)?:\/\//i.test(cluster)) return "--cluster must be a postgres:// URL (the cluster's database)"
  if (config.state !== undefined) {
    return "--state cannot be used with --cluster: the cluster's Postgres holds the checkpoint state of its runs"
  }
  for (const spec of config.sink) {
    const kind = spec.split(":", 1)[0]!.split("+", 1)[0]!
    if (!SHARED_SINK_KINDS.has(kind)) {
      return `--sink ${kind}: only one process can write it; with --cluster use postgres or azure-blob record sinks`
    }
    if (hasPassword(spec.slice(spec.indexOf(":") + 1))) {
      return `--sink ${kind}: the run's sink specs are stored in the cluster's Postgres, so a --sink URL (or ` +
        "DATABASE_URL) must not carry a password: leave it out and give the runners PGPASSWORD (or a ~/.pgpass)"
    }
  }
  return undefined
}

/** Whether a URL names a password (not an URL: no). */
const hasPassword = (text: string): boolean => {
  try {
    return new URL(text.trim()).password !== ""
  } catch {
    return false
  }
}

/** One progress line of a cluster run on stderr (a JSON line with `--log-format json`), after `label`. */
const progressLine = (format: LogFormat, label: string, p: RunProgress.RunProgress): Effect.Effect<void> =>
  format === "json"
    ? Effect.sync(() =>
      process.stderr.write(jsonLine("info", "cluster_progress", { ...(label === "" ? {} : { tenant: label }), ...p }))
    )
    : errorLine(
      `${label}progress: ${p.setsDone}/${p.plannedSets ?? "?"} set(s) exported, ${formatBytes(p.bytes)} downloaded, ` +
        `${p.requests} Graph request(s) (${p.throttled} throttled)` +
        (p.failures > 0 ? `, ${p.failures} item(s) failed` : "")
    )

/** Said once when no runner has joined: the run waits for one. */
const noRunnerLine = (format: LogFormat, cluster: string): Effect.Effect<void> => {
  const message = "no runner has joined the cluster yet; the run waits for one: start " +
    `\`meeting-artifacts runner --cluster ${redactUrlCredentials(cluster)}\` (cluster_runners in the cluster's ` +
    "Postgres lists the runners)"
  return format === "json"
    ? Effect.sync(() => process.stderr.write(jsonLine("warn", "cluster_no_runner", { message })))
    : errorLine(message)
}

/**
 * One export on the cluster: submits its run (or attaches to it) and waits. With `tenant`, the runners
 * authenticate with that tenant's credential reference, resolved from their own environment. Fatal
 * errors are written to stderr (each line starting with `label`); the summary is returned.
 */
export const clusterExport = (
  config: ExportConfig,
  cluster: string,
  tenant: JobTenant | undefined,
  label = ""
): Effect.Effect<ExportOutcome> =>
  Effect.gen(function*() {
    const fatal = (message: string, details?: Readonly<Record<string, unknown>>) =>
      fatalOutcome(config.logFormat, label, message, details)
    if (config.dryRun) {
      // What the cluster would fetch is what its checkpoint store lacks: a single-process dry run on it.
      yield* errorLine(`${label}--dry-run: checking here against the cluster's checkpoint state (no runner needed)`)
      return yield* exportOnce(
        { ...config, cluster: undefined, state: cluster },
        tenant === undefined ? envCredential : tenantCredential(tenant),
        label
      )
    }
    const validated = yield* validateSyncOptions(syncOptionsOf(config)).pipe(Effect.either)
    if (validated._tag === "Left") return yield* fatal(validated.left.message)
    if (!isHttpUrl(config.graphUrl)) {
      return yield* fatal(
        `--graph-url is not an http(s) URL: ${redactUrlCredentials(JSON.stringify(config.graphUrl))}`
      )
    }
    const sinks = parseSinkSpecs(config.sink)
    if (sinks._tag === "Left") return yield* fatal(sinks.left.message)
    if (tenant === undefined) {
      // The runners authenticate with their own credentials; checking ours catches a missing variable early.
      const auth = yield* Effect.either(envCredential)
      if (auth._tag === "Left") return yield* fatal(auth.left)
    }
    const opts = validated.right
    const result = yield* clusterSync({
      clusterUrl: Redacted.make(cluster),
      organizers: opts.organizers,
      from: opts.from ?? "",
      to: opts.to ?? "",
      mode: {
        incremental: opts.incremental,
        meetingIds: opts.meetingIds,
        joinUrls: opts.joinUrls,
        adhocCallIds: opts.adhocCallIds,
        adhocCalls: opts.adhocCalls
      },
      job: {
        out: nodePath.resolve(opts.out),
        graphUrl: config.graphUrl,
        allowInsecureHttp: config.allowInsecureHttp,
        sinks: config.sink,
        concurrency: opts.concurrency,
        requestsPerSecond: config.rate,
        maxConcurrentRequests: maxConcurrentRequestsFor(opts.concurrency, config.maxRequests),
        metadataContent: config.metadataContent,
        ...(tenant !== undefined ? { tenant } : {})
      },
      onProgress: (p) => progressLine(config.logFormat, label, p),
      onNoRunner: () => noRunnerLine(config.logFormat, cluster)
    }, (runId) => errorLine(`${label}run ${runId} submitted to the cluster; waiting for the runners`)).pipe(
      // The cluster's own log lines go to stderr: stdout carries the summary only.
      Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))),
      Effect.either
    )
    if (result._tag === "Left") {
      const e = result.left
      return e instanceof SyncFatalError
        ? yield* fatal(e.oneLine, { status: e.status, code: e.code, requestId: e.requestId, fix: e.fix })
        : yield* fatal(`cannot open the cluster's state: ${e.message}`)
    }
    const summary = result.right
    return { code: summary.failures > 0 ? ExitCode.PartialFailure : ExitCode.Ok, summary, error: null }
  })

export const runClusterSync = (config: SyncCommandConfig, cluster: string): Effect.Effect<number> =>
  Effect.gen(function*() {
    const problem = clusterProblem(config, cluster)
    if (problem !== undefined) return yield* Effect.as(fatalLine(config.logFormat, problem), ExitCode.Fatal)
    // Required unless --tenants (checked with the flags); the type cannot say so.
    const outcome = yield* clusterExport({ ...config, out: config.out! }, cluster, undefined)
    if (outcome.summary !== null) yield* printSummary(config, outcome.summary)
    return outcome.code
  })
