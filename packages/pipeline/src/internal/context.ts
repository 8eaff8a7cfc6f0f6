/**
 * What the parts of one run share: options, services, counters, and how
 * per-item failures are recorded.
 */
import { GraphClient, type GraphClientService, type GraphError } from "@meeting-artifacts/api"
import type { ArtifactSource } from "@meeting-artifacts/correlate"
import {
  CheckpointStore,
  ContentSink,
  type ContentSinkService,
  Failures,
  Layout,
  Manifest,
  RecordSinks,
  type RecordSinkService,
  type SinkError
} from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as nodePath from "node:path"
import { emit } from "../Progress.js"
import { type ArtifactKind, ProgressEvent } from "../ProgressEvent.js"
import { SyncFatalError } from "../SyncError.js"
import type { SyncServices } from "../Sync.js"
import type { ValidatedSyncOptions } from "../SyncOptions.js"
import { codeOf } from "./errors.js"
import type { EarlyDownloads } from "./earlyDownloads.js"
import * as Staging from "./staging.js"
import * as Telemetry from "./telemetry.js"

/**
 * Counters of one run, folded into its summary. A real run (not a dry run) also moves the matching
 * metrics (./telemetry.ts) in the same step, so exported metrics agree with the summary.
 */
export class Tally {
  readonly discovered = { recording: 0, transcript: 0 }
  readonly downloaded = { recording: 0, transcript: 0 }
  readonly skipped = { recording: 0, transcript: 0 }
  readonly failed = { recording: 0, transcript: 0 }
  otherFailures = 0
  readonly minutes = { recording: 0, transcript: 0 }
  bytes = 0
  sets = 0

  constructor(private readonly live: boolean) {}

  artifact(kind: ArtifactKind, outcome: Telemetry.ArtifactOutcome): void {
    this[outcome][kind]++
    if (this.live) Telemetry.countArtifact(kind, outcome)
  }

  meteredMinutes(kind: ArtifactKind, minutes: number): void {
    this.minutes[kind] += minutes
    if (this.live) Telemetry.countMinutes(kind, minutes)
  }

  received(bytes: number): void {
    this.bytes += bytes
    if (this.live) Telemetry.countBytes(bytes)
  }
}

export interface RunContext {
  readonly opts: ValidatedSyncOptions
  readonly runId: string
  /** Absolute output directory. */
  readonly out: string
  readonly windowFrom: string
  readonly windowTo: string
  readonly graph: GraphClientService
  readonly checkpoint: CheckpointStore.CheckpointStoreService
  readonly content: ContentSinkService
  readonly manifest: Manifest.ManifestService
  readonly failures: Failures.FailureLogService
  readonly recordSinks: ReadonlyArray<RecordSinkService>
  readonly staging: Staging.Staging
  /** Content downloads in flight (the run's own limit, apart from metadata calls). */
  readonly downloadSlots: Effect.Semaphore
  /** Downloads started while listings are still paging (sync, not dry runs); their sets take them. */
  readonly earlyDownloads?: EarlyDownloads | undefined
  readonly tally: Tally
}

/**
 * A run's context over the process's own services (output files, checkpoint store, sinks): `listen` and
 * the tests of its parts. Sync builds its own from services it already holds; cluster steps capture the
 * manifest and failures per step.
 */
export const makeRunContext = (run: {
  readonly opts: ValidatedSyncOptions
  readonly runId: string
  readonly windowFrom: string
  readonly windowTo: string
  readonly downloadSlots: Effect.Semaphore
}): Effect.Effect<RunContext, never, SyncServices> =>
  Effect.gen(function*() {
    const out = nodePath.resolve(run.opts.out)
    return {
      ...run,
      out,
      graph: yield* GraphClient,
      checkpoint: yield* exportCheckpoint(out),
      content: yield* ContentSink,
      manifest: yield* Manifest.Manifest,
      failures: yield* Failures.FailureLog,
      recordSinks: yield* RecordSinks,
      staging: Staging.make(nodePath.join(out, Layout.STATE_DIR, "staging")),
      tally: new Tally(true)
    }
  })

/**
 * The checkpoint store as the export into `out` sees it: its completed artifacts and dead letters are its
 * own, whatever other exports share the store (`--state`, a cluster).
 */
export const exportCheckpoint = (
  out: string
): Effect.Effect<CheckpointStore.CheckpointStoreService, never, CheckpointStore.CheckpointStore> =>
  Effect.map(CheckpointStore.CheckpointStore, (store) => store.forExport(CheckpointStore.exportScope(out)))

export const sinkFatal = (e: SinkError): SyncFatalError =>
  new SyncFatalError({ message: e.message, status: null, code: null, requestId: null, fix: null })

export const stagingFatal = (e: Staging.StagingError): SyncFatalError =>
  new SyncFatalError({
    message: `${e.message}${e.cause instanceof Error ? `: ${e.cause.message}` : ""}`,
    status: null,
    code: null,
    requestId: null,
    fix: "check that the output directory is writable and has free space"
  })

/** Dead-letters one item: counts it, reports it, and records it in the checkpoint store and failures.jsonl. */
export const recordFailure = (ctx: RunContext) =>
(
  kind: Failures.FailureKind,
  id: string,
  meetingId: string | null,
  organizerId: string | null,
  reason: string,
  e: GraphError | null,
  /** "adhocCall" when `meetingId` is an ad hoc call's id. */
  source?: ArtifactSource | undefined
): Effect.Effect<void, SyncFatalError> =>
  Effect.gen(function*() {
    const { checkpoint, failures, opts, runId, tally } = ctx
    if (kind === "recording" || kind === "transcript") tally.artifact(kind, "failed")
    else tally.otherFailures++
    if (kind !== "organizer" && kind !== "meeting") yield* Telemetry.markOutcome("failed")
    const status = e === null || e.status === 0 ? null : e.status
    const code = e === null ? null : codeOf(e)
    const requestId = e?.requestId ?? null
    if (kind === "recording" || kind === "transcript") {
      yield* emit(
        ProgressEvent.ArtifactFailed({ kind, id, meetingId: meetingId ?? "", reason, status, code, requestId })
      )
    }
    if (opts.dryRun) return
    yield* checkpoint.addDeadLetter({
      kind,
      id,
      meetingId,
      source: source ?? null,
      organizerId,
      reason,
      status,
      code,
      requestId,
      runId
    })
    yield* failures.record({
      kind,
      id,
      meetingId,
      ...(source !== undefined ? { source } : {}),
      organizerId,
      reason,
      status,
      code,
      requestId,
      at: new Date().toISOString()
    })
  }).pipe(Effect.mapError(sinkFatal))
