/**
 * Downloads start as a listing's pages arrive, before the organizer's discovery ends; sets are still
 * formed from both complete listings. Against the emulator over loopback, real sinks.
 */
import { type RequestSeen, type RunningEmulator, startEmulator } from "@meeting-artifacts/graph-emulator"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { readManifest, runSync, tempOut, WINDOW } from "./support.js"

describe("sync: early downloads", () => {
  let emu: RunningEmulator
  // The transcripts listing (plain or delta) is held until a content request arrives (or, failing that,
  // 10 s pass); `hold` is set anew for each case.
  let hold: { contentArrived: () => void; content: Promise<"content">; releasedBy: "content" | "timeout" | null }
  const holdAnew = () => {
    let contentArrived = () => {}
    const content = new Promise<"content">((resolve) => (contentArrived = () => resolve("content")))
    hold = { contentArrived, content, releasedBy: null }
  }
  const onRequest = async (seen: RequestSeen) => {
    const h = hold
    if (seen.route === "recordingContent" || seen.route === "transcriptContent") h.contentArrived()
    if ((seen.route === "getAllTranscripts" || seen.route === "getAllTranscriptsDelta") && h.releasedBy === null) {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), 10_000)))
      h.releasedBy = await Promise.race([h.content, timeout])
      clearTimeout(timer)
    }
  }
  beforeAll(async () => {
    emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 4, seed: 7, recordingBytes: [1024, 4096], cues: [2, 3] },
      pageSize: 2,
      onRequest
    })
  })
  afterAll(() => emu?.close())

  it.each([false, true])(
    "fetch content while a listing is still paging, and pair each meeting's recording and transcript as before (incremental: %s)",
    async (incremental) => {
      holdAnew()
      const out = tempOut()
      const organizers = emu.fixture.users.map((u) => u.id)
      const { summary } = await runSync(emu.baseUrl, emu.accessToken, { organizers, ...WINDOW, out, incremental })
      // the recordings listing's artifacts were requested while the transcripts listing was held
      expect(hold.releasedBy).toBe("content")
      const meetings = emu.fixture.meetings
      const recordings = meetings.flatMap((m) => m.recordings ?? [])
      const transcripts = meetings.flatMap((m) => m.transcripts ?? [])
      expect(summary.failures).toBe(0)
      expect(summary.recordings.downloaded).toBe(recordings.length)
      expect(summary.transcripts.downloaded).toBe(transcripts.length)
      // the sets were formed from both complete listings: each recording sits in one line with the
      // transcript of the same take (the generator gives them one contentCorrelationId)
      const lines = readManifest(out) as Array<{ recording: { id: string } | null; transcript: { id: string } | null }>
      const pairs = lines.map((l) => `${l.recording?.id ?? "-"} ${l.transcript?.id ?? "-"}`).sort()
      const expected = meetings.flatMap((m) => {
        const ts = m.transcripts ?? []
        const rs = m.recordings ?? []
        const paired = rs.map((r) => {
          const t = ts.find((t) => t.contentCorrelationId === r.contentCorrelationId)
          return `${r.id} ${t?.id ?? "-"}`
        })
        const alone = ts.filter((t) => !rs.some((r) => r.contentCorrelationId === t.contentCorrelationId))
        return [...paired, ...alone.map((t) => `- ${t.id}`)]
      }).sort()
      expect(expected.some((p) => !p.startsWith("- ") && !p.endsWith(" -"))).toBe(true)
      expect(pairs).toEqual(expected)
    }
  )
})
