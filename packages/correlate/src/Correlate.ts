/**
 * Joining recordings to transcripts.
 *
 * Rules (per meeting; artifacts of different meetings never pair):
 * 1. Duplicates of one id (delta re-delivers) collapse into one; when the
 *    copies differ, the most complete one wins, deterministically.
 * 2. Equal `contentCorrelationId` pairs a recording with a transcript
 *    (`match: "contentCorrelationId"`). The `GUID-0` form is its own id. If
 *    one id is carried by several recordings and/or transcripts, they pair by
 *    largest time overlap (then nearest start).
 * 3. Artifacts without a `contentCorrelationId` (older payloads) pair by the
 *    largest overlap of `createdDateTime..endDateTime` (`match: "time-overlap"`),
 *    greedily, each artifact used at most once. A missing `endDateTime` means
 *    "open-ended"; then the nearest start decides. An artifact without
 *    `createdDateTime` cannot be placed and is never paired by time.
 *    Artifacts that carry an id never pair by time: a different id is
 *    evidence that they are different content.
 * 4. Whatever stays unmatched becomes a one-sided set with `match: "none"`.
 *
 * Output order is deterministic and independent of input order: by
 * meetingId (UTF-16 code unit order), then by the set's earliest
 * createdDateTime (unknown last), then recording id, then transcript id.
 */
import type { CallRecording, CallTranscript } from "@meeting-artifacts/api"
import * as Chunk from "effect/Chunk"
import { dual } from "effect/Function"
import * as Stream from "effect/Stream"
import { ArtifactSet } from "./ArtifactSet.js"
import type { MatchKind } from "./ArtifactSet.js"
import { parseGraphDateTime } from "./GraphDateTime.js"

export interface CorrelateOptions {
  /** Used when an artifact names no organizer (neither `meetingOrganizer.user.id` nor `meetingOrganizerId`). */
  readonly organizerId?: string | undefined
  /** Used when an artifact carries no `meetingId` (e.g. fetched per meeting). */
  readonly meetingId?: string | undefined
}

/** One artifact of either kind, for the streaming join. */
export type Artifact =
  | { readonly _tag: "Recording"; readonly recording: CallRecording }
  | { readonly _tag: "Transcript"; readonly transcript: CallTranscript }

export const Artifact = {
  recording: (recording: CallRecording): Artifact => ({ _tag: "Recording", recording }),
  transcript: (transcript: CallTranscript): Artifact => ({ _tag: "Transcript", transcript })
} as const

/** The artifacts of one meeting, for `correlateGroups`. */
export interface MeetingArtifacts {
  readonly recordings: Iterable<CallRecording>
  readonly transcripts: Iterable<CallTranscript>
}

type Art = CallRecording | CallTranscript

/** The organizer's user id of an artifact: `meetingOrganizer.user.id`, else the legacy `meetingOrganizerId`. */
export const organizerIdOf = (a: Art): string | undefined =>
  a.meetingOrganizer?.user?.id || a.meetingOrganizerId || undefined

const ccidOf = (a: Art): string | undefined => a.contentCorrelationId || undefined

const meetingIdOf = (a: Art, options: CorrelateOptions | undefined): string =>
  a.meetingId || options?.meetingId || ""

// ---------------------------------------------------------------------------
// duplicates

const cmpStr = (a: string | null | undefined, b: string | null | undefined): number => {
  const x = a ?? "", y = b ?? ""
  return x < y ? -1 : x > y ? 1 : 0
}

const completeness = (a: Art): number =>
  (a.contentCorrelationId ? 8 : 0) + (a.createdDateTime ? 4 : 0) + (a.endDateTime ? 2 : 0) +
  (organizerIdOf(a) ? 1 : 0)

/** A total order on copies of one id, so the surviving copy does not depend on arrival order. */
const preferOf = (a: Art, b: Art): Art => {
  const c = completeness(a) - completeness(b)
  if (c !== 0) return c > 0 ? a : b
  const d = cmpStr(a.contentCorrelationId, b.contentCorrelationId) ||
    cmpStr(a.createdDateTime, b.createdDateTime) ||
    cmpStr(a.endDateTime, b.endDateTime) ||
    cmpStr(organizerIdOf(a), organizerIdOf(b)) ||
    cmpStr(a.callId, b.callId) ||
    cmpStr(a.meetingId, b.meetingId)
  return d >= 0 ? a : b
}

const dedupe = <A extends Art>(xs: Array<A>): Array<A> => {
  if (xs.length < 2) return xs
  if (xs.length <= 16) {
    const out: Array<A> = []
    outer: for (const x of xs) {
      for (let i = 0; i < out.length; i++) {
        if (out[i].id === x.id) {
          out[i] = preferOf(out[i], x) as A
          continue outer
        }
      }
      out.push(x)
    }
    return out
  }
  const m = new Map<string, A>()
  for (const x of xs) {
    const prev = m.get(x.id)
    m.set(x.id, prev === undefined ? x : (preferOf(prev, x) as A))
  }
  return Array.from(m.values())
}

// ---------------------------------------------------------------------------
// time overlap

const startOf = (a: Art): number => parseGraphDateTime(a.createdDateTime)
const endOf = (a: Art, start: number): number => {
  const e = parseGraphDateTime(a.endDateTime)
  return Number.isNaN(e) ? Infinity : e < start ? start : e
}

interface Candidate {
  readonly r: number
  readonly t: number
  readonly overlap: number
  readonly gap: number
}

interface Timed<A extends Art> {
  readonly a: A
  readonly start: number
  readonly end: number
}

const timed = <A extends Art>(a: A): Timed<A> => {
  const start = startOf(a)
  return { a, start, end: Number.isNaN(start) ? NaN : endOf(a, start) }
}

/**
 * Scores a pair: `overlap` (ms, may be Infinity for open-ended ranges;
 * negative = distance apart; -Infinity = no times) and `gap` (distance of
 * the starts, smaller is better).
 */
const score = (r: Timed<Art>, t: Timed<Art>): { overlap: number; gap: number } => {
  if (Number.isNaN(r.start) || Number.isNaN(t.start)) return { overlap: -Infinity, gap: Infinity }
  const lo = r.start > t.start ? r.start : t.start
  const hi = r.end < t.end ? r.end : t.end
  return { overlap: hi - lo, gap: Math.abs(r.start - t.start) }
}

/** Greedy assignment: best candidate first, each side used once; `requireOverlap` keeps only intersecting pairs. */
const assign = (
  rs: ReadonlyArray<Timed<CallRecording>>,
  ts: ReadonlyArray<Timed<CallTranscript>>,
  requireOverlap: boolean
): Array<[number, number]> => {
  const cands: Array<Candidate> = []
  for (let i = 0; i < rs.length; i++) {
    for (let j = 0; j < ts.length; j++) {
      const s = score(rs[i], ts[j])
      if (requireOverlap && !(s.overlap >= 0)) continue
      cands.push({ r: i, t: j, overlap: s.overlap, gap: s.gap })
    }
  }
  cands.sort((x, y) =>
    x.overlap !== y.overlap
      ? (x.overlap > y.overlap ? -1 : 1)
      : x.gap !== y.gap
      ? (x.gap < y.gap ? -1 : 1)
      : cmpStr(rs[x.r].a.id, rs[y.r].a.id) || cmpStr(ts[x.t].a.id, ts[y.t].a.id)
  )
  const usedR = new Uint8Array(rs.length)
  const usedT = new Uint8Array(ts.length)
  const out: Array<[number, number]> = []
  for (const c of cands) {
    if (usedR[c.r] || usedT[c.t]) continue
    usedR[c.r] = 1
    usedT[c.t] = 1
    out.push([c.r, c.t])
  }
  return out
}

// ---------------------------------------------------------------------------
// sets

const makeSet = (
  meetingId: string,
  options: CorrelateOptions | undefined,
  contentCorrelationId: string | null,
  match: MatchKind,
  recording: CallRecording | null,
  transcript: CallTranscript | null
): ArtifactSet =>
  new ArtifactSet({
    meetingId,
    organizerId: (recording && organizerIdOf(recording)) || (transcript && organizerIdOf(transcript)) ||
      options?.organizerId || "",
    contentCorrelationId,
    match,
    recording,
    transcript
  }, true)

const setStart = (s: ArtifactSet): number => {
  const a = s.recording ? parseGraphDateTime(s.recording.createdDateTime) : NaN
  const b = s.transcript ? parseGraphDateTime(s.transcript.createdDateTime) : NaN
  const m = Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.min(a, b)
  return Number.isNaN(m) ? Infinity : m
}

const compareWithinMeeting = (x: { s: ArtifactSet; k: number }, y: { s: ArtifactSet; k: number }): number =>
  x.k !== y.k
    ? (x.k < y.k ? -1 : 1)
    : cmpStr(x.s.recording?.id, y.s.recording?.id) || cmpStr(x.s.transcript?.id, y.s.transcript?.id)

const correlateGroup = (
  meetingId: string,
  recordings0: Array<CallRecording>,
  transcripts0: Array<CallTranscript>,
  options: CorrelateOptions | undefined,
  out: Array<ArtifactSet>
): void => {
  const recordings = dedupe(recordings0)
  const transcripts = dedupe(transcripts0)
  // Fast path: the common meeting with one of each.
  if (recordings.length <= 1 && transcripts.length <= 1) {
    const r = recordings[0], t = transcripts[0]
    if (r === undefined || t === undefined) {
      if (r !== undefined) out.push(makeSet(meetingId, options, ccidOf(r) ?? null, "none", r, null))
      if (t !== undefined) out.push(makeSet(meetingId, options, ccidOf(t) ?? null, "none", null, t))
      return
    }
    const rc = ccidOf(r), tc = ccidOf(t)
    if (rc !== undefined && rc === tc) {
      out.push(makeSet(meetingId, options, rc, "contentCorrelationId", r, t))
      return
    }
  }
  const sets: Array<ArtifactSet> = []
  const usedR = new Uint8Array(recordings.length)
  const usedT = new Uint8Array(transcripts.length)

  // 1. exact contentCorrelationId
  const buckets = new Map<string, { r: Array<number>; t: Array<number> }>()
  for (let i = 0; i < recordings.length; i++) {
    const c = ccidOf(recordings[i])
    if (c === undefined) continue
    let b = buckets.get(c)
    if (b === undefined) buckets.set(c, b = { r: [], t: [] })
    b.r.push(i)
  }
  for (let j = 0; j < transcripts.length; j++) {
    const c = ccidOf(transcripts[j])
    if (c === undefined) continue
    const b = buckets.get(c)
    if (b !== undefined) b.t.push(j)
  }
  for (const [c, b] of buckets) {
    if (b.t.length === 0) continue
    if (b.r.length === 1 && b.t.length === 1) {
      usedR[b.r[0]] = 1
      usedT[b.t[0]] = 1
      sets.push(makeSet(meetingId, options, c, "contentCorrelationId", recordings[b.r[0]], transcripts[b.t[0]]))
      continue
    }
    const rs = b.r.map((i) => timed(recordings[i]))
    const ts = b.t.map((j) => timed(transcripts[j]))
    for (const [i, j] of assign(rs, ts, false)) {
      usedR[b.r[i]] = 1
      usedT[b.t[j]] = 1
      sets.push(makeSet(meetingId, options, c, "contentCorrelationId", rs[i].a, ts[j].a))
    }
  }

  // 2. time overlap among artifacts without an id
  const ri: Array<number> = [], tj: Array<number> = []
  for (let i = 0; i < recordings.length; i++) if (ccidOf(recordings[i]) === undefined) ri.push(i)
  for (let j = 0; j < transcripts.length; j++) if (ccidOf(transcripts[j]) === undefined) tj.push(j)
  if (ri.length > 0 && tj.length > 0) {
    const rs = ri.map((i) => timed(recordings[i]))
    const ts = tj.map((j) => timed(transcripts[j]))
    for (const [i, j] of assign(rs, ts, true)) {
      usedR[ri[i]] = 1
      usedT[tj[j]] = 1
      sets.push(makeSet(meetingId, options, null, "time-overlap", rs[i].a, ts[j].a))
    }
  }

  // 3. leftovers
  for (let i = 0; i < recordings.length; i++) {
    if (!usedR[i]) sets.push(makeSet(meetingId, options, ccidOf(recordings[i]) ?? null, "none", recordings[i], null))
  }
  for (let j = 0; j < transcripts.length; j++) {
    if (!usedT[j]) {
      sets.push(makeSet(meetingId, options, ccidOf(transcripts[j]) ?? null, "none", null, transcripts[j]))
    }
  }

  if (sets.length === 1) {
    out.push(sets[0])
    return
  }
  const keyed = sets.map((s) => ({ s, k: setStart(s) }))
  keyed.sort(compareWithinMeeting)
  for (const x of keyed) out.push(x.s)
}

// ---------------------------------------------------------------------------
// public

/**
 * Joins a whole collection of recordings and transcripts into artifact sets.
 * Every distinct recording id and transcript id appears in exactly one set.
 */
export const correlate = (
  recordings: Iterable<CallRecording>,
  transcripts: Iterable<CallTranscript>,
  options?: CorrelateOptions
): Array<ArtifactSet> => {
  // Group by meeting; a group keeps its first artifact of each kind inline so
  // the common one-of-each meeting allocates no arrays.
  const groups = new Map<string, Group>()
  for (const r of recordings) {
    const m = meetingIdOf(r, options)
    const g = groups.get(m)
    if (g === undefined) groups.set(m, new Group(r, undefined))
    else if (g.r === undefined) g.r = r
    else (g.rs ??= [g.r]).push(r)
  }
  for (const t of transcripts) {
    const m = meetingIdOf(t, options)
    const g = groups.get(m)
    if (g === undefined) groups.set(m, new Group(undefined, t))
    else if (g.t === undefined) g.t = t
    else (g.ts ??= [g.t]).push(t)
  }
  const keys = Array.from(groups.keys()).sort()
  const out: Array<ArtifactSet> = []
  const none: Array<never> = []
  for (const k of keys) {
    const g = groups.get(k)!
    correlateGroup(
      k,
      g.rs ?? (g.r === undefined ? none : [g.r]),
      g.ts ?? (g.t === undefined ? none : [g.t]),
      options,
      out
    )
  }
  return out
}

class Group {
  rs: Array<CallRecording> | undefined = undefined
  ts: Array<CallTranscript> | undefined = undefined
  constructor(public r: CallRecording | undefined, public t: CallTranscript | undefined) {}
}

/** Joins the artifacts of one meeting (all given artifacts are taken to belong to it). */
export const correlateMeeting = (
  meetingId: string,
  recordings: Iterable<CallRecording>,
  transcripts: Iterable<CallTranscript>,
  options?: CorrelateOptions
): Array<ArtifactSet> => {
  const out: Array<ArtifactSet> = []
  correlateGroup(meetingId, Array.from(recordings), Array.from(transcripts), options, out)
  return out
}

const artifactMeetingId = (a: Artifact, options: CorrelateOptions | undefined): string =>
  meetingIdOf(a._tag === "Recording" ? a.recording : a.transcript, options)

/**
 * The streaming join: a `Stream` operator over artifacts that arrive grouped
 * by meeting (all artifacts of a meeting adjacent, e.g. listed per meeting).
 * Memory is bounded by the largest meeting. The sets of each meeting are
 * emitted, in the whole-collection order, as soon as the next meeting
 * starts; so for meetings arriving in meetingId order the output equals
 * `correlate` exactly. A meeting that reappears later is joined again on its
 * own (no cross-group dedupe: that would need unbounded memory).
 */
export const correlateStream: {
  (options?: CorrelateOptions): <E, R>(self: Stream.Stream<Artifact, E, R>) => Stream.Stream<ArtifactSet, E, R>
  <E, R>(self: Stream.Stream<Artifact, E, R>, options?: CorrelateOptions): Stream.Stream<ArtifactSet, E, R>
} = dual(
  (args) => Stream.StreamTypeId in Object(args[0]),
  <E, R>(self: Stream.Stream<Artifact, E, R>, options?: CorrelateOptions): Stream.Stream<ArtifactSet, E, R> =>
    self.pipe(
      Stream.groupAdjacentBy((a) => artifactMeetingId(a, options)),
      Stream.mapConcat(([meetingId, chunk]) => {
        const rs: Array<CallRecording> = []
        const ts: Array<CallTranscript> = []
        for (const a of Chunk.toReadonlyArray(chunk)) {
          if (a._tag === "Recording") rs.push(a.recording)
          else ts.push(a.transcript)
        }
        const out: Array<ArtifactSet> = []
        correlateGroup(meetingId, rs, ts, options, out)
        return out
      })
    )
)

/**
 * A `Stream` operator over per-meeting groups (`{ recordings, transcripts }`),
 * e.g. what listing each meeting's recordings and transcripts yields.
 * Artifacts carry their own meetingId; a group may hold several meetings.
 */
export const correlateGroups: {
  (options?: CorrelateOptions): <E, R>(
    self: Stream.Stream<MeetingArtifacts, E, R>
  ) => Stream.Stream<ArtifactSet, E, R>
  <E, R>(self: Stream.Stream<MeetingArtifacts, E, R>, options?: CorrelateOptions): Stream.Stream<ArtifactSet, E, R>
} = dual(
  (args) => Stream.StreamTypeId in Object(args[0]),
  <E, R>(self: Stream.Stream<MeetingArtifacts, E, R>, options?: CorrelateOptions): Stream.Stream<ArtifactSet, E, R> =>
    Stream.mapConcat(self, (g) => correlate(g.recordings, g.transcripts, options))
)
