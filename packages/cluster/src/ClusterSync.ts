/**
 * `sync --cluster`: submits a run to the cluster's runners as an `ExportRun`
 * workflow and waits for its end. The run id is derived from what the run
 * exports (output folder, organizers, from, to, and its mode: incremental,
 * listed meetings / join URLs / ad hoc calls) and the number of runs of that
 * export already closed, so a second submission while one runs gets the same
 * id, the same workflow execution, and attaches to it instead of starting
 * another; a submission after it closed starts the next run.
 */
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import { type RunSummary, summaryOf, type SyncFatalError } from "@meeting-artifacts/pipeline"
import { CheckpointStore, type SinkError } from "@meeting-artifacts/sinks"
import { createHash } from "node:crypto"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Fiber from "effect/Fiber"
import * as Data from "effect/Data"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type * as Redacted from "effect/Redacted"
import { clusterSqlLayer, shardingTimings } from "./ClusterRunner.js"
import { ExportRun, type JobSpec, type RunMode, windowMode } from "./ExportWorkflows.js"
import { buildRetrying } from "./internal/buildRetrying.js"
import { setupFatal } from "./internal/jobResources.js"
import { socketLayer } from "./internal/socketLayer.js"
import { failWhenUnreachable } from "./internal/storageWatch.js"
import { throughStorageOutage } from "./internal/stepRetry.js"
import * as RunProgress from "./RunProgress.js"

export interface ClusterSyncOptions {
  readonly clusterUrl: Redacted.Redacted<string>
  readonly organizers: ReadonlyArray<string>
  /** Window start, ISO; "" for none (a targeted run). */
  readonly from: string
  /** Window end, ISO; "" for none (an open incremental window: everything since `from`; a targeted run). */
  readonly to: string
  readonly job: JobSpec
  /** What the run exports besides the window (default: the window's meetings, in full). */
  readonly mode?: RunMode | undefined
  /** Told the run's progress every `progressInterval` while it changes (see `RunProgress`). */
  readonly onProgress?: ((progress: RunProgress.RunProgress) => Effect.Effect<void>) | undefined
  /** Default 2 seconds. */
  readonly progressInterval?: Duration.DurationInput | undefined
  /**
   * Told once when no runner has joined the cluster `noRunnerHintAfter` (default 5 seconds) after the
   * submission: the run waits for one (the submission stays, and a runner started later picks it up).
   */
  readonly onNoRunner?: (() => Effect.Effect<void>) | undefined
  readonly noRunnerHintAfter?: Duration.DurationInput | undefined
  /**
   * How long the cluster's Postgres may stay unreachable before the wait ends with a fatal error (the run
   * itself goes on once it is back; submitting again attaches to it). Default 5 minutes: longer than a
   * restart or failover, as long as the runners' steps retry.
   */
  readonly storageLostAfter?: Duration.DurationInput | undefined
}

/** See `ClusterSyncOptions.storageLostAfter`. */
const DEFAULT_STORAGE_LOST_AFTER = Duration.minutes(5)

const sortedSet = (items: ReadonlyArray<string>) => [...new Set(items)].sort()

/**
 * The export's key: the same export (folder, organizers, window, mode) always has the same one. An open
 * `to` stays "" (not "now"), so resubmitting an open incremental run finds the one in progress. A plain
 * window run's key leaves the mode out (the key runs had before modes existed).
 */
export const windowKey = (o: Pick<ClusterSyncOptions, "organizers" | "from" | "to" | "job" | "mode">): string => {
  const mode = o.mode ?? windowMode
  const plain = !mode.incremental && !mode.adhocCalls && mode.meetingIds.length === 0 &&
    mode.joinUrls.length === 0 && mode.adhocCallIds.length === 0
  const key: Array<unknown> = [o.job.out, [...o.organizers].sort(), o.from, o.to]
  if (!plain) {
    key.push({
      incremental: mode.incremental,
      adhocCalls: mode.adhocCalls,
      meetingIds: sortedSet(mode.meetingIds),
      joinUrls: sortedSet(mode.joinUrls),
      adhocCallIds: sortedSet(mode.adhocCallIds)
    })
  }
  return createHash("sha256").update(JSON.stringify(key)).digest("hex").slice(0, 24)
}

/** The id of the window's current run: its key and how many runs of it were closed before. */
export const currentRunId = (
  o: Pick<ClusterSyncOptions, "organizers" | "from" | "to" | "job" | "mode">
): Effect.Effect<string, SinkError, CheckpointStore.CheckpointStore> =>
  Effect.gen(function*() {
    const checkpoint = yield* CheckpointStore.CheckpointStore
    const prefix = `cluster-${windowKey(o)}-`
    const runs = yield* checkpoint.listRuns
    const closed = runs.filter((r) => r.runId.startsWith(prefix) && r.status !== "running").length
    return `${prefix}${closed + 1}`
  })

/** A client of the cluster (no shards of its own): enough to submit workflows and wait for them. */
export const clientLayer = (clusterUrl: Redacted.Redacted<string>) =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(socketLayer({ clientOnly: true, shardingConfig: shardingTimings })),
    Layer.provideMerge(clusterSqlLayer(clusterUrl))
  )

/**
 * Submits the run (or attaches to the one of the same window in progress) and returns its summary
 * once every runner's part of it is done. `onRun` is told the run id first.
 */
export const clusterSync = (
  options: ClusterSyncOptions,
  onRun: (runId: string) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<RunSummary, SyncFatalError | SinkError> =>
  Effect.gen(function*() {
    const runId = yield* currentRunId(options).pipe(Effect.provide(CheckpointStore.layerPostgres(options.clusterUrl)))
    yield* onRun(runId)
    // Submitting again while the cluster's Postgres restarts finds the same execution: its id is the run's.
    const run = throughStorageOutage(
      runId,
      ExportRun.execute({
        runId,
        organizers: options.organizers,
        from: options.from,
        to: options.to,
        job: options.job,
        mode: options.mode ?? windowMode
      })
    )
    const summary = yield* Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* RunProgress.ensureTable(sql).pipe(Effect.ignore)
      const reportProgress = progressReporter(sql, runId, options)
      const following = yield* Effect.forkScoped(
        Effect.repeat(reportProgress, Schedule.spaced(options.progressInterval ?? "2 seconds"))
      )
      yield* Effect.forkScoped(hintWithoutRunners(sql, options))
      const lostAfter = Duration.decode(options.storageLostAfter ?? DEFAULT_STORAGE_LOST_AFTER)
      const totals = yield* Effect.raceFirst(
        run,
        failWhenUnreachable(sql, lostAfter, () => storageLost(runId, lostAfter))
      )
      // The last word: the run's final progress, whenever the last turn happened to look.
      yield* Fiber.interrupt(following)
      yield* reportProgress
      // The steps' Graph requests, summed in Postgres (each process counts only its own).
      const progress = yield* RunProgress.read(sql, runId).pipe(Effect.option)
      return withRequests(summaryOf(totals), progress._tag === "Some" ? progress.value : undefined)
    }).pipe(
      Effect.scoped,
      // A run that died (a defect its runner stored, e.g. from an older version) is a failed run, not a crash.
      Effect.catchAllDefect((defect) => Effect.fail(setupFatal(`the run ${runId} failed: ${String(defect)}`))),
      Effect.provide(
        Layer.scopedContext(buildRetrying(clientLayer(options.clusterUrl))).pipe(
          Layer.mapError((e) => setupFatal(`cannot join the cluster: ${e.message}`))
        )
      )
    )
    return summary
  })

/** The wait for run `runId` given up: the cluster's Postgres stayed out of reach. */
const storageLost = (runId: string, after: Duration.Duration) =>
  setupFatal(
    `lost the cluster's Postgres: it did not answer for ${Duration.format(after)} while waiting for the run ${runId}`,
    "the run goes on once the runners reach it again: bring Postgres back, then run the same sync again to wait for it"
  )

/** A summary with the request counters of the run's steps. */
const withRequests = (summary: RunSummary, progress: RunProgress.RunProgress | undefined): RunSummary =>
  progress === undefined ? summary : {
    ...summary,
    requests: progress.requests,
    retries: progress.retries,
    throttleWaits: progress.throttled,
    throttleWaitMs: progress.throttleWaitMs
  }

/**
 * Tells `onProgress` the run's progress when it changed since the last time it was told (a database
 * hiccup skips a turn).
 */
const progressReporter = (
  sql: SqlClient.SqlClient,
  runId: string,
  options: ClusterSyncOptions
): Effect.Effect<void> => {
  const onProgress = options.onProgress
  if (onProgress === undefined) return Effect.void
  let last: RunProgress.RunProgress | undefined
  return RunProgress.read(sql, runId).pipe(
    Effect.flatMap((p) => {
      if (last !== undefined && Equal.equals(Data.struct(last), Data.struct(p))) return Effect.void
      last = p
      return onProgress(p)
    }),
    Effect.ignore
  )
}

/** Tells `onNoRunner`, once, that no runner has joined after a while; the run waits on. */
const hintWithoutRunners = (sql: SqlClient.SqlClient, options: ClusterSyncOptions) => {
  const onNoRunner = options.onNoRunner
  if (onNoRunner === undefined) return Effect.void
  const after = Duration.decode(options.noRunnerHintAfter ?? "5 seconds")
  return Effect.sleep(after).pipe(
    Effect.zipRight(RunProgress.liveRunners(sql)),
    Effect.flatMap((n) => (n === 0 ? onNoRunner() : Effect.void))
  )
}
