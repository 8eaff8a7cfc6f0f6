import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { meteredCost, meteredMinutes, parseIsoDateTime, validateSyncOptions } from "../src/index.js"

describe("parseIsoDateTime", () => {
  it("normalises dates and date-times to Graph's UTC literal", () => {
    expect(parseIsoDateTime("2024-01-15")).toBe("2024-01-15T00:00:00Z")
    expect(parseIsoDateTime("2024-01-15T08:30:00Z")).toBe("2024-01-15T08:30:00Z")
    expect(parseIsoDateTime("2024-01-15T08:30")).toBe("2024-01-15T08:30:00Z")
    expect(parseIsoDateTime("2024-01-15T08:30:00+02:00")).toBe("2024-01-15T06:30:00Z")
    expect(parseIsoDateTime("2024-01-15T08:30:00.5990966Z")).toBe("2024-01-15T08:30:00.599Z")
  })
  it("rejects text that is not a real instant", () => {
    for (
      const bad of [
        "",
        "yesterday",
        "2024-13-01",
        "2024-02-30",
        "2024-01-15T25:00:00Z",
        "15/01/2024",
        "2024-01-15T08:30:00+2"
      ]
    ) {
      expect(parseIsoDateTime(bad), bad).toBeNull()
    }
  })
})

describe("validateSyncOptions", () => {
  const base = { organizers: ["u1"], from: "2024-01-01", to: "2024-02-01", out: "out" }
  const message = (o: Parameters<typeof validateSyncOptions>[0]) =>
    Effect.runSync(Effect.match(validateSyncOptions(o), { onFailure: (e) => e.message, onSuccess: () => "ok" }))

  it("accepts a window and fills defaults", () => {
    const v = Effect.runSync(validateSyncOptions({ ...base, organizers: ["u1", "u1", "u2"] }))
    expect(v).toMatchObject({
      organizers: ["u1", "u2"],
      from: "2024-01-01T00:00:00Z",
      concurrency: 4,
      incremental: false,
      dryRun: false
    })
  })
  it("names the offending flag in one line", () => {
    expect(message({ ...base, organizers: [] })).toMatch(/--organizer/)
    expect(message({ ...base, from: "2024-03-01" })).toMatch(/before --to/)
    expect(message({ ...base, from: "2024-02-01" })).toMatch(/before --to/)
    expect(message({ ...base, to: "soon" })).toMatch(/--to is not an ISO 8601/)
    expect(message({ organizers: ["u1"], out: "out" })).toMatch(/--from/)
    expect(message({ ...base, concurrency: 0 })).toMatch(/--concurrency/)
    expect(message({ ...base, joinUrls: ["not a url"] })).toMatch(/--join-url/)
    for (const m of [message({ ...base, organizers: [] }), message({ ...base, to: "x" })]) expect(m).not.toContain("\n")
  })
  it("lets listed meetings stand in for the window", () => {
    expect(message({ organizers: ["u1"], out: "out", meetingIds: ["m1"] })).toBe("ok")
  })
  it("lets listed ad hoc calls stand in for the window; --adhoc-calls needs one and no list", () => {
    expect(message({ organizers: ["u1"], out: "out", adhocCallIds: ["c1"] })).toBe("ok")
    expect(message({ organizers: ["u1"], out: "out", adhocCallIds: [" "] })).toMatch(/--adhoc-call must not be empty/)
    expect(message({ organizers: ["u1"], out: "out", adhocCalls: true })).toMatch(/--from/)
    expect(message({ ...base, adhocCalls: true })).toBe("ok")
    expect(message({ ...base, adhocCalls: true, adhocCallIds: ["c1"] })).toMatch(/--adhoc-calls/)
    expect(message({ ...base, adhocCalls: true, meetingIds: ["m1"] })).toMatch(/--adhoc-calls/)
  })
  it("lets an incremental run leave the window open (no --to), and only an incremental one", () => {
    const { to: _to, ...open } = base
    expect(message(open)).toMatch(/--to <ISO date-time> is required/)
    const v = Effect.runSync(validateSyncOptions({ ...open, incremental: true }))
    expect(v).toMatchObject({ from: "2024-01-01T00:00:00Z", to: null, incremental: true })
  })
})

describe("metered cost", () => {
  it("rounds each artifact's duration down to whole minutes", () => {
    expect(meteredMinutes("2024-01-15T08:00:00.0000000Z", "2024-01-15T08:14:59.9990000Z")).toBe(14)
    expect(meteredMinutes("2024-01-15T08:00:00Z", "2024-01-15T08:15:00Z")).toBe(15)
    expect(meteredMinutes("2024-01-15T08:00:00Z", null)).toBe(0)
    expect(meteredMinutes("2024-01-15T08:10:00Z", "2024-01-15T08:00:00Z")).toBe(0)
  })
  it("prices recording and transcript minutes at Graph's rates", () => {
    expect(meteredCost(100, 50)).toEqual({ recordings: 0.3, transcripts: 0.11, total: 0.41, currency: "USD" })
  })
})
