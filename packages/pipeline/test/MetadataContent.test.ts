/**
 * Opt-in export of each transcript's metadataContent: parsed cues as
 * `transcript-<id>.metadata.json`, handed to record sinks, metered, and never
 * fetched twice.
 */
import { startEmulator } from "@meeting-artifacts/graph-emulator"
import type { ArtifactSetWrite, RecordSinkService } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { sync, syncLayer } from "../src/index.js"

describe("sync({ metadataContent: true })", () => {
  it("writes parsed metadataContent beside each transcript and does not fetch it again", async () => {
    const emu = await startEmulator({
      generate: {
        organizers: 1,
        meetingsPerOrganizer: 2,
        seed: 21,
        recordingBytes: 4096,
        cues: [2, 4],
        mix: { paired: 1 }
      }
    })
    try {
      const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ma-meta-")), "out")
      const writes: Array<ArtifactSetWrite> = []
      const memory: RecordSinkService = {
        name: "memory",
        disposition: "merge",
        writeSet: (w) => Effect.sync(() => void writes.push(w)),
        writeRun: () => Effect.void
      }
      const layer = syncLayer({
        out,
        recordSinks: [memory],
        graph: { baseUrl: emu.baseUrl, credential: Redacted.make(emu.accessToken) }
      })
      const options = {
        organizers: emu.fixture.users.map((u) => u.id),
        from: "2024-01-01",
        to: "2024-03-01",
        out,
        metadataContent: true
      }
      const withMeta = await Effect.runPromise(sync(options).pipe(Effect.provide(layer)))
      const without = await Effect.runPromise(
        sync({ ...options, out: `${out}-plain`, metadataContent: false }).pipe(
          Effect.provide(
            syncLayer({
              out: `${out}-plain`,
              graph: { baseUrl: emu.baseUrl, credential: Redacted.make(emu.accessToken) }
            })
          )
        )
      )
      // Metered twice per transcript: its content and its metadataContent.
      expect(withMeta.transcriptMinutes).toBe(2 * without.transcriptMinutes)

      const transcripts = emu.fixture.meetings.flatMap((m) => m.transcripts ?? [])
      const files = fs.readdirSync(out, { recursive: true }).map(String).filter((f) => f.endsWith(".metadata.json"))
      expect(files).toHaveLength(transcripts.length)
      for (const f of files) {
        const cues = JSON.parse(fs.readFileSync(path.join(out, f), "utf8")) as Array<Record<string, unknown>>
        expect(cues.length).toBeGreaterThan(0)
        expect(cues[0]).toMatchObject({ spokenLanguage: "en-us" })
        expect(typeof cues[0]!.startDateTime).toBe("string")
      }
      expect(writes.filter((w) => w.transcript !== null).every((w) => Array.isArray(w.transcriptMetadata))).toBe(true)

      emu.resetCounters()
      const again = await Effect.runPromise(sync(options).pipe(Effect.provide(layer)))
      expect(emu.counters().contentRequests).toEqual({})
      expect(again.transcriptMinutes).toBe(0)
    } finally {
      await emu.close()
    }
  })
})
