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
 *
 * Recordings (large, metered) are also resumable across processes: a `.part`
 * that a killed (or failed) run left stays, with `<key>.json` naming its
 * artifact (kind + id), the artifact's size and its validators (ETag,
 * Last-Modified), and the next run asks Graph only for the bytes after it
 * (`Range` + `If-Range`, see `resumable`). The meta is only ever replaced by a
 * rename (never truncated in place), so a kill cannot leave one that no longer
 * names its part, which would cost the part. What is trusted is
 * the `.part`'s size on disk: bytes are written strictly in order, each write
 * at the end of the file, so whatever a SIGKILL leaves (the page cache keeps
 * every completed or partial write) is a correct prefix of the body. We
 * assume no power loss or OS crash between the write and the next run: there a
 * file system may keep a size whose last blocks never reached the disk, and
 * we do not fsync per chunk to guard against it. Transcripts and
 * metadataContent are small: a cut one is simply downloaded again.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

export interface Staged {
  readonly file: string
  /** Size of the complete staged file. */
  readonly bytes: number
  /** Bytes received by this call (less than `bytes` when it appended to a `.part` of an earlier run). */
  readonly received: number
  readonly contentType: string | null
}

/**
 * A `.part` another run left for the same artifact: its bytes on disk, the artifact's size and the
 * validators of the content it was cut from (null when unknown; at least one of the three is known).
 */
export interface Resumable {
  readonly bytes: number
  readonly size: number | null
  readonly etag: string | null
  readonly lastModified: string | null
}

/** Whose bytes a staged file holds. */
export interface Owner {
  readonly kind: string
  readonly id: string
}

/** The body to stage: where its stream starts in the artifact (0: a fresh `.part`) and the artifact's size. */
export interface StageBody<E, R> {
  readonly stream: Stream.Stream<Uint8Array, E, R>
  readonly contentType: string | null
  /** N > 0 appends to a `.part` holding exactly bytes [0, N) (from `resumable`); 0 (default) starts over. */
  readonly offset?: number | undefined
  readonly size?: number | null | undefined
  /** The content's validators, kept in the meta for `If-Range` when the part is resumed. */
  readonly etag?: string | null | undefined
  readonly lastModified?: string | null | undefined
}

export class StagingError {
  readonly _tag = "StagingError"
  constructor(readonly message: string, readonly cause?: unknown) {}
}

/** Kinds whose `.part` survives a failed or killed run and is resumed with Range. */
export const RESUMABLE_KINDS: ReadonlySet<string> = new Set(["recording"])

/**
 * A resumable `.part` not written to for this long is dropped by `sweep` (its artifact was not asked for
 * again: out of the window, deleted, or failing for good). Graph keeps recordings 120 days and the meeting
 * APIs work 60 days after a meeting, but a week bounds the disk a forgotten 1.5 GB part holds.
 */
export const PART_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000

interface Meta {
  readonly kind?: string
  readonly id?: string
  readonly contentType?: string | null
  readonly size?: number | null
  readonly etag?: string | null
  readonly lastModified?: string | null
}

const TMP = ".tmp"

/** A file name for an artifact: kind + sha256 of the id, so ids never shape paths. */
export const stagingKey = (kind: string, id: string): string =>
  `${kind}-${createHash("sha256").update(id, "utf8").digest("hex").slice(0, 40)}`

const readMeta = async (file: string): Promise<Meta | null> => {
  try {
    const meta = JSON.parse(await fsp.readFile(file, "utf8")) as unknown
    return meta !== null && typeof meta === "object" ? (meta as Meta) : null
  } catch {
    return null
  }
}

export const make = (dir: string, now: () => number = Date.now) => {
  const paths = (key: string) => ({
    part: nodePath.join(dir, `${key}.part`),
    done: nodePath.join(dir, `${key}.done`),
    meta: nodePath.join(dir, `${key}.json`)
  })

  const ensureDir = Effect.tryPromise({
    try: () => fsp.mkdir(dir, { recursive: true }),
    catch: (e) => new StagingError(`cannot create ${dir}`, e)
  })

  const rmAll = (files: ReadonlyArray<string>) =>
    Promise.all(files.map((f) => fsp.rm(f, { force: true }).catch(() => undefined))).then(() => undefined)

  /** A previously completed download of `key`, if any. */
  const find = (key: string): Effect.Effect<Staged | null> =>
    Effect.promise(async () => {
      const p = paths(key)
      try {
        const stat = await fsp.stat(p.done)
        // meta is written before the rename; absent only if someone removed it
        const contentType = (await readMeta(p.meta))?.contentType ?? null
        return { file: p.done, bytes: stat.size, received: 0, contentType }
      } catch {
        return null
      }
    })

  /**
   * Replaces `<key>.json` by a rename of a fully written temp file in the same folder, so a kill leaves
   * either the old meta or the new one, never a truncated one; nothing is written when the meta already
   * says the same (a resume of the same content).
   */
  const writeMeta = async (file: string, meta: Meta): Promise<void> => {
    const text = JSON.stringify(meta)
    const current = await fsp.readFile(file, "utf8").catch(() => null)
    if (current === text) return
    const tmp = `${file}${TMP}`
    await fsp.writeFile(tmp, text)
    await fsp.rename(tmp, file)
  }

  /**
   * The `.part` of `owner` another run left, if it can be resumed: its meta names the same kind and id,
   * the kind is resumable, and the meta says what content the part was cut from (its size, or a
   * validator `If-Range` can carry: without either, appending could mix two versions of the content). Anything else under
   * the key (no or foreign meta, an empty part, a part longer than its artifact) is dropped and null
   * returned: the download starts from byte 0. A part found is touched, so the sweep, which goes by
   * age, keeps the part of an artifact that is still being asked for even if no byte arrives.
   */
  const resumable = (key: string, owner: Owner): Effect.Effect<Resumable | null> =>
    Effect.promise(async () => {
      const p = paths(key)
      let bytes: number
      try {
        bytes = (await fsp.stat(p.part)).size
      } catch {
        return null
      }
      const meta = await readMeta(p.meta)
      const size = typeof meta?.size === "number" ? meta.size : null
      const etag = typeof meta?.etag === "string" && meta.etag !== "" ? meta.etag : null
      const lastModified = typeof meta?.lastModified === "string" && meta.lastModified !== "" ? meta.lastModified : null
      if (
        RESUMABLE_KINDS.has(owner.kind) && meta?.kind === owner.kind && meta.id === owner.id && bytes > 0 &&
        (size === null || bytes <= size) && (size !== null || (etag !== null && !etag.startsWith("W/")) || lastModified !== null)
      ) {
        const t = new Date(now())
        await fsp.utimes(p.part, t, t).catch(() => undefined)
        return { bytes, size, etag, lastModified }
      }
      await rmAll([p.part, p.meta])
      return null
    })

  /**
   * A `.part` that already holds the whole artifact (the run was killed after its last write, before the
   * rename): renamed to `.done` without asking Graph again.
   */
  const promote = (key: string): Effect.Effect<Staged, StagingError> =>
    Effect.tryPromise({
      try: async () => {
        const p = paths(key)
        const meta = await readMeta(p.meta)
        await fsp.rename(p.part, p.done)
        const stat = await fsp.stat(p.done)
        return { file: p.done, bytes: stat.size, received: 0, contentType: meta?.contentType ?? null }
      },
      catch: (e) => new StagingError(`cannot finish ${paths(key).part}`, e)
    })

  /** Drops `key`'s partial download (e.g. it turned out to be of other content, or is gone for good). */
  const discard = (key: string): Effect.Effect<void> =>
    Effect.promise(() => {
      const p = paths(key)
      return rmAll([p.part, p.meta, `${p.meta}${TMP}`])
    })

  /**
   * Streams `body` into `<key>.part` (appending when `body.offset` > 0), then renames it to `<key>.done`.
   * On failure or interruption the `.part` is kept for resumable kinds (its bytes are a correct prefix)
   * and removed otherwise. `onChunk` sees each chunk's size.
   */
  const stage = <E, R>(
    key: string,
    owner: Owner,
    body: StageBody<E, R>,
    onChunk: (bytes: number) => Effect.Effect<void>
  ): Effect.Effect<Staged, E | StagingError, R> =>
    Effect.gen(function*() {
      yield* ensureDir
      const p = paths(key)
      const offset = body.offset ?? 0
      const meta: Meta = {
        kind: owner.kind,
        id: owner.id,
        contentType: body.contentType,
        size: body.size ?? null,
        etag: body.etag ?? null,
        lastModified: body.lastModified ?? null
      }
      // The part is opened (emptied when starting over) BEFORE the new meta is renamed in: a kill, an
      // interruption or a failure between the two then leaves an empty part (never resumed) or the old
      // part under its old meta, never the old content's bytes under a meta naming new content (which the
      // next run would resume with the new validator as If-Range, splicing two versions).
      const handle = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            if (offset === 0) return fsp.open(p.part, "w")
            const h = await fsp.open(p.part, "r+")
            try {
              const size = (await h.stat()).size
              if (size < offset) throw new Error(`it holds ${size} bytes, expected at least ${offset}`)
              if (size > offset) await h.truncate(offset)
              return h
            } catch (e) {
              await h.close().catch(() => undefined)
              throw e
            }
          },
          catch: (e) => new StagingError(`cannot open ${p.part}`, e)
        }),
        (h) => Effect.promise(() => h.close().catch(() => undefined))
      )
      // A `.part` is only ever resumed under a meta that names its artifact.
      yield* Effect.tryPromise({
        try: () => writeMeta(p.meta, meta),
        catch: (e) => new StagingError(`cannot write ${p.meta}`, e)
      })
      // Explicit positions: each write lands right after the previous one, so the size on disk is
      // always the end of a correct prefix.
      let position = offset
      yield* Stream.runForEach(body.stream, (chunk) =>
        Effect.zipRight(
          Effect.tryPromise({
            try: async () => {
              let off = 0
              while (off < chunk.byteLength) {
                const { bytesWritten } = await handle.write(chunk, off, chunk.byteLength - off, position)
                off += bytesWritten
                position += bytesWritten
              }
            },
            catch: (e) => new StagingError(`cannot write ${p.part}`, e)
          }),
          onChunk(chunk.byteLength)
        ))
      yield* Effect.tryPromise({ try: () => handle.close(), catch: (e) => new StagingError(`cannot close ${p.part}`, e) })
      // The stream ended: the part is the whole artifact. A size nobody told us (no total in the answers)
      // goes into the meta before the rename, so a kill in between leaves a part `promote` recognises as
      // complete instead of one the next run asks Graph for again.
      if (meta.size === null) {
        yield* Effect.tryPromise({
          try: () => writeMeta(p.meta, { ...meta, size: position }),
          catch: (e) => new StagingError(`cannot write ${p.meta}`, e)
        })
      }
      yield* Effect.tryPromise({
        try: () => fsp.rename(p.part, p.done),
        catch: (e) => new StagingError(`cannot rename ${p.part}`, e)
      })
      return { file: p.done, bytes: position, received: position - offset, contentType: body.contentType }
    }).pipe(
      Effect.scoped,
      // onError runs uninterruptibly, so an interrupted download (Ctrl-C) is handled the same way.
      Effect.onError(() => (RESUMABLE_KINDS.has(owner.kind) ? Effect.void : discard(key)))
    )

  /** Drops the staged files of `key` once its content is safely in the sink and checkpointed. */
  const remove = (key: string): Effect.Effect<void> =>
    Effect.promise(() => {
      const p = paths(key)
      return rmAll([p.part, p.done, p.meta, `${p.meta}${TMP}`])
    })

  /**
   * Tidies what killed runs left (never `.done`: those are paid-for bytes): `.part` files that cannot be
   * resumed (no meta naming a resumable kind) or were not written to for `PART_MAX_AGE_MS`, and metadata
   * with neither a `.done` nor a `.part` beside it, and temp files of a meta write a kill interrupted.
   * Resumable parts stay for `stage` to append to.
   */
  const sweep: Effect.Effect<void> = Effect.promise(async () => {
    let names: Array<string> = []
    try {
      names = await fsp.readdir(dir)
    } catch {
      return
    }
    const keysOf = (ext: string) => new Set(names.filter((n) => n.endsWith(ext)).map((n) => n.slice(0, -ext.length)))
    const done = keysOf(".done")
    const parts = keysOf(".part")
    const stale: Array<string> = []
    for (const key of parts) {
      const p = paths(key)
      const meta = await readMeta(p.meta)
      let old = true
      try {
        old = now() - (await fsp.stat(p.part)).mtimeMs > PART_MAX_AGE_MS
      } catch {
        // vanished meanwhile: nothing to keep
      }
      if (old || meta === null || typeof meta.kind !== "string" || typeof meta.id !== "string" || !RESUMABLE_KINDS.has(meta.kind)) {
        parts.delete(key)
        stale.push(p.part)
      }
    }
    for (const n of names) {
      if (n.endsWith(".json") && !done.has(n.slice(0, -5)) && !parts.has(n.slice(0, -5))) stale.push(nodePath.join(dir, n))
      if (n.endsWith(`.json${TMP}`)) stale.push(nodePath.join(dir, n))
    }
    await rmAll(stale)
  })

  return { find, resumable, promote, discard, stage, remove, sweep, dir }
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
