/**
 * The `listen` worker: exports the artifacts notifications announced (stored in the checkpoint store's
 * pending table), each with its partner, through the sync's own per-set processing, then removes them
 * from the table. A kill at any point leaves them pending (or completed: then processing skips them).
 */
import type { CallRecording, CallTranscript, GraphError } from "@meeting-artifacts/api"
import { correlate } from "@meeting-artifacts/correlate"
import type { CheckpointStore } from "@meeting-artifacts/sinks"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { ListenEvent } from "../ListenEvent.js"
import type { SyncFatalError } from "../SyncError.js"
import * as Content from "./content.js"
import { recordFailure as makeRecordFailure, type RunContext, sinkFatal } from "./context.js"
import * as Discover from "./discover.js"
import { isFatal, toFatal } from "./errors.js"

/** Pending artifacts taken per round. */
const BATCH = 64

/**
 * How an announced artifact that could not be exported yet is tried again. Graph refusing the artifact
 * itself (404: not ready yet; another per-item refusal) counts towards `maxRefusals`, then it is
 * dead-lettered. Graph's own trouble (throttling, 5xx, the network) does not count: such an artifact stays
 * pending, tried again with the capped backoff, because Graph will not announce it twice and no catch-up
 * may come while the process runs. The attempts are stored with the artifact, so a restart keeps them.
 */
export interface AnnouncedRetry {
  readonly firstDelayMs: number
  readonly maxDelayMs: number
  readonly maxRefusals: number
}

export const defaultAnnouncedRetry: AnnouncedRetry = { firstDelayMs: 1_000, maxDelayMs: 60_000, maxRefusals: 8 }

/** The delay after the `tries`-th failed attempt (1-based): doubling from `firstDelayMs`, capped. */
export const retryDelayMs = (retry: AnnouncedRetry, tries: number): number =>
  Math.min(retry.maxDelayMs, retry.firstDelayMs * 2 ** Math.min(30, tries - 1))

/** Whether a Graph error says nothing about the artifact itself (it stays pending, however long that lasts). */
const isTransient = (e: GraphError) => e._tag === "Throttled" || e._tag === "ServerError" || e._tag === "TransportError"

type PendingArtifact = CheckpointStore.PendingArtifact

export const make = (
  ctx: RunContext,
  event: (e: ListenEvent) => void,
  retry: AnnouncedRetry = defaultAnnouncedRetry
) => {
  const { checkpoint, graph, manifest } = ctx
  const { listMeetings } = Discover.make(ctx)
  const { processSet } = Content.make(ctx)
  const recordFailure = makeRecordFailure(ctx)
  const keyOf = (p: PendingArtifact) => `${p.kind}:${p.id}`

  const later = (p: PendingArtifact, why: string, refused: boolean) =>
    Effect.gen(function*() {
      const tries = p.tries + 1
      const refusals = p.refusals + (refused ? 1 : 0)
      if (refusals >= retry.maxRefusals) {
        yield* recordFailure(p.kind, p.id, p.meetingId, p.organizerId, `announced but ${why}`, null)
        yield* checkpoint.removePending(p.kind, p.id).pipe(Effect.mapError(sinkFatal))
        return
      }
      const now = yield* Clock.currentTimeMillis
      const notBefore = new Date(now + retryDelayMs(retry, tries)).toISOString()
      yield* checkpoint.deferPending(p.kind, p.id, { notBefore, tries, refusals }).pipe(Effect.mapError(sinkFatal))
    })

  /** A Graph error of one meeting: fatal ones stop the job, others retry the meeting later. */
  const graphFailed = (items: ReadonlyArray<PendingArtifact>, e: GraphError) =>
    isFatal(e, "discovery")
      ? Effect.fail(toFatal(e))
      : Effect.forEach(items, (p) => later(p, `Graph answered ${e.message}`, !isTransient(e)), { discard: true })

  /** The announced artifact by id, when the meeting's listing does not show it yet. */
  const fetchAnnounced = (p: PendingArtifact) => {
    const user = { userId: p.organizerId }
    return (p.kind === "recording"
      ? graph.getRecording(user, p.meetingId, p.id)
      : graph.getTranscript(user, p.meetingId, p.id)) as Effect.Effect<CallRecording | CallTranscript, GraphError>
  }

  /** Exports one meeting's announced artifacts; which were taken and whether each was exported (or dead-lettered). */
  const exportMeeting = (
    organizerId: string,
    meetingId: string,
    items: ReadonlyArray<PendingArtifact>
  ): Effect.Effect<ReadonlyArray<{ readonly p: PendingArtifact; readonly exported: boolean }>, SyncFatalError> =>
    Effect.gen(function*() {
      const listed = yield* Effect.either(listMeetings(organizerId, [meetingId]))
      if (listed._tag === "Left") return yield* Effect.as(graphFailed(items, listed.left), [])
      const recordings = [...listed.right.recordings]
      const transcripts = [...listed.right.transcripts]
      const ready: Array<PendingArtifact> = []
      for (const p of items) {
        const list: ReadonlyArray<{ readonly id: string }> = p.kind === "recording" ? recordings : transcripts
        if (list.some((a) => a.id === p.id)) {
          ready.push(p)
          continue
        }
        const got = yield* Effect.either(fetchAnnounced(p))
        if (got._tag === "Left") {
          if (got.left._tag === "NotFound") yield* later(p, "Graph does not serve it (404)", true)
          else yield* graphFailed([p], got.left)
          continue
        }
        if (p.kind === "recording") recordings.push(got.right as CallRecording)
        else transcripts.push(got.right as CallTranscript)
        ready.push(p)
      }
      if (ready.length === 0) return []
      const wanted = new Set(ready.map(keyOf))
      // The whole meeting is correlated, so an announced artifact is paired with a partner exported earlier.
      const sets = correlate(recordings, transcripts, { organizerId }).filter((s) =>
        (s.recording !== null && wanted.has(`recording:${s.recording.id}`)) ||
        (s.transcript !== null && wanted.has(`transcript:${s.transcript.id}`))
      )
      // Looked up under the export lock: nothing else completes these artifacts until they are processed.
      const completed = yield* Content.lookUpCompleted(checkpoint, sets, ctx.opts.metadataContent)
      yield* Effect.forEach(sets, (set) => processSet(set, completed), { discard: true })
      const taken: Array<{ readonly p: PendingArtifact; readonly exported: boolean }> = []
      for (const p of ready) {
        // Done either way: exported, or dead-lettered by processSet (failures.jsonl; a catch-up retries it).
        const done = yield* checkpoint.getCompleted(p.kind, p.id).pipe(Effect.mapError(sinkFatal))
        yield* checkpoint.removePending(p.kind, p.id).pipe(Effect.mapError(sinkFatal))
        taken.push({ p, exported: Option.isSome(done) })
      }
      return taken
    })

  /** One round: exports what is pending (and due); the number of artifacts it took. */
  const exportPending: Effect.Effect<number, SyncFatalError> = Effect.gen(function*() {
    const now = new Date(yield* Clock.currentTimeMillis).toISOString()
    const pending = yield* checkpoint.listPending(BATCH, now).pipe(Effect.mapError(sinkFatal))
    if (pending.length === 0) return 0
    const meetings = new Map<string, Array<PendingArtifact>>()
    for (const p of pending) {
      const key = JSON.stringify([p.organizerId, p.meetingId])
      meetings.set(key, [...(meetings.get(key) ?? []), p])
    }
    const taken = yield* Effect.forEach(
      meetings.values(),
      (items) => exportMeeting(items[0]!.organizerId, items[0]!.meetingId, items),
      { concurrency: ctx.opts.concurrency }
    )
    // manifest.jsonl itself (not only its journal) shows the new lines at once; then they are reported.
    yield* manifest.flush.pipe(Effect.mapError(sinkFatal))
    const flushed = Date.now()
    for (const { exported, p } of taken.flat()) {
      event(
        exported
          ? ListenEvent.Exported({ kind: p.kind, id: p.id, latencyMs: flushed - Date.parse(p.receivedAt) })
          : ListenEvent.Warning({ message: `${p.kind} ${p.id} failed: see failures.jsonl` })
      )
    }
    return pending.length
  })

  return { exportPending }
}
