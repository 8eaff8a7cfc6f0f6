/**
 * Discovery: which recordings and transcripts one organizer has in the window
 * (organizer-wide listing, delta links for incremental runs, or listed
 * meetings and join URLs), and of the ad hoc calls (1:1, group, PSTN) the
 * organizer started. Graph v1.0 enumerates ad hoc call artifacts only through
 * the user's `adhocCalls/getAllRecordings|getAllTranscripts` (no per-call
 * list), so listed calls are found there too, by call id.
 */
import {
  CallRecording,
  CallTranscript,
  type CallRef,
  type DeltaEvent,
  type GraphError,
  handleInvalidItems,
  type InvalidItem
} from "@meeting-artifacts/api"
import type { ArtifactSource } from "@meeting-artifacts/correlate"
import type { CheckpointStore, SinkError } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import type { SyncFatalError } from "../SyncError.js"
import type { ValidatedSyncOptions } from "../SyncOptions.js"
import { recordFailure as makeRecordFailure, type RunContext } from "./context.js"
import { isFatal } from "./errors.js"

type Artifact = CallRecording | CallTranscript

/** Incremental runs retry a dead-lettered artifact this many times, then leave it in failures.jsonl. */
const MAX_DEAD_LETTER_ATTEMPTS = 5

/** Recordings and transcripts of online meetings, or of ad hoc calls. */
export interface Artifacts {
  readonly recordings: ReadonlyArray<CallRecording>
  readonly transcripts: ReadonlyArray<CallTranscript>
}

/** A delta link to store for a listing (organizer, window, kind) once everything it listed is processed. */
export interface DeltaLinkUpdate {
  readonly key: CheckpointStore.ProgressKey
  readonly link: string
}

/** What one organizer's discovery produced, and the cursors to store once everything is processed. */
export interface Discovery extends Artifacts {
  /** Ad hoc call artifacts, each with its call's id as `meetingId`. */
  readonly adhoc: Artifacts
  /** Delta links to store (`commitDeltaLinks`) only after every set was processed; empty in dry runs. */
  readonly deltaLinks: ReadonlyArray<DeltaLinkUpdate>
  /** Meeting ids / join URLs / ad hoc call ids that were found under this organizer. */
  readonly found: ReadonlyArray<string>
}

const noArtifacts: Artifacts = { recordings: [], transcripts: [] }

/** Stores the delta links of a discovery whose sets were all processed. */
export const commitDeltaLinks = (
  checkpoint: CheckpointStore.CheckpointStoreService,
  links: ReadonlyArray<DeltaLinkUpdate>
): Effect.Effect<void, SinkError> =>
  Effect.forEach(links, (l) => checkpoint.setDeltaLink(l.key, l.link), { discard: true })

/** The call an artifact's content lives under: an online meeting id, or `{ adhocCallId }`. */
export const callRefOf = (meetingId: string, source: ArtifactSource | undefined): CallRef =>
  source === "adhocCall" ? { adhocCallId: meetingId } : meetingId

/**
 * The `{callId}` of a content URL shaped `…/adhocCalls/{callId}/recordings|transcripts/…` (or
 * `adhocCalls('{callId}')/…`); null for any other shape (Graph's content URLs are unreliable, and one
 * that embeds an id raw cannot be split safely).
 */
const callIdInUrl = (url: string | null | undefined): string | null => {
  const m = url == null
    ? null
    : /\/adhocCalls(?:\/([^/'()?#]+)|\('([^/'()?#]+)'\))\/(?:recordings|transcripts)(?:[/(?#]|$)/i.exec(url)
  if (m === null) return null
  try {
    const id = decodeURIComponent(m[1] ?? m[2]!)
    return id === "." || id === ".." ? null : id
  } catch {
    return null
  }
}

/**
 * The ids an ad hoc call artifact may name its call by, best first: `callId` (Graph v1.0 gives the
 * call's id there), then the call segment of its content URL, then `meetingId`.
 */
export const adhocCallIdsOf = (a: Artifact): ReadonlyArray<string> => {
  const url = a instanceof CallRecording ? a.recordingContentUrl : (a as CallTranscript).transcriptContentUrl
  return [a.callId, callIdInUrl(url), a.meetingId].filter((id): id is string => typeof id === "string" && id !== "")
}

/** The artifact with `meetingId` set to its ad hoc call's id (left without one when it names none). */
const inCall = <A extends Artifact>(a: A, callId: string | undefined): A => {
  if (callId === undefined || a.meetingId === callId) return a
  return (a instanceof CallRecording
    ? new CallRecording({ ...a, meetingId: callId })
    : new CallTranscript({ ...(a as CallTranscript), meetingId: callId })) as A
}

/** Ad hoc call artifacts keyed by their call (the first id of `adhocCallIdsOf`). */
const asAdhoc = <A extends Artifact>(items: ReadonlyArray<A>): Array<A> =>
  items.map((a) => inCall(a, adhocCallIdsOf(a)[0]))

/** Whether an artifact was created in [from, to); one without a (parsable) createdDateTime counts as inside. */
export const inWindow = (a: Artifact, from: string | null, to: string | null): boolean => {
  const t = a.createdDateTime == null ? Number.NaN : Date.parse(a.createdDateTime)
  if (Number.isNaN(t)) return true
  if (from !== null && t < Date.parse(from)) return false
  if (to !== null && t >= Date.parse(to)) return false
  return true
}

/** Whether the run exports listed meetings, join URLs or ad hoc calls rather than a window. */
export const isTargeted = (opts: ValidatedSyncOptions): boolean =>
  opts.meetingIds.length > 0 || opts.joinUrls.length > 0 || opts.adhocCallIds.length > 0

/**
 * A targeted run's meetings, join URLs and ad hoc calls that no organizer had (`found` is the union of
 * the organizers' discoveries), each a failure of the run.
 */
export const reportMissingTargets = (
  ctx: RunContext,
  found: ReadonlySet<string>
): Effect.Effect<void, SyncFatalError> =>
  Effect.gen(function*() {
    const { opts } = ctx
    const recordFailure = makeRecordFailure(ctx)
    for (const m of [...opts.meetingIds, ...opts.joinUrls]) {
      if (!found.has(m)) {
        yield* recordFailure(
          "meeting",
          m,
          opts.meetingIds.includes(m) ? m : null,
          null,
          `no organizer given (${opts.organizers.join(", ")}) has this meeting`,
          null
        )
      }
    }
    for (const c of opts.adhocCallIds) {
      if (!found.has(c)) {
        // Graph lists ad hoc calls only through their artifacts: a call without any is not found.
        yield* recordFailure(
          "meeting",
          c,
          c,
          null,
          `no organizer given (${opts.organizers.join(", ")}) has a recording or transcript of this ad hoc call${
            opts.from !== null || opts.to !== null ? " in the window" : ""
          }`,
          null,
          "adhocCall"
        )
      }
    }
  })

/**
 * The scope a delta link is stored under: the Graph endpoint and the absolute output folder. Delta only
 * reports changes since its link, so a link stored by a run into another folder (or against another
 * Graph) sharing the checkpoint store must never resume this folder's listing: what that run found
 * would never be listed here.
 */
export const deltaLinkScope = (graphBaseUrl: string, out: string): string =>
  createHash("sha256").update(`${graphBaseUrl}\n${out}`).digest("hex").slice(0, 16)

/** A listing's progress kind in scope (the scope rides in the kind: the key's columns are the store's contract). */
export const deltaLinkKind = (listing: string, scope: string): string => `${listing}@${scope}`

/**
 * Told of each page of a window listing as it arrives (what the organizer listed, before its sets are
 * formed): sync starts the downloads then (see EarlyDownloads).
 */
export type OnListed = (
  organizerId: string,
  kind: "recording" | "transcript",
  items: Iterable<Artifact>
) => Effect.Effect<void, SyncFatalError>

export const make = (ctx: RunContext, onListed?: OnListed) => {
  const { checkpoint, graph, opts, windowFrom, windowTo } = ctx
  const scope = deltaLinkScope(graph.baseUrl, ctx.out)
  const deltaKey = (organizerId: string, kind: string): CheckpointStore.ProgressKey => ({
    organizerId,
    windowFrom,
    windowTo,
    kind: deltaLinkKind(kind, scope)
  })
  const recordFailure = makeRecordFailure(ctx)

  const collect = <A, E>(s: Stream.Stream<A, E>) => Effect.map(Stream.runCollect(s), (c) => [...c])

  /**
   * A listing whose pages' artifacts in the window (`itemOf` finds a page element's artifact, if any) are
   * told to `onListed` as they arrive. (A server may bound its window otherwise than `inWindow`, e.g. take
   * in an item made exactly at `--to`: the sets leave such an item out, so it is not downloaded early either.)
   */
  const tell = <T, A extends Artifact>(itemOf: (element: T) => A | undefined) =>
  (
    organizerId: string,
    kind: "recording" | "transcript",
    listing: Stream.Stream<T, GraphError>
  ): Stream.Stream<T, GraphError | SyncFatalError> =>
    onListed === undefined ? listing : Stream.mapChunksEffect(listing, (page) => {
      const items: Array<A> = []
      for (const element of page) {
        const item = itemOf(element)
        if (item !== undefined && inWindow(item, opts.from, opts.to)) items.push(item)
      }
      return Effect.as(onListed(organizerId, kind, items), page)
    })
  /** A window listing, told page by page. */
  const told = tell(<A extends Artifact>(item: A) => item)
  /** A delta listing, its items told page by page. */
  const toldDelta = tell(<A extends Artifact>(ev: DeltaEvent<A>) => (ev._tag === "Item" ? ev.item : undefined))

  /**
   * Runs one organizer's discovery with listed items that do not decode dead-lettered one by one
   * (failures.jsonl, exit 1) instead of failing their page, and with it every later page. An item
   * with an id and a meetingId is fetched again by id on the next incremental run, like any dead
   * letter; one without them could only be seen again by listing again, so then this run stores no
   * delta link (the next run lists from the previous one).
   */
  const deadLetterInvalidItems = <E>(organizerId: string, discover: Effect.Effect<Discovery, E>) =>
    Effect.gen(function*() {
      const invalid: Array<InvalidItem> = []
      const result = yield* handleInvalidItems(discover, (item) => Effect.sync(() => void invalid.push(item)))
      // One item can be listed twice (a delta page, then its meeting's own list): report it once.
      const seen = new Set<string>()
      let refetchable = true
      for (const bad of invalid) {
        const kind = bad.resource === "CallRecording"
          ? "recording" as const
          : bad.resource === "CallTranscript"
          ? "transcript" as const
          : "meeting" as const
        if (bad.id === null || (kind !== "meeting" && bad.meetingId === null)) refetchable = false
        const id = bad.id ?? `(item ${bad.index} of a page of ${bad.route}, without an id)`
        if (seen.has(`${kind}:${id}`)) continue
        seen.add(`${kind}:${id}`)
        yield* recordFailure(kind, id, bad.meetingId, organizerId, bad.error.message, bad.error)
      }
      return refetchable ? result : { ...result, deltaLinks: [] }
    })

  const discoverWindow = (organizerId: string): Effect.Effect<Discovery, GraphError | SinkError | SyncFatalError> =>
    deadLetterInvalidItems(organizerId, discoverWindowOf(organizerId))

  /**
   * One listing of the window through delta: the stored link when there is one, else a fresh delta
   * call. Items outside the window are dropped; `link` is the deltaLink to store (null: listed in full).
   */
  const delta = <A extends Artifact, W>(
    key: CheckpointStore.ProgressKey,
    open: (start: { deltaLink: string } | W) => Stream.Stream<DeltaEvent<A>, GraphError | SyncFatalError>,
    freshStart: W,
    list: Stream.Stream<A, GraphError | SyncFatalError>
  ) =>
    Effect.gen(function*() {
      const stored = yield* checkpoint.getDeltaLink(key)
      // A service without delta for these functions (400/404 on a fresh delta call) still gets the
      // window listed in full; nothing is stored, so the next run lists it again.
      const fresh = collect(open(freshStart)).pipe(
        Effect.catchIf(
          (e): e is GraphError => e._tag === "BadRequest" || e._tag === "NotFound",
          () => Effect.map(collect(list), (items) => items.map((item) => ({ _tag: "Item" as const, item })))
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
      return { items: items.filter((a) => inWindow(a, opts.from, opts.to)), link, key }
    })

  /** The delta links of `listings` to store (none in dry runs). */
  const linksOf = (
    listings: ReadonlyArray<{ readonly link: string | null; readonly key: CheckpointStore.ProgressKey }>
  ): Array<DeltaLinkUpdate> =>
    opts.dryRun ? [] : listings.flatMap((l) => (l.link === null ? [] : [{ key: l.key, link: l.link }]))

  const discoverWindowOf = (organizerId: string): Effect.Effect<Discovery, GraphError | SinkError | SyncFatalError> =>
    Effect.gen(function*() {
      // An open window (incremental, no --to) lists up to now where delta is not offered.
      const window = { organizerId, startDateTime: opts.from!, endDateTime: opts.to ?? new Date().toISOString() }
      const adhoc = opts.adhocCalls ? discoverAdhocWindow(organizerId) : Effect.succeed(null)
      if (!opts.incremental) {
        const [recordings, transcripts, calls] = yield* Effect.all(
          [
            collect(told(organizerId, "recording", graph.getAllRecordings(window))),
            collect(told(organizerId, "transcript", graph.getAllTranscripts(window))),
            adhoc
          ],
          { concurrency: 3 }
        )
        return { recordings, transcripts, adhoc: calls?.artifacts ?? noArtifacts, deltaLinks: [], found: [] }
      }
      const key = (kind: string) => deltaKey(organizerId, kind)
      const fresh = { organizerId, startDateTime: opts.from! }
      const [recs, trs, calls] = yield* Effect.all([
        delta(
          key("recordings"),
          (start) => toldDelta(organizerId, "recording", graph.getAllRecordingsDelta(start)),
          fresh,
          told(organizerId, "recording", graph.getAllRecordings(window))
        ),
        delta(
          key("transcripts"),
          (start) => toldDelta(organizerId, "transcript", graph.getAllTranscriptsDelta(start)),
          fresh,
          told(organizerId, "transcript", graph.getAllTranscripts(window))
        ),
        adhoc
      ], { concurrency: 3 })
      // Earlier dead letters of this organizer: delta will not report them again, so retry them here.
      const retry = yield* retryDeadLetters(organizerId, undefined)
      // A new artifact may pair with one exported earlier: correlate whole meetings.
      const meetings = new Set<string>()
      for (const a of [...recs.items, ...trs.items, ...retry.recordings, ...retry.transcripts]) {
        if (a.meetingId != null && a.meetingId !== "") meetings.add(a.meetingId)
      }
      // (Unless both kinds were listed in full: then every sibling is already here.)
      const siblings = recs.link === null && trs.link === null
        ? { recordings: [], transcripts: [], found: [] }
        : yield* listMeetings(organizerId, [...meetings])
      return {
        recordings: [...recs.items, ...retry.recordings, ...siblings.recordings],
        transcripts: [...trs.items, ...retry.transcripts, ...siblings.transcripts],
        adhoc: calls?.artifacts ?? noArtifacts,
        deltaLinks: [...linksOf([recs, trs]), ...(calls?.deltaLinks ?? [])],
        found: []
      }
    })

  /**
   * Every ad hoc call artifact the organizer has in the window: the whole window, or (incremental)
   * what delta reports since the stored links, plus retried dead letters and, for pairing, the
   * artifacts exported earlier of each call that got a new one (fetched by id: no per-call list).
   */
  const discoverAdhocWindow = (organizerId: string) =>
    Effect.gen(function*() {
      // An open window (incremental, no --to): no end, rather than an `undefined` one in the URL.
      const window = {
        userId: organizerId,
        startDateTime: opts.from!,
        ...(opts.to !== null ? { endDateTime: opts.to } : {})
      }
      if (!opts.incremental) {
        const [recordings, transcripts] = yield* Effect.all(
          [collect(graph.getAllAdhocRecordings(window)), collect(graph.getAllAdhocTranscripts(window))],
          { concurrency: 2 }
        )
        return {
          artifacts: { recordings: asAdhoc(recordings), transcripts: asAdhoc(transcripts) },
          deltaLinks: []
        }
      }
      const key = (kind: string) => deltaKey(organizerId, kind)
      const fresh = { userId: organizerId, startDateTime: opts.from! }
      const [recs, trs] = yield* Effect.all([
        delta(key("adhocRecordings"), graph.getAllAdhocRecordingsDelta, fresh, graph.getAllAdhocRecordings(window)),
        delta(key("adhocTranscripts"), graph.getAllAdhocTranscriptsDelta, fresh, graph.getAllAdhocTranscripts(window))
      ], { concurrency: 2 })
      const retry = yield* retryDeadLetters(organizerId, "adhocCall")
      const recordings = [...asAdhoc(recs.items), ...retry.recordings]
      const transcripts = [...asAdhoc(trs.items), ...retry.transcripts]
      const siblings = recs.link === null && trs.link === null
        ? noArtifacts
        : yield* exportedOfCalls(organizerId, [...recordings, ...transcripts])
      return {
        artifacts: {
          recordings: [...recordings, ...siblings.recordings],
          transcripts: [...transcripts, ...siblings.transcripts]
        },
        deltaLinks: linksOf([recs, trs])
      }
    })

  /**
   * The artifacts exported by earlier runs of the calls of `fresh` (from the checkpoint, fetched again
   * by id for their metadata; their content is complete and is not fetched), so that a new transcript
   * pairs with its call's recording exported before. Gone ones (404) are left out.
   */
  const exportedOfCalls = (organizerId: string, fresh: ReadonlyArray<Artifact>) =>
    Effect.gen(function*() {
      const user = { userId: organizerId }
      const have = new Set(fresh.map((a) => `${a instanceof CallRecording ? "recording" : "transcript"}:${a.id}`))
      const calls = new Set(fresh.flatMap((a) => (a.meetingId ? [a.meetingId] : [])))
      const recordings: Array<CallRecording> = []
      const transcripts: Array<CallTranscript> = []
      yield* Effect.forEach(calls, (callId) =>
        Effect.gen(function*() {
          const done = yield* checkpoint.listCompleted({ meetingId: callId })
          yield* Effect.forEach(done, (c) => {
            if ((c.kind !== "recording" && c.kind !== "transcript") || have.has(`${c.kind}:${c.id}`)) return Effect.void
            if (c.organizerId !== organizerId) return Effect.void
            const call = { adhocCallId: callId }
            const get: Effect.Effect<Artifact, GraphError> = c.kind === "recording"
              ? graph.getRecording(user, call, c.id)
              : graph.getTranscript(user, call, c.id)
            return get.pipe(
              Effect.map((a) => {
                const item = inCall(a, callId)
                if (item instanceof CallRecording) recordings.push(item)
                else transcripts.push(item as CallTranscript)
              }),
              Effect.catchIf((e): e is GraphError => e._tag === "NotFound", () => Effect.void)
            )
          }, { concurrency: 4, discard: true })
        }), { concurrency: 2, discard: true })
      return { recordings, transcripts }
    })

  /**
   * Earlier dead letters of this organizer, fetched again by id (delta will not report them again).
   * Given up on after MAX_DEAD_LETTER_ATTEMPTS; still listed in failures.jsonl then.
   */
  const retryDeadLetters = (organizerId: string, source: ArtifactSource | undefined) =>
    Effect.gen(function*() {
      const letters = yield* checkpoint.listDeadLetters()
      const recordings: Array<CallRecording> = []
      const transcripts: Array<CallTranscript> = []
      for (const dl of letters) {
        if (dl.organizerId !== organizerId || dl.meetingId === null || dl.attempts >= MAX_DEAD_LETTER_ATTEMPTS) continue
        if (dl.kind !== "recording" && dl.kind !== "transcript") continue
        if ((dl.source ?? undefined) !== source) continue
        const user = { userId: organizerId }
        const call = callRefOf(dl.meetingId, source)
        const got = yield* Effect.either(
          dl.kind === "recording"
            ? graph.getRecording(user, call, dl.id)
            : graph.getTranscript(user, call, dl.id)
        )
        if (got._tag === "Left") {
          const e = got.left
          if (isFatal(e, "discovery")) return yield* Effect.fail(e)
          yield* recordFailure(dl.kind, dl.id, dl.meetingId, organizerId, e.message, e, source)
        } else {
          // Fetched by id, the artifact belongs to the call it was fetched under.
          const a = source === "adhocCall" ? inCall(got.right, dl.meetingId) : got.right
          if (dl.kind === "recording") recordings.push(a as CallRecording)
          else transcripts.push(a as CallTranscript)
        }
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
            for (const r of rs) {
              recordings.push(r.meetingId ? r : new CallRecording({ ...r, meetingId }))
            }
            for (const t of ts) {
              transcripts.push(t.meetingId ? t : new CallTranscript({ ...t, meetingId }))
            }
          }),
          Effect.catchIf((e): e is GraphError =>
            e._tag === "NotFound", () => Effect.void)
        ), { concurrency: 4, discard: true })
      return {
        recordings: recordings.filter((a) =>
          inWindow(a, opts.from, opts.to)
        ),
        transcripts: transcripts.filter((a) => inWindow(a, opts.from, opts.to)),
        found
      }
    })

  const discoverTargeted = (organizerId: string): Effect.Effect<Discovery, GraphError | SinkError | SyncFatalError> =>
    deadLetterInvalidItems(organizerId, discoverTargetedOf(organizerId))

  const discoverTargetedOf = (organizerId: string): Effect.Effect<Discovery, GraphError | SinkError | SyncFatalError> =>
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
      const calls = yield* listAdhocCalls(organizerId, opts.adhocCallIds)
      return {
        recordings: listed.recordings,
        transcripts: listed.transcripts,
        adhoc: calls,
        deltaLinks: [],
        found: [...listed.found, ...foundUrls, ...calls.found]
      }
    })

  /**
   * The artifacts of these ad hoc calls (in the window, when one is given): the organizer's ad hoc
   * call listings filtered by call id, since Graph v1.0 has no per-call list.
   */
  const listAdhocCalls = (organizerId: string, callIds: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      if (callIds.length === 0) return { ...noArtifacts, found: [] }
      const window = {
        userId: organizerId,
        ...(opts.from !== null ? { startDateTime: opts.from } : {}),
        ...(opts.to !== null ? { endDateTime: opts.to } : {})
      }
      const [rs, ts] = yield* Effect.all(
        [collect(graph.getAllAdhocRecordings(window)), collect(graph.getAllAdhocTranscripts(window))],
        { concurrency: 2 }
      )
      const wanted = new Set(callIds)
      const found = new Set<string>()
      // Any id the artifact names may be the one asked for; it is filed (and fetched) under its best
      // one, as in a window export, so both modes give the same lines.
      const pick = <A extends Artifact>(items: ReadonlyArray<A>): Array<A> =>
        items.flatMap((a) => {
          const ids = adhocCallIdsOf(a)
          const asked = ids.find((id) => wanted.has(id))
          if (asked === undefined || !inWindow(a, opts.from, opts.to)) return []
          found.add(asked)
          return [inCall(a, ids[0])]
        })
      return { recordings: pick(rs), transcripts: pick(ts), found: [...found] }
    })

  return { discoverWindow, discoverTargeted, listMeetings }
}
