/**
 * Crash-safe staging of downloaded content.
 *
 * Graph bills every `/content` body it serves, and a body counts as served as
 * soon as the server has sent it: the longer the gap between "last byte
 * received" and "checkpoint says completed", the more likely a kill in that gap
 * makes the next run pay again. So bytes go straight into
 * `<state dir>/staging/<key>.part` as they arrive, and the moment the stream
 * ends the file is renamed to `<key>.done` (a rename, no fsync: a SIGKILL
 * does not lose page-cache writes). Everything slower (hashing, the atomic
 * write into `<out>`, fsyncs, the checkpoint commit) happens after, from the
 * staged file, and a run that finds a `.done` file uses it instead of
 * downloading again.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

export interface Staged {
  readonly file: string
  readonly bytes: number
  readonly contentType: string | null
}

export class StagingError {
  readonly _tag = "StagingError"
  constructor(readonly message: string, readonly cause?: unknown) {}
}

/** A file name for an artifact: kind + sha256 of the id, so ids never shape paths. */
export const stagingKey = (kind: string, id: string): string =>
  `${kind}-${createHash("sha256").update(id, "utf8").digest("hex").slice(0, 40)}`

export const make = (dir: string) => {
  const paths = (key: string) => ({
    part: nodePath.join(dir, `${key}.part`),
    done: nodePath.join(dir, `${key}.done`),
    meta: nodePath.join(dir, `${key}.json`)
  })

  const ensureDir = Effect.tryPromise({
    try: () => fsp.mkdir(dir, { recursive: true }),
    catch: (e) => new StagingError(`cannot create ${dir}`, e)
  })

  /** A previously completed download of `key`, if any. */
  const find = (key: string): Effect.Effect<Staged | null> =>
    Effect.promise(async () => {
      const p = paths(key)
      try {
        const stat = await fsp.stat(p.done)
        let contentType: string | null = null
        try {
          contentType = (JSON.parse(await fsp.readFile(p.meta, "utf8")) as { contentType: string | null }).contentType
        } catch {
          // meta is written before the rename; absent only if someone removed it
        }
        return { file: p.done, bytes: stat.size, contentType }
      } catch {
        return null
      }
    })

  /**
   * Streams `body` into `<key>.part`, then renames it to `<key>.done`. On any
   * failure the `.part` file is removed. `onChunk` sees each chunk's size.
   */
  const stage = <E, R>(
    key: string,
    body: Stream.Stream<Uint8Array, E, R>,
    contentType: string | null,
    onChunk: (bytes: number) => Effect.Effect<void>
  ): Effect.Effect<Staged, E | StagingError, R> =>
    Effect.gen(function*() {
      yield* ensureDir
      const p = paths(key)
      yield* Effect.tryPromise({
        try: () => fsp.writeFile(p.meta, JSON.stringify({ contentType })),
        catch: (e) => new StagingError(`cannot write ${p.meta}`, e)
      })
      const handle = yield* Effect.acquireRelease(
        Effect.tryPromise({ try: () => fsp.open(p.part, "w"), catch: (e) => new StagingError(`cannot open ${p.part}`, e) }),
        (h) => Effect.promise(() => h.close().catch(() => undefined))
      )
      let bytes = 0
      yield* Stream.runForEach(body, (chunk) =>
        Effect.zipRight(
          Effect.tryPromise({
            try: async () => {
              let off = 0
              while (off < chunk.byteLength) {
                const { bytesWritten } = await handle.write(chunk, off, chunk.byteLength - off)
                off += bytesWritten
              }
              bytes += chunk.byteLength
            },
            catch: (e) => new StagingError(`cannot write ${p.part}`, e)
          }),
          onChunk(chunk.byteLength)
        ))
      yield* Effect.tryPromise({ try: () => handle.close(), catch: (e) => new StagingError(`cannot close ${p.part}`, e) })
      yield* Effect.tryPromise({
        try: () => fsp.rename(p.part, p.done),
        catch: (e) => new StagingError(`cannot rename ${p.part}`, e)
      })
      return { file: p.done, bytes, contentType }
    }).pipe(
      Effect.scoped,
      // onError runs uninterruptibly, so an interrupted download (Ctrl-C) also drops its partial file.
      Effect.onError(() =>
        Effect.promise(async () => {
          const p = paths(key)
          await Promise.all([p.part, p.meta].map((f) => fsp.rm(f, { force: true }).catch(() => undefined)))
        })
      )
    )

  /** Drops the staged files of `key` once its content is safely in the sink and checkpointed. */
  const remove = (key: string): Effect.Effect<void> =>
    Effect.promise(async () => {
      const p = paths(key)
      await Promise.all([p.part, p.done, p.meta].map((f) => fsp.rm(f, { force: true }).catch(() => undefined)))
    })

  /** Removes `.part` leftovers of killed runs and their orphaned metadata (never `.done`: those are paid-for bytes). */
  const sweep: Effect.Effect<void> = Effect.promise(async () => {
    let names: Array<string> = []
    try {
      names = await fsp.readdir(dir)
    } catch {
      return
    }
    const done = new Set(names.filter((n) => n.endsWith(".done")).map((n) => n.slice(0, -5)))
    const stale = names.filter((n) => n.endsWith(".part") || (n.endsWith(".json") && !done.has(n.slice(0, -5))))
    await Promise.all(stale.map((n) => fsp.rm(nodePath.join(dir, n), { force: true }).catch(() => undefined)))
  })

  return { find, stage, remove, sweep, dir }
}

export type Staging = ReturnType<typeof make>

/** Reads a staged file as a stream of chunks (constant memory). */
export const readStaged = (file: string): Stream.Stream<Uint8Array, StagingError> =>
  Stream.suspend(() =>
    Stream.fromAsyncIterable(
      fs.createReadStream(file, { highWaterMark: 256 * 1024 }) as AsyncIterable<Uint8Array>,
      (e) => new StagingError(`cannot read ${file}`, e)
    )
  )
