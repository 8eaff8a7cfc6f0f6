/**
 * A private copy of a SQLite database, for reading it without writing a byte where it lives: opening the
 * file itself (even read-only) creates its `-wal` and `-shm` files next to it, and leaves them behind.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { SinkError } from "../SinkError.js"

/** Copies tried before giving up on a file that keeps changing (a run writing it). */
const ATTEMPTS = 5

/** The database file and its write-ahead log: committed changes may be in either. */
const partsOf = (filename: string) => [filename, `${filename}-wal`]

/**
 * Bytes of each file's header read into its version: a database's 100-byte header, and a write-ahead
 * log's 32-byte header, whose checkpoint sequence and salts change each time the log restarts from its
 * start (then its size can stay the same, within the same mtime tick: size and mtime alone miss it).
 */
const HEADER_BYTES = 100

const headerOf = (file: string): string => {
  const fd = fs.openSync(file, "r")
  try {
    const header = Buffer.alloc(HEADER_BYTES)
    return header.subarray(0, fs.readSync(fd, header, 0, HEADER_BYTES, 0)).toString("hex")
  } finally {
    fs.closeSync(fd)
  }
}

/** What a change to the files would change (absent ones included). */
export const versionOf = (filename: string): string =>
  partsOf(filename).map((f) => {
    const st = fs.statSync(f, { throwIfNoEntry: false })
    return st === undefined ? "-" : `${st.size}:${st.mtimeMs}:${st.ino}:${headerOf(f)}`
  }).join(" ")

const copyOnce = (filename: string, dir: string): string => {
  const copy = path.join(dir, path.basename(filename))
  for (const [from, to] of [[filename, copy], [`${filename}-wal`, `${copy}-wal`]] as const) {
    fs.rmSync(to, { force: true })
    if (fs.existsSync(from)) fs.copyFileSync(from, to)
  }
  return copy
}

/**
 * Copies `filename` (with its `-wal`) into a temporary folder removed with the scope, and returns the
 * copy's path. A copy the files changed under is taken again.
 */
export const copyToTemp = (filename: string): Effect.Effect<string, SinkError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => fs.mkdtempSync(path.join(os.tmpdir(), "meeting-artifacts-state-")),
      catch: (e) => copyError(filename, e)
    }),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.flatMap((dir) =>
    Effect.try({
      try: () => {
        for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
          const before = versionOf(filename)
          const copy = copyOnce(filename, dir)
          if (versionOf(filename) === before) return copy
        }
        throw new Error(`it changed during each of ${ATTEMPTS} copies (is a run writing it?)`)
      },
      catch: (e) => copyError(filename, e)
    })
  ))

const copyError = (filename: string, e: unknown) =>
  new SinkError({
    sink: "sqlite",
    operation: "copy",
    message: `sqlite: cannot copy ${filename} to read it: ${(e as Error)?.message ?? String(e)}`,
    cause: e
  })
