/**
 * A record sink of your own plugs into `syncLayer` and receives every
 * correlated set once its files are written, with parsed cues, plus the run
 * record at the start and end of the run.
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

describe("syncLayer({ recordSinks })", () => {
  it("hands every written set, with its cues, to a custom record sink", async () => {
    const emu = await startEmulator({
      generate: { organizers: 1, meetingsPerOrganizer: 3, seed: 12, recordingBytes: 4096, cues: [2, 5] }
    })
    try {
      const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ma-sinks-")), "out")
      const sets: Array<ArtifactSetWrite> = []
      const runs: Array<string> = []
      const mine: RecordSinkService = {
        name: "memory",
        disposition: "merge",
        writeSet: (w) => Effect.sync(() => void sets.push(w)),
        writeRun: (r) => Effect.sync(() => void runs.push(r.status))
      }
      const summary = await Effect.runPromise(
        sync({ organizers: emu.fixture.users.map((u) => u.id), from: "2024-01-01", to: "2024-03-01", out }).pipe(
          Effect.provide(syncLayer({
            out,
            recordSinks: [mine],
            graph: { baseUrl: emu.baseUrl, credential: Redacted.make(emu.accessToken) }
          }))
        )
      )
      const manifest = fs.readFileSync(path.join(out, "manifest.jsonl"), "utf8").trim().split("\n").map((l) =>
        JSON.parse(l)
      )
      expect(sets).toHaveLength(manifest.length)
      expect(summary.sets).toBe(manifest.length)
      for (const w of sets) {
        const line = manifest.find((l) =>
          l.meetingId === w.set.meetingId && l.recording?.id === (w.set.recording?.id ?? undefined)
        )
        expect(line).toBeDefined()
        if (w.transcript !== null) {
          expect(w.cues.length).toBe(line.transcript.cues)
          expect(w.transcript.sha256).toBe(line.transcript.sha256)
        } else expect(w.cues).toEqual([])
        expect(w.root).toBe(path.resolve(out))
      }
      expect(runs).toEqual(["running", "succeeded"])
    } finally {
      await emu.close()
    }
  })
})
