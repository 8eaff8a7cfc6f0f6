import { CallRecording, CallTranscript, Identity, IdentitySet } from "@meeting-artifacts/api"
import {
  Artifact,
  ArtifactSet,
  correlate,
  correlateGroups,
  correlateMeeting,
  correlateStream,
  parseGraphDateTime,
  sortArtifactSets
} from "@meeting-artifacts/correlate"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as fc from "fast-check"
import { readFileSync } from "node:fs"

type Fields = Omit<ConstructorParameters<typeof CallRecording>[0], "id">

const rec = (id: string, f: Fields = {}) => new CallRecording({ id, ...f })
const tr = (id: string, f: Fields = {}) => new CallTranscript({ id, ...f })
const at = (minute: number) => new Date(Date.UTC(2024, 6, 12, 10, minute)).toISOString().replace("Z", "0000Z")
const org = (id: string) =>
  new IdentitySet({ user: new Identity({ id, displayName: null, userIdentityType: "aadUser" }) })

const shape = (sets: ReadonlyArray<ArtifactSet>) =>
  sets.map((s) => [s.meetingId, s.match, s.contentCorrelationId, s.recording?.id ?? null, s.transcript?.id ?? null])

describe("correlate", () => {
  it("pairs by contentCorrelationId across meetings and keeps one set per artifact", () => {
    const sets = correlate(
      [
        rec("r1", { meetingId: "m1", contentCorrelationId: "A", createdDateTime: at(0), meetingOrganizer: org("o1") }),
        rec("r2", { meetingId: "m2", contentCorrelationId: "B", createdDateTime: at(5) })
      ],
      [
        tr("t2", { meetingId: "m2", contentCorrelationId: "B", createdDateTime: at(6), meetingOrganizerId: "o2" }),
        tr("t1", { meetingId: "m1", contentCorrelationId: "A", createdDateTime: at(1) })
      ]
    )
    expect(shape(sets)).toEqual([
      ["m1", "contentCorrelationId", "A", "r1", "t1"],
      ["m2", "contentCorrelationId", "B", "r2", "t2"]
    ])
    expect(sets.map((s) => s.organizerId)).toEqual(["o1", "o2"])
    expect(sets.every((s) => Schema.is(ArtifactSet)(s))).toBe(true)
  })

  it("treats the GUID-0 form as its own id", () => {
    const g = "e87c8cf8-50f7-4252-8b9c-ad08ac0fa88d"
    const sets = correlate(
      [rec("r0", { meetingId: "m", contentCorrelationId: `${g}-0`, createdDateTime: at(0), endDateTime: at(30) })],
      [
        tr("tPlain", { meetingId: "m", contentCorrelationId: g, createdDateTime: at(0), endDateTime: at(30) }),
        tr("tDash", { meetingId: "m", contentCorrelationId: `${g}-0`, createdDateTime: at(40), endDateTime: at(50) })
      ]
    )
    // Same start: the set without a recording sorts first (empty id).
    expect(shape(sets)).toEqual([
      ["m", "none", g, null, "tPlain"],
      ["m", "contentCorrelationId", `${g}-0`, "r0", "tDash"]
    ])
  })

  it("prefers the exact id over a larger time overlap", () => {
    const sets = correlate(
      [rec("r", { meetingId: "m", contentCorrelationId: "A", createdDateTime: at(0), endDateTime: at(60) })],
      [
        tr("exact", { meetingId: "m", contentCorrelationId: "A", createdDateTime: at(55), endDateTime: at(70) }),
        tr("overlapping", { meetingId: "m", createdDateTime: at(0), endDateTime: at(60) })
      ]
    )
    expect(shape(sets)).toEqual([
      ["m", "none", null, null, "overlapping"],
      ["m", "contentCorrelationId", "A", "r", "exact"]
    ])
  })

  it("pairs artifacts without an id by the largest overlap, each used once (4 h cap / restarts)", () => {
    // Two recordings (the second after a restart) and two transcripts, none with a contentCorrelationId.
    const sets = correlate(
      [
        rec("rA", { meetingId: "m", createdDateTime: at(0), endDateTime: at(40) }),
        rec("rB", { meetingId: "m", createdDateTime: at(45), endDateTime: at(90) }),
        rec("rC", { meetingId: "m", createdDateTime: at(200), endDateTime: at(210) })
      ],
      [
        tr("t2", { meetingId: "m", createdDateTime: at(38), endDateTime: at(95) }),
        tr("t1", { meetingId: "m", createdDateTime: at(1), endDateTime: at(39) })
      ]
    )
    expect(shape(sets)).toEqual([
      ["m", "time-overlap", null, "rA", "t1"],
      ["m", "time-overlap", null, "rB", "t2"],
      ["m", "none", null, "rC", null]
    ])
  })

  it("gives the contested transcript to the recording with the largest overlap", () => {
    const sets = correlate(
      [
        rec("small", { meetingId: "m", createdDateTime: at(0), endDateTime: at(10) }),
        rec("large", { meetingId: "m", createdDateTime: at(5), endDateTime: at(60) })
      ],
      [tr("t", { meetingId: "m", createdDateTime: at(0), endDateTime: at(60) })]
    )
    expect(shape(sets)).toEqual([
      ["m", "none", null, "small", null],
      ["m", "time-overlap", null, "large", "t"]
    ])
  })

  it("never pairs by time across meetings, nor artifacts that carry different ids", () => {
    const sets = correlate(
      [
        rec("r1", { meetingId: "m1", createdDateTime: at(0), endDateTime: at(30) }),
        rec("r2", { meetingId: "m2", contentCorrelationId: "X", createdDateTime: at(0), endDateTime: at(30) })
      ],
      [
        tr("t1", { meetingId: "m2", createdDateTime: at(0), endDateTime: at(30) }),
        tr("t2", { meetingId: "m2", contentCorrelationId: "Y", createdDateTime: at(0), endDateTime: at(30) })
      ]
    )
    expect(sets.every((s) => s.match === "none")).toBe(true)
    expect(sets).toHaveLength(4)
  })

  it("handles transcript-only and recording-only meetings", () => {
    const sets = correlate(
      [rec("r", { meetingId: "rec-only", contentCorrelationId: "A", createdDateTime: at(0) })],
      [tr("t", { meetingId: "tr-only", contentCorrelationId: "B", createdDateTime: at(1) })]
    )
    expect(shape(sets)).toEqual([
      ["rec-only", "none", "A", "r", null],
      ["tr-only", "none", "B", null, "t"]
    ])
  })

  it("collapses duplicates of one id (delta re-delivers), keeping the most complete copy", () => {
    const full = rec("r", { meetingId: "m", contentCorrelationId: "A", createdDateTime: at(0), endDateTime: at(9) })
    const partial = rec("r", { meetingId: "m", contentCorrelationId: "A", createdDateTime: at(0) })
    const legacy = rec("r", { meetingId: "m", createdDateTime: at(0) })
    const t = tr("t", { meetingId: "m", contentCorrelationId: "A", createdDateTime: at(0) })
    for (const rs of [[partial, full, legacy], [legacy, full, partial], [full, full]]) {
      const sets = correlate(rs, [t, t])
      expect(shape(sets)).toEqual([["m", "contentCorrelationId", "A", "r", "t"]])
      expect(sets[0].recording?.endDateTime).toBe(at(9))
    }
  })

  it("places artifacts without times sensibly: no createdDateTime never pairs by time, no endDateTime is open-ended", () => {
    const sets = correlate(
      [
        rec("noTimes", { meetingId: "m" }),
        rec("open", { meetingId: "m", createdDateTime: at(10) })
      ],
      [
        tr("near", { meetingId: "m", createdDateTime: at(11) }),
        tr("far", { meetingId: "m", createdDateTime: at(0), endDateTime: at(5) })
      ]
    )
    expect(shape(sets)).toEqual([
      ["m", "none", null, null, "far"],
      ["m", "time-overlap", null, "open", "near"],
      ["m", "none", null, "noTimes", null]
    ])
  })

  it("pairs several recordings and transcripts sharing one contentCorrelationId by overlap", () => {
    const sets = correlate(
      [
        rec("r1", { meetingId: "m", contentCorrelationId: "A", createdDateTime: at(0), endDateTime: at(30) }),
        rec("r2", { meetingId: "m", contentCorrelationId: "A", createdDateTime: at(31), endDateTime: at(60) }),
        rec("r3", { meetingId: "m", contentCorrelationId: "A", createdDateTime: at(61), endDateTime: at(70) })
      ],
      [
        tr("t2", { meetingId: "m", contentCorrelationId: "A", createdDateTime: at(31), endDateTime: at(60) }),
        tr("t1", { meetingId: "m", contentCorrelationId: "A", createdDateTime: at(0), endDateTime: at(30) })
      ]
    )
    expect(shape(sets)).toEqual([
      ["m", "contentCorrelationId", "A", "r1", "t1"],
      ["m", "contentCorrelationId", "A", "r2", "t2"],
      ["m", "none", "A", "r3", null]
    ])
  })

  it("takes organizerId from meetingOrganizer.user.id, then meetingOrganizerId, then the option", () => {
    const sets = correlate(
      [
        rec("r1", { meetingId: "m1", contentCorrelationId: "A", meetingOrganizer: org("from-user") }),
        rec("r2", { meetingId: "m2", contentCorrelationId: "B", meetingOrganizerId: "legacy" }),
        rec("r3", { meetingId: "m3", contentCorrelationId: "C" })
      ],
      [tr("t3", { meetingId: "m3", contentCorrelationId: "C", meetingOrganizerId: "from-transcript" })],
      { organizerId: "fallback" }
    )
    expect(sets.map((s) => [s.meetingId, s.organizerId])).toEqual([
      ["m1", "from-user"],
      ["m2", "legacy"],
      ["m3", "from-transcript"]
    ])
    const alone = correlate([rec("r", { contentCorrelationId: "Z" })], [], {
      organizerId: "fallback",
      meetingId: "given"
    })
    expect(shape(alone)).toEqual([["given", "none", "Z", "r", null]])
    expect(alone[0].organizerId).toBe("fallback")
  })

  it("orders by time, then meeting and ids, whatever the input order", () => {
    const rs = [
      rec("late", { meetingId: "a", contentCorrelationId: "1", createdDateTime: at(50) }),
      rec("early", { meetingId: "z", contentCorrelationId: "2", createdDateTime: at(10) }),
      rec("unknown", { meetingId: "b", contentCorrelationId: "3" })
    ]
    const ts = [tr("t", { meetingId: "m", contentCorrelationId: "4", createdDateTime: at(20) })]
    const expected = [["z", "none", "2", "early", null], ["m", "none", "4", null, "t"], [
      "a",
      "none",
      "1",
      "late",
      null
    ], ["b", "none", "3", "unknown", null]]
    expect(shape(correlate(rs, ts))).toEqual(expected)
    expect(shape(correlate(rs.slice().reverse(), ts))).toEqual(expected)
  })

  it("joins the documentation's real recording payload to its transcript", () => {
    const page = JSON.parse(
      readFileSync(
        new URL("./fixtures/doc-example-3-list-recordings-filter-contentCorrelationId.json", import.meta.url),
        "utf8"
      )
    )
    const recording = Schema.decodeUnknownSync(CallRecording)(page.value[0])
    const transcript = Schema.decodeUnknownSync(CallTranscript)({
      ...page.value[0],
      id: "transcript-1",
      recordingContentUrl: undefined
    })
    const [set] = correlate([recording], [transcript])
    expect(set.match).toBe("contentCorrelationId")
    expect(set.contentCorrelationId).toBe("e87c8cf8-50f7-4252-8b9c-ad08ac0fa88d-0")
    expect(set.organizerId).toBe("1273a016-201d-4f95-8083-1b7f99b3edeb")
    // Encodes for the sinks.
    expect(Schema.encodeSync(ArtifactSet)(set).recording?.id).toBe(recording.id)
  })

  it.effect("correlateStream works data-first too, and joins a meeting that arrives split across chunks", () =>
    Effect.gen(function*() {
      const input = Stream.fromIterable([
        Artifact.transcript(tr("t1", { meetingId: "m1", contentCorrelationId: "A", createdDateTime: at(1) })),
        Artifact.recording(rec("r1", { meetingId: "m1", contentCorrelationId: "A", createdDateTime: at(0) })),
        Artifact.recording(rec("r2", { meetingId: "m2", createdDateTime: at(5), endDateTime: at(9) })),
        Artifact.transcript(tr("t2", { meetingId: "m2", createdDateTime: at(6) }))
      ]).pipe(Stream.rechunk(1))
      const sets = Chunk.toReadonlyArray(yield* Stream.runCollect(correlateStream(input, { organizerId: "o" })))
      expect(shape(sets)).toEqual([
        ["m1", "contentCorrelationId", "A", "r1", "t1"],
        ["m2", "time-overlap", null, "r2", "t2"]
      ])
      expect(sets.map((s) => s.organizerId)).toEqual(["o", "o"])
    }))

  it("correlateMeeting joins one meeting's artifacts", () => {
    const sets = correlateMeeting("m", [rec("r", { contentCorrelationId: "A" })], [
      tr("t", { contentCorrelationId: "A" })
    ])
    expect(shape(sets)).toEqual([["m", "contentCorrelationId", "A", "r", "t"]])
  })
})

// ---------------------------------------------------------------------------
// properties

const MEETINGS = ["m0", "m1", "m2"]
const CCIDS = ["G1", "G1-0", "G2", "G3"]

const artifactArb = (prefix: string) =>
  fc.record({
    n: fc.integer({ min: 0, max: 11 }),
    start: fc.option(fc.integer({ min: 0, max: 120 }), { nil: undefined, freq: 6 }),
    length: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined, freq: 4 }),
    organizer: fc.option(fc.constantFrom("o1", "o2"), { nil: undefined })
  }).map((a) => ({
    // The id determines the artifact (copies of one id are the same artifact, as Graph re-delivers it).
    id: `${prefix}${a.n}`,
    meetingId: MEETINGS[Math.floor(a.n / 4) % MEETINGS.length],
    contentCorrelationId: a.n % 3 === 0 ? undefined : CCIDS[(a.n + (prefix === "t" ? 1 : 0)) % CCIDS.length],
    start: a.start,
    length: a.length,
    organizer: a.organizer
  }))

interface Raw {
  id: string
  meetingId: string
  contentCorrelationId: string | undefined
  start: number | undefined
  length: number | undefined
  organizer: string | undefined
}

/** Copies of one id differ only in completeness (a copy may lack its end or its contentCorrelationId). */
const build = <A>(make: (id: string, f: Fields) => A, raw: Raw, variant: number): A =>
  make(raw.id, {
    meetingId: raw.meetingId,
    ...(raw.contentCorrelationId !== undefined && variant !== 2
      ? { contentCorrelationId: raw.contentCorrelationId }
      : {}),
    ...(raw.start !== undefined ? { createdDateTime: at(raw.start) } : {}),
    ...(raw.start !== undefined && raw.length !== undefined && variant !== 1 ?
      { endDateTime: at(raw.start + raw.length) } :
      {}),
    ...(raw.organizer !== undefined ? { meetingOrganizerId: raw.organizer } : {})
  })

const inputArb = fc.record({
  recordings: fc.array(fc.tuple(artifactArb("r"), fc.integer({ min: 0, max: 2 })), { maxLength: 14 }),
  transcripts: fc.array(fc.tuple(artifactArb("t"), fc.integer({ min: 0, max: 2 })), { maxLength: 14 }),
  seed: fc.integer()
}).map(({ recordings, seed, transcripts }) => {
  // Fix each id's canonical fields from its first occurrence; later copies may be less complete.
  const canon = new Map<string, Raw>()
  const pick = (r: Raw) => canon.get(r.id) ?? (canon.set(r.id, r), r)
  return {
    recordings: recordings.map(([r, v]) => build(rec, pick(r), v)),
    transcripts: transcripts.map(([t, v]) => build(tr, pick(t), v)),
    seed
  }
})

const shuffle = <A>(xs: ReadonlyArray<A>, seed: number): Array<A> => {
  const out = xs.slice()
  let s = seed | 0
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) | 0
    const j = Math.abs(s) % (i + 1)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

const interval = (a: CallRecording | CallTranscript) => {
  const s = parseGraphDateTime(a.createdDateTime)
  const e = parseGraphDateTime(a.endDateTime)
  return [s, Number.isNaN(e) ? Infinity : e] as const
}

describe("correlate properties", () => {
  it("never loses or duplicates an artifact, and every set is well-formed", () => {
    fc.assert(
      fc.property(inputArb, ({ recordings, transcripts }) => {
        const sets = correlate(recordings, transcripts)
        const rIds = sets.flatMap((s) => (s.recording ? [s.recording.id] : []))
        const tIds = sets.flatMap((s) => (s.transcript ? [s.transcript.id] : []))
        expect(rIds.slice().sort()).toEqual([...new Set(recordings.map((r) => r.id))].sort())
        expect(tIds.slice().sort()).toEqual([...new Set(transcripts.map((t) => t.id))].sort())
        for (const s of sets) {
          if (s.match === "none") {
            expect((s.recording === null) !== (s.transcript === null)).toBe(true)
            expect(s.contentCorrelationId).toBe((s.recording ?? s.transcript)!.contentCorrelationId ?? null)
          } else {
            expect(s.recording && s.transcript).toBeTruthy()
            expect(s.recording!.meetingId).toBe(s.meetingId)
            expect(s.transcript!.meetingId).toBe(s.meetingId)
          }
          if (s.match === "contentCorrelationId") {
            expect(s.recording!.contentCorrelationId).toBe(s.contentCorrelationId)
            expect(s.transcript!.contentCorrelationId).toBe(s.contentCorrelationId)
          }
          if (s.match === "time-overlap") {
            expect(s.contentCorrelationId).toBeNull()
            expect(s.recording!.contentCorrelationId ?? null).toBeNull()
            expect(s.transcript!.contentCorrelationId ?? null).toBeNull()
            const [a, b] = interval(s.recording!), [c, d] = interval(s.transcript!)
            expect(Math.max(a, c) <= Math.min(b, d)).toBe(true)
          }
        }
      }),
      { numRuns: 400 }
    )
  })

  it("an exact match always beats an overlap, and nothing matchable is left unmatched", () => {
    fc.assert(
      fc.property(inputArb, ({ recordings, transcripts }) => {
        const sets = correlate(recordings, transcripts)
        const alone = sets.filter((s) => s.match === "none")
        for (const a of alone) {
          for (const b of alone) {
            if (!a.recording || !b.transcript || a.meetingId !== b.meetingId) continue
            // Two leftovers with the same id in one meeting would have paired exactly.
            if (a.recording.contentCorrelationId) {
              expect(a.recording.contentCorrelationId).not.toBe(b.transcript.contentCorrelationId)
            } else if (!b.transcript.contentCorrelationId) {
              // Two leftovers without ids that overlap would have paired by time.
              const [s1, e1] = interval(a.recording), [s2, e2] = interval(b.transcript)
              expect(Number.isNaN(s1) || Number.isNaN(s2) || Math.max(s1, s2) > Math.min(e1, e2)).toBe(true)
            }
          }
        }
        // Artifacts that carry an id never take part in a time-overlap set.
        for (const s of sets.filter((s) => s.match === "time-overlap")) {
          expect(s.recording!.contentCorrelationId ?? s.transcript!.contentCorrelationId ?? null).toBeNull()
        }
      }),
      { numRuns: 400 }
    )
  })

  it("output does not depend on input order", () => {
    fc.assert(
      fc.property(inputArb, ({ recordings, seed, transcripts }) => {
        const a = correlate(recordings, transcripts)
        const b = correlate(shuffle(recordings, seed), shuffle(transcripts, seed ^ 0x5bd1e995))
        expect(b).toEqual(a)
      }),
      { numRuns: 400 }
    )
  })

  it.effect("the streaming join equals the whole-collection join", () =>
    Effect.gen(function*() {
      const samples = fc.sample(inputArb, { numRuns: 300, seed: 42 })
      for (const { recordings, seed, transcripts } of samples) {
        const whole = correlate(recordings, transcripts)
        // Group by meeting, meetings in arbitrary order, artifacts shuffled within each meeting.
        const meetings = shuffle(MEETINGS, seed)
        const artifacts = meetings.flatMap((m) =>
          shuffle([
            ...recordings.filter((r) => r.meetingId === m).map(Artifact.recording),
            ...transcripts.filter((t) => t.meetingId === m).map(Artifact.transcript)
          ], seed)
        )
        const streamed = Chunk.toReadonlyArray(
          yield* Stream.fromIterable(artifacts).pipe(Stream.rechunk(3), correlateStream(), Stream.runCollect)
        )
        expect(sortArtifactSets(streamed)).toEqual(whole)
        // Per meeting, the stream already emits in canonical order.
        for (const m of meetings) {
          expect(streamed.filter((s) => s.meetingId === m)).toEqual(whole.filter((s) => s.meetingId === m))
        }
        const grouped = Chunk.toReadonlyArray(
          yield* Stream.fromIterable(
            meetings.map((m) => ({
              recordings: recordings.filter((r) => r.meetingId === m),
              transcripts: transcripts.filter((t) => t.meetingId === m)
            }))
          ).pipe(correlateGroups(), Stream.runCollect)
        )
        expect(sortArtifactSets(grouped)).toEqual(whole)
      }
    }))
})

describe("correlate at scale (fast path, careful pass, distribution sort)", () => {
  // Thousands of artifacts: enough for the paths small property inputs never reach.
  const minute = (i: number) => at(i % 97) // clustered: many sets share a start time
  const large = (n: number, seed: number) => {
    const recordings: Array<CallRecording> = []
    const transcripts: Array<CallTranscript> = []
    let s = seed | 0
    const next = () => ((s = (Math.imul(s, 1103515245) + 12345) | 0) >>> 0) % 1000
    for (let i = 0; i < n; i++) {
      const meetingId = `m${i % 53}`
      const ccid = `c${i}`
      const roll = next()
      // No recording start: taken from the transcript (60..89), or unknown (970..999).
      const created = (roll >= 60 && roll < 90) || roll >= 970 ? {} : { createdDateTime: minute(i) }
      if (roll >= 60) recordings.push(rec(`r${i}`, { meetingId, contentCorrelationId: ccid, ...created }))
      if (roll < 900) {
        transcripts.push(tr(`t${i}`, { meetingId, contentCorrelationId: ccid, createdDateTime: minute(i + 1) }))
      }
    }
    return { recordings, transcripts }
  }
  const reference = (sets: ReadonlyArray<ArtifactSet>) => {
    const start = (s: ArtifactSet) => {
      let t = parseGraphDateTime(s.recording?.createdDateTime)
      if (Number.isNaN(t)) t = parseGraphDateTime(s.transcript?.createdDateTime)
      return Number.isNaN(t) ? Infinity : t
    }
    const cmp = (a = "", b = "") => (a < b ? -1 : a > b ? 1 : 0)
    return sets.slice().sort((x, y) =>
      start(x) - start(y) || (start(x) === start(y) ? 0 : 1) ||
      cmp(x.meetingId, y.meetingId) || cmp(x.recording?.id, y.recording?.id) || cmp(x.transcript?.id, y.transcript?.id)
    )
  }
  const perMeeting = (recordings: ReadonlyArray<CallRecording>, transcripts: ReadonlyArray<CallTranscript>) => {
    const meetings = [...new Set([...recordings, ...transcripts].map((a) => a.meetingId ?? ""))]
    return sortArtifactSets(meetings.flatMap((m) =>
      correlateMeeting(
        m,
        recordings.filter((r) => (r.meetingId ?? "") === m),
        transcripts.filter((t) => (t.meetingId ?? "") === m)
      )
    ))
  }

  it("orders thousands of sets exactly as a comparison sort, whatever the input order", () => {
    const { recordings, transcripts } = large(3000, 7)
    const sets = correlate(recordings, transcripts)
    expect(sets.length).toBe(3000)
    expect(shape(sets)).toEqual(shape(reference(sets)))
    expect(correlate(shuffle(recordings, 1), shuffle(transcripts, 2))).toEqual(sets)
    expect(sortArtifactSets(shuffle(sets, 3))).toEqual(sets)
    expect(sets).toEqual(perMeeting(recordings, transcripts))
    // Unknown start times sort last.
    const unknown = sets.filter((s) => !s.recording?.createdDateTime && !s.transcript?.createdDateTime)
    expect(unknown.length).toBeGreaterThan(0)
    expect(sets.slice(sets.length - unknown.length)).toEqual(unknown)
  })

  it("duplicates, shared ids and one id in two meetings at scale equal the per-meeting rules", () => {
    const { recordings, transcripts } = large(2000, 11)
    const extraT: Array<CallTranscript> = []
    const extraR: Array<CallRecording> = []
    for (let i = 0; i < 2000; i += 37) {
      // A delta re-delivery of a transcript, less complete than the first copy.
      extraT.push(tr(`t${i}`, { meetingId: `m${i % 53}`, createdDateTime: minute(i + 1) }))
      // A second transcript with the same id (a restarted transcription).
      extraT.push(
        tr(`t${i}b`, { meetingId: `m${i % 53}`, contentCorrelationId: `c${i}`, createdDateTime: minute(i + 3) })
      )
      // The same contentCorrelationId in another meeting.
      extraR.push(rec(`r${i}x`, { meetingId: `m${(i + 1) % 53}`, contentCorrelationId: `c${i + 1}` }))
    }
    const rs = shuffle([...recordings, ...extraR], 5), ts = shuffle([...transcripts, ...extraT], 6)
    const sets = correlate(rs, ts)
    expect(sets).toEqual(perMeeting(rs, ts))
    expect(shape(sets)).toEqual(shape(reference(sets)))
    const ids = sets.flatMap((s) => [s.recording?.id, s.transcript?.id].filter((x) => x !== undefined))
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids.length).toBe(new Set([...rs.map((r) => r.id), ...ts.map((t) => t.id)]).size)
  })
})
