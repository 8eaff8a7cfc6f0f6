import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { SinkError } from "../SinkError.js"
import { sinkError } from "./errors.js"

export const TEMP_SUFFIX = ".partial"

/**
 * What a writer (a sink, for its lifetime) knows of the folders under its root: `real` ones it found to be
 * folders, not links, and `made` ones it created itself, which hold nothing it did not put there. A folder
 * of either kind is not looked at again, nor is a file in a `made` one before it is written (a link
 * swapped in afterwards, while the writer runs, is a race no check before a rename can close anyway; and a
 * rename replaces a link at its target name, it never follows it).
 */
export class KnownFolders {
  readonly real = new Set<string>()
  readonly made = new Set<string>()

  /** Records the folders `fs.mkdirSync(dir, { recursive: true })` made: `first` (what it returned) down to `dir`. */
  madeDown(first: string | undefined, dir: string): void {
    if (first === undefined) return
    for (let d = dir; d.length >= first.length; d = path.dirname(d)) {
      this.made.add(d)
      this.real.add(d)
      if (d === first) return
    }
  }
}

/** Where `rel` goes under `root`, and whether its folder is missing (found absent on the way: make it first). */
export interface Resolved {
  readonly abs: string
  readonly folderMissing: boolean
}

/**
 * Resolve `rel` (a `/`-separated layout path) under `root`, refusing anything that escapes it, including
 * through a symbolic link planted inside `root` (a folder or file of `rel` that is a link): what a sync
 * writes stays under `root` whatever is put there. `known` (a writer's own, for its lifetime): see
 * `KnownFolders`.
 */
export const resolveUnder = (
  root: string,
  rel: string,
  sink: string,
  known?: KnownFolders
): Effect.Effect<string, SinkError> =>
  Effect.suspend(() => {
    const r = resolveUnderOrError(root, rel, sink, known)
    return r instanceof SinkError ? Effect.fail(r) : Effect.succeed(r.abs)
  })

/** `resolveUnder` as a plain call (blocking lstats): where `rel` goes, or the error (returned, not thrown). */
export const resolveUnderOrError = (
  root: string,
  rel: string,
  sink: string,
  known?: KnownFolders
): Resolved | SinkError => {
  const at = pathUnder(root, rel, sink)
  if (at instanceof SinkError) return at
  let found: PathLook
  try {
    found = lookAlong(at.absRoot, at.parts, known)
  } catch (e) {
    return sinkError(sink, "resolve")(e)
  }
  return found.link === null ? { abs: at.abs, folderMissing: found.missing } : new SinkError({
    sink,
    operation: "symlink",
    message: `${sink}: refusing to go through the symbolic link ${found.link} inside ${at.absRoot}: ` +
      "remove it (only real folders and files belong there)"
  })
}

/** The folder of `rel` under `root` (absolute), by the names alone (nothing looked at), or the error. */
export const folderUnder = (root: string, rel: string, sink: string): string | SinkError => {
  const at = pathUnder(root, rel, sink)
  return at instanceof SinkError ? at : path.dirname(at.abs)
}

/** `rel` under `root` by the names alone: a relative path of plain names that stays inside, or the error. */
const pathUnder = (
  root: string,
  rel: string,
  sink: string
): { readonly absRoot: string; readonly parts: ReadonlyArray<string>; readonly abs: string } | SinkError => {
  const absRoot = absolute(root)
  const parts = rel.split("/")
  const bad = rel.length === 0 || path.isAbsolute(rel) || rel.includes("\\") || rel.includes("\0") ||
    parts.some((p) => p === "" || p === "." || p === "..")
  if (bad) return unsafePath(rel, sink)
  // POSIX: plain names (none empty, `.` or `..`, no separator) joined under a resolved root are already
  // resolved and inside it, so the join is the whole work (per file, where `resolve` + `relative` cost more)
  if (path.sep === "/") return { absRoot, parts, abs: `${absRoot === "/" ? "" : absRoot}/${rel}` }
  const abs = path.resolve(absRoot, ...parts)
  const inside = path.relative(absRoot, abs)
  return inside === "" || inside.startsWith("..") || path.isAbsolute(inside)
    ? unsafePath(rel, sink)
    : { absRoot, parts, abs }
}

const unsafePath = (rel: string, sink: string) =>
  new SinkError({
    sink,
    operation: "resolve",
    message: `${sink}: path ${JSON.stringify(rel)} is not a safe relative path`
  })

/** `path.resolve(root)`, the last root's kept (a writer asks for the same root for every file). */
let lastRoot: { readonly root: string; readonly abs: string; readonly cwd: string } | null = null
const absolute = (root: string): string => {
  // a relative root depends on the working directory, which may change between calls
  const cwd = path.isAbsolute(root) ? "" : process.cwd()
  if (lastRoot !== null && lastRoot.root === root && lastRoot.cwd === cwd) return lastRoot.abs
  const abs = path.resolve(root)
  lastRoot = { root, abs, cwd }
  return abs
}

/** What `lookAlong` found: the first symbolic link (a relative path) or null; whether a folder is missing. */
interface PathLook {
  readonly link: string | null
  readonly missing: boolean
}

const NOTHING_FOUND: PathLook = { link: null, missing: false }
const FOLDER_MISSING: PathLook = { link: null, missing: true }

/**
 * The first of `root/parts[0]`, `root/parts[0]/parts[1]`, ... that is a symbolic link, or none; and
 * whether one of the folders is missing (then nothing below it exists, and the look stops there).
 * Blocking (a few lstats of cached entries): no trip to the thread pool, no asynchronous step per file.
 */
const lookAlong = (absRoot: string, parts: ReadonlyArray<string>, known?: KnownFolders): PathLook => {
  let current = absRoot
  for (let i = 0; i < parts.length; i++) {
    const parent = current
    // (plain names, checked by `pathUnder`: joined as `path.join` would, without normalising each time)
    current = `${current.endsWith(path.sep) ? current : current + path.sep}${parts[i]!}`
    const folder = i < parts.length - 1
    if (folder ? known?.real.has(current) === true : known?.made.has(parent) === true) continue
    let stat: fs.Stats | undefined
    try {
      // blocking: an lstat costs a few microseconds, less than the thread-pool trip of an asynchronous one;
      // a missing entry (each new meeting's folder) is an answer, not an error built with its stack
      stat = fs.lstatSync(current, { throwIfNoEntry: false })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOTDIR") return NOTHING_FOUND
      throw e
    }
    if (stat === undefined) return folder ? FOLDER_MISSING : NOTHING_FOUND
    if (stat.isSymbolicLink()) return { link: parts.slice(0, i + 1).join("/"), missing: false }
    if (folder && stat.isDirectory()) known?.real.add(current)
  }
  return NOTHING_FOUND
}

const tempNameFor = (abs: string) =>
  path.join(path.dirname(abs), `.${path.basename(abs).slice(0, 80)}.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`)

/**
 * Codes of a directory fsync that says the platform or file system cannot fsync directories (nothing to
 * make durable that way), not that the write-back failed.
 */
const DIR_FSYNC_UNSUPPORTED: ReadonlySet<string> = new Set([
  "EINVAL",
  "ENOTSUP",
  "EOPNOTSUPP",
  "EISDIR",
  "EPERM",
  "EBADF"
])

/**
 * fsync of one directory: a no-op where directories cannot be opened or fsynced (e.g. Windows); fails
 * with the error of an fsync that did not make the folder's entries durable (EIO, ENOSPC, ...), so a
 * rename is never taken as durable when it is not.
 */
const fsyncDirOnce = (dir: string): Promise<void> => {
  // open and close blocking (page cache, microseconds); only the fsync goes to the thread pool
  let fd: number
  try {
    fd = fs.openSync(dir, "r")
  } catch {
    return Promise.resolve()
  }
  return new Promise<void>((resolve, reject) =>
    fs.fsync(fd, (e) => {
      try {
        fs.closeSync(fd)
      } catch {
        // the fsync's answer is what counts
      }
      if (e === null || DIR_FSYNC_UNSUPPORTED.has(e.code ?? "")) resolve()
      else reject(e)
    })
  )
}

/** Folders one round of `DirSyncs` fsyncs at most (the rest wait for the next round). */
export const DIR_SYNC_ROUND_MAX = 64

/**
 * Directory fsyncs in rounds (group commit): a folder asked for while a round is in flight waits for
 * the next one, where it is fsynced once however many renames in it asked meanwhile (a meeting's
 * recording and transcript land in one folder; concurrent downloads finish together). Each caller returns
 * once an fsync of its folder that STARTED after its call has finished, never by joining one already in
 * flight (that one may predate its rename). A caller alone starts its round at once (no timer, no added
 * wait); a round holds at most `DIR_SYNC_ROUND_MAX` folders, and its callers, each waiting for its own
 * rename to be durable, bound how many wait. `syncOnce` is the fsync of one folder (injectable: a test
 * cannot observe durability, only the order of calls).
 */
export class DirSyncs {
  private waiting = new Map<string, Array<{ readonly resolve: () => void; readonly reject: (e: unknown) => void }>>()
  private running = false
  constructor(private readonly syncOnce: (dir: string) => Promise<void> = fsyncDirOnce) {}

  sync(dir: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiters = this.waiting.get(dir)
      if (waiters === undefined) this.waiting.set(dir, [{ resolve, reject }])
      else waiters.push({ resolve, reject })
      if (!this.running) this.round()
    })
  }

  private round(): void {
    const dirs = [...this.waiting].slice(0, DIR_SYNC_ROUND_MAX)
    if (dirs.length === 0) {
      this.running = false
      return
    }
    this.running = true
    for (const [dir] of dirs) this.waiting.delete(dir)
    void Promise.all(
      dirs.map(([dir, waiters]) =>
        // a failed fsync fails every caller that waited for it; the next round goes on
        this.syncOnce(dir).then(
          () => {
            for (const w of waiters) w.resolve()
          },
          (e) => {
            for (const w of waiters) w.reject(e)
          }
        )
      )
    ).then(() => this.round())
  }
}

const dirSyncs = new DirSyncs()

/** fsync a directory so a rename inside it is durable (grouped with concurrent ones: see `DirSyncs`). */
export const fsyncDir = (dir: string): Promise<void> => dirSyncs.sync(dir)

export interface Written {
  readonly bytes: number
  readonly sha256: string
}

/**
 * Stream `content` to `abs` atomically: a temp file in the same folder, every
 * chunk hashed and written as it arrives (constant memory), fsync, rename,
 * fsync of the folder. On failure or interruption the temp file is removed; a
 * SIGKILL can leave a `*.partial` temp file, never a partial file under `abs`.
 */
export const writeStreamAtomic = <E, R>(
  abs: string,
  content: Stream.Stream<Uint8Array, E, R>,
  sink: string
): Effect.Effect<Written, E | SinkError, R> =>
  Effect.gen(function*() {
    const dir = path.dirname(abs)
    yield* Effect.tryPromise({ try: () => fsp.mkdir(dir, { recursive: true }), catch: sinkError(sink, "mkdir") })
    const temp = tempNameFor(abs)
    return yield* Effect.acquireUseRelease(
      Effect.tryPromise({ try: () => fsp.open(temp, "wx", 0o644), catch: sinkError(sink, "open") }),
      (handle) =>
        Effect.gen(function*() {
          const hash = createHash("sha256")
          let bytes = 0
          yield* Stream.runForEach(content, (chunk) =>
            Effect.tryPromise({
              try: async () => {
                let off = 0
                while (off < chunk.length) {
                  const { bytesWritten } = await handle.write(chunk, off, chunk.length - off)
                  off += bytesWritten
                }
                hash.update(chunk)
                bytes += chunk.length
              },
              catch: sinkError(sink, "write")
            }))
          yield* Effect.tryPromise({ try: () => handle.sync(), catch: sinkError(sink, "fsync") })
          return { bytes, sha256: hash.digest("hex") }
        }),
      (handle, exit) =>
        Effect.promise(async () => {
          await handle.close().catch(() => undefined)
          if (exit._tag === "Failure") await fsp.rm(temp, { force: true }).catch(() => undefined)
        })
    ).pipe(
      Effect.tap(() =>
        Effect.tryPromise({
          try: async () => {
            try {
              await fsp.rename(temp, abs)
            } catch (e) {
              await fsp.rm(temp, { force: true }).catch(() => undefined)
              throw e
            }
            await fsyncDir(dir)
          },
          catch: sinkError(sink, "rename")
        })
      )
    )
  })

/**
 * Move `file`, complete and already fsynced, to `abs` by a rename, then fsync the folder: the final
 * name appears only with the whole content. Across file systems (EXDEV, e.g. a staging folder mounted
 * elsewhere) it is streamed into place by `writeStreamAtomic` and removed instead.
 */
export const moveFileAtomic = (file: string, abs: string, sink: string): Effect.Effect<void, SinkError> =>
  Effect.flatMap(
    Effect.tryPromise({ try: () => renameIntoPlace(file, abs), catch: sinkError(sink, "rename") }),
    (moved) => (moved ? Effect.void : copyIntoPlace(file, abs, sink))
  )

/**
 * The fast path of `moveFileAtomic`: `file` renamed to `abs` (its folder made when missing) and the folder
 * fsynced; false when they are on different file systems (nothing done: see `copyIntoPlace`).
 * `folderMissing`: the folder was found absent (`resolveUnderOrError`), so it is made before the rename
 * rather than after a rename failing for want of it; `known` learns the folders made. `syncFolder` false:
 * the folder's fsync is the caller's (`fsyncDir`), e.g. once for several renames into it.
 */
export const renameIntoPlace = async (
  file: string,
  abs: string,
  folderMissing = false,
  known?: KnownFolders,
  syncFolder = true
): Promise<boolean> => {
  const dir = path.dirname(abs)
  // blocking: a mkdir or a rename within one file system is a metadata update, cheaper than a thread-pool trip
  const makeFolder = () => {
    const first = fs.mkdirSync(dir, { recursive: true })
    known?.madeDown(first, dir)
  }
  try {
    if (folderMissing) makeFolder()
    try {
      fs.renameSync(file, abs)
    } catch (e) {
      // the folder is usually there (the meeting's other artifact made it) unless found missing: else made now
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
      makeFolder()
      fs.renameSync(file, abs)
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EXDEV") return false
    throw e
  }
  if (syncFolder) await fsyncDir(dir)
  return true
}

/** The slow path of `moveFileAtomic` (another file system): copied atomically, then the source removed. */
export const copyIntoPlace = (file: string, abs: string, sink: string): Effect.Effect<void, SinkError> =>
  Effect.zipRight(
    writeStreamAtomic(
      abs,
      Stream.suspend(() =>
        Stream.fromAsyncIterable(
          fs.createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array>,
          sinkError(sink, "read")
        )
      ),
      sink
    ),
    Effect.tryPromise({ try: () => fsp.rm(file, { force: true }), catch: sinkError(sink, "remove") })
  )

/** Write a whole small file atomically (temp + fsync + rename + fsync dir). */
export const writeFileAtomic = (abs: string, data: string | Uint8Array, sink: string): Effect.Effect<void, SinkError> =>
  Effect.tryPromise({
    try: async () => {
      const dir = path.dirname(abs)
      await fsp.mkdir(dir, { recursive: true })
      const temp = tempNameFor(abs)
      const handle = await fsp.open(temp, "wx", 0o644)
      try {
        await handle.writeFile(data)
        await handle.sync()
      } catch (e) {
        await handle.close().catch(() => undefined)
        await fsp.rm(temp, { force: true }).catch(() => undefined)
        throw e
      }
      await handle.close()
      try {
        await fsp.rename(temp, abs)
      } catch (e) {
        await fsp.rm(temp, { force: true }).catch(() => undefined)
        throw e
      }
      await fsyncDir(dir)
    },
    catch: sinkError(sink, "write")
  })

/**
 * A journal-like file appended to durably: each `append` returns once its data is on disk. The file is
 * opened at the first append and kept open until `close`, so an append is one blocking write (page
 * cache, microseconds) and one fdatasync on the thread pool, instead of an open, a write, an fsync and
 * a close there. For whole lines: a kill cannot tear a write of this size in practice, and readers of
 * the file tolerate an unterminated last line.
 */
export class AppendLog {
  private fd: number | null = null
  constructor(readonly abs: string, private readonly sink: string) {}

  append(data: string): Effect.Effect<void, SinkError> {
    return Effect.tryPromise({
      try: async () => {
        // A file this append creates is durable only once its folder is too (one folder fsync per file).
        const created = this.fd === null && !fs.existsSync(this.abs)
        const fd = this.fd ??= fs.openSync(this.abs, "a")
        const bytes = Buffer.from(data, "utf8")
        let off = 0
        while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off)
        await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (e) => (e === null ? resolve() : reject(e))))
        if (created) await fsyncDir(path.dirname(this.abs))
      },
      catch: sinkError(this.sink, "append")
    })
  }

  /** Closes the file (the next `append` opens it again, e.g. after it was removed). */
  close(): void {
    const fd = this.fd
    this.fd = null
    if (fd !== null) {
      try {
        fs.closeSync(fd)
      } catch {
        // closed already
      }
    }
  }
}

/** Size and sha256 of a file, streamed; `null` when it does not exist. */
export const hashFile = (abs: string, sink: string): Effect.Effect<Written | null, SinkError> =>
  Effect.tryPromise({
    try: () =>
      new Promise<Written | null>((resolve, reject) => {
        const hash = createHash("sha256")
        let bytes = 0
        const rs = fs.createReadStream(abs, { highWaterMark: 1 << 20 })
        rs.on("data", (chunk) => {
          const b = chunk as Buffer
          hash.update(b)
          bytes += b.length
        })
        rs.on("error", (e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? resolve(null) : reject(e)))
        rs.on("end", () => resolve({ bytes, sha256: hash.digest("hex") }))
      }),
    catch: sinkError(sink, "read")
  })

/** The size of a regular file; `null` when there is none at `abs`. */
export const fileSize = (abs: string, sink: string): Effect.Effect<number | null, SinkError> =>
  Effect.tryPromise({
    try: () =>
      fsp.stat(abs).then(
        (s) => (s.isFile() ? s.size : null),
        (e: NodeJS.ErrnoException) => {
          if (e.code === "ENOENT" || e.code === "ENOTDIR") return null
          throw e
        }
      ),
    catch: sinkError(sink, "stat")
  })

/** Temp files (`.<name>.<hex>.partial`) a killed writer left under `root`, as `/`-separated relative paths. */
export const listTempFiles = (root: string, sink: string): Effect.Effect<Array<string>, SinkError> =>
  Effect.tryPromise({
    try: () => walkEntries(root, (e) => e.isFile() && e.name.startsWith(".") && e.name.endsWith(TEMP_SUFFIX)),
    catch: sinkError(sink, "list temp files")
  })

/** Symbolic links anywhere under `root` (never followed), as `/`-separated relative paths. */
export const listSymlinks = (root: string, sink: string): Effect.Effect<Array<string>, SinkError> =>
  Effect.tryPromise({
    try: () => walkEntries(root, (e) => e.isSymbolicLink()),
    catch: sinkError(sink, "list symbolic links")
  })

/** Relative paths of the entries under `root` that `keep` selects (links are not followed). */
const walkEntries = async (root: string, keep: (e: fs.Dirent) => boolean): Promise<Array<string>> => {
  const found: Array<string> = []
  const walk = async (dir: string, rel: string): Promise<void> => {
    let entries: Array<fs.Dirent>
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`
      if (keep(e)) found.push(r)
      if (e.isDirectory()) await walk(path.join(dir, e.name), r)
    }
  }
  await walk(path.resolve(root), "")
  return found.sort()
}

/** Remove the temp files `listTempFiles` finds; returns how many. */
export const removeTempFiles = (root: string, sink: string): Effect.Effect<number, SinkError> =>
  Effect.flatMap(listTempFiles(root, sink), (found) =>
    Effect.tryPromise({
      try: async () => {
        for (const r of found) await fsp.rm(path.join(path.resolve(root), ...r.split("/")), { force: true })
        return found.length
      },
      catch: sinkError(sink, "cleanup")
    }))
