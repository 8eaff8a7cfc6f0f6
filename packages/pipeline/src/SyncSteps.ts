/**
 * The steps of a sync, one at a time, for runners that spread a run over
 * several processes (`@meeting-artifacts/cluster`): discover one organizer,
 * export one correlated set. Each step runs on the services of `sync`, with
 * the same checkpoint rules (completed content is never fetched again), but
 * writes nothing that only one process may own: the manifest lines and the
 * failures.jsonl changes of a step are returned as data (`StepOutcome`), for
 * the one process that owns `<out>`'s manifest to apply (`applyOutcome`).
 */
import { CallRecording, CallTranscript, GraphClient } from "@meeting-artifacts/api"
import type { ArtifactSet } from "@meeting-artifacts/correlate"
import { CheckpointStore, ContentSink, Failures, Layout, Manifest, RecordSinks } from "@meeting-artifacts/sinks"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Content from "./internal/content.js"
import { exportCheckpoint, recordFailure, type RunContext, sinkFatal, Tally } from "./internal/context.js"
import * as Discover from "./internal/discover.js"
import { isFatal, toFatal } from "./internal/errors.js"
import { organizerSets } from "./internal/organizerSets.js"
import * as Staging from "./internal/staging.js"
import { meteredCost, type RunSummary } from "./RunSummary.js"
import type { SyncFatalError } from "./SyncError.js"
import type { ValidatedSyncOptions } from "./SyncOptions.js"

/** The services a step runs on: those of `sync` without the manifest and failures files. */
export type StepServices = GraphClient | CheckpointStore.CheckpointStore | ContentSink | RecordSinks

const KindCounts = Schema.Struct({ recording: Schema.Number, transcript: Schema.Number })

/** What a step counted (the summary of a run is the sum over its steps). */
export const StepCounts = Schema.Struct({
  discovered: KindCounts,
  downloaded: KindCounts,
  skipped: KindCounts,
  failed: KindCounts,
  otherFailures: Schema.Number,
  minutes: KindCounts,
  bytes: Schema.Number,
  sets: Schema.Number
})
export type StepCounts = typeof StepCounts.Type

/** A change of failures.jsonl, in the order the step made it. */
export const FailureChange = Schema.Union(
  Schema.TaggedStruct("Record", { failure: Failures.FailureRecord }),
  Schema.TaggedStruct("Resolve", { kind: Failures.FailureKind, id: Schema.String })
)
export type FailureChange = typeof FailureChange.Type

/** What one step leaves for the owner of the manifest: its lines, its failures.jsonl changes, its counts. */
export const StepOutcome = Schema.Struct({
  manifest: Schema.Array(Manifest.ManifestEntry),
  failures: Schema.Array(FailureChange),
  counts: StepCounts
})
export type StepOutcome = typeof StepOutcome.Type

const DiscoveredArtifacts = Schema.Struct({
  recordings: Schema.Array(CallRecording),
  transcripts: Schema.Array(CallTranscript)
})

/** A delta link to store once the run that listed it has exported everything it listed. */
export const DeltaLink = Schema.Struct({
  key: Schema.Struct({
    organizerId: Schema.String,
    windowFrom: Schema.String,
    windowTo: Schema.String,
    kind: Schema.String
  }),
  link: Schema.String
})
export type DeltaLink = typeof DeltaLink.Type

/**
 * One organizer's discovery: its artifacts (deduplicated by id), its ad hoc call artifacts, the listed
 * meetings / join URLs / calls it had (targeted runs), the delta links to store at the end of the run
 * (incremental runs) and the step's outcome (failures only).
 */
export const Discovered = Schema.Struct({
  recordings: Schema.Array(CallRecording),
  transcripts: Schema.Array(CallTranscript),
  adhoc: Schema.optionalWith(DiscoveredArtifacts, { default: () => ({ recordings: [], transcripts: [] }) }),
  found: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  deltaLinks: Schema.optionalWith(Schema.Array(DeltaLink), { default: () => [] }),
  outcome: StepOutcome
})
export type Discovered = typeof Discovered.Type

export const emptyCounts: StepCounts = {
  discovered: { recording: 0, transcript: 0 },
  downloaded: { recording: 0, transcript: 0 },
  skipped: { recording: 0, transcript: 0 },
  failed: { recording: 0, transcript: 0 },
  otherFailures: 0,
  minutes: { recording: 0, transcript: 0 },
  bytes: 0,
  sets: 0
}

const addKinds = (a: typeof KindCounts.Type, b: typeof KindCounts.Type) => ({
  recording: a.recording + b.recording,
  transcript: a.transcript + b.transcript
})

/** The sum of two steps' counts. */
export const addCounts = (a: StepCounts, b: StepCounts): StepCounts => ({
  discovered: addKinds(a.discovered, b.discovered),
  downloaded: addKinds(a.downloaded, b.downloaded),
  skipped: addKinds(a.skipped, b.skipped),
  failed: addKinds(a.failed, b.failed),
  otherFailures: a.otherFailures + b.otherFailures,
  minutes: addKinds(a.minutes, b.minutes),
  bytes: a.bytes + b.bytes,
  sets: a.sets + b.sets
})

const countsOf = (t: Tally): StepCounts => ({
  discovered: { ...t.discovered },
  downloaded: { ...t.downloaded },
  skipped: { ...t.skipped },
  failed: { ...t.failed },
  otherFailures: t.otherFailures,
  minutes: { ...t.minutes },
  bytes: t.bytes,
  sets: t.sets
})

/** A manifest that keeps the lines of one step in memory. */
const capturingManifest = (out: string, lines: Array<Manifest.ManifestEntry>): Manifest.ManifestService => ({
  path: nodePath.join(out, Manifest.MANIFEST_FILE),
  entries: Effect.sync(() => lines),
  upsert: (entries) =>
    Effect.sync(() => {
      for (const e of Array.isArray(entries) ? entries : [entries as Manifest.ManifestEntry]) lines.push(e)
    }),
  // the step's lines are written by the workflow after it: a set's folders are always made durable first
  holds: () => false,
  flush: Effect.void
})

/** A failure log that keeps the changes of one step in memory. */
const capturingFailures = (out: string, changes: Array<FailureChange>): Failures.FailureLogService => ({
  path: nodePath.join(out, Failures.FAILURES_FILE),
  entries: Effect.succeed([]),
  record: (failure) => Effect.sync(() => void changes.push({ _tag: "Record", failure })),
  resolve: (kind, id) => Effect.sync(() => void changes.push({ _tag: "Resolve", kind, id })),
  clear: Effect.void
})

/** What a step needs besides the services: the run it belongs to and the runner's download slots. */
export interface StepContext {
  readonly options: ValidatedSyncOptions
  readonly runId: string
  /** Content downloads in flight in this process (shared by every step it runs). */
  readonly downloadSlots: Effect.Semaphore
}

const withStepContext = <A>(
  step: StepContext,
  body: (ctx: RunContext) => Effect.Effect<A, SyncFatalError>
): Effect.Effect<{ readonly value: A; readonly outcome: StepOutcome }, SyncFatalError, StepServices> =>
  Effect.gen(function*() {
    const out = nodePath.resolve(step.options.out)
    const lines: Array<Manifest.ManifestEntry> = []
    const changes: Array<FailureChange> = []
    const tally = new Tally(true)
    const ctx: RunContext = {
      opts: step.options,
      runId: step.runId,
      out,
      windowFrom: step.options.from ?? "",
      windowTo: step.options.to ?? "",
      graph: yield* GraphClient,
      checkpoint: yield* exportCheckpoint(out),
      content: yield* ContentSink,
      manifest: capturingManifest(out, lines),
      failures: capturingFailures(out, changes),
      recordSinks: yield* RecordSinks,
      staging: Staging.make(nodePath.join(out, Layout.STATE_DIR, "staging")),
      downloadSlots: step.downloadSlots,
      tally
    }
    const value = yield* body(ctx)
    return { value, outcome: { manifest: lines, failures: changes, counts: countsOf(tally) } }
  })

const noDiscovery = {
  recordings: [],
  transcripts: [],
  adhoc: { recordings: [], transcripts: [] },
  found: [],
  deltaLinks: []
} as const

/**
 * Discovers one organizer's artifacts as `sync` does: the window's listing (from the stored delta links
 * in an incremental run), or the listed meetings, join URLs (resolved here, with the step's Graph
 * credential) and ad hoc calls. Stores nothing: the delta links come back in the result, to be stored
 * with `commitDeltaLinks` once the run exported what was listed. A Graph failure of the organizer
 * becomes a failure in the outcome; a fatal one fails.
 */
export const discoverOrganizer = (
  step: StepContext,
  organizerId: string
): Effect.Effect<Discovered, SyncFatalError, StepServices> =>
  Effect.map(
    withStepContext(step, (ctx) => {
      const discover = Discover.make(ctx)
      return (Discover.isTargeted(ctx.opts) ? discover.discoverTargeted : discover.discoverWindow)(organizerId).pipe(
        Effect.map((d) => ({
          recordings: dedupe(d.recordings),
          transcripts: dedupe(d.transcripts),
          adhoc: { recordings: dedupe(d.adhoc.recordings), transcripts: dedupe(d.adhoc.transcripts) },
          found: [...d.found],
          deltaLinks: [...d.deltaLinks]
        })),
        Effect.catchAll((e) =>
          e._tag === "SyncFatalError"
            ? Effect.fail(e)
            : e._tag === "SinkError"
            ? Effect.fail(sinkFatal(e))
            : isFatal(e, "discovery")
            ? Effect.fail(toFatal(e))
            : Effect.as(recordFailure(ctx)("organizer", organizerId, null, organizerId, e.message, e), noDiscovery)
        )
      )
    }),
    ({ outcome, value }) => ({ ...value, outcome })
  )

const dedupe = <A extends { readonly id: string }>(items: Iterable<A>): Array<A> => {
  const map = new Map<string, A>()
  for (const a of items) map.set(a.id, a)
  return [...map.values()]
}

/**
 * Exports one correlated set: its content made complete in the content sink (skipped when the
 * checkpoint has it complete, so a retried or replayed step fetches nothing twice), its record-sink
 * rows written, its manifest line returned in the outcome.
 */
export const exportSet = (
  step: StepContext,
  set: ArtifactSet
): Effect.Effect<StepOutcome, SyncFatalError, StepServices> =>
  Effect.map(
    withStepContext(step, (ctx) =>
      // The checkpoint is read when the step runs (a retry or replay sees what an earlier attempt completed).
      Effect.flatMap(
        Content.lookUpCompleted(ctx.checkpoint, [set], ctx.opts.metadataContent),
        (completed) => Content.make(ctx).processSet(set, completed)
      )),
    ({ outcome }) => outcome
  )

/**
 * The correlated sets of a run from its organizers' discoveries, taken in the order given: an artifact
 * listed under several organizers goes with the first (deterministic, so a replay makes the same sets).
 * `discovered` counts the artifacts in them, as `sync` counts discovered ones.
 */
export const runSets = (
  discoveries: ReadonlyArray<Discovered & { readonly organizerId: string }>
): { readonly sets: ReadonlyArray<ArtifactSet>; readonly discovered: StepCounts["discovered"] } => {
  const seen = new Set<string>()
  const sets = discoveries.flatMap((d) => organizerSets(seen, d.organizerId, d))
  return {
    sets,
    discovered: {
      recording: sets.filter((s) => s.recording !== null).length,
      transcript: sets.filter((s) => s.transcript !== null).length
    }
  }
}

/**
 * A targeted run's meetings, join URLs and ad hoc calls that no organizer had (`found`: the union of
 * the discoveries' `found`): failures in the outcome (and dead letters), as `sync` reports them.
 */
export const reportMissingTargets = (
  step: StepContext,
  found: ReadonlyArray<string>
): Effect.Effect<StepOutcome, SyncFatalError, StepServices> =>
  Effect.map(
    withStepContext(
      step,
      (ctx) => Discover.isTargeted(ctx.opts) ? Discover.reportMissingTargets(ctx, new Set(found)) : Effect.void
    ),
    ({ outcome }) => outcome
  )

/** Stores a run's delta links: only once every set its discoveries listed was exported (and written). */
export const commitDeltaLinks = (
  links: ReadonlyArray<DeltaLink>
): Effect.Effect<void, SyncFatalError, CheckpointStore.CheckpointStore> =>
  Effect.flatMap(
    CheckpointStore.CheckpointStore,
    (checkpoint) => Discover.commitDeltaLinks(checkpoint, links).pipe(Effect.mapError(sinkFatal))
  )

/**
 * Applies steps' outcomes to `<out>`'s manifest and failures.jsonl (in the order given): what a
 * single-process sync would have written as it went.
 */
export const applyOutcomes = (
  outcomes: ReadonlyArray<StepOutcome>,
  manifest: Manifest.ManifestService,
  failures: Failures.FailureLogService
): Effect.Effect<void, SyncFatalError> =>
  Effect.forEach(outcomes, (o) =>
    Effect.zipRight(
      o.manifest.length === 0 ? Effect.void : manifest.upsert(o.manifest),
      Effect.forEach(o.failures, (c) =>
        c._tag === "Record"
          ? failures.record(c.failure)
          : failures.resolve(c.kind, c.id), { discard: true })
    ), { discard: true }).pipe(
      Effect.zipRight(manifest.flush),
      Effect.mapError(sinkFatal)
    )

/** What a run made of steps reports at its end (the summary is built from it by `summaryOf`). */
export const StepsTotals = Schema.Struct({
  runId: Schema.String,
  startedAt: Schema.String,
  finishedAt: Schema.String,
  organizers: Schema.Number,
  counts: StepCounts,
  out: Schema.String,
  /** Whether discovery resumed from the stored delta links (the summary says so). */
  incremental: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
export type StepsTotals = typeof StepsTotals.Type

/** Failures counted in a run's summary (and deciding its exit code 1). */
export const failureCount = (c: StepCounts): number => c.failed.recording + c.failed.transcript + c.otherFailures

/**
 * The summary of a run made of steps, like `sync`'s. Graph request counts are per process, so a run
 * spread over several has none to report here (0); the emulator's or Graph's own counters have them.
 */
export const summaryOf = (t: StepsTotals): RunSummary => {
  const kind = (k: "recording" | "transcript") => ({
    discovered: t.counts.discovered[k],
    downloaded: t.counts.downloaded[k],
    skipped: t.counts.skipped[k],
    failed: t.counts.failed[k]
  })
  return {
    runId: t.runId,
    startedAt: t.startedAt,
    finishedAt: t.finishedAt,
    elapsedMs: Date.parse(t.finishedAt) - Date.parse(t.startedAt),
    dryRun: false,
    incremental: t.incremental,
    organizers: t.organizers,
    sets: t.counts.sets,
    recordings: kind("recording"),
    transcripts: kind("transcript"),
    bytes: t.counts.bytes,
    requests: 0,
    retries: 0,
    throttleWaits: 0,
    throttleWaitMs: 0,
    recordingMinutes: t.counts.minutes.recording,
    transcriptMinutes: t.counts.minutes.transcript,
    cost: meteredCost(t.counts.minutes.recording, t.counts.minutes.transcript),
    failures: failureCount(t.counts),
    out: t.out,
    manifest: nodePath.join(t.out, Manifest.MANIFEST_FILE),
    failuresFile: nodePath.join(t.out, Failures.FAILURES_FILE)
  }
}
