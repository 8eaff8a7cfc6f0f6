/**
 * One sync at a time per output folder and per checkpoint store.
 *
 * A run holds two locks while it writes:
 * - `<out>/.meeting-artifacts/sync.lock`, a file created atomically (written
 *   whole under a temp name, then hard-linked to its final name, so a reader
 *   never sees half a holder) naming the holder: pid, host, start time. It
 *   covers `--out` even when two runs use different `--state`s.
 * - a lock in the checkpoint store (see `CheckpointStore.lock`), covering a
 *   `--state` shared by runs with different `--out`s.
 *
 * A second run fails with `RunLockHeld`, which names the holder. A holder
 * that crashed does not block anyone: its lock is stale, and taken over, when
 * the holder is on this host and its pid is gone, or when it has not renewed
 * its lease (the file's mtime, touched every few seconds) for `LEASE_MS`: the
 * only sign a holder on another host (a shared folder) can give. Taking over
 * renames the stale file aside and checks it is still the stale holder's
 * before removing it, so two runs breaking the same stale lock cannot both
 * win, and a live holder's fresh lock is never removed.
 */
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { STATE_DIR } from "./Layout.js"
import { sinkError } from "./internal/errors.js"
import { SinkError } from "./SinkError.js"

/** Who holds a lock. */
export interface LockHolder {
  readonly pid: number
  readonly host: string
  /** ISO time the holder took the lock. */
  readonly startedAt: string
  /** Unique per acquisition: only its owner releases or renews a lock. */
  readonly token: string
}

/** A holder that stopped renewing its lease for this long is taken for dead. */
export const LEASE_MS = 60_000
/** How often a holder renews its lease. */
export const RENEW_MS = 5_000

/** Another run holds the lock. */
export class RunLockHeld extends Schema.TaggedError<RunLockHeld>()("RunLockHeld", {
  /** What is locked: the output folder or the checkpoint store, as printed. */
  resource: Schema.String,
  pid: Schema.Number,
  host: Schema.String,
  startedAt: Schema.String,
  message: Schema.String
}) {}

export const runLockHeld = (resource: string, holder: Omit<LockHolder, "token">): RunLockHeld =>
  new RunLockHeld({
    resource,
    pid: holder.pid,
    host: holder.host,
    startedAt: holder.startedAt,
    message:
      `another sync holds ${resource} (pid ${holder.pid} on host ${holder.host}, started ${holder.startedAt}): ` +
      "wait for it to finish; a lock left by a run that crashed is taken over by the next run"
  })

/** A new holder: this process, now. */
export const currentHolder = (): LockHolder => ({
  pid: process.pid,
  host: os.hostname(),
  startedAt: new Date().toISOString(),
  token: randomUUID()
})

/** True when `pid` is a live process on this host (a process we may not signal is alive too). */
const pidAlive = (pid: number): boolean => {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** A holder is stale when it is on this host and gone, or when its lease (last renewal) expired. */
export const isStale = (holder: Pick<LockHolder, "pid" | "host">, renewedAtMs: number, nowMs = Date.now()): boolean =>
  (holder.host === os.hostname() && !pidAlive(holder.pid)) || nowMs - renewedAtMs > LEASE_MS

/** Where the lock of an output folder lives. */
export const lockPath = (out: string): string => nodePath.join(out, STATE_DIR, "sync.lock")

const decodeHolder = (text: string): LockHolder | null => {
  try {
    const h = JSON.parse(text)
    return typeof h?.pid === "number" && typeof h?.host === "string" && typeof h?.startedAt === "string" &&
        typeof h?.token === "string"
      ? { pid: h.pid, host: h.host, startedAt: h.startedAt, token: h.token }
      : null
  } catch {
    return null
  }
}

export interface FolderLockState {
  readonly holder: LockHolder
  readonly stale: boolean
}

/** The holder of `out`'s lock, or null when nobody holds it. An unreadable lock file counts as a holder "unknown". */
const readLockFile = (file: string): FolderLockState | null => {
  let text: string
  let mtimeMs: number
  try {
    text = fs.readFileSync(file, "utf8")
    mtimeMs = fs.statSync(file).mtimeMs
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null
    throw e
  }
  const holder = decodeHolder(text) ??
    { pid: 0, host: "unknown", startedAt: new Date(mtimeMs).toISOString(), token: "" }
  return { holder, stale: holder.host === "unknown" ? Date.now() - mtimeMs > LEASE_MS : isStale(holder, mtimeMs) }
}

/** Who holds the lock of `out` now (null: nobody), without taking it. */
export const readFolderLock = (out: string): Effect.Effect<FolderLockState | null, SinkError> =>
  Effect.try({ try: () => readLockFile(lockPath(out)), catch: sinkError("lock", "read") })

/** Moves a stale lock aside and removes it, unless it changed hands meanwhile (then it is put back). */
const breakStale = (file: string, stale: LockHolder): void => {
  const aside = `${file}.${randomUUID()}.stale`
  try {
    fs.renameSync(file, aside)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return // someone else broke it first
    throw e
  }
  const moved = decodeHolder(fs.readFileSync(aside, "utf8"))
  if (moved === null || moved.token === stale.token) {
    fs.rmSync(aside, { force: true })
    return
  }
  // A live holder took the lock between our read and our rename: give it back.
  try {
    fs.linkSync(aside, file)
  } finally {
    fs.rmSync(aside, { force: true })
  }
}

/** One attempt to create the lock file whole; false when it exists. */
const tryCreate = (file: string, holder: LockHolder): boolean => {
  const temp = `${file}.${holder.token}.tmp`
  fs.writeFileSync(temp, `${JSON.stringify(holder)}\n`, { mode: 0o644 })
  try {
    fs.linkSync(temp, file)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false
    throw e
  } finally {
    fs.rmSync(temp, { force: true })
  }
}

const acquireFile = (
  file: string,
  holder: LockHolder,
  resource: string
): Effect.Effect<void, RunLockHeld | SinkError> =>
  Effect.suspend((): Effect.Effect<void, RunLockHeld | SinkError> => {
    try {
      fs.mkdirSync(nodePath.dirname(file), { recursive: true })
      // The state folder holds the lock, the staging area and the default state: never somewhere else.
      if (fs.lstatSync(nodePath.dirname(file)).isSymbolicLink()) {
        return Effect.fail(
          new SinkError({
            sink: "lock",
            operation: "symlink",
            message: `lock: refusing to go through the symbolic link ${
              nodePath.dirname(file)
            }: remove it (only real folders and files belong there)`
          })
        )
      }
      // Two rounds: a stale lock is broken once, then the lock is created or someone else won it.
      for (let round = 0; round < 3; round++) {
        if (tryCreate(file, holder)) return Effect.void
        const current = readLockFile(file)
        if (current === null) continue
        if (!current.stale) return Effect.fail(runLockHeld(resource, current.holder))
        breakStale(file, current.holder)
      }
      const current = readLockFile(file)
      return Effect.fail(runLockHeld(resource, current?.holder ?? { ...holder, host: "unknown" }))
    } catch (e) {
      return Effect.fail(sinkError("lock", "acquire")(e))
    }
  })

/** Removes the lock file if it is still ours. */
const releaseFile = (file: string, holder: LockHolder): Effect.Effect<void> =>
  Effect.sync(() => {
    try {
      if (decodeHolder(fs.readFileSync(file, "utf8"))?.token === holder.token) fs.rmSync(file, { force: true })
    } catch {
      // already gone
    }
  })

const renewFile = (file: string): Effect.Effect<void> =>
  Effect.sync(() => {
    try {
      const now = new Date()
      fs.utimesSync(file, now, now)
    } catch {
      // removed under us: nothing to renew
    }
  })

/**
 * Holds the lock of `out` for the scope: fails with `RunLockHeld` when a live
 * run holds it, takes over a stale one, renews the lease while the scope is
 * open and removes the lock when it closes.
 */
export const lockFolder = (
  out: string,
  holder: LockHolder = currentHolder()
): Effect.Effect<void, RunLockHeld | SinkError, Scope.Scope> => {
  const file = lockPath(out)
  return Effect.acquireRelease(acquireFile(file, holder, `--out ${out}`), () => releaseFile(file, holder)).pipe(
    Effect.zipRight(
      renewFile(file).pipe(
        Effect.repeat(Schedule.spaced(Duration.millis(RENEW_MS))),
        Effect.interruptible,
        Effect.forkScoped
      )
    ),
    Effect.asVoid
  )
}
