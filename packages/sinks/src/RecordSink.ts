/**
 * Record sinks: where the metadata of correlated sets, the transcript cues and
 * the run records go (SQLite, Postgres, Parquet, Azure Blob). The pipeline
 * calls `writeSet` once per correlated set after its files were written, and
 * `writeRun` at the start and end of a run.
 *
 * Write dispositions:
 * - `merge` (default): upsert by id. Writing the same set twice leaves one
 *   row / blob / file, and a set that re-pairs artifacts (a recording first
 *   written alone, its transcript arriving later) replaces the sets that held
 *   them, so each recording id and transcript id is in exactly one set.
 * - `append`: every write adds rows tagged with a `load_id` (the run id, or a
 *   fresh id), never updating; for history tables.
 */
import type { ArtifactSet, Cue } from "@meeting-artifacts/correlate"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { RunRecord } from "./CheckpointStore.js"
import { sha256Hex } from "./Layout.js"
import type { SinkError } from "./SinkError.js"

export type WriteDisposition = "merge" | "append"

/** A file written for an artifact of the set (paths relative to `<out>`). */
export interface SetFile {
  readonly path: string
  readonly bytes: number
  readonly sha256: string
  readonly contentType: string | null
}

export interface ArtifactSetWrite {
  readonly set: ArtifactSet
  /** The file of `set.recording`, or null when it was not written (no recording, or it failed). */
  readonly recording: SetFile | null
  /** The file of `set.transcript`, or null. */
  readonly transcript: SetFile | null
  /** The transcript's parsed cues (empty when there is no transcript). */
  readonly cues: ReadonlyArray<Cue>
  /** The transcript's metadataContent as JSON, when fetched. */
  readonly transcriptMetadata?: unknown
  readonly runId?: string | undefined
  /**
   * The absolute `<out>` folder the files are in. Sinks that copy content
   * (azure-blob) stream it from there; without it they write metadata only.
   */
  readonly root?: string | undefined
}

export interface RecordSinkService {
  /** The spec it was made from, with any password redacted, e.g. "sqlite:/data/ma.db". */
  readonly name: string
  readonly disposition: WriteDisposition
  /** Write one correlated set (one transaction / one partition rewrite / one group of blobs). */
  readonly writeSet: (write: ArtifactSetWrite) => Effect.Effect<void, SinkError>
  /** Upsert a run record (by run id). */
  readonly writeRun: (run: RunRecord) => Effect.Effect<void, SinkError>
}

/** The record sinks chosen with `--sink` (possibly none). */
export class RecordSinks extends Context.Tag("@meeting-artifacts/sinks/RecordSinks")<
  RecordSinks,
  ReadonlyArray<RecordSinkService>
>() {}

/**
 * The stable id of a set: its recording id, else its transcript id, else its
 * meeting id, prefixed by kind and hashed so it is short and opaque.
 * Re-pairing changes the id; merge sinks delete the sets that held the
 * artifacts, so this is only a row key.
 */
export const artifactSetId = (set: ArtifactSet): string =>
  setIdOf(set.recording?.id ?? null, set.transcript?.id ?? null, set.meetingId)

/** `artifactSetId` from the ids alone. */
export const setIdOf = (recordingId: string | null, transcriptId: string | null, meetingId: string): string =>
  sha256Hex(recordingId !== null ? `r:${recordingId}` : transcriptId !== null ? `t:${transcriptId}` : `m:${meetingId}`)
    .slice(0, 32)

/** The UTC date (YYYY-MM-DD) a set is filed under: its earliest artifact's createdDateTime, else "unknown". */
export const meetingDate = (set: ArtifactSet): string => {
  const times = [set.recording?.createdDateTime, set.transcript?.createdDateTime]
    .filter((t): t is string => typeof t === "string" && !Number.isNaN(Date.parse(t)))
    .map((t) => Date.parse(t))
  if (times.length === 0) return "unknown"
  return new Date(Math.min(...times)).toISOString().slice(0, 10)
}
