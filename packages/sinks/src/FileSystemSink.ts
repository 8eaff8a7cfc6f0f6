/**
 * The default content sink: files under `<out>` in the `Layout`, written
 * atomically (temp file in the same folder, fsync, rename, fsync folder) with
 * size and sha256 computed while streaming, or moved into place by a rename
 * (`adopt`) when the pipeline already holds the complete file on the same disk.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Stream from "effect/Stream"
import {
  type AdoptOptions,
  ContentSink,
  type ContentSinkService,
  type ExpectedContent,
  type WrittenContent
} from "./ContentSink.js"
import * as atomic from "./internal/atomic.js"
import { sinkError } from "./internal/errors.js"
import { SinkError } from "./SinkError.js"

const SINK = "filesystem"

/**
 * Stream `content` to `<out>/<path>` atomically. `path` is a `/`-separated
 * relative path (from `Layout`); anything that would escape `out` fails.
 * `known`: see `atomic.KnownFolders`.
 */
export const writeContent = <E, R>(
  out: string,
  path: string,
  content: Stream.Stream<Uint8Array, E, R>,
  known?: atomic.KnownFolders
): Effect.Effect<WrittenContent, E | SinkError, R> =>
  Effect.flatMap(
    atomic.resolveUnder(out, path, SINK, known),
    (abs) =>
      Effect.map(atomic.writeStreamAtomic(abs, content, SINK), (w) => ({ path, bytes: w.bytes, sha256: w.sha256 }))
  )

/**
 * Move the complete, fsynced local `file` (size and sha256 `expected`, computed by whoever wrote it) to
 * `<out>/<path>` by a rename and fsync the folder (unless `options.syncFolder` is false: see
 * `syncFolders`): no copy and no read-back on the same file system.
 */
export const adoptContent = (
  out: string,
  path: string,
  file: string,
  expected: ExpectedContent,
  known?: atomic.KnownFolders,
  options?: AdoptOptions
): Effect.Effect<WrittenContent, SinkError> =>
  // (one asynchronous step per file: the path checks are blocking calls, the folder's fsync the one wait)
  Effect.suspend(() => {
    const to = atomic.resolveUnderOrError(out, path, SINK, known)
    if (to instanceof SinkError) return Effect.fail(to)
    const written: WrittenContent = { path, bytes: expected.bytes, sha256: expected.sha256 }
    return Effect.flatMap(
      Effect.tryPromise({
        try: () => atomic.renameIntoPlace(file, to.abs, to.folderMissing, known, options?.syncFolder !== false),
        catch: sinkError(SINK, "rename")
      }),
      (moved) => (moved ? Effect.succeed(written) : Effect.as(atomic.copyIntoPlace(file, to.abs, SINK), written))
    )
  })

/**
 * Makes renames into the folders of `paths` under `out` durable: one fsync of each folder (see
 * `ContentSinkService.syncFolders`). A path that escapes `out` fails, nothing synced.
 */
export const syncFolders = (out: string, paths: ReadonlyArray<string>): Effect.Effect<void, SinkError> =>
  Effect.suspend(() => {
    const folders = new Set<string>()
    for (const p of paths) {
      const folder = atomic.folderUnder(out, p, SINK)
      if (folder instanceof SinkError) return Effect.fail(folder)
      folders.add(folder)
    }
    return Effect.tryPromise({
      try: () => Promise.all([...folders].map(atomic.fsyncDir)),
      catch: sinkError(SINK, "fsync folder")
    })
  })

/** Size and sha256 of `<out>/<path>` (read in full, streamed), or null when absent. */
export const statContent = (out: string, path: string): Effect.Effect<ExpectedContent | null, SinkError> =>
  Effect.flatMap(atomic.resolveUnder(out, path, SINK), (abs) => atomic.hashFile(abs, SINK))

/** Skip-if-complete: the file exists with exactly this size and sha256. */
export const isComplete = (out: string, path: string, expected: ExpectedContent): Effect.Effect<boolean, SinkError> =>
  Effect.map(statContent(out, path), (s) => s !== null && s.bytes === expected.bytes && s.sha256 === expected.sha256)

/** True when `<out>/<path>` is a file of exactly `bytes` (a stat; nothing read). */
export const hasSize = (out: string, path: string, bytes: number): Effect.Effect<boolean, SinkError> =>
  Effect.flatMap(atomic.resolveUnder(out, path, SINK), (abs) => atomic.fileSize(abs, SINK)).pipe(
    Effect.map((size) => size === bytes)
  )

/** The `*.partial` temp files a killed run left under `out` (relative paths); the next sync removes them. */
export const listTempFiles = (out: string): Effect.Effect<Array<string>, SinkError> => atomic.listTempFiles(out, SINK)

/** Symbolic links anywhere under `out` (relative paths): a sync refuses to write through them. */
export const listSymlinks = (out: string): Effect.Effect<Array<string>, SinkError> => atomic.listSymlinks(out, SINK)

/** Remove `*.partial` temp files a killed run left under `out`; returns how many. */
export const removeTempFiles = (out: string): Effect.Effect<number, SinkError> => atomic.removeTempFiles(out, SINK)

/** Write a small file (string or bytes) atomically under `out`. */
export const writeFile = (out: string, path: string, data: string | Uint8Array): Effect.Effect<void, SinkError> =>
  Effect.flatMap(atomic.resolveUnder(out, path, SINK), (abs) => atomic.writeFileAtomic(abs, data, SINK))

export const make = (out: string): ContentSinkService => {
  // Folders of `out` this sink has found to be real ones (not links) or made: checked once, not per file.
  const known = new atomic.KnownFolders()
  return {
    name: `filesystem:${out}`,
    write: (path, content) => writeContent(out, path, content, known),
    adopt: (path, file, expected, options) => adoptContent(out, path, file, expected, known, options),
    syncFolders: (paths) => syncFolders(out, paths),
    hasSize: (path, bytes) => hasSize(out, path, bytes),
    isComplete: (path, expected) => isComplete(out, path, expected),
    stat: (path) => statContent(out, path)
  }
}

export const layer = (out: string): Layer.Layer<ContentSink> => Layer.succeed(ContentSink, make(out))
