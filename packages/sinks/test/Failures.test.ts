import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Failures } from "../src/index.js"

describe("failures.jsonl lines", () => {
  it.effect("ids and messages with terminal controls are escaped in the line and read back unchanged", () =>
    Effect.gen(function*() {
      const record: Failures.FailureRecord = {
        kind: "recording",
        id: "rec\u001b]0;pwned\u0007\u009b31m\u007f\u2028x",
        meetingId: "m\n",
        organizerId: null,
        reason: "gone \u0085 away",
        status: 404,
        code: "NotFound",
        requestId: null,
        at: "2026-12-05T09:00:00.000Z"
      }
      const line = Failures.formatFailure(record)
      expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/)
      expect(yield* Failures.parseFailures(`${line}\n`)).toEqual([record])
    }))

  it.effect("a failure of an ad hoc call carries source after meetingId; others carry none", () =>
    Effect.gen(function*() {
      const base: Failures.FailureRecord = {
        kind: "transcript",
        id: "t1",
        meetingId: "call-1",
        organizerId: "o",
        reason: "gone",
        status: 404,
        code: "NotFound",
        requestId: null,
        at: "2026-12-05T09:00:00.000Z"
      }
      const call: Failures.FailureRecord = { ...base, source: "adhocCall" }
      expect(Object.keys(JSON.parse(Failures.formatFailure(call))).slice(0, 4)).toEqual([
        "kind",
        "id",
        "meetingId",
        "source"
      ])
      expect(Object.keys(JSON.parse(Failures.formatFailure(base)))).not.toContain("source")
      const text = `${Failures.formatFailure(base)}\n${Failures.formatFailure(call)}\n`
      expect(yield* Failures.parseFailures(text)).toEqual([base, call])
    }))
})
