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
 * Output order is deterministic and independent of input order: by the
 * set's createdDateTime (the recording's, else the transcript's; unknown
 * last), then meetingId, recording id, transcript id (UTF-16 code unit
 * order). See `sortArtifactSets`.
 */
import type { CallRecording, CallTranscript } from "@meeting-artifacts/api"
import * as Chunk from "effect/Chunk"
import { dual } from "effect/Function"
import * as Stream from "effect/Stream"
import type { ArtifactSet, MatchKind } from "./ArtifactSet.js"
import { graphDateTimeMs, parseGraphDateTime } from "./GraphDateTime.js"
import { makeArtifactSet } from "./internal/construct.js"

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

const meetingIdOf = (a: Art, options: CorrelateOptions | undefined): string => a.meetingId || options?.meetingId || ""

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
  makeArtifactSet(
    meetingId,
    (recording && organizerIdOf(recording)) || (transcript && organizerIdOf(transcript)) || options?.organizerId ||
      "",
    contentCorrelationId,
    match,
    recording,
    transcript
  )

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

  for (const x of sets.length === 1 ? sets : sortArtifactSets(sets)) out.push(x)
}

// ---------------------------------------------------------------------------
// order

/** A set's place in time: the recording's createdDateTime, else the transcript's; unknown sorts last. */
const orderStart = (s: ArtifactSet): number => {
  let t = s.recording !== null ? graphDateTimeMs(s.recording.createdDateTime) : NaN
  if (Number.isNaN(t) && s.transcript !== null) t = graphDateTimeMs(s.transcript.createdDateTime)
  return Number.isNaN(t) ? Infinity : t
}

const tieBreak = (x: ArtifactSet, y: ArtifactSet): number =>
  cmpStr(x.meetingId, y.meetingId) || cmpStr(x.recording?.id, y.recording?.id) ||
  cmpStr(x.transcript?.id, y.transcript?.id)

/**
 * Sorts sets into the canonical order: start time (see `orderStart`), then
 * meetingId, recording id, transcript id (UTF-16 code unit order). Large
 * inputs use a two-pass radix sort on a 32-bit time key and only compare
 * within runs of equal keys, so ordering a million sets costs about as much
 * as one pass over them.
 */
export const sortArtifactSets = (sets: ReadonlyArray<ArtifactSet>): Array<ArtifactSet> => {
  const starts = new Float64Array(sets.length)
  for (let i = 0; i < sets.length; i++) starts[i] = orderStart(sets[i])
  return sortByStart(sets, starts)
}

/** `sortArtifactSets` with the start times (`orderStart`) already computed. */
const sortByStart = (sets: ReadonlyArray<ArtifactSet>, starts: Float64Array): Array<ArtifactSet> => {
  const n = sets.length
  const cmp = (a: number, b: number): number => {
    const x = starts[a], y = starts[b]
    return x !== y ? (x < y ? -1 : 1) : tieBreak(sets[a], sets[b])
  }
  if (n < 256) {
    const idx = Array.from({ length: n }, (_, i) => i).sort(cmp)
    return idx.map((i) => sets[i])
  }
  let min = Infinity, max = -Infinity
  for (let i = 0; i < n; i++) {
    const t = starts[i]
    if (t !== Infinity) {
      if (t < min) min = t
      if (t > max) max = t
    }
  }
  // 32-bit keys (ms since the earliest start, coarser only for spans over ~49 days; unknown
  // last), both 16-bit digit histograms in the same pass, then two scatter passes that move
  // each key along with its index so that every read is sequential.
  const UNKNOWN = 0xffffffff
  const scale = max > min ? Math.max(1, (max - min) / (UNKNOWN - 1)) : 1
  const keys = new Uint32Array(n)
  const low = new Uint32Array(65536), high = new Uint32Array(65536)
  for (let i = 0; i < n; i++) {
    const t = starts[i]
    const k = t === Infinity ? UNKNOWN : Math.min(UNKNOWN - 1, Math.floor((t - min) / scale))
    keys[i] = k
    low[k & 0xffff]++
    high[k >>> 16]++
  }
  let sumLow = 0, sumHigh = 0
  for (let b = 0; b < 65536; b++) {
    const l = low[b], h = high[b]
    low[b] = sumLow
    high[b] = sumHigh
    sumLow += l
    sumHigh += h
  }
  const byLowIdx = new Uint32Array(n), byLowKey = new Uint32Array(n)
  for (let i = 0; i < n; i++) {
    const k = keys[i]
    const p = low[k & 0xffff]++
    byLowIdx[p] = i
    byLowKey[p] = k
  }
  // `keys` now receives the keys in sorted order, `idx` the matching indexes.
  const idx = new Uint32Array(n)
  for (let q = 0; q < n; q++) {
    const k = byLowKey[q]
    const p = high[k >>> 16]++
    idx[p] = byLowIdx[q]
    keys[p] = k
  }
  // Equal keys (same millisecond, or unknown): the full comparison decides.
  const out = new Array<ArtifactSet>(n)
  let i = 0
  while (i < n) {
    const k = keys[i]
    let j = i + 1
    while (j < n && keys[j] === k) j++
    if (j - i > 1) {
      const run = Array.from(idx.subarray(i, j)).sort(cmp)
      for (let r = 0; r < run.length; r++) out[i + r] = sets[run[r]]
    } else {
      out[i] = sets[idx[i]]
    }
    i = j
  }
  return out
}

// ---------------------------------------------------------------------------
// public

type MutableSet = { -readonly [K in keyof ArtifactSet]: ArtifactSet[K] }

/**
 * Joins a whole collection of recordings and transcripts into artifact sets.
 * Every distinct recording id and transcript id appears in exactly one set.
 *
 * The common case (each contentCorrelationId on one recording and one
 * transcript of the same meeting) costs one Map insert per recording, one
 * lookup per transcript and a few sequential passes over typed arrays;
 * everything else (artifacts without an id, several artifacts sharing an id,
 * duplicates) goes through the per-meeting rules.
 */
export const correlate = (
  recordings: Iterable<CallRecording>,
  transcripts: Iterable<CallTranscript>,
  options?: CorrelateOptions
): Array<ArtifactSet> => {
  const fallbackOrganizer = options?.organizerId || ""
  const recs: ReadonlyArray<CallRecording> = Array.isArray(recordings) ? recordings : Array.from(recordings)
  const trs: ReadonlyArray<CallTranscript> = Array.isArray(transcripts) ? transcripts : Array.from(transcripts)
  const n = recs.length

  // 1. Recordings: contentCorrelationId -> index (an index, not an object: a large old Map
  //    pointing at young objects makes every scavenge slow). `off[i]`: recording i is not on
  //    the fast path. Nothing else happens in this loop: reading each start time here as well
  //    made the loop ~15% slower than reading them in a pass of their own (measured).
  const byCcid = new Map<string, number>()
  const off = new Uint8Array(n)
  const slowR: Array<CallRecording> = []
  let collided: Set<string> | undefined
  for (let i = 0; i < n; i++) {
    const r = recs[i]
    const c = r.contentCorrelationId
    if (!c) {
      slowR.push(r)
      off[i] = 1
      continue
    }
    const size = byCcid.size
    byCcid.set(c, i)
    if (byCcid.size === size) (collided ??= new Set()).add(c)
  }
  if (collided !== undefined) {
    // Several recordings (or copies of one) share an id: the per-meeting rules sort them out.
    for (let i = 0; i < n; i++) {
      if (off[i] === 0 && collided.has(recs[i].contentCorrelationId!)) {
        slowR.push(recs[i])
        off[i] = 1
      }
    }
    for (const c of collided) byCcid.delete(c)
  }

  // 2. Transcripts. Recording i's transcript goes to slots[2i + 1], the transcript's meetingId
  //    to slots[2i]. The first attempt only writes (a store to a random place does not stall
  //    the way a load does) and checks afterwards, in the sequential pass that builds the sets,
  //    that every recording got at most one transcript, of its own meeting. Otherwise (several
  //    transcripts for one id, delta duplicates, one id in two meetings) the careful pass redoes
  //    this step, reading before it writes.
  const slots = new Array<string | CallTranscript | null>(2 * n).fill(null)
  let slowT: Array<CallTranscript> = []
  let tOnly = new Map<string, MutableSet>()
  let hits = 0
  // What step 1 found, for the careful pass to start from (transcript-only ids may add to it).
  const collidedByRecordings = collided === undefined ? undefined : new Set(collided)
  const transcriptOnly = (t: CallTranscript, c: string) => {
    if (collided !== undefined && collided.has(c)) {
      slowT.push(t)
      return
    }
    const other = tOnly.get(c)
    if (other !== undefined) {
      if (other.transcript!.id === t.id && other.meetingId === meetingIdOf(t, options)) {
        other.transcript = preferOf(other.transcript!, t) as CallTranscript
        other.organizerId = organizerIdOf(other.transcript) || fallbackOrganizer
        return
      }
      ;(collided ??= new Set()).add(c)
      tOnly.delete(c)
      slowT.push(other.transcript!, t)
      return
    }
    tOnly.set(
      c,
      makeArtifactSet(meetingIdOf(t, options), organizerIdOf(t) || fallbackOrganizer, c, "none", null, t) as MutableSet
    )
  }
  for (let j = 0; j < trs.length; j++) {
    const t = trs[j]
    const c = t.contentCorrelationId
    if (!c) {
      slowT.push(t)
      continue
    }
    const at = byCcid.get(c)
    if (at !== undefined) {
      slots[2 * at] = meetingIdOf(t, options)
      slots[2 * at + 1] = t
      hits++
      continue
    }
    transcriptOnly(t, c)
  }
  let paired = 0
  let clean = true
  for (let i = 0; i < n; i++) {
    const m = slots[2 * i]
    if (m === null) continue
    paired++
    if (off[i] === 1 || m !== meetingIdOf(recs[i], options)) clean = false
  }
  if (!clean || paired !== hits) {
    // The careful pass starts afresh from what step 1 found.
    slots.fill(null)
    slowT = []
    tOnly = new Map()
    collided = collidedByRecordings
    for (let j = 0; j < trs.length; j++) {
      const t = trs[j]
      const c = t.contentCorrelationId
      if (!c) {
        slowT.push(t)
        continue
      }
      const at = byCcid.get(c)
      if (at !== undefined) {
        const prev = slots[2 * at + 1] as CallTranscript | null
        if (meetingIdOf(recs[at], options) === meetingIdOf(t, options)) {
          if (prev === null) {
            slots[2 * at + 1] = t
            continue
          }
          if (prev.id === t.id) {
            slots[2 * at + 1] = preferOf(prev, t)
            continue
          }
        } // Several transcripts for one id, or one id in two meetings: the per-meeting rules sort them out.

        ;(collided ??= new Set()).add(c)
        byCcid.delete(c)
        slowR.push(recs[at])
        off[at] = 1
        if (prev !== null) slowT.push(prev)
        slowT.push(t)
        continue
      }
      transcriptOnly(t, c)
    }
  }

  const slow: Array<ArtifactSet> = []
  if (slowR.length > 0 || slowT.length > 0) {
    // A copy without an id of an artifact that also arrived with one: the copy with the id wins.
    const slowIds = new Set<string>()
    for (const r of slowR) slowIds.add("r" + r.id)
    for (const t of slowT) slowIds.add("t" + t.id)
    const fastIds = new Set<string>()
    for (let i = 0; i < n; i++) {
      if (off[i] === 1) continue
      const r = recs[i], t = slots[2 * i + 1] as CallTranscript | null
      if (slowIds.has("r" + r.id)) fastIds.add("r" + r.id)
      if (t !== null && slowIds.has("t" + t.id)) fastIds.add("t" + t.id)
    }
    for (const s of tOnly.values()) {
      if (slowIds.has("t" + s.transcript!.id)) fastIds.add("t" + s.transcript!.id)
    }
    const groups = new Map<string, { r: Array<CallRecording>; t: Array<CallTranscript> }>()
    const group = (a: Art) => {
      const m = meetingIdOf(a, options)
      let g = groups.get(m)
      if (g === undefined) groups.set(m, g = { r: [], t: [] })
      return g
    }
    for (const r of slowR) {
      if (!(ccidOf(r) === undefined && fastIds.has("r" + r.id))) group(r).r.push(r)
    }
    for (const t of slowT) {
      if (!(ccidOf(t) === undefined && fastIds.has("t" + t.id))) group(t).t.push(t)
    }
    for (const [m, g] of groups) correlateGroup(m, g.r, g.t, options, slow)
  }

  // 3. The sets, fast path first, in recording order, with their start times.
  const total = n - slowR.length + slow.length + tOnly.size
  const starts = new Float64Array(total)
  const all = new Array<ArtifactSet>(total)
  let k = 0
  for (let i = 0; i < n; i++) {
    if (off[i] === 1) continue
    const r = recs[i]
    const t = slots[2 * i + 1] as CallTranscript | null
    const set = makeArtifactSet(
      meetingIdOf(r, options),
      organizerIdOf(r) || (t !== null && organizerIdOf(t)) || fallbackOrganizer,
      r.contentCorrelationId!,
      t === null ? "none" : "contentCorrelationId",
      r,
      t
    )
    const start = graphDateTimeMs(r.createdDateTime)
    // A recording without createdDateTime falls back to its transcript's.
    starts[k] = Number.isNaN(start) ? orderStart(set) : start
    all[k++] = set
  }
  for (const s of slow) {
    starts[k] = orderStart(s)
    all[k++] = s
  }
  if (tOnly.size > 0) {
    for (const s of tOnly.values()) {
      starts[k] = orderStart(s)
      all[k++] = s
    }
  }
  return sortByStart(all, starts.subarray(0, k))
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
 * emitted (in canonical order, see `sortArtifactSets`) as soon as the next
 * meeting starts. The result holds exactly the sets `correlate` returns for
 * the same artifacts; `sortArtifactSets` of it equals `correlate`'s output.
 * A meeting that reappears later is joined again on its own (no cross-group
 * dedupe: that would need unbounded memory).
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
