/**
 * What a sync run reports while it works. Plain data (JSON-serialisable), so a
 * terminal, a log shipper or a data platform can consume the same stream.
 */
import * as Data from "effect/Data"
import type { RunSummary } from "./RunSummary.js"

export type ArtifactKind = "recording" | "transcript"

export type ProgressEvent = Data.TaggedEnum<{
  RunStarted: {
    readonly runId: string
    readonly organizers: ReadonlyArray<string>
    readonly from: string | null
    readonly to: string | null
    readonly incremental: boolean
    readonly dryRun: boolean
  }
  /** Metadata discovery for one organizer finished. */
  Discovered: {
    readonly organizerId: string
    readonly recordings: number
    readonly transcripts: number
    readonly sets: number
    /** Content downloads this organizer still needs (not already completed). */
    readonly pending: number
    readonly pendingBytes: number | null
  }
  ArtifactStarted: {
    readonly kind: ArtifactKind
    readonly id: string
    readonly meetingId: string
    readonly expectedBytes: number | null
  }
  /** Bytes received since the previous event for this artifact. */
  ArtifactBytes: { readonly kind: ArtifactKind; readonly id: string; readonly bytes: number }
  ArtifactCompleted: {
    readonly kind: ArtifactKind
    readonly id: string
    readonly meetingId: string
    readonly path: string
    readonly bytes: number
    readonly sha256: string
    /** True when the content was already complete on disk and nothing was downloaded. */
    readonly skipped: boolean
  }
  ArtifactFailed: {
    readonly kind: ArtifactKind
    readonly id: string
    readonly meetingId: string
    readonly reason: string
    readonly status: number | null
    readonly code: string | null
    readonly requestId: string | null
  }
  SetWritten: {
    readonly meetingId: string
    readonly recordingId: string | null
    readonly transcriptId: string | null
    readonly match: "contentCorrelationId" | "time-overlap" | "none"
  }
  /**
   * A Graph request is about to be sent again: its route template (no ids), the attempts so far, how long
   * it waits, and why (`HTTP 503`, `connect ECONNREFUSED 127.0.0.1:443`, ...); `throttled` when the
   * server asked for the wait (a 429, or Retry-After).
   */
  Retrying: {
    readonly route: string
    readonly attempt: number
    readonly delayMs: number
    readonly reason: string
    readonly throttled: boolean
  }
  /** Client statistics so far (requests, retries, throttling), emitted periodically. */
  Stats: {
    readonly requests: number
    readonly retries: number
    readonly throttleWaits: number
    readonly throttleWaitMs: number
  }
  RunFinished: { readonly summary: RunSummary }
}>

export const ProgressEvent = Data.taggedEnum<ProgressEvent>()
