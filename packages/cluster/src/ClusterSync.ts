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
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import { clusterSqlLayer, shardingTimings } from "./ClusterRunner.js"
import { ExportRun, type JobSpec, type RunMode, windowMode } from "./ExportWorkflows.js"
import { buildRetrying } from "./internal/buildRetrying.js"
import { setupFatal } from "./internal/jobResources.js"
import { socketLayer } from "./internal/socketLayer.js"

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
}

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
    const totals = yield* ExportRun.execute({
      runId,
      organizers: options.organizers,
      from: options.from,
      to: options.to,
      job: options.job,
      mode: options.mode ?? windowMode
    }).pipe(
      Effect.provide(
        Layer.scopedContext(buildRetrying(clientLayer(options.clusterUrl))).pipe(
          Layer.mapError((e) => setupFatal(`cannot join the cluster: ${e.message}`))
        )
      )
    )
    return summaryOf(totals)
  })
