/**
 * The sync job: for each organizer, discover the artifacts of a window (or of
 * listed meetings / join URLs, or from stored delta links), correlate them,
 * download content with bounded concurrency, write it through the sinks, and
 * checkpoint each artifact and set as it completes.
 *
 * Guarantees, whatever happens to the process:
 * - content the checkpoint records as completed, with its file intact, is
 *   never downloaded again; content whose body fully arrived before a kill is
 *   finished from the staging area instead of being fetched again;
 * - files appear under their final names only complete (atomic writes);
 * - the manifest keeps each recording id and transcript id in exactly one line;
 * - per-item failures are dead-lettered (checkpoint + `failures.jsonl`) and
 *   the run goes on; only app/tenant-wide failures stop it.
 */
import type { GraphError, GraphStats } from "@meeting-artifacts/api"
import { CallRecording, CallTranscript, GraphClient } from "@meeting-artifacts/api"
import {
  ArtifactSet,
  correlate,
  countCues,
  parseMetadataContentEither,
  parseVttEither
} from "@meeting-artifacts/correlate"
import type { Cue } from "@meeting-artifacts/correlate"
import {
  CheckpointStore,
  ContentSink,
  Failures,
  FileSystemSink,
  Layout,
  Manifest,
  RecordSinks,
  type SetFile,
  type SinkError
} from "@meeting-artifacts/sinks"
import { randomUUID } from "node:crypto"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { codeOf, isFatal, toFatal } from "./internal/errors.js"
import * as Staging from "./internal/staging.js"
import { emit } from "./Progress.js"
import { type ArtifactKind, ProgressEvent } from "./ProgressEvent.js"
import { meteredCost, meteredMinutes, type RunSummary } from "./RunSummary.js"
import { type InvalidSyncOptions, SyncFatalError } from "./SyncError.js"
import { type SyncOptions, validateSyncOptions, type ValidatedSyncOptions } from "./SyncOptions.js"

/** The services `sync` runs on (see `syncLayer` for the default set). */
export type SyncServices =
  | GraphClient
  | CheckpointStore.CheckpointStore
  | ContentSink
  | Manifest.Manifest
  | Failures.FailureLog
  | RecordSinks

type Artifact = CallRecording | CallTranscript

/** Incremental runs retry a dead-lettered artifact this many times, then leave it in failures.jsonl. */
const MAX_DEAD_LETTER_ATTEMPTS = 5

/** Organizers discovered and processed at the same time. */
const ORGANIZER_CONCURRENCY = 4

interface FileFacts {
  readonly path: string
  readonly bytes: number
  readonly sha256: string
  readonly contentType: string | null
  readonly cues: number | null
}

class Tally {
  discovered = { recording: 0, transcript: 0 }
  downloaded = { recording: 0, transcript: 0 }
  skipped = { recording: 0, transcript: 0 }
  failed = { recording: 0, transcript: 0 }
  otherFailures = 0
  minutes = { recording: 0, transcript: 0 }
  bytes = 0
  sets = 0
}

const sinkFatal = (e: SinkError): SyncFatalError =>
  new SyncFatalError({ message: e.message, status: null, code: null, requestId: null, fix: null })

const stagingFatal = (e: Staging.StagingError): SyncFatalError =>
  new SyncFatalError({
    message: `${e.message}${e.cause instanceof Error ? `: ${e.cause.message}` : ""}`,
    status: null,
    code: null,
    requestId: null,
    fix: "check that the output directory is writable and has free space"
  })

const inWindow = (a: Artifact, from: string | null, to: string | null): boolean => {
  const t = a.createdDateTime == null ? Number.NaN : Date.parse(a.createdDateTime)
  if (Number.isNaN(t)) return true
  if (from !== null && t < Date.parse(from)) return false
  if (to !== null && t >= Date.parse(to)) return false
  return true
}

const dedupe = <A extends { readonly id: string }>(items: Iterable<A>): Array<A> => {
  const map = new Map<string, A>()
  for (const a of items) map.set(a.id, a)
  return [...map.values()]
}

/** What one organizer's discovery produced, and how to commit its cursor once everything is processed. */
interface Discovery {
  readonly recordings: ReadonlyArray<CallRecording>
  readonly transcripts: ReadonlyArray<CallTranscript>
  /** Saves delta links; run only after every set was processed. */
  readonly commit: Effect.Effect<void, SinkError>
  /** Meeting ids / join URLs that were found under this organizer. */
  readonly found: ReadonlyArray<string>
}

/**
 * Runs one sync. Fails only for invalid options or a fatal error (auth,
 * tenant-wide 403/402, unusable storage); per-item failures are counted in
 * the summary (`failures`) and listed in `<out>/failures.jsonl`.
 */
export const sync = (
  options: SyncOptions
): Effect.Effect<RunSummary, InvalidSyncOptions | SyncFatalError, SyncServices> =>
  Effect.flatMap(validateSyncOptions(options), (opts) => run(opts))

const run = (opts: ValidatedSyncOptions): Effect.Effect<RunSummary, SyncFatalError, SyncServices> =>
  Effect.gen(function*() {
    const graph = yield* GraphClient
    const checkpoint = yield* CheckpointStore.CheckpointStore
    const content = yield* ContentSink
    const manifest = yield* Manifest.Manifest
    const failures = yield* Failures.FailureLog
    const recordSinks = yield* RecordSinks
    const out = nodePath.resolve(opts.out)
    const staging = Staging.make(nodePath.join(out, Layout.STATE_DIR, "staging"))
    const startedAt = new Date()
    const stats0 = yield* graph.stats
    const tally = new Tally()
    const windowFrom = opts.from ?? ""
    const windowTo = opts.to ?? ""
    const downloadSlots = yield* Effect.makeSemaphore(opts.concurrency)

    let runId: string = randomUUID()
    if (!opts.dryRun) {
      const record = yield* checkpoint.startRun({ runId, windowFrom, windowTo, organizers: opts.organizers }).pipe(
        Effect.mapError(sinkFatal)
      )
      runId = record.runId
      yield* Effect.forEach(recordSinks, (s) => s.writeRun(record), { discard: true }).pipe(Effect.mapError(sinkFatal))
      yield* staging.sweep
      // Temp files of atomic writes a killed run left behind (never under final names).
      yield* FileSystemSink.removeTempFiles(out).pipe(Effect.mapError(sinkFatal))
    }
    yield* emit(ProgressEvent.RunStarted({
      runId,
      organizers: opts.organizers,
      from: opts.from,
      to: opts.to,
      incremental: opts.incremental,
      dryRun: opts.dryRun
    }))

    const statsEvent = (s: GraphStats) =>
      ProgressEvent.Stats({
        requests: s.requests - stats0.requests,
        retries: s.retries - stats0.retries,
        throttleWaits: s.throttled - stats0.throttled,
        throttleWaitMs: s.throttleWaitMs - stats0.throttleWaitMs
      })
    yield* graph.stats.pipe(
      Effect.flatMap((s) => emit(statsEvent(s))),
      Effect.repeat(Schedule.spaced(Duration.millis(500))),
      Effect.forkScoped
    )

    // -- failures ---------------------------------------------------------------------------
    const recordFailure = (
      kind: Failures.FailureKind,
      id: string,
      meetingId: string | null,
      organizerId: string | null,
      reason: string,
      e: GraphError | null
    ) =>
      Effect.gen(function*() {
        if (kind === "recording" || kind === "transcript") tally.failed[kind]++
        else tally.otherFailures++
        const status = e === null || e.status === 0 ? null : e.status
        const code = e === null ? null : codeOf(e)
        const requestId = e?.requestId ?? null
        if (kind === "recording" || kind === "transcript") {
          yield* emit(ProgressEvent.ArtifactFailed({ kind, id, meetingId: meetingId ?? "", reason, status, code, requestId }))
        }
        if (opts.dryRun) return
        yield* checkpoint.addDeadLetter({ kind, id, meetingId, organizerId, reason, status, code, requestId, runId })
        yield* failures.record({ kind, id, meetingId, organizerId, reason, status, code, requestId, at: new Date().toISOString() })
      }).pipe(Effect.mapError(sinkFatal))

    /** Graph errors of discovery: fatal ones stop the run, others become a failure of the organizer. */
    const discoveryFailed = (organizerId: string, e: GraphError) =>
      isFatal(e, "discovery")
        ? Effect.fail(toFatal(e))
        : Effect.as(recordFailure("organizer", organizerId, null, organizerId, e.message, e), null)

    // -- discovery --------------------------------------------------------------------------
    const collect = <A>(s: Stream.Stream<A, GraphError>) => Effect.map(Stream.runCollect(s), (c) => [...c])

    const discoverWindow = (organizerId: string): Effect.Effect<Discovery, GraphError | SinkError | SyncFatalError> =>
      Effect.gen(function*() {
        const window = { organizerId, startDateTime: opts.from!, endDateTime: opts.to! }
        if (!opts.incremental) {
          const [recordings, transcripts] = yield* Effect.all(
            [collect(graph.getAllRecordings(window)), collect(graph.getAllTranscripts(window))],
            { concurrency: 2 }
          )
          return { recordings, transcripts, commit: Effect.void, found: [] }
        }
        const key = (kind: string) => ({ organizerId, windowFrom, windowTo, kind })
        const delta = <A extends Artifact>(
          kind: "recordings" | "transcripts",
          open: (start: { deltaLink: string } | { organizerId: string; startDateTime: string }) => Stream.Stream<
            { readonly _tag: "Item"; readonly item: A } | { readonly _tag: "DeltaLink"; readonly deltaLink: string },
            GraphError
          >,
          list: Stream.Stream<A, GraphError>
        ) =>
          Effect.gen(function*() {
            const stored = yield* checkpoint.getDeltaLink(key(kind))
            // A service without delta for these functions (400/404 on a fresh delta call) still gets the
            // window listed in full; nothing is stored, so the next run lists it again.
            const fresh = collect(open({ organizerId, startDateTime: opts.from! })).pipe(
              Effect.catchIf(
                (e): e is GraphError => e._tag === "BadRequest" || e._tag === "NotFound",
                () =>
                  Effect.map(collect(list), (items) => items.map((item) => ({ _tag: "Item" as const, item })))
              )
            )
            // A stored link Graph no longer accepts (expired sync state: 400/404/410) means starting the
            // window over; already-exported artifacts are skipped, so this costs metadata calls only.
            const events = Option.isSome(stored)
              ? yield* collect(open({ deltaLink: stored.value })).pipe(
                Effect.catchIf(
                  (e): e is GraphError => e._tag === "BadRequest" || e._tag === "NotFound",
                  () => fresh
                )
              )
              : yield* fresh
            const items: Array<A> = []
            let link: string | null = null
            for (const ev of events) {
              if (ev._tag === "Item") items.push(ev.item)
              else link = ev.deltaLink
            }
            return { items: items.filter((a) => inWindow(a, opts.from, opts.to)), link }
          })
        const [recs, trs] = yield* Effect.all([
          delta<CallRecording>("recordings", (s) => graph.getAllRecordingsDelta(s), graph.getAllRecordings(window)),
          delta<CallTranscript>("transcripts", (s) => graph.getAllTranscriptsDelta(s), graph.getAllTranscripts(window))
        ], { concurrency: 2 })
        // Earlier dead letters of this organizer: delta will not report them again, so retry them here.
        const retry = yield* retryDeadLetters(organizerId)
        // A new artifact may pair with one exported earlier: correlate whole meetings.
        const meetings = new Set<string>()
        for (const a of [...recs.items, ...trs.items, ...retry.recordings, ...retry.transcripts]) {
          if (a.meetingId != null && a.meetingId !== "") meetings.add(a.meetingId)
        }
        // (Unless both kinds were listed in full: then every sibling is already here.)
        const siblings = recs.link === null && trs.link === null
          ? { recordings: [], transcripts: [], found: [] }
          : yield* listMeetings(organizerId, [...meetings])
        const commit = opts.dryRun ? Effect.void : Effect.all([
          recs.link === null ? Effect.void : checkpoint.setDeltaLink(key("recordings"), recs.link),
          trs.link === null ? Effect.void : checkpoint.setDeltaLink(key("transcripts"), trs.link)
        ], { discard: true })
        return {
          recordings: [...recs.items, ...retry.recordings, ...siblings.recordings],
          transcripts: [...trs.items, ...retry.transcripts, ...siblings.transcripts],
          commit,
          found: []
        }
      })

    /**
     * Earlier dead letters of this organizer, fetched again by id (delta will not report them again).
     * Given up on after MAX_DEAD_LETTER_ATTEMPTS; still listed in failures.jsonl then.
     */
    const retryDeadLetters = (organizerId: string) =>
      Effect.gen(function*() {
        const letters = yield* checkpoint.listDeadLetters()
        const recordings: Array<CallRecording> = []
        const transcripts: Array<CallTranscript> = []
        for (const dl of letters) {
          if (dl.organizerId !== organizerId || dl.meetingId === null || dl.attempts >= MAX_DEAD_LETTER_ATTEMPTS) continue
          if (dl.kind !== "recording" && dl.kind !== "transcript") continue
          const user = { userId: organizerId }
          const got = yield* Effect.either(
            dl.kind === "recording"
              ? graph.getRecording(user, dl.meetingId, dl.id)
              : graph.getTranscript(user, dl.meetingId, dl.id)
          )
          if (got._tag === "Left") {
            const e = got.left
            if (isFatal(e, "discovery")) return yield* Effect.fail(e)
            yield* recordFailure(dl.kind, dl.id, dl.meetingId, organizerId, e.message, e)
          } else if (dl.kind === "recording") recordings.push(got.right as CallRecording)
          else transcripts.push(got.right as CallTranscript)
        }
        return { recordings, transcripts }
      })

    /** Every recording and transcript of these meetings (in the window); meetings Graph does not know are skipped. */
    const listMeetings = (organizerId: string, meetingIds: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const user = { userId: organizerId }
        const recordings: Array<CallRecording> = []
        const transcripts: Array<CallTranscript> = []
        const found: Array<string> = []
        yield* Effect.forEach(meetingIds, (meetingId) =>
          Effect.all([collect(graph.listRecordings(user, meetingId)), collect(graph.listTranscripts(user, meetingId))], {
            concurrency: 2
          }).pipe(
            Effect.map(([rs, ts]) => {
              found.push(meetingId)
              // Per-meeting lists may omit meetingId: the artifacts belong to the meeting listed.
              for (const r of rs) recordings.push(r.meetingId ? r : new CallRecording({ ...r, meetingId }))
              for (const t of ts) transcripts.push(t.meetingId ? t : new CallTranscript({ ...t, meetingId }))
            }),
            Effect.catchIf((e): e is GraphError => e._tag === "NotFound", () => Effect.void)
          ), { concurrency: 4, discard: true })
        return {
          recordings: recordings.filter((a) => inWindow(a, opts.from, opts.to)),
          transcripts: transcripts.filter((a) => inWindow(a, opts.from, opts.to)),
          found
        }
      })

    const discoverTargeted = (organizerId: string): Effect.Effect<Discovery, GraphError | SinkError | SyncFatalError> =>
      Effect.gen(function*() {
        const user = { userId: organizerId }
        const ids = new Set(opts.meetingIds)
        const foundUrls: Array<string> = []
        yield* Effect.forEach(opts.joinUrls, (url) =>
          graph.findMeetingsByJoinUrl(user, url).pipe(
            Effect.map((meetings) => {
              if (meetings.length > 0) foundUrls.push(url)
              for (const m of meetings) ids.add(m.id)
            }),
            Effect.catchIf((e): e is GraphError => e._tag === "NotFound", () => Effect.void)
          ), { concurrency: 2, discard: true })
        const listed = yield* listMeetings(organizerId, [...ids])
        return { recordings: listed.recordings, transcripts: listed.transcripts, commit: Effect.void, found: [...listed.found, ...foundUrls] }
      })

    // -- content ----------------------------------------------------------------------------
    const readCues = (path: string): Effect.Effect<ReadonlyArray<Cue>> =>
      Effect.promise(() => fsp.readFile(nodePath.join(out, path), "utf8").catch(() => "")).pipe(
        Effect.map((text) => {
          const doc = parseVttEither(text, { mode: "lenient" })
          return doc._tag === "Right" ? doc.right.cues : []
        })
      )

    /** Makes one artifact's content complete in the content sink; null when it failed for good. (Not used by dry runs.) */
    const fetchArtifact = (
      kind: ArtifactKind,
      set: ArtifactSet,
      artifact: Artifact
    ): Effect.Effect<FileFacts | null, SyncFatalError> =>
      Effect.gen(function*() {
        const id = artifact.id
        const meetingId = artifact.meetingId ?? set.meetingId
        const organizerId = set.organizerId
        const completed = yield* checkpoint.getCompleted(kind, id).pipe(Effect.mapError(sinkFatal))
        if (Option.isSome(completed)) {
          const c = completed.value
          const intact = yield* content.isComplete(c.path, { bytes: c.bytes, sha256: c.sha256 }).pipe(
            Effect.mapError(sinkFatal)
          )
          if (intact) {
            tally.skipped[kind]++
            // A kill between the checkpoint commit and the cleanup leaves the staged copy behind.
            yield* staging.remove(Staging.stagingKey(kind, id))
            yield* emit(ProgressEvent.ArtifactCompleted({
              kind, id, meetingId, path: c.path, bytes: c.bytes, sha256: c.sha256, skipped: true
            }))
            yield* failures.resolve(kind, id).pipe(Effect.mapError(sinkFatal))
            return { path: c.path, bytes: c.bytes, sha256: c.sha256, contentType: c.contentType, cues: c.cues }
          }
        }
        const key = Staging.stagingKey(kind, id)
        let staged = yield* staging.find(key)
        let fetched = false
        if (staged === null) {
          if (!meetingId) {
            yield* recordFailure(kind, id, null, organizerId, "the artifact names no meetingId, so its content URL cannot be built", null)
            return null
          }
          const user = { userId: organizerId }
          const download = Effect.scoped(
            Effect.gen(function*() {
              const body = kind === "recording"
                ? yield* graph.recordingContent(user, meetingId, id)
                : yield* graph.transcriptContentStream(user, meetingId, id)
              yield* emit(ProgressEvent.ArtifactStarted({ kind, id, meetingId, expectedBytes: body.contentLength }))
              return yield* staging.stage(key, body.stream, body.contentType, (bytes) =>
                emit(ProgressEvent.ArtifactBytes({ kind, id, bytes })))
            })
          )
          const result = yield* downloadSlots.withPermits(1)(download).pipe(
            Effect.mapError((e) => (e instanceof Staging.StagingError ? stagingFatal(e) : e)),
            Effect.either
          )
          if (result._tag === "Left") {
            const e = result.left
            if (e instanceof SyncFatalError) return yield* Effect.fail(e)
            if (isFatal(e, "content")) return yield* Effect.fail(toFatal(e))
            yield* recordFailure(kind, id, meetingId, organizerId, e.message, e)
            return null
          }
          staged = result.right
          fetched = true
        }
        const stagedFile = staged
        const contentType = stagedFile.contentType ?? (kind === "recording" ? "video/mp4" : "text/vtt")
        const path = kind === "recording"
          ? Layout.recordingPath(organizerId, meetingId, id, contentType)
          : Layout.transcriptPath(organizerId, meetingId, id)
        const written = yield* content.write(path, Staging.readStaged(stagedFile.file), { contentType }).pipe(
          Effect.mapError((e) => (e instanceof Staging.StagingError ? stagingFatal(e) : sinkFatal(e)))
        )
        const cues = kind === "transcript"
          ? countCues(yield* Effect.promise(() => fsp.readFile(stagedFile.file, "utf8")))
          : null
        yield* checkpoint.markCompleted({
          kind, id, meetingId, organizerId, path: written.path, bytes: written.bytes, sha256: written.sha256,
          contentType, cues, runId
        }).pipe(Effect.mapError(sinkFatal))
        yield* staging.remove(key)
        yield* failures.resolve(kind, id).pipe(Effect.mapError(sinkFatal))
        if (fetched) {
          tally.downloaded[kind]++
          tally.bytes += stagedFile.bytes
          tally.minutes[kind] += meteredMinutes(artifact.createdDateTime, artifact.endDateTime)
        } else tally.skipped[kind]++
        yield* emit(ProgressEvent.ArtifactCompleted({
          kind, id, meetingId, path: written.path, bytes: written.bytes, sha256: written.sha256, skipped: !fetched
        }))
        return { path: written.path, bytes: written.bytes, sha256: written.sha256, contentType, cues }
      })

    /**
     * The transcript's metadataContent, parsed, as `transcript-<id>.metadata.json` (opt-in). Same rules as
     * content: checkpointed, staged before anything slow, never fetched again once complete.
     */
    const fetchMetadata = (
      set: ArtifactSet,
      transcript: CallTranscript
    ): Effect.Effect<ReadonlyArray<unknown> | null, SyncFatalError> =>
      Effect.gen(function*() {
        const id = transcript.id
        const meetingId = transcript.meetingId ?? set.meetingId
        const organizerId = set.organizerId
        const parse = (text: string) => {
          const doc = parseMetadataContentEither(text, { mode: "lenient" })
          return doc._tag === "Right" ? doc.right.cues.map((c) => ({ ...c })) : []
        }
        const completed = yield* checkpoint.getCompleted("transcriptMetadata", id).pipe(Effect.mapError(sinkFatal))
        if (Option.isSome(completed)) {
          const c = completed.value
          const intact = yield* content.isComplete(c.path, { bytes: c.bytes, sha256: c.sha256 }).pipe(Effect.mapError(sinkFatal))
          if (intact) {
            yield* staging.remove(Staging.stagingKey("transcriptMetadata", id))
            const text = yield* Effect.promise(() => fsp.readFile(nodePath.join(out, c.path), "utf8").catch(() => "[]"))
            return JSON.parse(text) as ReadonlyArray<unknown>
          }
        }
        const key = Staging.stagingKey("transcriptMetadata", id)
        let staged = yield* staging.find(key)
        if (staged === null) {
          const got = yield* downloadSlots.withPermits(1)(
            graph.transcriptMetadataContent({ userId: organizerId }, meetingId, id)
          ).pipe(Effect.either)
          if (got._tag === "Left") {
            const e = got.left
            if (isFatal(e, "content")) return yield* Effect.fail(toFatal(e))
            yield* recordFailure("transcriptMetadata", id, meetingId, organizerId, e.message, e)
            return null
          }
          const bytes = new TextEncoder().encode(got.right)
          staged = yield* staging.stage(key, Stream.make(bytes), "text/vtt", () => Effect.void).pipe(
            Effect.mapError((e) => (e instanceof Staging.StagingError ? stagingFatal(e) : e))
          )
          tally.bytes += bytes.length
          tally.minutes.transcript += meteredMinutes(transcript.createdDateTime, transcript.endDateTime)
        }
        const stagedFile = staged
        const cues = parse(yield* Effect.promise(() => fsp.readFile(stagedFile.file, "utf8")))
        const path = Layout.transcriptMetadataPath(organizerId, meetingId, id)
        const json = new TextEncoder().encode(JSON.stringify(cues))
        const written = yield* content.write(path, Stream.make(json), { contentType: "application/json" }).pipe(
          Effect.mapError(sinkFatal)
        )
        yield* checkpoint.markCompleted({
          kind: "transcriptMetadata", id, meetingId, organizerId, path: written.path, bytes: written.bytes,
          sha256: written.sha256, contentType: "application/json", cues: cues.length, runId
        }).pipe(Effect.mapError(sinkFatal))
        yield* staging.remove(key)
        yield* failures.resolve("transcriptMetadata", id).pipe(Effect.mapError(sinkFatal))
        return cues
      })

    const processSet = (set: ArtifactSet): Effect.Effect<void, SyncFatalError> =>
      Effect.gen(function*() {
        const [rec, tr] = yield* Effect.all([
          set.recording === null ? Effect.succeed(null) : fetchArtifact("recording", set, set.recording),
          set.transcript === null ? Effect.succeed(null) : fetchArtifact("transcript", set, set.transcript)
        ], { concurrency: 2 })
        if (rec === null && tr === null) return
        const metadata = opts.metadataContent && tr !== null && set.transcript !== null
          ? yield* fetchMetadata(set, set.transcript)
          : null
        // Only what was written goes into the line; a side that failed is left out (and retried next run).
        const written = (rec === null) === (set.recording === null) && (tr === null) === (set.transcript === null)
          ? set
          : new ArtifactSet({
            ...set,
            match: "none",
            recording: rec === null ? null : set.recording,
            transcript: tr === null ? null : set.transcript
          })
        const recordingFile = rec === null ? null : { ...rec, contentType: rec.contentType ?? "video/mp4" }
        const transcriptFile = tr === null ? null : { ...tr, cues: tr.cues ?? 0 }
        yield* manifest.upsert(Manifest.entryFromSet(written, { recording: recordingFile, transcript: transcriptFile })).pipe(
          Effect.mapError(sinkFatal)
        )
        if (recordSinks.length > 0) {
          const cues = tr === null ? [] : yield* readCues(tr.path)
          const setFile = (f: FileFacts | null): SetFile | null =>
            f === null ? null : { path: f.path, bytes: f.bytes, sha256: f.sha256, contentType: f.contentType }
          yield* Effect.forEach(recordSinks, (sink) =>
            sink.writeSet({
              set: written,
              recording: setFile(rec),
              transcript: setFile(tr),
              cues,
              runId,
              root: out,
              ...(metadata !== null ? { transcriptMetadata: metadata } : {})
            }), {
            discard: true
          }).pipe(Effect.mapError(sinkFatal))
        }
        tally.sets++
        yield* emit(ProgressEvent.SetWritten({
          meetingId: written.meetingId,
          recordingId: written.recording?.id ?? null,
          transcriptId: written.transcript?.id ?? null,
          match: written.match
        }))
      })

    /** Dry run: what would be downloaded (not completed yet) and its metered minutes. */
    const planSet = (set: ArtifactSet) =>
      Effect.forEach([set.recording, set.transcript] as const, (a, i) => {
        if (a === null) return Effect.void
        const kind: ArtifactKind = i === 0 ? "recording" : "transcript"
        return Effect.map(checkpoint.getCompleted(kind, a.id).pipe(Effect.mapError(sinkFatal)), (c) => {
          if (Option.isSome(c)) tally.skipped[kind]++
          else {
            tally.downloaded[kind]++
            tally.minutes[kind] += meteredMinutes(a.createdDateTime, a.endDateTime)
          }
        })
      }, { discard: true }).pipe(
        Effect.zipRight(
          opts.metadataContent && set.transcript !== null
            ? Effect.map(
              checkpoint.getCompleted("transcriptMetadata", set.transcript.id).pipe(Effect.mapError(sinkFatal)),
              (c) => {
                if (Option.isNone(c)) {
                  tally.minutes.transcript += meteredMinutes(set.transcript!.createdDateTime, set.transcript!.endDateTime)
                }
              }
            )
            : Effect.void
        )
      )

    // -- the run ----------------------------------------------------------------------------
    const seen = new Set<string>()
    const found = new Set<string>()
    const targeted = opts.meetingIds.length > 0 || opts.joinUrls.length > 0
    // Organizers run side by side (discovery pages are sequential per organizer, so this overlaps one
    // organizer's paging and throttle waits with another's downloads); content downloads stay bounded
    // by the shared download slots.
    yield* Effect.forEach(opts.organizers, (organizerId) =>
      Effect.gen(function*() {
        const discovery = yield* (targeted ? discoverTargeted(organizerId) : discoverWindow(organizerId)).pipe(
          Effect.catchAll((e) =>
            e._tag === "SyncFatalError"
              ? Effect.fail(e)
              : e._tag === "SinkError"
              ? Effect.fail(sinkFatal(e))
              : discoveryFailed(organizerId, e)
          )
        )
        if (discovery === null) return
        for (const f of discovery.found) found.add(f)
        // An artifact already handled in this run (another organizer's listing) is not handled twice.
        const recordings = dedupe(discovery.recordings).filter((r) => !seen.has(`r:${r.id}`))
        const transcripts = dedupe(discovery.transcripts).filter((t) => !seen.has(`t:${t.id}`))
        for (const r of recordings) seen.add(`r:${r.id}`)
        for (const t of transcripts) seen.add(`t:${t.id}`)
        tally.discovered.recording += recordings.length
        tally.discovered.transcript += transcripts.length
        const sets = correlate(recordings, transcripts, { organizerId })
        let pending = 0
        for (const s of sets) {
          for (const [kind, a] of [["recording", s.recording], ["transcript", s.transcript]] as const) {
            if (a === null) continue
            const c = yield* checkpoint.getCompleted(kind, a.id).pipe(Effect.mapError(sinkFatal))
            if (Option.isNone(c)) pending++
          }
        }
        yield* emit(ProgressEvent.Discovered({
          organizerId,
          recordings: recordings.length,
          transcripts: transcripts.length,
          sets: sets.length,
          pending,
          pendingBytes: null
        }))
        if (opts.dryRun) {
          yield* Effect.forEach(sets, planSet, { discard: true })
          return
        }
        // Progress rows say which organizer + window a run is in and which ones finished.
        const progressKey = { organizerId, windowFrom, windowTo, kind: targeted ? "meetings" : "window" }
        yield* checkpoint.setProgress(progressKey, { status: "running" }).pipe(Effect.mapError(sinkFatal))
        yield* Effect.forEach(sets, processSet, { concurrency: opts.concurrency, discard: true })
        yield* discovery.commit.pipe(Effect.mapError(sinkFatal))
        yield* checkpoint.setProgress(progressKey, { status: "done", items: recordings.length + transcripts.length }).pipe(
          Effect.mapError(sinkFatal)
        )
      }), { concurrency: ORGANIZER_CONCURRENCY, discard: true })
    if (targeted) {
      for (const m of [...opts.meetingIds, ...opts.joinUrls]) {
        if (!found.has(m)) {
          yield* recordFailure("meeting", m, opts.meetingIds.includes(m) ? m : null, null,
            `no organizer given (${opts.organizers.join(", ")}) has this meeting`, null)
        }
      }
    }

    // -- summary ----------------------------------------------------------------------------
    const stats = yield* graph.stats
    yield* emit(statsEvent(stats))
    const finishedAt = new Date()
    const failuresCount = tally.failed.recording + tally.failed.transcript + tally.otherFailures
    const counts = (k: ArtifactKind) => ({
      discovered: tally.discovered[k],
      downloaded: tally.downloaded[k],
      skipped: tally.skipped[k],
      failed: tally.failed[k]
    })
    const summary: RunSummary = {
      runId,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      elapsedMs: finishedAt.getTime() - startedAt.getTime(),
      dryRun: opts.dryRun,
      incremental: opts.incremental,
      organizers: opts.organizers.length,
      sets: tally.sets,
      recordings: counts("recording"),
      transcripts: counts("transcript"),
      bytes: tally.bytes,
      requests: stats.requests - stats0.requests,
      retries: stats.retries - stats0.retries,
      throttleWaits: stats.throttled - stats0.throttled,
      throttleWaitMs: stats.throttleWaitMs - stats0.throttleWaitMs,
      recordingMinutes: tally.minutes.recording,
      transcriptMinutes: tally.minutes.transcript,
      cost: meteredCost(tally.minutes.recording, tally.minutes.transcript),
      failures: failuresCount,
      out,
      manifest: nodePath.join(out, Manifest.MANIFEST_FILE),
      failuresFile: nodePath.join(out, Failures.FAILURES_FILE)
    }
    if (!opts.dryRun) {
      const status = failuresCount > 0 ? "partial" : "succeeded"
      const runCounts = {
        sets: tally.sets,
        recordingsDownloaded: tally.downloaded.recording,
        transcriptsDownloaded: tally.downloaded.transcript,
        skipped: tally.skipped.recording + tally.skipped.transcript,
        failures: failuresCount,
        bytes: tally.bytes
      }
      yield* checkpoint.finishRun(runId, { status, counts: runCounts }).pipe(Effect.mapError(sinkFatal))
      const record = yield* checkpoint.getRun(runId).pipe(Effect.mapError(sinkFatal))
      if (Option.isSome(record)) {
        yield* Effect.forEach(recordSinks, (s) => s.writeRun(record.value), { discard: true }).pipe(Effect.mapError(sinkFatal))
      }
    }
    yield* emit(ProgressEvent.RunFinished({ summary }))
    return summary
  }).pipe(Effect.scoped)
