// The hot loops build Cue and ArtifactSet objects without their Schema class
// constructors (src/internal/construct.ts); what they return must be
// indistinguishable from instances the classes build themselves.
import { CallRecording, CallTranscript } from "@meeting-artifacts/api"
import { ArtifactSet, correlate, Cue, parseVttEither } from "@meeting-artifacts/correlate"
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as Schema from "effect/Schema"

const sameInstance = <A extends object>(fast: A, built: A, schema: Schema.Schema<A, any>) => {
  expect(Object.getPrototypeOf(fast)).toBe(Object.getPrototypeOf(built))
  expect(Object.keys(fast)).toEqual(Object.keys(built))
  expect(fast instanceof (built.constructor as new(...args: Array<any>) => A)).toBe(true)
  expect(Equal.equals(fast, built)).toBe(true)
  expect(Schema.is(schema)(fast)).toBe(true)
  expect(JSON.stringify(fast)).toBe(JSON.stringify(built))
  expect(Schema.encodeSync(schema)(fast)).toEqual(Schema.encodeSync(schema)(built))
}

describe("hot-loop constructors", () => {
  it("a parsed cue is a Cue like `new Cue(...)`", () => {
    const [cue] =
      Either.getOrThrow(parseVttEither("WEBVTT\n\nabc/1-0\n00:00:01.000 --> 00:00:02.500\n<v Jürgen Weiß>Hallo.</v>\n"))
        .cues
    sameInstance(
      cue,
      new Cue({ id: "abc/1-0", startMs: 1000, endMs: 2500, speaker: "Jürgen Weiß", text: "Hallo." }),
      Cue
    )
    expect(
      Equal.equals(cue, new Cue({ id: "abc/1-0", startMs: 1000, endMs: 2501, speaker: "Jürgen Weiß", text: "Hallo." }))
    )
      .toBe(false)
  })

  it("a joined set is an ArtifactSet like `new ArtifactSet(...)`", () => {
    const common = { meetingId: "m1", contentCorrelationId: "c1", createdDateTime: "2024-07-12T10:00:00.0000000Z" }
    const recording = new CallRecording({ id: "r1", ...common })
    const transcript = new CallTranscript({ id: "t1", ...common })
    const [set] = correlate([recording], [transcript], { organizerId: "o1" })
    sameInstance(
      set,
      new ArtifactSet({
        meetingId: "m1",
        organizerId: "o1",
        contentCorrelationId: "c1",
        match: "contentCorrelationId",
        recording,
        transcript
      }),
      ArtifactSet
    )
  })
})
