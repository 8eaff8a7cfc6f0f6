/**
 * What the workflows of ../ExportWorkflows.ts do on a runner. Every side effect is an activity (its
 * result is stored, so a replay does not run it again); the rest is deterministic over stored results.
 */
import { tallyRequests } from "@meeting-artifacts/api"
import {
  addCounts,
  applyOutcomes,
  commitDeltaLinks,
  type DeltaLink,
  discoverOrganizer,
  emptyCounts,
  exportSet,
  failureCount,
  reportMissingTargets,
  runSets,
  StepOutcome,
  StepsTotals,
  SyncFatalError
} from "@meeting-artifacts/pipeline"
import { CheckpointStore, Failures, Manifest, RecordSinks, RunLock } from "@meeting-artifacts/sinks"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Activity from "@effect/workflow/Activity"
import * as fsp from "node:fs/promises"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { DiscoverOrganizer, ExportRun, ExportSet, type RunPayload, setKey } from "../ExportWorkflows.js"
import * as RunProgress from "../RunProgress.js"
import { JobResources, setupFatal, withJob } from "./jobResources.js"
import { retryStep, throughStorageOutage } from "./stepRetry.js"

/** Organizers discovered at the same time (as in a single-process sync). */
const ORGANIZER_CONCURRENCY = 4
/**
 * Sets in flight per run, cluster-wide (downloads are bounded per runner by the job's concurrency).
 * Enough to keep every download slot of a dozen runners busy; few enough that downloads start while
 * later sets are still being dispatched, and that the shard hash's uneven split costs little at the
 * end: sets go out as others finish, so the last runner to finish holds its share of this many, not of
 * the whole run's.
 */
const SET_CONCURRENCY = 64

const sinkFatal = (e: { readonly message: string }) => setupFatal(e.message)

const progressFatal = (e: { readonly message: string }) => setupFatal(`cannot record the run's progress: ${e.message}`)

/**
 * A step of a run on its job's services, its Graph requests counted and, with what it counted, recorded
 * in the run's progress (`RunProgress`); retried while its failure may pass (`retryStep`).
 */
const progressStep = <A>(
  run: RunPayload,
  step: string,
  body: Parameters<typeof withJob<A>>[1],
  countsOf: (a: A) => StepOutcome["counts"]
) =>
  retryStep(
    step,
    Effect.gen(function*() {
      const [value, tally] = yield* withJob(run, (ctx) => tallyRequests(body(ctx)))
      const sql = yield* SqlClient.SqlClient
      yield* RunProgress.recordStep(sql, run.runId, step, countsOf(value), tally).pipe(Effect.mapError(progressFatal))
      return value
    })
  )

/** Records the run's plan: how many sets it exports. */
const recordPlan = (run: RunPayload, sets: number) =>
  retryStep(
    "plan",
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      RunProgress.recordPlan(sql, run.runId, sets).pipe(Effect.mapError(progressFatal)))
  )

/** Records the run as started (checkpoint and record sinks); returns its start time. */
const startRun = (run: RunPayload) =>
  withJob(run, () =>
    Effect.gen(function*() {
      const checkpoint = yield* CheckpointStore.CheckpointStore
      const recordSinks = yield* RecordSinks
      yield* Effect.tryPromise({
        try: () => fsp.mkdir(run.job.out, { recursive: true }),
        catch: (e) => setupFatal(`cannot create the output folder ${run.job.out}: ${String(e)}`)
      })
      const record = yield* checkpoint.startRun({
        runId: run.runId,
        windowFrom: run.from,
        windowTo: run.to,
        organizers: run.organizers
      }).pipe(Effect.mapError(sinkFatal))
      yield* Effect.forEach(recordSinks, (s) => s.writeRun(record), { discard: true }).pipe(Effect.mapError(sinkFatal))
      return record.startedAt
    }))

/**
 * Writes what the steps left (manifest lines, failures.jsonl changes) under `<out>`'s folder lock (the
 * only writer of the manifest), then stores the discoveries' delta links (an incremental run: the next
 * one resumes after what this one exported and wrote) and closes the run record.
 */
const finishRun = (
  run: RunPayload,
  startedAt: string,
  outcomes: ReadonlyArray<StepOutcome>,
  deltaLinks: ReadonlyArray<DeltaLink>
) =>
  withJob(run, () =>
    Effect.gen(function*() {
      const checkpoint = yield* CheckpointStore.CheckpointStore
      const recordSinks = yield* RecordSinks
      yield* RunLock.lockFolder(run.job.out).pipe(
        Effect.mapError((e) => setupFatal(e.message, "stop the single-process sync writing this folder"))
      )
      const manifest = yield* Manifest.scoped(run.job.out).pipe(Effect.mapError(sinkFatal))
      const failures = yield* Failures.make(run.job.out).pipe(Effect.mapError(sinkFatal))
      yield* applyOutcomes(outcomes, manifest, failures)
      yield* commitDeltaLinks(deltaLinks)
      const counts = outcomes.reduce((acc, o) => addCounts(acc, o.counts), emptyCounts)
      const failed = failureCount(counts)
      yield* checkpoint.finishRun(run.runId, {
        status: failed > 0 ? "partial" : "succeeded",
        counts: {
          sets: counts.sets,
          recordingsDownloaded: counts.downloaded.recording,
          transcriptsDownloaded: counts.downloaded.transcript,
          skipped: counts.skipped.recording + counts.skipped.transcript,
          failures: failed,
          bytes: counts.bytes
        }
      }).pipe(Effect.mapError(sinkFatal))
      const record = yield* checkpoint.getRun(run.runId).pipe(Effect.mapError(sinkFatal))
      if (Option.isSome(record)) {
        yield* Effect.forEach(recordSinks, (s) => s.writeRun(record.value), { discard: true }).pipe(
          Effect.mapError(sinkFatal)
        )
      }
      return {
        runId: run.runId,
        startedAt,
        finishedAt: new Date().toISOString(),
        organizers: run.organizers.length,
        counts,
        out: run.job.out,
        incremental: run.mode.incremental
      } satisfies StepsTotals
    }).pipe(Effect.scoped))

/**
 * A run that failed is closed as such, so the next submission of its window starts a new one. Only on
 * the checkpoint store (the cluster's Postgres), not on the job's services: a run can fail because those
 * cannot be set up (a credential missing on this runner), before its record was written; it is written
 * here then, so that it is closed all the same.
 */
const failRun = (run: RunPayload) =>
  Effect.gen(function*() {
    const checkpoint = yield* CheckpointStore.CheckpointStore
    const record = yield* checkpoint.getRun(run.runId)
    if (Option.isNone(record)) {
      yield* checkpoint.startRun({
        runId: run.runId,
        windowFrom: run.from,
        windowTo: run.to,
        organizers: run.organizers
      })
    }
    yield* checkpoint.finishRun(run.runId, { status: "failed", counts: {} })
  }).pipe(Effect.mapError(sinkFatal))

const exportRunLayer = ExportRun.toLayer((run) =>
  Effect.gen(function*() {
    const startedAt = yield* throughStorageOutage(
      "start",
      Activity.make({
        name: "start",
        success: Schema.String,
        error: SyncFatalError,
        execute: retryStep("start", startRun(run))
      })
    )
    const discovered = yield* Effect.forEach(
      run.organizers,
      (organizerId) =>
        Effect.map(
          throughStorageOutage(`discover/${organizerId}`, DiscoverOrganizer.execute({ run, organizerId })),
          (d) => ({ ...d, organizerId })
        ),
      { concurrency: ORGANIZER_CONCURRENCY }
    )
    const { discovered: found, sets } = runSets(discovered)
    // A targeted run's meetings, join URLs and calls no organizer had: failures, reported once.
    const missing = yield* throughStorageOutage(
      "missing-targets",
      Activity.make({
        name: "missing-targets",
        success: StepOutcome,
        error: SyncFatalError,
        execute: retryStep(
          "missing-targets",
          withJob(run, (ctx) => reportMissingTargets(ctx, discovered.flatMap((d) => d.found)))
        )
      })
    )
    yield* throughStorageOutage(
      "plan",
      Activity.make({ name: "plan", error: SyncFatalError, execute: recordPlan(run, sets.length) })
    )
    const outcomes = yield* Effect.forEach(
      sets,
      (set) => throughStorageOutage(`set/${setKey(set)}`, ExportSet.execute({ run, set })),
      { concurrency: SET_CONCURRENCY }
    )
    const discoveryOutcome: StepOutcome = {
      manifest: [],
      failures: [],
      counts: { ...emptyCounts, discovered: found }
    }
    return yield* throughStorageOutage(
      "finish",
      Activity.make({
        name: "finish",
        success: StepsTotals,
        error: SyncFatalError,
        execute: retryStep(
          "finish",
          finishRun(
            run,
            startedAt,
            [...discovered.map((d) => d.outcome), discoveryOutcome, ...outcomes, missing],
            discovered.flatMap((d) => d.deltaLinks)
          )
        )
      })
    )
  }).pipe(
    // A defect of the run's own code (its steps' come back as failures) fails the run like a fatal error.
    Effect.catchAllDefect((defect) => Effect.fail(setupFatal(`the run failed: ${String(defect)}`))),
    // Closed as failed, so the next submission of its window starts a new run instead of attaching to this one.
    Effect.tapError(() =>
      throughStorageOutage(
        "failed",
        Activity.make({ name: "failed", error: SyncFatalError, execute: retryStep("failed", failRun(run)) })
      )
    )
  )
)

const discoverLayer = DiscoverOrganizer.toLayer(({ organizerId, run }) =>
  throughStorageOutage(
    `discover/${organizerId}`,
    Activity.make({
      name: "discover",
      success: DiscoverOrganizer.successSchema,
      error: SyncFatalError,
      execute: progressStep(
        run,
        `discover/${organizerId}`,
        (ctx) => discoverOrganizer(ctx, organizerId),
        (d) => d.outcome.counts
      )
    })
  )
)

const exportSetLayer = ExportSet.toLayer(({ run, set }) =>
  throughStorageOutage(
    `set/${setKey(set)}`,
    Activity.make({
      name: "export",
      success: StepOutcome,
      error: SyncFatalError,
      execute: progressStep(run, `set/${setKey(set)}`, (ctx) => exportSet(ctx, set), (o) => o.counts)
    })
  )
)

/** The three workflows, registered with the engine. */
export const workflowsLayer = Layer.mergeAll(exportRunLayer, discoverLayer, exportSetLayer)

export type { JobResources }
