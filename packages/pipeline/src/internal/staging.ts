/**
 * Crash-safe staging of downloaded content.
 *
 * Graph bills every `/content` body it serves, and a body counts as served as
 * soon as the server has sent it: the longer the gap between "last byte
 * received" and "checkpoint says completed", the more likely a kill in that gap
 * makes the next run pay again. So bytes go straight into
 * `<state dir>/staging/<key>.part` as they arrive, hashed (sha256) on the way.
 * When the stream ends, the size and hash go into `<key>.json`, the part gets
 * its fsync and is renamed to `<key>.done` (a large body's writes are also
 * flushed from the device cache while it streams, so that fsync finds little
 * left: see `partWriterWorker.ts`); a run that finds a `.done`
 * file (or a `.part` its meta says is complete) uses it instead of
 * downloading again. The staging folder lives under the output folder, so a
 * file sink can then rename the `.done` file into its final place (no copy,
 * no read-back: see `ContentSinkService.adopt`).
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
import * as NodeCrypto from "node:crypto"
import { createHash, type Hash } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { PartWriters, type Written } from "./partWriter.js"

export interface Staged {
  readonly file: string
  /** Size of the complete staged file. */
  readonly bytes: number
  /**
   * sha256 of the complete staged file, computed while it streamed in (null when unknown: a `.done` or
   * complete `.part` of a run from before the hash was kept in the meta; `hashStaged` computes it).
   */
  readonly sha256: string | null
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

/** A body handed over chunk by chunk (see `Content.drain` in the api package): a Promise holds the next back. */
export type Drain<E, R> = (
  push: (chunk: Uint8Array) => void | Promise<void>,
  options?: { readonly into?: (() => Uint8Array | undefined) | undefined }
) => Effect.Effect<void, E, R>

/** The body to stage: where its stream starts in the artifact (0: a fresh `.part`) and the artifact's size. */
export interface StageBody<E, R> {
  readonly stream: Stream.Stream<Uint8Array, E, R>
  /** The same bytes as `stream`, pushed (cheaper for large bodies); a large body uses it when given. */
  readonly drain?: Drain<E, R> | undefined
  readonly contentType: string | null
  /** N > 0 appends to a `.part` holding exactly bytes [0, N) (from `resumable`); 0 (default) starts over. */
  readonly offset?: number | undefined
  readonly size?: number | null | undefined
  /** The content's validators, kept in the meta for `If-Range` when the part is resumed. */
  readonly etag?: string | null | undefined
  readonly lastModified?: string | null | undefined
  /**
   * The whole body already in memory (the same bytes `stream` delivers; only with `offset` 0): written
   * with a few blocking calls and one fsync on the thread pool, and `stream` is not run.
   */
  readonly bytes?: Uint8Array | undefined
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
  /** sha256 of the whole content, written with the final size once the body has ended. */
  readonly sha256?: string
}

const TMP = ".tmp"

/** The content type a staged file of `kind` is taken to have when nothing says otherwise (no meta, no header). */
export const defaultContentType = (kind: string): string => (kind === "recording" ? "video/mp4" : "text/vtt")

/** sha256 (hex) of a UTF-8 string: Node's one-shot `hash` where it has one (20.12+, a few times cheaper per id). */
const sha256Hex: (text: string) => string = typeof NodeCrypto.hash === "function"
  ? (text) => NodeCrypto.hash("sha256", text, "hex")
  : (text) => createHash("sha256").update(text, "utf8").digest("hex")

/** A file name for an artifact: kind + sha256 of the id, so ids never shape paths. */
export const stagingKey = (kind: string, id: string): string => `${kind}-${sha256Hex(id).slice(0, 40)}`

const readMeta = async (file: string): Promise<Meta | null> => {
  try {
    const meta = JSON.parse(await fsp.readFile(file, "utf8")) as unknown
    return meta !== null && typeof meta === "object" ? (meta as Meta) : null
  } catch {
    return null
  }
}

/** Writes `buffers` back to back at `position`, whatever a writev leaves short. */
const writeAllAt = async (
  handle: fsp.FileHandle,
  buffers: ReadonlyArray<Uint8Array>,
  position: number
): Promise<void> => {
  if (buffers.length === 1) {
    const b = buffers[0]!
    let off = 0
    while (off < b.byteLength) off += (await handle.write(b, off, b.byteLength - off, position + off)).bytesWritten
    return
  }
  const total = buffers.reduce((n, b) => n + b.byteLength, 0)
  const { bytesWritten } = await handle.writev(buffers as Array<Uint8Array>, position)
  if (bytesWritten === total) return
  const rest = Buffer.concat(buffers as Array<Uint8Array>).subarray(bytesWritten)
  let off = 0
  while (off < rest.byteLength) {
    const { bytesWritten: n } = await handle.write(rest, off, rest.byteLength - off, position + bytesWritten + off)
    off += n
  }
}

/**
 * Writes chunks back to back from `written`, one write in flight at a time: `push` returns once the
 * previous write has landed and this one is handed to the thread pool, so the next chunk is pulled and
 * hashed while it is written. Each write starts where the previous one ended (explicit positions), so
 * the size on disk is always the end of a correct prefix; at most one chunk is held behind the write.
 */
class ChainedWrites {
  private inFlight: Promise<void> = Promise.resolve()
  private failure: { readonly cause: unknown } | undefined
  constructor(private readonly handle: fsp.FileHandle, public written: number) {}

  async push(buffers: ReadonlyArray<Uint8Array>, bytes: number): Promise<void> {
    await this.drain()
    const at = this.written
    this.inFlight = writeAllAt(this.handle, buffers, at).then(
      () => {
        this.written = at + bytes
      },
      (cause: unknown) => {
        this.failure = { cause }
      }
    )
  }

  /** Waits for the write in flight; its failure, if it failed. */
  async drain(): Promise<void> {
    await this.inFlight
    if (this.failure !== undefined) throw this.failure.cause
  }
}

/**
 * Where `stage` puts a body's bytes: hashed and written strictly in order from the offset the part was
 * opened at.
 */
interface PartSink {
  /** Takes a chunk; a promise when the next may only come after it settles (the writes are behind). */
  readonly push: (buffers: ReadonlyArray<Uint8Array>, bytes: number) => void | Promise<void>
  /** Once every byte pushed is written: the sha256 of the whole part (prefix included) and its end. */
  readonly finish: () => Promise<Written>
  /** Waits until nothing touches the descriptor any more (before it is closed); never fails. */
  readonly release: () => Promise<void>
  /** Memory a body may be received into before it is pushed, saving the copy (see `BodyWriter.into`). */
  readonly into?: (() => Uint8Array) | undefined
}

/**
 * The body of an artifact of at least this many bytes (or a recording of unknown size) is hashed and
 * written by the worker; so is a resumed part's prefix, which can be most of a large recording.
 */
export const LARGE_BODY_BYTES = 8 * 1024 * 1024

// (a transcript of unknown size is a few KB or MB of text: not worth starting a thread for)
const isLarge = (size: number | null, kind: string): boolean =>
  size === null ? RESUMABLE_KINDS.has(kind) : size >= LARGE_BODY_BYTES

/** Hash and writes on this thread (small bodies: not worth a trip to the worker). */
const inThreadSink = async (handle: fsp.FileHandle, part: string, offset: number): Promise<PartSink> => {
  const hash = createHash("sha256")
  await hashPrefix(part, offset, hash)
  const writes = new ChainedWrites(handle, offset)
  return {
    push: (buffers, bytes) => {
      for (const b of buffers) hash.update(b)
      return writes.push(buffers, bytes)
    },
    finish: async () => {
      await writes.drain()
      return { sha256: hash.digest("hex"), position: writes.written, directBytes: 0, flushedBytes: 0 }
    },
    release: () => writes.drain().catch(() => undefined)
  }
}

/** Hash and writes in the part writer's worker; the chunk is copied into the body's ring and let go. */
const workerSink = (writers: PartWriters, handle: fsp.FileHandle, part: string, offset: number): PartSink => {
  const body = writers.open(handle.fd, offset, part)
  const pushFrom = (buffers: ReadonlyArray<Uint8Array>, from: number): void | Promise<void> => {
    for (let i = from; i < buffers.length; i++) {
      const pending = body.push(buffers[i]!)
      if (pending !== undefined) {
        return i + 1 === buffers.length
          ? pending
          : pending.then(() => pushFrom(buffers, i + 1))
      }
    }
  }
  return {
    push: (buffers) => pushFrom(buffers, 0),
    finish: () => body.finish(),
    release: () => body.release(),
    into: () => body.into()
  }
}

const openSink = (
  writers: PartWriters,
  handle: fsp.FileHandle,
  part: string,
  offset: number,
  large: boolean
): Promise<PartSink> =>
  large ? Promise.resolve(workerSink(writers, handle, part, offset)) : inThreadSink(handle, part, offset)

/** How often a body's received bytes are reported (one ArtifactBytes event, not one per socket read). */
const PROGRESS_MS = 250

/** The error of a failed write (or prefix read) of `part`. */
const writeFailure = (part: string) => (cause: unknown) => new StagingError(`cannot write ${part}`, cause)

/**
 * Runs `body` into `sink`: a large body through `drain` when it has one (chunks handed over inside the
 * socket's own events: no Effect per chunk), else chunk by chunk from `stream` (a pull holds every read
 * of one turn, which the in-thread sink writes with one writev: drained, each read would be a write and
 * a pause of the socket). `onChunk` gets the bytes received every `PROGRESS_MS` and the rest once the body
 * ended or failed, so the events add up to every byte received.
 */
const pushBody = <E, R>(
  body: StageBody<E, R>,
  sink: PartSink,
  large: boolean,
  part: string,
  onChunk: (bytes: number) => Effect.Effect<void>
): Effect.Effect<void, E | StagingError, R> =>
  Effect.scoped(Effect.gen(function*() {
    let unreported = 0
    const count = (bytes: number) => {
      unreported += bytes
    }
    const report = Effect.suspend(() => {
      const bytes = unreported
      unreported = 0
      return bytes > 0 ? onChunk(bytes) : Effect.void
    })
    yield* report.pipe(Effect.delay(PROGRESS_MS), Effect.forever, Effect.forkScoped)
    const failed = writeFailure(part)
    yield* (body.drain === undefined || !large
      ? streamInto(body.stream, sink, count, failed)
      : drainInto(body.drain, sink, count, failed)).pipe(Effect.ensuring(report))
  }))

/** The stream's chunks (each what the socket had ready) pushed in order; a failed push fails it. */
const streamInto = <E, R>(
  stream: Stream.Stream<Uint8Array, E, R>,
  sink: PartSink,
  count: (bytes: number) => void,
  failed: (cause: unknown) => StagingError
): Effect.Effect<void, E | StagingError, R> =>
  Stream.runForEachChunk(stream, (chunk) =>
    Effect.suspend(() => {
      const buffers = Chunk.toReadonlyArray(chunk)
      let bytes = 0
      for (const b of buffers) bytes += b.byteLength
      count(bytes)
      let pending: void | Promise<void>
      try {
        pending = sink.push(buffers, bytes)
      } catch (e) {
        return Effect.fail(failed(e))
      }
      return pending === undefined ? Effect.void : Effect.tryPromise({ try: () => pending, catch: failed })
    }))

/**
 * The body's chunks pushed from `drain`'s consumer. A failed push throws (which stops the body, as a
 * defect of `drain`): its failure is kept here and is what the body fails with.
 */
const drainInto = <E, R>(
  drain: Drain<E, R>,
  sink: PartSink,
  count: (bytes: number) => void,
  failed: (cause: unknown) => StagingError
): Effect.Effect<void, E | StagingError, R> =>
  Effect.suspend(() => {
    let failure: { readonly cause: unknown } | undefined
    const keep = (cause: unknown) => {
      failure ??= { cause }
      throw cause
    }
    const push = (chunk: Uint8Array): void | Promise<void> => {
      count(chunk.byteLength)
      let pending: void | Promise<void>
      try {
        pending = sink.push([chunk], chunk.byteLength)
      } catch (e) {
        return keep(e)
      }
      return pending === undefined ? undefined : pending.catch(keep)
    }
    return Effect.flatMap(
      Effect.exit(drain(push, { into: sink.into })),
      (exit): Effect.Effect<void, E | StagingError> => failure !== undefined ? Effect.fail(failed(failure.cause)) : exit
    )
  })

/** The sha256 a meta records for content of exactly `bytes` bytes, else null. */
const hashOf = (meta: Meta | null, bytes: number): string | null =>
  meta !== null && meta.size === bytes && typeof meta.sha256 === "string" && /^[0-9a-f]{64}$/.test(meta.sha256)
    ? meta.sha256
    : null

/** fsync a file's data (the one flush a staged file gets, before it can be renamed into place). */
const syncFile = async (file: string): Promise<void> => {
  const h = await fsp.open(file, "r")
  try {
    await h.sync()
  } finally {
    await h.close()
  }
}

/** fsync of an open descriptor on the thread pool (the one asynchronous call of `writeWhole`). */
const fsyncFd = (fd: number): Promise<void> =>
  new Promise((resolve, reject) => fs.fsync(fd, (e) => (e === null ? resolve() : reject(e))))

/**
 * Writes `bytes` as the whole of `part`, fsyncs it and renames it to `done`. The page-cache calls (open,
 * write, close, rename) are made blocking: for a small body each costs a few microseconds, less than the
 * thread-pool round trip an asynchronous one costs; only the fsync waits for the disk.
 */
const writeWhole = async (part: string, done: string, bytes: Uint8Array): Promise<void> => {
  const fd = fs.openSync(part, "w")
  try {
    let off = 0
    while (off < bytes.byteLength) off += fs.writeSync(fd, bytes, off, bytes.byteLength - off)
    await fsyncFd(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(part, done)
}

/** `writeMeta` for a key with no files yet, blocking (see `writeWhole`): temp file, then rename. */
const writeFreshMetaSync = (file: string, meta: Meta): void => {
  const tmp = `${file}${TMP}`
  fs.writeFileSync(tmp, JSON.stringify(meta))
  fs.renameSync(tmp, file)
}

/** Feeds bytes [0, end) of `file` into `hash` (the prefix a resumed part already holds). */
const hashPrefix = (file: string, end: number, hash: Hash): Promise<void> =>
  end === 0 ? Promise.resolve() : new Promise((resolve, reject) => {
    fs.createReadStream(file, { start: 0, end: end - 1, highWaterMark: 1 << 20 })
      .on("data", (chunk) => hash.update(chunk as Buffer))
      .on("error", reject)
      .on("end", () => resolve())
  })

/** Size and sha256 of a staged file, read once (for a `.done` whose meta does not record its hash). */
export const hashStaged = (
  file: string
): Effect.Effect<{ readonly bytes: number; readonly sha256: string }, StagingError> =>
  Effect.tryPromise({
    try: async () => {
      const hash = createHash("sha256")
      const bytes = (await fsp.stat(file)).size
      await hashPrefix(file, bytes, hash)
      return { bytes, sha256: hash.digest("hex") }
    },
    catch: (e) => new StagingError(`cannot read ${file}`, e)
  })

export const make = (dir: string, now: () => number = Date.now) => {
  /** Hashes and writes large bodies off the main thread; its worker starts with the first one. */
  const writers = new PartWriters()
  const paths = (key: string) => ({
    part: nodePath.join(dir, `${key}.part`),
    done: nodePath.join(dir, `${key}.done`),
    meta: nodePath.join(dir, `${key}.json`)
  })

  // Created once per run (not per download); a failed attempt is tried again by the next download.
  let dirMade = false
  const makeDir = async (): Promise<void> => {
    try {
      await fsp.mkdir(dir, { recursive: true })
    } catch (e) {
      throw new StagingError(`cannot create ${dir}`, e)
    }
    dirMade = true
  }
  const ensureDir = Effect.suspend(() =>
    dirMade ? Effect.void : Effect.tryPromise({
      try: makeDir,
      catch: (e) => e as StagingError
    })
  )

  /**
   * The keys that had files here when `sweep` ran (null until then: every look-up asks the file
   * system). Within a run only that run's own downloads add files, and each artifact is handled once,
   * so a key not in the set has no `.done` or `.part` to find: no stat per artifact.
   */
  let leftovers: Set<string> | null = null
  const mayHaveFiles = (key: string) => leftovers === null || leftovers.has(key)
  /** Keys `stage` wrote files for in this run, each with whether it wrote a meta (resumable kinds). */
  const stagedHere = new Map<string, boolean>()

  const rmAll = (files: ReadonlyArray<string>) =>
    Promise.all(files.map((f) => fsp.unlink(f).catch(() => undefined))).then(() => undefined)

  /** A previously completed download of `key`, if any. */
  const find = (key: string): Effect.Effect<Staged | null> => mayHaveFiles(key) ? findOnDisk(key) : Effect.succeed(null)
  const findOnDisk = (key: string): Effect.Effect<Staged | null> =>
    Effect.promise(async () => {
      const p = paths(key)
      try {
        const stat = await fsp.stat(p.done)
        // meta is written before the rename; absent when `stageWhole` needed none (default type) or someone removed it
        const meta = await readMeta(p.meta)
        return {
          file: p.done,
          bytes: stat.size,
          received: 0,
          contentType: meta?.contentType ?? null,
          sha256: hashOf(meta, stat.size)
        }
      } catch {
        return null
      }
    })

  /**
   * Replaces `<key>.json` by a rename of a fully written temp file in the same folder, so a kill leaves
   * either the old meta or the new one, never a truncated one; nothing is written when the meta already
   * says the same (a resume of the same content). `fresh`: the key has no files yet (not read).
   */
  const writeMeta = async (file: string, meta: Meta, fresh = false): Promise<void> => {
    const text = JSON.stringify(meta)
    const current = fresh ? null : await fsp.readFile(file, "utf8").catch(() => null)
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
    mayHaveFiles(key) ? resumableOnDisk(key, owner) : Effect.succeed(null)
  const resumableOnDisk = (key: string, owner: Owner): Effect.Effect<Resumable | null> =>
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
        (size === null || bytes <= size) &&
        (size !== null || (etag !== null && !etag.startsWith("W/")) || lastModified !== null)
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
        await syncFile(p.part)
        await fsp.rename(p.part, p.done)
        const stat = await fsp.stat(p.done)
        return {
          file: p.done,
          bytes: stat.size,
          received: 0,
          contentType: meta?.contentType ?? null,
          sha256: hashOf(meta, stat.size)
        }
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
   * and removed otherwise. `onChunk` gets the bytes received, in batches (every `PROGRESS_MS`) whose sum is
   * everything this call received, the last batch included when the stream ends or fails.
   */
  const stage = <E, R>(
    key: string,
    owner: Owner,
    body: StageBody<E, R>,
    onChunk: (bytes: number) => Effect.Effect<void>
  ): Effect.Effect<Staged, E | StagingError, R> =>
    body.bytes !== undefined && (body.offset ?? 0) === 0 ?
      stageWhole(key, owner, body, body.bytes, onChunk) :
      Effect.gen(function*() {
        // A large body's worker starts now, while the files below are made, not once its bytes are waiting.
        const large = isLarge(body.size ?? null, owner.kind)
        if (large) writers.warm()
        yield* ensureDir
        // No leftovers of earlier runs and not staged before in this one: there is no meta to compare with.
        const fresh = !mayHaveFiles(key) && !stagedHere.has(key)
        stagedHere.set(key, RESUMABLE_KINDS.has(owner.kind))
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
        // A `.part` is only ever resumed under a meta that names its artifact (other kinds are never
        // resumed and get no meta: a `.done` of theirs a kill left is used with the default content type).
        if (RESUMABLE_KINDS.has(owner.kind)) {
          yield* Effect.tryPromise({
            try: () => writeMeta(p.meta, meta, fresh),
            catch: (e) => new StagingError(`cannot write ${p.meta}`, e)
          })
        }
        // The hash is computed as the bytes arrive, so the finished file is never read back; a resumed
        // part's prefix is read once first (Node cannot save a sha256 state to resume from). A large body
        // is hashed and written by the part writer's worker, a small one here (see `openSink`).
        const sink = yield* Effect.acquireRelease(
          Effect.tryPromise({
            try: () => openSink(writers, handle, p.part, offset, large),
            catch: (e) => new StagingError(`cannot read ${p.part}`, e)
          }),
          (s) => Effect.promise(() => s.release())
        )
        yield* pushBody(body, sink, large, p.part, onChunk)
        const { position, sha256 } = yield* Effect.tryPromise({
          try: () => sink.finish(),
          catch: writeFailure(p.part)
        })
        // The stream ended: the part is the whole artifact. A resumable part whose size nobody told us (no
        // total in the answers) gets it in its meta, with the hash, before anything else, so a kill from
        // here on leaves a part `promote` recognises as complete instead of one the next run asks Graph
        // for again. (With a known size the meta already says so; a part or `.done` a kill left is hashed
        // once by the run that finishes it.) Then the part's one fsync, then the rename to `.done`.
        if (RESUMABLE_KINDS.has(owner.kind) && meta.size === null) {
          yield* Effect.tryPromise({
            try: () => writeMeta(p.meta, { ...meta, size: position, sha256 }),
            catch: (e) => new StagingError(`cannot write ${p.meta}`, e)
          })
        }
        yield* Effect.tryPromise({
          try: () => handle.sync(),
          catch: (e) => new StagingError(`cannot fsync ${p.part}`, e)
        })
        yield* Effect.tryPromise({
          try: () => handle.close(),
          catch: (e) => new StagingError(`cannot close ${p.part}`, e)
        })
        yield* Effect.tryPromise({
          try: () => fsp.rename(p.part, p.done),
          catch: (e) => new StagingError(`cannot rename ${p.part}`, e)
        })
        return { file: p.done, bytes: position, received: position - offset, contentType: body.contentType, sha256 }
      }).pipe(
        Effect.scoped,
        // onError runs uninterruptibly, so an interrupted download (Ctrl-C) is handled the same way.
        Effect.onError(() => (RESUMABLE_KINDS.has(owner.kind) ? Effect.void : discard(key)))
      )

  /**
   * `stage` of a body already whole in memory: the same files in the same order (the part emptied, the
   * meta of a resumable kind, the bytes, one fsync, the rename to `.done`), without running a stream.
   */
  const stageWhole = (
    key: string,
    owner: Owner,
    body: StageBody<unknown, unknown>,
    bytes: Uint8Array,
    onChunk: (bytes: number) => Effect.Effect<void>
  ): Effect.Effect<Staged, StagingError> =>
    Effect.suspend(() => {
      const fresh = !mayHaveFiles(key) && !stagedHere.has(key)
      // A meta is what lets a `.part` be resumed and a `.done` keep its content type and hash. A whole
      // body is written at once (nothing worth resuming), so a key with no files yet whose content type
      // is the default gets none: a `.done` a kill leaves is read the same without it (default type, hashed
      // once), a `.part` is swept; one file created per artifact instead of two, and no rename of it.
      const withMeta = RESUMABLE_KINDS.has(owner.kind) &&
        (!fresh || (body.contentType !== null && body.contentType !== defaultContentType(owner.kind)))
      stagedHere.set(key, withMeta)
      const p = paths(key)
      const meta: Meta = {
        kind: owner.kind,
        id: owner.id,
        contentType: body.contentType,
        // the body is whole: its size is known even when the answer named none
        size: bytes.byteLength,
        etag: body.etag ?? null,
        lastModified: body.lastModified ?? null
      }
      const staged: Staged = {
        file: p.done,
        bytes: bytes.byteLength,
        received: bytes.byteLength,
        contentType: body.contentType,
        sha256: createHash("sha256").update(bytes).digest("hex")
      }
      // (one asynchronous step for the folder, the files and the fsync, then the one progress event)
      return Effect.tryPromise({
        try: async () => {
          if (!dirMade) await makeDir()
          if (withMeta) {
            // emptied before the new meta names it (see `stage`)
            fs.closeSync(fs.openSync(p.part, "w"))
            if (fresh) writeFreshMetaSync(p.meta, meta)
            else await writeMeta(p.meta, meta)
          }
          await writeWhole(p.part, p.done, bytes)
        },
        catch: (e) => e instanceof StagingError ? e : new StagingError(`cannot write ${p.part}`, e)
      }).pipe(Effect.zipRight(onChunk(bytes.byteLength)), Effect.as(staged))
    }).pipe((self) => (RESUMABLE_KINDS.has(owner.kind) ? self : Effect.onError(self, () => discard(key))))

  /**
   * Drops the staged files of `key` once its content is safely in the sink and checkpointed. Without
   * leftovers of earlier runs under the key, only what this run's `stage` left is removed (the `.done`
   * unless `moved`: the sink adopted it; the meta of a resumable kind), and nothing for a key this run
   * did not stage: no unlink that can only fail.
   */
  const remove = (key: string, options?: { readonly moved?: boolean }): Effect.Effect<void> =>
    Effect.suspend(() => {
      const p = paths(key)
      if (mayHaveFiles(key)) return Effect.promise(() => rmAll([p.part, p.done, p.meta, `${p.meta}${TMP}`]))
      const meta = stagedHere.get(key)
      if (meta === undefined) return Effect.void
      stagedHere.delete(key)
      // What this run's own `stage` left (at most two small files): unlinked blocking, no thread-pool trip each.
      return Effect.sync(() => {
        for (const f of [...(options?.moved === true ? [] : [p.done]), ...(meta ? [p.meta] : [])]) {
          try {
            fs.unlinkSync(f)
          } catch {
            // already gone
          }
        }
      })
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
    } catch (e) {
      // No staging folder yet (a first run): nothing was left, so no key needs a look on disk.
      if ((e as NodeJS.ErrnoException).code === "ENOENT") leftovers = new Set()
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
      if (
        old || meta === null || typeof meta.kind !== "string" || typeof meta.id !== "string" ||
        !RESUMABLE_KINDS.has(meta.kind)
      ) {
        parts.delete(key)
        stale.push(p.part)
      }
    }
    for (const n of names) {
      if (n.endsWith(".json") && !done.has(n.slice(0, -5)) && !parts.has(n.slice(0, -5))) {
        stale.push(nodePath.join(dir, n))
      }
      if (n.endsWith(`.json${TMP}`)) stale.push(nodePath.join(dir, n))
    }
    await rmAll(stale)
    leftovers = new Set([...done, ...parts])
  })

  /** Ends the part writer's worker (at the end of a run; it also ends by itself when idle). */
  const close: Effect.Effect<void> = Effect.promise(() => writers.close())

  return { find, mayHaveFiles, resumable, promote, discard, stage, remove, sweep, close, dir }
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
