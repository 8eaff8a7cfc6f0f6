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
 * A line of an ad hoc call (not an online meeting) has the call's id as `meetingId` and one
 * extra key right after it, `"source": "adhocCall"`; meeting lines have no `source`.
 *
 * Upserts keep every recording id and every transcript id in exactly one line:
 * a new line replaces every line that shares its recording or transcript id,
 * and an artifact of a replaced line that the new line does not carry stays,
 * alone, in a line of its own (match "none").
 *
 * manifest.jsonl is only ever replaced whole (temp + fsync + rename), so a
 * reader, or a kill, never sees a partial line. Rewriting it for every upsert
 * would cost O(file) per set (O(n^2) for a run), so an upsert is made durable
 * by appending its lines to a journal, `<out>/.meeting-artifacts/manifest-journal.jsonl`
 * (fsynced before the upsert returns), and the manifest is rewritten from
 * memory when the journal has grown to an eighth of it and a second has
 * passed, or to its full size, and when the store is flushed (the layer does
 * that when its scope closes). Each rewrite at least doubles what the journal
 * held since the last, so a run costs O(n) writes in total.
 *
 * The journal's first line names the manifest it extends (its sha256). Loading
 * replays a journal onto the manifest it names and rewrites the manifest;
 * a journal left behind by a kill after a rewrite (naming an older manifest)
 * is already in the manifest and is dropped, as is an unterminated last line
 * (an append cut short, whose upsert never returned).
 */
import type { ArtifactSet } from "@meeting-artifacts/correlate"
import { ArtifactSource, MatchKind } from "@meeting-artifacts/correlate"
import { createHash } from "node:crypto"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { AppendLog, writeFileAtomic } from "./internal/atomic.js"
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
  /** "adhocCall" when `meetingId` is an ad hoc call's id; absent for online meetings. */
  source: Schema.optional(ArtifactSource),
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
  files: {
    readonly recording?: RecordingFile | null | undefined
    readonly transcript?: TranscriptFile | null | undefined
  }
): ManifestEntry => ({
  meetingId: set.meetingId,
  ...(set.source !== undefined ? { source: set.source } : {}),
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
    // only on ad hoc call lines: meeting lines stay exactly as they always were
    ...(e.source !== undefined ? { source: e.source } : {}),
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
  parseLines(text, (line, why) => `manifest line ${line} is not a valid entry (${why}); ${DAMAGED_MANIFEST_ADVICE}`)

/** What to do about a damaged manifest.jsonl: the one recovery path both `sync` and `verify` give. */
export const DAMAGED_MANIFEST_ADVICE =
  "move manifest.jsonl aside and run sync again without --incremental: it is rebuilt from the exported files, nothing is downloaded again"

/** Why a line is not an entry, in a few words (the first problem and where), never the schema itself. */
export const describeInvalidLine = (line: string): string => {
  let json: unknown
  try {
    json = JSON.parse(line)
  } catch {
    return "not whole JSON: cut short?"
  }
  const r = Schema.decodeUnknownEither(ManifestEntry)(json)
  if (r._tag === "Right") return "valid"
  const issue = ParseResult.ArrayFormatter.formatErrorSync(r.left)[0]
  if (issue === undefined) return "not a manifest entry"
  const where = issue.path.length === 0 ? "the line" : issue.path.map(String).join(".")
  return `${where}: ${issue.message}`.slice(0, 160)
}

const parseLines = (
  text: string,
  invalid: (line: number, why: string) => string
): Effect.Effect<Array<ManifestEntry>, SinkError> =>
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
          new SinkError({ sink: SINK, operation: "parse", message: invalid(i + 1, describeInvalidLine(line)) })
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
      const sameEmpty = !e.recording && !e.transcript && !old.recording && !old.transcript &&
        old.meetingId === e.meetingId
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
  /** Upsert lines; returns once they are on disk (in manifest.jsonl or its journal). */
  readonly upsert: (entries: ManifestEntry | ReadonlyArray<ManifestEntry>) => Effect.Effect<void, SinkError>
  /**
   * Whether this exact line is already in the manifest, so an upsert of it would write nothing. (A set
   * whose files an earlier run placed makes their folders durable again only when its line is new.)
   * Optional, for implementations written before it: without it every line counts as new.
   */
  readonly holds?: (entry: ManifestEntry) => boolean
  /** Rewrites manifest.jsonl with every line (nothing to do when the journal is empty). */
  readonly flush: Effect.Effect<void, SinkError>
}

export class Manifest extends Context.Tag("@meeting-artifacts/sinks/Manifest")<Manifest, ManifestService>() {}

/** Where the journal of `out`'s manifest lives. */
export const journalPath = (out: string): string => nodePath.join(out, ".meeting-artifacts", "manifest-journal.jsonl")

const readText = (file: string): Effect.Effect<string, SinkError> =>
  Effect.tryPromise({
    try: () =>
      fsp.readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => {
        if (e.code === "ENOENT") return ""
        throw e
      }),
    catch: sinkError(SINK, "read")
  })

const sha256 = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex")

const JournalHeader = Schema.parseJson(Schema.Struct({ manifestSha256: Schema.String }))
const decodeHeader = Schema.decodeUnknownEither(JournalHeader)

/**
 * The entries of a journal that extends the manifest whose text has `manifestSha256`
 * (none when the journal is absent, names another manifest, or has no whole header).
 */
const journalEntries = (journal: string, manifestSha256: string): Effect.Effect<Array<ManifestEntry>, SinkError> => {
  const nl = journal.indexOf("\n")
  if (nl < 0) return Effect.succeed([])
  const header = decodeHeader(journal.slice(0, nl))
  if (header._tag === "Left" || header.right.manifestSha256 !== manifestSha256) return Effect.succeed([])
  // The header is line 1 of the file.
  return parseLines(
    journal.slice(nl + 1),
    (line, why) =>
      `manifest journal line ${
        line + 1
      } is not a valid entry (${why}); remove .meeting-artifacts/manifest-journal.jsonl (it only holds upserts of an interrupted run) and run sync again without --incremental`
  )
}

/** The text of manifest.jsonl and the lines the manifest holds once its journal is replayed. */
const load = (out: string) =>
  Effect.gen(function*() {
    const text = yield* readText(nodePath.join(out, MANIFEST_FILE))
    const journal = yield* readText(journalPath(out))
    const lines = makeLines(yield* parseManifest(text))
    const replayed = yield* journalEntries(journal, sha256(text))
    for (const e of replayed) lines.upsert(e)
    return { text, journal, lines }
  })

/**
 * How many upserts a killed run left in the journal that manifest.jsonl does
 * not hold yet (the next `make` merges them).
 */
export const unflushed = (out: string, manifestText?: string): Effect.Effect<number, SinkError> =>
  Effect.gen(function*() {
    // The manifest's text, when the caller has read it already.
    const text = manifestText ?? (yield* readText(nodePath.join(out, MANIFEST_FILE)))
    const journal = yield* readText(journalPath(out))
    return journal === "" ? 0 : (yield* journalEntries(journal, sha256(text))).length
  })

/**
 * Read the manifest of `out` (empty when absent), with what its journal adds:
 * every line an upsert has returned for, even when a killed run had not yet
 * rewritten manifest.jsonl.
 */
export const read = (out: string): Effect.Effect<Array<ManifestEntry>, SinkError> =>
  Effect.map(load(out), ({ lines }) => [...lines.lines()])

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
  /** Whether an upsert of `e` would be "unchanged". */
  readonly holds: (e: ManifestEntry) => boolean
  /** The lines, in file order. */
  readonly lines: () => ReadonlyArray<ManifestEntry>
  /** The file's text. */
  readonly text: () => string
  /** One line's text with its newline, formatted once per line object (shared with `text`). */
  readonly format: (e: ManifestEntry) => string
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

  /** The lines an upsert of `e` replaces, in file order. */
  const hitsOf = (e: ManifestEntry) => {
    const rid = e.recording?.id
    const tid = e.transcript?.id
    const found = [
      rid !== undefined ? find(byRec.get(rid), (l) => l.recording?.id === rid) : undefined,
      tid !== undefined ? find(byTr.get(tid), (l) => l.transcript?.id === tid) : undefined,
      !e.recording && !e.transcript
        ? find(byEmpty.get(e.meetingId), (l) => !l.recording && !l.transcript && l.meetingId === e.meetingId)
        : undefined
    ].filter((h): h is NonNullable<typeof h> => h !== undefined)
    return found.filter((h, i) => found.findIndex((o) => o.line === h.line) === i)
      .sort((x, y) => x.g - y.g || x.p - y.p)
  }
  const holds = (e: ManifestEntry) => {
    const hits = hitsOf(e)
    return hits.length === 1 && formatOf(hits[0]!.line) === formatOf(e)
  }

  const upsert = (e: ManifestEntry) => {
    snapshot = null
    const rid = e.recording?.id
    const tid = e.transcript?.id
    const hits = hitsOf(e)
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
  return { upsert, holds, lines, text: () => lines().map(formatOf).join(""), format: formatOf }
}

/**
 * Load the manifest of `out` (replaying a journal a killed run left) and
 * return a store that upserts into it (see the module comment). Upserts that
 * arrive while a write is in flight share the next one; each returns once its
 * lines are on disk. Call `flush` at the end (the layer does) so that
 * manifest.jsonl holds every line; without it the next `make` or `read` still
 * finds them in the journal.
 */
export const make = (out: string): Effect.Effect<ManifestService, SinkError> =>
  Effect.map(openStore(out), (o) => o.service)

/**
 * The store of `out`'s manifest for as long as the scope lasts: the journal's file, kept open between
 * appends, is closed with it (what was upserted is on disk already; nothing is flushed).
 */
export const scoped = (out: string): Effect.Effect<ManifestService, SinkError, Scope.Scope> =>
  Effect.map(Effect.acquireRelease(openStore(out), (o) => o.close), (o) => o.service)

/** The store, and how to close the journal file it keeps open (the next write opens it again). */
const openStore = (
  out: string
): Effect.Effect<{ readonly service: ManifestService; readonly close: Effect.Effect<void> }, SinkError> =>
  Effect.gen(function*() {
    const file = nodePath.join(out, MANIFEST_FILE)
    const journal = journalPath(out)
    const loaded = yield* load(out)
    const lines = loaded.lines
    let manifestBytes = Buffer.byteLength(loaded.text)
    let manifestSha = sha256(loaded.text)
    let journalBytes = 0
    let lastRewrite = Date.now()
    let pending: Array<string> = []
    // A damaged or journaled manifest is rewritten whole by the first write or the flush of this store
    // (not at load: a store that is never written nor flushed, as in a dry run, changes no file).
    let loadedStale = loaded.journal !== "" || lines.text() !== loaded.text
    let mustRewrite = false
    // Open from the journal's first append until the rewrite that removes it.
    const journalLog = new AppendLog(journal, SINK)

    const rewrite = Effect.gen(function*() {
      const text = lines.text()
      yield* writeFileAtomic(file, text, SINK)
      journalLog.close()
      loadedStale = false
      manifestBytes = Buffer.byteLength(text)
      manifestSha = sha256(text)
      journalBytes = 0
      lastRewrite = Date.now()
      // A kill before this removal leaves a journal naming the old manifest: dropped at load.
      yield* Effect.tryPromise({
        try: () => fsp.rm(journal, { force: true }),
        catch: sinkError(SINK, "remove journal")
      })
    })

    const write = Effect.suspend(() => {
      const batch = pending.join("")
      pending = []
      const grown = journalBytes + Buffer.byteLength(batch)
      const whole = mustRewrite ||
        (grown > 0 &&
          (loadedStale || grown >= manifestBytes || (grown * 8 >= manifestBytes && Date.now() - lastRewrite >= 1000)))
      mustRewrite = false
      let io: Effect.Effect<void, SinkError>
      if (whole) io = rewrite
      else if (batch === "") io = Effect.void
      else {
        const first = journalBytes === 0
        const data = first ? `${JSON.stringify({ manifestSha256: manifestSha })}\n${batch}` : batch
        io = Effect.zipRight(
          first
            ? Effect.tryPromise({
              try: () => {
                journalLog.close()
                return fsp.mkdir(nodePath.dirname(journal), { recursive: true }).then(() =>
                  fsp.rm(journal, { force: true })
                )
              },
              catch: sinkError(SINK, "create journal")
            })
            : Effect.void,
          journalLog.append(data)
        ).pipe(Effect.tap(() => (journalBytes += Buffer.byteLength(data))))
      }
      // After a failed write the files' state is unknown: the next write rewrites the manifest whole.
      return Effect.tapError(io, () =>
        Effect.sync(() => {
          mustRewrite = true
          journalLog.close()
        }))
    })
    // Upserts that arrive while a write is in flight share the next one.
    const group = GroupCommit.make(write)
    const service: ManifestService = {
      path: file,
      entries: Effect.sync(() => lines.lines()),
      holds: (e) => lines.holds(e),
      upsert: (entries) =>
        Effect.suspend(() => {
          const list = Array.isArray(entries) ? (entries as ReadonlyArray<ManifestEntry>) : [entries as ManifestEntry]
          for (const e of list) {
            if (lines.upsert(e) !== "unchanged") pending.push(lines.format(e))
          }
          return group.commit
        }),
      flush: Effect.suspend(() => {
        if (journalBytes > 0 || pending.length > 0 || loadedStale) mustRewrite = true
        return group.commit
      })
    }
    return { service, close: Effect.sync(() => journalLog.close()) }
  })

/**
 * The store of `<out>/manifest.jsonl`, flushed (manifest.jsonl rewritten whole
 * with every line) when the layer's scope closes, unless `flushOnClose` is
 * false (a dry run, which must change no file).
 */
export const layer = (out: string, options?: { readonly flushOnClose?: boolean }): Layer.Layer<Manifest, SinkError> =>
  Layer.scoped(
    Manifest,
    Effect.map(
      Effect.acquireRelease(openStore(out), ({ close, service }) =>
        Effect.ensuring(
          options?.flushOnClose === false ?
            Effect.void :
            Effect.catchAll(service.flush, (e) =>
              // The journal still holds every line: the next run merges it. Say so rather than fail a finished run.
              Effect.logWarning(
                `manifest.jsonl was not rewritten at the end (${e.message}); its journal keeps every line and the next sync merges it`
              )),
          close
        )),
      (o) => o.service
    )
  )
