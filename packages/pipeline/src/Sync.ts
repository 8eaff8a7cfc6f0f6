/**
 * The sync job: for each organizer, discover the artifacts of a window (or of
 * listed meetings / join URLs, or from stored delta links), correlate them,
 * download content with bounded concurrency, write it through the sinks, and
 * checkpoint each artifact and set as it completes.
 *
 * Guarantees, whatever happens to the process:
 * - content the checkpoint records as completed, with its file intact, is
 *   never downloaded again; content whose body fully arrived before a kill is
 *   finished from the staging area instead of being fetched again;
 * - files appear under their final names only complete (atomic writes);
 * - the manifest keeps each recording id and transcript id in exactly one line;
 * - per-item failures are dead-lettered (checkpoint + `failures.jsonl`) and
 *   the run goes on; only app/tenant-wide failures stop it.
 */
import type { GraphError, GraphStats } from "@meeting-artifacts/api"
import { GraphClient, handleRetries } from "@meeting-artifacts/api"
import {
  CheckpointStore,
  ContentSink,
  Failures,
  FileSystemSink,
  Layout,
  Manifest,
  RecordSinks
} from "@meeting-artifacts/sinks"
import { randomUUID } from "node:crypto"
import * as nodePath from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Content from "./internal/content.js"
import {
  exportCheckpoint,
  recordFailure as makeRecordFailure,
  type RunContext,
  sinkFatal,
  Tally
} from "./internal/context.js"
import * as Discover from "./internal/discover.js"
import { EarlyDownloads } from "./internal/earlyDownloads.js"
import { isFatal, toFatal } from "./internal/errors.js"
import { organizerSets } from "./internal/organizerSets.js"
import * as Staging from "./internal/staging.js"
import { emit } from "./Progress.js"
import { type ArtifactKind, ProgressEvent } from "./ProgressEvent.js"
import { meteredCost, type RunSummary } from "./RunSummary.js"
import type { InvalidSyncOptions, SyncFatalError } from "./SyncError.js"
import { type SyncOptions, validateSyncOptions, type ValidatedSyncOptions } from "./SyncOptions.js"

/** The services `sync` runs on (see `syncLayer` for the default set). */
export type SyncServices =
  | GraphClient
  | CheckpointStore.CheckpointStore
  | ContentSink
  | Manifest.Manifest
  | Failures.FailureLog
  | RecordSinks

/** Organizers discovered and processed at the same time. */
const ORGANIZER_CONCURRENCY = 4

/**
 * Sets of an organizer in progress per download slot. A download waiting out a Retry-After gives its
 * slot back meanwhile (see holdingSlot): the sets after its own go on downloading instead of waiting with
 * it. The slots still bound the downloads in flight. (Early downloads stay at one per slot: more would
 * join the first burst of requests, which a budget of a few requests a second refuses.)
 */
const IN_PROGRESS_PER_SLOT = 4

/**
 * Runs one sync. Fails only for invalid options or a fatal error (auth,
 * tenant-wide 403/402, unusable storage); per-item failures are counted in
 * the summary (`failures`) and listed in `<out>/failures.jsonl`.
 */
export const sync = (
  options: SyncOptions
): Effect.Effect<RunSummary, InvalidSyncOptions | SyncFatalError, SyncServices> =>
  Effect.flatMap(validateSyncOptions(options), (opts) =>
    // Every retry of a Graph request is announced, so a run that waits on an unreachable or failing
    // server says so instead of staying silent.
    handleRetries(
      options.concurrency === undefined
        // Unset: as many downloads as the client allows (one knob, GraphPolicy.maxConcurrentDownloads).
        ? Effect.flatMap(GraphClient, (graph) => run({ ...opts, concurrency: graph.policy.maxConcurrentDownloads }))
        : run(opts),
      (r) => emit(ProgressEvent.Retrying(r))
    ))

const run = (opts: ValidatedSyncOptions): Effect.Effect<RunSummary, SyncFatalError, SyncServices> =>
  Effect.gen(function*() {
    const graph = yield* GraphClient
    const out = nodePath.resolve(opts.out)
    const checkpoint = yield* exportCheckpoint(out)
    const content = yield* ContentSink
    const manifest = yield* Manifest.Manifest
    const failures = yield* Failures.FailureLog
    const recordSinks = yield* RecordSinks
    const staging = Staging.make(nodePath.join(out, Layout.STATE_DIR, "staging"))
    // the part writer's worker (large downloads) ends with the run, not after its idle delay
    yield* Effect.addFinalizer(() => staging.close)
    const startedAt = new Date()
    const stats0 = yield* graph.stats
    const tally = new Tally(!opts.dryRun)
    const windowFrom = opts.from ?? ""
    const windowTo = opts.to ?? ""
    const downloadSlots = yield* Effect.makeSemaphore(opts.concurrency)

    let runId: string = randomUUID()
    if (!opts.dryRun) {
      const record = yield* checkpoint.startRun({ runId, windowFrom, windowTo, organizers: opts.organizers }).pipe(
        Effect.mapError(sinkFatal)
      )
      runId = record.runId
      yield* Effect.forEach(recordSinks, (s) => s.writeRun(record), { discard: true }).pipe(Effect.mapError(sinkFatal))
      yield* staging.sweep
      // Temp files of atomic writes a killed run left behind (never under final names).
      yield* FileSystemSink.removeTempFiles(out).pipe(Effect.mapError(sinkFatal))
    }
    yield* Effect.annotateCurrentSpan("sync.run_id", runId)
    yield* emit(ProgressEvent.RunStarted({
      runId,
      organizers: opts.organizers,
      from: opts.from,
      to: opts.to,
      incremental: opts.incremental,
      dryRun: opts.dryRun
    }))

    const statsEvent = (s: GraphStats) =>
      ProgressEvent.Stats({
        requests: s.requests - stats0.requests,
        retries: s.retries - stats0.retries,
        throttleWaits: s.throttled - stats0.throttled,
        throttleWaitMs: s.throttleWaitMs - stats0.throttleWaitMs
      })
    yield* graph.stats.pipe(
      Effect.flatMap((s) => emit(statsEvent(s))),
      Effect.repeat(Schedule.spaced(Duration.millis(500))),
      Effect.forkScoped
    )

    const ctx: RunContext = {
      opts,
      runId,
      out,
      windowFrom,
      windowTo,
      graph,
      checkpoint,
      content,
      manifest,
      failures,
      recordSinks,
      staging,
      downloadSlots,
      // (the run's scope: a set may take a download another organizer's listing started)
      earlyDownloads: opts.dryRun ? undefined : new EarlyDownloads(yield* Effect.scope, opts.concurrency),
      tally
    }
    const recordFailure = makeRecordFailure(ctx)
    const { downloadEarly, planSet, processSet } = Content.make(ctx)
    const { discoverTargeted, discoverWindow } = Discover.make(ctx, downloadEarly)

    /** Graph errors of discovery: fatal ones stop the run, others become a failure of the organizer. */
    const discoveryFailed = (organizerId: string, e: GraphError) =>
      isFatal(e, "discovery")
        ? Effect.fail(toFatal(e))
        : Effect.as(recordFailure("organizer", organizerId, null, organizerId, e.message, e), null)

    // -- the run ----------------------------------------------------------------------------
    const seen = new Set<string>()
    const found = new Set<string>()
    const targeted = Discover.isTargeted(opts)
    // Organizers run side by side (discovery pages are sequential per organizer, so this overlaps one
    // organizer's paging and throttle waits with another's downloads); content downloads stay bounded
    // by the shared download slots. A window listing's artifacts start downloading as its pages arrive;
    // their sets (formed once both listings are complete) take those downloads.
    yield* Effect.forEach(opts.organizers, (organizerId) =>
      Effect.gen(function*() {
        const discovery = yield* (targeted ? discoverTargeted(organizerId) : discoverWindow(organizerId)).pipe(
          Effect.withSpan("sync.discover", { attributes: { "sync.organizer_id": organizerId } }),
          Effect.catchAll((e) =>
            e._tag === "SyncFatalError"
              ? Effect.fail(e)
              : e._tag === "SinkError"
              ? Effect.fail(sinkFatal(e))
              : discoveryFailed(organizerId, e)
          )
        )
        if (discovery === null) return
        for (const f of discovery.found) found.add(f)
        // An artifact already handled in this run (another organizer's listing) is not handled twice.
        const sets = organizerSets(seen, organizerId, discovery)
        const recordings = sets.flatMap((set) => (set.recording === null ? [] : [set.recording]))
        const transcripts = sets.flatMap((set) => (set.transcript === null ? [] : [set.transcript]))
        tally.discovered.recording += recordings.length
        tally.discovered.transcript += transcripts.length
        // One look-up of the checkpoint for every artifact of the organizer: the pending count and the
        // processing below both read it.
        const completed = yield* Content.lookUpCompleted(checkpoint, sets, opts.metadataContent)
        let pending = 0
        for (const s of sets) {
          for (const [kind, a] of [["recording", s.recording], ["transcript", s.transcript]] as const) {
            if (a !== null && Option.isNone(completed.get(kind, a.id))) pending++
          }
        }
        yield* emit(ProgressEvent.Discovered({
          organizerId,
          recordings: recordings.length,
          transcripts: transcripts.length,
          sets: sets.length,
          pending,
          pendingBytes: null
        }))
        if (opts.dryRun) {
          yield* Effect.forEach(sets, (s) => planSet(s, completed), { concurrency: opts.concurrency, discard: true })
          return
        }
        // Progress rows say which organizer + window a run is in and which ones finished.
        const progressKey = { organizerId, windowFrom, windowTo, kind: targeted ? "meetings" : "window" }
        yield* checkpoint.setProgress(progressKey, { status: "running" }).pipe(Effect.mapError(sinkFatal))
        yield* Effect.forEach(sets, (s) => processSet(s, completed), {
          concurrency: opts.concurrency * IN_PROGRESS_PER_SLOT,
          discard: true
        })
        yield* Discover.commitDeltaLinks(checkpoint, discovery.deltaLinks).pipe(Effect.mapError(sinkFatal))
        yield* checkpoint.setProgress(progressKey, { status: "done", items: recordings.length + transcripts.length })
          .pipe(
            Effect.mapError(sinkFatal)
          )
      }).pipe(
        // early downloads no set of the run took (its discovery failed, or another organizer has them)
        Effect.ensuring(ctx.earlyDownloads?.cancel(organizerId) ?? Effect.void),
        Effect.withSpan("sync.organizer", { attributes: { "sync.organizer_id": organizerId } })
      ), {
      concurrency: ORGANIZER_CONCURRENCY,
      discard: true
    })
    if (targeted) yield* Discover.reportMissingTargets(ctx, found)

    // -- summary ----------------------------------------------------------------------------
    const stats = yield* graph.stats
    yield* emit(statsEvent(stats))
    const finishedAt = new Date()
    const failuresCount = tally.failed.recording + tally.failed.transcript + tally.otherFailures
    const counts = (k: ArtifactKind) => ({
      discovered: tally.discovered[k],
      downloaded: tally.downloaded[k],
      skipped: tally.skipped[k],
      failed: tally.failed[k]
    })
    const summary: RunSummary = {
      runId,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      elapsedMs: finishedAt.getTime() - startedAt.getTime(),
      dryRun: opts.dryRun,
      incremental: opts.incremental,
      organizers: opts.organizers.length,
      sets: tally.sets,
      recordings: counts("recording"),
      transcripts: counts("transcript"),
      bytes: tally.bytes,
      requests: stats.requests - stats0.requests,
      retries: stats.retries - stats0.retries,
      throttleWaits: stats.throttled - stats0.throttled,
      throttleWaitMs: stats.throttleWaitMs - stats0.throttleWaitMs,
      recordingMinutes: tally.minutes.recording,
      transcriptMinutes: tally.minutes.transcript,
      cost: meteredCost(tally.minutes.recording, tally.minutes.transcript),
      failures: failuresCount,
      out,
      manifest: nodePath.join(out, Manifest.MANIFEST_FILE),
      failuresFile: nodePath.join(out, Failures.FAILURES_FILE)
    }
    if (!opts.dryRun) {
      const status = failuresCount > 0 ? "partial" : "succeeded"
      const runCounts = {
        sets: tally.sets,
        recordingsDownloaded: tally.downloaded.recording,
        transcriptsDownloaded: tally.downloaded.transcript,
        skipped: tally.skipped.recording + tally.skipped.transcript,
        failures: failuresCount,
        bytes: tally.bytes,
        // For the run history (meeting-artifacts view).
        requests: summary.requests,
        retries: summary.retries,
        throttled: summary.throttleWaits,
        meteredCostUsd: summary.cost.total
      }
      yield* checkpoint.finishRun(runId, { status, counts: runCounts }).pipe(Effect.mapError(sinkFatal))
      const record = yield* checkpoint.getRun(runId).pipe(Effect.mapError(sinkFatal))
      if (Option.isSome(record)) {
        yield* Effect.forEach(recordSinks, (s) => s.writeRun(record.value), { discard: true }).pipe(
          Effect.mapError(sinkFatal)
        )
      }
    }
    yield* Effect.annotateCurrentSpan({
      "sync.sets": summary.sets,
      "sync.failures": summary.failures,
      "sync.bytes": summary.bytes,
      "sync.requests": summary.requests
    })
    yield* emit(ProgressEvent.RunFinished({ summary }))
    return summary
  }).pipe(
    Effect.scoped,
    Effect.withSpan("sync", {
      attributes: {
        "sync.organizers": opts.organizers.length,
        "sync.window.from": opts.from ?? "",
        "sync.window.to": opts.to ?? "",
        "sync.incremental": opts.incremental,
        "sync.dry_run": opts.dryRun
      }
    })
  )
