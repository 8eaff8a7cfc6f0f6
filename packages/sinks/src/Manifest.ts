/**
 * `<out>/manifest.jsonl`: one JSON object per correlated set, in the shape of
 * design.md:
 *
 * ```
 * { meetingId, organizerId, contentCorrelationId|null,
 *   match: "contentCorrelationId"|"time-overlap"|"none",
 *   recording: null|{ id, createdDateTime, endDateTime, path, bytes, sha256, contentType },
 *   transcript: null|{ id, createdDateTime, endDateTime, path, bytes, sha256, cues } }
 * ```
 *
 * Upserts keep every recording id and every transcript id in exactly one line:
 * a new line replaces every line that shares its recording or transcript id,
 * and an artifact of a replaced line that the new line does not carry stays,
 * alone, in a line of its own (match "none"). The whole file is rewritten
 * atomically (temp + fsync + rename) before an upsert returns, so a kill
 * leaves the old manifest or the new one; upserts that arrive during a
 * rewrite share the next one. Lines are indexed by id and their text cached,
 * so an upsert costs O(1) and a rewrite is a join plus the write itself.
 *
 * The common upsert only adds lines (ids the manifest does not hold yet):
 * those are appended and fsynced instead, so exporting n sets costs O(n), not
 * O(n^2). Only an upsert that replaces a line rewrites the file. A kill cannot
 * tear a write of a few lines in practice; should a power loss leave an
 * unterminated last line, loading drops it (its upsert never returned, so the
 * set is exported again) and the next upsert rewrites the file whole.
 */
import type { ArtifactSet } from "@meeting-artifacts/correlate"
import { MatchKind } from "@meeting-artifacts/correlate"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { appendFileDurable, writeFileAtomic } from "./internal/atomic.js"
import * as GroupCommit from "./internal/groupCommit.js"
import { SinkError } from "./SinkError.js"
import { sinkError } from "./internal/errors.js"

const SINK = "manifest"

export const MANIFEST_FILE = "manifest.jsonl"

// What the manifest says of any exported file, in the order design.md gives.
const fileFields = {
  id: Schema.String,
  createdDateTime: Schema.NullOr(Schema.String),
  endDateTime: Schema.NullOr(Schema.String),
  path: Schema.String,
  bytes: Schema.Number,
  sha256: Schema.String
}

export const ManifestRecording = Schema.Struct({ ...fileFields, contentType: Schema.String })
export type ManifestRecording = typeof ManifestRecording.Type

export const ManifestTranscript = Schema.Struct({ ...fileFields, cues: Schema.Number })
export type ManifestTranscript = typeof ManifestTranscript.Type

export const ManifestEntry = Schema.Struct({
  meetingId: Schema.String,
  organizerId: Schema.String,
  contentCorrelationId: Schema.NullOr(Schema.String),
  match: MatchKind,
  recording: Schema.NullOr(ManifestRecording),
  transcript: Schema.NullOr(ManifestTranscript)
})
export type ManifestEntry = typeof ManifestEntry.Type

/** The file facts of a written recording. */
export interface RecordingFile {
  readonly path: string
  readonly bytes: number
  readonly sha256: string
  readonly contentType: string
}

/** The file facts of a written transcript, with its cue count. */
export interface TranscriptFile {
  readonly path: string
  readonly bytes: number
  readonly sha256: string
  readonly cues: number
}

/**
 * Build a manifest line from a correlated set and what was written for it.
 * An artifact of the set without a file (not written) is left out (null).
 */
export const entryFromSet = (
  set: ArtifactSet,
  files: { readonly recording?: RecordingFile | null | undefined; readonly transcript?: TranscriptFile | null | undefined }
): ManifestEntry => ({
  meetingId: set.meetingId,
  organizerId: set.organizerId,
  contentCorrelationId: set.contentCorrelationId,
  match: set.match,
  recording: set.recording && files.recording
    ? {
      id: set.recording.id,
      createdDateTime: set.recording.createdDateTime ?? null,
      endDateTime: set.recording.endDateTime ?? null,
      path: files.recording.path,
      bytes: files.recording.bytes,
      sha256: files.recording.sha256,
      contentType: files.recording.contentType
    }
    : null,
  transcript: set.transcript && files.transcript
    ? {
      id: set.transcript.id,
      createdDateTime: set.transcript.createdDateTime ?? null,
      endDateTime: set.transcript.endDateTime ?? null,
      path: files.transcript.path,
      bytes: files.transcript.bytes,
      sha256: files.transcript.sha256,
      cues: files.transcript.cues
    }
    : null
})

/** One line of JSON with the keys in the documented order. */
export const formatEntry = (e: ManifestEntry): string =>
  JSON.stringify({
    meetingId: e.meetingId,
    organizerId: e.organizerId,
    contentCorrelationId: e.contentCorrelationId,
    match: e.match,
    recording: e.recording && {
      id: e.recording.id,
      createdDateTime: e.recording.createdDateTime,
      endDateTime: e.recording.endDateTime,
      path: e.recording.path,
      bytes: e.recording.bytes,
      sha256: e.recording.sha256,
      contentType: e.recording.contentType
    },
    transcript: e.transcript && {
      id: e.transcript.id,
      createdDateTime: e.transcript.createdDateTime,
      endDateTime: e.transcript.endDateTime,
      path: e.transcript.path,
      bytes: e.transcript.bytes,
      sha256: e.transcript.sha256,
      cues: e.transcript.cues
    }
  })

const decodeEntry = Schema.decodeUnknownEither(Schema.parseJson(ManifestEntry))

/**
 * Parse manifest text; a line that is not a valid entry is a `SinkError`
 * naming the line, except an unterminated last line (an append cut short),
 * which is left out.
 */
export const parseManifest = (text: string): Effect.Effect<Array<ManifestEntry>, SinkError> =>
  Effect.suspend(() => {
    const out: Array<ManifestEntry> = []
    const lines = text.split("\n")
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim()
      if (line === "") continue
      const r = decodeEntry(line)
      if (r._tag === "Left") {
        if (i === lines.length - 1) break
        return Effect.fail(
          new SinkError({ sink: SINK, operation: "parse", message: `manifest line ${i + 1} is not a valid entry: ${r.left.message}` })
        )
      }
      out.push(r.right)
    }
    return Effect.succeed(out)
  })

const keyOf = (e: ManifestEntry): string =>
  e.recording ? `r:${e.recording.id}` : e.transcript ? `t:${e.transcript.id}` : `m:${e.meetingId}`

/**
 * Upsert `incoming` into `existing` (pure). Each recording id and each
 * transcript id ends up in exactly one line; artifacts displaced from a line
 * keep a line of their own.
 */
export const mergeEntries = (
  existing: ReadonlyArray<ManifestEntry>,
  incoming: ReadonlyArray<ManifestEntry>
): Array<ManifestEntry> => {
  let lines: Array<ManifestEntry> = [...existing]
  for (const e of incoming) {
    const rid = e.recording?.id
    const tid = e.transcript?.id
    const next: Array<ManifestEntry> = []
    let replacedAt = -1
    for (const old of lines) {
      const hitR = rid !== undefined && old.recording?.id === rid
      const hitT = tid !== undefined && old.transcript?.id === tid
      const sameEmpty = !e.recording && !e.transcript && !old.recording && !old.transcript && old.meetingId === e.meetingId
      if (!hitR && !hitT && !sameEmpty) {
        next.push(old)
        continue
      }
      if (replacedAt < 0) replacedAt = next.length
      // Keep what the new line does not carry, alone.
      const keepR = old.recording && old.recording.id !== rid ? old.recording : null
      const keepT = old.transcript && old.transcript.id !== tid ? old.transcript : null
      if (keepR) next.push({ ...old, match: "none", transcript: null, recording: keepR })
      if (keepT) next.push({ ...old, match: "none", recording: null, transcript: keepT })
    }
    if (replacedAt < 0) next.push(e)
    else next.splice(replacedAt, 0, e)
    lines = next
  }
  // Defensive: one line per key.
  const seen = new Set<string>()
  return lines.filter((l) => {
    const k = keyOf(l)
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

export interface ManifestService {
  /** Absolute path of manifest.jsonl. */
  readonly path: string
  /** The current lines. */
  readonly entries: Effect.Effect<ReadonlyArray<ManifestEntry>>
  /** Upsert lines and rewrite the file atomically before returning. */
  readonly upsert: (entries: ManifestEntry | ReadonlyArray<ManifestEntry>) => Effect.Effect<void, SinkError>
}

export class Manifest extends Context.Tag("@meeting-artifacts/sinks/Manifest")<Manifest, ManifestService>() {}

const readText = (out: string): Effect.Effect<string, SinkError> =>
  Effect.tryPromise({
    try: () =>
      fsp.readFile(nodePath.join(out, MANIFEST_FILE), "utf8").catch((e: NodeJS.ErrnoException) => {
        if (e.code === "ENOENT") return ""
        throw e
      }),
    catch: sinkError(SINK, "read")
  })

/** Read `<out>/manifest.jsonl` (empty when absent). */
export const read = (out: string): Effect.Effect<Array<ManifestEntry>, SinkError> =>
  readText(out).pipe(Effect.flatMap(parseManifest))

/**
 * The lines of a manifest in file order, indexed by recording id, transcript
 * id and (for lines with neither) meeting id, so an upsert finds the lines it
 * replaces without a scan, and a rewrite reuses the text of every unchanged
 * line. Same result, line for line and in the same order, as `mergeEntries`.
 * Lines live in groups (positions that never move); a replaced line becomes
 * its replacement and residuals in its own group.
 */
export interface ManifestLines {
  /**
   * Upsert one line (`mergeEntries` semantics) and say what it did to the file:
   * a line added at the end, lines replaced, or nothing (the same line again).
   */
  readonly upsert: (e: ManifestEntry) => "added" | "replaced" | "unchanged"
  /** The lines, in file order. */
  readonly lines: () => ReadonlyArray<ManifestEntry>
  /** The file's text. */
  readonly text: () => string
}

export const makeLines = (initial: ReadonlyArray<ManifestEntry> = []): ManifestLines => {
  const groups: Array<Array<ManifestEntry>> = []
  const byRec = new Map<string, number>()
  const byTr = new Map<string, number>()
  const byEmpty = new Map<string, number>()
  const formatted = new WeakMap<ManifestEntry, string>()
  let snapshot: ReadonlyArray<ManifestEntry> | null = null
  /** A line's text, newline included, computed once per line object. */
  const formatOf = (l: ManifestEntry): string => {
    let t = formatted.get(l)
    if (t === undefined) {
      t = formatEntry(l) + "\n"
      formatted.set(l, t)
    }
    return t
  }

  const index = (e: ManifestEntry, g: number) => {
    if (e.recording) byRec.set(e.recording.id, g)
    if (e.transcript) byTr.set(e.transcript.id, g)
    if (!e.recording && !e.transcript) byEmpty.set(e.meetingId, g)
  }
  const unindex = (e: ManifestEntry) => {
    if (e.recording) byRec.delete(e.recording.id)
    if (e.transcript) byTr.delete(e.transcript.id)
    if (!e.recording && !e.transcript) byEmpty.delete(e.meetingId)
  }
  const find = (g: number | undefined, test: (l: ManifestEntry) => boolean) => {
    if (g === undefined) return undefined
    const p = groups[g]!.findIndex(test)
    return p < 0 ? undefined : { g, p, line: groups[g]![p]! }
  }

  const upsert = (e: ManifestEntry) => {
    snapshot = null
    const rid = e.recording?.id
    const tid = e.transcript?.id
    const found = [
      rid !== undefined ? find(byRec.get(rid), (l) => l.recording?.id === rid) : undefined,
      tid !== undefined ? find(byTr.get(tid), (l) => l.transcript?.id === tid) : undefined,
      !e.recording && !e.transcript
        ? find(byEmpty.get(e.meetingId), (l) => !l.recording && !l.transcript && l.meetingId === e.meetingId)
        : undefined
    ].filter((h): h is NonNullable<typeof h> => h !== undefined)
    const hits = found.filter((h, i) => found.findIndex((o) => o.line === h.line) === i)
      .sort((x, y) => x.g - y.g || x.p - y.p)
    if (hits.length === 0) {
      groups.push([e])
      index(e, groups.length - 1)
      return "added"
    }
    if (hits.length === 1 && formatOf(hits[0]!.line) === formatOf(e)) return "unchanged"
    // Back to front, so positions of earlier hits in the same group stay valid.
    for (let i = hits.length - 1; i >= 0; i--) {
      const { g, line: old } = hits[i]!
      const p = groups[g]!.indexOf(old)
      const keepR = old.recording && old.recording.id !== rid ? old.recording : null
      const keepT = old.transcript && old.transcript.id !== tid ? old.transcript : null
      const replacement: Array<ManifestEntry> = i === 0 ? [e] : []
      if (keepR) replacement.push({ ...old, match: "none", transcript: null, recording: keepR })
      if (keepT) replacement.push({ ...old, match: "none", recording: null, transcript: keepT })
      unindex(old)
      groups[g]!.splice(p, 1, ...replacement)
      for (const r of replacement) index(r, g)
    }
    return "replaced"
  }

  for (const e of initial) upsert(e)
  const lines = () => (snapshot ??= groups.flat())
  return { upsert, lines, text: () => lines().map(formatOf).join("") }
}

/**
 * Load the manifest of `out` and return a store that upserts into it. Upserts
 * that arrive while a write is in flight are written together by the next
 * one (each still returns only once a write holding it is on disk): appended
 * when they only add lines, else by a rewrite of the whole file.
 */
export const make = (out: string): Effect.Effect<ManifestService, SinkError> =>
  Effect.gen(function*() {
    const file = nodePath.join(out, MANIFEST_FILE)
    const text = yield* readText(out)
    // A well-formed file loads unchanged; a damaged one (an id in two lines) is
    // normalised as if its lines were upserted in order.
    const loaded = yield* parseManifest(text)
    const lines = makeLines(loaded)
    // Appends need a file that holds exactly the loaded lines, each ended by a newline.
    let rewrite = text === "" || !text.endsWith("\n") || lines.text() !== text
    let appended: Array<ManifestEntry> = []
    const write = Effect.suspend(() => {
      const whole = rewrite
      const batch = appended
      rewrite = false
      appended = []
      const io = whole
        ? writeFileAtomic(file, lines.text(), SINK)
        : batch.length > 0
        ? appendFileDurable(file, batch.map((e) => formatEntry(e) + "\n").join(""), SINK)
        : Effect.void
      // After a failed write the file's state is unknown: the next write rewrites it whole.
      return Effect.tapError(io, () => Effect.sync(() => (rewrite = true)))
    })
    // Upserts that arrive while a write is in flight share the next one.
    const group = GroupCommit.make(write)
    return {
      path: file,
      entries: Effect.sync(() => lines.lines()),
      upsert: (entries) =>
        Effect.suspend(() => {
          const list = Array.isArray(entries) ? (entries as ReadonlyArray<ManifestEntry>) : [entries as ManifestEntry]
          for (const e of list) {
            const change = lines.upsert(e)
            if (change === "added") appended.push(e)
            else if (change === "replaced") rewrite = true
          }
          return group.commit
        })
    }
  })

export const layer = (out: string): Layer.Layer<Manifest, SinkError> => Layer.effect(Manifest, make(out))
