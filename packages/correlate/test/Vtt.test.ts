import {
  countCues,
  Cue,
  formatTimestamp,
  formatVtt,
  makeCueCounter,
  ParseError,
  parseVtt,
  parseVttEither,
  sortCues
} from "@meeting-artifacts/correlate"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as fc from "fast-check"

const G = "5f0c2a9e-1d7b-4c61-9a3e-2b8f4d6e7a10"

// The shape documented in graph-reference.md ("Teams WebVTT as really produced").
const TEAMS = `WEBVTT

${G}/18-0
00:00:03.833 --> 00:00:10.338
<v Okonkwo, Adaeze>Let's start with the quarterly numbers,
then move to the hiring plan.</v>

${G}/17-0
00:00:04.153 --> 00:00:05.193
<v Jürgen Weiß>Sounds good.</v>

${G}/18-1
00:00:10.338 --> 00:00:15.353
<v Okonkwo, Adaeze>Revenue came in above plan.</v>
`

const EXPECTED = [
  {
    id: `${G}/18-0`,
    startMs: 3833,
    endMs: 10338,
    speaker: "Okonkwo, Adaeze",
    text: "Let's start with the quarterly numbers,\nthen move to the hiring plan."
  },
  { id: `${G}/17-0`, startMs: 4153, endMs: 5193, speaker: "Jürgen Weiß", text: "Sounds good." },
  { id: `${G}/18-1`, startMs: 10338, endMs: 15353, speaker: "Okonkwo, Adaeze", text: "Revenue came in above plan." }
]

const plain = (cues: ReadonlyArray<Cue>) =>
  cues.map((c) => ({ id: c.id, startMs: c.startMs, endMs: c.endMs, speaker: c.speaker, text: c.text }))

const failure = (text: string) => Effect.runSync(Effect.flip(parseVtt(text)))

describe("parseVtt", () => {
  it.effect("parses Teams output: split utterances, overlapping and unsorted cues, commas and non-ASCII in names", () =>
    Effect.gen(function*() {
      const doc = yield* parseVtt(TEAMS)
      expect(plain(doc.cues)).toEqual(EXPECTED)
      expect(doc.issues).toEqual([])
      expect(doc.cues.every((c) => c instanceof Cue && Schema.is(Cue)(c))).toBe(true)
    }))

  it.effect("accepts a BOM and CRLF line ends", () =>
    Effect.gen(function*() {
      const doc = yield* parseVtt("\uFEFF" + TEAMS.replace(/\n/g, "\r\n"))
      expect(plain(doc.cues)).toEqual(EXPECTED)
    }))

  it.effect("reads unpadded H:M:S.f and MM:SS.fff timestamps", () =>
    Effect.gen(function*() {
      const doc = yield* parseVtt(
        "WEBVTT\n\n0:0:0.0 --> 0:0:5.320\n<v A>one</v>\n\n01:02.5 --> 1:02:03.45\ntwo\n\n1:2:3 --> 10:00:00.1239\nthree\n"
      )
      expect(doc.cues.map((c) => [c.startMs, c.endMs])).toEqual([
        [0, 5320],
        [62_500, 3_723_450],
        [3_723_000, 36_000_124]
      ])
    }))

  it.effect("reads hours of any width (files over 99 hours) with and without an id line or settings", () =>
    Effect.gen(function*() {
      const doc = yield* parseVtt(
        "WEBVTT\n\n100:00:01.000 --> 100:00:02.500\none\n\nid\n1:02:03.004 --> 123:45:06.789 align:start\ntwo\n"
      )
      expect(doc.cues.map((c) => [c.id, c.startMs, c.endMs])).toEqual([
        [null, 360_001_000, 360_002_500],
        ["id", 3_723_004, 445_506_789]
      ])
      const bad = parseVttEither("WEBVTT\n\nid\n100:00:01.000 --> 100:60:02.500\nx\n")
      expect(Either.isLeft(bad) && [bad.left.line, bad.left.column, bad.left.message]).toEqual([
        4,
        19,
        "Minutes and seconds must be below 60"
      ])
    }))

  it.effect("handles cues without a voice, header text, NOTE and STYLE blocks, settings and entities", () =>
    Effect.gen(function*() {
      const doc = yield* parseVtt(
        [
          "WEBVTT - Meeting transcript",
          "Kind: captions",
          "",
          "STYLE",
          "::cue { color: red }",
          "",
          "NOTE",
          "a comment",
          "over two lines",
          "",
          "00:00:01.000 --> 00:00:02.000 align:start position:10%",
          "no voice &amp; &lt;b&gt; here",
          "",
          "NOTE one line",
          "",
          "c2",
          "00:00:02.000 --> 00:00:03.000",
          "<v.loud  O'Brien, Seán  >Hi &amp; bye</v>",
          "",
          "",
          "",
          "c3",
          "00:00:03.000 --> 00:00:03.000",
          "<v 李伟>你好</v>"
        ].join("\n")
      )
      expect(plain(doc.cues)).toEqual([
        { id: null, startMs: 1000, endMs: 2000, speaker: null, text: "no voice & <b> here" },
        { id: "c2", startMs: 2000, endMs: 3000, speaker: "O'Brien, Seán", text: "Hi & bye" },
        { id: "c3", startMs: 3000, endMs: 3000, speaker: "李伟", text: "你好" }
      ])
    }))

  it.effect("strips a voice repeated per line inside one cue", () =>
    Effect.gen(function*() {
      const doc = yield* parseVtt("WEBVTT\n\n00:00.000 --> 00:01.000\n<v A>first</v>\n<v A>second</v>\n")
      expect(plain(doc.cues)).toEqual([{ id: null, startMs: 0, endMs: 1000, speaker: "A", text: "first\nsecond" }])
    }))

  it("keeps file order; sortCues puts cues in time order", () => {
    const doc = Either.getOrThrow(parseVttEither(TEAMS))
    expect(sortCues(doc.cues).map((c) => c.id)).toEqual([`${G}/18-0`, `${G}/17-0`, `${G}/18-1`])
    const reversed = Either.getOrThrow(parseVttEither(formatVtt(doc.cues.slice().reverse())))
    expect(reversed.cues.map((c) => c.id)).toEqual([`${G}/18-1`, `${G}/17-0`, `${G}/18-0`])
    expect(sortCues(reversed.cues).map((c) => c.id)).toEqual([`${G}/18-0`, `${G}/17-0`, `${G}/18-1`])
  })

  it("parses an empty transcript", () => {
    expect(Either.getOrThrow(parseVttEither("WEBVTT\n")).cues).toEqual([])
    expect(Either.getOrThrow(parseVttEither("\uFEFFWEBVTT")).cues).toEqual([])
  })
})

describe("parseVtt on malformed input", () => {
  const cases: Array<[string, string, number, number, RegExp]> = [
    ["missing header", "WEBVT\n\n00:01.000 --> 00:02.000\nx\n", 1, 1, /WEBVTT/],
    ["header glued to text", "WEBVTTX\n", 1, 1, /WEBVTT/],
    ["bad minutes", "WEBVTT\n\n1\n00:0x:01.000 --> 00:00:02.000\nx\n", 4, 5, /start timestamp/],
    ["bad end", "WEBVTT\n\n00:00:01.000 --> 00:00:0.\nx\n", 3, 26, /end timestamp/],
    ["minutes over 59", "WEBVTT\n\n00:61:01.000 --> 01:00:00.000\nx\n", 3, 1, /below 60/],
    ["text before arrow", "WEBVTT\n\n00:00:01.000 x --> 00:00:02.000\nx\n", 3, 14, /before "-->"/],
    ["text after end", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000x\nx\n", 3, 30, /after the end/],
    ["ends before it starts", "WEBVTT\n\n00:00:05.000 --> 00:00:02.000\nx\n", 3, 18, /ends before/],
    ["id without timing", "WEBVTT\n\nlonely id\n\n00:00:01.000 --> 00:00:02.000\nx\n", 3, 1, /without a timing/],
    ["id at end of file", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nx\n\nlast", 6, 1, /without a timing/],
    ["junk block", "WEBVTT\n\nid\njunk line\n", 4, 1, /Expected a timing line/],
    ["unterminated voice", "WEBVTT\n\nc\n00:00:01.000 --> 00:00:02.000\n<v Name\ntext\n", 5, 1, /voice tag/]
  ]
  for (const [name, text, line, column, message] of cases) {
    it(`strict: ${name} -> ParseError at ${line}:${column}`, () => {
      const e = failure(text)
      expect(e).toBeInstanceOf(ParseError)
      expect(e._tag).toBe("ParseError")
      expect({ line: e.line, column: e.column }).toEqual({ line, column })
      expect(e.message).toMatch(message)
    })
  }

  it("strict: line numbers count CRLF lines and ignore the BOM", () => {
    const e = failure("\uFEFFWEBVTT\r\n\r\nNOTE x\r\n\r\n00:00:01.000 --> 00:00:0x.000\r\nx\r\n")
    expect({ line: e.line, column: e.column }).toEqual({ line: 5, column: 25 })
  })

  it.effect("lenient: skips bad cues, keeps the good ones and reports each skipped block", () =>
    Effect.gen(function*() {
      const text = [
        "WEBVTT",
        "",
        "a",
        "00:00:01.000 --> 00:00:02.000",
        "<v A>good one</v>",
        "",
        "b",
        "00:00:xx.000 --> 00:00:03.000",
        "<v B>bad time</v>",
        "",
        "orphan id",
        "",
        "c",
        "00:00:04.000 --> 00:00:05.000",
        "<v C>good two",
        "",
        "d",
        "00:00:06.000 --> 00:00:07.000",
        "<v D unterminated",
        "",
        "e",
        "00:00:08.000 --> 00:00:09.000",
        "last"
      ].join("\n")
      const doc = yield* parseVtt(text, { mode: "lenient" })
      expect(doc.cues.map((c) => [c.id, c.speaker, c.text])).toEqual([
        ["a", "A", "good one"],
        ["c", "C", "good two"],
        ["e", null, "last"]
      ])
      expect(doc.issues.map((i) => [i.line, i.column])).toEqual([[8, 7], [11, 1], [19, 1]])
      // Strict mode stops at the first.
      const e = yield* Effect.flip(parseVtt(text, { mode: "strict" }))
      expect(e.line).toBe(8)
    }))

  it("lenient: a file without a header still yields its cues, with the problem reported", () => {
    const doc = Either.getOrThrow(parseVttEither("00:00:01.000 --> 00:00:02.000\nx\n", { mode: "lenient" }))
    expect(doc.cues.map((c) => c.text)).toEqual(["x"])
    expect(doc.issues.map((i) => i.line)).toEqual([1])
  })
})

describe("cue counting", () => {
  it("countCues equals the number of parsed cues", () => {
    expect(countCues(TEAMS)).toBe(3)
    expect(countCues("WEBVTT\n")).toBe(0)
  })

  it("makeCueCounter counts over any chunking of the UTF-8 bytes", () => {
    const bytes = new TextEncoder().encode("\uFEFF" + TEAMS.replace(/\n/g, "\r\n"))
    for (let size = 1; size <= 7; size++) {
      const counter = makeCueCounter()
      for (let i = 0; i < bytes.length; i += size) counter.update(bytes.subarray(i, i + size))
      expect(counter.count()).toBe(3)
    }
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 20 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), bytes.length]
        const counter = makeCueCounter()
        for (let i = 1; i < points.length; i++) counter.update(bytes.subarray(points[i - 1], points[i]))
        expect(counter.count()).toBe(3)
      })
    )
  })
})

// ---------------------------------------------------------------------------
// round trip

const nameArb = fc.oneof(
  fc.constantFrom("Okonkwo, Adaeze", "Jürgen Weiß", "李伟", "O'Brien, Seán", "Nguyễn Thị Minh", "A <B> & C"),
  fc.string({
    unit: fc.constantFrom("a", "Z", "é", ",", " ", "ß", "&", "<", ">", "-", "漢"),
    minLength: 1,
    maxLength: 12
  })
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
)
const lineArb = fc.string({
  unit: fc.constantFrom("a", "b", " ", ",", ".", "é", "ü", "中", "&", "<", ">", "-", "'", "\""),
  minLength: 1,
  maxLength: 30
}).filter((s) => s.trim().length > 0)
const textArb = fc.array(lineArb, { minLength: 1, maxLength: 3 }).map((ls) => ls.join("\n"))

const cuesArb = fc.array(
  fc.record({
    utterance: fc.integer({ min: 0, max: 40 }),
    piece: fc.integer({ min: 0, max: 3 }),
    withId: fc.boolean(),
    startMs: fc.integer({ min: 0, max: 30 * 3_600_000 }),
    length: fc.integer({ min: 0, max: 120_000 }),
    speaker: fc.option(nameArb, { nil: null }),
    text: textArb
  }).map((c) => ({
    id: c.withId ? `${G}/${c.utterance}-${c.piece}` : null,
    startMs: c.startMs,
    endMs: c.startMs + c.length,
    speaker: c.speaker,
    text: c.text
  })),
  { maxLength: 25 }
)

describe("round trip", () => {
  it("parseVtt(formatVtt(cues)) gives the cues back, with LF or CRLF, with or without a BOM", () => {
    fc.assert(
      fc.property(cuesArb, fc.boolean(), fc.boolean(), (cues, crlf, bom) => {
        let text = formatVtt(cues)
        if (crlf) text = text.replace(/\n/g, "\r\n")
        if (bom) text = "\uFEFF" + text
        const doc = Either.getOrThrow(parseVttEither(text))
        expect(plain(doc.cues)).toEqual(cues)
        expect(countCues(text)).toBe(cues.length)
      }),
      { numRuns: 300 }
    )
  })

  it("formatTimestamp pads to HH:MM:SS.mmm", () => {
    expect(formatTimestamp(0)).toBe("00:00:00.000")
    expect(formatTimestamp(3_723_004)).toBe("01:02:03.004")
    expect(formatTimestamp(100 * 3_600_000)).toBe("100:00:00.000")
  })
})
