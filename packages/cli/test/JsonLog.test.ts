import { ProgressEvent } from "@meeting-artifacts/pipeline"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import { describe, expect, it } from "vitest"
import { eventLine, jsonLogger } from "../src/internal/jsonLog.js"

const at = new Date("2024-03-11T02:00:07.114Z")

describe("--log-format json lines", () => {
  it("writes a failure as one warn line whose fields survive ids with newlines, quotes and escapes", () => {
    const id = "evil\nid \"with\" \u001b[31mansi\u001b[0m"
    const line = eventLine(
      ProgressEvent.ArtifactFailed({
        kind: "transcript",
        id,
        meetingId: "m1",
        reason: "gone",
        status: 404,
        code: "NotFound",
        requestId: "r-1"
      }),
      at
    )!
    expect(line.endsWith("\n")).toBe(true)
    expect(line.slice(0, -1)).not.toMatch(/[\n\u001b]/)
    expect(JSON.parse(line)).toEqual({
      level: "warn",
      time: "2024-03-11T02:00:07.114Z",
      event: "artifact_failed",
      kind: "transcript",
      id,
      meetingId: "m1",
      reason: "gone",
      status: 404,
      code: "NotFound",
      requestId: "r-1"
    })
  })

  it("leaves out the per-chunk and periodic events", () => {
    expect(eventLine(ProgressEvent.ArtifactBytes({ kind: "recording", id: "a", bytes: 10 }))).toBeNull()
    expect(eventLine(ProgressEvent.Stats({ requests: 1, retries: 0, throttleWaits: 0, throttleWaitMs: 0 }))).toBeNull()
    expect(
      JSON.parse(
        eventLine(ProgressEvent.SetWritten({ meetingId: "m", recordingId: null, transcriptId: "t", match: "none" }))!
      )
    )
      .toMatchObject({ level: "debug", event: "set_written", transcriptId: "t" })
  })

  it("turns Effect's log calls into log lines with their level and annotations", async () => {
    const written: Array<string> = []
    const out = { write: (s: string) => (written.push(s), true) } as unknown as NodeJS.WritableStream
    await Effect.runPromise(
      Effect.logWarning("manifest.jsonl was not rewritten").pipe(
        Effect.annotateLogs("out", "/data"),
        Effect.provide(Logger.replace(Logger.defaultLogger, jsonLogger(out)))
      )
    )
    expect(written).toHaveLength(1)
    expect(JSON.parse(written[0]!)).toMatchObject({
      level: "warn",
      event: "log",
      message: "manifest.jsonl was not rewritten",
      out: "/data"
    })
  })
})
