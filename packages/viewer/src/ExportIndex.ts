/**
 * The viewer's index of an export: one row per manifest line (with the
 * figures the set list sorts and filters by), every transcript cue, and a
 * SQLite FTS5 index over cue text and speakers.
 *
 * Built once into `<out>/.meeting-artifacts/view-index.sqlite` (written to a
 * temp file and renamed, so a killed build leaves no half index), and built
 * again when manifest.jsonl, its journal or failures.jsonl changed (their
 * sha256 is kept in the index). The export itself is only read.
 */
import * as Correlate from "@meeting-artifacts/correlate"
import { meteredCost, meteredMinutes } from "@meeting-artifacts/pipeline"
import { Failures, Layout, Manifest } from "@meeting-artifacts/sinks"
import Database from "better-sqlite3"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import { resolveInside } from "./internal/safePath.js"
import { ViewerError } from "./ViewerError.js"

/** Bumped whenever the index's tables change: an older index is rebuilt. */
const INDEX_VERSION = "3"
export const INDEX_FILE = "view-index.sqlite"

// Snippet markers: private-use characters, stripped from indexed text so they only ever mark matches.
export const MARK_START = "\uE000"
export const MARK_END = "\uE001"
const MARKS = /[\uE000\uE001]/g

export type SortColumn =
  | "date"
  | "organizer"
  | "meeting"
  | "match"
  | "recordingMs"
  | "transcriptMs"
  | "cues"
  | "bytes"
  | "cost"
  | "failures"

const sortSql: Record<SortColumn, string> = {
  date: "date",
  organizer: "organizer_id",
  meeting: "meeting_id",
  match: "match",
  recordingMs: "recording_ms",
  transcriptMs: "transcript_ms",
  cues: "cues",
  bytes: "bytes",
  cost: "cost",
  failures: "failures"
}
export const sortColumns = Object.keys(sortSql) as ReadonlyArray<SortColumn>

export interface SetQuery {
  readonly offset?: number | undefined
  readonly limit?: number | undefined
  readonly sort?: SortColumn | undefined
  readonly descending?: boolean | undefined
  /** Substring of the meeting id, organizer id or correlation id. */
  readonly text?: string | undefined
  readonly match?: string | undefined
  /** "recording": with a recording; "transcript": with a transcript; "both"; "recordingOnly"; "transcriptOnly". */
  readonly has?: string | undefined
}

/** A row of the set list. */
export interface SetRow {
  readonly key: string
  /** `adhocCall`: `meetingId` is an ad hoc call's id (a 1:1, group or PSTN call); else an online meeting's. */
  readonly source: "meeting" | "adhocCall"
  readonly meetingId: string
  readonly organizerId: string
  readonly match: string
  readonly date: string | null
  readonly recordingMs: number | null
  readonly transcriptMs: number | null
  readonly cues: number | null
  readonly bytes: number
  readonly cost: number
  readonly failures: number
}

export interface CueRow {
  readonly startMs: number
  readonly endMs: number
  readonly speaker: string | null
  readonly text: string
}

export interface SetDetail extends SetRow {
  readonly entry: Manifest.ManifestEntry
  /** Add to a cue's (transcript) time to place it on the recording (0 when either time is unknown). */
  readonly offsetMs: number
  readonly cueList: ReadonlyArray<CueRow>
  /** Why the transcript's cues could not be read, when they could not. */
  readonly transcriptIssue: string | null
  readonly failureList: ReadonlyArray<Failures.FailureRecord>
}

export interface SearchHit {
  readonly key: string
  readonly meetingId: string
  readonly organizerId: string
  readonly startMs: number
  readonly offsetMs: number
  readonly speaker: string | null
  /** Cue text around the match, matches between MARK_START and MARK_END. */
  readonly snippet: string
}

export interface Facets {
  readonly total: number
  readonly matches: ReadonlyArray<{ readonly match: string; readonly count: number }>
  readonly organizers: number
  readonly cues: number
}

export interface ExportIndex {
  readonly path: string
  readonly facets: () => Facets
  readonly sets: (query: SetQuery) => { readonly total: number; readonly items: ReadonlyArray<SetRow> }
  readonly set: (key: string) => SetDetail | undefined
  readonly search: (
    text: string,
    page: { readonly offset?: number | undefined; readonly limit?: number | undefined }
  ) => { readonly total: number; readonly more: boolean; readonly items: ReadonlyArray<SearchHit> }
  readonly failures: () => ReadonlyArray<Failures.FailureRecord>
  /** The manifest line of a set (without its cues). */
  readonly entry: (key: string) => Manifest.ManifestEntry | undefined
  readonly close: () => void
}

// -- building ---------------------------------------------------------------------------------

const readOptional = (file: string): string => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return ""
    throw e
  }
}

/** What the index was built from: the texts of manifest.jsonl, its journal and failures.jsonl. */
const fingerprintOf = (out: string): string => {
  const hash = createHash("sha256").update(INDEX_VERSION).update("\0")
  for (
    const file of [
      nodePath.join(out, Manifest.MANIFEST_FILE),
      Manifest.journalPath(out),
      nodePath.join(out, Failures.FAILURES_FILE)
    ]
  ) {
    hash.update(readOptional(file)).update("\0")
  }
  return hash.digest("hex")
}

const durationMs = (f: { readonly createdDateTime: string | null; readonly endDateTime: string | null } | null) => {
  if (f === null || f.createdDateTime === null || f.endDateTime === null) return null
  const ms = Date.parse(f.endDateTime) - Date.parse(f.createdDateTime)
  return Number.isFinite(ms) && ms >= 0 ? ms : null
}

const costOf = (e: Manifest.ManifestEntry): number =>
  meteredCost(
    e.recording ? meteredMinutes(e.recording.createdDateTime, e.recording.endDateTime) : 0,
    e.transcript ? meteredMinutes(e.transcript.createdDateTime, e.transcript.endDateTime) : 0
  ).total

const keyOf = (e: Manifest.ManifestEntry): string =>
  e.recording ? `r:${e.recording.id}` : e.transcript ? `t:${e.transcript.id}` : `m:${e.meetingId}`

const offsetOf = (e: Manifest.ManifestEntry): number => Correlate.recordingOffsetMs(e.transcript, e.recording) ?? 0

const SCHEMA = `
  CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE sets (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, source TEXT NOT NULL, meeting_id TEXT NOT NULL,
    organizer_id TEXT NOT NULL,
    correlation_id TEXT, match TEXT NOT NULL, date TEXT, recording_ms INTEGER, transcript_ms INTEGER,
    cues INTEGER, bytes INTEGER NOT NULL, cost REAL NOT NULL, failures INTEGER NOT NULL,
    offset_ms INTEGER NOT NULL, has_recording INTEGER NOT NULL, has_transcript INTEGER NOT NULL, transcript_issue TEXT
  );
  CREATE TABLE entries (set_id INTEGER PRIMARY KEY, entry TEXT NOT NULL);
  CREATE TABLE cues (id INTEGER PRIMARY KEY, set_id INTEGER NOT NULL, start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL, speaker TEXT, text TEXT NOT NULL);
  CREATE TABLE failures (id INTEGER PRIMARY KEY, meeting_id TEXT, record TEXT NOT NULL);
`
const AFTER_LOAD = `
  CREATE INDEX cues_set ON cues (set_id, start_ms);
  CREATE INDEX failures_meeting ON failures (meeting_id);
  CREATE INDEX sets_date ON sets (date);
  CREATE VIRTUAL TABLE cue_text USING fts5(text, speaker, content='cues', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2');
  INSERT INTO cue_text (cue_text) VALUES ('rebuild');
`

/** Reads every transcript's cues; a transcript that cannot be read keeps its set, with the reason. */
const transcriptCues = (
  rootReal: string,
  entry: Manifest.ManifestEntry
): { readonly cues: ReadonlyArray<Correlate.Cue>; readonly issue: string | null } => {
  if (entry.transcript === null) return { cues: [], issue: null }
  const file = resolveInside(rootReal, entry.transcript.path)
  if (file === null) return { cues: [], issue: "the transcript file is missing or outside the export" }
  let text: string
  try {
    text = fs.readFileSync(file, "utf8")
  } catch (e) {
    return { cues: [], issue: `the transcript file cannot be read (${(e as Error).message})` }
  }
  const parsed = Correlate.parseVttEither(text, { mode: "lenient" })
  if (parsed._tag === "Left") return { cues: [], issue: `the transcript is not WebVTT (${parsed.left.message})` }
  const skipped = parsed.right.issues.length
  return { cues: parsed.right.cues, issue: skipped > 0 ? `${skipped} malformed cue block(s) skipped` : null }
}

const build = (
  out: string,
  rootReal: string,
  target: string,
  fingerprint: string,
  stamp: string,
  entries: ReadonlyArray<Manifest.ManifestEntry>,
  failures: ReadonlyArray<Failures.FailureRecord>
): void => {
  const tmp = `${target}.${process.pid}.tmp`
  fs.rmSync(tmp, { force: true })
  const db = new Database(tmp)
  try {
    db.pragma("journal_mode = OFF")
    db.pragma("synchronous = OFF")
    db.exec(SCHEMA)
    const failuresByMeeting = new Map<string, number>()
    const addFailure = db.prepare("INSERT INTO failures (meeting_id, record) VALUES (?, ?)")
    const addSet = db.prepare(`INSERT INTO sets (key, source, meeting_id, organizer_id, correlation_id, match, date,
      recording_ms, transcript_ms, cues, bytes, cost, failures, offset_ms, has_recording, has_transcript, transcript_issue)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    const addEntry = db.prepare("INSERT INTO entries (set_id, entry) VALUES (?, ?)")
    const addCue = db.prepare("INSERT INTO cues (set_id, start_ms, end_ms, speaker, text) VALUES (?, ?, ?, ?, ?)")
    const seen = new Set<string>()
    db.transaction(() => {
      for (const f of failures) {
        addFailure.run(f.meetingId, Failures.formatFailure(f))
        if (f.meetingId !== null) failuresByMeeting.set(f.meetingId, (failuresByMeeting.get(f.meetingId) ?? 0) + 1)
      }
      for (const e of entries) {
        let key = keyOf(e)
        // Only lines without artifacts can share a key (their meeting id); number the repeats.
        for (let n = 2; seen.has(key); n++) key = `${keyOf(e)}#${n}`
        seen.add(key)
        const { cues, issue } = transcriptCues(rootReal, e)
        const setId = addSet.run(
          key,
          e.source ?? "meeting",
          e.meetingId,
          e.organizerId,
          e.contentCorrelationId,
          e.match,
          e.recording?.createdDateTime ?? e.transcript?.createdDateTime ?? null,
          durationMs(e.recording),
          durationMs(e.transcript),
          e.transcript?.cues ?? null,
          (e.recording?.bytes ?? 0) + (e.transcript?.bytes ?? 0),
          costOf(e),
          failuresByMeeting.get(e.meetingId) ?? 0,
          offsetOf(e),
          e.recording === null ? 0 : 1,
          e.transcript === null ? 0 : 1,
          issue
        ).lastInsertRowid
        addEntry.run(setId, Manifest.formatEntry(e))
        for (const c of Correlate.sortCues(cues)) {
          addCue.run(setId, c.startMs, c.endMs, c.speaker?.replace(MARKS, "") ?? null, c.text.replace(MARKS, ""))
        }
      }
    })()
    db.exec(AFTER_LOAD)
    db.prepare("INSERT INTO meta (name, value) VALUES ('fingerprint', ?), ('stamp', ?), ('out', ?)").run(
      fingerprint,
      stamp,
      out
    )
  } catch (e) {
    db.close()
    fs.rmSync(tmp, { force: true })
    throw e
  }
  db.close()
  fs.renameSync(tmp, target)
}

/** What the index at `file` was built from (nothing when there is none we can read). */
const storedMeta = (file: string): { readonly fingerprint?: string; readonly stamp?: string } => {
  if (!fs.existsSync(file)) return {}
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true })
    try {
      const rows = db.prepare("SELECT name, value FROM meta").all() as Array<{ name: string; value: string }>
      return Object.fromEntries(rows.map((r) => [r.name, r.value]))
    } finally {
      db.close()
    }
  } catch {
    // Not an index we can read (an older layout, a damaged file): built again.
    return {}
  }
}

// -- queries ----------------------------------------------------------------------------------

const LIST_COLUMNS =
  "key, source, meeting_id, organizer_id, match, date, recording_ms, transcript_ms, cues, bytes, cost, failures"

const toSetRow = (r: any): SetRow => ({
  key: r.key,
  source: r.source === "adhocCall" ? "adhocCall" : "meeting",
  meetingId: r.meeting_id,
  organizerId: r.organizer_id,
  match: r.match,
  date: r.date,
  recordingMs: r.recording_ms,
  transcriptMs: r.transcript_ms,
  cues: r.cues,
  bytes: r.bytes,
  cost: r.cost,
  failures: r.failures
})

const clampInt = (n: number | undefined, min: number, max: number, fallback: number): number =>
  n === undefined || !Number.isFinite(n) ? fallback : Math.min(max, Math.max(min, Math.trunc(n)))

/** Free text as an FTS5 query: every word a quoted token (no operators), the last one a prefix. */
export const ftsQuery = (text: string): string | undefined => {
  const words = text.split(/\s+/).map((w) => w.replace(/[\u0000-\u001f"]/g, "")).filter((w) => w !== "")
  if (words.length === 0) return undefined
  return words.map((w, i) => `"${w}"${i === words.length - 1 ? "*" : ""}`).join(" ")
}

const SEARCH_COUNT_CAP = 1000

const open = (file: string): ExportIndex => {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  const listCache = new Map<string, { readonly page: Database.Statement; readonly count: Database.Statement }>()
  const setByKey = db.prepare("SELECT s.*, e.entry FROM sets s JOIN entries e ON e.set_id = s.id WHERE s.key = ?")
  const cuesOf = db.prepare("SELECT start_ms, end_ms, speaker, text FROM cues WHERE set_id = ? ORDER BY start_ms, id")
  const failuresOf = db.prepare("SELECT record FROM failures WHERE meeting_id = ? ORDER BY id")
  const allFailures = db.prepare("SELECT record FROM failures ORDER BY id")
  const searchPage = db.prepare(`SELECT s.key, s.meeting_id, s.organizer_id, s.offset_ms, c.start_ms, c.speaker,
      snippet(cue_text, 0, '${MARK_START}', '${MARK_END}', '…', 16) AS snippet
    FROM cue_text JOIN cues c ON c.id = cue_text.rowid JOIN sets s ON s.id = c.set_id
    WHERE cue_text MATCH ? ORDER BY cue_text.rowid LIMIT ? OFFSET ?`)
  const searchCount = db.prepare(
    `SELECT count(*) AS n FROM (SELECT 1 FROM cue_text WHERE cue_text MATCH ? LIMIT ${SEARCH_COUNT_CAP + 1})`
  )
  const decodeFailure = (r: any): Failures.FailureRecord => JSON.parse(r.record)

  const setsQuery = (q: SetQuery) => {
    const where: Array<string> = []
    const params: Array<string> = []
    if (q.text !== undefined && q.text.trim() !== "") {
      where.push(
        "(instr(meeting_id, ?) > 0 OR instr(organizer_id, ?) > 0 OR instr(coalesce(correlation_id, ''), ?) > 0)"
      )
      const t = q.text.trim()
      params.push(t, t, t)
    }
    if (q.match !== undefined && q.match !== "") {
      where.push("match = ?")
      params.push(q.match)
    }
    const has: Record<string, string> = {
      recording: "has_recording = 1",
      transcript: "has_transcript = 1",
      both: "has_recording = 1 AND has_transcript = 1",
      recordingOnly: "has_recording = 1 AND has_transcript = 0",
      transcriptOnly: "has_recording = 0 AND has_transcript = 1"
    }
    if (q.has !== undefined && has[q.has] !== undefined) where.push(`(${has[q.has]})`)
    const sort = sortSql[q.sort ?? "date"] ?? "date"
    const dir = q.descending === false ? "ASC" : "DESC"
    const whereSql = where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""
    const text = `${whereSql}\u0000${sort} ${dir}`
    let stmts = listCache.get(text)
    if (stmts === undefined) {
      stmts = {
        page: db.prepare(
          `SELECT ${LIST_COLUMNS} FROM sets ${whereSql} ORDER BY ${sort} IS NULL, ${sort} ${dir}, id LIMIT ? OFFSET ?`
        ),
        count: db.prepare(`SELECT count(*) AS n FROM sets ${whereSql}`)
      }
      listCache.set(text, stmts)
    }
    const limit = clampInt(q.limit, 1, 500, 50)
    const offset = clampInt(q.offset, 0, Number.MAX_SAFE_INTEGER, 0)
    const rows = stmts.page.all(...params, limit, offset) as Array<any>
    const total = Number((stmts.count.get(...params) as { n: number }).n)
    return { total, items: rows.map(toSetRow) }
  }

  return {
    path: file,
    facets: () => {
      const matches = db.prepare("SELECT match, count(*) AS count FROM sets GROUP BY match ORDER BY match")
        .all() as Array<
          { match: string; count: number }
        >
      const total = matches.reduce((n, m) => n + m.count, 0)
      const organizers = (db.prepare("SELECT count(DISTINCT organizer_id) AS n FROM sets").get() as { n: number }).n
      const cues = (db.prepare("SELECT max(id) AS n FROM cues").get() as { n: number | null }).n ?? 0
      return { total, matches, organizers, cues }
    },
    sets: setsQuery,
    set: (key) => {
      const r = setByKey.get(key) as any
      if (r === undefined) return undefined
      const entry = JSON.parse(r.entry) as Manifest.ManifestEntry
      return {
        ...toSetRow(r),
        entry,
        offsetMs: r.offset_ms,
        transcriptIssue: r.transcript_issue,
        cueList: (cuesOf.all(r.id) as Array<any>).map((c) => ({
          startMs: c.start_ms,
          endMs: c.end_ms,
          speaker: c.speaker,
          text: c.text
        })),
        failureList: (failuresOf.all(r.meeting_id) as Array<any>).map(decodeFailure)
      }
    },
    search: (text, page) => {
      const match = ftsQuery(text)
      if (match === undefined) return { total: 0, more: false, items: [] }
      const limit = clampInt(page.limit, 1, 200, 50)
      const offset = clampInt(page.offset, 0, Number.MAX_SAFE_INTEGER, 0)
      const rows = searchPage.all(match, limit + 1, offset) as Array<any>
      const total = Number((searchCount.get(match) as { n: number }).n)
      return {
        total: Math.min(total, SEARCH_COUNT_CAP),
        more: rows.length > limit || total > SEARCH_COUNT_CAP,
        items: rows.slice(0, limit).map((r) => ({
          key: r.key,
          meetingId: r.meeting_id,
          organizerId: r.organizer_id,
          startMs: r.start_ms,
          offsetMs: r.offset_ms,
          speaker: r.speaker,
          snippet: r.snippet
        }))
      }
    },
    failures: () => (allFailures.all() as Array<any>).map(decodeFailure),
    entry: (key) => {
      const r = setByKey.get(key) as any
      return r === undefined ? undefined : JSON.parse(r.entry) as Manifest.ManifestEntry
    },
    close: () => db.close()
  }
}

/**
 * Open the index of the export in `out`, building it first when it is
 * missing or older than the manifest. `onBuild` hears when a build starts.
 */
export const openIndex = (
  out: string,
  options: { readonly onBuild?: ((sets: number) => void) | undefined } = {}
): Effect.Effect<ExportIndex, ViewerError> =>
  Effect.gen(function*() {
    const rootReal = yield* Effect.try({
      try: () => {
        const real = fs.realpathSync(out)
        if (!fs.statSync(real).isDirectory()) throw new Error("not a directory")
        return real
      },
      catch: (e) =>
        new ViewerError({
          operation: "open",
          message: `${out} is not an export folder: ${(e as Error).message}`,
          cause: e
        })
    })
    // A run that exported nothing (everything failed) may leave no manifest, but its failures and run are worth a look.
    const traces = [Manifest.MANIFEST_FILE, Failures.FAILURES_FILE, nodePath.join(Layout.STATE_DIR, "state.sqlite")]
    if (!traces.some((f) => fs.existsSync(nodePath.join(rootReal, f)))) {
      return yield* new ViewerError({
        operation: "open",
        message: `${out} holds no ${Manifest.MANIFEST_FILE} (nor ${Failures.FAILURES_FILE} or a state store): ` +
          `run meeting-artifacts sync --out ${out} first`
      })
    }
    const stateDir = nodePath.join(rootReal, Layout.STATE_DIR)
    const file = nodePath.join(stateDir, INDEX_FILE)
    // Sizes and mtimes first (before the contents are read): unchanged, the index is current without reading the
    // manifest; changed, the contents decide (a touched but equal manifest keeps the index).
    const stamp = sourceStamp(rootReal)
    const stored = storedMeta(file)
    const fingerprint = stored.stamp === stamp ? stored.fingerprint : yield* Effect.try({
      try: () => fingerprintOf(rootReal),
      catch: (e) =>
        new ViewerError({ operation: "open", message: `cannot read the manifest: ${(e as Error).message}`, cause: e })
    })
    if (fingerprint === undefined || stored.fingerprint !== fingerprint) {
      const entries = yield* Manifest.read(rootReal).pipe(
        Effect.mapError((e) => new ViewerError({ operation: "open", message: e.message, cause: e }))
      )
      const failures = yield* Failures.read(rootReal).pipe(
        Effect.mapError((e) => new ViewerError({ operation: "open", message: e.message, cause: e }))
      )
      options.onBuild?.(entries.length)
      yield* Effect.try({
        try: () => {
          fs.mkdirSync(stateDir, { recursive: true })
          build(rootReal, rootReal, file, fingerprint ?? fingerprintOf(rootReal), stamp, entries, failures)
        },
        catch: (e) =>
          new ViewerError({
            operation: "index",
            message: `cannot build the search index in ${file}: ${(e as Error).message}`,
            cause: e
          })
      })
    }
    return yield* Effect.try({
      try: () => open(file),
      catch: (e) =>
        new ViewerError({ operation: "index", message: `cannot open ${file}: ${(e as Error).message}`, cause: e })
    })
  })

/**
 * Sizes and modification times of the files the index is built from: when
 * this changes, `openIndex` again (it rebuilds only if their contents changed).
 */
export const sourceStamp = (out: string): string =>
  // The index's own layout is part of it: an upgraded viewer never reuses an index of an older layout.
  `v${INDEX_VERSION}|` +
  [nodePath.join(out, Manifest.MANIFEST_FILE), Manifest.journalPath(out), nodePath.join(out, Failures.FAILURES_FILE)]
    .map((file) => {
      try {
        const s = fs.statSync(file)
        return `${s.size}:${s.mtimeMs}`
      } catch {
        return "-"
      }
    })
    .join("|")
