/**
 * A download waiting out a Retry-After gives its download slot back meanwhile: with one slot, the
 * other artifacts are downloaded during the wait, not after it. Against the emulator over loopback,
 * real sinks.
 */
import { type RequestSeen, type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runSync, tempOut, WINDOW } from "./support.js"

describe("sync: a download waiting to be retried", () => {
  let emu: RunningEmulator
  const arrivals: Array<RequestSeen> = []
  beforeAll(async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 4, seed: 7, recordingBytes: [1024, 4096], cues: [2, 3] },
      pageSize: 2,
      // the first recording content request is answered 429, Retry-After: 4 s; nothing else fails
      faults: {
        seed: 1,
        rules: [{ fault: "429-seconds", probability: 1, routes: ["recordingContent"], limit: 1 }],
        retryAfterSeconds: 4
      },
      onRequest: (seen) => void arrivals.push(seen)
    })
  })
  afterAll(() => emu?.close())

  it("holds no download slot: with concurrency 1 every other artifact is fetched during its wait", async () => {
    const out = tempOut()
    const organizers = emu.fixture.users.map((u) => u.id)
    const { summary } = await runSync(emu.baseUrl, emu.accessToken, { organizers, ...WINDOW, out, concurrency: 1 })
    expect(summary.failures).toBe(0)
    expect(emu.counters().throttled).toBe(1)
    const content = arrivals.filter((a) => a.route === "recordingContent" || a.route === "transcriptContent")
    // the refused request is the one sent twice: every other artifact was requested before its retry,
    // most of them during its wait (their sets went on too: a set waiting for the refused one does not
    // hold the organizer's others back)
    const retry = content.findIndex((a, i) => content.findIndex((b) => b.url === a.url) !== i)
    const first = content.findIndex((a) => a.url === content[retry]!.url)
    expect(retry).toBe(content.length - 1)
    expect(retry - first - 1).toBeGreaterThan(content.length / 2)
    expect(summary.recordings.downloaded + summary.transcripts.downloaded).toBe(content.length - 1)
  })
})
