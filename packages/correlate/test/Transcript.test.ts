import {
  addMs,
  align,
  ArtifactSet,
  countWords,
  diffGraphDateTimeMs,
  MetadataCue,
  ParseError,
  graphDateTimeMs,
  parseGraphDateTime,
  parseGraphInstant,
  parseMetadataContent,
  parseVttEither,
  recordingOffsetMs,
  splitCueId,
  summarize,
  utterances
} from "@meeting-artifacts/correlate"
import { CallRecording, CallTranscript } from "@meeting-artifacts/api"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "fast-check"

const G = "5f0c2a9e-1d7b-4c61-9a3e-2b8f4d6e7a10"

// Several speakers, an utterance split in three pieces interleaved with others, overlapping and unsorted cues.
const VTT = "\uFEFF" + [
  "WEBVTT",
  "",
  `${G}/18-1`,
  "00:00:10.338 --> 00:00:15.353",
  "<v Okonkwo, Adaeze>Revenue came in above plan.</v>",
  "",
  `${G}/18-0`,
  "00:00:03.833 --> 00:00:10.338",
  "<v Okonkwo, Adaeze>Let's start with the quarterly numbers,",
  "then move to the hiring plan.</v>",
  "",
  `${G}/17-0`,
  "00:00:04.153 --> 00:00:05.193",
  "<v Jürgen Weiß>Sounds good.</v>",
  "",
  `${G}/18-2`,
  "00:00:15.353 --> 00:00:17.000",
  "<v Okonkwo, Adaeze>Questions?</v>",
  "",
  "00:00:20.000 --> 00:00:21.000",
  "(inaudible)"
].join("\r\n")

const cues = () => Either.getOrThrow(parseVttEither(VTT)).cues

describe("utterances", () => {
  it("merges GUID/n-k pieces in piece order and returns utterances in time order", () => {
    const us = utterances(cues())
    expect(us.map((u) => [u.id, u.speaker, u.startMs, u.endMs, u.cueIds.length])).toEqual([
      [`${G}/18`, "Okonkwo, Adaeze", 3833, 17000, 3],
      [`${G}/17`, "Jürgen Weiß", 4153, 5193, 1],
      [null, null, 20000, 21000, 1]
    ])
    expect(us[0].text).toBe(
      "Let's start with the quarterly numbers,\nthen move to the hiring plan. Revenue came in above plan. Questions?"
    )
    expect(us[0].cueIds).toEqual([`${G}/18-0`, `${G}/18-1`, `${G}/18-2`])
  })

  it("splitCueId only splits GUID/n-k ids", () => {
    expect(splitCueId(`${G}/18-2`)).toEqual({ utterance: `${G}/18`, piece: 2 })
    expect(splitCueId(G)).toBeUndefined()
    expect(splitCueId("1")).toBeUndefined()
    expect(splitCueId(`${G}/18-`)).toBeUndefined()
    expect(splitCueId(`${G}/18-x`)).toBeUndefined()
    expect(splitCueId(null)).toBeUndefined()
  })

  it("keeps every cue in exactly one utterance (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            u: fc.integer({ min: 0, max: 5 }),
            k: fc.integer({ min: 0, max: 3 }),
            plain: fc.boolean(),
            start: fc.integer({ min: 0, max: 100_000 }),
            len: fc.integer({ min: 0, max: 5000 })
          }),
          { maxLength: 30 }
        ),
        (raw) => {
          const seen = new Set<string>()
          const input = raw
            .map((r, i) => ({
              id: r.plain ? `plain-${i}` : `${G}/${r.u}-${r.k}`,
              startMs: r.start,
              endMs: r.start + r.len,
              speaker: "S",
              text: `w${i}`
            }))
            .filter((c) => !seen.has(c.id) && seen.add(c.id))
          const us = utterances(input as any)
          expect(us.flatMap((u) => u.cueIds).sort()).toEqual(input.map((c) => c.id).sort())
          for (let i = 1; i < us.length; i++) expect(us[i - 1].startMs).toBeLessThanOrEqual(us[i].startMs)
          for (const u of us) {
            const parts = input.filter((c) => u.cueIds.includes(c.id))
            expect(u.startMs).toBe(Math.min(...parts.map((c) => c.startMs)))
            expect(u.endMs).toBe(Math.max(...parts.map((c) => c.endMs)))
          }
        }
      )
    )
  })
})

describe("GraphDateTime", () => {
  it("parses 7 fractional digits exactly", () => {
    expect(parseGraphInstant("2023-04-10T08:13:17.5990966Z")).toEqual({
      seconds: Date.UTC(2023, 3, 10, 8, 13, 17) / 1000,
      ticks: 5990966
    })
    expect(diffGraphDateTimeMs("2023-04-10T08:13:17.5990966Z", "2023-04-10T08:13:17.5990965Z")).toBe(0.0001)
    expect(diffGraphDateTimeMs("2024-01-01T00:00:00.0000001Z", "2023-12-31T23:59:59.9999999Z")).toBe(0.0002)
    expect(parseGraphDateTime("2024-07-12T11:37:59.0113199Z") - Date.UTC(2024, 6, 12, 11, 37, 59, 11)).toBeCloseTo(
      0.3199,
      3
    )
  })

  it("reads offsets, short fractions and no fraction; rejects garbage", () => {
    expect(parseGraphDateTime("2024-01-15T10:00:00+02:00")).toBe(Date.UTC(2024, 0, 15, 8))
    expect(parseGraphDateTime("2024-01-15T10:00:00.5-01:30")).toBe(Date.UTC(2024, 0, 15, 11, 30, 0, 500))
    expect(parseGraphDateTime("2024-01-15T10:00:00Z")).toBe(Date.UTC(2024, 0, 15, 10))
    for (const bad of ["", "yesterday", "2024-13-01T00:00:00Z", "2024-01-15T10:00:00.Z", "2024-01-15T10:00:00Zjunk"]) {
      expect(Number.isNaN(parseGraphDateTime(bad))).toBe(true)
    }
    expect(Number.isNaN(parseGraphDateTime(null))).toBe(true)
  })

  it("graphDateTimeMs (the fast path used for ordering) equals parseGraphDateTime (property)", () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date("0001-01-01"), max: new Date("9999-12-31"), noInvalidDate: true }),
        fc.integer({ min: 0, max: 9999 }),
        (d, extra) => {
          const s = d.toISOString().replace("Z", String(extra).padStart(4, "0") + "Z")
          expect(graphDateTimeMs(s)).toBe(parseGraphDateTime(s))
        }
      )
    )
    for (
      const odd of [
        "2024-02-30T00:00:00.0000000Z",
        "2024-13-01T00:00:00.0000000Z",
        "2024-01-01T00:00:0x.0000000Z",
        "2024-01-01T24:00:00.0000000Z",
        "2024-01-01T00:00:00.000000xZ",
        "2024-01-01T00:00:00+01:00",
        null
      ]
    ) {
      const a = graphDateTimeMs(odd), b = parseGraphDateTime(odd)
      expect(Number.isNaN(a) ? "NaN" : a).toEqual(Number.isNaN(b) ? "NaN" : b)
    }
  })

  it("agrees with Date for millisecond timestamps (property)", () => {
    fc.assert(
      fc.property(fc.date({ min: new Date("1970-01-01"), max: new Date("2200-01-01"), noInvalidDate: true }), (d) => {
        expect(parseGraphDateTime(d.toISOString())).toBe(d.getTime())
        expect(addMs(d.toISOString(), 0)).toBe(d.toISOString().replace("Z", "0000Z"))
      })
    )
  })
})

describe("alignment", () => {
  const transcript = new CallTranscript({ id: "t", createdDateTime: "2023-04-10T08:13:17.5990966Z" })
  const recording = new CallRecording({ id: "r", createdDateTime: "2023-04-10T08:13:20.0000000Z" })

  it("places cues on the recording's timeline; transcription that started first gives negative offsets", () => {
    expect(recordingOffsetMs(transcript, recording)).toBe(-2400.9034)
    const aligned = align(cues(), { transcript, recording })
    const first = aligned.find((a) => a.cue.id === `${G}/18-0`)!
    expect(first.transcriptStartMs).toBe(3833)
    expect(first.recordingStartMs).toBeCloseTo(1432.0966, 6)
    expect(first.startDateTime).toBe("2023-04-10T08:13:21.4320966Z")
    const early = align([{ startMs: 1000, endMs: 2000 }], { transcript, recording })[0]
    expect(early.recordingStartMs).toBeCloseTo(-1400.9034, 6)
    expect(early.recordingEndMs).toBeCloseTo(-400.9034, 6)
  })

  it("aligns utterances against an ArtifactSet, and reports unknown when a time is missing", () => {
    const set = new ArtifactSet({
      meetingId: "m",
      organizerId: "o",
      contentCorrelationId: "c",
      match: "contentCorrelationId",
      recording,
      transcript
    })
    const [u] = align(utterances(cues()), set)
    expect(u.recordingEndMs).toBeCloseTo(17000 - 2400.9034, 6)
    const alone = align(cues(), { transcript })
    expect(alone[0].recordingStartMs).toBeNull()
    expect(alone[0].startDateTime).not.toBeNull()
    expect(align(cues(), {})[0].startDateTime).toBeNull()
  })
})

const META = [
  "WEBVTT",
  "",
  `${G}/1-0`,
  "00:00:00.0000000 --> 00:00:05.3200000",
  `{"startDateTime":"2024-01-15T10:00:00.0000000Z","endDateTime":"2024-01-15T10:00:05.3200000Z","speakerName":"Okonkwo, Adaeze","spokenText":"Hello everyone.","spokenLanguage":"en-us","extra":1}`,
  "",
  `${G}/2-0`,
  "00:00:04.000 --> 00:00:08.000",
  `<v Jürgen Weiß>{"startDateTime":"2024-01-15T10:00:04Z","endDateTime":"2024-01-15T10:00:08Z",`,
  `"spokenText":"Guten Morgen zusammen.","spokenLanguage":"de-de"}</v>`,
  "",
  `${G}/3-0`,
  "00:00:09.000 --> 00:00:12.000",
  `{"speakerName":"Okonkwo, Adaeze","spokenText":"Let's begin.","spokenLanguage":"en-us"}`
].join("\n")

describe("parseMetadataContent", () => {
  it.effect("reads the JSON payload of each cue", () =>
    Effect.gen(function*() {
      const doc = yield* parseMetadataContent(META)
      expect(doc.cues.map((c) => [c.id, c.startMs, c.endMs, c.speakerName, c.spokenText, c.spokenLanguage])).toEqual([
        [`${G}/1-0`, 0, 5320, "Okonkwo, Adaeze", "Hello everyone.", "en-us"],
        [`${G}/2-0`, 4000, 8000, "Jürgen Weiß", "Guten Morgen zusammen.", "de-de"],
        [`${G}/3-0`, 9000, 12000, "Okonkwo, Adaeze", "Let's begin.", "en-us"]
      ])
      expect(doc.cues[0]).toBeInstanceOf(MetadataCue)
      expect(doc.cues[0].startDateTime).toBe("2024-01-15T10:00:00.0000000Z")
      expect(doc.cues[2].startDateTime).toBeNull()
    }))

  it.effect("fails on bad JSON with its line in strict mode, skips it in lenient mode", () =>
    Effect.gen(function*() {
      const bad = META.replace(`"spokenText":"Let's begin."`, `"spokenText":Let's begin.`)
      const e = yield* Effect.flip(parseMetadataContent(bad))
      expect(e).toBeInstanceOf(ParseError)
      expect(e.line).toBe(14)
      expect(e.message).toMatch(/not valid JSON/)
      const lenient = yield* parseMetadataContent(bad, { mode: "lenient" })
      expect(lenient.cues).toHaveLength(2)
      expect(lenient.issues.map((i) => i.line)).toEqual([14])
      const typed = yield* Effect.flip(
        parseMetadataContent(META.replace(`"spokenLanguage":"de-de"`, `"spokenLanguage":7`))
      )
      expect(typed.message).toMatch(/spokenLanguage/)
      const notObject = yield* Effect.flip(parseMetadataContent("WEBVTT\n\n00:00.000 --> 00:01.000\n[1,2]\n"))
      expect(notObject.message).toMatch(/JSON object/)
    }))
})

describe("summarize", () => {
  it("reports speakers by talk time with word counts, and the duration", () => {
    const s = summarize(cues())
    expect(s.cues).toBe(5)
    expect(s.durationMs).toBe(21000 - 3833)
    expect(s.firstStartMs).toBe(3833)
    expect(s.lastEndMs).toBe(21000)
    expect(s.speakers).toEqual([
      { speaker: "Okonkwo, Adaeze", talkTimeMs: 17000 - 3833, words: 18, cues: 3 },
      { speaker: "Jürgen Weiß", talkTimeMs: 1040, words: 2, cues: 1 },
      { speaker: null, talkTimeMs: 1000, words: 1, cues: 1 }
    ])
    expect(s.words).toBe(21)
    expect(s.spokenLanguages).toEqual([])
  })

  it.effect("adds spoken languages from metadataContent, counting overlapping time once", () =>
    Effect.gen(function*() {
      const doc = yield* parseMetadataContent(META)
      const s = summarize(doc.cues)
      expect(s.spokenLanguages).toEqual([
        { language: "en-us", cues: 2, talkTimeMs: 5320 + 3000 },
        { language: "de-de", cues: 1, talkTimeMs: 4000 }
      ])
      expect(s.speakers.map((x) => [x.speaker, x.talkTimeMs, x.words])).toEqual([
        ["Okonkwo, Adaeze", 8320, 4],
        ["Jürgen Weiß", 4000, 3]
      ])
    }))

  it("summarizes an empty transcript and counts words across scripts", () => {
    expect(summarize([])).toEqual({
      cues: 0,
      durationMs: 0,
      firstStartMs: null,
      lastEndMs: null,
      speakers: [],
      spokenLanguages: [],
      words: 0
    })
    expect(countWords("  hello,\tworld\nagain ")).toBe(3)
    expect(countWords("")).toBe(0)
  })
})
