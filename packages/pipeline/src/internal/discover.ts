/**
 * Discovery: which recordings and transcripts one organizer has in the window
 * (organizer-wide listing, delta links for incremental runs, or listed
 * meetings and join URLs).
 */
import {
  CallRecording,
  CallTranscript,
  type GraphError,
  handleInvalidItems,
  type InvalidItem
} from "@meeting-artifacts/api"
import type { SinkError } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { SyncFatalError } from "../SyncError.js"
import { recordFailure as makeRecordFailure, type RunContext } from "./context.js"
import { isFatal } from "./errors.js"

type Artifact = CallRecording | CallTranscript

/** Incremental runs retry a dead-lettered artifact this many times, then leave it in failures.jsonl. */
const MAX_DEAD_LETTER_ATTEMPTS = 5

/** What one organizer's discovery produced, and how to commit its cursor once everything is processed. */
export interface Discovery {
  readonly recordings: ReadonlyArray<CallRecording>
  readonly transcripts: ReadonlyArray<CallTranscript>
  /** Saves delta links; run only after every set was processed. */
  readonly commit: Effect.Effect<void, SinkError>
  /** Meeting ids / join URLs that were found under this organizer. */
  readonly found: ReadonlyArray<string>
}

/** Whether an artifact was created in [from, to); one without a (parsable) createdDateTime counts as inside. */
export const inWindow = (a: Artifact, from: string | null, to: string | null): boolean => {
  const t = a.createdDateTime == null ? Number.NaN : Date.parse(a.createdDateTime)
  if (Number.isNaN(t)) return true
  if (from !== null && t < Date.parse(from)) return false
  if (to !== null && t >= Date.parse(to)) return false
  return true
}

export const make = (ctx: RunContext) => {
  const { checkpoint, graph, opts, windowFrom, windowTo } = ctx
  const recordFailure = makeRecordFailure(ctx)

  const collect = <A>(s: Stream.Stream<A, GraphError>) => Effect.map(Stream.runCollect(s), (c) => [...c])

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
      return refetchable ? result : { ...result, commit: Effect.void }
    })

  const discoverWindow = (organizerId: string): Effect.Effect<Discovery, GraphError | SinkError | SyncFatalError> =>
    deadLetterInvalidItems(organizerId, discoverWindowOf(organizerId))

  const discoverWindowOf = (organizerId: string): Effect.Effect<Discovery, GraphError | SinkError | SyncFatalError> =>
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
      return {
        recordings: listed.recordings,
        transcripts: listed.transcripts,
        commit: Effect.void,
        found: [...listed.found, ...foundUrls]
      }
    })

  return { discoverWindow, discoverTargeted }
}
