import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Progress, ProgressEvent, type RunSummary } from "@meeting-artifacts/pipeline"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { renderJsonLog } from "../src/internal/jsonLog.js"
import { formatSummary } from "../src/internal/runSync.js"
import { formatBytes, formatDuration, plainLine, ProgressState, renderProgress } from "../src/internal/render.js"

const completed = (id: string, bytes: number, skipped = false) =>
  ProgressEvent.ArtifactCompleted({
    kind: "recording",
    id,
    meetingId: "m",
    path: `p/${id}`,
    bytes,
    sha256: "x",
    skipped
  })

const fakeStream = (isTTY: boolean) => {
  const chunks: Array<string> = []
  const stream = { isTTY, columns: 80, write: (s: string) => (chunks.push(s), true) } as unknown as NodeJS.WriteStream
  return { stream, text: () => chunks.join("") }
}

describe("progress rendering", () => {
  it("formats bytes and durations", () => {
    expect(formatBytes(512)).toBe("512 B")
    expect(formatBytes(1536)).toBe("1.5 KiB")
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MiB")
    expect(formatDuration(61_000)).toBe("1:01")
    expect(formatDuration(3_725_000)).toBe("1:02:05")
  })

  it("folds events into artifact, byte, throttle and ETA lines", () => {
    const state = new ProgressState()
    state.apply(
      ProgressEvent.Discovered({
        organizerId: "o",
        recordings: 4,
        transcripts: 0,
        sets: 4,
        pending: 4,
        pendingBytes: null
      })
    )
    state.apply(ProgressEvent.ArtifactBytes({ kind: "recording", id: "a", bytes: 2048 }))
    state.apply(completed("a", 2048))
    state.apply(completed("b", 10, true))
    state.apply(ProgressEvent.Stats({ requests: 9, retries: 2, throttleWaits: 3, throttleWaitMs: 4000 }))
    const [artifacts, bytes, throttled] = state.lines(state.startedAt + 10_000)
    expect(artifacts).toContain("2/4")
    expect(artifacts).toContain("[############------------]")
    expect(artifacts).toContain("1 already done")
    expect(bytes).toContain("2.0 KiB at 205 B/s")
    expect(throttled).toContain("3 waits (0:04), 2 retries")
    // Two of four done in 10 s: about 10 s left.
    expect(throttled).toContain("ETA 0:10")
  })

  it("prints plain lines when not on a TTY, failures with code and request-id", async () => {
    const { stream, text } = fakeStream(false)
    await Effect.runPromise(renderProgress(
      Stream.make(
        ProgressEvent.RunStarted({
          runId: "r1",
          organizers: ["o"],
          from: "a",
          to: "b",
          incremental: false,
          dryRun: false
        }),
        completed("rec-1", 100),
        ProgressEvent.ArtifactBytes({ kind: "recording", id: "rec-2", bytes: 5 }),
        ProgressEvent.ArtifactFailed({
          kind: "transcript",
          id: "t-1",
          meetingId: "m",
          reason: "gone",
          status: 404,
          code: "NotFound",
          requestId: "rid-9"
        })
      ),
      stream
    ))
    expect(text()).toBe(
      "sync r1: 1 organizer(s), window a .. b\ndownloaded recording rec-1 (100 B)\nFAILED transcript t-1 of meeting m: gone (code NotFound) request-id rid-9\n"
    )
    expect(plainLine(ProgressEvent.ArtifactBytes({ kind: "recording", id: "x", bytes: 1 }))).toBeNull()
  })

  it.effect("a run that ends: the renderer writes every event published before the end, then stops at once", () =>
    // TestClock: the renderer's 50 ms rest never elapses by itself, so this ends only if the end cuts it
    // short, and a timer-based stop (sleep, then interrupt) would hang instead of passing.
    Effect.gen(function*() {
      const { stream, text } = fakeStream(false)
      const firstWrite = yield* Deferred.make<void>()
      const write = stream.write.bind(stream)
      stream.write = ((s: string) => (Deferred.unsafeDone(firstWrite, Effect.void), write(s))) as typeof stream.write
      const progress = yield* Progress.make
      const events = yield* progress.subscribe
      const renderer = yield* Effect.fork(renderProgress(events, stream, progress.ended))
      yield* progress.publish(completed("rec-1", 100))
      // The renderer has written rec-1 and rests; the next two arrive during its rest, then the run ends.
      yield* Deferred.await(firstWrite)
      yield* progress.publish(completed("rec-2", 200))
      yield* progress.publish(completed("rec-3", 300))
      yield* progress.end
      yield* Fiber.join(renderer)
      expect(text().split("\n").filter((l) => l !== "")).toEqual([
        "downloaded recording rec-1 (100 B)",
        "downloaded recording rec-2 (200 B)",
        "downloaded recording rec-3 (300 B)"
      ])
    }).pipe(Effect.scoped))

  it.effect("the JSON log of a run that ends keeps the events published just before the end", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const out = { write: (s: string) => (lines.push(s), true) } as unknown as NodeJS.WritableStream
      const progress = yield* Progress.make
      const events = yield* progress.subscribe
      const renderer = yield* Effect.fork(renderJsonLog(events, out, progress.ended))
      yield* progress.publish(completed("rec-1", 100))
      yield* Effect.yieldNow()
      yield* progress.publish(completed("rec-2", 200))
      yield* progress.end
      yield* Fiber.join(renderer)
      const ids = lines.join("").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l).id)
      expect(ids).toEqual(["rec-1", "rec-2"])
    }).pipe(Effect.scoped))

  it("holds the run header back until something follows, so an immediate failure stays one line", async () => {
    const { stream, text } = fakeStream(false)
    await Effect.runPromise(renderProgress(
      Stream.make(
        ProgressEvent.RunStarted({
          runId: "r1",
          organizers: ["o"],
          from: "a",
          to: "b",
          incremental: false,
          dryRun: false
        })
      ),
      stream
    ))
    expect(text()).toBe("")
  })

  it("redraws bars in place on a TTY", async () => {
    const { stream, text } = fakeStream(true)
    const previous = process.env.TERM
    process.env.TERM = "xterm"
    try {
      await Effect.runPromise(renderProgress(
        Stream.make(
          ProgressEvent.Discovered({
            organizerId: "o",
            recordings: 1,
            transcripts: 0,
            sets: 1,
            pending: 1,
            pendingBytes: null
          }),
          completed("rec-1", 100)
        ),
        stream
      ))
    } finally {
      process.env.TERM = previous
    }
    expect(text()).toContain("\u001b[3A\u001b[0J")
    expect(text()).toContain("artifacts [########################] 1/1")
  })

  it("summarises a run, pointing at failures.jsonl when something failed", () => {
    const counts = { discovered: 2, downloaded: 1, skipped: 0, failed: 1 }
    const summary: RunSummary = {
      runId: "r",
      startedAt: "",
      finishedAt: "",
      elapsedMs: 1000,
      dryRun: false,
      incremental: false,
      organizers: 1,
      sets: 1,
      recordings: counts,
      transcripts: { discovered: 0, downloaded: 0, skipped: 0, failed: 0 },
      bytes: 2048,
      requests: 5,
      retries: 1,
      throttleWaits: 1,
      throttleWaitMs: 1000,
      recordingMinutes: 10,
      transcriptMinutes: 0,
      cost: { recordings: 0.03, transcripts: 0, total: 0.03, currency: "USD" },
      failures: 1,
      out: "/o",
      manifest: "/o/manifest.jsonl",
      failuresFile: "/o/failures.jsonl"
    }
    const text = formatSummary(summary)
    expect(text).toContain("recordings: 2 found, 1 downloaded, 0 already complete, 1 failed")
    expect(text).toContain("10 recording min ($0.0300)")
    expect(text).toContain("1 item(s) failed for good: see /o/failures.jsonl")
    expect(formatSummary({ ...summary, dryRun: true })).toContain("Dry run: would download 1 recording(s)")
  })

  it("points at the manifest only when one was written (a run whose discovery failed wrote none)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ma-render-"))
    try {
      const counts = { discovered: 0, downloaded: 0, skipped: 0, failed: 0 }
      const summary: RunSummary = {
        runId: "r",
        startedAt: "",
        finishedAt: "",
        elapsedMs: 10,
        dryRun: false,
        incremental: false,
        organizers: 1,
        sets: 0,
        recordings: counts,
        transcripts: counts,
        bytes: 0,
        requests: 0,
        retries: 0,
        throttleWaits: 0,
        throttleWaitMs: 0,
        recordingMinutes: 0,
        transcriptMinutes: 0,
        cost: { recordings: 0, transcripts: 0, total: 0, currency: "USD" },
        failures: 1,
        out: dir,
        manifest: path.join(dir, "manifest.jsonl"),
        failuresFile: path.join(dir, "failures.jsonl")
      }
      expect(formatSummary(summary)).toContain("Manifest: none written (no set exported)")
      expect(formatSummary(summary)).not.toContain(summary.manifest)
      fs.writeFileSync(summary.manifest, "")
      expect(formatSummary(summary)).toContain(`Manifest: ${summary.manifest}`)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
