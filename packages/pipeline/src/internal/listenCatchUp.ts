/**
 * The `listen` job's catch-up: the sync itself, incremental over an open window from `catchUpFrom`, for
 * the listed organizers and every organizer with exported artifacts. It finds what no notification
 * announced (the listener was down, Graph sent `missed`, a subscription had to be made anew).
 */
import type { CheckpointStore, Manifest } from "@meeting-artifacts/sinks"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { ListenEvent } from "../ListenEvent.js"
import type { ValidatedListenOptions } from "../ListenOptions.js"
import { sync, type SyncServices } from "../Sync.js"
import { SyncFatalError } from "../SyncError.js"
import { sinkFatal } from "./context.js"

export interface CatchUpDeps {
  readonly opts: ValidatedListenOptions
  readonly checkpoint: CheckpointStore.CheckpointStoreService
  readonly manifest: Manifest.ManifestService
  /** The window's start, stored on the first start so delta links keep their key. */
  readonly catchUpFrom: string
  readonly concurrency: number
  /** Held for the whole catch-up: the worker's rounds never fetch the same artifact side by side. */
  readonly exportLock: Effect.Semaphore
  readonly services: Context.Context<SyncServices>
  readonly event: (e: ListenEvent) => void
}

export const make = (deps: CatchUpDeps) => (reason: string): Effect.Effect<void, SyncFatalError> =>
  deps.exportLock.withPermits(1)(Effect.gen(function*() {
    const { event, opts } = deps
    const exported = yield* deps.checkpoint.listCompletedOrganizers.pipe(Effect.mapError(sinkFatal))
    const organizers = [...new Set([...opts.organizers, ...exported])]
    event(ListenEvent.CatchUpStarted({ reason, organizers }))
    if (organizers.length === 0) {
      event(ListenEvent.Warning({
        message: "catch-up needs an organizer: give --organizer for tenants where nothing was exported yet"
      }))
      return
    }
    const summary = yield* sync({
      organizers,
      from: deps.catchUpFrom,
      incremental: true,
      out: opts.out,
      concurrency: deps.concurrency,
      metadataContent: opts.metadataContent
    }).pipe(
      Effect.provide(deps.services),
      Effect.catchTag("InvalidSyncOptions", (e) =>
        Effect.fail(
          new SyncFatalError({ message: e.message, status: null, code: null, requestId: null, fix: null })
        ))
    )
    // manifest.jsonl itself shows what the catch-up found (not only the journal).
    yield* deps.manifest.flush.pipe(Effect.mapError(sinkFatal))
    event(ListenEvent.CatchUpFinished({ reason, sets: summary.sets, failures: summary.failures }))
  }))
