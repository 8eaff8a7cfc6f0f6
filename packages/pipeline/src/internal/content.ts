/**
 * Content: making each artifact of a set complete in the content sink (skip
 * what is complete, finish what is staged, download the rest into staging
 * first), then writing the set to the manifest and record sinks.
 */
import { type CallRecording, type CallRef, type CallTranscript, holdingSlot } from "@meeting-artifacts/api"
import {
  ArtifactSet,
  countCues,
  type Cue,
  makeCueCounter,
  parseMetadataContentEither,
  parseVttEither
} from "@meeting-artifacts/correlate"
import { CheckpointStore, Layout, Manifest, type SetFile, type WrittenContent } from "@meeting-artifacts/sinks"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { emit } from "../Progress.js"
import { type ArtifactKind, ProgressEvent } from "../ProgressEvent.js"
import { meteredMinutes } from "../RunSummary.js"
import { SyncFatalError } from "../SyncError.js"
import { recordFailure as makeRecordFailure, type RunContext, sinkFatal, stagingFatal } from "./context.js"
import { isFatal, toFatal } from "./errors.js"
import { callRefOf } from "./discover.js"
import type { DownloadResult, Downloaded } from "./earlyDownloads.js"
import { lightScoped } from "./lightScope.js"
import * as Staging from "./staging.js"
import { markOutcome, withItemSpan } from "./telemetry.js"

type Artifact = CallRecording | CallTranscript

/** What the checkpoint says is completed among the artifacts of some sets, looked up once for all of them. */
export interface CompletedIndex {
  readonly get: (
    kind: CheckpointStore.CompletedKind,
    id: string
  ) => Option.Option<CheckpointStore.CompletedArtifact>
}

/**
 * Looks up the checkpoint rows of every artifact of `sets` (a few queries per organizer instead of one
 * per artifact). Within a run nothing else completes these artifacts (the run holds the store's lock and
 * handles each artifact once), so the index stays true until each is processed.
 */
export const lookUpCompleted = (
  checkpoint: CheckpointStore.CheckpointStoreService,
  sets: ReadonlyArray<ArtifactSet>,
  metadataContent: boolean
): Effect.Effect<CompletedIndex, SyncFatalError> => {
  const recordings = sets.flatMap((s) => (s.recording === null ? [] : [s.recording.id]))
  const transcripts = sets.flatMap((s) => (s.transcript === null ? [] : [s.transcript.id]))
  return Effect.all({
    recording: checkpoint.getCompletedMany("recording", recordings),
    transcript: checkpoint.getCompletedMany("transcript", transcripts),
    transcriptMetadata: metadataContent
      ? checkpoint.getCompletedMany("transcriptMetadata", transcripts)
      : Effect.succeed(new Map<string, CheckpointStore.CompletedArtifact>())
  }).pipe(
    Effect.mapError(sinkFatal),
    Effect.map((found) => ({ get: (kind, id) => Option.fromNullable(found[kind].get(id)) }))
  )
}

/** Content answers after which an artifact's partial download is dropped (fatal ones stop the run first). */
const PERMANENT_STATUSES: ReadonlySet<number> = new Set([400, 401, 403, 404, 410])

/** An ETag usable in `If-Range` (RFC 9110 allows only strong ones there), or null. */
const strongETag = (etag: string | null): string | null => (etag !== null && !etag.startsWith("W/") ? etag : null)

/**
 * A set's files put in place: `unsynced`, renamed in by this run without their folder's fsync (left for the
 * set, see `place`); `intact`, found complete where an earlier run put them.
 */
interface Placed {
  readonly unsynced: Array<string>
  readonly intact: Array<string>
}

interface FileFacts {
  readonly path: string
  readonly bytes: number
  readonly sha256: string
  readonly contentType: string | null
  readonly cues: number | null
}

/** Staged text up to this size is read back synchronously. */
const SMALL_TEXT_BYTES = 256 * 1024

/**
 * A staged text file's content. A small one (most transcripts) is read synchronously: it was just
 * written (page cache), and one blocking read of a few KiB costs less than the four thread-pool round
 * trips of an asynchronous readFile.
 */
const readStagedText = (staged: Staging.Staged): Effect.Effect<string> =>
  staged.bytes <= SMALL_TEXT_BYTES
    ? Effect.sync(() => fs.readFileSync(staged.file, "utf8"))
    : Effect.promise(() => fsp.readFile(staged.file, "utf8"))

/** The cue count of a WebVTT body (UTF-8 bytes): `countCues` without decoding it. */
const cuesIn = (bytes: Uint8Array): number => {
  const counter = makeCueCounter()
  counter.update(bytes)
  return counter.count()
}

/** One artifact's span: its download's Graph requests (and their retries) are its children. */
const artifactSpan = (kind: string, set: ArtifactSet, artifact: Artifact) =>
  withItemSpan("sync.artifact", {
    "artifact.kind": kind,
    "artifact.id": artifact.id,
    "sync.meeting_id": artifact.meetingId ?? set.meetingId
  })

export const make = (ctx: RunContext) => {
  const {
    checkpoint,
    content,
    downloadSlots,
    earlyDownloads,
    failures,
    graph,
    manifest,
    opts,
    out,
    recordSinks,
    runId,
    staging,
    tally
  } = ctx
  const recordFailure = makeRecordFailure(ctx)

  const readCues = (path: string): Effect.Effect<ReadonlyArray<Cue>> =>
    Effect.promise(() => fsp.readFile(nodePath.join(out, path), "utf8").catch(() => "")).pipe(
      Effect.map((text) => {
        const doc = parseVttEither(text, { mode: "lenient" })
        return doc._tag === "Right" ? doc.right.cues : []
      })
    )

  /**
   * Puts a staged file at `path` in the content sink and checkpoints it (`commit`). A sink that can
   * adopt local files gets the staged file by a rename after the checkpoint commit: a kill between the
   * two leaves the `.done` file, which the next run (finding the checkpointed file missing) moves in
   * without downloading again. Other sinks get the bytes streamed through `write` before the commit.
   * With `unsynced` (the set's, see `processSet`) and a sink that has `syncFolders`, the rename is left
   * for the set to make durable, and `path` is added to it.
   */
  const place = (
    path: string,
    staged: Staging.Staged,
    contentType: string,
    commit: (written: WrittenContent) => Effect.Effect<void, SyncFatalError>,
    unsynced: Array<string> | null
  ): Effect.Effect<WrittenContent, SyncFatalError> => {
    const adopt = content.adopt
    if (adopt === undefined) {
      return content.write(path, Staging.readStaged(staged.file), { contentType }).pipe(
        Effect.mapError((e) => (e instanceof Staging.StagingError ? stagingFatal(e) : sinkFatal(e))),
        Effect.tap(commit)
      )
    }
    const deferSync = unsynced !== null && content.syncFolders !== undefined
    const adoptWith = (facts: { readonly bytes: number; readonly sha256: string }) =>
      Effect.zipRight(
        commit({ path, ...facts }),
        Effect.mapError(adopt(path, staged.file, facts, { syncFolder: !deferSync }), sinkFatal)
      ).pipe(Effect.tap(() => {
        if (deferSync) unsynced.push(path)
      }))
    return staged.sha256 === null
      ? Effect.flatMap(Effect.mapError(Staging.hashStaged(staged.file), stagingFatal), adoptWith)
      : adoptWith({ bytes: staged.bytes, sha256: staged.sha256 })
  }

  /**
   * One artifact's content into staging (resuming a part left by an earlier run), holding a download
   * slot. Its failure is returned: the set records it (see `fetchArtifact`).
   */
  const download = (
    kind: ArtifactKind,
    id: string,
    meetingId: string,
    organizerId: string,
    call: CallRef
  ): Effect.Effect<DownloadResult> =>
    Effect.suspend(() => {
      const key = Staging.stagingKey(kind, id)
      let requested = false
      let cues: number | null = null
      const user = { userId: organizerId }
      const owner = { kind, id }
      /**
       * One download, appending to `part` when the server honours the Range (206), from byte 0
       * otherwise. The Range carries `If-Range` with the part's validator (a strong ETag, else
       * Last-Modified), so a server whose content changed sends it whole (200). "mismatch": a 206 for
       * content of another size, or with another ETag, than the part was cut from.
       * Progress: `expectedBytes` and the ArtifactBytes events count what this request delivers
       * (the rest after a 206), so they add up per artifact and per run; ArtifactCompleted has the file size.
       */
      const attempt = (part: Staging.Resumable | null) =>
        lightScoped(
          Effect.gen(function*() {
            const ifRange = part === null ? undefined : strongETag(part.etag) ?? part.lastModified ?? undefined
            const options = part === null ? undefined : { offset: part.bytes, ifRange }
            const body = kind === "recording"
              ? yield* graph.recordingContent(user, call, id, options)
              : yield* graph.transcriptContentStream(user, call, id, options)
            requested = true
            const size = body.contentLength === null ? null : body.offset + body.contentLength
            const resumed = part !== null && body.offset > 0
            if (
              resumed && (
                (part.size !== null && size !== null && size !== part.size) ||
                (part.etag !== null && body.etag !== null && body.etag !== part.etag)
              )
            ) {
              return "mismatch" as const
            }
            yield* emit(ProgressEvent.ArtifactStarted({ kind, id, meetingId, expectedBytes: body.contentLength }))
            // a whole transcript in memory is counted here, so its staged file is not read back for it
            cues = kind === "transcript" && body.bytes !== undefined && body.offset === 0 ? cuesIn(body.bytes) : null
            return yield* staging.stage(key, owner, {
              stream: body.stream,
              drain: body.drain,
              bytes: body.bytes,
              contentType: body.contentType,
              offset: body.offset,
              size,
              // a 206 without validators keeps those the part was stored with (it is the same content)
              etag: body.etag ?? (resumed ? part.etag : null),
              lastModified: body.lastModified ?? (resumed ? part.lastModified : null)
            }, (bytes) => emit(ProgressEvent.ArtifactBytes({ kind, id, bytes })))
          })
        )
      const fresh = Effect.flatMap(
        attempt(null),
        (staged) => staged === "mismatch" ? Effect.die("a fresh download cannot mismatch") : Effect.succeed(staged)
      )
      const resumeOrFetch = Effect.gen(function*() {
        const part = yield* staging.resumable(key, owner)
        // Killed after the last byte was written but before the rename: nothing left to ask for.
        if (part !== null && part.size !== null && part.bytes === part.size) return yield* staging.promote(key)
        const first = yield* attempt(part)
        if (first !== "mismatch") return first
        yield* staging.discard(key)
        return yield* fresh
      })
      // (a request waiting out a Retry-After gives the slot back meanwhile: see holdingSlot)
      // A key with nothing to resume (other kinds, or no files left by earlier runs) goes straight to `fresh`.
      return holdingSlot(
        Staging.RESUMABLE_KINDS.has(kind) && staging.mayHaveFiles(key) ? resumeOrFetch : fresh,
        downloadSlots
      ).pipe(
        Effect.match({
          onFailure: (e) => Either.left(e instanceof Staging.StagingError ? stagingFatal(e) : e),
          onSuccess: (staged): DownloadResult => Either.right<Downloaded>({ staged, requested, cues })
        })
      )
    })

  /**
   * Starts the early download (see EarlyDownloads) of each listed artifact of `organizerId` that is not
   * completed, staged or claimed already (with no room, it waits in their backlog). Online meeting
   * artifacts only: their content URL is the listed meetingId's, whatever set they join (an ad hoc call's
   * id is settled with its set).
   */
  const downloadEarly = (
    organizerId: string,
    kind: ArtifactKind,
    listed: Iterable<Artifact>
  ): Effect.Effect<void, SyncFatalError> =>
    Effect.gen(function*() {
      if (earlyDownloads === undefined) return
      const fresh = [...listed].filter((a) =>
        a.meetingId != null && a.meetingId !== "" && !earlyDownloads.claimed(Staging.stagingKey(kind, a.id))
      )
      if (fresh.length === 0) return
      // One look-up of the checkpoint for the page, whether or not there is room: it stays true until an
      // artifact's turn comes (only its set completes it in this run, and a set claims the key first, so
      // the queued download never starts). A look-up per queued artifact cost a query and ~100 Effect
      // steps each, more than the rest of its early download's bookkeeping.
      const completed = yield* checkpoint.getCompletedMany(kind, fresh.map((a) => a.id)).pipe(
        Effect.mapError(sinkFatal)
      )
      for (const a of fresh) {
        const key = Staging.stagingKey(kind, a.id)
        // completed, or staged whole by an earlier run: the set finishes it without a request
        if (completed.has(a.id) || (yield* staging.find(key)) !== null) continue
        yield* earlyDownloads.start(key, organizerId, earlyDownload(organizerId, kind, a))
      }
    })

  /** One listed artifact's early download, with a span of its own (it happens before its set and set span exist). */
  const earlyDownload = (organizerId: string, kind: ArtifactKind, a: Artifact) =>
    download(kind, a.id, a.meetingId!, organizerId, a.meetingId!).pipe(
      withItemSpan("sync.download", { "artifact.kind": kind, "artifact.id": a.id, "sync.meeting_id": a.meetingId! })
    )

  /**
   * Makes one artifact's content complete in the content sink; null when it failed for good. (Not used by
   * dry runs.) A file renamed into place without its folder's fsync has its path added to
   * `placed.unsynced`; one an earlier run placed (found intact) to `placed.intact`.
   */
  const fetchArtifact = (
    kind: ArtifactKind,
    set: ArtifactSet,
    artifact: Artifact,
    completedIndex: CompletedIndex,
    placed: Placed
  ): Effect.Effect<FileFacts | null, SyncFatalError> =>
    Effect.gen(function*() {
      const id = artifact.id
      const meetingId = artifact.meetingId ?? set.meetingId
      const organizerId = set.organizerId
      const completed = completedIndex.get(kind, id)
      if (Option.isSome(completed)) {
        const c = completed.value
        const intact = yield* content.isComplete(c.path, { bytes: c.bytes, sha256: c.sha256 }).pipe(
          Effect.mapError(sinkFatal)
        )
        if (intact) {
          tally.artifact(kind, "skipped")
          yield* markOutcome("skipped", 0)
          // A kill between the checkpoint commit and the cleanup leaves the staged copy behind.
          yield* staging.remove(Staging.stagingKey(kind, id))
          yield* emit(ProgressEvent.ArtifactCompleted({
            kind,
            id,
            meetingId,
            path: c.path,
            bytes: c.bytes,
            sha256: c.sha256,
            skipped: true
          }))
          yield* failures.resolve(kind, id).pipe(Effect.mapError(sinkFatal))
          placed.intact.push(c.path)
          return { path: c.path, bytes: c.bytes, sha256: c.sha256, contentType: c.contentType, cues: c.cues }
        }
      }
      const key = Staging.stagingKey(kind, id)
      // an early download (started when a listing page named the artifact) is this one's
      const early = earlyDownloads === undefined ? null : yield* earlyDownloads.take(key)
      let staged = early === null ? yield* staging.find(key) : null
      let fetched = false
      let downloadedCues: number | null = null
      // Whether this run asked Graph for content (what it pays for), not only finished an earlier run's part.
      let requested = false
      if (staged === null) {
        if (!meetingId) {
          yield* recordFailure(
            kind,
            id,
            null,
            organizerId,
            set.source === "adhocCall"
              ? "the artifact names no ad hoc call id, so its content URL cannot be built"
              : "the artifact names no meetingId, so its content URL cannot be built",
            null,
            set.source
          )
          return null
        }
        const result = early ?? (yield* download(kind, id, meetingId, organizerId, callRefOf(meetingId, set.source)))
        if (result._tag === "Left") {
          const e = result.left
          if (e instanceof SyncFatalError) return yield* Effect.fail(e)
          if (isFatal(e, "content")) return yield* Effect.fail(toFatal(e))
          // Gone or refused for this artifact: its part will not be resumed soon, so it does not keep
          // disk until the sweep. Cut bodies, throttling and 5xx keep it for the next run.
          if (PERMANENT_STATUSES.has(e.status)) yield* staging.discard(key)
          yield* recordFailure(kind, id, meetingId, organizerId, e.message, e, set.source)
          return null
        }
        staged = result.right.staged
        requested = result.right.requested
        downloadedCues = result.right.cues
        fetched = true
      }
      const stagedFile = staged
      const contentType = stagedFile.contentType ?? Staging.defaultContentType(kind)
      const path = kind === "recording"
        ? Layout.recordingPath(organizerId, meetingId, id, contentType)
        : Layout.transcriptPath(organizerId, meetingId, id)
      const cues = kind === "transcript"
        ? downloadedCues ?? countCues(yield* readStagedText(stagedFile))
        : null
      const written = yield* place(path, stagedFile, contentType, (w) =>
        checkpoint.markCompleted({
          kind,
          id,
          meetingId,
          organizerId,
          path: w.path,
          bytes: w.bytes,
          sha256: w.sha256,
          contentType,
          cues,
          runId
        }).pipe(Effect.mapError(sinkFatal)), placed.unsynced)
      yield* staging.remove(key, { moved: content.adopt !== undefined })
      yield* failures.resolve(kind, id).pipe(Effect.mapError(sinkFatal))
      if (fetched) {
        tally.artifact(kind, "downloaded")
        // Only what this run received: a resumed download's earlier bytes were counted by the run that got them.
        tally.received(stagedFile.received)
        if (requested) tally.meteredMinutes(kind, meteredMinutes(artifact.createdDateTime, artifact.endDateTime))
        yield* markOutcome("downloaded", stagedFile.received)
      } else {
        tally.artifact(kind, "skipped")
        yield* markOutcome("skipped", 0)
      }
      yield* emit(ProgressEvent.ArtifactCompleted({
        kind,
        id,
        meetingId,
        path: written.path,
        bytes: written.bytes,
        sha256: written.sha256,
        skipped: !fetched
      }))
      return { path: written.path, bytes: written.bytes, sha256: written.sha256, contentType, cues }
    }).pipe(artifactSpan(kind, set, artifact))

  /**
   * The transcript's metadataContent, parsed, as `transcript-<id>.metadata.json` (opt-in). Same rules as
   * content: checkpointed, staged before anything slow, never fetched again once complete.
   */
  const fetchMetadata = (
    set: ArtifactSet,
    transcript: CallTranscript,
    completedIndex: CompletedIndex
  ): Effect.Effect<ReadonlyArray<unknown> | null, SyncFatalError> =>
    Effect.gen(function*() {
      const id = transcript.id
      const meetingId = transcript.meetingId ?? set.meetingId
      const organizerId = set.organizerId
      const parse = (text: string) => {
        const doc = parseMetadataContentEither(text, { mode: "lenient" })
        return doc._tag === "Right" ? doc.right.cues.map((c) => ({ ...c })) : []
      }
      const completed = completedIndex.get("transcriptMetadata", id)
      if (Option.isSome(completed)) {
        const c = completed.value
        const intact = yield* content.isComplete(c.path, { bytes: c.bytes, sha256: c.sha256 }).pipe(
          Effect.mapError(sinkFatal)
        )
        if (intact) {
          yield* staging.remove(Staging.stagingKey("transcriptMetadata", id))
          const text = yield* Effect.promise(() => fsp.readFile(nodePath.join(out, c.path), "utf8").catch(() => "[]"))
          return JSON.parse(text) as ReadonlyArray<unknown>
        }
      }
      const key = Staging.stagingKey("transcriptMetadata", id)
      let staged = yield* staging.find(key)
      if (staged === null) {
        const got = yield* holdingSlot(
          graph.transcriptMetadataContent({ userId: organizerId }, callRefOf(meetingId, set.source), id),
          downloadSlots
        ).pipe(Effect.either)
        if (got._tag === "Left") {
          const e = got.left
          if (isFatal(e, "content")) return yield* Effect.fail(toFatal(e))
          yield* recordFailure("transcriptMetadata", id, meetingId, organizerId, e.message, e, set.source)
          return null
        }
        const bytes = new TextEncoder().encode(got.right)
        staged = yield* staging.stage(
          key,
          { kind: "transcriptMetadata", id },
          { stream: Stream.make(bytes), contentType: "text/vtt", size: bytes.length },
          () => Effect.void
        ).pipe(
          Effect.mapError((e) => (e instanceof Staging.StagingError ? stagingFatal(e) : e))
        )
        tally.received(bytes.length)
        tally.meteredMinutes("transcript", meteredMinutes(transcript.createdDateTime, transcript.endDateTime))
      }
      const stagedFile = staged
      const cues = parse(yield* Effect.promise(() => fsp.readFile(stagedFile.file, "utf8")))
      const path = Layout.transcriptMetadataPath(organizerId, meetingId, id)
      const json = new TextEncoder().encode(JSON.stringify(cues))
      const written = yield* content.write(path, Stream.make(json), { contentType: "application/json" }).pipe(
        Effect.mapError(sinkFatal)
      )
      yield* checkpoint.markCompleted({
        kind: "transcriptMetadata",
        id,
        meetingId,
        organizerId,
        path: written.path,
        bytes: written.bytes,
        sha256: written.sha256,
        contentType: "application/json",
        cues: cues.length,
        runId
      }).pipe(Effect.mapError(sinkFatal))
      yield* staging.remove(key)
      yield* failures.resolve("transcriptMetadata", id).pipe(Effect.mapError(sinkFatal))
      return cues
    }).pipe(artifactSpan("transcriptMetadata", set, transcript))

  /**
   * Whether making `artifact` complete asks Graph for nothing of its own: it is checkpointed already, or
   * its early download has started (taking it only waits for that). A staged file is not looked for here.
   */
  const needsNoRequest = (kind: ArtifactKind, artifact: Artifact, completed: CompletedIndex): boolean =>
    Option.isSome(completed.get(kind, artifact.id)) ||
    (earlyDownloads !== undefined && earlyDownloads.started(Staging.stagingKey(kind, artifact.id)))

  /**
   * Both artifacts of `set` made complete. They run side by side only when each would make its own
   * request: otherwise one after the other, the one needing a request (if any) first, costs no wall time
   * (the other's early download runs meanwhile) and spares the set the fibers of a concurrent pair.
   */
  const fetchBoth = (
    set: ArtifactSet,
    completed: CompletedIndex,
    placed: Placed
  ): Effect.Effect<readonly [FileFacts | null, FileFacts | null], SyncFatalError> => {
    const { recording, transcript } = set
    if (recording === null || transcript === null) {
      return recording !== null
        ? Effect.map(fetchArtifact("recording", set, recording, completed, placed), (rec) => [rec, null] as const)
        : transcript !== null
        ? Effect.map(fetchArtifact("transcript", set, transcript, completed, placed), (tr) => [null, tr] as const)
        : Effect.succeed([null, null] as const)
    }
    const rec = fetchArtifact("recording", set, recording, completed, placed)
    const tr = fetchArtifact("transcript", set, transcript, completed, placed)
    if (needsNoRequest("recording", recording, completed)) {
      return Effect.flatMap(tr, (t) => Effect.map(rec, (r) => [r, t] as const))
    }
    if (needsNoRequest("transcript", transcript, completed)) {
      return Effect.flatMap(rec, (r) => Effect.map(tr, (t) => [r, t] as const))
    }
    return Effect.all([rec, tr], { concurrency: 2 })
  }

  /**
   * The folder fsync of the files a set renamed into place (see `place`): one per folder for both of its
   * artifacts, before its manifest line (and whatever else may rely on the files being there).
   */
  const syncPlaced = (unsynced: ReadonlyArray<string>): Effect.Effect<void, SyncFatalError> =>
    unsynced.length === 0 || content.syncFolders === undefined
      ? Effect.void
      : Effect.mapError(content.syncFolders(unsynced), sinkFatal)

  const processSet = (set: ArtifactSet, completed: CompletedIndex): Effect.Effect<void, SyncFatalError> =>
    Effect.gen(function*() {
      const placed: Placed = { unsynced: [], intact: [] }
      const [rec, tr] = yield* fetchBoth(set, completed, placed).pipe(
        // a set that fails after placing a file still makes it durable
        Effect.onError(() => Effect.ignore(syncPlaced(placed.unsynced)))
      )
      if (rec === null && tr === null) return yield* syncPlaced(placed.unsynced)
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
      const entry = Manifest.entryFromSet(written, { recording: recordingFile, transcript: transcriptFile })
      // A file an earlier run renamed into place may lack its folder's fsync (killed before it): its folder
      // is made durable again before a new line names it, never for a line already there.
      yield* syncPlaced(
        placed.intact.length === 0 || manifest.holds?.(entry) === true
          ? placed.unsynced
          : [...placed.unsynced, ...placed.intact]
      )
      const metadata = opts.metadataContent && tr !== null && set.transcript !== null
        ? yield* fetchMetadata(set, set.transcript, completed)
        : null
      yield* manifest.upsert(entry).pipe(Effect.mapError(sinkFatal))
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
    }).pipe(withItemSpan("sync.set", {
      "sync.organizer_id": set.organizerId,
      "sync.meeting_id": set.meetingId,
      "sync.match": set.match,
      "sync.recording_id": set.recording?.id ?? "",
      "sync.transcript_id": set.transcript?.id ?? ""
    }))

  /** Dry run: what would be downloaded (not completed yet) and its metered minutes. */
  // What a dry run counts as done: the export's row, and its file still there with its size (read no
  // content; a row written before export scopes may be another folder's, and a file may have been removed).
  const present = (c: { readonly path: string; readonly bytes: number; readonly sha256: string }) =>
    (content.hasSize === undefined
      ? content.isComplete(c.path, { bytes: c.bytes, sha256: c.sha256 })
      : content.hasSize(c.path, c.bytes)).pipe(Effect.mapError(sinkFatal))

  /** A dry run's tally of one set: what the real run would skip and what it would download. */
  const planSet = (set: ArtifactSet, completed: CompletedIndex): Effect.Effect<void, SyncFatalError> =>
    Effect.gen(function*() {
      for (const [kind, a] of [["recording", set.recording], ["transcript", set.transcript]] as const) {
        if (a === null) continue
        const row = completed.get(kind, a.id)
        if (Option.isSome(row) && (yield* present(row.value))) tally.artifact(kind, "skipped")
        else {
          tally.artifact(kind, "downloaded")
          tally.meteredMinutes(kind, meteredMinutes(a.createdDateTime, a.endDateTime))
        }
      }
      if (opts.metadataContent && set.transcript !== null) {
        const row = completed.get("transcriptMetadata", set.transcript.id)
        if (Option.isNone(row) || !(yield* present(row.value))) {
          tally.meteredMinutes("transcript", meteredMinutes(set.transcript.createdDateTime, set.transcript.endDateTime))
        }
      }
    })

  return { processSet, planSet, downloadEarly }
}
