/**
 * Checks an output directory against its manifest: every file a line names is
 * there, complete (size and sha256 as recorded) and, for transcripts, holds the
 * recorded number of cues; every id is in exactly one line. Reads only.
 *
 * What a data platform runs before it loads `<out>` (or after copying it):
 * `meeting-artifacts verify --out <dir>`.
 */
import { countCues } from "@meeting-artifacts/correlate"
import { Failures, FileSystemSink, Manifest, RunLock, SinkError } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"

export type VerifyProblemKind =
  /** The file a line names is not there (or its path is not a safe relative path). */
  | "missing"
  /** Size or sha256 differ from the line. */
  | "changed"
  /** The transcript's cue count differs from the line's `cues`. */
  | "cues"
  /** An id in more than one line. */
  | "duplicate"
  /** A line of manifest.jsonl that is not a whole manifest entry (`kind` "manifest"). */
  | "invalid"
  /** Lines an interrupted run left in the manifest's journal, not yet in manifest.jsonl (`kind` "manifest"). */
  | "unflushed"
  /** A symbolic link inside `<out>` (`kind` "out"): an export is real folders and files, and sync refuses to write through links. */
  | "symlink"

export interface VerifyProblem {
  readonly problem: VerifyProblemKind
  readonly kind: "recording" | "transcript" | "manifest" | "out"
  readonly id: string
  readonly path: string
  /** What is wrong, in a sentence. */
  readonly detail: string
}

export interface VerifyReport {
  readonly out: string
  /** Lines of manifest.jsonl. */
  readonly sets: number
  readonly byMatch: { readonly contentCorrelationId: number; readonly "time-overlap": number; readonly none: number }
  readonly recordings: number
  readonly transcripts: number
  /** Bytes of the files the manifest names, as recorded. */
  readonly bytes: number
  /** Lines of failures.jsonl: artifacts that failed for good and are not exported. */
  readonly failures: number
  readonly problems: ReadonlyArray<VerifyProblem>
  /** Temp files (`*.partial`) a killed run left behind; the next sync removes them. */
  readonly leftovers: ReadonlyArray<string>
}

export interface VerifyOptions {
  /** Files hashed at a time (default 4). */
  readonly concurrency?: number | undefined
}

/**
 * Fails with `RunLockHeld` when a live sync holds `out`'s lock: what it is
 * writing is not a snapshot worth checking (a stale lock of a crashed run
 * does not count: its output is what verify is for).
 */
export const noSyncRunning = (out: string): Effect.Effect<void, SinkError | RunLock.RunLockHeld> =>
  Effect.flatMap(RunLock.readFolderLock(out), (lock) =>
    lock === null || lock.stale ? Effect.void : Effect.fail(
      new RunLock.RunLockHeld({
        resource: `--out ${out}`,
        pid: lock.holder.pid,
        host: lock.holder.host,
        startedAt: lock.holder.startedAt,
        message: `a sync is running on ${out} (pid ${lock.holder.pid} on host ${lock.holder.host}, started ` +
          `${lock.holder.startedAt}): its output is not a consistent snapshot until it finishes; verify after it`
      })
    ))

/**
 * Verifies `<out>` against `<out>/manifest.jsonl` (see the module comment).
 * Fails when the manifest cannot be read, and with `RunLockHeld` when a sync
 * was running on `out` before or after the check (the report would mix states).
 */
export const verify = (
  out: string,
  options?: VerifyOptions
): Effect.Effect<VerifyReport, SinkError | RunLock.RunLockHeld> =>
  Effect.zipLeft(
    Effect.zipRight(noSyncRunning(out), verifySnapshot(out, options)),
    noSyncRunning(out)
  )

const verifySnapshot = (out: string, options?: VerifyOptions): Effect.Effect<VerifyReport, SinkError> =>
  Effect.gen(function*() {
    // manifest.jsonl exactly as a reader finds it, line by line.
    const text = yield* Effect.tryPromise({
      // Absent is an empty export; anything else that cannot be read (a directory, no permission) is an error.
      try: () =>
        fsp.readFile(nodePath.join(out, Manifest.MANIFEST_FILE), "utf8").catch((e) => {
          if (e?.code === "ENOENT") return ""
          throw e
        }),
      catch: (e) =>
        new SinkError({
          sink: "manifest",
          operation: "read",
          message: `cannot read ${Manifest.MANIFEST_FILE}: ${
            (e as NodeJS.ErrnoException)?.code === "EISDIR" ? "it is a directory, not a file" : String(e)
          }`,
          cause: e
        })
    })
    const problems: Array<VerifyProblem> = []
    const lines: Array<Manifest.ManifestEntry> = []
    const rows = text.split("\n")
    for (let i = 0; i < rows.length; i++) {
      if (rows[i]!.trim() === "") continue
      const parsed = yield* Effect.either(Manifest.parseManifest(rows[i]! + "\n"))
      if (parsed._tag === "Right") lines.push(...parsed.right)
      else {
        problems.push({
          problem: "invalid",
          kind: "manifest",
          id: "",
          path: Manifest.MANIFEST_FILE,
          detail: `line ${i + 1} is not a whole manifest entry (${
            Manifest.describeInvalidLine(rows[i]!.trim())
          }): ${Manifest.DAMAGED_MANIFEST_ADVICE}`
        })
      }
    }
    const unflushed = yield* Manifest.unflushed(out, text)
    if (unflushed > 0) {
      problems.push({
        problem: "unflushed",
        kind: "manifest",
        id: "",
        path: Manifest.MANIFEST_FILE,
        detail: `${unflushed} line${unflushed === 1 ? "" : "s"} of an interrupted run ${
          unflushed === 1 ? "is" : "are"
        } in the manifest's journal, not yet in manifest.jsonl: run sync again to merge ${
          unflushed === 1 ? "it" : "them"
        }`
      })
    }
    const failures = yield* Failures.read(out)
    const byMatch = { contentCorrelationId: 0, "time-overlap": 0, none: 0 }
    const seen = new Set<string>()
    type Check = {
      kind: "recording" | "transcript"
      id: string
      path: string
      bytes: number
      sha256: string
      cues: number | null
    }
    const checks: Array<Check> = []
    let bytes = 0
    for (const line of lines) {
      byMatch[line.match]++
      const files: Array<Check> = []
      if (line.recording) files.push({ kind: "recording", ...line.recording, cues: null })
      if (line.transcript) files.push({ kind: "transcript", ...line.transcript })
      for (const f of files) {
        const key = `${f.kind}:${f.id}`
        if (seen.has(key)) {
          problems.push({
            problem: "duplicate",
            kind: f.kind,
            id: f.id,
            path: f.path,
            detail: `${f.kind} ${f.id} is in more than one manifest line`
          })
          continue
        }
        seen.add(key)
        bytes += f.bytes
        checks.push(f)
      }
    }
    yield* Effect.forEach(checks, (f) =>
      Effect.gen(function*() {
        const stat = yield* FileSystemSink.statContent(out, f.path).pipe(
          Effect.catchAll((e) => Effect.succeed(e.operation === "symlink" ? ("symlink" as const) : null))
        )
        if (stat === "symlink") {
          problems.push({
            problem: "symlink",
            kind: f.kind,
            id: f.id,
            path: f.path,
            detail: `${f.path} goes through a symbolic link`
          })
          return
        }
        if (stat === null) {
          problems.push({ problem: "missing", kind: f.kind, id: f.id, path: f.path, detail: `${f.path} is missing` })
          return
        }
        if (stat.bytes !== f.bytes || stat.sha256 !== f.sha256) {
          problems.push({
            problem: "changed",
            kind: f.kind,
            id: f.id,
            path: f.path,
            detail: `${f.path} has ${stat.bytes} bytes, sha256 ${
              stat.sha256.slice(0, 12)
            }…; the manifest says ${f.bytes} bytes, sha256 ${f.sha256.slice(0, 12)}…`
          })
          return
        }
        if (f.cues !== null) {
          const vtt = yield* Effect.promise(() =>
            fsp.readFile(nodePath.join(out, ...f.path.split("/")), "utf8").catch(() => null)
          )
          if (vtt === null) {
            problems.push({ problem: "missing", kind: f.kind, id: f.id, path: f.path, detail: `${f.path} is missing` })
            return
          }
          const cues = countCues(vtt)
          if (cues !== f.cues) {
            problems.push({
              problem: "cues",
              kind: f.kind,
              id: f.id,
              path: f.path,
              detail: `${f.path} has ${cues} cues; the manifest says ${f.cues}`
            })
          }
        }
      }), { concurrency: options?.concurrency ?? 4, discard: true })
    for (const link of yield* FileSystemSink.listSymlinks(out)) {
      problems.push({
        problem: "symlink",
        kind: "out",
        id: "",
        path: link,
        detail: `${link} is a symbolic link: sync refuses to write through it; replace it with the real folder or file`
      })
    }
    const order = (p: VerifyProblem) => `${p.path}\u0000${p.problem}`
    problems.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0))
    return {
      out,
      sets: lines.length,
      byMatch,
      recordings: lines.filter((l) => l.recording).length,
      transcripts: lines.filter((l) => l.transcript).length,
      bytes,
      failures: failures.length,
      problems,
      leftovers: yield* FileSystemSink.listTempFiles(out)
    }
  })
