/**
 * Incremental runs (delta links stored in the checkpoint store) as a library.
 */
import { startEmulator } from "@meeting-artifacts/graph-emulator"
import { CheckpointStore } from "@meeting-artifacts/sinks"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { sync, syncLayer, type SyncOptions } from "../src/index.js"

describe("sync --incremental", () => {
  it("stores delta links, and starts the window over when Graph rejects a stored one", async () => {
    const emu = await startEmulator({ generate: { organizers: 1, meetingsPerOrganizer: 3, seed: 8, recordingBytes: 4096, cues: [2, 3] } })
    try {
      const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ma-incr-")), "out")
      const organizerId = emu.fixture.users[0]!.id
      const options: SyncOptions = { organizers: [organizerId], from: "2024-01-01T00:00:00Z", to: "2024-03-01T00:00:00Z", out, incremental: true }
      const layer = syncLayer({ out, graph: { baseUrl: emu.baseUrl, credential: Redacted.make(emu.accessToken) } })
      const first = await Effect.runPromise(sync(options).pipe(Effect.provide(layer)))
      expect(first.failures).toBe(0)
      const total = first.recordings.downloaded + first.transcripts.downloaded
      expect(total).toBeGreaterThan(0)

      const key = (kind: string) => ({ organizerId, windowFrom: "2024-01-01T00:00:00Z", windowTo: "2024-03-01T00:00:00Z", kind })
      const store = CheckpointStore.layerSqlite(path.join(out, ".meeting-artifacts", "state.sqlite"))
      const links = await Effect.runPromise(
        Effect.flatMap(CheckpointStore.CheckpointStore, (s) =>
          Effect.all([s.getDeltaLink(key("recordings")), s.getDeltaLink(key("transcripts"))])).pipe(Effect.provide(store))
      )
      expect(links.every(Option.isSome)).toBe(true)

      // Expired sync state: the stored link now names a token Graph does not know.
      await Effect.runPromise(
        Effect.flatMap(CheckpointStore.CheckpointStore, (s) =>
          Effect.all(["recordings", "transcripts"].map((k) => {
            const link = Option.getOrThrow(k === "recordings" ? links[0] : links[1])
            return s.setDeltaLink(key(k), link.replace(/(token=)[^&]+/i, "$1expired-token"))
          }))).pipe(Effect.provide(store))
      )
      emu.resetCounters()
      const second = await Effect.runPromise(sync(options).pipe(Effect.provide(layer)))
      expect(second.failures).toBe(0)
      expect(second.recordings.skipped + second.transcripts.skipped).toBe(total)
      expect(emu.counters().contentRequests).toEqual({})
      // The replayed links were refused, then the window started over.
      const refused = Object.entries(emu.counters().byStatus).filter(([status]) => /^4/.test(status))
      expect(refused.length, JSON.stringify(emu.counters().byStatus)).toBeGreaterThan(0)
    } finally {
      await emu.close()
    }
  })
})
