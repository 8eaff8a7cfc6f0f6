/**
 * What the workflows of ../ExportWorkflows.ts do on a runner. Every side effect is an activity (its
 * result is stored, so a replay does not run it again); the rest is deterministic over stored results.
 */
import { type CallRecording, type CallTranscript } from "@meeting-artifacts/api"
import { type ArtifactSet, correlate } from "@meeting-artifacts/correlate"
import {
  addCounts,
  applyOutcomes,
  discoverOrganizer,
  emptyCounts,
  exportSet,
  failureCount,
  StepOutcome,
  StepsTotals,
  SyncFatalError
} from "@meeting-artifacts/pipeline"
import { CheckpointStore, Failures, Manifest, RecordSinks, RunLock } from "@meeting-artifacts/sinks"
import * as Activity from "@effect/workflow/Activity"
import * as fsp from "node:fs/promises"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { DiscoverOrganizer, ExportRun, ExportSet, type RunPayload } from "../ExportWorkflows.js"
import { JobResources, setupFatal, withJob } from "./jobResources.js"

/** Organizers discovered at the same time (as in a single-process sync). */
const ORGANIZER_CONCURRENCY = 4
/** Sets in flight per run, cluster-wide (downloads are bounded per runner by the job's concurrency). */
const SET_CONCURRENCY = 256

const sinkFatal = (e: { readonly message: string }) => setupFatal(e.message)

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
 * only writer of the manifest), then closes the run record.
 */
const finishRun = (run: RunPayload, startedAt: string, outcomes: ReadonlyArray<StepOutcome>) =>
  withJob(run, () =>
    Effect.gen(function*() {
      const checkpoint = yield* CheckpointStore.CheckpointStore
      const recordSinks = yield* RecordSinks
      yield* RunLock.lockFolder(run.job.out).pipe(
        Effect.mapError((e) => setupFatal(e.message, "stop the single-process sync writing this folder"))
      )
      const manifest = yield* Manifest.make(run.job.out).pipe(Effect.mapError(sinkFatal))
      const failures = yield* Failures.make(run.job.out).pipe(Effect.mapError(sinkFatal))
      yield* applyOutcomes(outcomes, manifest, failures)
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
        out: run.job.out
      } satisfies StepsTotals
    }).pipe(Effect.scoped))

/** A run that failed is closed as such, so the next submission of its window starts a new one. */
const failRun = (run: RunPayload) =>
  withJob(
    run,
    () =>
      Effect.flatMap(CheckpointStore.CheckpointStore, (checkpoint) =>
        checkpoint.finishRun(run.runId, { status: "failed", counts: {} }).pipe(Effect.mapError(sinkFatal)))
  )

/**
 * The sets of a run from its organizers' discoveries, in organizer order: an artifact listed under
 * several organizers goes with the first (deterministic, so a replay makes the same children).
 */
const setsOf = (
  discovered: ReadonlyArray<{
    readonly organizerId: string
    readonly recordings: ReadonlyArray<CallRecording>
    readonly transcripts: ReadonlyArray<CallTranscript>
  }>
) => {
  const seen = new Set<string>()
  const sets: Array<ArtifactSet> = []
  const counts = { recording: 0, transcript: 0 }
  for (const d of discovered) {
    const recordings = d.recordings.filter((r) => !seen.has(`r:${r.id}`))
    const transcripts = d.transcripts.filter((t) => !seen.has(`t:${t.id}`))
    for (const r of recordings) seen.add(`r:${r.id}`)
    for (const t of transcripts) seen.add(`t:${t.id}`)
    counts.recording += recordings.length
    counts.transcript += transcripts.length
    sets.push(...correlate(recordings, transcripts, { organizerId: d.organizerId }))
  }
  return { sets, discovered: counts }
}

const exportRunLayer = ExportRun.toLayer((run) =>
  Effect.gen(function*() {
    const startedAt = yield* Activity.make({
      name: "start",
      success: Schema.String,
      error: SyncFatalError,
      execute: startRun(run)
    })
    const discovered = yield* Effect.forEach(
      run.organizers,
      (organizerId) => Effect.map(DiscoverOrganizer.execute({ run, organizerId }), (d) => ({ ...d, organizerId })),
      { concurrency: ORGANIZER_CONCURRENCY }
    )
    const { discovered: found, sets } = setsOf(discovered)
    const outcomes = yield* Effect.forEach(sets, (set) => ExportSet.execute({ run, set }), {
      concurrency: SET_CONCURRENCY
    })
    const discoveryOutcome: StepOutcome = {
      manifest: [],
      failures: [],
      counts: { ...emptyCounts, discovered: found }
    }
    return yield* Activity.make({
      name: "finish",
      success: StepsTotals,
      error: SyncFatalError,
      execute: finishRun(run, startedAt, [...discovered.map((d) => d.outcome), discoveryOutcome, ...outcomes])
    })
  }).pipe(
    Effect.tapError(() => Activity.make({ name: "failed", error: SyncFatalError, execute: failRun(run) }))
  )
)

const discoverLayer = DiscoverOrganizer.toLayer(({ organizerId, run }) =>
  Activity.make({
    name: "discover",
    success: DiscoverOrganizer.successSchema,
    error: SyncFatalError,
    execute: withJob(run, (ctx) => discoverOrganizer(ctx, organizerId))
  })
)

const exportSetLayer = ExportSet.toLayer(({ run, set }) =>
  Activity.make({
    name: "export",
    success: StepOutcome,
    error: SyncFatalError,
    execute: withJob(run, (ctx) => exportSet(ctx, set))
  })
)

/** The three workflows, registered with the engine. */
export const workflowsLayer = Layer.mergeAll(exportRunLayer, discoverLayer, exportSetLayer)

export type { JobResources }
