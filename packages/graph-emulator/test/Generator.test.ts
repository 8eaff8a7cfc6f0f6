import { describe, expect, it } from "vitest"
import { generateTenant, parseGenerateSpec } from "../src/index.js"

describe("generateTenant", () => {
  const tenant = generateTenant({ organizers: 4, meetingsPerOrganizer: 25, seed: 5 })
  const recordings = tenant.meetings.flatMap((m) => m.recordings ?? [])
  const transcripts = tenant.meetings.flatMap((m) => m.transcripts ?? [])

  it("is deterministic from the seed and makes N organizers x M meetings", () => {
    expect(generateTenant({ organizers: 4, meetingsPerOrganizer: 25, seed: 5 })).toEqual(tenant)
    expect(generateTenant({ organizers: 4, meetingsPerOrganizer: 25, seed: 6 })).not.toEqual(tenant)
    expect(tenant.users).toHaveLength(4)
    expect(tenant.meetings).toHaveLength(100)
    for (const u of tenant.users) expect(tenant.meetings.filter((m) => m.organizerId === u.id)).toHaveLength(25)
  })

  it("mixes restarted, transcript-only, recording-only, legacy and empty meetings", () => {
    const kinds = tenant.meetings.map((m) => {
      const r = m.recordings?.length ?? 0
      const t = m.transcripts?.length ?? 0
      if (r === 0 && t === 0) return "empty"
      if (r > 1) return "restarted"
      if (r === 0) return "transcriptOnly"
      if (t === 0) return "recordingOnly"
      return m.recordings![0]!.contentCorrelationId === undefined ? "legacy" : "paired"
    })
    for (const k of ["paired", "restarted", "transcriptOnly", "recordingOnly", "legacy", "empty"]) {
      expect(kinds).toContain(k)
    }
    // paired sessions share their contentCorrelationId, in both the GUID and the GUID-n form
    const corr = recordings.map((r) => r.contentCorrelationId).filter((c): c is string => typeof c === "string")
    expect(corr.some((c) => /^[0-9a-f-]{36}$/.test(c))).toBe(true)
    expect(corr.some((c) => /^[0-9a-f-]{36}-\d$/.test(c))).toBe(true)
    for (const t of transcripts.filter((t) => typeof t.contentCorrelationId === "string")) {
      const meeting = tenant.meetings.find((m) => m.transcripts?.includes(t))!
      if (meeting.recordings?.length) {
        expect(meeting.recordings.map((r) => r.contentCorrelationId)).toContain(t.contentCorrelationId)
      }
    }
  })

  it("makes Graph-like ids, timestamps, Teams WebVTT and content sizes", () => {
    for (const a of [...recordings, ...transcripts]) {
      expect(a.id).toMatch(/^[A-Za-z0-9+/]+=*$/)
      expect(a.id).toMatch(/[+/]/)
      expect(a.id).toMatch(/=$/)
      expect(a.createdDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/)
    }
    for (const r of recordings) {
      const c = r.content as { bytes: number }
      expect(c.bytes).toBeGreaterThanOrEqual(16 * 1024)
      expect(c.bytes).toBeLessThanOrEqual(256 * 1024)
    }
    const vtt = (transcripts[0]!.content as { text: string }).text
    expect(vtt.startsWith("WEBVTT\n\n")).toBe(true)
    expect(vtt).toMatch(/^[0-9a-f-]{36}\/\d+-0\n\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}\n<v [^>]+>/m)
    expect(transcripts.some((t) => /\/\d+-1\n/.test((t.content as { text: string }).text))).toBe(true)
    const meta = (transcripts[0]!.metadataContent as { text: string }).text
    const firstPayload = meta.split("\n").find((l) => l.startsWith("{"))!
    expect(Object.keys(JSON.parse(firstPayload))).toEqual([
      "startDateTime",
      "endDateTime",
      "speakerName",
      "spokenText",
      "spokenLanguage"
    ])
  })

  it("honours a given mix and a fixed recording size", () => {
    const only = generateTenant({
      organizers: 1,
      meetingsPerOrganizer: 10,
      seed: 1,
      mix: { recordingOnly: 1 },
      recordingBytes: 1234
    })
    expect(only.meetings.every((m) => m.recordings?.length === 1 && (m.transcripts?.length ?? 0) === 0)).toBe(true)
    expect(only.meetings.every((m) => (m.recordings![0]!.content as { bytes: number }).bytes === 1234)).toBe(true)
  })
})

describe("parseGenerateSpec", () => {
  it("parses key=value lists and JSON", () => {
    expect(parseGenerateSpec("organizers=3,meetings=4,seed=9,bytes=100-200")).toEqual({
      organizers: 3,
      meetingsPerOrganizer: 4,
      seed: 9,
      recordingBytes: [100, 200]
    })
    expect(parseGenerateSpec(`{"organizers":2,"meetingsPerOrganizer":1}`)).toEqual({
      organizers: 2,
      meetingsPerOrganizer: 1
    })
  })

  it("rejects unknown keys and bad numbers with a clear message", () => {
    expect(() => parseGenerateSpec("people=3")).toThrow(/unknown key "people"/)
    expect(() => parseGenerateSpec("organizers=-1")).toThrow(/non-negative/)
    expect(() => parseGenerateSpec(`{"organizers":"2"}`)).toThrow(/numeric/)
  })
})
