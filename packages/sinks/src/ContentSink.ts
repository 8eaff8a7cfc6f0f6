/**
 * Where artifact bytes go. A content sink takes a layout path (see `Layout`)
 * and a byte stream, writes it without holding it in memory, and reports what
 * it wrote. `FileSystemSink` is the default; `AzureBlobSink` implements the
 * same interface.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { SinkError } from "./SinkError.js"

/** What was written: `path` relative to the sink root (the blob name for blob sinks). */
export interface WrittenContent {
  readonly path: string
  readonly bytes: number
  readonly sha256: string
}

export interface ExpectedContent {
  readonly bytes: number
  readonly sha256: string
}

export interface WriteOptions {
  readonly contentType?: string | undefined
}

export interface AdoptOptions {
  /**
   * false: the rename is left for `syncFolders` to make durable (the caller calls it with this path,
   * grouped with others, before anything relies on the file being there). Default true: `adopt` returns
   * once the folder is fsynced.
   */
  readonly syncFolder?: boolean | undefined
}

export interface ContentSinkService {
  readonly name: string
  /** Stream `content` to `path` atomically; a failed or interrupted write leaves the previous state. */
  readonly write: <E, R>(
    path: string,
    content: Stream.Stream<Uint8Array, E, R>,
    options?: WriteOptions
  ) => Effect.Effect<WrittenContent, E | SinkError, R>
  /**
   * Optional, for sinks that keep files on the local file system: moves `file`, a complete local file
   * already flushed to disk (fsynced) whose size and sha256 are `expected` (the caller computed them
   * while writing it), to `path` by a rename: no copy, no read-back; the folder is fsynced. The caller
   * streams the file through `write` when a sink has no `adopt`.
   */
  readonly adopt?: (
    path: string,
    file: string,
    expected: ExpectedContent,
    options?: AdoptOptions
  ) => Effect.Effect<WrittenContent, SinkError>
  /**
   * Optional, with `adopt`: makes the renames of `adopt(..., { syncFolder: false })` into the folders of
   * `paths` durable. Returns once an fsync of each of those folders that started after this call has
   * finished: one per folder, however many of the paths are in it (a set's recording and transcript).
   */
  readonly syncFolders?: (paths: ReadonlyArray<string>) => Effect.Effect<void, SinkError>
  /**
   * Optional, a look that reads no content: true when `path` exists with exactly `bytes`. A dry run plans
   * with it (a sink without it is asked `isComplete`); the real run still checks the sha256.
   */
  readonly hasSize?: (path: string, bytes: number) => Effect.Effect<boolean, SinkError>
  /** True when `path` exists with exactly this size and sha256 (skip-if-complete). */
  readonly isComplete: (path: string, expected: ExpectedContent) => Effect.Effect<boolean, SinkError>
  /** Size and sha256 of what is stored at `path`, or null. */
  readonly stat: (path: string) => Effect.Effect<ExpectedContent | null, SinkError>
}

export class ContentSink
  extends Context.Tag("@meeting-artifacts/sinks/ContentSink")<ContentSink, ContentSinkService>()
{}
